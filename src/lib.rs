//! napi-rs binding for argondb: a thin layer that moves BSON bytes between Node and the
//! napi-free engine in `crates/argon-core`. The JS layer (`index.js`, `lib/`) builds the
//! driver-like API on top of these classes.

mod client;
mod collection;
mod convert;
mod cursor;
mod errors;
mod ops;
mod timetravel;

pub use client::{connect, NativeArgon};
pub use collection::NativeCollection;
pub use cursor::NativeCursor;
