//! `storage()` against a real server: every figure equals what an independent count with
//! the driver finds (owned documents, WAL records and their bytes from the raw documents,
//! the oldest record), and what it says gc could free is exactly what `gc` then removes,
//! per branch and collection. Progress reports of gc and verify reach their totals.

mod common;

use argon_core::bson::{doc, Bson, Document, RawDocumentBuf};
use argon_core::{Argon, Change, ConnectOptions, ModifyOpts, Progress, Step};
use common::{fresh_db, TestServer};
use futures_util::TryStreamExt;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

fn server() -> &'static TestServer {
    static S: OnceLock<TestServer> = OnceLock::new();
    S.get_or_init(TestServer::start)
}

fn set(v: i32) -> Change {
    Change::Update {
        update: Bson::Document(doc! {"$set": {"v": v}}),
        array_filters: None,
    }
}

async fn update(a: &Argon, branch: &str, coll: &str, id: i32, v: i32) {
    let c = a.collection(branch, coll, None).unwrap();
    c.modify("updateOne", doc! {"_id": id}, set(v), ModifyOpts::default())
        .await
        .unwrap();
}

async fn insert(a: &Argon, branch: &str, coll: &str, docs: Vec<Document>) {
    let c = a.collection(branch, coll, None).unwrap();
    c.insert_many(docs, true).await.unwrap();
}

/// Per (branch id, collection): (records, bytes of the raw records, oldest write key).
async fn wal_by_hand(db: &mongodb::Database) -> BTreeMap<(i32, String), (u64, u64, Option<i64>)> {
    let mut out: BTreeMap<(i32, String), (u64, u64, Option<i64>)> = BTreeMap::new();
    let mut cur = db
        .collection::<RawDocumentBuf>("__argon.wal")
        .find(doc! {})
        .await
        .unwrap();
    while let Some(raw) = cur.try_next().await.unwrap() {
        let d: Document = raw.to_document().unwrap();
        let key = (d.get_i32("b").unwrap(), d.get_str("c").unwrap().to_string());
        let e = out.entry(key).or_default();
        e.0 += 1;
        e.1 += raw.as_bytes().len() as u64;
        let k = d.get_i64("_id").unwrap();
        if k >= 0 {
            e.2 = Some(e.2.map_or(k, |o: i64| o.min(k)));
        }
    }
    out
}

/// (documents, bytes) of a collection the branch owns, counted from the raw documents.
async fn owned_by_hand(db: &mongodb::Database, branch_id: i32, coll: &str) -> (u64, u64) {
    let (name, filter) = if branch_id == 0 {
        (coll.to_string(), doc! {})
    } else {
        (
            format!("__argon.h.{branch_id}.{coll}"),
            doc! {"__argon_del": {"$exists": false}},
        )
    };
    let docs: Vec<RawDocumentBuf> = db
        .collection::<RawDocumentBuf>(&name)
        .find(filter)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    (
        docs.len() as u64,
        docs.iter().map(|d| d.as_bytes().len() as u64).sum(),
    )
}

fn recorder() -> (Progress, Arc<Mutex<Vec<Step>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    (
        Progress::new(Some(Arc::new(move |st: Step| s.lock().unwrap().push(st)))),
        seen,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_matches_independent_counts_and_what_gc_removes() {
    let database = fresh_db("storage");
    let a = Argon::connect(
        &server().uri,
        ConnectOptions {
            database: database.clone(),
            server_selection_timeout_ms: Some(5000),
            // Everything older than a millisecond is outside the window: gc has work.
            retention_ms: Some(1),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let raw = mongodb::Client::with_uri_str(&server().uri).await.unwrap();
    let db = raw.database(&database);

    // main: orders and users; f (from main): changes, a delete, a collection of its own;
    // g (from f): a write; then main moves on.
    insert(
        &a,
        "main",
        "orders",
        (0..6).map(|i| doc! {"_id": i, "v": i}).collect(),
    )
    .await;
    insert(
        &a,
        "main",
        "users",
        vec![doc! {"_id": 1, "name": "ada"}, doc! {"_id": 2}],
    )
    .await;
    for i in 0..3 {
        update(&a, "main", "orders", i, 10 + i).await;
    }
    a.create_branch("f", Some("main"), None).await.unwrap();
    update(&a, "f", "orders", 1, 100).await;
    update(&a, "f", "orders", 1, 101).await;
    a.collection("f", "orders", None)
        .unwrap()
        .modify(
            "deleteOne",
            doc! {"_id": 4},
            Change::Delete,
            ModifyOpts::default(),
        )
        .await
        .unwrap();
    insert(
        &a,
        "f",
        "notes",
        vec![doc! {"_id": "n1", "text": "x".repeat(300)}],
    )
    .await;
    a.create_branch("g", Some("f"), None).await.unwrap();
    insert(&a, "g", "orders", vec![doc! {"_id": 77}]).await;
    update(&a, "main", "orders", 0, 1000).await;
    update(&a, "main", "orders", 0, 1001).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let report = a.storage().await.unwrap();
    let wal = wal_by_hand(&db).await;
    let ids: BTreeMap<String, i32> = db
        .collection::<Document>("__argon.branches")
        .find(doc! {})
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|b| {
            (
                b.get_str("_id").unwrap().to_string(),
                b.get_i32("id").unwrap(),
            )
        })
        .collect();

    // Every (branch, collection) with records or owned documents has a row, and only those.
    let rows: BTreeMap<(i32, String), &argon_core::ops::storage::Usage> = report
        .rows
        .iter()
        .map(|r| ((r.branch_id.0, r.collection.clone()), r))
        .collect();
    let mut expected: Vec<(i32, String)> = wal.keys().cloned().collect();
    expected.sort();
    let mut got: Vec<(i32, String)> = rows.keys().cloned().collect();
    got.sort();
    assert_eq!(got, expected, "rows: one per branch and collection");
    assert!(got.contains(&(ids["f"], "notes".to_string())));

    for ((b, c), r) in &rows {
        assert_eq!(r.branch.as_deref().map(|n| ids[n]), Some(*b), "{b}/{c}");
        let (n, bytes, oldest) = wal[&(*b, c.clone())];
        assert_eq!(r.wal.records, n, "WAL records of {b}/{c}");
        assert_eq!(r.wal.bytes, bytes, "WAL bytes of {b}/{c}");
        assert_eq!(r.oldest.map(|k| k.0), oldest, "oldest record of {b}/{c}");
        assert!(r.oldest_time.is_some());
        let (docs, doc_bytes) = owned_by_hand(&db, *b, c).await;
        assert_eq!(r.documents.records, docs, "documents of {b}/{c}");
        assert_eq!(r.documents.bytes, doc_bytes, "document bytes of {b}/{c}");
    }
    // Known figures: f owns orders 1 (copied) and not the tombstone of 4; g owns 77.
    assert_eq!(rows[&(ids["f"], "orders".to_string())].documents.records, 1);
    assert_eq!(rows[&(ids["g"], "orders".to_string())].documents.records, 1);
    assert_eq!(rows[&(0, "orders".to_string())].documents.records, 6);

    // gc agrees: the dry run's totals, then exactly the per-row figures removed.
    let (totals_docs, _, gc_total) = report.totals();
    assert_eq!(totals_docs.records, 6 + 2 + 1 + 1 + 1);
    assert!(gc_total.records > 0, "the history has something to collect");
    let (progress, seen) = recorder();
    let dry = a.gc(true, &progress).await.unwrap();
    assert_eq!(
        (dry.records_removed, dry.bytes_freed),
        (gc_total.records, gc_total.bytes)
    );
    assert_eq!(dry.oldest_retained_lsn, report.gc.oldest_retained_lsn);
    {
        let seen = seen.lock().unwrap();
        let last_size = seen.iter().rfind(|s| s.phase == "size").unwrap();
        assert_eq!(last_size.done, last_size.total);
        assert_eq!(last_size.total, ids.len() as u64, "one step per branch id");
    }
    let done = a.gc(false, &Progress::none()).await.unwrap();
    assert_eq!(done.records_removed, gc_total.records);
    let after = wal_by_hand(&db).await;
    for ((b, c), r) in &rows {
        let left = after.get(&(*b, c.clone())).map_or(0, |e| e.0);
        assert_eq!(
            left,
            r.wal.records - r.gc.records,
            "{b}/{c}: gc removed what storage said"
        );
    }
    let again = a.storage().await.unwrap();
    assert_eq!(again.totals().2.records, 0, "nothing left to collect");
    // Reads still answer: the removed records were needed by no allowed read.
    let (progress, seen) = recorder();
    let v = a.verify(None, None, &progress).await.unwrap();
    assert_eq!(v.problem_count, 0, "{:?}", v.problems);
    // One step per branch and collection that still has records.
    let pairs = after.len() as u64;
    let last = *seen.lock().unwrap().last().unwrap();
    assert_eq!((last.phase, last.done, last.total), ("check", pairs, pairs));
    a.close().await;
}
