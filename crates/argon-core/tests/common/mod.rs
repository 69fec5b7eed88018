//! Starts a SecantusDB test server (`secantusd-rs`) on a free loopback port for one test
//! binary and stops it by PID on drop. Set ARGON_TEST_URI to use a running server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct TestServer {
    pub uri: String,
    child: Option<Child>,
    dir: Option<std::path::PathBuf>,
}

impl TestServer {
    pub fn start() -> TestServer {
        if let Ok(uri) = std::env::var("ARGON_TEST_URI") {
            return TestServer {
                uri,
                child: None,
                dir: None,
            };
        }
        let dir =
            std::env::temp_dir().join(format!("argon-core-test-{}-{}", std::process::id(), next()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let bin = std::env::var("SECANTUSD_BIN").unwrap_or_else(|_| "secantusd-rs".into());
        let mut child = Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--log-file-max",
                "16MB",
                "--cache-size",
                "256M",
                "--storage-path",
            ])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} ({e}); run scripts/install-test-server.sh")
            });
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
        if let Some(mut c) = self.child.take() {
            // SIGTERM by PID, then wait.
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
