//! What a statement returns to its caller (pgwire, the conformance runner, tests).

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use futures::stream::BoxStream;

use crate::error::EngineError;

/// Rows of a push query as they are produced. Ends at LIMIT or when the query stops; dropping it
/// stops the query and frees its consumer.
pub type RowStream = BoxStream<'static, Result<RecordBatch, EngineError>>;

/// The result of one statement.
pub enum StatementResult {
    /// A command: its completion tag (`CREATE STREAM`, `INSERT 0 1`), an optional message for the
    /// user, and the id of the persistent query it started, if any.
    Command {
        tag: String,
        message: Option<String>,
        query_id: Option<String>,
    },
    /// A finite result.
    Rows {
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        tag: Option<String>,
    },
    /// A push query.
    Push {
        schema: SchemaRef,
        stream: RowStream,
    },
}

impl StatementResult {
    /// A command result with just a tag.
    pub fn command(tag: impl Into<String>) -> Self {
        StatementResult::Command {
            tag: tag.into(),
            message: None,
            query_id: None,
        }
    }
}

impl std::fmt::Debug for StatementResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatementResult::Command {
                tag,
                message,
                query_id,
            } => f
                .debug_struct("Command")
                .field("tag", tag)
                .field("message", message)
                .field("query_id", query_id)
                .finish(),
            StatementResult::Rows {
                schema, batches, ..
            } => f
                .debug_struct("Rows")
                .field("schema", schema)
                .field("rows", &batches.iter().map(|b| b.num_rows()).sum::<usize>())
                .finish(),
            StatementResult::Push { schema, .. } => {
                f.debug_struct("Push").field("schema", schema).finish()
            }
        }
    }
}
