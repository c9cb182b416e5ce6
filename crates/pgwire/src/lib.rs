//! `sluice-pgwire`: the PostgreSQL wire protocol front end of Sluice.
//!
//! psql, JDBC / psycopg / tokio-postgres drivers and BI tools talk to Sluice through this crate.
//! It speaks the protocol (with the `pgwire` crate's messages and codec, and `arrow-pg` for
//! Arrow → PostgreSQL types) and hands every statement that is not about the connection itself
//! to a [`Session`] from the engine's [`Backend`].
//!
//! Entry points: [`serve`] / [`serve_with_config`] (on a bound listener) and [`run`] (binds
//! [`ServerConfig::listen`]); the engine implements [`Backend`] and [`Session`].
//!
//! What this crate does itself:
//! * startup with trust authentication (no password; SSL requests are refused with `N`),
//!   ParameterStatus values psql and drivers need, BackendKeyData for cancellation;
//! * the simple query protocol: a quote-aware statement splitter (`'..'`, `".."`, `` `..` ``,
//!   `$$..$$`, comments), statements run in order, the first error stops the rest;
//! * the extended protocol (Parse/Bind/Describe/Execute/Close/Sync/Flush), with bound
//!   parameters substituted into the SQL text as quoted literals (see `literal.rs` for the
//!   exact rules) and `Execute` row limits that suspend and resume a portal — for a push query
//!   the stream stays in the portal between Executes;
//! * `BEGIN`/`COMMIT`/`ROLLBACK`/`SAVEPOINT` (transaction status only: the engine has no
//!   transactions), cursors (`DECLARE`/`FETCH`/`MOVE`/`CLOSE`, forward only) and
//!   `COPY (query) TO STDOUT` in text, CSV or binary format;
//! * push query rows are written and flushed batch by batch; a CancelRequest ends the running
//!   statement with SQLSTATE 57014, and a client that disconnects mid-stream drops the stream
//!   immediately (the socket is watched while streaming).
//!
//! What it is not: it knows nothing of KSQL, has no catalog (`pg_catalog` queries are the
//! engine's business), no TLS, no passwords, no COPY FROM.

pub mod backend;
mod command;
mod connection;
mod copy;
mod encode;
mod error;
mod lexer;
mod literal;
mod server;
mod source;

use std::net::SocketAddr;
use std::time::Duration;

pub use backend::{Backend, BackendError, BatchStream, Description, Outcome, Session};
pub use error::WireError;
pub use server::{run, serve, serve_with_config};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where [`run`] listens. `serve*` take a bound listener instead.
    pub listen: SocketAddr,
    /// Reported as `server_version`; psql parses the leading `major.minor`.
    pub server_version: String,
    /// How long a `FETCH` on a push-query cursor waits for its first row before returning none.
    pub fetch_first_row_timeout: Duration,
    /// Once a `FETCH` on a push-query cursor has a row, how much longer it collects more.
    pub fetch_linger: Duration,
    /// A client must finish the startup handshake within this time.
    pub startup_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5432)),
            server_version: "15.0 (Sluice)".to_owned(),
            fetch_first_row_timeout: Duration::from_secs(1),
            fetch_linger: Duration::from_millis(200),
            startup_timeout: Duration::from_secs(60),
        }
    }
}
