//! Updates, replaces and deletes (`updateOne/Many`, `replaceOne`, `deleteOne/Many`,
//! `findOneAnd*`), in one transaction: find the targets through the branch view, take one
//! LSN for the whole write, then one small step per target (copy-on-write or tombstone,
//! the server applying the update to the head row, the WAL record of the change), then
//! the cross-level unique check and the WAL append.

use super::insert::upsert;
use super::unique::check_unique_vs_ancestors;
use super::{
    project, same_doc, view_in_txn_with, wal_record, with_reserved, Change, ModifyOpts,
    ModifyOutcome, Target,
};
use crate::error::{ArgonError, Result};
use crate::lsn::RecordKey;
use crate::names::{strip_reserved, F_DEL, F_FIRST, F_LSN, F_SRC};
use crate::read::query_opts::{exact_id_filter, QueryOpts};
use crate::read::view::ViewQuery;
use crate::wal::{OP_DELETE, OP_REPLACE, OP_UPDATE};
use crate::write::alloc::LsnAlloc;
use crate::write::txn::{TxErr, TxResult};
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;

/// updateOne/updateMany/replaceOne/deleteOne/deleteMany/findOneAnd* on a branch.
pub async fn modify(
    t: &Target<'_>,
    filter: Document,
    change: Change,
    o: ModifyOpts,
) -> Result<ModifyOutcome> {
    check_change(&change)?;
    crate::in_txn!(t.p, |s, alloc| modify_in_txn(
        t, s, &filter, &change, &o, alloc
    ))
}

/// Checks an update (operators or a pipeline) or a replacement before any transaction.
pub fn check_change(change: &Change) -> Result<()> {
    if let Change::Update { update, .. } = change {
        with_reserved(update, doc! {})?;
    }
    if let Change::Replace(r) = change {
        if r.keys().any(|k| k.starts_with('$')) {
            return Err(ArgonError::InvalidArgument(
                "Replacement document must not contain atomic operators".into(),
            ));
        }
        let raw = mongodb::bson::RawDocumentBuf::from_document(r)?;
        crate::names::check_user_document(&raw)?;
    }
    Ok(())
}

/// One matched document, as the view returned it.
struct Matched {
    k: Bson,
    /// The row is in the branch's own head (not inherited from an ancestor).
    own: bool,
    /// `__argon_first` of an own row (an inherited row's belongs to the ancestor).
    first: Option<RecordKey>,
    /// The record key of the version being superseded (`None`: an adopted document on
    /// main, or an inherited row).
    prev: Option<RecordKey>,
    /// The document as the user sees it.
    before: Document,
}

impl Matched {
    fn new(t: &Target<'_>, row: Document) -> Matched {
        let own = t.is_main() || row.get_i32(F_SRC) == Ok(0);
        let first = if own {
            row.get_i64(F_FIRST).ok().map(RecordKey)
        } else {
            None
        };
        let prev = row.get_i64(F_LSN).ok().map(RecordKey);
        let k = row.get("_id").cloned().unwrap_or(Bson::Null);
        let mut before = row;
        strip_reserved(&mut before);
        Matched {
            k,
            own,
            first,
            prev,
            before,
        }
    }
}

/// What one target's step did.
enum Step {
    /// The document changed (`None`: deleted).
    Changed(Option<Document>),
    /// The change left it as it was: nothing to record.
    Unchanged,
}

pub(crate) async fn modify_in_txn(
    t: &Target<'_>,
    s: &mut ClientSession,
    filter: &Document,
    change: &Change,
    o: &ModifyOpts,
    alloc: &mut LsnAlloc<'_>,
) -> TxResult<ModifyOutcome> {
    let now = DateTime::now();
    let mut out = ModifyOutcome::default();
    let targets = find_targets(t, s, filter, o).await?;
    if targets.is_empty() {
        if o.upsert && !matches!(change, Change::Delete) {
            upsert_instead(t, s, filter, change, o, now, alloc, &mut out).await?;
        }
        return Ok(out);
    }
    let first_key = alloc.take(s, targets.len() as i64).await?;
    // Whether an unstamped row on main may be taken as adopted (invariant 24): asked once,
    // at the first such row.
    let mut adoptable = alloc.capture_settled;
    let mut records = Vec::new();
    let mut afters = Vec::new();
    let mut returned = None;
    for (i, row) in targets.into_iter().enumerate() {
        let key = first_key.plus(i as i64);
        let m = Matched::new(t, row);
        // An unstamped row on main: adopted, or an outside write capture has not recorded
        // yet. Only once capture has caught up may it be taken as adopted (its adoption
        // record says it existed at the adoption point; invariant 24).
        let unstamped = t.is_main() && !(m.own && m.prev.is_some());
        if unstamped && !adoptable {
            // Without waiting: nothing pending lets the write go on in this transaction;
            // otherwise (or when that cannot be told at once) it waits outside it.
            if t.p.capture_settled_now().await != Some(true) {
                return Err(TxErr::CapturePending);
            }
            adoptable = true;
        }
        out.matched += 1;
        let step = match change {
            Change::Delete => delete_one(t, s, &m, key).await?,
            Change::Update {
                update,
                array_filters,
            } => {
                let how = HeadUpdate {
                    filter,
                    update,
                    array_filters: array_filters.as_ref(),
                    q: &o.q,
                };
                update_one(t, s, &m, key, &how).await?
            }
            Change::Replace(r) => replace_one(t, s, &m, key, r).await?,
        };
        let after = match step {
            Step::Unchanged => {
                if o.want_doc {
                    returned = Some(m.before);
                }
                continue;
            }
            Step::Changed(after) => after,
        };
        match &after {
            Some(a) => {
                check_size(a)?;
                out.modified += 1;
                afters.push(a.clone());
            }
            None => out.deleted += 1,
        }
        records.extend(change_records(t, &m, key, change, after.clone(), now).await?);
        if o.want_doc {
            returned = Some(if o.return_after {
                after.unwrap_or_default()
            } else {
                m.before
            });
        }
    }
    check_unique_vs_ancestors(t, s, &afters).await?;
    if !records.is_empty() {
        for r in &mut records {
            r.insert(crate::wal::F_GROUP, alloc.token());
        }
        t.p.wal().insert_many(records).session(&mut *s).await?;
    }
    if let Some(d) = returned {
        out.doc = Some(match &o.projection {
            Some(p) if !p.is_empty() => project(t, s, d, p).await?,
            _ => d,
        });
    }
    Ok(out)
}

/// The documents the write applies to, through the branch view (one unless `multi`).
async fn find_targets(
    t: &Target<'_>,
    s: &mut ClientSession,
    filter: &Document,
    o: &ModifyOpts,
) -> TxResult<Vec<Document>> {
    let q = ViewQuery {
        filter: filter.clone(),
        sort: o.sort.as_ref(),
        limit: if o.multi { None } else { Some(1) },
        for_write: true,
        exact_ids: o.q.collated(),
        ..Default::default()
    };
    view_in_txn_with(t, s, &q, &o.q).await
}

/// No document matched an upsert: insert the one the server would build.
#[allow(clippy::too_many_arguments)]
async fn upsert_instead(
    t: &Target<'_>,
    s: &mut ClientSession,
    filter: &Document,
    change: &Change,
    o: &ModifyOpts,
    now: DateTime,
    alloc: &mut LsnAlloc<'_>,
    out: &mut ModifyOutcome,
) -> TxResult<()> {
    let d = upsert(t, s, filter, change, &o.q, now, alloc).await?;
    out.upserted_id = d.get("_id").cloned();
    if o.want_doc && o.return_after {
        out.doc = Some(match &o.projection {
            Some(p) => project(t, s, d, p).await?,
            None => d,
        });
    }
    Ok(())
}

/// Deletes on main; on a child, leaves a tombstone that hides the ancestors' version.
async fn delete_one(
    t: &Target<'_>,
    s: &mut ClientSession,
    m: &Matched,
    key: RecordKey,
) -> TxResult<Step> {
    if t.is_main() {
        t.head()
            .delete_one(doc! {"_id": m.k.clone()})
            .session(&mut *s)
            .await?;
    } else {
        let tomb = doc! {"_id": m.k.clone(), F_FIRST: m.first.unwrap_or(key), F_DEL: key};
        t.head()
            .replace_one(doc! {"_id": m.k.clone()}, tomb)
            .upsert(true)
            .session(&mut *s)
            .await?;
    }
    Ok(Step::Changed(None))
}

/// What the server applies to a target's head row: the user's update, with the filter (for
/// positional `$`), array filters and query options (a pipeline update may use `let`).
struct HeadUpdate<'a> {
    filter: &'a Document,
    update: &'a Bson,
    array_filters: Option<&'a Vec<Document>>,
    q: &'a QueryOpts,
}

/// Copies an inherited row into the branch's head, then lets the server apply the update
/// (so its after-image is exactly MongoDB's). A no-op update is undone.
async fn update_one(
    t: &Target<'_>,
    s: &mut ClientSession,
    m: &Matched,
    key: RecordKey,
    how: &HeadUpdate<'_>,
) -> TxResult<Step> {
    if !m.own {
        let mut row = m.before.clone();
        row.insert(F_LSN, key);
        row.insert(F_FIRST, key);
        t.head().insert_one(row).session(&mut *s).await?;
    }
    let upd = with_reserved(how.update, doc! {F_LSN: key})?;
    // The user's filter stays on so positional `$` updates find their element; the row is
    // picked by its exact `_id` whatever the collation.
    let head = t.head();
    let id = exact_id_filter(&m.k, how.q.collated());
    let mut a = head
        .find_one_and_update(doc! {"$and": [id, how.filter.clone()]}, upd)
        .return_document(ReturnDocument::After);
    if let Some(af) = how.array_filters {
        a = a.array_filters(af.clone());
    }
    let a = crate::with_query_opts!(a, how.q; collation, let_vars, comment, max_time);
    let mut after = a
        .session(&mut *s)
        .await?
        .ok_or_else(|| ArgonError::Internal("updated row vanished".into()))?;
    strip_reserved(&mut after);
    if !same_doc(&after, &m.before) {
        return Ok(Step::Changed(Some(after)));
    }
    // A no-op: undo Argon's own bookkeeping so nothing observable changes.
    if m.own {
        let undo = match m.prev {
            Some(p) => doc! {"$set": {F_LSN: p}},
            None => doc! {"$unset": {F_LSN: ""}},
        };
        t.head()
            .update_one(doc! {"_id": m.k.clone()}, undo)
            .session(&mut *s)
            .await?;
    } else {
        t.head()
            .delete_one(doc! {"_id": m.k.clone()})
            .session(&mut *s)
            .await?;
    }
    Ok(Step::Unchanged)
}

/// Replaces the document (keeping its `_id`) in the branch's head.
async fn replace_one(
    t: &Target<'_>,
    s: &mut ClientSession,
    m: &Matched,
    key: RecordKey,
    r: &Document,
) -> TxResult<Step> {
    if r.get("_id").is_some_and(|id| *id != m.k) {
        return Err(ArgonError::Server {
            code: 66,
            code_name: "ImmutableField".into(),
            message: "After applying the update, the (immutable) field '_id' was found to have been altered".into(),
            key_value: None,
            index: None,
        }
        .into());
    }
    let mut after = doc! {"_id": m.k.clone()};
    for (f, v) in r {
        if f != "_id" {
            after.insert(f.clone(), v.clone());
        }
    }
    if same_doc(&after, &m.before) {
        return Ok(Step::Unchanged);
    }
    let mut row = after.clone();
    row.insert(F_LSN, key);
    if !t.is_main() {
        let first = if m.own { m.first.unwrap_or(key) } else { key };
        row.insert(F_FIRST, first);
    }
    t.head()
        .replace_one(doc! {"_id": m.k.clone()}, row)
        .upsert(!m.own)
        .session(&mut *s)
        .await?;
    Ok(Step::Changed(Some(after)))
}

fn check_size(d: &Document) -> TxResult<()> {
    let size = mongodb::bson::to_vec(d).map(|v| v.len()).unwrap_or(0);
    if size > crate::names::MAX_BSON_SIZE {
        return Err(ArgonError::DocumentTooLarge(size).into());
    }
    Ok(())
}

/// The WAL records of one document's change: its record (naming the version it
/// supersedes), preceded on main by an adoption record when the document was adopted and
/// this is its first change (so reads of earlier points still find the adopted version).
async fn change_records(
    t: &Target<'_>,
    m: &Matched,
    key: RecordKey,
    change: &Change,
    after: Option<Document>,
    now: DateTime,
) -> TxResult<Vec<Document>> {
    let op = match change {
        Change::Delete => OP_DELETE,
        Change::Update { .. } => OP_UPDATE,
        Change::Replace(_) => OP_REPLACE,
    };
    let mut out = Vec::with_capacity(1);
    let mut prev = if m.own {
        m.prev.map(|p| (p, m.before.clone()))
    } else {
        None
    };
    if t.is_main() && prev.is_none() {
        let a = t.p.adoption(t.coll).await?;
        out.push(crate::adopt::adoption_record(
            t.coll,
            &m.k,
            key,
            m.before.clone(),
            &a,
        ));
        prev = Some((crate::adopt::adoption_key(key), m.before.clone()));
    }
    out.push(wal_record(t, key, &m.k, op, after, now, prev));
    Ok(out)
}
