//! Format migrations of the WAL, run on connect (see `project::FORMAT_VERSION`).

use super::{F_AFTER, F_KEY, F_PREV, F_PREV_DOC};
use crate::error::Result;
use crate::project::Project;
use mongodb::bson::{doc, Bson, DateTime, Document};

/// Brings a project written in format 1 to format 2: every record that supersedes a
/// version gets that version's image (`pd`), read from the superseded record. Idempotent
/// and resumable (it only touches records without `pd`), so processes connecting at once
/// or a migration interrupted half-way are harmless. Processes of an older argondb must be
/// stopped first: records they write afterwards would lack `pd`.
pub(crate) async fn migrate(p: &Project, from: i32) -> Result<()> {
    use futures_util::TryStreamExt;
    let wal = p.wal();
    let mut done = 0_u64;
    loop {
        let batch: Vec<Document> = wal
            .find(doc! {F_PREV: {"$exists": true}, F_PREV_DOC: {"$exists": false}})
            .projection(doc! {F_KEY: 1, F_PREV: 1})
            .limit(1000)
            .await?
            .try_collect()
            .await?;
        if batch.is_empty() {
            break;
        }
        let prevs: Vec<Bson> = batch
            .iter()
            .filter_map(|r| r.get(F_PREV).cloned())
            .collect();
        let images: std::collections::HashMap<i64, Bson> = wal
            .find(doc! {F_KEY: {"$in": prevs}})
            .projection(doc! {F_AFTER: 1})
            .await?
            .try_collect::<Vec<Document>>()
            .await?
            .into_iter()
            .filter_map(|r| Some((r.get_i64(F_KEY).ok()?, r.get(F_AFTER)?.clone())))
            .collect();
        let updates: Vec<Document> = batch
            .iter()
            .filter_map(|r| {
                let key = r.get_i64(F_KEY).ok()?;
                let prev = r.get_i64(F_PREV).ok()?;
                // A missing predecessor (never expected) gets null: no version to show.
                let image = images.get(&prev).cloned().unwrap_or(Bson::Null);
                Some(doc! {"q": {F_KEY: key}, "u": {"$set": {F_PREV_DOC: image}}})
            })
            .collect();
        done += updates.len() as u64;
        p.db.run_command(doc! {"update": crate::names::WAL, "updates": updates, "ordered": false})
            .await?;
    }
    p.meta()
        .update_one(
            doc! {"_id": "format", "version": {"$lt": crate::project::FORMAT_VERSION}},
            doc! {"$set": {"version": crate::project::FORMAT_VERSION, "migratedFrom": from, "migratedAt": DateTime::now()}},
        )
        .await?;
    tracing::info!(
        from,
        records = done,
        "migrated the project's WAL to format 2"
    );
    Ok(())
}
