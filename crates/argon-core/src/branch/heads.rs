//! Head collections of child branches: created on a branch's first write to a collection,
//! with the parent's indexes copied (unique ones restricted to live rows so tombstones
//! never collide), and the unique-index list the write path checks against ancestors.

use crate::branch::BranchId;
use crate::error::Result;
use crate::names::{head_collection, F_LSN, MAIN_ID};
use crate::project::Project;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::IndexModel;

/// A unique index a write on a child branch must also enforce against ancestor rows.
#[derive(Debug, Clone)]
pub struct UniqueIndex {
    pub name: String,
    pub keys: Vec<String>,
    pub sparse: bool,
    pub partial: Option<Document>,
}

/// Index specs of a collection as users see them (Argon's own partial clause removed).
pub async fn user_index_specs(
    p: &Project,
    branch_id: BranchId,
    coll: &str,
) -> Result<Vec<Document>> {
    let c =
        p.db.collection::<Document>(&head_collection(branch_id, coll));
    let specs: Vec<Document> = match c.list_indexes().await {
        Ok(cur) => cur.map_ok(|m| to_spec(&m)).try_collect::<Vec<_>>().await?,
        Err(e) if crate::error::server_code_of(&e) == Some(26) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(specs.into_iter().map(unwrap_live_clause).collect())
}

fn to_spec(m: &IndexModel) -> Document {
    let mut d = doc! {"v": 2, "key": m.keys.clone()};
    if let Some(o) = &m.options {
        if let Ok(Bson::Document(od)) = mongodb::bson::to_bson(o) {
            for (k, v) in od {
                d.insert(k, v);
            }
        }
    }
    d
}

fn live_clause() -> Document {
    doc! {F_LSN: {"$exists": true}}
}

/// The conjunction Argon uses on child heads to express a sparse unique index.
fn sparse_clause(keys: &Document) -> Document {
    let exists: Vec<Bson> = keys
        .keys()
        .map(|k| Bson::Document(doc! {k: {"$exists": true}}))
        .collect();
    doc! {"$and": exists}
}

/// Recovers the user's index spec from a child head's: removes Argon's live-row clause
/// and turns its sparse conjunction back into `sparse: true`.
fn unwrap_live_clause(mut spec: Document) -> Document {
    let Ok(p) = spec.get_document("partialFilterExpression").cloned() else {
        return spec;
    };
    let user_part = if p == live_clause() {
        None
    } else {
        match p.get_array("$and") {
            Ok(arr) if arr.len() == 2 && arr[1] == Bson::Document(live_clause()) => {
                arr[0].as_document().cloned()
            }
            _ => return spec,
        }
    };
    spec.remove("partialFilterExpression");
    if let Some(u) = user_part {
        let keys = spec.get_document("key").cloned().unwrap_or_default();
        if u == sparse_clause(&keys) {
            spec.insert("sparse", true);
        } else {
            spec.insert("partialFilterExpression", u);
        }
    }
    spec
}

/// Where a branch's effective index list comes from: its own head collection once it
/// exists, else the nearest ancestor's.
pub async fn effective_specs(
    p: &Project,
    chain_ids: &[BranchId],
    coll: &str,
) -> Result<Vec<Document>> {
    for id in chain_ids {
        if *id == MAIN_ID || head_exists(p, *id, coll).await? {
            return user_index_specs(p, *id, coll).await;
        }
    }
    Ok(Vec::new())
}

pub async fn head_exists(p: &Project, id: BranchId, coll: &str) -> Result<bool> {
    let names =
        p.db.list_collection_names()
            .filter(doc! {"name": head_collection(id, coll)})
            .await?;
    Ok(!names.is_empty())
}

/// Turns a user index spec into the spec used on a child head collection.
pub fn child_index_model(spec: &Document) -> Result<Option<IndexModel>> {
    let keys = spec
        .get_document("key")
        .map_err(|_| crate::ArgonError::InvalidArgument("index spec without `key`".into()))?;
    if spec.get_str("name").ok() == Some("_id_") {
        return Ok(None);
    }
    let mut opts = spec.clone();
    for k in ["key", "v", "ns", "expireAfterSeconds"] {
        opts.remove(k);
    }
    if opts.get_bool("unique").unwrap_or(false) {
        // Unique indexes hold live rows only, so tombstones never collide. The form is
        // always `{$and: [user part, live clause]}` so `unwrap_live_clause` can undo it.
        let user_part = if opts.get_bool("sparse").unwrap_or(false) {
            opts.remove("sparse");
            Some(sparse_clause(keys))
        } else {
            opts.get_document("partialFilterExpression").ok().cloned()
        };
        let combined = match user_part {
            Some(u) => doc! {"$and": [u, live_clause()]},
            None => live_clause(),
        };
        opts.insert("partialFilterExpression", combined);
    }
    let options: mongodb::options::IndexOptions = mongodb::bson::from_document(opts)?;
    Ok(Some(
        IndexModel::builder()
            .keys(keys.clone())
            .options(options)
            .build(),
    ))
}

/// Makes sure `branch_id`'s head collection for `coll` exists with its parent's indexes,
/// and returns its unique indexes. Runs outside transactions (DDL); idempotent.
pub async fn ensure_head(
    p: &Project,
    chain_ids: &[BranchId],
    coll: &str,
) -> Result<Vec<UniqueIndex>> {
    let id = chain_ids[0];
    let key = (id, coll.to_string());
    if let Some(u) = p.known_heads.lock().expect("heads lock").get(&key) {
        return Ok(u.clone());
    }
    if id != MAIN_ID && !head_exists(p, id, coll).await? {
        let specs = effective_specs(p, &chain_ids[1..], coll).await?;
        let name = head_collection(id, coll);
        match p.db.create_collection(&name).await {
            Ok(()) => {}
            Err(e) if crate::error::server_code_of(&e) == Some(48) => {}
            Err(e) => return Err(e.into()),
        }
        let models: Vec<IndexModel> = specs
            .iter()
            .filter_map(|s| child_index_model(s).transpose())
            .collect::<Result<_>>()?;
        if !models.is_empty() {
            p.db.collection::<Document>(&name)
                .create_indexes(models)
                .await?;
        }
    }
    if id == MAIN_ID {
        // Past reads filter superseded versions through mirrors of the user's indexes.
        p.mirror_indexes_of(coll).await?;
    }
    if id == MAIN_ID && p.capture_status() == crate::capture::CaptureStatus::Active {
        // Main's first write here (in this process): outside updates and deletes of the
        // collection need pre-images for exact capture, from its very first document.
        p.enable_pre_images_for(coll, true).await;
    }
    let uniques = if id == MAIN_ID {
        Vec::new()
    } else {
        unique_indexes(&user_index_specs(p, id, coll).await?)
    };
    p.known_heads
        .lock()
        .expect("heads lock")
        .put(key, uniques.clone());
    Ok(uniques)
}

pub fn unique_indexes(specs: &[Document]) -> Vec<UniqueIndex> {
    specs
        .iter()
        .filter(|s| s.get_bool("unique").unwrap_or(false))
        .filter_map(|s| {
            Some(UniqueIndex {
                name: s.get_str("name").ok()?.to_string(),
                keys: s.get_document("key").ok()?.keys().cloned().collect(),
                sparse: s.get_bool("sparse").unwrap_or(false),
                partial: s.get_document("partialFilterExpression").ok().cloned(),
            })
        })
        .collect()
}

/// Forgets cached head info (after index changes or branch deletion).
pub fn forget(p: &Project, id: BranchId, coll: &str) {
    p.known_heads
        .lock()
        .expect("heads lock")
        .pop(&(id, coll.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_index_specs_round_trip() {
        for spec in [
            doc! {"key": {"a": 1}, "name": "a_1", "unique": true},
            doc! {"key": {"a": 1}, "name": "a_1", "unique": true, "sparse": true},
            doc! {"key": {"a": 1}, "name": "a_1", "unique": true, "partialFilterExpression": {"live": true}},
            doc! {"key": {"a": 1, "b": -1}, "name": "a_1_b_-1"},
        ] {
            let model = child_index_model(&spec).unwrap().unwrap();
            let back = unwrap_live_clause(to_spec(&model));
            for k in ["unique", "sparse", "partialFilterExpression", "name"] {
                assert_eq!(back.get(k), spec.get(k), "{k} of {spec}");
            }
        }
    }
}
