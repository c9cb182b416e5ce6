//! The crate's error type.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = StateError> = std::result::Result<T, E>;

/// Everything that can go wrong in a state store.
///
/// Callers are expected to branch on [`StateError::Corrupt`] (throw the store
/// away and rebuild it from its changelog) and [`StateError::Locked`] (another
/// process owns the directory); everything else is an operational failure.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The data directory cannot be created, opened or written (missing
    /// permissions, path is a regular file, disk full, ...).
    #[error("state directory {} is unusable: {source}", path.display())]
    Unusable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Another process (or another handle in this process) holds the lock on
    /// the data directory.
    #[error("state directory {} is locked by another process: {detail}", path.display())]
    Locked { path: PathBuf, detail: String },

    /// The on-disk data cannot be read back: checksum failures, torn files,
    /// foreign or incompatible formats. The store must be deleted and rebuilt.
    #[error("state store at {} is corrupt: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },

    /// A store name that the backend cannot use.
    #[error("invalid state store name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },

    /// The named store was dropped while a handle to it was still in use.
    #[error("state store {name:?} has been dropped")]
    Dropped { name: String },

    /// An I/O error while reading or writing an open store.
    #[error("state store I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// Any other failure reported by the storage engine.
    #[error("state store backend error: {0}")]
    Backend(String),
}
