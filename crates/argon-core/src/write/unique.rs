//! Unique indexes across levels: a child's head collection enforces its unique indexes
//! among its own rows; rows inherited from ancestors are checked here, through the view,
//! inside the write's transaction. Ancestors are frozen at the fork, so it cannot race.

use super::{view_in_txn, Target};
use crate::error::ArgonError;
use crate::read::sort::{get_path, has_path};
use crate::read::view::ViewQuery;
use crate::write::txn::TxResult;
use mongodb::bson::{doc, Bson, Document};
use mongodb::ClientSession;

/// Hashable key of a BSON value (for `_id` maps).
pub(super) use crate::names::id_key;

/// Rejects after-images that collide with an ancestor row on one of the branch's unique
/// indexes. Ancestor rows are frozen at the fork, so this check cannot race.
pub(super) async fn check_unique_vs_ancestors(
    t: &Target<'_>,
    s: &mut ClientSession,
    afters: &[Document],
) -> TxResult<()> {
    if t.is_main() || t.uniques.is_empty() || t.levels.len() < 2 || afters.is_empty() {
        return Ok(());
    }
    for u in &t.uniques {
        // A partial index constrains only documents that match its filter: ask the
        // server which after-images (already written to the head in this transaction) do.
        let in_scope: Vec<&Document> = match &u.partial {
            None => afters.iter().collect(),
            Some(pf) => {
                let ids: Vec<Bson> = afters
                    .iter()
                    .filter_map(|d| d.get("_id").cloned())
                    .collect();
                let mut cur = t
                    .head()
                    .find(doc! {"$and": [{"_id": {"$in": ids}}, pf.clone()]})
                    .projection(doc! {"_id": 1})
                    .session(&mut *s)
                    .await?;
                let mut hit = std::collections::HashSet::new();
                while let Some(d) = cur.next(&mut *s).await {
                    hit.insert(id_key(d?.get("_id").unwrap_or(&Bson::Null)));
                }
                afters
                    .iter()
                    .filter(|d| hit.contains(&id_key(d.get("_id").unwrap_or(&Bson::Null))))
                    .collect()
            }
        };
        let mut ors = Vec::new();
        for d in in_scope {
            let mut f = Document::new();
            let mut all_missing = true;
            for k in &u.keys {
                all_missing &= !has_path(d, k);
                f.insert(k.clone(), get_path(d, k));
            }
            if u.sparse {
                if all_missing {
                    continue;
                }
                // A sparse index holds only documents that have one of its fields.
                let exists: Vec<Bson> = u
                    .keys
                    .iter()
                    .map(|k| Bson::Document(doc! {k.clone(): {"$exists": true}}))
                    .collect();
                f = doc! {"$and": [f, {"$or": exists}]};
            }
            ors.push(Bson::Document(f));
        }
        if ors.is_empty() {
            continue;
        }
        let mut filter = doc! {"$or": ors};
        if let Some(pf) = &u.partial {
            filter = doc! {"$and": [filter, pf.clone()]};
        }
        let q = ViewQuery {
            filter,
            limit: Some(1),
            for_write: true,
            ancestors_only: true,
            ..Default::default()
        };
        if let Some(found) = view_in_txn(t, s, &q).await?.first() {
            let mut kv = Document::new();
            for k in &u.keys {
                kv.insert(k.clone(), get_path(found, k));
            }
            let at = afters
                .iter()
                .position(|d| u.keys.iter().all(|k| get_path(d, k) == get_path(found, k)));
            let mut e = ArgonError::duplicate_key(&t.ns(), &u.name, kv);
            if let ArgonError::Server { index, .. } = &mut e {
                *index = at;
            }
            return Err(e.into());
        }
    }
    Ok(())
}
