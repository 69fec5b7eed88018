//! Adoption: Argon pointed at a database that already holds documents.
//!
//! The documents a collection holds when Argon first meets it are its state at the
//! *adoption point* (the project's committed LSN at that moment). Nothing is copied or
//! rewritten at connect: a head row without `__argon_lsn` is an adopted document, readable
//! at every point from the adoption point on. When Argon (or capture) first changes such a
//! document, its pre-image is written to the WAL as an *adoption record* in the same
//! transaction, and the change's record names it as its predecessor, so past reads, forks,
//! history, diffs and resets see the adopted version exactly.
//!
//! Adoption records have negative keys (`-K`, where `K` is the key of the record that
//! supersedes them): no record range "after a cut" (`_id > cut_key(L)`, L >= 0) ever
//! contains one, and every cut satisfies `p = -K <= cut`, so a read at any point at or
//! after the adoption point finds the pre-image as "the version current at the cut".
//! Points before the adoption point of a collection that held documents are refused with
//! `LSN_OUT_OF_RANGE`: Argon does not invent their history.

use crate::error::{ArgonError, Result};
use crate::lsn::{Lsn, RecordKey};
use crate::names::{is_user_collection, ADOPTED, F_LSN, MAIN_ID};
use crate::project::Project;
use mongodb::bson::{doc, Bson, DateTime, Document};

/// WAL `op` of an adoption record.
pub const OP_ADOPT: &str = "a";

/// Where Argon first met a collection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adoption {
    /// The committed LSN when Argon first met the collection.
    pub lsn: Lsn,
    /// Whether it held documents Argon had not written (only then are earlier points
    /// refused).
    pub had_docs: bool,
    /// When Argon first met it.
    pub at: DateTime,
}

impl Adoption {
    fn from_doc(d: &Document) -> Adoption {
        Adoption {
            lsn: Lsn(d.get_i64("lsn").unwrap_or(0)),
            had_docs: d.get_bool("hadDocs").unwrap_or(false),
            at: d
                .get_datetime("at")
                .copied()
                .unwrap_or_else(|_| DateTime::from_millis(0)),
        }
    }

    /// Refuses a read of this collection at `lsn` when it lies before the adoption.
    pub fn check(&self, coll: &str, lsn: Lsn) -> Result<()> {
        if self.had_docs && lsn < self.lsn {
            return Err(ArgonError::LsnOutOfRange(format!(
                "LSN {lsn} is before collection {coll:?} was adopted (LSN {}): Argon has no history of its documents before that point",
                self.lsn
            )));
        }
        Ok(())
    }
}

/// The key of the adoption record superseded by the record with key `key`.
pub fn adoption_key(key: RecordKey) -> RecordKey {
    RecordKey(-key.get())
}

/// The adoption record of document `k`: its pre-image, as Argon first met it.
pub fn adoption_record(
    coll: &str,
    k: &Bson,
    superseded_by: RecordKey,
    pre_image: Document,
    a: &Adoption,
) -> Document {
    let mut r = crate::wal::record(
        adoption_key(superseded_by),
        MAIN_ID,
        coll,
        k,
        OP_ADOPT,
        Some(pre_image),
        a.at,
        None,
    );
    r.insert(crate::wal::F_ADOPTED_AT, a.lsn);
    r
}

impl Project {
    /// The adoption of `coll`, recording it now if Argon has not met it before.
    pub async fn adoption(&self, coll: &str) -> Result<Adoption> {
        if let Some(a) = self.cached_adoption(coll) {
            return Ok(a);
        }
        let recs = self.db.collection::<Document>(ADOPTED);
        let found = match recs.find_one(doc! {"_id": coll}).await? {
            Some(d) => Adoption::from_doc(&d),
            None => {
                let had_docs = self.holds_foreign_docs(coll).await?;
                let lsn = self.committed_lsn().await?;
                let rec = doc! {"lsn": lsn, "hadDocs": had_docs, "at": DateTime::now()};
                // Two processes meeting the collection at once: the first record wins.
                let d = recs
                    .find_one_and_update(doc! {"_id": coll}, doc! {"$setOnInsert": rec})
                    .upsert(true)
                    .return_document(mongodb::options::ReturnDocument::After)
                    .await;
                if self.capture_status() == crate::capture::CaptureStatus::Active {
                    // A collection met after capture started: its updates and deletes
                    // need pre-images from now on.
                    self.enable_pre_images_for(coll, false).await;
                }
                match d {
                    Ok(Some(d)) => Adoption::from_doc(&d),
                    // Lost the race to another process (a duplicate key, or, on the test
                    // server, no document returned): its record is the one that counts.
                    Ok(None) => self.read_adoption(coll).await?,
                    Err(e) if crate::error::server_code_of(&e) == Some(11000) => {
                        self.read_adoption(coll).await?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if found.had_docs {
            tracing::info!(
                collection = coll,
                lsn = found.lsn.get(),
                "adopted existing documents"
            );
        }
        self.adoptions
            .lock()
            .expect("adoption cache")
            .insert(coll.to_string(), found);
        Ok(found)
    }

    async fn read_adoption(&self, coll: &str) -> Result<Adoption> {
        self.db
            .collection::<Document>(ADOPTED)
            .find_one(doc! {"_id": coll})
            .await?
            .map(|d| Adoption::from_doc(&d))
            .ok_or_else(|| ArgonError::Internal(format!("adoption record of {coll:?} missing")))
    }

    /// The adoption of `coll` if this process already knows it (no I/O).
    pub fn cached_adoption(&self, coll: &str) -> Option<Adoption> {
        self.adoptions
            .lock()
            .expect("adoption cache")
            .get(coll)
            .copied()
    }

    /// Whether `coll` holds documents Argon did not write: it has documents (the O(1)
    /// metadata count) and the WAL has no record of main for it. A collection Argon has
    /// written to before adoption records existed keeps its full history (adoption at 0).
    async fn holds_foreign_docs(&self, coll: &str) -> Result<bool> {
        let n = self
            .db
            .collection::<Document>(coll)
            .estimated_document_count()
            .await?;
        if n == 0 {
            return Ok(false);
        }
        let written = self
            .wal()
            .find_one(crate::wal::query::of_collection(MAIN_ID, coll))
            .projection(doc! {"_id": 1})
            .await?;
        Ok(written.is_none())
    }

    /// The project's user collections (main's heads).
    pub(crate) async fn user_collections(&self) -> Result<Vec<String>> {
        let mut names = self.db.list_collection_names().await?;
        names.retain(|n| is_user_collection(n));
        Ok(names)
    }

    /// Meets every user collection of the database (at connect): O(collections), never
    /// O(documents).
    pub(crate) async fn adopt_all(&self, colls: &[String]) -> Result<()> {
        for name in colls {
            self.adoption(name).await?;
        }
        Ok(())
    }

    /// Refuses a project-wide point (a fork, a reset target, a diff side) that lies before
    /// the adoption of any collection that held documents then.
    pub async fn check_adopted_point(&self, lsn: Lsn) -> Result<()> {
        let later = self
            .db
            .collection::<Document>(ADOPTED)
            .find_one(doc! {"hadDocs": true, "lsn": {"$gt": lsn}})
            .await?;
        if let Some(d) = later {
            let coll = d.get_str("_id").unwrap_or("?").to_string();
            return Adoption::from_doc(&d).check(&coll, lsn);
        }
        Ok(())
    }

    /// Whether `k` is an adopted document of `coll` that Argon never changed: its head row
    /// exists without `__argon_lsn`.
    pub(crate) async fn adopted_row(&self, coll: &str, k: &Bson) -> Result<Option<Document>> {
        Ok(self
            .db
            .collection::<Document>(coll)
            .find_one(doc! {"_id": k.clone(), F_LSN: {"$exists": false}})
            .await?)
    }
}
