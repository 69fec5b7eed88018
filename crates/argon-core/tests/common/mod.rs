//! Starts a SecantusDB test server (`secantusd-rs`) on a free loopback port for one test
//! binary; a shell watchdog stops it by PID when the test process exits. Set
//! ARGON_TEST_URI to use a running server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct TestServer {
    pub uri: String,
    child: Option<Child>,
    dir: Option<std::path::PathBuf>,
    /// Held open for the life of the process; closing it stops the server.
    _lifeline: Option<std::process::ChildStdin>,
}

impl TestServer {
    pub fn start() -> TestServer {
        if let Ok(uri) = std::env::var("ARGON_TEST_URI") {
            return TestServer {
                uri,
                child: None,
                dir: None,
                _lifeline: None,
            };
        }
        let dir =
            std::env::temp_dir().join(format!("argon-core-test-{}-{}", std::process::id(), next()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let bin = std::env::var("SECANTUSD_BIN").unwrap_or_else(|_| "secantusd-rs".into());
        // The server lives in a `static` (never dropped), so it is started under a small
        // shell watchdog: when this test process exits, however it exits, the pipe on the
        // watchdog's stdin closes, `read` returns, and the watchdog stops the server by PID.
        let script = r#"bin="$1"; dir="$2"
"$bin" --host 127.0.0.1 --port 0 --log-file-max 16MB --cache-size 256M --storage-path "$dir" </dev/null &
pid=$!
read _unused
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -rf "$dir""#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("argon-test-server")
            .arg(&bin)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} ({e}); run scripts/install-test-server.sh")
            });
        let lifeline = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .expect("read");
            if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
                break rest.trim().parse::<u16>().expect("port");
            }
        };
        std::thread::spawn(move || for _ in lines {});
        TestServer {
            uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
            child: Some(child),
            dir: Some(dir),
            _lifeline: lifeline,
        }
    }
}

fn next() -> usize {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

pub fn fresh_db(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), next())
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Closing the lifeline makes the watchdog stop the server and remove its files.
        self._lifeline.take();
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        self.dir.take();
    }
}
