//! Branch metadata records (`__argon.branches`) and the lineage a read walks.

use super::BranchId;
use crate::lsn::Lsn;
use mongodb::bson::{doc, DateTime, Document};
use serde::{Deserialize, Serialize};

/// One row of `__argon.branches`. Immutable after creation except `protected`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BranchMeta {
    /// The branch name (unique).
    #[serde(rename = "_id")]
    pub name: String,
    /// Internal id, never reused; names head collections and WAL records.
    pub id: BranchId,
    pub parent: Option<String>,
    #[serde(rename = "parentId")]
    pub parent_id: Option<BranchId>,
    /// The parent's state this branch sees: every parent write with LSN <= fork_lsn.
    #[serde(rename = "forkLsn")]
    pub fork_lsn: Lsn,
    #[serde(rename = "createdAt")]
    pub created_at: DateTime,
    #[serde(default)]
    pub protected: bool,
}

impl BranchMeta {
    pub fn main(now: DateTime) -> Self {
        BranchMeta {
            name: crate::names::MAIN.into(),
            id: crate::names::MAIN_ID,
            parent: None,
            parent_id: None,
            fork_lsn: Lsn::ZERO,
            created_at: now,
            protected: false,
        }
    }
}

/// One level of a branch's ancestry as seen by a read: the branch `id` and the highest
/// LSN of its writes that are visible (`None` = all of them, i.e. its current head).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub id: BranchId,
    pub cut: Option<Lsn>,
}

/// The levels a read of `chain[0]` at `at` walks, nearest first. `chain` is the branch
/// followed by its ancestors up to `main`.
pub fn levels(chain: &[BranchMeta], at: Option<Lsn>) -> Vec<Level> {
    let mut out = Vec::with_capacity(chain.len());
    let mut cut = at;
    for (i, b) in chain.iter().enumerate() {
        out.push(Level { id: b.id, cut });
        if i + 1 < chain.len() {
            cut = Some(match cut {
                Some(c) => c.min(b.fork_lsn),
                None => b.fork_lsn,
            });
        }
    }
    out
}

/// The public shape returned by `listBranches()` and `branch.info()`.
pub fn info_document(meta: &BranchMeta, head_lsn: Lsn) -> Document {
    doc! {
        "name": &meta.name,
        "parent": meta.parent.clone(),
        "forkLsn": meta.fork_lsn,
        "headLsn": head_lsn,
        "createdAt": meta.created_at,
        "protected": meta.protected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(name: &str, id: i32, fork: i64) -> BranchMeta {
        BranchMeta {
            name: name.into(),
            id: BranchId(id),
            parent: None,
            parent_id: None,
            fork_lsn: Lsn(fork),
            created_at: DateTime::from_millis(0),
            protected: false,
        }
    }

    #[test]
    fn cuts_shrink_up_the_chain() {
        let chain = [b("c", 2, 50), b("b", 1, 20), b("main", 0, 0)];
        let l = levels(&chain, None);
        assert_eq!(l[0].cut, None);
        assert_eq!(l[1].cut, Some(Lsn(50)));
        assert_eq!(l[2].cut, Some(Lsn(20)));
        let l = levels(&chain, Some(Lsn(30)));
        assert_eq!(l[0].cut, Some(Lsn(30)));
        assert_eq!(l[1].cut, Some(Lsn(30)));
        assert_eq!(l[2].cut, Some(Lsn(20)));
        let l = levels(&chain, Some(Lsn(10)));
        assert_eq!(
            l.iter().map(|x| x.cut).collect::<Vec<_>>(),
            vec![Some(Lsn(10)); 3]
        );
    }
}
