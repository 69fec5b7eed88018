//! Time travel: points in time (`timepoint`), differences between points (`diff`),
//! resets (`reset`) and the garbage collection of history no read can reach (`gc`).

pub mod diff;
pub mod gc;
pub mod reset;
pub mod timepoint;
