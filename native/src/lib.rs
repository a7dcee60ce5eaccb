//! logscrub's compiled per-line core. The Python modules under `src/logscrub` are the reference;
//! every function here mirrors one of them byte for byte (tests/native holds the proof): the pieces
//! (phase 1 of issue 17), and `core`, the whole per-line loop over a batch (phase 2).

pub mod clf;
pub mod core;
pub mod crypto;
pub mod formats;
pub mod ip;
pub mod json;
pub mod jsonlines;
pub mod keyed;
pub mod maps;
pub mod nginx;
pub mod pystr;
pub mod shares;
pub mod subjects;
pub mod sums;
pub mod time;
pub mod url;
pub mod vocabulary;

#[cfg(feature = "python")]
mod binding;
#[cfg(feature = "python")]
mod pycore;
#[cfg(feature = "python")]
mod pyshares;
