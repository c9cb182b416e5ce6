//! [`PgCatalog`]: the DataFusion context with `pg_catalog` and `information_schema`, the set of
//! relations it shows, and the factory of per-connection [`PgSession`]s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int32Type, SchemaRef};
use datafusion::catalog::CatalogProvider;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::setup_pg_catalog;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use sluice_pgwire::backend::{Description, Outcome};

use crate::error::PgCatalogError;
use crate::functions;
use crate::relations::{build_schema, Relation, RelationKind};
use crate::session::PgSession;

/// The schema Sluice's relations live in.
pub const PUBLIC_SCHEMA: &str = "public";

/// State shared by the catalog and all its sessions.
pub(crate) struct Shared {
    /// The database name (DataFusion catalog name, `current_database()`).
    pub(crate) database: String,
    /// The base context: catalogs, `pg_catalog`, static functions. Sessions clone its state, so
    /// they share its catalog list (and thus the relations) but not their session functions.
    pub(crate) base: SessionContext,
    pub(crate) parser: PostgresCompatibilityParser,
    /// The database's DataFusion catalog, whose `public` schema is swapped by `set_relations`.
    catalog: Arc<dyn CatalogProvider>,
    /// Relation name → kind, for `obj_description`.
    kinds: RwLock<HashMap<String, RelationKind>>,
    /// Bumped by every `set_relations`.
    generation: AtomicU64,
    /// pg_class oid → kind, valid for `oid_generation`.
    pub(crate) oid_kinds: Arc<RwLock<HashMap<i32, RelationKind>>>,
    oid_generation: Mutex<u64>,
}

impl Shared {
    /// Make `oid_kinds` match the current relations, if they changed since the last refresh. OIDs
    /// are assigned by datafusion-pg-catalog when `pg_class` is first read and stay stable per
    /// name, so reading them back through `pg_class` is reliable.
    pub(crate) async fn refresh_oid_kinds(
        &self,
        session: &PgSession,
    ) -> Result<(), PgCatalogError> {
        let current = self.generation.load(Ordering::Acquire);
        if *lock(&self.oid_generation)? == current {
            return Ok(());
        }
        let sql = format!(
            "SELECT c.oid, c.relname FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = '{PUBLIC_SCHEMA}'"
        );
        let (_, batches) = session.run_query(&sql, &[]).await?;
        let kinds = self
            .kinds
            .read()
            .map_err(|_| PgCatalogError::Internal("relation kinds poisoned".into()))?;
        let mut map = HashMap::new();
        for batch in &batches {
            let oids = batch.column(0).as_primitive::<Int32Type>();
            let names = batch.column(1).as_string::<i32>();
            for i in 0..batch.num_rows() {
                if let Some(kind) = kinds.get(names.value(i)) {
                    map.insert(oids.value(i), *kind);
                }
            }
        }
        *self
            .oid_kinds
            .write()
            .map_err(|_| PgCatalogError::Internal("relation kinds poisoned".into()))? = map;
        *lock(&self.oid_generation)? = current;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, PgCatalogError> {
    m.lock()
        .map_err(|_| PgCatalogError::Internal("pg catalog lock poisoned".into()))
}

/// PostgreSQL's catalogs and session SQL over Sluice's relations.
///
/// One per server. [`PgCatalog::session`] opens a [`PgSession`] per client connection (its own
/// `SET` variables and user); [`PgCatalog::execute`] and [`PgCatalog::describe`] run on a
/// built-in default session, which is shared by every caller that uses them.
pub struct PgCatalog {
    shared: Arc<Shared>,
    default_session: PgSession,
}

impl PgCatalog {
    /// A catalog for database `database` (what `current_database()` and `pg_database` report),
    /// with no relations yet.
    pub async fn new(database: &str) -> Result<Self, PgCatalogError> {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_create_default_catalog_and_schema(true)
            .with_default_catalog_and_schema(database, PUBLIC_SCHEMA);
        let base = SessionContext::new_with_config(config);
        setup_pg_catalog(&base, database, EmptyContextProvider).map_err(|e| *e)?;
        functions::register_static(&base);
        let oid_kinds = Arc::new(RwLock::new(HashMap::new()));
        functions::register_obj_description(&base, oid_kinds.clone());
        let catalog = base.catalog(database).ok_or_else(|| {
            PgCatalogError::Internal(format!("catalog \"{database}\" was not created"))
        })?;
        let shared = Arc::new(Shared {
            database: database.to_string(),
            base,
            parser: PostgresCompatibilityParser::new(),
            catalog,
            kinds: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            oid_kinds,
            oid_generation: Mutex::new(0),
        });
        let default_session = PgSession::new(shared.clone(), "sluice");
        tracing::debug!(database, "pg catalog ready");
        Ok(PgCatalog {
            shared,
            default_session,
        })
    }

    /// The database name this catalog was created with.
    pub fn database(&self) -> &str {
        &self.shared.database
    }

    /// Replace the set of relations shown. Each becomes an empty table in schema `public`, so
    /// `pg_class`, `pg_attribute`, `pg_tables`, `information_schema.tables/columns` list it with
    /// its columns. Names keep their case; see the crate docs for how `\d pageviews` still finds
    /// `PAGEVIEWS`. The swap is atomic for concurrent queries.
    pub fn set_relations(&self, relations: Vec<Relation>) -> Result<(), PgCatalogError> {
        let schema = build_schema(&relations)?;
        let kinds: HashMap<String, RelationKind> =
            relations.iter().map(|r| (r.name.clone(), r.kind)).collect();
        {
            let mut guard = self
                .shared
                .kinds
                .write()
                .map_err(|_| PgCatalogError::Internal("relation kinds poisoned".into()))?;
            self.shared.catalog.register_schema(PUBLIC_SCHEMA, schema)?;
            *guard = kinds;
            self.shared.generation.fetch_add(1, Ordering::AcqRel);
        }
        tracing::debug!(relations = relations.len(), "pg catalog relations replaced");
        Ok(())
    }

    /// A session for one client connection of `user` (what `current_user`, `session_user` and
    /// `SHOW session_authorization` report). Its `SET` variables are its own.
    pub fn session(&self, user: &str) -> PgSession {
        PgSession::new(self.shared.clone(), user)
    }

    /// Run one statement on the default session (see [`PgSession::execute`]).
    pub async fn execute(&self, sql: &str) -> Result<Outcome, PgCatalogError> {
        self.default_session.execute(sql).await
    }

    /// Result schema of one statement on the default session (see [`PgSession::describe`]).
    pub async fn describe(&self, sql: &str) -> Result<Option<SchemaRef>, PgCatalogError> {
        self.default_session.describe(sql).await
    }

    /// Parameter types and result schema (see [`PgSession::describe_statement`]).
    pub async fn describe_statement(&self, sql: &str) -> Result<Description, PgCatalogError> {
        self.default_session.describe_statement(sql).await
    }
}

/// Collect the rows of a finished result into one vector of batches (helper for callers and
/// tests that want to look at an [`Outcome::Rows`]).
pub fn outcome_rows(outcome: &Outcome) -> Option<(&SchemaRef, &[RecordBatch])> {
    match outcome {
        Outcome::Rows {
            schema, batches, ..
        } => Some((schema, batches.as_slice())),
        _ => None,
    }
}
