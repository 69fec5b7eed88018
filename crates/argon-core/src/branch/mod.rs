//! Branches: their metadata records and lineage (`meta`), and the head collections that
//! hold what each child branch has written (`heads`).

pub mod heads;
pub mod meta;
