//! Engine tests against a real MongoDB-wire server: isolation, LSN order, copy-on-write,
//! unique keys across levels, and reads at past LSNs that never replay the WAL.

mod common;

use argon_core::bson::{doc, Bson, Document};
use argon_core::{
    Argon, AtSpec, Change, ConnectOptions, FindOpts, ModifyOpts, Point, Progress, ResetTo,
};
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
    let c = a.collection(branch, "c", at.map(AtSpec::Lsn)).unwrap();
    let cur = c
        .find(
            doc! {},
            FindOpts {
                sort: Some(doc! {"_id": 1}),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    cur.collect().await.unwrap()
}

fn set(v: i32) -> Change {
    Change::Update {
        update: Bson::Document(doc! {"$set": {"v": v}}),
        array_filters: None,
    }
}

async fn update(c: &argon_core::Coll, id: i32, v: i32) {
    c.modify("updateOne", doc! {"_id": id}, set(v), ModifyOpts::default())
        .await
        .unwrap();
}

async fn delete(c: &argon_core::Coll, id: i32) {
    let none = ModifyOpts::default();
    c.modify("deleteOne", doc! {"_id": id}, Change::Delete, none)
        .await
        .unwrap();
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
    assert_eq!(l1, 1, "one insertMany is one logical write: one LSN");
    a.create_branch("f", Some("main"), None).await.unwrap();
    let f = a.collection("f", "c", None).unwrap();
    update(&f, 1, 10).await;
    delete(&f, 2).await;
    update(&main, 2, 20).await;
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
        update(&main, 1, i).await;
        if i == 3 {
            delete(&main, 2).await;
        }
        states.push((head(&a, "main").await, all(&a, "main", None).await));
    }
    // A branch forked in the middle sees main as of its fork even at its head.
    a.create_branch("g", Some("main"), None).await.unwrap();
    update(&main, 1, 99).await;
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
    let past = a.collection("main", "c", Some(AtSpec::Lsn(1))).unwrap();
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
    a.create_branch("u", Some("main"), None).await.unwrap();
    let u = a.collection("u", "c", None).unwrap();
    let (_, out) = u
        .insert_many(vec![doc! {"_id": 2, "email": "a"}], true)
        .await
        .unwrap();
    assert_eq!(out.errors[0].1.server_code(), Some(11000));
    // After the branch deletes the parent's row, the value is free on the branch only.
    delete(&u, 1).await;
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
    a.create_branch("cheap", Some("main"), None).await.unwrap();
    assert_eq!(
        a.project().db_collection_count().await,
        before,
        "no collection is created"
    );
    assert_eq!(all(&a, "cheap", None).await.len(), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_diff_and_reset_round_trip() {
    let a = open().await;
    let main = a.collection("main", "c", None).unwrap();
    main.insert_many((0..6).map(|i| doc! {"_id": i, "v": i}).collect(), true)
        .await
        .unwrap();
    a.create_branch("kid", Some("main"), None).await.unwrap();
    let good = head(&a, "main").await;
    a.tag("good", "main", None).await.unwrap();
    let original = all(&a, "main", None).await;
    // A bad migration: changes 2 documents, deletes 1, adds 1.
    main.modify(
        "updateMany",
        doc! {"v": {"$lt": 2}},
        set(-1),
        ModifyOpts {
            multi: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    delete(&main, 5).await;
    main.insert_many(vec![doc! {"_id": 9, "v": 9}], true)
        .await
        .unwrap();
    let bad = all(&a, "main", None).await;
    let head_pt = Point {
        branch: "main".into(),
        at: None,
    };
    let good_pt = Point {
        branch: "main".into(),
        at: Some(AtSpec::Tag("good".into())),
    };
    let d = a.diff(&good_pt, &head_pt, true).await.unwrap();
    let c = &d.per_collection["c"];
    assert_eq!((c.added, c.changed, c.removed), (1, 2, 1));
    assert_eq!(d.documents.len(), 4);
    let preview = a
        .restore_preview("main", ResetTo::Point(AtSpec::Lsn(good)))
        .await
        .unwrap();
    assert_eq!(preview["c"].changed, 2);
    assert_eq!(
        all(&a, "main", None).await,
        bad,
        "a preview changes nothing"
    );
    let kid_before = all(&a, "kid", None).await;
    let r = a
        .reset_branch(
            "main",
            ResetTo::Point(AtSpec::Lsn(good)),
            Some("main-bk".into()),
            &Progress::none(),
        )
        .await
        .unwrap();
    assert_eq!(r.backup.as_deref(), Some("main-bk"));
    assert_eq!(all(&a, "main", None).await, original);
    assert_eq!(
        all(&a, "main-bk", None).await,
        bad,
        "the backup keeps the pre-reset state"
    );
    assert_eq!(
        all(&a, "kid", None).await,
        kid_before,
        "children never see a reset"
    );
    // Undo the reset: the backup forked at the pre-reset head, so reset to that point.
    let bk_fork = a
        .branch_info("main-bk")
        .await
        .unwrap()
        .get_i64("forkLsn")
        .unwrap();
    a.reset_branch(
        "main",
        ResetTo::Point(AtSpec::Lsn(bk_fork)),
        None,
        &Progress::none(),
    )
    .await
    .unwrap();
    assert_eq!(
        all(&a, "main", None).await,
        bad,
        "the original (pre-reset) state is back"
    );
    let back = Point {
        branch: "main-bk".into(),
        at: None,
    };
    assert!(a
        .diff(&back, &head_pt, false)
        .await
        .unwrap()
        .per_collection
        .is_empty());
    assert_eq!(all(&a, "kid", None).await, kid_before);
    // History: newest first, including the reset's compensating version.
    let h = main.history(Bson::Int32(0), 10, None).await.unwrap();
    let ops: Vec<&str> = h.iter().map(|d| d.get_str("op").unwrap()).collect();
    assert_eq!(ops, vec!["replace", "replace", "update", "insert"]);
    // Out-of-range points are refused with a clear code.
    let e = a
        .collection("main", "c", Some(AtSpec::Lsn(10_000)))
        .unwrap()
        .count_documents(doc! {}, None, None, Default::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "LSN_OUT_OF_RANGE");
    let e = a
        .collection("main", "c", Some(AtSpec::Tag("nope".into())))
        .unwrap()
        .count_documents(doc! {}, None, None, Default::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "TAG_NOT_FOUND");
}
