//! LSNs. One logical write (an insertMany batch, an updateMany, a reset) gets one LSN, so
//! a read at any LSN sees whole operations only. The documents one write changes are
//! ordered inside it by a sub-index: WAL record keys, and the LSN fields of head rows,
//! are `lsn << 20 | i`. User-facing LSNs are always the high part.
//!
//! The LSN comes from one counter document incremented inside the write's transaction.
//! Every writer touches the counter, so transactions commit in LSN order and any LSN at
//! or below the committed counter value is stable: reads at it never change.

/// Bits of a record key that number documents within one write.
pub const SUB_BITS: u32 = 20;
/// Most documents one logical write may change.
pub const MAX_DOCS_PER_WRITE: i64 = 1 << SUB_BITS;

/// The highest record key of LSN `lsn`: every record of writes up to `lsn` is <= it.
pub fn cut_key(lsn: i64) -> i64 {
    (lsn << SUB_BITS) | (MAX_DOCS_PER_WRITE - 1)
}

/// The LSN a record key belongs to.
pub fn lsn_of(key: i64) -> i64 {
    key >> SUB_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_within_and_across_writes() {
        let a = 7 << SUB_BITS;
        assert_eq!(lsn_of(a), 7);
        assert_eq!(lsn_of(a + 5), 7);
        assert!(a + 5 <= cut_key(7));
        assert!(cut_key(7) < 8 << SUB_BITS);
        assert_eq!(lsn_of(cut_key(7)), 7);
    }
}
