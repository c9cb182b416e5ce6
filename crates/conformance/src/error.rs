//! The runner's errors. Failures of a test are not errors: they are [`crate::Outcome`]s.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConformanceError {
    /// A file of the corpus or of the ratchet could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Text that should be JSON is not.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A test file does not have the corpus layout.
    #[error("{file}: {reason}")]
    Corpus { file: String, reason: String },
    /// The runner could not set up what a test needs (broker, engine, clients).
    #[error("test setup failed: {0}")]
    Setup(String),
}

impl ConformanceError {
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        ConformanceError::Io {
            path: path.into(),
            source,
        }
    }
}
