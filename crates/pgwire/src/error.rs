//! Errors of this layer. Statement failures travel as [`BackendError`] (they become an
//! ErrorResponse and the connection goes on); a [`WireError`] ends the connection.

use std::io;

use pgwire::error::PgWireError;

use crate::backend::BackendError;

/// Why a connection ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("protocol violation: {0}")]
    Protocol(String),
    #[error("client disconnected")]
    ClientGone,
    #[error("bad message: {0}")]
    Message(#[from] PgWireError),
}

/// The outcome of one step of statement processing: either the statement failed (report it and
/// carry on) or the connection is gone.
#[derive(Debug)]
pub(crate) enum Failure {
    Statement(BackendError),
    Connection(WireError),
}

impl Failure {
    /// Map the position of a statement error (no-op for connection failures).
    pub fn map_position(self, f: impl FnOnce(usize) -> usize) -> Self {
        match self {
            Failure::Statement(mut e) => {
                e.position = e.position.map(f);
                Failure::Statement(e)
            }
            other => other,
        }
    }

    /// Shift the position of a statement error by `offset` characters.
    pub fn shift(self, offset: usize) -> Self {
        self.map_position(|p| p + offset)
    }
}

impl From<BackendError> for Failure {
    fn from(e: BackendError) -> Self {
        Failure::Statement(e)
    }
}

impl From<WireError> for Failure {
    fn from(e: WireError) -> Self {
        Failure::Connection(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Connection(WireError::Io(e))
    }
}

/// SQLSTATE 57014, what PostgreSQL says when a CancelRequest stops a statement.
pub(crate) fn canceled() -> BackendError {
    BackendError::new("57014", "canceling statement due to user request")
}
