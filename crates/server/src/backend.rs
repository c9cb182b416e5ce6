//! The engine as the pgwire layer sees it.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use sluice_pgcatalog::{PgCatalog, PgSession};
use sluice_pgwire::backend::{Backend, BackendError, Description, Outcome, Session};

use crate::engine::Engine;
use crate::result::StatementResult;
use crate::session::SessionProps;

/// Opens a [`SluiceSession`] per connection.
pub struct SluiceBackend {
    pub engine: Arc<Engine>,
    pub pg: Arc<PgCatalog>,
}

impl Backend for SluiceBackend {
    fn open_session(&self, user: &str, _database: &str) -> Arc<dyn Session> {
        Arc::new(SluiceSession {
            engine: self.engine.clone(),
            pg: self.pg.session(user),
            props: SessionProps::default(),
        })
    }
}

/// One connection: KSQL statements go to the engine, PostgreSQL ones (catalog queries, `SET x TO
/// y`, `SHOW x`) to this connection's session of the PostgreSQL catalog view.
pub struct SluiceSession {
    engine: Arc<Engine>,
    pg: PgSession,
    props: SessionProps,
}

fn to_outcome(r: StatementResult) -> Outcome {
    match r {
        StatementResult::Command { tag, message, .. } => Outcome::Command {
            tag,
            notice: message,
        },
        StatementResult::Rows {
            schema,
            batches,
            tag,
        } => Outcome::Rows {
            schema,
            batches,
            tag,
        },
        StatementResult::Push { schema, stream } => Outcome::Push {
            schema,
            stream: stream.map(|r| r.map_err(BackendError::from)).boxed(),
        },
    }
}

fn pg_error(e: sluice_pgcatalog::PgCatalogError) -> BackendError {
    BackendError::new(e.sqlstate(), e.to_string())
}

#[async_trait]
impl Session for SluiceSession {
    async fn execute(&self, sql: &str) -> Result<Outcome, BackendError> {
        let parsed = sluice_parser::parse(sql)
            .map_err(|e| BackendError::from(crate::EngineError::from(e)))?;
        let mut last = Outcome::Command {
            tag: String::new(),
            notice: None,
        };
        for p in parsed {
            last = match p.statement {
                sluice_parser::Statement::Postgres(_) => {
                    self.pg.execute(&p.text).await.map_err(pg_error)?
                }
                _ => to_outcome(self.engine.execute_statement(&self.props, p).await?),
            };
        }
        Ok(last)
    }

    async fn describe(&self, sql: &str) -> Result<Description, BackendError> {
        let parsed = sluice_parser::parse(sql)
            .map_err(|e| BackendError::from(crate::EngineError::from(e)))?;
        let Some(p) = parsed.into_iter().last() else {
            return Ok(Description::default());
        };
        let columns = match &p.statement {
            sluice_parser::Statement::Postgres(_) => {
                self.pg.describe(&p.text).await.map_err(pg_error)?
            }
            // A pull query over materialized tables is planned, not run: its placeholders'
            // types and its columns come from DataFusion's logical plan.
            sluice_parser::Statement::Query(q) if q.emit.is_none() => {
                if let Some(d) = self.engine.describe_pull(q).await? {
                    return Ok(Description {
                        params: d
                            .params
                            .into_iter()
                            .map(|t| t.unwrap_or(datafusion::arrow::datatypes::DataType::Utf8))
                            .collect(),
                        columns: Some(d.columns),
                    });
                }
                // Over a topic: the columns come from DataFusion over the records it reads
                // (any SQL), so it is run to learn them (a snapshot, so this costs one more).
                match self
                    .engine
                    .execute_statement(&self.props, p.clone())
                    .await?
                {
                    StatementResult::Rows { schema, .. } => Some(schema),
                    _ => None,
                }
            }
            sluice_parser::Statement::Query(q) => {
                let plan = self
                    .engine
                    .planner()
                    .plan_query(q, &self.engine.catalog())
                    .map_err(|e| BackendError::from(crate::EngineError::from(e)))?;
                Some(plan.output.clone())
            }
            sluice_parser::Statement::Show(_)
            | sluice_parser::Statement::Describe { .. }
            | sluice_parser::Statement::Explain(_) => {
                match self.engine.execute_statement(&self.props, p).await? {
                    StatementResult::Rows { schema, .. } => Some(schema),
                    _ => None,
                }
            }
            sluice_parser::Statement::Print { .. } => {
                Some(Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
                    datafusion::arrow::datatypes::Field::new(
                        "record",
                        datafusion::arrow::datatypes::DataType::Utf8,
                        false,
                    ),
                ])))
            }
            _ => None,
        };
        Ok(Description {
            params: Vec::new(),
            columns,
        })
    }
}
