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
