//! A branch's WAL over time (the dashboard's timeline): its records inside the retention
//! window counted in equal time buckets, with the LSNs each bucket spans, so a point can be
//! picked from a chart. Two aggregations on the server (the range, then the buckets); no
//! record reaches the client.

use crate::error::{ArgonError, Result};
use crate::lsn::RecordKey;
use crate::project::Project;
use crate::wal::{query, F_KEY, F_TIME};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime, Document};

/// Most buckets one call may ask for.
pub const MAX_BUCKETS: u32 = 500;

fn as_i64(d: &Document, k: &str) -> Option<i64> {
    match d.get(k)? {
        Bson::Int32(v) => Some(*v as i64),
        Bson::Int64(v) => Some(*v),
        Bson::Double(v) => Some(*v as i64),
        _ => None,
    }
}

/// `{ branch, from, to, bucketMs, points: [{ t, writes, firstLsn, lastLsn }] }`: `writes`
/// counts WAL records (one per document a write changed), `firstLsn`/`lastLsn` are null
/// in an empty bucket; `from`/`to` are null when the window holds no record.
pub async fn timeline(p: &Project, branch: &str, buckets: u32) -> Result<Document> {
    if buckets == 0 || buckets > MAX_BUCKETS {
        return Err(ArgonError::InvalidArgument(format!(
            "timeline buckets must be 1 to {MAX_BUCKETS}"
        )));
    }
    let m = p.branch_meta(branch).await?;
    p.capture_barrier().await?;
    let earliest = p.earliest_lsn().await?;
    let mut filter = query::after_cut(m.id, None, earliest);
    let range: Option<Document> = p
        .wal()
        .aggregate(vec![
            doc! {"$match": filter.clone()},
            doc! {"$group": {"_id": Bson::Null, "from": {"$min": format!("${F_TIME}")}, "to": {"$max": format!("${F_TIME}")}}},
        ])
        .await?
        .try_next()
        .await?;
    let times =
        range.and_then(|r| Some((*r.get_datetime("from").ok()?, *r.get_datetime("to").ok()?)));
    let Some((from, to)) = times else {
        return Ok(
            doc! {"branch": branch, "from": Bson::Null, "to": Bson::Null, "bucketMs": 0_i64, "points": []},
        );
    };
    let span = (to.timestamp_millis() - from.timestamp_millis()).max(0) + 1;
    let width = (span + buckets as i64 - 1) / buckets as i64;
    filter.insert(F_TIME, doc! {"$gte": from, "$lte": to});
    let rows: Vec<Document> = p
        .wal()
        .aggregate(vec![
            doc! {"$match": filter},
            doc! {"$group": {
                // Milliseconds as numbers: the test server cannot subtract dates.
                "_id": {"$floor": {"$divide": [{"$subtract": [{"$toLong": format!("${F_TIME}")}, from.timestamp_millis()]}, width]}},
                "writes": {"$sum": 1},
                "first": {"$min": format!("${F_KEY}")},
                "last": {"$max": format!("${F_KEY}")},
            }},
        ])
        .await?
        .try_collect()
        .await?;
    let n = ((span + width - 1) / width) as usize;
    let mut points: Vec<(i64, Option<(i64, i64)>)> = vec![(0, None); n];
    for r in rows {
        let (Some(i), Some(w), Some(f), Some(l)) = (
            as_i64(&r, "_id"),
            as_i64(&r, "writes"),
            as_i64(&r, "first"),
            as_i64(&r, "last"),
        ) else {
            continue;
        };
        if let Some(slot) = points.get_mut(i.clamp(0, n as i64 - 1) as usize) {
            let lsns = (RecordKey(f).lsn().0, RecordKey(l).lsn().0);
            slot.0 += w;
            slot.1 = Some(match slot.1 {
                Some((a, b)) => (a.min(lsns.0), b.max(lsns.1)),
                None => lsns,
            });
        }
    }
    let points: Vec<Bson> = points
        .into_iter()
        .enumerate()
        .map(|(i, (writes, lsns))| {
            let t = DateTime::from_millis(from.timestamp_millis() + i as i64 * width);
            let (first, last) = match lsns {
                Some((a, b)) => (Bson::Int64(a), Bson::Int64(b)),
                None => (Bson::Null, Bson::Null),
            };
            Bson::Document(doc! {"t": t, "writes": writes, "firstLsn": first, "lastLsn": last})
        })
        .collect();
    Ok(doc! {"branch": branch, "from": from, "to": to, "bucketMs": width, "points": points})
}
