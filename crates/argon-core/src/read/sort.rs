//! MongoDB's BSON comparison order, used to merge per-level results client-side inside
//! transactions (where `$unionWith` is not allowed).

use mongodb::bson::{Bson, Document};
use std::cmp::Ordering;

fn type_rank(b: &Bson) -> u8 {
    match b {
        Bson::MinKey => 0,
        // Sort keys use Undefined for an empty array, which sorts before null.
        Bson::Undefined => 1,
        Bson::Null => 2,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => 3,
        Bson::String(_) | Bson::Symbol(_) => 4,
        Bson::Document(_) => 5,
        Bson::Array(_) => 6,
        Bson::Binary(_) => 7,
        Bson::ObjectId(_) => 8,
        Bson::Boolean(_) => 9,
        Bson::DateTime(_) => 10,
        Bson::Timestamp(_) => 11,
        Bson::RegularExpression(_) => 12,
        Bson::MaxKey => 14,
        _ => 13,
    }
}

fn as_f64(b: &Bson) -> f64 {
    match b {
        Bson::Int32(n) => *n as f64,
        Bson::Int64(n) => *n as f64,
        Bson::Double(n) => *n,
        Bson::Decimal128(d) => d.to_string().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// Compares two values in MongoDB's order.
pub fn compare(a: &Bson, b: &Bson) -> Ordering {
    let (ra, rb) = (type_rank(a), type_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Bson::String(x), Bson::String(y)) => x.cmp(y),
        (Bson::Document(x), Bson::Document(y)) => compare_docs(x, y),
        (Bson::Array(x), Bson::Array(y)) => {
            for (u, v) in x.iter().zip(y) {
                let o = compare(u, v);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.cmp(y),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => {
            (x.time, x.increment).cmp(&(y.time, y.increment))
        }
        (Bson::Binary(x), Bson::Binary(y)) => {
            (x.bytes.len(), &x.bytes).cmp(&(y.bytes.len(), &y.bytes))
        }
        _ if ra == 3 => compare_numbers(a, b),
        _ => Ordering::Equal,
    }
}

/// An integer as MongoDB holds it (Int32 and Int64 compare exactly, never through f64).
fn as_i64(b: &Bson) -> Option<i64> {
    match b {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        _ => None,
    }
}

/// An integer against a double, exactly (`2^53 + 1` is greater than `2^53` as a double).
fn compare_int_double(i: i64, d: f64) -> Ordering {
    if d.is_nan() {
        // NaN sorts before every other number.
        return Ordering::Greater;
    }
    // 2^63: the first double beyond i64 (i64::MIN is exactly -2^63).
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if d >= LIMIT {
        return Ordering::Less;
    }
    if d < -LIMIT {
        return Ordering::Greater;
    }
    let whole = d.trunc();
    match i.cmp(&(whole as i64)) {
        Ordering::Equal => 0.0_f64.partial_cmp(&(d - whole)).unwrap_or(Ordering::Equal),
        o => o,
    }
}

fn compare_numbers(a: &Bson, b: &Bson) -> Ordering {
    match (as_i64(a), as_i64(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(x), None) => compare_int_double(x, as_f64(b)),
        (None, Some(y)) => compare_int_double(y, as_f64(a)).reverse(),
        (None, None) => {
            let (x, y) = (as_f64(a), as_f64(b));
            match (x.is_nan(), y.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            }
        }
    }
}

/// Embedded documents compare field by field: first the type of the values, then the
/// field names, then the values (MongoDB's order).
fn compare_docs(x: &Document, y: &Document) -> Ordering {
    for ((ka, va), (kb, vb)) in x.iter().zip(y.iter()) {
        let o = type_rank(va)
            .cmp(&type_rank(vb))
            .then_with(|| ka.cmp(kb))
            .then_with(|| compare(va, vb));
        if o != Ordering::Equal {
            return o;
        }
    }
    x.len().cmp(&y.len())
}

/// Every value a dotted path reaches, descending through arrays of subdocuments as
/// MongoDB does (`it.q` over `[{q: 2}, {q: 5}]` reaches 2 and 5).
fn values_at(b: &Bson, parts: &[&str], out: &mut Vec<Bson>) {
    let Some((first, rest)) = parts.split_first() else {
        out.push(b.clone());
        return;
    };
    match b {
        Bson::Document(d) => {
            if let Some(v) = d.get(*first) {
                values_at(v, rest, out);
            }
        }
        Bson::Array(a) => {
            if let Ok(i) = first.parse::<usize>() {
                if let Some(v) = a.get(i) {
                    values_at(v, rest, out);
                }
            } else {
                for v in a {
                    if matches!(v, Bson::Document(_)) {
                        values_at(v, parts, out);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The value at a dotted path: missing = Null (as MongoDB sorts it); through arrays of
/// subdocuments, the array of reached values.
pub fn get_path(d: &Document, path: &str) -> Bson {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    values_at(&Bson::Document(d.clone()), &parts, &mut out);
    let through_array = {
        let mut cur = Some(Bson::Document(d.clone()));
        let mut arr = false;
        for p in &parts {
            cur = match cur {
                Some(Bson::Document(doc)) => doc.get(*p).cloned(),
                Some(Bson::Array(_)) => {
                    arr = true;
                    None
                }
                _ => None,
            };
        }
        arr
    };
    match (out.len(), through_array) {
        (0, false) => Bson::Null,
        (1, false) => out.pop().unwrap_or(Bson::Null),
        _ => Bson::Array(out),
    }
}

/// Whether a dotted path exists in the document.
pub fn has_path(d: &Document, path: &str) -> bool {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    values_at(&Bson::Document(d.clone()), &parts, &mut out);
    !out.is_empty()
}

/// The sort key of an array field: its smallest element ascending, largest descending.
fn sort_key(v: Bson, desc: bool) -> Bson {
    match v {
        Bson::Array(a) if a.is_empty() => Bson::Undefined,
        Bson::Array(a) if !a.is_empty() => {
            let it = a.into_iter();
            if desc {
                it.max_by(compare).unwrap_or(Bson::Null)
            } else {
                it.min_by(compare).unwrap_or(Bson::Null)
            }
        }
        other => other,
    }
}

/// Compares two documents by a MongoDB sort specification.
pub fn compare_by(spec: &Document, a: &Document, b: &Document) -> Ordering {
    for (path, dir) in spec {
        let desc = matches!(dir, Bson::Int32(n) if *n < 0)
            || matches!(dir, Bson::Int64(n) if *n < 0)
            || matches!(dir, Bson::Double(n) if *n < 0.0);
        let o = compare(
            &sort_key(get_path(a, path), desc),
            &sort_key(get_path(b, path), desc),
        );
        let o = if desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Sorts documents by a MongoDB sort specification.
pub fn sort_documents(docs: &mut [Document], spec: &Document) {
    docs.sort_by(|a, b| compare_by(spec, a, b));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_documents_compare_type_then_name_then_value() {
        use mongodb::bson::doc;
        // Field names decide before values: {a: 2} < {b: 1}.
        assert_eq!(
            compare(
                &Bson::Document(doc! {"a": 2}),
                &Bson::Document(doc! {"b": 1})
            ),
            Ordering::Less
        );
        // Types decide before names: {b: 1} (number) < {a: "x"} (string).
        assert_eq!(
            compare(
                &Bson::Document(doc! {"b": 1}),
                &Bson::Document(doc! {"a": "x"})
            ),
            Ordering::Less
        );
        assert_eq!(
            compare(
                &Bson::Document(doc! {"a": 1}),
                &Bson::Document(doc! {"a": 2})
            ),
            Ordering::Less
        );
    }

    #[test]
    fn large_integers_compare_exactly() {
        let big = 1_i64 << 53;
        assert_eq!(
            compare(&Bson::Int64(big + 1), &Bson::Int64(big)),
            Ordering::Greater
        );
        assert_eq!(
            compare(&Bson::Int64(big + 1), &Bson::Double(big as f64)),
            Ordering::Greater
        );
        assert_eq!(
            compare(&Bson::Double(big as f64), &Bson::Int64(big + 1)),
            Ordering::Less
        );
        assert_eq!(compare(&Bson::Int32(3), &Bson::Double(3.5)), Ordering::Less);
        assert_eq!(
            compare(&Bson::Int64(3), &Bson::Double(3.0)),
            Ordering::Equal
        );
        assert_eq!(
            compare(&Bson::Double(f64::NAN), &Bson::Int32(i32::MIN)),
            Ordering::Less
        );
        assert_eq!(
            compare(&Bson::Int64(i64::MAX), &Bson::Double(1e300)),
            Ordering::Less
        );
    }
    use mongodb::bson::doc;

    #[test]
    fn mongo_type_order_and_paths() {
        let mut v = vec![
            doc! {"a": "x"},
            doc! {"a": 2.5},
            doc! {},
            doc! {"a": 1},
            doc! {"a": {"b": 1}},
        ];
        sort_documents(&mut v, &doc! {"a": 1});
        let got: Vec<Bson> = v.iter().map(|d| get_path(d, "a")).collect();
        assert_eq!(got[0], Bson::Null);
        assert_eq!(got[1], Bson::Int32(1));
        assert_eq!(got[2], Bson::Double(2.5));
        assert_eq!(got[3], Bson::String("x".into()));
        sort_documents(&mut v, &doc! {"a": -1});
        assert_eq!(get_path(&v[0], "a"), Bson::Document(doc! {"b": 1}));
        assert_eq!(get_path(&doc! {"a": {"b": 3}}, "a.b"), Bson::Int32(3));
        // Through arrays of subdocuments, and empty arrays before null.
        let mut v = vec![
            doc! {"_id": 1, "it": [{"q": 2}, {"q": 5}]},
            doc! {"_id": 2, "it": [{"q": 1}]},
            doc! {"_id": 3, "it": [{"q": 7}]},
        ];
        sort_documents(&mut v, &doc! {"it.q": -1});
        assert_eq!(v[0].get_i32("_id").unwrap(), 3);
        let mut v = vec![
            doc! {"_id": 1, "t": ["b"]},
            doc! {"_id": 2, "t": []},
            doc! {"_id": 3},
        ];
        sort_documents(&mut v, &doc! {"t": 1});
        assert_eq!(
            v.iter()
                .map(|d| d.get_i32("_id").unwrap())
                .collect::<Vec<_>>(),
            vec![2, 3, 1]
        );
        assert!(has_path(&doc! {"a": null}, "a"));
        assert!(!has_path(&doc! {"b": 1}, "a"));
    }
}
