//! WAL mirrors of the user's indexes (`{b, c, pd.<field>…, _id}`), made where Argon meets a
//! collection and by `createIndex`, each once per process.

use crate::error::Result;
use crate::project::Project;
use mongodb::bson::Document;
use mongodb::IndexModel;
use std::collections::HashSet;

use super::mirror_model;

/// The WAL mirrors this process has made sure of: by index name, and the collections
/// whose indexes it has listed.
#[derive(Debug, Default)]
pub(crate) struct Mirrored {
    indexes: HashSet<String>,
    collections: HashSet<String>,
}

impl Project {
    /// Mirrors the user indexes `specs` onto the WAL (idempotent; DDL, outside
    /// transactions), each once per process.
    pub(crate) async fn mirror_indexes(&self, specs: &[Document]) -> Result<()> {
        let (names, models): (Vec<String>, Vec<IndexModel>) = {
            let done = self.mirrored.lock().expect("mirrored");
            specs
                .iter()
                .filter_map(mirror_model)
                .filter(|(name, _)| !done.indexes.contains(name))
                .unzip()
        };
        if !models.is_empty() {
            self.wal().create_indexes(models).await?;
            self.mirrored
                .lock()
                .expect("mirrored")
                .indexes
                .extend(names);
        }
        Ok(())
    }

    /// Mirrors the indexes of main's collection `coll` (as the server lists them), once
    /// per process (indexes made later through Argon are mirrored as they are made).
    pub(crate) async fn mirror_indexes_of(&self, coll: &str) -> Result<()> {
        if self
            .mirrored
            .lock()
            .expect("mirrored")
            .collections
            .contains(coll)
        {
            return Ok(());
        }
        let specs =
            crate::branch::heads::user_index_specs(self, crate::names::MAIN_ID, coll).await?;
        self.mirror_indexes(&specs).await?;
        self.mirrored
            .lock()
            .expect("mirrored")
            .collections
            .insert(coll.to_string());
        Ok(())
    }
}
