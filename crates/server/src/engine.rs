//! The engine: runs KSQL statements against the catalog, Kafka and the running queries.

use sluice_registry::SchemaRegistry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::materialized::Materialized;
use datafusion::arrow::array::{ArrayRef, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use sluice_catalog::{
    types, Catalog, ColumnDef, ColumnRole, SourceDef, SourceKind, TimestampSpec, WindowInfo,
    ROWTIME,
};
use sluice_dataflow::repartition::{KeyPlacer, RepartitionEncoder};
use sluice_dataflow::sink::{SinkEncoder, WindowedKey};
use sluice_dataflow::Batch;
use sluice_formats::{Format, FormatKind, FormatOptions, NullableRepresentation, Part};
use sluice_kafka::{KafkaError, OffsetReset, SluiceConsumer, SluiceProducer, TopicAdmin};
use sluice_parser::sql::ast::{GroupByExpr, SetExpr};
use sluice_parser::{
    ColumnConstraint, CreateAsSelect, CreateSource, Emit, KsqlQuery, ParsedStatement, Properties,
    Statement,
};
use sluice_planner::sink::plan_sink;
use sluice_planner::{PlanPart, Planner, QueryPlan};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::command_log::{Command, CommandLog};
use crate::error::{EngineError, Result};
use crate::join_input::Upstream;
use crate::offline::OfflineQuery;
use crate::queries::{Input, JoinTopic, Output, QueryMetrics, QueryTask, StateSpec};
use crate::result::StatementResult;
use crate::session::{starts_earliest, SessionProps};

/// What the engine needs from its surroundings.
pub struct EngineDeps {
    pub service_id: String,
    pub kafka: sluice_kafka::KafkaConfig,
    pub admin: Arc<dyn TopicAdmin>,
    /// Where persistent queries keep their state (one store per query).
    pub state: sluice_state::SledDb,
    /// The schema registry of AVRO sources and sinks (`None`: those formats are refused).
    pub registry: Option<Arc<dyn SchemaRegistry>>,
}

/// A persistent query that is running.
pub struct RunningQuery {
    /// What it is (`running` is filled in when asked).
    pub info: QueryInfo,
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

/// What SHOW QUERIES and DESCRIBE EXTENDED know of a running persistent query.
#[derive(Debug, Clone)]
pub struct QueryInfo {
    pub id: String,
    pub statement: String,
    pub sink: String,
    pub sink_topic: String,
    pub source: String,
    pub metrics: Arc<QueryMetrics>,
    /// False once the query's task has ended (it failed: persistent queries run until
    /// terminated).
    pub running: bool,
}

impl RunningQuery {
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

/// The engine. One per server; shared by all sessions.
pub struct Engine {
    deps: EngineDeps,
    planner: Planner,
    catalog: RwLock<Arc<Catalog>>,
    /// Serialises statements that change the catalog, so each sees the previous one's result.
    ddl: tokio::sync::Mutex<()>,
    queries: Mutex<BTreeMap<String, RunningQuery>>,
    /// The current rows of tables written by persistent queries, by table name (pull queries).
    materialized: Mutex<BTreeMap<String, Arc<Materialized>>>,
    command_log: CommandLog,
    producer: SluiceProducer,
    /// Called with the new catalog after every change (the PostgreSQL catalog view listens).
    listeners: Mutex<Vec<Box<dyn Fn(&Catalog) + Send + Sync>>>,
}

impl Engine {
    /// Start an engine: make sure the command topic exists, replay it, restart queries.
    pub async fn start(deps: EngineDeps) -> Result<Arc<Self>> {
        let topic = format!("_confluent-ksql-{}_command_topic", deps.service_id);
        match deps.admin.create_topic(&topic, 1, 1, &[]).await {
            Ok(()) => {}
            Err(KafkaError::TopicAlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let producer = deps.kafka.producer()?;
        let command_log = CommandLog::new(topic, deps.kafka.producer()?);
        let engine = Arc::new(Self {
            deps,
            planner: Planner::new(),
            catalog: RwLock::new(Arc::new(Catalog::new())),
            ddl: tokio::sync::Mutex::new(()),
            queries: Mutex::new(BTreeMap::new()),
            materialized: Mutex::new(BTreeMap::new()),
            command_log,
            producer,
            listeners: Mutex::new(Vec::new()),
        });
        let log = engine.command_log.replay(&engine.deps.kafka).await?;
        info!(commands = log.len(), "replaying the command topic");
        for (seq, cmd) in log {
            if let Err(e) = engine.replay(seq, &cmd).await {
                warn!(seq, statement = %cmd.statement, error = %e, "command failed on replay; skipped");
            }
        }
        Ok(engine)
    }

    /// Register a callback run after every catalog change (and once now).
    pub fn on_catalog_change(&self, f: Box<dyn Fn(&Catalog) + Send + Sync>) {
        f(&self.catalog());
        self.listeners.lock().expect("listeners").push(f);
    }

    /// The current catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().expect("catalog lock").clone()
    }

    /// The planner (and its DataFusion session state).
    pub fn planner(&self) -> &Planner {
        &self.planner
    }

    /// The topic admin.
    pub fn admin(&self) -> &Arc<dyn TopicAdmin> {
        &self.deps.admin
    }

    /// The Kafka client settings.
    pub fn kafka(&self) -> &sluice_kafka::KafkaConfig {
        &self.deps.kafka
    }

    fn set_catalog(&self, catalog: Catalog) {
        let catalog = Arc::new(catalog);
        *self.catalog.write().expect("catalog lock") = catalog.clone();
        for f in self.listeners.lock().expect("listeners").iter() {
            f(&catalog);
        }
    }

    /// Running persistent queries: (id, statement, sink, sink topic, metrics).
    pub fn queries(&self) -> Vec<QueryInfo> {
        self.queries
            .lock()
            .expect("queries lock")
            .values()
            .map(|q| QueryInfo {
                running: !q.handle.is_finished(),
                ..q.info.clone()
            })
            .collect()
    }

    /// Records of a query's input not processed yet: its source topic's records past the
    /// query's positions, plus, for a split query, the repartition topic's records its second
    /// task has not processed. A join's other input is not counted. `None` when a topic's
    /// watermarks could not be read.
    pub async fn input_lag(&self, q: &QueryInfo) -> Option<u64> {
        let m = &q.metrics;
        let def = self.catalog().source(&q.source).cloned()?;
        let watermarks = sluice_kafka::topic_watermarks(self.kafka(), &def.topic)
            .await
            .ok()?;
        let mut lag = m.lag(&watermarks);
        for topic in m.internal.keys() {
            let internal = sluice_kafka::topic_watermarks(self.kafka(), topic)
                .await
                .ok()?;
            lag += m.internal_lag(topic, &internal);
        }
        Some(lag)
    }

    /// The state store of a persistent query, if it has one.
    pub fn query_state(&self, query_id: &str) -> Option<sluice_state::SledStore> {
        self.deps
            .state
            .store_names()
            .iter()
            .any(|n| n == query_id)
            .then(|| self.query_store(query_id).ok())
            .flatten()
    }

    /// Run every statement in `sql`, in order; stops at the first error.
    pub async fn execute(&self, props: &SessionProps, sql: &str) -> Result<Vec<StatementResult>> {
        let statements = sluice_parser::parse(sql)?;
        let mut out = Vec::with_capacity(statements.len());
        for s in statements {
            out.push(self.execute_statement(props, s).await?);
        }
        Ok(out)
    }

    /// Run one parsed statement.
    pub async fn execute_statement(
        &self,
        props: &SessionProps,
        parsed: ParsedStatement,
    ) -> Result<StatementResult> {
        let text = parsed.text.clone();
        match parsed.statement {
            Statement::CreateSource(cs) => {
                let _g = self.ddl.lock().await;
                self.create_source(&cs, &text, &props.snapshot(), None)
                    .await
            }
            Statement::CreateAsSelect(c) => {
                let _g = self.ddl.lock().await;
                self.create_as_select(&c, &text, &props.snapshot(), None)
                    .await
            }
            Statement::InsertInto { target, query, .. } => {
                let _g = self.ddl.lock().await;
                self.insert_into(&target.value, &query, &text, &props.snapshot(), None)
                    .await
            }
            Statement::InsertValues {
                target,
                columns,
                values,
            } => self.insert_values(&target.value, columns, &values).await,
            Statement::Query(q) => self.push_query(&q, &props.snapshot()).await,
            Statement::Drop {
                kind,
                if_exists,
                name,
                delete_topic,
            } => {
                let _g = self.ddl.lock().await;
                self.drop_source(
                    kind,
                    if_exists,
                    &name.value,
                    delete_topic,
                    &text,
                    &props.snapshot(),
                    false,
                )
                .await
            }
            Statement::Terminate(target) => {
                let _g = self.ddl.lock().await;
                self.terminate(target, &text, &props.snapshot(), false)
                    .await
            }
            Statement::SetProperty { name, value } => {
                let check = BTreeMap::from([(name.clone(), value.clone())]);
                crate::session::guarantee(&check)?;
                props.set(&name, &value);
                Ok(StatementResult::command("SET"))
            }
            Statement::UnsetProperty { name } => {
                props.unset(&name);
                Ok(StatementResult::command("UNSET"))
            }
            Statement::Show(what) => crate::show::show(self, props, what).await,
            Statement::Describe { target, extended } => {
                crate::show::describe(self, target, extended).await
            }
            Statement::Print {
                topic,
                from_beginning,
                interval,
                limit,
            } => crate::print::print(self, &topic, from_beginning, interval, limit).await,
            Statement::Explain(target) => crate::show::explain(self, target).await,
            Statement::CreateType {
                name,
                ty,
                if_not_exists,
            } => {
                let _g = self.ddl.lock().await;
                self.create_type(
                    &name.value,
                    &ty,
                    if_not_exists,
                    &text,
                    &props.snapshot(),
                    None,
                )
                .await
            }
            Statement::DropType { name, if_exists } => {
                let _g = self.ddl.lock().await;
                self.drop_type(&name.value, if_exists, &text, &props.snapshot(), None)
                    .await
            }
            Statement::AlterSource { .. } => Err(EngineError::Unsupported(format!(
                "this statement is not supported yet: {text}"
            ))),
            Statement::Postgres(_) => Err(EngineError::Unsupported(
                "PostgreSQL statements are answered by the pgwire session".into(),
            )),
        }
    }

    /// Apply one command of the command topic again.
    async fn replay(&self, seq: i64, cmd: &Command) -> Result<()> {
        let parsed = sluice_parser::parse(&cmd.statement)?;
        let _g = self.ddl.lock().await;
        for p in parsed {
            let text = p.text.clone();
            match p.statement {
                Statement::CreateSource(cs) => {
                    self.create_source(&cs, &text, &cmd.properties, Some(seq))
                        .await?;
                }
                Statement::CreateAsSelect(c) => {
                    self.create_as_select(&c, &text, &cmd.properties, Some(seq))
                        .await?;
                }
                Statement::InsertInto { target, query, .. } => {
                    self.insert_into(&target.value, &query, &text, &cmd.properties, Some(seq))
                        .await?;
                }
                Statement::Drop {
                    kind,
                    if_exists,
                    name,
                    ..
                } => {
                    // Topics were deleted the first time round, if asked.
                    self.drop_source(
                        kind,
                        if_exists,
                        &name.value,
                        false,
                        &text,
                        &cmd.properties,
                        true,
                    )
                    .await?;
                }
                Statement::Terminate(t) => {
                    self.terminate(t, &text, &cmd.properties, true).await?;
                }
                Statement::CreateType {
                    name,
                    ty,
                    if_not_exists,
                } => {
                    self.create_type(
                        &name.value,
                        &ty,
                        if_not_exists,
                        &text,
                        &cmd.properties,
                        Some(seq),
                    )
                    .await?;
                }
                Statement::DropType { name, if_exists } => {
                    self.drop_type(&name.value, if_exists, &text, &cmd.properties, Some(seq))
                        .await?;
                }
                other => warn!(?other, "unexpected statement in command topic"),
            }
        }
        Ok(())
    }

    /// Record a command (unless replaying); returns its sequence number.
    async fn log(
        &self,
        text: &str,
        props: &BTreeMap<String, String>,
        replay_seq: Option<i64>,
    ) -> Result<i64> {
        match replay_seq {
            Some(seq) => Ok(seq),
            None => {
                self.command_log
                    .append(&Command {
                        statement: text.to_string(),
                        properties: props.clone(),
                    })
                    .await
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // CREATE TYPE / DROP TYPE

    /// `CREATE TYPE name AS type`: a name for a type, usable wherever a column type is; its
    /// definition may use types registered before.
    async fn create_type(
        &self,
        name: &str,
        ty: &sluice_parser::SqlType,
        if_not_exists: bool,
        text: &str,
        props: &BTreeMap<String, String>,
        replay: Option<i64>,
    ) -> Result<StatementResult> {
        let mut catalog = (*self.catalog()).clone();
        let resolved = catalog.resolve_type(ty)?;
        if let Some((_, existing)) = catalog.types().find(|(n, _)| n.as_str() == name) {
            if !if_not_exists {
                return Err(EngineError::Duplicate(format!(
                    "Cannot register custom type '{name}' since it is already registered with \
                     type: {existing}"
                )));
            }
            return Ok(StatementResult::command("CREATE TYPE"));
        }
        catalog.add_type(name, resolved.clone(), if_not_exists)?;
        self.log(text, props, replay).await?;
        self.set_catalog(catalog);
        Ok(StatementResult::Command {
            tag: "CREATE TYPE".into(),
            message: Some(format!(
                "Registered custom type with name '{name}' and SQL type {resolved}"
            )),
            query_id: None,
        })
    }

    /// `DROP TYPE [IF EXISTS] name`. Columns declared with the type keep its definition.
    async fn drop_type(
        &self,
        name: &str,
        if_exists: bool,
        text: &str,
        props: &BTreeMap<String, String>,
        replay: Option<i64>,
    ) -> Result<StatementResult> {
        let mut catalog = (*self.catalog()).clone();
        if catalog.drop_type(name).is_none() {
            if if_exists {
                return Ok(StatementResult::command("DROP TYPE"));
            }
            return Err(EngineError::UnknownObject(format!(
                "Type {name} does not exist."
            )));
        }
        self.log(text, props, replay).await?;
        self.set_catalog(catalog);
        Ok(StatementResult::Command {
            tag: "DROP TYPE".into(),
            message: Some(format!("Dropped type '{name}'")),
            query_id: None,
        })
    }

    // ---------------------------------------------------------------------------------------
    // CREATE STREAM / TABLE

    async fn create_source(
        &self,
        cs: &CreateSource,
        text: &str,
        props: &BTreeMap<String, String>,
        replay: Option<i64>,
    ) -> Result<StatementResult> {
        let mut catalog = (*self.catalog()).clone();
        let name = cs.name.value.clone();
        let kind = match cs.kind {
            sluice_parser::SourceKind::Stream => SourceKind::Stream,
            sluice_parser::SourceKind::Table => SourceKind::Table,
        };
        let tag = format!("CREATE {}", kind.as_str());
        if cs.or_replace && (cs.source || catalog.source(&name).is_some_and(|e| e.is_source)) {
            return Err(EngineError::Invalid(format!(
                "Cannot add {} '{name}': CREATE OR REPLACE is not supported on source {}s.",
                kind.lower(),
                kind.lower()
            )));
        }
        if let Some(existing) = catalog.source(&name) {
            if cs.if_not_exists {
                return Ok(StatementResult::Command {
                    tag,
                    message: Some(format!(
                        "Cannot add {} {name}: A {} with the same name already exists.",
                        kind.lower(),
                        existing.kind.lower()
                    )),
                    query_id: None,
                });
            }
        }
        let p = &cs.properties;
        check_properties(p, CREATE_SOURCE_PROPERTIES)?;
        let mut columns = Vec::new();
        for c in &cs.columns {
            let role = match (&c.constraint, kind) {
                (ColumnConstraint::None, _) => ColumnRole::Value,
                (ColumnConstraint::Key, SourceKind::Stream) => ColumnRole::Key,
                (ColumnConstraint::PrimaryKey, SourceKind::Table) => ColumnRole::Key,
                (ColumnConstraint::Key, SourceKind::Table) => {
                    return Err(EngineError::Invalid(format!(
                        "Column `{}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.",
                        c.name.value
                    )))
                }
                (ColumnConstraint::PrimaryKey, SourceKind::Stream) => {
                    return Err(EngineError::Invalid(format!(
                        "Column `{}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.",
                        c.name.value
                    )))
                }
                (ColumnConstraint::Headers, _) => ColumnRole::Header(None),
                (ColumnConstraint::Header(k), _) => ColumnRole::Header(Some(k.clone())),
            };
            if let ColumnRole::Header(key) = &role {
                check_header_column(&c.name.value, key.as_deref(), &catalog.resolve_type(&c.ty)?)?;
            }
            if columns.iter().any(|x: &ColumnDef| x.name == c.name.value) {
                return Err(EngineError::Invalid(format!(
                    "Duplicate column names: {}",
                    c.name.value
                )));
            }
            if is_reserved(&c.name.value) {
                return Err(EngineError::Invalid(format!(
                    "'{}' is a reserved column name. You cannot use it as a name for a column.",
                    c.name.value
                )));
            }
            columns.push(ColumnDef {
                name: c.name.value.clone(),
                ty: catalog.resolve_type(&c.ty)?,
                role,
            });
        }
        let topic = p
            .get_str("KAFKA_TOPIC")
            .map(str::to_string)
            .unwrap_or_else(|| name.clone());
        let (key_format, value_format) = formats(p, None)?;
        // Formats not in the WITH clause come from the session's
        // `ksql.persistence.default.format.key` / `.value` (KAFKA for keys by default).
        let default_format = |prop: &str| session_default_format(props, prop);
        let value_format = match value_format {
            Some(f) => f,
            None => default_format("ksql.persistence.default.format.value")?.ok_or_else(|| {
                EngineError::Invalid(
                    "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. \
                     Either provide one or set a default via the \
                     'ksql.persistence.default.format.value' config."
                        .into(),
                )
            })?,
        };
        let key_format = match key_format {
            Some(f) => f,
            None => {
                default_format("ksql.persistence.default.format.key")?.unwrap_or_else(kafka_format)
            }
        };
        for (format, part) in [(&key_format, Part::Key), (&value_format, Part::Value)] {
            format.validate_options(part).map_err(|e| match e {
                sluice_formats::FormatError::InvalidOption { .. } => {
                    EngineError::Invalid(format!("Failed to prepare statement: {e}"))
                }
                e => EngineError::Invalid(e.to_string()),
            })?;
        }
        // Schema inference: a part in a schema-registry format without columns takes them from
        // the registered schema.
        for (format, part, role) in [
            (&key_format, Part::Key, ColumnRole::Key),
            (&value_format, Part::Value, ColumnRole::Value),
        ] {
            if !format.kind.uses_schema_registry() || columns.iter().any(|c| c.role == role) {
                continue;
            }
            match self.registered_schema(&topic, format, part)? {
                Some(schema) => {
                    let text = &schema.text;
                    let inferred = match format.kind {
                        FormatKind::Protobuf => sluice_formats::protobuf::schema::referenced_files(
                            self.registry()?.as_ref(),
                            &schema,
                        )
                        .and_then(|refs| {
                            sluice_formats::protobuf::schema::infer_columns(
                                text,
                                &refs,
                                format.options.full_schema_name.as_deref(),
                                format.options.schema_id.is_some(),
                            )
                        }),
                        FormatKind::JsonSr => sluice_formats::json_schema::infer_columns(
                            text,
                            part,
                            format.options.wrap_single_value == Some(false),
                        ),
                        _ => sluice_formats::avro::schema::infer_columns(
                            text,
                            part,
                            format.options.wrap_single_value == Some(false),
                        ),
                    }
                    .map_err(EngineError::Invalid)?;
                    for f in inferred {
                        columns.push(ColumnDef {
                            name: f.name().clone(),
                            ty: types::from_arrow(f.data_type())?,
                            role: role.clone(),
                        });
                    }
                }
                None if part == Part::Value => {
                    return Err(EngineError::Invalid(format!(
                        "Schema for message values on topic '{topic}' does not exist in the Schema Registry.Subject: {topic}-value\n\nPossible causes include:\n- The topic itself does not exist\n\t-> Use SHOW TOPICS; to check\n- Messages on the topic are not serialized using a format Schema Registry supports\n\t-> Use PRINT '{topic}' FROM BEGINNING; to verify\n- Messages on the topic have not been serialized using a Confluent Schema Registry supported serializer\n\t-> See https://docs.confluent.io/current/schema-registry/docs/serializer-formatter.html\n- The schema is registered on a different instance of the Schema Registry\n\t-> Use the REST API to check the schema for the subject: {topic}-value"
                    )));
                }
                None => {}
            }
        }
        if columns.is_empty() {
            return Err(EngineError::Invalid(
                "The statement does not define any columns.".into(),
            ));
        }
        if kind == SourceKind::Table && !columns.iter().any(|c| c.role == ColumnRole::Key) {
            return Err(EngineError::Invalid(
                "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.".into(),
            ));
        }
        // Key columns first: ksqlDB's logical order.
        columns.sort_by_key(|c| c.role != ColumnRole::Key);
        let timestamp = timestamp_spec(p, &columns)?;
        let window = window_info(p)?;
        let mut def = SourceDef {
            name: name.clone(),
            kind,
            columns,
            topic: topic.clone(),
            key_format,
            value_format,
            timestamp,
            window,
            is_source: cs.source,
            partitions: 0,
            statement: text.to_string(),
            written_by: None,
        };
        def.key_format
            .validate(&def.key_fields()?, Part::Key)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        def.value_format
            .validate(&def.value_fields()?, Part::Value)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        if let Some(existing) = catalog.source(&name) {
            if !cs.or_replace {
                return Err(EngineError::Duplicate(format!(
                    "Cannot add {} '{name}': A {} with the same name already exists",
                    kind.lower(),
                    existing.kind.lower()
                )));
            }
        }
        def.partitions = self
            .ensure_topic(
                &topic,
                p.get_int("PARTITIONS"),
                p.get_int("REPLICAS"),
                &name,
                kind,
                replay.is_some(),
            )
            .await?;
        // ksqlDB registers the schema of declared columns when the subject has none, so that
        // producers can write with it.
        if replay.is_none() {
            self.writer_formats(&def, true)?;
        }
        catalog.add_source(def, cs.or_replace)?;
        self.log(text, props, replay).await?;
        self.set_catalog(catalog);
        Ok(StatementResult::Command {
            tag,
            message: Some(format!("{} created", title(kind))),
            query_id: None,
        })
    }

    /// The registered schema of `part` of records on `topic`: the one `format` pins by id, else
    /// the subject's latest version; `None` when the subject has none.
    fn registered_schema(
        &self,
        topic: &str,
        format: &Format,
        part: Part,
    ) -> Result<Option<sluice_registry::Schema>> {
        let registry = self.registry()?;
        if let Some(id) = format.options.schema_id {
            return registry
                .by_id(id)
                .map(|r| Some(r.schema))
                .map_err(|e| EngineError::Invalid(e.to_string()));
        }
        let subject = sluice_registry::subject_name(topic, part == Part::Key);
        Ok(registry
            .latest(&subject)
            .map_err(|e| EngineError::Kafka(e.to_string()))?
            .map(|r| r.schema))
    }

    fn registry(&self) -> Result<&Arc<dyn SchemaRegistry>> {
        self.deps.registry.as_ref().ok_or_else(|| {
            EngineError::Invalid(
                "Schema-registry formats need a schema registry: start the server with --schema-registry URL or without it for Sluice's own".into(),
            )
        })
    }

    /// The formats records of `def` are written with: schema-registry formats get the id of
    /// their writer schema — the one pinned by `KEY_SCHEMA_ID` / `VALUE_SCHEMA_ID`, else the
    /// subject's latest when it fits the columns, else the schema ksqlDB would generate, which
    /// is registered.
    ///
    /// `declaring`: a CREATE of a source over a topic, which registers its columns' schema only
    /// when the subject has none (an existing schema, say the one columns were inferred from,
    /// stays the latest).
    fn writer_formats(&self, def: &SourceDef, declaring: bool) -> Result<(Format, Format)> {
        let mut out = Vec::with_capacity(2);
        for (format, part, fields) in [
            (&def.key_format, Part::Key, def.key_fields()?),
            (&def.value_format, Part::Value, def.value_fields()?),
        ] {
            let mut f = format.clone();
            if f.kind.uses_schema_registry() && !fields.is_empty() && f.options.schema_id.is_none()
            {
                let registry = self.registry()?;
                let subject = sluice_registry::subject_name(&def.topic, part == Part::Key);
                let wrapped = part == Part::Value && f.options.wrap_single_value.unwrap_or(true)
                    || fields.len() > 1;
                let generated = match f.kind {
                    FormatKind::Protobuf => sluice_registry::Schema::new(
                        sluice_registry::SchemaType::Protobuf,
                        sluice_formats::protobuf::schema::schema_for_columns(
                            &fields,
                            part,
                            f.options.full_schema_name.as_deref(),
                            f.options.nullable_representation.unwrap_or_default(),
                        )
                        .map_err(EngineError::Invalid)?,
                    ),
                    FormatKind::JsonSr => sluice_registry::Schema::new(
                        sluice_registry::SchemaType::Json,
                        sluice_formats::json_schema::schema_for_columns(&fields, wrapped),
                    ),
                    _ => sluice_registry::Schema::avro(
                        sluice_formats::avro::schema::schema_for_columns(
                            &fields,
                            wrapped,
                            part,
                            f.options.full_schema_name.as_deref(),
                        ),
                    ),
                };
                let latest = registry
                    .latest(&subject)
                    .map_err(|e| EngineError::Kafka(e.to_string()))?;
                let id = match latest {
                    Some(r) if declaring => r.id,
                    // An existing schema is kept when records of these columns can be written
                    // with it.
                    // PROTOBUF keeps it only when it is exactly the columns (names as
                    // written): ksqlDB registers its own schema for a sink otherwise.
                    Some(r)
                        if (match f.kind {
                            FormatKind::Protobuf => {
                                sluice_formats::protobuf::schema::referenced_files(
                                    registry.as_ref(),
                                    &r.schema,
                                )
                                .and_then(|refs| {
                                    sluice_formats::protobuf::schema::infer_columns(
                                        &r.schema.text,
                                        &refs,
                                        f.options.full_schema_name.as_deref(),
                                        true,
                                    )
                                })
                            }
                            // JSON_SR writes any columns; the registered schema must still
                            // describe them, so it is kept only when it is exactly them.
                            FormatKind::JsonSr => sluice_formats::json_schema::infer_columns(
                                &r.schema.text,
                                part,
                                !wrapped,
                            )
                            .map_err(|e| e.to_string()),
                            _ => Ok(fields.iter().map(|f| f.as_ref().clone()).collect()),
                        })
                        .is_ok_and(|cols| {
                            cols.len() == fields.len()
                                && cols.iter().zip(fields.iter()).all(|(c, f)| {
                                    c.name() == f.name() && c.data_type() == f.data_type()
                                })
                        }) && {
                            let mut probe = f.clone();
                            probe.options.schema_id = Some(r.id);
                            sluice_formats::Encoder::with_registry(
                                &probe,
                                fields.clone(),
                                part,
                                Some(registry.clone()),
                            )
                            .is_ok()
                        } =>
                    {
                        r.id
                    }
                    _ => registry
                        .register(&subject, &generated)
                        .map_err(|e| EngineError::Kafka(e.to_string()))?,
                };
                f.options.schema_id = Some(id);
            }
            out.push(f);
        }
        let value = out.pop().expect("two formats");
        let key = out.pop().expect("two formats");
        Ok((key, value))
    }

    /// Make sure `topic` exists; create it when `partitions` is given. Returns its partition count.
    async fn ensure_topic(
        &self,
        topic: &str,
        partitions: Option<i64>,
        replicas: Option<i64>,
        name: &str,
        kind: SourceKind,
        replaying: bool,
    ) -> Result<i32> {
        let existing = self.deps.admin.describe_topic(topic).await?;
        match (existing, partitions) {
            (Some(info), Some(p)) if info.partitions as i64 != p && !replaying => {
                Err(EngineError::Invalid(format!(
                    "A Kafka topic with the name '{topic}' already exists, with different partition/replica configuration than required. KSQL expects {p} partitions (topic has {}), {} replication factor (topic has {}).",
                    info.partitions,
                    replicas.unwrap_or(1),
                    info.replicas
                )))
            }
            (Some(info), _) => Ok(info.partitions),
            (None, Some(p)) => {
                if p < 1 {
                    return Err(EngineError::Invalid(format!(
                        "Invalid number of partitions: {p}"
                    )));
                }
                match self
                    .deps
                    .admin
                    .create_topic(topic, p as i32, replicas.unwrap_or(1) as i32, &[])
                    .await
                {
                    Ok(()) => {}
                    Err(KafkaError::TopicAlreadyExists { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(p as i32)
            }
            (None, None) => Err(EngineError::Invalid(format!(
                "Topic '{topic}' does not exist. If you want to create a new topic for the {} please re-run the statement providing the required 'PARTITIONS' configuration in the WITH clause (and optionally 'REPLICAS'). For example: CREATE {} {name} WITH (KAFKA_TOPIC='{topic}', PARTITIONS=2, ...);",
                kind.lower(),
                kind.as_str()
            ))),
        }
    }

    // ---------------------------------------------------------------------------------------
    // CREATE ... AS SELECT, INSERT INTO ... SELECT

    async fn create_as_select(
        &self,
        c: &CreateAsSelect,
        text: &str,
        props: &BTreeMap<String, String>,
        replay: Option<i64>,
    ) -> Result<StatementResult> {
        let mut catalog = (*self.catalog()).clone();
        let name = c.name.value.clone();
        let kind = match c.kind {
            sluice_parser::SourceKind::Stream => SourceKind::Stream,
            sluice_parser::SourceKind::Table => SourceKind::Table,
        };
        if c.query.limit.is_some() {
            return Err(EngineError::Invalid(format!(
                "CREATE {} AS SELECT statements don't support LIMIT clause.",
                kind.as_str()
            )));
        }
        if let Some(existing) = catalog.source(&name) {
            if c.if_not_exists {
                return Ok(StatementResult::command(format!(
                    "CREATE {}",
                    kind.as_str()
                )));
            }
            if !c.or_replace {
                return Err(EngineError::Duplicate(format!(
                    "Cannot add {} '{name}': A {} with the same name already exists",
                    kind.lower(),
                    existing.kind.lower()
                )));
            }
        }
        let p = &c.properties;
        check_properties(p, CREATE_AS_PROPERTIES)?;
        let plan = self
            .planner
            .plan_query(&c.query, &catalog)
            .map_err(|e| e.in_statement(&format!("CREATE {} AS SELECT", kind.as_str())))?;
        check_copartitioned(&self.deps.admin, &plan).await?;
        if plan.source.kind == SourceKind::Table && plan.source.window.is_some() {
            return Err(EngineError::Invalid(
                "KSQL does not support persistent queries on windowed tables.".into(),
            ));
        }
        match (kind, plan.is_table()) {
            (SourceKind::Stream, true) => {
                return Err(EngineError::Invalid(
                    "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.".into(),
                ))
            }
            (SourceKind::Table, false) => {
                return Err(EngineError::Invalid(
                    "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead.".into(),
                ))
            }
            _ => {}
        }
        if plan.source.name == name {
            return Err(EngineError::Invalid(format!(
                "Cannot insert into {name} since it is also a source of the query"
            )));
        }
        let layout = plan_sink(&plan, &name)?;
        let topic = p
            .get_str("KAFKA_TOPIC")
            .map(str::to_string)
            .unwrap_or_else(|| name.clone());
        let (key_format, value_format) = formats(p, Some(&plan.source))?;
        let default_key = session_default_format(props, "ksql.persistence.default.format.key")?;
        if layout.key_fields.is_empty() && key_format.is_some() && p.get_str("KEY_FORMAT").is_some()
        {
            return Err(EngineError::Invalid(
                "Key format specified for stream without key columns.".into(),
            ));
        }
        let key_format = key_format.unwrap_or_else(|| {
            if layout.key_fields.is_empty() && plan.partitioning.is_some() {
                // PARTITION BY NULL: no key at all.
                Format::new(sluice_formats::FormatKind::None)
            } else if !layout.key_fields.is_empty()
                && plan.source.key_format.kind == sluice_formats::FormatKind::None
            {
                // A keyless source's result that gets a key (a join's), as ksqlDB: the key
                // format of the first joined source that has one, else the session's
                // `ksql.persistence.default.format.key` (KAFKA by default).
                let joined = plan
                    .joins
                    .iter()
                    .map(|j| &j.right.key_format)
                    .find(|f| f.kind != sluice_formats::FormatKind::None);
                match (joined, default_key) {
                    (Some(f), _) => inherited(f),
                    (None, Some(f)) => f,
                    (None, None) => Format::new(sluice_formats::FormatKind::Kafka),
                }
            } else {
                let mut f = inherited(&plan.source.key_format);
                if let Some(d) = p.get_str("KEY_DELIMITER") {
                    f.options.delimiter = Some(d.to_string());
                }
                f
            }
        });
        let value_format = value_format.unwrap_or_else(|| {
            // The sink takes its source's format, but not its serde features: wrapping comes
            // from the sink's own WITH clause.
            let mut f = inherited(&plan.source.value_format);
            f.options.wrap_single_value = p.get_bool("WRAP_SINGLE_VALUE");
            if let Some(d) = p.get_str("VALUE_DELIMITER") {
                f.options.delimiter = Some(d.to_string());
            }
            f
        });
        let mut columns = Vec::new();
        for (fields, role) in [
            (&layout.key_fields, ColumnRole::Key),
            (&layout.value_fields, ColumnRole::Value),
        ] {
            for f in fields.iter() {
                columns.push(ColumnDef {
                    name: f.name().clone(),
                    ty: types::from_arrow(f.data_type())?,
                    role: role.clone(),
                });
            }
        }
        let sink_timestamp = timestamp_spec(p, &columns)?;
        let mut def = SourceDef {
            name: name.clone(),
            kind,
            columns,
            topic: topic.clone(),
            key_format,
            value_format,
            // WITH (TIMESTAMP=...) on CSAS/CTAS: the output records' timestamps come from
            // that column.
            timestamp: sink_timestamp,
            window: match plan.grouping.as_ref() {
                Some(g) => g.window.as_ref().map(window_info_of),
                None => plan.source.window.clone(),
            },
            is_source: false,
            partitions: 0,
            statement: text.to_string(),
            written_by: None,
        };
        def.key_format
            .validate(&layout.key_fields, Part::Key)
            .map_err(|e| format_error("Key", &def.key_format, &layout.key_fields, "KEY", e))?;
        def.value_format
            .validate(&layout.value_fields, Part::Value)
            .map_err(|e| format_error("Value", &def.value_format, &layout.value_fields, "", e))?;
        let partitions = p
            .get_int("PARTITIONS")
            .unwrap_or(plan.source.partitions.max(1) as i64);
        def.partitions = self
            .ensure_topic(
                &topic,
                Some(partitions),
                p.get_int("REPLICAS"),
                &name,
                kind,
                true,
            )
            .await?;
        let seq = self.log(text, props, replay).await?;
        // ksqlDB's prefixes: CSAS_ for streams, CTAS_ for tables.
        let prefix = if kind == SourceKind::Table {
            "CTAS"
        } else {
            "CSAS"
        };
        let query_id = format!("{prefix}_{name}_{seq}");
        def.written_by = Some(query_id.clone());
        let sink_def = def.clone();
        if kind == SourceKind::Table {
            let m = Arc::new(Materialized::new(&sink_def, self.query_store(&query_id)?)?);
            self.materialized
                .lock()
                .expect("materialized lock")
                .insert(name.clone(), m);
        }
        catalog.add_source(def, c.or_replace)?;
        self.start_persistent(&query_id, text, plan, &sink_def, props)?;
        self.set_catalog(catalog);
        Ok(StatementResult::Command {
            tag: format!("CREATE {}", kind.as_str()),
            message: Some(format!("Created query with ID {query_id}")),
            query_id: Some(query_id),
        })
    }

    async fn insert_into(
        &self,
        target: &str,
        query: &KsqlQuery,
        text: &str,
        props: &BTreeMap<String, String>,
        replay: Option<i64>,
    ) -> Result<StatementResult> {
        let catalog = self.catalog();
        let sink = catalog.require(target)?.clone();
        if sink.kind == SourceKind::Table {
            return Err(EngineError::Invalid(format!(
                "INSERT INTO can only be used to insert into a stream. {target} is a table."
            )));
        }
        let plan = self.planner.plan_query(query, &catalog)?;
        check_copartitioned(&self.deps.admin, &plan).await?;
        if plan.source.name == sink.name {
            return Err(EngineError::Invalid(format!(
                "Cannot insert into {target} since it is also a source of the query"
            )));
        }
        let layout = plan_sink(&plan, target)?;
        let want: Vec<(String, DataType)> = sink
            .key_fields()?
            .iter()
            .chain(sink.value_fields()?.iter())
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        let got: Vec<(String, DataType)> = layout
            .key_fields
            .iter()
            .chain(layout.value_fields.iter())
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        if want != got {
            return Err(EngineError::Invalid(format!(
                "Incompatible schema between results and sink.\nResult schema is {}\nSink schema is {}",
                schema_text(&layout.key_fields, &layout.value_fields),
                schema_text(&sink.key_fields()?, &sink.value_fields()?)
            )));
        }
        let seq = self.log(text, props, replay).await?;
        let query_id = format!("INSERTQUERY_{seq}");
        self.start_persistent(&query_id, text, plan, &sink, props)?;
        Ok(StatementResult::Command {
            tag: "INSERT 0 0".into(),
            message: Some(format!("Created query with ID {query_id}")),
            query_id: Some(query_id),
        })
    }

    /// The state store of a persistent query.
    fn query_store(&self, query_id: &str) -> Result<sluice_state::SledStore> {
        self.deps
            .state
            .store(query_id)
            .map_err(|e| EngineError::Internal(format!("state store for {query_id}: {e}")))
    }

    /// The changelog topic behind a persistent query's state (ksqlDB's internal-topic prefix).
    fn changelog_topic(&self, query_id: &str) -> String {
        format!(
            "_confluent-ksql-{}query_{query_id}-changelog",
            self.deps.service_id
        )
    }

    /// The repartition topic between the two tasks of a split query (ksqlDB's name).
    fn repartition_topic(&self, query_id: &str, step: &str) -> String {
        format!(
            "_confluent-ksql-{}query_{query_id}-{step}-repartition",
            self.deps.service_id
        )
    }

    /// A terminated query's state goes: its tasks' stores (the query's, and those of the tasks
    /// named after it: a split query's first task, re-keyed join inputs), and its internal
    /// topics (changelogs, repartition topics).
    async fn drop_query_state(&self, query_id: &str) {
        let task_prefix = format!("{query_id}-");
        for store in self.deps.state.store_names() {
            if store == query_id || store.starts_with(&task_prefix) {
                if let Err(e) = self.deps.state.drop_store(&store) {
                    warn!(query_id, store, error = %e, "could not drop a state store");
                }
            }
        }
        let topic_prefix = format!("_confluent-ksql-{}query_{query_id}-", self.deps.service_id);
        let mut topics: Vec<String> = match self.deps.admin.list_topics().await {
            Ok(all) => all
                .into_iter()
                .map(|t| t.name)
                .filter(|n| n.starts_with(&topic_prefix))
                .collect(),
            Err(e) => {
                debug!(query_id, error = %e, "could not list the query's internal topics");
                Vec::new()
            }
        };
        // Listed or not, the names every query may have.
        let front = format!("{query_id}-{FRONT_TASK}");
        for t in [
            self.changelog_topic(query_id),
            self.changelog_topic(&front),
            self.repartition_topic(query_id, sluice_planner::GROUP_BY_REPARTITION),
        ] {
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
        for topic in topics {
            match self.deps.admin.delete_topic(&topic).await {
                Ok(()) | Err(KafkaError::UnknownTopic { .. }) => {}
                Err(e) => debug!(topic, error = %e, "could not delete an internal topic"),
            }
        }
    }

    /// The encoder of `sink`'s records (its formats, with the schemas writers use).
    fn sink_encoder(&self, sink: &SourceDef) -> Result<SinkEncoder> {
        let (key_format, value_format) = self.writer_formats(sink, false)?;
        Ok(SinkEncoder::new(
            &key_format,
            sink.key_fields()?,
            &value_format,
            sink.value_fields()?,
            self.deps.registry.as_ref(),
        )?
        .with_timestamp(sink.timestamp.as_ref())?
        .with_window(sink.window.as_ref().map(|w| {
            if w.is_session() {
                WindowedKey::Session
            } else {
                WindowedKey::Time
            }
        })))
    }

    /// The persistent query writing `sink` (a stream or table made by `CREATE ... AS SELECT`),
    /// planned again and instantiated to be driven by records handed to it, without Kafka or
    /// durable state (engine-only benchmarks; see [`crate::offline`]). `props` are the
    /// session's, as when the query was created.
    pub fn offline_query(&self, sink: &str, props: &SessionProps) -> Result<OfflineQuery> {
        let catalog = self.catalog();
        let sink = catalog.require(sink)?.clone();
        let statement = crate::offline::writing_statement(&sink)?;
        let mut plan = self.planner.plan_query(&statement.query, &catalog)?;
        plan.set_coalesce(crate::session::coalesces(&props.snapshot()));
        OfflineQuery::new(
            &plan,
            &sink,
            self.sink_encoder(&sink)?,
            self.deps.registry.as_ref(),
        )
    }

    fn start_persistent(
        &self,
        query_id: &str,
        text: &str,
        mut plan: QueryPlan,
        sink: &SourceDef,
        props: &BTreeMap<String, String>,
    ) -> Result<()> {
        plan.set_coalesce(crate::session::coalesces(props));
        let reset = if starts_earliest(props) {
            OffsetReset::Earliest
        } else {
            OffsetReset::Latest
        };
        let group = format!("_confluent-ksql-{}query_{query_id}", self.deps.service_id);
        let encoder = self.sink_encoder(sink)?;
        let repartition_topic = plan
            .repartition
            .as_ref()
            .map(|r| self.repartition_topic(query_id, r.name));
        let partitioning = sluice_planner::join::partitioning(&plan.joins);
        // Joined rows re-keyed before a later join: each stage's topic.
        let stage_topics: Vec<JoinTopic> = partitioning
            .iter()
            .flat_map(|p| &p.stages)
            .map(|st| JoinTopic {
                topic: self.repartition_topic(query_id, &st.name),
                upstream: Arc::new(Upstream::default()),
            })
            .collect();
        let metrics = Arc::new(
            QueryMetrics::new(reset == OffsetReset::Earliest).with_internal(
                repartition_topic
                    .iter()
                    .cloned()
                    .chain(stage_topics.iter().map(|t| t.topic.clone())),
            ),
        );
        // Exactly-once: a transactional producer per task (its id fences older instances),
        // writing both the task's outputs and its changelog.
        let exactly_once = matches!(
            crate::session::guarantee(props)?,
            crate::transaction::Guarantee::ExactlyOnceV2
        );
        let transactional = |task: &str| -> Result<Option<SluiceProducer>> {
            Ok(if exactly_once {
                Some(
                    self.deps
                        .kafka
                        .transactional_producer(&format!("{}{task}-0", self.deps.service_id))?,
                )
            } else {
                None
            })
        };
        let state_spec = |store: &str, producer: &SluiceProducer| -> Result<StateSpec> {
            Ok(StateSpec {
                store: self.query_store(store)?,
                changelog: self.changelog_topic(store),
                kafka: self.deps.kafka.clone(),
                admin: self.deps.admin.clone(),
                producer: producer.clone(),
            })
        };
        let materialize = self
            .materialized
            .lock()
            .expect("materialized lock")
            .get(&sink.name)
            .cloned();
        let (stop, stop_rx) = watch::channel(false);
        let source = plan.source.name.clone();
        let sink_output = |producer: SluiceProducer| Output::Topic {
            topic: sink.topic.clone(),
            encoder,
            producer,
        };
        // Join inputs re-keyed before the joins: a task each, writing the input's records to
        // its `-Join-*-repartition` topic; the joins read that topic instead.
        let mut join_topics: BTreeMap<usize, JoinTopic> = BTreeMap::new();
        let mut join_fronts = Vec::new();
        if let Some(partitioning) = partitioning.clone() {
            for r in partitioning.repartitions {
                let input = r.input;
                let joined = JoinTopic {
                    topic: self.repartition_topic(query_id, &r.name),
                    upstream: Arc::new(Upstream::default()),
                };
                let def = match r.input {
                    0 => plan.source.clone(),
                    i => plan.joins[i - 1].right.clone(),
                };
                let id = format!("{query_id}-{}", r.name);
                let tx = transactional(&id)?;
                let producer = tx.clone().unwrap_or_else(|| self.producer.clone());
                join_fronts.push(JoinFront {
                    topic: joined.topic.clone(),
                    upstream: joined.upstream.clone(),
                    consumer: self
                        .deps
                        .kafka
                        .consumer(&format!("{group}-{}", r.name), reset)?,
                    state: state_spec(&id, &producer)?,
                    id,
                    def,
                    key_type: r.key_type.clone(),
                    key_format: partitioning.key_format.clone(),
                    producer,
                    transactional: tx,
                    repartition: r,
                });
                join_topics.insert(input, joined);
            }
        }
        // Joins in stages: a task per stage before the last, writing its joined rows re-keyed
        // to the next stage's topic; the last stage (the query's own task, or the first of a
        // split query) reads the last of these topics as its left input.
        let mut join_stages = Vec::new();
        let mut last_input = Input::Source;
        if let Some(p) = partitioning.as_ref().filter(|p| !p.stages.is_empty()) {
            let n = plan.joins.len();
            // The join topics a stage reads: its left input's (the stage before's rows, or the
            // source's re-keyed records) and its right inputs'.
            let stage_inputs = |s: usize| -> BTreeMap<usize, JoinTopic> {
                let range = p.stage_range(s, n);
                let mut topics: BTreeMap<usize, JoinTopic> = join_topics
                    .iter()
                    .filter(|(&i, _)| (i == 0 && s == 0) || (i > 0 && range.contains(&(i - 1))))
                    .map(|(&i, t)| (i, t.clone()))
                    .collect();
                if s > 0 {
                    topics.insert(0, stage_topics[s - 1].clone());
                }
                topics
            };
            for (s, st) in p.stages.iter().enumerate() {
                let id = format!("{query_id}-{}", st.name);
                let tx = transactional(&id)?;
                let producer = tx.clone().unwrap_or_else(|| self.producer.clone());
                join_stages.push(JoinStageTask {
                    input: match s {
                        0 => Input::Source,
                        s => Input::Repartition {
                            topic: stage_topics[s - 1].topic.clone(),
                        },
                    },
                    join_topics: stage_inputs(s),
                    out: stage_topics[s].clone(),
                    stage: st.clone(),
                    key_format: p.key_format.clone(),
                    consumer: self
                        .deps
                        .kafka
                        .consumer(&format!("{group}-{}", st.name), reset)?,
                    state: state_spec(&id, &producer)?,
                    id,
                    part: PlanPart::JoinStage(s),
                    producer,
                    transactional: tx,
                });
            }
            join_topics = stage_inputs(p.stages.len());
            last_input = Input::Repartition {
                topic: stage_topics[p.stages.len() - 1].topic.clone(),
            };
        }
        let handle = match plan.repartition.clone().zip(repartition_topic) {
            None => {
                let transactional = transactional(query_id)?;
                let producer = transactional
                    .clone()
                    .unwrap_or_else(|| self.producer.clone());
                let task = QueryTask {
                    id: query_id.to_string(),
                    source: plan.source.clone(),
                    part: PlanPart::Whole,
                    joins: plan.join_range(PlanPart::Whole),
                    input: last_input,
                    join_topics: join_topics.clone(),
                    feeds: None,
                    consumer: self.deps.kafka.consumer(&group, reset)?,
                    output: sink_output(producer.clone()),
                    metrics: metrics.clone(),
                    state: Some(state_spec(query_id, &producer)?),
                    transactional,
                    materialize,
                    plan: plan.clone(),
                    registry: self.deps.registry.clone(),
                };
                let admin = self.deps.admin.clone();
                let registry = self.deps.registry.clone();
                let query_id = query_id.to_string();
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    let Some(helpers) = start_join_tasks(
                        &admin,
                        &plan,
                        join_fronts,
                        join_stages,
                        &metrics,
                        registry,
                        &query_id,
                    )
                    .await
                    else {
                        return;
                    };
                    run_together(helpers.into_iter().chain([task]).collect(), stop_rx).await;
                })
            }
            Some((r, topic)) => {
                // Two tasks joined by the repartition topic: the first reads the source and
                // writes each row to its key's partition; the second aggregates.
                let front_id = format!("{query_id}-{FRONT_TASK}");
                let front_tx = transactional(&front_id)?;
                let front_producer = front_tx.clone().unwrap_or_else(|| self.producer.clone());
                let back_tx = transactional(query_id)?;
                let back_producer = back_tx.clone().unwrap_or_else(|| self.producer.clone());
                let back = QueryTask {
                    id: query_id.to_string(),
                    source: plan.source.clone(),
                    part: PlanPart::AfterRepartition,
                    joins: 0..0,
                    input: Input::Repartition {
                        topic: topic.clone(),
                    },
                    join_topics: BTreeMap::new(),
                    feeds: None,
                    // Everything written to the repartition topic is for this task.
                    consumer: self
                        .deps
                        .kafka
                        .consumer(&format!("{group}-{}", r.name), OffsetReset::Earliest)?,
                    output: sink_output(back_producer.clone()),
                    metrics: metrics.clone(),
                    state: Some(state_spec(query_id, &back_producer)?),
                    transactional: back_tx,
                    materialize,
                    plan: plan.clone(),
                    registry: self.deps.registry.clone(),
                };
                let front_state = state_spec(&front_id, &front_producer)?;
                let front_consumer = self.deps.kafka.consumer(&group, reset)?;
                let admin = self.deps.admin.clone();
                let query_id = query_id.to_string();
                tokio::spawn(async move {
                    let partitions = match create_internal_topic(&admin, &plan.source.topic, &topic)
                        .await
                    {
                        Ok(p) => p,
                        Err(e) => {
                            warn!(query_id, topic, error = %e, "cannot create the repartition topic");
                            return;
                        }
                    };
                    let encoder = match RepartitionEncoder::new(
                        r.key_exprs.clone(),
                        r.key_types.clone(),
                        partitions,
                    ) {
                        Ok(e) => e,
                        Err(e) => {
                            warn!(query_id, error = %e, "cannot plan the repartition");
                            return;
                        }
                    };
                    let Some(helpers) = start_join_tasks(
                        &admin,
                        &plan,
                        join_fronts,
                        join_stages,
                        &back.metrics,
                        back.registry.clone(),
                        &query_id,
                    )
                    .await
                    else {
                        return;
                    };
                    let front = QueryTask {
                        id: front_id,
                        source: plan.source.clone(),
                        part: PlanPart::BeforeRepartition,
                        joins: plan.join_range(PlanPart::BeforeRepartition),
                        input: last_input,
                        join_topics,
                        feeds: None,
                        consumer: front_consumer,
                        output: Output::Repartition {
                            topic,
                            encoder,
                            placer: None,
                            producer: front_producer,
                            lead: admin.bounded_retention().map(crate::lead::LeadGuard::new),
                        },
                        metrics: back.metrics.clone(),
                        state: Some(front_state),
                        transactional: front_tx,
                        materialize: None,
                        registry: back.registry.clone(),
                        plan,
                    };
                    run_together(helpers.into_iter().chain([front, back]).collect(), stop_rx).await;
                })
            }
        };
        self.queries.lock().expect("queries lock").insert(
            query_id.to_string(),
            RunningQuery {
                info: QueryInfo {
                    id: query_id.to_string(),
                    statement: text.to_string(),
                    sink: sink.name.clone(),
                    sink_topic: sink.topic.clone(),
                    source,
                    metrics,
                    running: true,
                },
                stop,
                handle,
            },
        );
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Push queries

    /// For a pull query over tables written by persistent queries: the types of its `$n`
    /// placeholders (`None` where they cannot be inferred) and its result columns, without
    /// running it (see [`crate::pull::describe_pull_query`]). `None` for any other statement.
    pub async fn describe_pull(
        &self,
        q: &KsqlQuery,
    ) -> Result<Option<crate::pull::PullDescription>> {
        if q.emit.is_some() {
            return Ok(None);
        }
        crate::pull::check_pseudo_columns(q)?;
        let names = crate::pull::from_names(q);
        let tables: Option<Vec<(String, Arc<Materialized>)>> = {
            let m = self.materialized.lock().expect("materialized lock");
            names
                .iter()
                .map(|n| m.get(n).map(|t| (n.clone(), t.clone())))
                .collect()
        };
        match tables.filter(|t| !t.is_empty()) {
            Some(tables) => Ok(Some(crate::pull::describe_pull_query(q, &tables).await?)),
            None => Ok(None),
        }
    }

    async fn push_query(
        &self,
        q: &KsqlQuery,
        props: &BTreeMap<String, String>,
    ) -> Result<StatementResult> {
        let catalog = self.catalog();
        if q.emit.is_none() {
            // A pull query: over materialized tables, any SQL DataFusion runs.
            crate::pull::check_pseudo_columns(q)?;
            let names = crate::pull::from_names(q);
            let tables: Option<Vec<(String, Arc<Materialized>)>> = {
                let m = self.materialized.lock().expect("materialized lock");
                names
                    .iter()
                    .map(|n| m.get(n).map(|t| (n.clone(), t.clone())))
                    .collect()
            };
            if let Some(tables) = tables.filter(|t| !t.is_empty()) {
                return crate::pull::pull_query(q, &tables).await;
            }
            // Over a stream or a table no persistent query maintains: read its topic.
            if let [name] = names.as_slice() {
                if let Some(source) = catalog.source(name) {
                    if q.window.is_some() {
                        return Err(crate::pull::unsupported_clause("WINDOW"));
                    }
                    if let SetExpr::Select(select) = q.query.body.as_ref() {
                        if !matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
                        {
                            return Err(crate::pull::unsupported_clause("GROUP BY"));
                        }
                    }
                    return crate::pull::pull_topic(
                        q,
                        source,
                        &self.deps.kafka,
                        self.deps.registry.as_ref(),
                    )
                    .await;
                }
            } else if names.len() > 1 {
                return Err(crate::pull::unsupported_clause("JOIN"));
            }
        }
        let mut plan = self.planner.plan_query(q, &catalog)?;
        plan.set_coalesce(crate::session::coalesces(props));
        if plan.emit != Some(Emit::Changes) {
            return Err(EngineError::Unsupported(format!(
                "Pull queries over {} are not supported yet. Add EMIT CHANGES to run a push query: rows are returned as they arrive.",
                plan.source.name
            )));
        }
        check_copartitioned(&self.deps.admin, &plan).await?;
        if plan.limit == Some(0) {
            // LIMIT 0: done before reading anything.
            let (_, rx) = mpsc::channel(1);
            return Ok(StatementResult::Push {
                schema: plan.output.clone(),
                stream: tokio_stream_from(rx),
            });
        }
        let reset = if starts_earliest(props) {
            OffsetReset::Earliest
        } else {
            OffsetReset::Latest
        };
        let group = format!(
            "_confluent-ksql-{}transient_{}",
            self.deps.service_id,
            uuid::Uuid::new_v4().simple()
        );
        let consumer: SluiceConsumer = self.deps.kafka.consumer(&group, reset)?;
        let schema = plan.output.clone();
        let (tx, rx) = mpsc::channel(16);
        let (stop, stop_rx) = watch::channel(false);
        let task = QueryTask {
            id: group.clone(),
            source: plan.source.clone(),
            // A push query is one task: its state lives in memory, nothing to repartition.
            part: PlanPart::Whole,
            joins: 0..plan.joins.len(),
            input: Input::Source,
            join_topics: BTreeMap::new(),
            feeds: None,
            output: Output::Client {
                tx,
                limit: plan.limit,
            },
            plan,
            consumer,
            metrics: Arc::new(QueryMetrics::default()),
            materialize: None,
            state: None,
            transactional: None,
            registry: self.deps.registry.clone(),
        };
        tokio::spawn(async move {
            // Keep the stop sender alive as long as the task: the task ends when the client's
            // receiver is dropped or LIMIT is reached.
            let _stop = stop;
            task.run(stop_rx).await
        });
        let stream = tokio_stream_from(rx);
        Ok(StatementResult::Push { schema, stream })
    }

    // ---------------------------------------------------------------------------------------
    // INSERT VALUES

    async fn insert_values(
        &self,
        target: &str,
        columns: Option<Vec<sluice_parser::sql::ast::Ident>>,
        values: &[sluice_parser::sql::ast::Expr],
    ) -> Result<StatementResult> {
        let catalog = self.catalog();
        let source = catalog.require(target)?.clone();
        if source.written_by.is_some() || source.is_source {
            // ksqlDB allows inserting into CSAS sinks; so do we, but not into read-only sources.
            if source.is_source {
                return Err(EngineError::Invalid(format!(
                    "Cannot insert values into read-only {}: {target}",
                    source.kind.lower()
                )));
            }
        }
        let all: Vec<String> = source
            .key_columns()
            .chain(source.value_columns())
            .map(|c| c.name.clone())
            .collect();
        let names: Vec<String> = match columns {
            Some(cols) => cols.into_iter().map(|c| c.value).collect(),
            None => all.clone(),
        };
        if let Some(h) = source
            .header_columns()
            .find(|h| names.iter().any(|n| *n == h.name))
        {
            return Err(EngineError::Invalid(format!(
                "Cannot insert into HEADER columns: {}",
                h.name
            )));
        }
        if names.len() != values.len() {
            return Err(EngineError::Invalid(format!(
                "Failed to prepare statement: Expected number columns and values to match: {:?}, {}",
                names,
                values.len()
            )));
        }
        let schema = source.batch_schema()?;
        let mut fields = Vec::with_capacity(names.len());
        for n in &names {
            if n == ROWTIME {
                fields.push(Field::new(ROWTIME, DataType::Int64, true));
                continue;
            }
            let idx = all.iter().position(|a| a == n).ok_or_else(|| {
                EngineError::Plan(sluice_planner::PlanError::UnknownColumn(format!(
                    "Column name {n} does not exist."
                )))
            })?;
            fields.push(schema.field(idx).clone());
        }
        let arrays = self
            .planner
            .evaluate_row(values, &fields, &catalog)
            .map_err(|e| match e {
                sluice_planner::PlanError::Type(m) => EngineError::Type(m),
                other => EngineError::Plan(other),
            })?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mut row: Vec<ArrayRef> = Vec::new();
        let mut out_fields: Vec<Field> = Vec::new();
        for f in schema.fields().iter().take(all.len()) {
            let array = match names.iter().position(|n| n == f.name()) {
                Some(i) => arrays[i].clone(),
                None => datafusion::arrow::array::new_null_array(f.data_type(), 1),
            };
            row.push(array);
            out_fields.push(f.as_ref().clone());
        }
        let rowtime = match names.iter().position(|n| n == ROWTIME) {
            Some(i) => arrays[i].clone(),
            None => Arc::new(Int64Array::from(vec![now])),
        };
        row.push(rowtime);
        out_fields.push(Field::new(ROWTIME, DataType::Int64, true));
        let batch = RecordBatch::try_new(Arc::new(Schema::new(out_fields)), row)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let (key_format, value_format) = self.writer_formats(&source, false)?;
        let mut encoder = SinkEncoder::new(
            &key_format,
            source.key_fields()?,
            &value_format,
            source.value_fields()?,
            self.deps.registry.as_ref(),
        )?;
        let records = encoder.encode(&Batch::inserts(batch))?;
        crate::io::produce_all(&self.producer, &source.topic, &records).await?;
        Ok(StatementResult::command("INSERT 0 1"))
    }

    // ---------------------------------------------------------------------------------------
    // DROP, TERMINATE

    #[allow(clippy::too_many_arguments)]
    async fn drop_source(
        &self,
        kind: sluice_parser::SourceKind,
        if_exists: bool,
        name: &str,
        delete_topic: bool,
        text: &str,
        props: &BTreeMap<String, String>,
        replaying: bool,
    ) -> Result<StatementResult> {
        let mut catalog = (*self.catalog()).clone();
        let kind = match kind {
            sluice_parser::SourceKind::Stream => SourceKind::Stream,
            sluice_parser::SourceKind::Table => SourceKind::Table,
        };
        let tag = format!("DROP {}", kind.as_str());
        self.materialized
            .lock()
            .expect("materialized lock")
            .remove(name);
        let Some(def) = catalog.source(name).cloned() else {
            if if_exists {
                return Ok(StatementResult::command(tag));
            }
            return Err(EngineError::Catalog(
                sluice_catalog::CatalogError::UnknownSource(format!(
                    "{} {name} does not exist.",
                    title(kind)
                )),
            ));
        };
        if def.kind != kind {
            return Err(EngineError::Invalid(format!(
                "Incompatible data source type is {}, but statement was DROP {}",
                def.kind.as_str(),
                kind.as_str()
            )));
        }
        if delete_topic && def.is_source {
            return Err(EngineError::Invalid(format!(
                "Cannot delete topic for read-only source: {name}"
            )));
        }
        {
            let queries = self.queries.lock().expect("queries lock");
            let writers: Vec<&str> = queries
                .values()
                .filter(|q| q.info.sink == name && Some(&q.info.id) != def.written_by.as_ref())
                .map(|q| q.info.id.as_str())
                .collect();
            let readers: Vec<&str> = queries
                .values()
                .filter(|q| q.info.source == name)
                .map(|q| q.info.id.as_str())
                .collect();
            if !readers.is_empty() || !writers.is_empty() {
                let mut ids: Vec<&str> = readers;
                ids.extend(writers);
                return Err(EngineError::Catalog(sluice_catalog::CatalogError::InUse(
                    format!(
                        "Cannot drop {name}.\nThe following queries read from this source: [{}].\nYou need to terminate them before dropping {name}.",
                        ids.join(", ")
                    ),
                )));
            }
        }
        // The query that created the source goes with it (ksqlDB terminates it too).
        if let Some(qid) = &def.written_by {
            let q = self.queries.lock().expect("queries lock").remove(qid);
            if let Some(q) = q {
                q.stop().await;
                self.drop_query_state(qid).await;
            }
        }
        catalog.drop_source(name)?;
        self.log(text, props, if replaying { Some(0) } else { None })
            .await?;
        let mut message = format!("Source `{name}` (topic: {}) was dropped.", def.topic);
        if delete_topic {
            if let Err(e) = self.deps.admin.delete_topic(&def.topic).await {
                warn!(topic = %def.topic, error = %e, "could not delete topic");
                // The drop stands; the client is told the topic is still there, and why.
                message.push_str(&format!(" The topic was not deleted: {e}"));
            }
        }
        self.set_catalog(catalog);
        Ok(StatementResult::Command {
            tag,
            message: Some(message),
            query_id: None,
        })
    }

    async fn terminate(
        &self,
        target: sluice_parser::TerminateTarget,
        text: &str,
        props: &BTreeMap<String, String>,
        replaying: bool,
    ) -> Result<StatementResult> {
        let ids: Vec<String> = match &target {
            sluice_parser::TerminateTarget::All => self
                .queries
                .lock()
                .expect("queries lock")
                .keys()
                .cloned()
                .collect(),
            sluice_parser::TerminateTarget::Query(id) => {
                let queries = self.queries.lock().expect("queries lock");
                let found = queries.keys().find(|k| k.eq_ignore_ascii_case(id)).cloned();
                match found {
                    Some(k) => vec![k],
                    None if replaying => vec![],
                    None => {
                        return Err(EngineError::UnknownObject(format!("Unknown queryId: {id}")))
                    }
                }
            }
        };
        self.log(text, props, if replaying { Some(0) } else { None })
            .await?;
        let mut catalog = (*self.catalog()).clone();
        for id in ids {
            let q = self.queries.lock().expect("queries lock").remove(&id);
            if let Some(q) = q {
                catalog.set_writer(&q.info.sink, None);
                q.stop().await;
                self.drop_query_state(&id).await;
            }
        }
        self.set_catalog(catalog);
        Ok(StatementResult::command("TERMINATE"))
    }

    /// Stop every query (server shutdown).
    pub async fn shutdown(&self) {
        let all: Vec<RunningQuery> = {
            let mut q = self.queries.lock().expect("queries lock");
            std::mem::take(&mut *q).into_values().collect()
        };
        for q in all {
            q.stop().await;
        }
    }
}

fn tokio_stream_from(mut rx: mpsc::Receiver<Result<RecordBatch>>) -> crate::result::RowStream {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// The format a session property such as `ksql.persistence.default.format.key` names, if set.
fn session_default_format(props: &BTreeMap<String, String>, prop: &str) -> Result<Option<Format>> {
    match props.get(prop) {
        None => Ok(None),
        Some(name) => {
            let kind: FormatKind = name.parse().map_err(|e: sluice_formats::FormatError| {
                EngineError::Invalid(format!("Invalid value for {prop}: {e}"))
            })?;
            Ok(Some(Format::new(kind)))
        }
    }
}

/// ksqlDB's co-partitioning check, made before a query over a join starts: the two inputs of
/// every join but a foreign-key one must read topics with as many partitions, so that a key's
/// records of both sides land in partitions of the same number. As in ksqlDB, an input is named
/// by its query's leftmost source, and a join's result counts as many partitions as its right
/// input (so the next join compares with that).
async fn check_copartitioned(admin: &Arc<dyn TopicAdmin>, plan: &QueryPlan) -> Result<()> {
    async fn partitions(admin: &Arc<dyn TopicAdmin>, def: &SourceDef) -> Result<i32> {
        Ok(admin
            .describe_topic(&def.topic)
            .await?
            .map(|t| t.partitions)
            .unwrap_or(def.partitions))
    }
    if plan.joins.is_empty() {
        return Ok(());
    }
    let name = |i: usize| plan.from_names.get(i).cloned().unwrap_or_default();
    let mut left = partitions(admin, &plan.source).await?;
    for (k, join) in plan.joins.iter().enumerate() {
        let right = partitions(admin, &join.right).await?;
        let foreign_key = matches!(
            join.spec.kind,
            sluice_dataflow::ops::JoinKind::ForeignKey { .. }
        );
        if !foreign_key && left != right {
            let (l, r) = (name(0), name(k + 1));
            return Err(EngineError::Invalid(format!(
                "Can't join `{l}` with `{r}` since the number of partitions don't match. \
                 `{l}` partitions = {left}; `{r}` partitions = {right}. Please repartition \
                 either one so that the number of partitions match."
            )));
        }
        left = right;
    }
    Ok(())
}

/// The first task of a split query (the one reading the source) is named after its query with
/// this suffix (its state store, changelog topic and transactional id).
const FRONT_TASK: &str = "source";

/// What a task re-keying a join input needs, before its repartition topic exists.
struct JoinFront {
    id: String,
    def: Arc<SourceDef>,
    repartition: sluice_planner::join::JoinRepartition,
    key_type: datafusion::arrow::datatypes::DataType,
    key_format: sluice_formats::Format,
    topic: String,
    upstream: Arc<Upstream>,
    consumer: SluiceConsumer,
    producer: SluiceProducer,
    transactional: Option<SluiceProducer>,
    state: StateSpec,
}

/// Creates the repartition topics of a query's re-keyed join inputs (as many partitions as
/// the input's topic) and the tasks that write them. `None` (logged) when a topic cannot be
/// made.
async fn start_join_fronts(
    admin: &Arc<dyn TopicAdmin>,
    plan: &QueryPlan,
    fronts: Vec<JoinFront>,
    metrics: &Arc<QueryMetrics>,
    registry: Option<Arc<dyn SchemaRegistry>>,
    query_id: &str,
) -> Option<Vec<QueryTask>> {
    let mut tasks = Vec::with_capacity(fronts.len());
    for f in fronts {
        let partitions = match create_internal_topic(admin, &f.def.topic, &f.topic).await {
            Ok(p) => p,
            Err(e) => {
                warn!(query_id, topic = f.topic, error = %e, "cannot create the repartition topic");
                return None;
            }
        };
        let placer = match KeyPlacer::new(
            f.repartition.key.clone(),
            f.key_type,
            &f.key_format,
            partitions,
        ) {
            Ok(p) => p,
            Err(e) => {
                warn!(query_id, error = %e, "cannot plan the join's repartition");
                return None;
            }
        };
        tasks.push(QueryTask {
            id: f.id,
            source: f.def,
            part: PlanPart::JoinFront,
            joins: 0..0,
            input: Input::Source,
            join_topics: BTreeMap::new(),
            feeds: Some(f.upstream),
            consumer: f.consumer,
            output: Output::Republish {
                topic: f.topic,
                placer,
                producer: f.producer,
                lead: admin.bounded_retention().map(crate::lead::LeadGuard::new),
            },
            metrics: metrics.clone(),
            state: Some(f.state),
            transactional: f.transactional,
            materialize: None,
            registry: registry.clone(),
            plan: plan.clone(),
        });
    }
    Some(tasks)
}

/// What a task running a join stage before the last needs, before its topic exists (see
/// [`sluice_planner::join::JoinStage`]).
struct JoinStageTask {
    id: String,
    part: PlanPart,
    input: Input,
    join_topics: BTreeMap<usize, JoinTopic>,
    /// The topic it writes, read by the next stage.
    out: JoinTopic,
    /// Where its rows go: the next join's left key, over the stage's joined rows, written in
    /// `key_format` as the inputs read as they are write it.
    stage: sluice_planner::join::JoinStage,
    key_format: sluice_formats::Format,
    consumer: SluiceConsumer,
    producer: SluiceProducer,
    transactional: Option<SluiceProducer>,
    state: StateSpec,
}

/// The tasks a query's joins need besides the query's own: those re-keying join inputs (see
/// [`start_join_fronts`]) and those running join stages before the last (see
/// [`start_join_stages`]). `None` (logged) when a topic cannot be made.
#[allow(clippy::too_many_arguments)]
async fn start_join_tasks(
    admin: &Arc<dyn TopicAdmin>,
    plan: &QueryPlan,
    fronts: Vec<JoinFront>,
    stages: Vec<JoinStageTask>,
    metrics: &Arc<QueryMetrics>,
    registry: Option<Arc<dyn SchemaRegistry>>,
    query_id: &str,
) -> Option<Vec<QueryTask>> {
    let mut tasks =
        start_join_fronts(admin, plan, fronts, metrics, registry.clone(), query_id).await?;
    tasks.extend(start_join_stages(admin, plan, stages, metrics, registry, query_id).await?);
    Some(tasks)
}

/// Creates the topics of a query's join stages (as many partitions as the query's source:
/// its joins are co-partitioned) and the tasks that write them. `None` (logged) when a topic
/// cannot be made.
async fn start_join_stages(
    admin: &Arc<dyn TopicAdmin>,
    plan: &QueryPlan,
    stages: Vec<JoinStageTask>,
    metrics: &Arc<QueryMetrics>,
    registry: Option<Arc<dyn SchemaRegistry>>,
    query_id: &str,
) -> Option<Vec<QueryTask>> {
    let mut tasks = Vec::with_capacity(stages.len());
    for st in stages {
        let (key, key_type) = (&st.stage.key, &st.stage.key_type);
        let partitions = match create_internal_topic(admin, &plan.source.topic, &st.out.topic).await
        {
            Ok(p) => p,
            Err(e) => {
                warn!(query_id, topic = st.out.topic, error = %e, "cannot create the join stage's topic");
                return None;
            }
        };
        let placed = KeyPlacer::new(key.clone(), key_type.clone(), &st.key_format, partitions)
            .and_then(|placer| {
                RepartitionEncoder::new(vec![key.clone()], vec![key_type.clone()], partitions)
                    .map(|encoder| (placer, encoder))
            });
        let (placer, encoder) = match placed {
            Ok(p) => p,
            Err(e) => {
                warn!(query_id, error = %e, "cannot plan the join stage's repartition");
                return None;
            }
        };
        tasks.push(QueryTask {
            id: st.id,
            source: plan.source.clone(),
            part: st.part,
            joins: plan.join_range(st.part),
            input: st.input,
            join_topics: st.join_topics,
            feeds: Some(st.out.upstream),
            consumer: st.consumer,
            output: Output::Repartition {
                topic: st.out.topic,
                encoder,
                placer: Some(placer),
                producer: st.producer,
                lead: admin.bounded_retention().map(crate::lead::LeadGuard::new),
            },
            metrics: metrics.clone(),
            state: Some(st.state),
            transactional: st.transactional,
            materialize: None,
            registry: registry.clone(),
            plan: plan.clone(),
        });
    }
    Some(tasks)
}

/// Runs a query's tasks; the query runs while all run: when one ends (or `stop` turns), the
/// others are stopped.
async fn run_together(tasks: Vec<QueryTask>, mut stop: watch::Receiver<bool>) {
    let all = Arc::new(watch::channel(false).0);
    let mut ended = all.subscribe();
    let handles: Vec<_> = tasks
        .into_iter()
        .map(|task| {
            let all = all.clone();
            let rx = all.subscribe();
            tokio::spawn(async move {
                task.run(rx).await;
                all.send_replace(true);
            })
        })
        .collect();
    tokio::select! {
        _ = stop.changed() => {}
        _ = ended.changed() => {}
    }
    all.send_replace(true);
    for h in handles {
        let _ = h.await;
    }
}

/// Creates an internal topic with as many partitions as `like` (a source's topic), and
/// returns its partition count.
async fn create_internal_topic(
    admin: &Arc<dyn TopicAdmin>,
    like: &str,
    topic: &str,
) -> std::result::Result<i32, KafkaError> {
    let partitions = admin
        .describe_topic(like)
        .await?
        .map(|t| t.partitions)
        .unwrap_or(1)
        .max(1);
    match admin.create_topic(topic, partitions, -1, &[]).await {
        Ok(()) | Err(KafkaError::TopicAlreadyExists { .. }) => {}
        Err(e) => return Err(e),
    }
    Ok(admin
        .describe_topic(topic)
        .await?
        .map(|t| t.partitions)
        .unwrap_or(partitions))
}

const CREATE_SOURCE_PROPERTIES: &[&str] = &[
    "KAFKA_TOPIC",
    "KEY_FORMAT",
    "VALUE_FORMAT",
    "FORMAT",
    "PARTITIONS",
    "REPLICAS",
    "TIMESTAMP",
    "TIMESTAMP_FORMAT",
    "WRAP_SINGLE_VALUE",
    "VALUE_DELIMITER",
    "KEY_DELIMITER",
    "WINDOW_TYPE",
    "WINDOW_SIZE",
    "KEY_SCHEMA_ID",
    "VALUE_SCHEMA_ID",
    "KEY_SCHEMA_FULL_NAME",
    "VALUE_SCHEMA_FULL_NAME",
    "VALUE_AVRO_SCHEMA_FULL_NAME",
    "KEY_PROTOBUF_NULLABLE_REPRESENTATION",
    "VALUE_PROTOBUF_NULLABLE_REPRESENTATION",
    "RETENTION_MS",
    "CLEANUP_POLICY",
];

const CREATE_AS_PROPERTIES: &[&str] = &[
    "KAFKA_TOPIC",
    "KEY_FORMAT",
    "VALUE_FORMAT",
    "FORMAT",
    "PARTITIONS",
    "REPLICAS",
    "TIMESTAMP",
    "TIMESTAMP_FORMAT",
    "WRAP_SINGLE_VALUE",
    "VALUE_DELIMITER",
    "KEY_DELIMITER",
    "RETENTION_MS",
    "KEY_SCHEMA_ID",
    "VALUE_SCHEMA_ID",
    "KEY_SCHEMA_FULL_NAME",
    "VALUE_SCHEMA_FULL_NAME",
    "VALUE_AVRO_SCHEMA_FULL_NAME",
    "KEY_PROTOBUF_NULLABLE_REPRESENTATION",
    "VALUE_PROTOBUF_NULLABLE_REPRESENTATION",
];

fn check_properties(p: &Properties, allowed: &[&str]) -> Result<()> {
    for (k, _) in &p.0 {
        if !allowed.contains(&k.as_str()) {
            return Err(EngineError::Invalid(format!(
                "Invalid config variable(s) in the WITH clause: {k}"
            )));
        }
    }
    Ok(())
}

/// A CSAS sink's format taken from its source: the same format and options, but not the
/// source's schema id, schema name or Protobuf nullable representation.
fn inherited(f: &Format) -> Format {
    let mut f = f.clone();
    f.options.schema_id = None;
    f.options.full_schema_name = None;
    f.options.nullable_representation = None;
    f
}

fn kafka_format() -> Format {
    Format {
        kind: FormatKind::Kafka,
        options: FormatOptions::default(),
    }
}

/// KEY_FORMAT / VALUE_FORMAT / FORMAT with their delimiter and wrapping options. `inherit`
/// supplies delimiters of a CSAS source when the format stays the same.
fn formats(
    p: &Properties,
    inherit: Option<&SourceDef>,
) -> Result<(Option<Format>, Option<Format>)> {
    let format = p.get_str("FORMAT");
    let key = p.get_str("KEY_FORMAT");
    let value = p.get_str("VALUE_FORMAT");
    for (given, prop) in [(key, "KEY_FORMAT"), (value, "VALUE_FORMAT")] {
        if format.is_some() && given.is_some() {
            return Err(EngineError::Invalid(format!(
                "Cannot supply both '{prop}' and 'FORMAT' properties, as 'FORMAT' sets both key \
                 and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and \
                 'VALUE_FORMAT'."
            )));
        }
    }
    let parse = |name: Option<&str>,
                 delimiter: Option<&str>,
                 wrap: Option<bool>|
     -> Result<Option<Format>> {
        match name {
            None => Ok(None),
            Some(n) => {
                let kind: FormatKind = n.parse().map_err(|e: sluice_formats::FormatError| {
                    EngineError::Invalid(e.to_string())
                })?;
                Ok(Some(Format {
                    kind,
                    options: FormatOptions {
                        delimiter: delimiter.map(str::to_string),
                        wrap_single_value: wrap,
                        ..FormatOptions::default()
                    },
                }))
            }
        }
    };
    let schema_id = |prop: &str| -> Result<Option<u32>> {
        match p.get_int(prop) {
            None => Ok(None),
            Some(id) => u32::try_from(id)
                .map(Some)
                .map_err(|_| EngineError::Invalid(format!("Invalid value for {prop}: {id}"))),
        }
    };
    let mut key = parse(key.or(format), p.get_str("KEY_DELIMITER"), None)?;
    let mut value = parse(
        value.or(format),
        p.get_str("VALUE_DELIMITER"),
        p.get_bool("WRAP_SINGLE_VALUE"),
    )?;
    let value_name = p
        .get_str("VALUE_SCHEMA_FULL_NAME")
        .or(p.get_str("VALUE_AVRO_SCHEMA_FULL_NAME"));
    let nullable = |prop: &str| -> Result<Option<NullableRepresentation>> {
        p.get_str(prop)
            .map(|v| v.parse().map_err(EngineError::Invalid))
            .transpose()
    };
    for (f, id, full_name, nullable, id_prop, source_format) in [
        (
            &mut key,
            schema_id("KEY_SCHEMA_ID")?,
            p.get_str("KEY_SCHEMA_FULL_NAME"),
            nullable("KEY_PROTOBUF_NULLABLE_REPRESENTATION")?,
            "KEY_SCHEMA_ID",
            inherit.map(|s| &s.key_format),
        ),
        (
            &mut value,
            schema_id("VALUE_SCHEMA_ID")?,
            value_name,
            nullable("VALUE_PROTOBUF_NULLABLE_REPRESENTATION")?,
            "VALUE_SCHEMA_ID",
            inherit.map(|s| &s.value_format),
        ),
    ] {
        // A schema id for a format the sink inherits from its source (`WITH (VALUE_SCHEMA_ID=..)
        // AS SELECT`): the source's format with that schema.
        if f.is_none() && id.is_some() {
            if let Some(source) = source_format.filter(|s| s.kind.uses_schema_registry()) {
                let mut inherited = inherited(source);
                if id_prop == "VALUE_SCHEMA_ID" {
                    inherited.options.wrap_single_value = p.get_bool("WRAP_SINGLE_VALUE");
                }
                *f = Some(inherited);
            }
        }
        match f {
            Some(f) => {
                f.options.schema_id = id;
                f.options.full_schema_name = full_name.map(str::to_string);
                f.options.nullable_representation = nullable;
            }
            None if id.is_some() => {
                return Err(EngineError::Invalid(format!(
                    "{id_prop} is set but there is no format for it"
                )))
            }
            None => {}
        }
    }
    Ok((key, value))
}

fn timestamp_spec(p: &Properties, columns: &[ColumnDef]) -> Result<Option<TimestampSpec>> {
    let Some(ts) = p.get_str("TIMESTAMP") else {
        return Ok(None);
    };
    let name = ts.trim_matches('`').to_string();
    let name = if ts.starts_with('`') {
        name
    } else {
        name.to_uppercase()
    };
    let col = columns.iter().find(|c| c.name == name).ok_or_else(|| {
        EngineError::Invalid(format!(
            "The TIMESTAMP column set in the WITH clause does not exist in the schema: '{name}'"
        ))
    })?;
    use sluice_parser::SqlType;
    match (&col.ty, p.get_str("TIMESTAMP_FORMAT")) {
        (SqlType::Bigint | SqlType::Timestamp, None) => {}
        (SqlType::String, Some(format)) => {
            sluice_functions::datetime::JavaPattern::new(format).map_err(|e| {
                EngineError::Invalid(format!("Invalid TIMESTAMP_FORMAT '{format}': {e}"))
            })?;
        }
        (ty, _) => {
            return Err(EngineError::Invalid(format!(
                "Timestamp column, `{name}`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp.format specified, but was {ty}"
            )))
        }
    }
    Ok(Some(TimestampSpec {
        column: name,
        format: p.get_str("TIMESTAMP_FORMAT").map(str::to_string),
    }))
}

/// `WINDOW_TYPE` / `WINDOW_SIZE` of a source over a topic with windowed keys.
fn window_info(p: &Properties) -> Result<Option<WindowInfo>> {
    let Some(kind) = p.get_str("WINDOW_TYPE") else {
        if p.get_str("WINDOW_SIZE").is_some() {
            return Err(EngineError::Invalid(
                "'WINDOW_SIZE' should only be set for windowed sources (WINDOW_TYPE).".into(),
            ));
        }
        return Ok(None);
    };
    let kind = kind.to_uppercase();
    let size = p.get_str("WINDOW_SIZE");
    match (kind.as_str(), size) {
        ("SESSION", Some(_)) => Err(EngineError::Invalid(
            "'WINDOW_SIZE' should not be set for SESSION windows.".into(),
        )),
        ("SESSION", None) => Ok(Some(WindowInfo {
            kind,
            size_ms: None,
        })),
        ("TUMBLING" | "HOPPING", None) => Err(EngineError::Invalid(format!(
            "{kind} windows require 'WINDOW_SIZE' to be provided in the WITH clause. For example: 'WINDOW_SIZE'='10 SECONDS'"
        ))),
        ("TUMBLING" | "HOPPING", Some(size)) => {
            let invalid = |why: String| {
                EngineError::Invalid(format!(
                    "Configuration WINDOW_SIZE is invalid: Invalid duration: '{size}'. {why}"
                ))
            };
            let mut parts = size.split_whitespace();
            let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(invalid("Expected a number and a time unit.".into()));
            };
            let n: u64 = n
                .parse()
                .map_err(|_| invalid(format!("Not a number: '{n}'")))?;
            let unit = sluice_parser::TimeUnit::parse(unit).ok_or_else(|| {
                invalid(format!("Unknown time unit: '{}'", unit.to_uppercase()))
            })?;
            Ok(Some(WindowInfo {
                kind,
                size_ms: Some((n * unit.millis()) as i64),
            }))
        }
        _ => Err(EngineError::Invalid(format!(
            "Invalid value {kind} for property WINDOW_TYPE: String must be one of: SESSION, HOPPING, TUMBLING"
        ))),
    }
}

/// The catalog's description of a query's window.
fn window_info_of(kind: &sluice_parser::WindowKind) -> WindowInfo {
    match kind {
        sluice_parser::WindowKind::Tumbling { size } => WindowInfo {
            kind: "TUMBLING".into(),
            size_ms: Some(size.as_millis() as i64),
        },
        sluice_parser::WindowKind::Hopping { size, .. } => WindowInfo {
            kind: "HOPPING".into(),
            size_ms: Some(size.as_millis() as i64),
        },
        sluice_parser::WindowKind::Session { .. } => WindowInfo {
            kind: "SESSION".into(),
            size_ms: None,
        },
    }
}

fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "ROWTIME" | "ROWPARTITION" | "ROWOFFSET" | "WINDOWSTART" | "WINDOWEND"
    )
}

fn title(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Stream => "Stream",
        SourceKind::Table => "Table",
    }
}

/// `ID STRING KEY, NAME STRING` — ksqlDB's schema text.
pub fn schema_text(key: &Fields, value: &Fields) -> String {
    let mut parts = Vec::new();
    for (fields, suffix) in [(key, " KEY"), (value, "")] {
        for f in fields.iter() {
            let ty = types::display_name(f.data_type());
            parts.push(format!("`{}` {ty}{suffix}", f.name()));
        }
    }
    parts.join(", ")
}

/// A `HEADERS` column is `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>` (every header of the record);
/// a `HEADER('k')` column is `BYTES` (the value of the last header with key `k`).
fn check_header_column(name: &str, key: Option<&str>, ty: &sluice_parser::SqlType) -> Result<()> {
    use sluice_parser::SqlType;
    let expected = match key {
        None => SqlType::Array(Box::new(SqlType::Struct(vec![
            ("KEY".into(), SqlType::String),
            ("VALUE".into(), SqlType::Bytes),
        ]))),
        Some(_) => SqlType::Bytes,
    };
    if *ty != expected {
        let what = match key {
            None => "HEADERS".to_string(),
            Some(k) => format!("HEADER('{k}')"),
        };
        return Err(EngineError::Invalid(format!(
            "Invalid type for {what} column `{name}`: got {ty}, expected {expected}"
        )));
    }
    Ok(())
}

/// ksqlDB's error for a sink schema its format cannot hold: "Key format does not support
/// schema.\nformat: KAFKA\nschema: Persistence{columns=[`ID` INTEGER KEY, ...], features=[]}
/// \nreason: ...".
fn format_error(
    part: &str,
    format: &Format,
    fields: &datafusion::arrow::datatypes::Fields,
    suffix: &str,
    e: impl std::fmt::Display,
) -> EngineError {
    let columns: Vec<String> = fields
        .iter()
        .map(|f| {
            let ty = types::display_name(f.data_type());
            let col = format!("`{}` {ty}", f.name());
            if suffix.is_empty() {
                col
            } else {
                format!("{col} {suffix}")
            }
        })
        .collect();
    EngineError::Invalid(format!(
        "{part} format does not support schema.\nformat: {}\nschema: Persistence{{columns=[{}], features=[]}}\nreason: {e}",
        format.kind,
        columns.join(", ")
    ))
}
