//! [`PgSession`]: one client connection's view of the catalog — its `SET` variables, its user,
//! and the statements it runs.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::Statement;
use sluice_pgwire::backend::{BackendError, Description, Outcome, Session};

use crate::catalog::Shared;
use crate::command::{parse_session_command, SessionCommand};
use crate::error::PgCatalogError;
use crate::functions;
use crate::rewrite;
use crate::settings::{canonical_name, Settings};

/// One connection's session: created by [`crate::PgCatalog::session`]. Cheap to keep around;
/// it shares the catalog's relations and holds its own variables.
pub struct PgSession {
    shared: Arc<Shared>,
    ctx: SessionContext,
    settings: Arc<RwLock<Settings>>,
    user: String,
}

impl PgSession {
    pub(crate) fn new(shared: Arc<Shared>, user: &str) -> Self {
        let ctx = SessionContext::new_with_state(shared.base.state());
        let settings = Arc::new(RwLock::new(Settings::for_user(user)));
        functions::register_session(&ctx, settings.clone(), user);
        PgSession {
            shared,
            ctx,
            settings,
            user: user.to_string(),
        }
    }

    /// The user this session was opened for.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The current value of a configuration parameter (`None` if unknown and never set).
    pub fn setting(&self, name: &str) -> Option<String> {
        self.settings.read().ok().and_then(|s| s.get(name))
    }

    /// Parameters PostgreSQL reports to clients (`application_name`, `TimeZone`, `DateStyle`,
    /// `client_encoding`, ...) that changed since the last call, oldest first. The wire layer may
    /// send each as a ParameterStatus message after the statement that changed it.
    pub fn take_reported_changes(&self) -> Vec<(String, String)> {
        self.settings
            .write()
            .map(|mut s| s.take_reported_changes())
            .unwrap_or_default()
    }

    /// Run one PostgreSQL statement: a query over `pg_catalog` / `information_schema` (any
    /// SELECT DataFusion can plan after the compatibility rewrites), or `SET` / `RESET` / `SHOW` /
    /// `DISCARD` / transaction control.
    ///
    /// * queries → [`Outcome::Rows`] with tag `None` (the wire layer writes `SELECT n`);
    /// * `SHOW x` → one row, one text column named after the parameter, tag `SHOW`;
    ///   `SHOW ALL` → columns `name`, `setting`, `description`;
    /// * `SET` → [`Outcome::Command`] `SET`; `RESET` → `RESET`; `DISCARD ALL` → `DISCARD ALL`;
    ///   `BEGIN`/`COMMIT`/`ROLLBACK` → their tags (nothing else happens);
    /// * empty text → [`Outcome::Command`] with an empty tag (send EmptyQueryResponse).
    ///
    /// The text must be one statement; `$n` placeholders need
    /// [`PgSession::execute_with_params`].
    pub async fn execute(&self, sql: &str) -> Result<Outcome, PgCatalogError> {
        self.execute_with_params(sql, &[]).await
    }

    /// [`PgSession::execute`] with values for `$1`, `$2`, ... Values are cast to the types
    /// [`PgSession::describe_statement`] reported when they differ.
    pub async fn execute_with_params(
        &self,
        sql: &str,
        params: &[ScalarValue],
    ) -> Result<Outcome, PgCatalogError> {
        tracing::debug!(sql, params = params.len(), "pg catalog statement");
        if let Some(command) = parse_session_command(sql)? {
            return self.run_command(command);
        }
        if sql.to_ascii_lowercase().contains("obj_description") {
            self.shared.refresh_oid_kinds(self).await?;
        }
        match self.run_query_opt(sql, params).await? {
            Some((schema, batches)) => Ok(Outcome::Rows {
                schema,
                batches,
                tag: None,
            }),
            None => Ok(Outcome::Command {
                tag: String::new(),
                notice: None,
            }),
        }
    }

    /// The result schema of one statement: `Some` for queries and `SHOW`, `None` for commands.
    pub async fn describe(&self, sql: &str) -> Result<Option<SchemaRef>, PgCatalogError> {
        Ok(self.describe_statement(sql).await?.columns)
    }

    /// Parameter types (`$1`, `$2`, ... in order; `Utf8` where DataFusion cannot infer one) and
    /// result schema, for the extended protocol's Describe.
    pub async fn describe_statement(&self, sql: &str) -> Result<Description, PgCatalogError> {
        if let Some(command) = parse_session_command(sql)? {
            let columns = match &command {
                SessionCommand::Show(name) => Some(show_schema(&canonical_name(name))),
                SessionCommand::ShowAll => Some(show_all_schema()),
                _ => None,
            };
            return Ok(Description {
                params: vec![],
                columns,
            });
        }
        let Some(plan) = self.plan(sql).await? else {
            return Ok(Description::default());
        };
        let params = parameter_types(&plan)?
            .into_iter()
            .map(|t| t.unwrap_or(DataType::Utf8))
            .collect();
        Ok(Description {
            params,
            columns: Some(Arc::new(plan.schema().as_arrow().clone())),
        })
    }

    /// Plan one query (after the compatibility and Sluice rewrites); `None` for empty text.
    async fn plan(&self, sql: &str) -> Result<Option<LogicalPlan>, PgCatalogError> {
        let mut statements = self.shared.parser.parse(&rewrite::pre_rewrite(sql))?;
        let statement = match statements.len() {
            0 => return Ok(None),
            1 => statements.remove(0),
            n => {
                return Err(PgCatalogError::Unsupported(format!(
                    "expected one statement, got {n}"
                )))
            }
        };
        if !matches!(statement, Statement::Query(_)) {
            let head = statement
                .to_string()
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            return Err(PgCatalogError::Unsupported(format!(
                "{head} is not supported on the PostgreSQL catalog: only queries and SET/RESET/SHOW"
            )));
        }
        let statement = rewrite::rewrite(statement);
        tracing::trace!(rewritten = %statement, "pg catalog query");
        let state = self.ctx.state();
        let plan = state
            .statement_to_plan(DFStatement::Statement(Box::new(statement)))
            .await?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)?;
        Ok(Some(plan))
    }

    async fn run_query_opt(
        &self,
        sql: &str,
        params: &[ScalarValue],
    ) -> Result<Option<(SchemaRef, Vec<RecordBatch>)>, PgCatalogError> {
        let Some(mut plan) = self.plan(sql).await? else {
            return Ok(None);
        };
        let types = parameter_types(&plan)?;
        if !params.is_empty() || !types.is_empty() {
            if params.len() != types.len() {
                return Err(PgCatalogError::MissingParameter(format!(
                    "statement has {} parameter(s), {} value(s) given",
                    types.len(),
                    params.len()
                )));
            }
            let values = params
                .iter()
                .zip(&types)
                .map(|(v, t)| match t {
                    Some(t) if &v.data_type() != t => v.cast_to(t),
                    _ => Ok(v.clone()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            plan = plan.with_param_values(values)?;
        }
        let df = self.ctx.execute_logical_plan(plan).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        Ok(Some((schema, batches)))
    }

    /// Run a query that must return rows (internal use).
    pub(crate) async fn run_query(
        &self,
        sql: &str,
        params: &[ScalarValue],
    ) -> Result<(SchemaRef, Vec<RecordBatch>), PgCatalogError> {
        self.run_query_opt(sql, params)
            .await?
            .ok_or_else(|| PgCatalogError::Internal("empty query".into()))
    }

    fn run_command(&self, command: SessionCommand) -> Result<Outcome, PgCatalogError> {
        let mut settings = self
            .settings
            .write()
            .map_err(|_| PgCatalogError::Internal("session settings poisoned".into()))?;
        let tag = match command {
            SessionCommand::Set(assignments) => {
                for (name, value) in assignments {
                    match value {
                        Some(v) => settings.set(&name, &v)?,
                        None => settings.reset(&name)?,
                    }
                }
                "SET".to_string()
            }
            SessionCommand::Reset(name) => {
                if settings.get(&name).is_none() {
                    return Err(PgCatalogError::UnknownParameter(name.to_ascii_lowercase()));
                }
                settings.reset(&name)?;
                "RESET".to_string()
            }
            SessionCommand::ResetAll => {
                settings.reset_all();
                "RESET".to_string()
            }
            SessionCommand::Show(name) => {
                let value = settings.show(&name)?;
                let schema = show_schema(&canonical_name(&name));
                let batch = RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(StringArray::from(vec![value]))],
                )?;
                return Ok(Outcome::Rows {
                    schema,
                    batches: vec![batch],
                    tag: Some("SHOW".into()),
                });
            }
            SessionCommand::ShowAll => {
                let rows = settings.all();
                let schema = show_all_schema();
                let column = |f: fn(&crate::settings::SettingRow) -> &str| {
                    Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
                        as datafusion::arrow::array::ArrayRef
                };
                let batch = RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        column(|r| r.name.as_str()),
                        column(|r| r.setting.as_str()),
                        column(|r| r.description.as_str()),
                    ],
                )?;
                return Ok(Outcome::Rows {
                    schema,
                    batches: vec![batch],
                    tag: Some("SHOW".into()),
                });
            }
            SessionCommand::Discard { all, tag } => {
                if all {
                    settings.reset_all();
                }
                tag
            }
            SessionCommand::Transaction(tag) => tag.to_string(),
        };
        Ok(Outcome::Command { tag, notice: None })
    }
}

fn show_schema(column: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(column, DataType::Utf8, false)]))
}

fn show_all_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("setting", DataType::Utf8, false),
        Field::new("description", DataType::Utf8, false),
    ]))
}

/// The plan's `$n` parameter types in positional order.
fn parameter_types(plan: &LogicalPlan) -> Result<Vec<Option<DataType>>, PgCatalogError> {
    let mut entries: Vec<(usize, Option<DataType>)> = plan
        .get_parameter_types()?
        .into_iter()
        .map(|(id, t)| {
            let n = id
                .trim_start_matches('$')
                .parse::<usize>()
                .map_err(|_| PgCatalogError::Unsupported(format!("named parameter {id}")))?;
            Ok((n, t))
        })
        .collect::<Result<_, PgCatalogError>>()?;
    entries.sort_by_key(|(n, _)| *n);
    // $1..$max, with gaps (unused numbers) as unknown.
    let max = entries.last().map(|(n, _)| *n).unwrap_or(0);
    let mut types = vec![None; max];
    for (n, t) in entries {
        if n >= 1 {
            types[n - 1] = t;
        }
    }
    Ok(types)
}

#[async_trait]
impl Session for PgSession {
    async fn execute(&self, sql: &str) -> Result<Outcome, BackendError> {
        PgSession::execute(self, sql).await.map_err(Into::into)
    }

    async fn describe(&self, sql: &str) -> Result<Description, BackendError> {
        self.describe_statement(sql).await.map_err(Into::into)
    }
}
