//! Rust-level comparison: the `argon-core` engine against the plain `mongodb` crate on the
//! same server, in the same process, alternating (A B B A ...) over several rounds.
//!
//!     CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu \
//!       cargo run --release -p argon-core --example bench -- [--quick] [--rounds N] [--docs N]
//!
//! Starts its own `secantusd-rs` on a free loopback port (like tests/common/mod.rs) unless
//! MONGODB_URI or ARGON_TEST_URI is set. Prints, per operation, the median / min / max
//! per-op latency of both sides and the ratio ours/raw (lower is better). See
//! docs/benchmarks.md for how to read it; the JS suite (`npm run bench`) is the main one.

#[allow(dead_code)]
#[path = "../tests/common/mod.rs"]
mod common;

use argon_core::bson::{doc, Bson, Document};
use argon_core::{Argon, Change, ConnectOptions, FindOpts, ModifyOpts};
use std::future::Future;
use std::time::Instant;

struct Cfg {
    rounds: usize,
    docs: i32,
    read_ops: usize,
    write_ops: usize,
}

fn parse_args() -> Cfg {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut cfg = if quick {
        Cfg {
            rounds: 3,
            docs: 2_000,
            read_ops: 60,
            write_ops: 15,
        }
    } else {
        Cfg {
            rounds: 7,
            docs: 10_000,
            read_ops: 300,
            write_ops: 40,
        }
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = || {
            it.next()
                .and_then(|v| v.parse::<usize>().ok())
                .expect("a number")
        };
        match a.as_str() {
            "--rounds" => cfg.rounds = num(),
            "--docs" => cfg.docs = num() as i32,
            "--read-ops" => cfg.read_ops = num(),
            "--write-ops" => cfg.write_ops = num(),
            _ => {}
        }
    }
    cfg
}

/// Deterministic PRNG (xorshift) so runs pick the same keys.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: i32) -> i32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as i32
    }
}

fn doc_for(i: i32) -> Document {
    doc! {"_id": i, "k": i % 500, "v": 0_i32, "s": "x".repeat(100)}
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[derive(Default)]
struct Side {
    samples: Vec<f64>,
    round_medians: Vec<f64>,
}

impl Side {
    fn summary(&mut self) -> (f64, f64, f64) {
        let med = median(&mut self.samples.clone());
        let mut r = self.round_medians.clone();
        r.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        (
            med,
            r.first().copied().unwrap_or(f64::NAN),
            r.last().copied().unwrap_or(f64::NAN),
        )
    }
}

/// Times `ops` sequential calls of `f(i)`; returns per-op latencies in microseconds.
async fn block<F, Fut>(ops: usize, start: usize, f: &F) -> Vec<f64>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut out = Vec::with_capacity(ops);
    for i in 0..ops {
        let t = Instant::now();
        f(start + i).await;
        out.push(t.elapsed().as_secs_f64() * 1e6);
    }
    out
}

/// Alternates ours and raw: round r runs A then B when r is even, B then A when odd.
async fn compare<FA, FutA, FB, FutB>(
    name: &str,
    cfg: &Cfg,
    ops: usize,
    target: f64,
    ours: FA,
    raw: FB,
) -> bool
where
    FA: Fn(usize) -> FutA,
    FutA: Future<Output = ()>,
    FB: Fn(usize) -> FutB,
    FutB: Future<Output = ()>,
{
    // warm-up
    block((ops / 4).max(2), 0, &ours).await;
    block((ops / 4).max(2), 0, &raw).await;
    let (mut a, mut b) = (Side::default(), Side::default());
    let mut next = 1_000_000usize;
    for r in 0..cfg.rounds {
        for side in if r % 2 == 0 { [0, 1] } else { [1, 0] } {
            let s = if side == 0 {
                block(ops, next, &ours).await
            } else {
                block(ops, next, &raw).await
            };
            next += ops;
            let m = median(&mut s.clone());
            let dst = if side == 0 { &mut a } else { &mut b };
            dst.round_medians.push(m);
            dst.samples.extend(s);
        }
    }
    let (am, amin, amax) = a.summary();
    let (bm, bmin, bmax) = b.summary();
    let ratio = am / bm;
    let pass = ratio <= target;
    println!(
        "{:<34} {:>9.0} {:>7.0}-{:<7.0} {:>9.0} {:>7.0}-{:<7.0} {:>6.2}x  <= {:<4.2}x {}",
        name,
        am,
        amin,
        amax,
        bm,
        bmin,
        bmax,
        ratio,
        target,
        if pass { "pass" } else { "MISS" }
    );
    pass
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let cfg = parse_args();
    let server = match std::env::var("MONGODB_URI") {
        Ok(uri) if !uri.is_empty() => {
            std::env::set_var("ARGON_TEST_URI", uri);
            common::TestServer::start()
        }
        _ => common::TestServer::start(),
    };
    let uri = server.uri.clone();
    let tag = format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
    let ours_db = format!("rbench_{tag}");
    let raw_db = format!("rbench_raw_{tag}");

    let argon = Argon::connect(
        &uri,
        ConnectOptions {
            database: ours_db.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("argon connect");
    let raw_client = mongodb::Client::with_uri_str(&uri)
        .await
        .expect("driver connect");
    let raw = raw_client.database(&raw_db).collection::<Document>("c");

    // Fixture: the same documents on main and in a plain collection, indexed on k.
    let main = argon.collection("main", "c", None).expect("collection");
    main.create_index(doc! {"k": 1}, doc! {})
        .await
        .expect("index");
    raw.create_index(mongodb::IndexModel::builder().keys(doc! {"k": 1}).build())
        .await
        .expect("index");
    let mut i = 0;
    while i < cfg.docs {
        let end = (i + 1000).min(cfg.docs);
        let batch: Vec<Document> = (i..end).map(doc_for).collect();
        main.insert_many(batch.clone(), true)
            .await
            .expect("insert ours");
        raw.insert_many(batch).await.expect("insert raw");
        i = end;
    }
    // A child branch with 1% of the documents changed on it.
    argon
        .create_branch("feature", Some("main"), None)
        .await
        .expect("branch");
    let feature = argon.collection("feature", "c", None).expect("collection");
    let changed: Vec<Bson> = (0..cfg.docs).step_by(100).map(Bson::Int32).collect();
    let inc = |n: i32| Change::Update {
        update: Bson::Document(doc! {"$inc": {"v": n}}),
        array_filters: None,
    };
    feature
        .modify(
            "updateMany",
            doc! {"_id": {"$in": changed.clone()}},
            inc(1),
            ModifyOpts {
                multi: true,
                ..Default::default()
            },
        )
        .await
        .expect("branch changes");
    raw.update_many(doc! {"_id": {"$in": changed}}, doc! {"$inc": {"v": 1}})
        .await
        .expect("raw changes");

    println!(
        "argon-core vs mongodb crate, {} docs, {} rounds, server {uri}\nper-op latency in microseconds: median (min-max of round medians)",
        cfg.docs, cfg.rounds
    );
    println!(
        "{:<34} {:>9} {:>15} {:>9} {:>15} {:>7}  {:<7} ",
        "operation", "ours", "ours range", "raw", "raw range", "ratio", "target"
    );
    let n = cfg.docs;
    let pick = |i: usize| {
        Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D)).below(n)
    };
    let mut all_pass = true;

    for (label, coll, target) in [
        ("findOne by _id (main)", &main, 1.10),
        ("findOne by _id (child, 1% changed)", &feature, 1.5),
    ] {
        all_pass &= compare(
            label,
            &cfg,
            cfg.read_ops,
            target,
            |i| async move {
                coll.find_one(doc! {"_id": pick(i)}, FindOpts::default())
                    .await
                    .expect("find");
            },
            |i| {
                let c = &raw;
                async move {
                    c.find_one(doc! {"_id": pick(i)}).await.expect("find");
                }
            },
        )
        .await;
    }
    let next_id = std::sync::atomic::AtomicI32::new(10_000_000);
    all_pass &= compare(
        "insertOne (main)",
        &cfg,
        cfg.write_ops,
        2.5,
        |_| {
            let c = &main;
            let id = next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                c.insert_many(vec![doc_for(id)], true)
                    .await
                    .expect("insert");
            }
        },
        |_| {
            let c = &raw;
            let id = next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                c.insert_one(doc_for(id)).await.expect("insert");
            }
        },
    )
    .await;
    for (label, coll) in [
        ("updateOne $inc (main)", &main),
        ("updateOne $inc (child)", &feature),
    ] {
        all_pass &= compare(
            label,
            &cfg,
            cfg.write_ops,
            2.5,
            |i| async move {
                coll.modify(
                    "updateOne",
                    doc! {"_id": pick(i)},
                    inc(1),
                    ModifyOpts::default(),
                )
                .await
                .expect("update");
            },
            |i| {
                let c = &raw;
                async move {
                    c.update_one(doc! {"_id": pick(i)}, doc! {"$inc": {"v": 1}})
                        .await
                        .expect("update");
                }
            },
        )
        .await;
    }
    println!(
        "{}",
        if all_pass {
            "all targets met"
        } else {
            "some targets missed (timing is informational; see docs/benchmarks.md)"
        }
    );

    let _ = raw_client.database(&raw_db).drop().await;
    let _ = raw_client.database(&ours_db).drop().await;
    argon.close().await;
    drop(server);
}
