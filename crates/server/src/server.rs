//! Starting and stopping a whole server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use sluice_kafka::{EmbeddedBroker, KafkaConfig, TopicAdmin};
use sluice_pgcatalog::{PgCatalog, Relation, RelationKind};
use tokio::sync::oneshot;
use tracing::{info, warn};

use sluice_registry::SchemaRegistry;

use crate::backend::SluiceBackend;
use crate::config::{KafkaMode, ServerConfig};
use crate::engine::{Engine, EngineDeps};
use crate::error::{EngineError, Result};

/// A server that is running. Dropping it does not stop it; call [`RunningServer::shutdown`].
pub struct RunningServer {
    /// The PostgreSQL-protocol address it listens on.
    pub pg_addr: SocketAddr,
    /// Kafka bootstrap servers (the embedded broker's address in playground mode).
    pub kafka_bootstrap: String,
    /// Where state lives.
    pub data_dir: PathBuf,
    /// Whether state is temporary (playground mode).
    pub ephemeral: bool,
    /// Where Sluice's own Schema Registry REST API listens, if it is served.
    pub registry_addr: Option<SocketAddr>,
    registry_task: Option<tokio::task::JoinHandle<()>>,
    pub engine: Arc<Engine>,
    stop: Option<oneshot::Sender<()>>,
    serve: tokio::task::JoinHandle<()>,
    _broker: Option<EmbeddedBroker>,
    _tmp: Option<tempfile::TempDir>,
}

impl RunningServer {
    /// Stop accepting connections, stop every query, and wait for both.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.serve).await;
        if let Some(t) = self.registry_task.take() {
            t.abort();
        }
        self.engine.shutdown().await;
    }
}

/// Opens the state directory. A corrupt one is moved aside (kept for inspection) and replaced by
/// an empty one: every query rebuilds its state from its changelog topic.
pub fn open_state(dir: &std::path::Path) -> Result<sluice_state::SledDb> {
    match sluice_state::SledDb::open(dir) {
        Ok(db) => Ok(db),
        Err(sluice_state::StateError::Corrupt { detail, .. }) => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let aside = dir.with_extension(format!("corrupt-{stamp}"));
            warn!(
                dir = %dir.display(),
                moved_to = %aside.display(),
                %detail,
                "the state directory is corrupt; rebuilding every query's state from its changelog"
            );
            std::fs::rename(dir, &aside).map_err(|e| {
                EngineError::Internal(format!("cannot move aside {}: {e}", dir.display()))
            })?;
            sluice_state::SledDb::open(dir).map_err(|e| EngineError::Internal(e.to_string()))
        }
        Err(e) => Err(EngineError::Internal(e.to_string())),
    }
}

/// Start Kafka (embedded, or connect to the given cluster), the engine and the listener.
pub async fn start(config: ServerConfig) -> Result<RunningServer> {
    let (broker, bootstrap) = match &config.kafka {
        KafkaMode::Embedded => {
            let b = EmbeddedBroker::start(1)?;
            let bootstrap = b.bootstrap_servers().to_string();
            (Some(b), bootstrap)
        }
        KafkaMode::External(bootstrap) => (None, bootstrap.clone()),
    };
    let (data_dir, tmp) = match &config.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| {
                EngineError::Internal(format!("cannot create data dir {}: {e}", d.display()))
            })?;
            (d.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("sluice-")
                .tempdir()
                .map_err(|e| EngineError::Internal(format!("cannot create temp dir: {e}")))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    // The embedded broker's own client settings (short group session timeout: the mock cluster
    // otherwise keeps an emptied group rebalancing for most of a minute).
    let kafka = match &broker {
        Some(b) => b.kafka_config(),
        None => KafkaConfig::new(bootstrap.clone()),
    }
    .with_client_id_prefix(format!("sluice-{}", config.service_id));
    let admin: Arc<dyn TopicAdmin> = match &broker {
        Some(b) => sluice_kafka::embedded_admin(b)?,
        None => kafka.admin()?,
    };
    let state = open_state(&data_dir.join("state"))?;
    let (registry, registry_addr, registry_task) = start_registry(&config, &data_dir).await?;
    let engine = Engine::start(EngineDeps {
        service_id: config.service_id.clone(),
        kafka,
        admin,
        state,
        registry: Some(registry),
    })
    .await?;
    let pg = Arc::new(
        PgCatalog::new("sluice")
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?,
    );
    {
        let pg = pg.clone();
        engine.on_catalog_change(Box::new(move |catalog| {
            let relations = catalog
                .sources()
                .filter_map(|s| {
                    let schema = s.batch_schema().ok()?;
                    let visible: Vec<usize> = (0..s.columns.len()).collect();
                    Some(Relation {
                        name: s.name.clone(),
                        schema: Arc::new(schema.project(&visible).ok()?),
                        kind: match s.kind {
                            sluice_catalog::SourceKind::Stream => RelationKind::Stream,
                            sluice_catalog::SourceKind::Table => RelationKind::Table,
                        },
                    })
                })
                .collect();
            if let Err(e) = pg.set_relations(relations) {
                tracing::warn!(error = %e, "could not update the PostgreSQL catalog view");
            }
        }));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| EngineError::Internal(format!("cannot listen on {}: {e}", config.listen)))?;
    let pg_addr = listener
        .local_addr()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let backend = Arc::new(SluiceBackend {
        engine: engine.clone(),
        pg,
    });
    let (stop, stop_rx) = oneshot::channel::<()>();
    let serve = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop_rx.await;
        };
        if let Err(e) = sluice_pgwire::serve(listener, backend, shutdown).await {
            tracing::error!(error = %e, "pgwire listener failed");
        }
    });
    info!(%pg_addr, kafka = %bootstrap, data_dir = %data_dir.display(), "sluice is serving");
    Ok(RunningServer {
        pg_addr,
        kafka_bootstrap: bootstrap,
        data_dir,
        ephemeral: tmp.is_some(),
        registry_addr,
        registry_task,
        engine,
        stop: Some(stop),
        serve,
        _broker: broker,
        _tmp: tmp,
    })
}

type RegistryParts = (
    Arc<dyn SchemaRegistry>,
    Option<SocketAddr>,
    Option<tokio::task::JoinHandle<()>>,
);

/// The schema registry: an external one, or Sluice's own (persisted in `data_dir/registry`,
/// its REST API served when configured).
async fn start_registry(
    config: &ServerConfig,
    data_dir: &std::path::Path,
) -> Result<RegistryParts> {
    if let Some(url) = &config.schema_registry {
        let r = sluice_registry::HttpRegistry::new(url)
            .map_err(|e| EngineError::Internal(format!("--schema-registry {url}: {e}")))?;
        return Ok((Arc::new(r), None, None));
    }
    let dir = data_dir.join("registry");
    let db = sled::open(&dir).map_err(|e| {
        EngineError::Internal(format!(
            "cannot open the schema registry in {}: {e}",
            dir.display()
        ))
    })?;
    let tree = db
        .open_tree("schemas")
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let local: Arc<dyn SchemaRegistry> = Arc::new(
        sluice_registry::LocalRegistry::open(tree)
            .map_err(|e| EngineError::Internal(e.to_string()))?,
    );
    let Some(listen) = config.schema_registry_listen else {
        return Ok((local, None, None));
    };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        EngineError::Internal(format!("cannot serve the schema registry on {listen}: {e}"))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let served = local.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = sluice_registry::serve(served, listener).await {
            tracing::error!(error = %e, "schema registry listener failed");
        }
    });
    info!(%addr, "schema registry REST API is serving");
    Ok((local, Some(addr), Some(task)))
}
