//! Time travel: points in time (`timepoint`), differences between points (`diff`),
//! resets (`reset`), the garbage collection of history no read can reach (`gc`) and a
//! branch's writes over time (`timeline`).

pub mod diff;
pub mod gc;
pub mod reset;
pub mod timeline;
pub mod timepoint;
