//! PostgreSQL catalog and session SQL for Sluice.
//!
//! psql, JDBC/ODBC drivers and BI tools send PostgreSQL-specific SQL besides the user's KSQL:
//! psql's `\d`, `\dt`, `\d name` (queries over `pg_catalog.pg_class`, `pg_attribute`,
//! `pg_namespace`, ...), driver start-up and type-lookup queries (`SELECT version()`,
//! `SHOW transaction_isolation`, `SET extra_float_digits = 3`, `select ... from pg_type ...`).
//! This crate answers them with DataFusion plus `datafusion-pg-catalog` (its `pg_catalog` schema,
//! PostgreSQL functions and SQL rewrite rules), over Sluice's streams and tables registered as
//! empty tables in schema `public`.
//!
//! # Entry points
//! * [`PgCatalog::new`] — one per server; [`PgCatalog::set_relations`] whenever Sluice's own
//!   catalog changes.
//! * [`PgCatalog::session`] — one [`PgSession`] per client connection: its `SET` variables and
//!   user. [`PgSession::execute`] / [`PgSession::describe_statement`] run statements and return
//!   the wire layer's [`Outcome`](sluice_pgwire::backend::Outcome) /
//!   [`Description`](sluice_pgwire::backend::Description); `PgSession` also implements
//!   [`sluice_pgwire::backend::Session`] directly.
//! * [`PgCatalog::execute`] / [`PgCatalog::describe`] — the same on one default session shared by
//!   all callers (its `SET`s are visible to everyone; prefer a session per connection).
//!
//! # Names and case
//! Relation and column names keep Sluice's case (ksqlDB upper-cases unquoted names). psql
//! lower-cases unquoted patterns, so `\d PAGEVIEWS` and `\d pageviews` both ask for
//! `relname ~ '^(pageviews)$'`; a lower-case pattern on `relname` is therefore also matched
//! against the lower-cased name of relations whose name is all upper case. `\d "PAGEVIEWS"`
//! matches exactly, and a relation stored in mixed case needs its exact quoted spelling.
//!
//! # Session variables
//! `SET x = y` / `SET x TO y` / `SET x TO DEFAULT` / `RESET x` / `RESET ALL` / `SHOW x` /
//! `SHOW ALL`, `SET TIME ZONE`, `SET NAMES`, `SET SCHEMA`, `SET [SESSION CHARACTERISTICS AS]
//! TRANSACTION ...`, `DISCARD ALL`, `current_setting()` and `set_config()` work on the
//! [`PgSession`]'s own map (PostgreSQL's defaults for a UTF-8, UTC server; `server_version` is
//! [`PG_SERVER_VERSION`]). `SET LOCAL` acts like `SET` (there are no transactions here). The
//! values are only stored and reported: they do not change how DataFusion evaluates queries
//! (time zone, date style) — output formatting is the wire layer's business, and
//! [`PgSession::take_reported_changes`] tells it which ParameterStatus messages PostgreSQL would
//! send.
//!
//! # Known differences from PostgreSQL
//! * Streams and tables both appear as ordinary tables (`relkind = 'r'`); their ksqlDB kind is
//!   `obj_description(oid, 'pg_class')` (psql's `\dt+` Description column).
//! * `information_schema.columns.data_type` shows Arrow type names (`Utf8`, `Int64`); `pg_attribute`
//!   / `format_type` show PostgreSQL ones (`text`, `bigint`).
//! * Catalog coverage is datafusion-pg-catalog's: psql's `\d`, `\dt`, `\d NAME`, `\d+ NAME`,
//!   `\dt+`, `\dn`, `\l`, and the tokio-postgres / pgjdbc type lookups are tested; other client
//!   queries may hit DataFusion limits and fail with a SQLSTATE rather than wrong rows.
//!
//! # What it is not for
//! It does not run KSQL, read data, or change anything but session variables: the relations are
//! empty, and DDL/DML are refused with `0A000`. Statement splitting, transactions, cursors and
//! COPY belong to the wire layer (`sluice-pgwire`).

mod catalog;
mod command;
mod error;
mod functions;
mod relations;
mod rewrite;
mod session;
mod settings;

pub use catalog::{outcome_rows, PgCatalog, PUBLIC_SCHEMA};
pub use error::PgCatalogError;
pub use functions::version_string;
pub use relations::{Relation, RelationKind};
pub use session::PgSession;
pub use settings::{SettingRow, PG_SERVER_VERSION, PG_SERVER_VERSION_NUM};
