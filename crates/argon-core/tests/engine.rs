//! Engine tests against a real MongoDB-wire server: isolation, LSN order, copy-on-write,
//! unique keys across levels, and reads at past LSNs that never replay the WAL.

mod common;

use argon_core::bson::{doc, Bson, Document};
use argon_core::{Argon, Change, ConnectOptions, FindOpts, ModifyOpts};
use common::{fresh_db, TestServer};
use std::sync::OnceLock;

fn server() -> &'static TestServer {
    static S: OnceLock<TestServer> = OnceLock::new();
    S.get_or_init(TestServer::start)
}

async fn open() -> Argon {
    let opts = ConnectOptions {
        database: fresh_db("core"),
        server_selection_timeout_ms: Some(5000),
        ..Default::default()
    };
    Argon::connect(&server().uri, opts).await.expect("connect")
}

async fn all(a: &Argon, branch: &str, at: Option<i64>) -> Vec<Document> {
    let c = a.collection(branch, "c", at).unwrap();
    let mut cur = c
        .find(
            doc! {},
            FindOpts {
                sort: Some(doc! {"_id": 1}),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    loop {
        let (bytes, n) = cur.next_batch(100).await.unwrap();
        if n == 0 {
            break;
        }
        let mut off = 0;
        while off < bytes.len() {
            let len = i32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
            out.push(argon_core::bson::from_slice(&bytes[off..off + len]).unwrap());
            off += len;
        }
    }
    out
}

fn set(v: i32) -> Change {
    Change::Update {
        update: Bson::Document(doc! {"$set": {"v": v}}),
        array_filters: None,
    }
}

async fn head(a: &Argon, b: &str) -> i64 {
    a.branch_info(b).await.unwrap().get_i64("headLsn").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branches_are_isolated_and_lsns_increase() {
    let a = open().await;
    let main = a.collection("main", "c", None).unwrap();
    main.insert_many(vec![doc! {"_id": 1, "v": 1}, doc! {"_id": 2, "v": 2}], true)
        .await
        .unwrap();
    let l1 = head(&a, "main").await;
    assert_eq!(l1, 2);
    a.create_branch("f", "main").await.unwrap();
    let f = a.collection("f", "c", None).unwrap();
    f.modify("updateOne", doc! {"_id": 1}, set(10), ModifyOpts::default())
        .await
        .unwrap();
    f.modify(
        "deleteOne",
        doc! {"_id": 2},
        Change::Delete,
        ModifyOpts::default(),
    )
    .await
    .unwrap();
    main.modify("updateOne", doc! {"_id": 2}, set(20), ModifyOpts::default())
        .await
        .unwrap();
    assert_eq!(
        all(&a, "main", None).await,
        vec![doc! {"_id": 1, "v": 1}, doc! {"_id": 2, "v": 20}]
    );
    assert_eq!(all(&a, "f", None).await, vec![doc! {"_id": 1, "v": 10}]);
    assert!(head(&a, "main").await > l1);
    assert_eq!(head(&a, "f").await, l1 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_at_past_lsns_see_exactly_that_state() {
    let a = open().await;
    let main = a.collection("main", "c", None).unwrap();
    let mut states = Vec::new();
    main.insert_many(vec![doc! {"_id": 1, "v": 0}, doc! {"_id": 2, "v": 0}], true)
        .await
        .unwrap();
    states.push((head(&a, "main").await, all(&a, "main", None).await));
    for i in 1..=5 {
        main.modify("updateOne", doc! {"_id": 1}, set(i), ModifyOpts::default())
            .await
            .unwrap();
        if i == 3 {
            main.modify(
                "deleteOne",
                doc! {"_id": 2},
                Change::Delete,
                ModifyOpts::default(),
            )
            .await
            .unwrap();
        }
        states.push((head(&a, "main").await, all(&a, "main", None).await));
    }
    // A branch forked in the middle sees main as of its fork even at its head.
    a.create_branch("g", "main").await.unwrap();
    main.modify("updateOne", doc! {"_id": 1}, set(99), ModifyOpts::default())
        .await
        .unwrap();
    for (lsn, expected) in &states {
        assert_eq!(
            &all(&a, "main", Some(*lsn)).await,
            expected,
            "main at {lsn}"
        );
        assert_eq!(&all(&a, "g", Some(*lsn)).await, expected, "g at {lsn}");
    }
    assert_eq!(all(&a, "g", None).await, states.last().unwrap().1);
    // Past views are read-only.
    let past = a.collection("main", "c", Some(1)).unwrap();
    let e = past
        .insert_many(vec![doc! {"x": 1}], true)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "READ_ONLY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_keys_hold_across_levels() {
    let a = open().await;
    let main = a.collection("main", "c", None).unwrap();
    main.create_index(doc! {"email": 1}, doc! {"unique": true})
        .await
        .unwrap();
    main.insert_many(vec![doc! {"_id": 1, "email": "a"}], true)
        .await
        .unwrap();
    a.create_branch("u", "main").await.unwrap();
    let u = a.collection("u", "c", None).unwrap();
    let (_, out) = u
        .insert_many(vec![doc! {"_id": 2, "email": "a"}], true)
        .await
        .unwrap();
    assert_eq!(out.errors[0].1.server_code(), Some(11000));
    // After the branch deletes the parent's row, the value is free on the branch only.
    u.modify(
        "deleteOne",
        doc! {"_id": 1},
        Change::Delete,
        ModifyOpts::default(),
    )
    .await
    .unwrap();
    let (_, out) = u
        .insert_many(vec![doc! {"_id": 2, "email": "a"}], true)
        .await
        .unwrap();
    assert!(out.errors.is_empty());
    let (_, out) = main
        .insert_many(vec![doc! {"_id": 3, "email": "a"}], true)
        .await
        .unwrap();
    assert_eq!(out.errors[0].1.server_code(), Some(11000));
    let specs = u.list_indexes().await.unwrap();
    let email = specs
        .iter()
        .find(|s| s.get_str("name") == Ok("email_1"))
        .unwrap();
    assert!(
        email.get("partialFilterExpression").is_none(),
        "Argon's own clause is hidden"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_creation_copies_nothing() {
    let a = open().await;
    let main = a.collection("main", "c", None).unwrap();
    let docs: Vec<Document> = (0..500).map(|i| doc! {"_id": i, "v": i}).collect();
    main.insert_many(docs, true).await.unwrap();
    let before = a.project().db_collection_count().await;
    a.create_branch("cheap", "main").await.unwrap();
    assert_eq!(
        a.project().db_collection_count().await,
        before,
        "no collection is created"
    );
    assert_eq!(all(&a, "cheap", None).await.len(), 500);
}
