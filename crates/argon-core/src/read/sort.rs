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
        _ if ra == 3 => as_f64(a).partial_cmp(&as_f64(b)).unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    }
}

fn compare_docs(x: &Document, y: &Document) -> Ordering {
    for ((ka, va), (kb, vb)) in x.iter().zip(y.iter()) {
        let o = compare(va, vb).then_with(|| ka.cmp(kb));
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
