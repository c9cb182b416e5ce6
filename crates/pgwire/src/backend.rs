//! The contract between the wire protocol and the engine.
//!
//! The pgwire layer knows nothing of KSQL: it splits query strings into statements, handles the
//! statements that are about the *connection* (BEGIN/COMMIT/ROLLBACK, DECLARE/FETCH/CLOSE cursors,
//! `COPY (query) TO STDOUT`), and hands every other statement to a [`Session`].

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use futures::stream::BoxStream;

/// A statement's failure as the client will see it. Engines convert their typed errors into this
/// at the edge (the engine decides the SQLSTATE; this layer only transports it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    /// Five-character SQLSTATE, e.g. `42601`.
    pub sqlstate: String,
    /// Primary message, PostgreSQL style (lower case start, no trailing period).
    pub message: String,
    /// 1-based character position in the statement text the error is about, if known.
    pub position: Option<usize>,
    /// Optional DETAIL line.
    pub detail: Option<String>,
    /// Optional HINT line.
    pub hint: Option<String>,
}

impl BackendError {
    /// An error with just a code and a message.
    pub fn new(sqlstate: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            sqlstate: sqlstate.into(),
            message: message.into(),
            position: None,
            detail: None,
            hint: None,
        }
    }
}

/// A stream of result batches from a push query. It ends when the query ends (LIMIT reached, or
/// the source is gone); dropping it cancels the query and frees its consumer.
pub type BatchStream = BoxStream<'static, Result<RecordBatch, BackendError>>;

/// What one statement produced.
pub enum Outcome {
    /// A command with its completion tag (`CREATE STREAM`, `INSERT 0 1`, `SET`, ...), and
    /// optionally a notice to show the user (sent as a NoticeResponse before CommandComplete).
    Command { tag: String, notice: Option<String> },
    /// A finite result set (pull queries, SHOW, DESCRIBE, catalog queries). The tag is
    /// `SELECT n` unless `tag` says otherwise (e.g. `SHOW`).
    Rows {
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        tag: Option<String>,
    },
    /// A push query: rows arrive on `stream` as they are produced. The wire layer must write and
    /// *flush* every batch as soon as it arrives.
    Push {
        schema: SchemaRef,
        stream: BatchStream,
    },
}

/// How a statement will answer, without running it (extended protocol Parse/Describe).
#[derive(Debug, Clone, Default)]
pub struct Description {
    /// Types of the `$n` parameters, in order (best effort; `DataType::Utf8` when unknown).
    pub params: Vec<DataType>,
    /// The result columns, or `None` when the statement returns no rows.
    pub columns: Option<SchemaRef>,
}

/// One client connection's view of the engine. Session properties (`SET 'x'='y'`) live behind it.
#[async_trait]
pub trait Session: Send + Sync {
    /// Run one statement (no trailing semicolon needed; the text is exactly one statement).
    async fn execute(&self, sql: &str) -> Result<Outcome, BackendError>;
    /// Describe one statement that may contain `$n` placeholders, without running it.
    async fn describe(&self, sql: &str) -> Result<Description, BackendError>;
}

/// The engine as the wire layer sees it: a factory of sessions.
pub trait Backend: Send + Sync + 'static {
    /// Open a session for a new connection. `user` and `database` come from the startup packet.
    fn open_session(&self, user: &str, database: &str) -> Arc<dyn Session>;
}
