//! logscrub's compiled per-line core. The Python modules under `src/logscrub` are the reference;
//! every function here mirrors one of them byte for byte (tests/native holds the proof), so the
//! per-line loop can move here whole in a later step.

pub mod clf;
pub mod crypto;
pub mod formats;
pub mod ip;
pub mod json;
pub mod jsonlines;
pub mod nginx;
pub mod pystr;
pub mod time;
pub mod url;

#[cfg(feature = "python")]
mod binding;
