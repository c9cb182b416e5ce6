//! Accepting connections: SSL refusal (via pgwire's negotiation), the startup handshake with
//! trust authentication, cancel requests, and one task per connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pgwire::api::auth::{protocol_negotiation, save_startup_parameters_to_metadata};
use pgwire::api::{
    ClientInfo, ConnectionManager, PgWireConnectionState, PidSecretKeyGenerator,
    RandomPidSecretKeyGenerator,
};
use pgwire::messages::response::{ErrorResponse, ReadyForQuery, TransactionStatus};
use pgwire::messages::startup::{Authentication, BackendKeyData, ParameterStatus, Startup};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::negotiate_tls;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use crate::backend::Backend;
use crate::connection::Connection;
use crate::ServerConfig;

/// What every connection task shares.
struct Shared {
    backend: Arc<dyn Backend>,
    config: Arc<ServerConfig>,
    cancels: Arc<ConnectionManager>,
    keys: RandomPidSecretKeyGenerator,
}

/// Accept connections until `shutdown` resolves; one task per connection; a failing connection
/// never takes the server down. Uses [`ServerConfig::default`] (its `listen` is ignored: the
/// listener is given).
pub async fn serve(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    serve_with_config(listener, backend, ServerConfig::default(), shutdown).await
}

/// Bind `config.listen` and [`serve_with_config`] on it.
pub async fn run(
    config: ServerConfig,
    backend: Arc<dyn Backend>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let listener = TcpListener::bind(config.listen).await?;
    serve_with_config(listener, backend, config, shutdown).await
}

/// [`serve`] with explicit settings. When `shutdown` resolves the server stops accepting and
/// ends the open connections (their running queries are dropped).
pub async fn serve_with_config(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let shared = Arc::new(Shared {
        backend,
        config: Arc::new(config),
        cancels: Arc::new(ConnectionManager::new()),
        keys: RandomPidSecretKeyGenerator::default(),
    });
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "pgwire server listening");
    }
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let shared = shared.clone();
                    tasks.spawn(async move { handle_socket(stream, peer, shared).await });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = joined {
                    if e.is_panic() {
                        error!(error = %e, "connection task panicked");
                    }
                }
            }
        }
    }
    info!(connections = tasks.len(), "pgwire server shutting down");
    tasks.shutdown().await;
    Ok(())
}

fn fatal(code: &str, message: &str) -> PgWireBackendMessage {
    PgWireBackendMessage::ErrorResponse(ErrorResponse::new(vec![
        (b'S', "FATAL".to_owned()),
        (b'V', "FATAL".to_owned()),
        (b'C', code.to_owned()),
        (b'M', message.to_owned()),
    ]))
}

/// The ParameterStatus values sent at startup. psql reads server_version (to know what it may
/// ask), client_encoding and standard_conforming_strings (how to quote); JDBC checks DateStyle
/// and integer_datetimes.
fn startup_parameters(
    config: &ServerConfig,
    startup: &Startup,
    user: &str,
) -> Vec<(String, String)> {
    let application = startup
        .parameters
        .get("application_name")
        .cloned()
        .unwrap_or_default();
    [
        ("server_version", config.server_version.as_str()),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("IntervalStyle", "postgres"),
        ("TimeZone", "UTC"),
        ("integer_datetimes", "on"),
        ("standard_conforming_strings", "on"),
        ("is_superuser", "off"),
        ("default_transaction_read_only", "off"),
        ("in_hot_standby", "off"),
        ("session_authorization", user),
        ("application_name", application.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

async fn handle_socket(tcp: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    // SSLRequest / GSSENCRequest are answered 'N' (no TLS); direct TLS is refused.
    let mut socket = match negotiate_tls::<()>(tcp, None).await {
        Ok(Some(socket)) => socket,
        Ok(None) => {
            debug!(%peer, "direct TLS connection refused");
            return;
        }
        Err(e) => {
            debug!(%peer, error = %e, "connection failed before startup");
            return;
        }
    };
    let first = tokio::time::timeout(shared.config.startup_timeout, socket.next()).await;
    let startup = match first {
        Ok(Some(Ok(PgWireFrontendMessage::Startup(startup)))) => startup,
        Ok(Some(Ok(PgWireFrontendMessage::CancelRequest(cancel)))) => {
            let found = shared.cancels.cancel(cancel.pid, &cancel.secret_key).await;
            debug!(pid = cancel.pid, found, "cancel request");
            let _ = socket.close().await;
            return;
        }
        Ok(Some(Ok(other))) => {
            debug!(%peer, message = ?other, "unexpected startup message");
            let _ = socket.send(fatal("08P01", "invalid startup packet")).await;
            return;
        }
        Ok(Some(Err(e))) => {
            debug!(%peer, error = %e, "bad startup packet");
            let _ = socket.send(fatal("08P01", &e.to_string())).await;
            return;
        }
        Ok(None) => return,
        Err(_) => {
            debug!(%peer, "startup timed out");
            return;
        }
    };
    if let Err(e) = protocol_negotiation(&mut socket, &startup).await {
        let _ = socket.send(fatal("08P01", &e.to_string())).await;
        return;
    }
    save_startup_parameters_to_metadata(&mut socket, &startup);
    let Some(user) = startup.parameters.get("user").cloned() else {
        let _ = socket
            .send(fatal(
                "28000",
                "no PostgreSQL user name specified in startup packet",
            ))
            .await;
        return;
    };
    let database = startup
        .parameters
        .get("database")
        .cloned()
        .unwrap_or_else(|| user.clone());
    let (pid, key) = shared.keys.generate(&socket);
    socket.set_pid_and_secret_key(pid, key.clone());
    // The guard unregisters the cancel key when the connection ends.
    let (handle, _guard) = shared.cancels.register(pid, key.clone());

    let mut greeting = vec![PgWireBackendMessage::Authentication(Authentication::Ok)];
    greeting.extend(
        startup_parameters(&shared.config, &startup, &user)
            .into_iter()
            .map(|(k, v)| PgWireBackendMessage::ParameterStatus(ParameterStatus::new(k, v))),
    );
    greeting.push(PgWireBackendMessage::BackendKeyData(BackendKeyData::new(
        pid, key,
    )));
    greeting.push(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
        TransactionStatus::Idle,
    )));
    for msg in greeting {
        if socket.feed(msg).await.is_err() {
            return;
        }
    }
    if socket.flush().await.is_err() {
        return;
    }
    socket.set_state(PgWireConnectionState::ReadyForQuery);

    info!(%peer, pid, %user, %database, "connection opened");
    let session = shared.backend.open_session(&user, &database);
    let result = Connection::new(socket, session, shared.config.clone(), handle)
        .run()
        .await;
    match result {
        Ok(()) => info!(%peer, pid, "connection closed"),
        Err(e) => info!(%peer, pid, error = %e, "connection ended"),
    }
}
