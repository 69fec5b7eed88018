//! Property tests (proptest) for the engine's entry points that parse outside input: BSON
//! bytes from the binding, filters, options, projections, names and `_id`s. None may
//! panic; malformed input is an `INVALID_ARGUMENT`-style error. A bounded run (256 cases
//! per property) runs with `cargo test`; `tests/corpus/` holds seed documents that are
//! mutated byte by byte. No server needed.

use argon_core::bson::{doc, Bson, Document, RawDocument};
use argon_core::names;
use argon_core::read::{self, query_opts::QueryOpts, sort, view};
use proptest::prelude::*;
use std::path::Path;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("tests/corpus")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "bson"))
        .map(|e| std::fs::read(e.path()).expect("corpus file"))
        .collect();
    out.sort();
    out
}

/// Values of every BSON shape the parsers meet, nested a few levels.
fn bson_value() -> impl Strategy<Value = Bson> {
    let leaf = prop_oneof![
        Just(Bson::Null),
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
        any::<f64>().prop_map(Bson::Double),
        any::<bool>().prop_map(Bson::Boolean),
        "[$a-z._\\x00é]{0,12}".prop_map(Bson::String),
        Just(Bson::MinKey),
        Just(Bson::MaxKey),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
            prop::collection::vec(("[$a-z._]{0,8}", inner), 0..4)
                .prop_map(|kv| Bson::Document(kv.into_iter().collect::<Document>())),
        ]
    })
}

fn document() -> impl Strategy<Value = Document> {
    prop::collection::vec(
        (
            prop_oneof![
                "[a-z]{1,6}".boxed(),
                Just("_id".to_string()).boxed(),
                Just("$gt".to_string()).boxed(),
                Just("$in".to_string()).boxed(),
                Just("$and".to_string()).boxed(),
                Just("$expr".to_string()).boxed(),
                Just("$slice".to_string()).boxed(),
                Just("a.b".to_string()).boxed(),
                Just("collation".to_string()).boxed(),
                Just("hint".to_string()).boxed(),
                Just("maxTimeMS".to_string()).boxed(),
                Just("let".to_string()).boxed(),
                Just("__argon_lsn".to_string()).boxed(),
            ],
            bson_value(),
        ),
        0..6,
    )
    .prop_map(|kv| kv.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = read::split_documents(&bytes);
        let _ = read::parse_document(&bytes);
        if let Ok(raw) = RawDocument::from_bytes(&bytes) {
            let _ = names::check_user_document(raw);
        }
    }

    #[test]
    fn mutated_corpus_documents_never_panic(which in any::<prop::sample::Index>(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let seeds = corpus();
        let mut bytes = which.get(&seeds).clone();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        match read::split_documents(&bytes) {
            Ok(docs) => for d in docs {
                let _ = QueryOpts::parse(&d);
                let _ = names::check_no_reserved_paths(&d);
                let _ = view::projection_stages(&d);
                let _ = argon_core::wal::filter_on_prev(&d);
            },
            Err(e) => prop_assert_eq!(e.code(), "INVALID_ARGUMENT"),
        }
    }

    #[test]
    fn filters_options_and_projections_never_panic(d in document()) {
        let _ = QueryOpts::parse(&d);
        let _ = names::check_no_reserved_paths(&d);
        let _ = view::projection_stages(&d);
        let _ = view::plain_projection(Some(&d));
        let _ = argon_core::wal::filter_on_prev(&d);
        let bytes = argon_core::bson::to_vec(&d).unwrap();
        prop_assert!(read::parse_document(&bytes).is_ok());
        let raw = RawDocument::from_bytes(&bytes).unwrap();
        let _ = names::check_user_document(raw);
    }

    #[test]
    fn names_never_panic(name in "\\PC{0,120}") {
        let _ = names::validate_branch_name(&name);
        let _ = names::validate_collection_name(&name);
    }

    #[test]
    fn sort_order_is_a_total_order(a in bson_value(), b in bson_value()) {
        use std::cmp::Ordering;
        let ab = sort::compare(&a, &b);
        let ba = sort::compare(&b, &a);
        prop_assert_eq!(ab, ba.reverse());
        prop_assert_eq!(sort::compare(&a, &a), Ordering::Equal);
        // Equal `_id`s have equal keys.
        if ab == Ordering::Equal && a == b {
            prop_assert_eq!(names::id_key(&a), names::id_key(&b));
        }
    }
}

/// The corpus is present and every seed parses (so mutations start from valid input).
#[test]
fn corpus_seeds_parse() {
    let seeds = corpus();
    assert!(seeds.len() >= 5, "tests/corpus holds the seed documents");
    for s in &seeds {
        read::split_documents(s).expect("a seed parses");
    }
    let _ = doc! {};
}
