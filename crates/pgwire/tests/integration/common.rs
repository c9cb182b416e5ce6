//! An in-test engine behind the wire: DataFusion answers ordinary SELECTs (so describe and
//! parameter types are real), and a few made-up statements exercise the rest of the contract:
//!
//! * `SELECT * FROM ticks EMIT CHANGES [LIMIT n]` — a push query: one row (`n` BIGINT,
//!   `label` TEXT) every `TICK` ms, ending after `n` rows when limited;
//! * `SELECT * FROM feed_<name> EMIT CHANGES` — a push query fed by the test through
//!   [`TestBackend::feed`];
//! * `SELECT * FROM broken EMIT CHANGES` — one row, then a stream error;
//! * any statement mentioning `bogus` — error 42703 positioned at the word;
//! * `CREATE ...`, `INSERT ...`, `SET ...` — commands (SET answers with a notice);
//! * `SHOW STREAMS` — rows tagged `SHOW`.
//!
//! Live push streams are counted so tests can check that cancel/disconnect drop them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use futures::channel::mpsc;
use futures::StreamExt;
use sluice_pgwire::{Backend, BackendError, BatchStream, Description, Outcome, Session};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const TICK: Duration = Duration::from_millis(30);

type FeedItem = Result<RecordBatch, BackendError>;

#[derive(Default)]
pub struct TestBackend {
    pub live_streams: Arc<AtomicUsize>,
    pub executed: Mutex<Vec<String>>,
    feeds: Mutex<HashMap<String, mpsc::UnboundedReceiver<FeedItem>>>,
}

impl TestBackend {
    /// A sender for `SELECT * FROM feed_<name> EMIT CHANGES`.
    pub fn feed(&self, name: &str) -> mpsc::UnboundedSender<FeedItem> {
        let (tx, rx) = mpsc::unbounded();
        self.feeds.lock().unwrap().insert(name.to_owned(), rx);
        tx
    }

    pub fn live(&self) -> usize {
        self.live_streams.load(Ordering::SeqCst)
    }

    pub fn executed(&self) -> Vec<String> {
        self.executed.lock().unwrap().clone()
    }
}

pub fn ticks_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("label", DataType::Utf8, true),
    ]))
}

pub fn tick_batch(from: i64, count: i64) -> RecordBatch {
    let ns: Vec<i64> = (from..from + count).collect();
    let labels: Vec<String> = ns.iter().map(|n| format!("tick-{n}")).collect();
    RecordBatch::try_new(
        ticks_schema(),
        vec![
            Arc::new(Int64Array::from(ns)) as ArrayRef,
            Arc::new(StringArray::from(labels)) as ArrayRef,
        ],
    )
    .unwrap()
}

/// Decrements the live-stream counter when the stream is dropped.
struct LiveGuard(Arc<AtomicUsize>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn counted(live: &Arc<AtomicUsize>, stream: BatchStream) -> BatchStream {
    live.fetch_add(1, Ordering::SeqCst);
    let guard = LiveGuard(live.clone());
    stream
        .map(move |item| {
            let _keep = &guard;
            item
        })
        .boxed()
}

fn ticks(limit: Option<i64>) -> BatchStream {
    futures::stream::unfold(0i64, move |n| async move {
        if limit.is_some_and(|l| n >= l) {
            return None;
        }
        tokio::time::sleep(TICK).await;
        Some((Ok(tick_batch(n, 1)), n + 1))
    })
    .boxed()
}

pub struct TestSession {
    backend: Arc<TestBackend>,
    ctx: SessionContext,
    pub user: String,
}

fn df_error(e: datafusion::error::DataFusionError) -> BackendError {
    BackendError::new("42601", e.to_string())
}

fn limit_of(sql: &str) -> Option<i64> {
    let upper = sql.to_ascii_uppercase();
    let at = upper.rfind("LIMIT")?;
    sql[at + 5..].trim().parse().ok()
}

impl TestSession {
    fn bogus(sql: &str) -> Option<BackendError> {
        let at = sql.find("bogus")?;
        Some(BackendError {
            position: Some(sql[..at].chars().count() + 1),
            detail: Some("There is no such column.".into()),
            hint: Some("Check the spelling.".into()),
            ..BackendError::new("42703", "column \"bogus\" does not exist")
        })
    }

    fn push(&self, sql: &str) -> Result<Option<(SchemaRef, BatchStream)>, BackendError> {
        let upper = sql.to_ascii_uppercase();
        if !upper.contains("EMIT CHANGES") {
            return Ok(None);
        }
        let live = &self.backend.live_streams;
        if upper.contains("FROM TICKS") {
            return Ok(Some((ticks_schema(), counted(live, ticks(limit_of(sql))))));
        }
        if upper.contains("FROM BROKEN") {
            let stream = futures::stream::iter(vec![
                Ok(tick_batch(0, 1)),
                Err(BackendError::new("XX000", "the source broke")),
            ])
            .boxed();
            return Ok(Some((ticks_schema(), counted(live, stream))));
        }
        if let Some(at) = upper.find("FROM FEED_") {
            let name: String = sql[at + 10..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let rx = self
                .backend
                .feeds
                .lock()
                .unwrap()
                .remove(&name)
                .ok_or_else(|| BackendError::new("42P01", format!("no feed {name}")))?;
            return Ok(Some((ticks_schema(), counted(live, rx.boxed()))));
        }
        Err(BackendError::new("42P01", "unknown stream"))
    }
}

#[async_trait]
impl Session for TestSession {
    async fn execute(&self, sql: &str) -> Result<Outcome, BackendError> {
        self.backend.executed.lock().unwrap().push(sql.to_owned());
        if let Some(e) = Self::bogus(sql) {
            return Err(e);
        }
        if let Some((schema, stream)) = self.push(sql)? {
            return Ok(Outcome::Push { schema, stream });
        }
        let upper = sql.trim().to_ascii_uppercase();
        if upper.starts_with("CREATE STREAM") {
            return Ok(Outcome::Command {
                tag: "CREATE STREAM".into(),
                notice: None,
            });
        }
        if upper.starts_with("INSERT") {
            return Ok(Outcome::Command {
                tag: "INSERT 0 1".into(),
                notice: None,
            });
        }
        if upper.starts_with("SET") {
            return Ok(Outcome::Command {
                tag: "SET".into(),
                notice: Some(format!("property set for {}", self.user)),
            });
        }
        if upper == "SHOW STREAMS" {
            let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false)]));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(StringArray::from(vec!["ticks", "feed"])) as ArrayRef],
            )
            .unwrap();
            return Ok(Outcome::Rows {
                schema,
                batches: vec![batch],
                tag: Some("SHOW".into()),
            });
        }
        let df = self.ctx.sql(sql).await.map_err(df_error)?;
        let schema: SchemaRef = df.schema().inner().clone();
        let batches = df.collect().await.map_err(df_error)?;
        Ok(Outcome::Rows {
            schema,
            batches,
            tag: None,
        })
    }

    async fn describe(&self, sql: &str) -> Result<Description, BackendError> {
        if let Some(e) = Self::bogus(sql) {
            return Err(e);
        }
        let upper = sql.trim().to_ascii_uppercase();
        if upper.contains("EMIT CHANGES") {
            return Ok(Description {
                params: vec![],
                columns: Some(ticks_schema()),
            });
        }
        if ["CREATE", "INSERT", "SET"]
            .iter()
            .any(|k| upper.starts_with(k))
        {
            return Ok(Description::default());
        }
        let plan = self
            .ctx
            .state()
            .create_logical_plan(sql)
            .await
            .map_err(df_error)?;
        let types = plan.get_parameter_types().map_err(df_error)?;
        let mut params = vec![DataType::Utf8; types.len()];
        for (name, ty) in types {
            let index: usize = name.trim_start_matches('$').parse().unwrap();
            params[index - 1] = ty.unwrap_or(DataType::Utf8);
        }
        Ok(Description {
            params,
            columns: Some(plan.schema().inner().clone()),
        })
    }
}

pub struct SharedBackend(pub Arc<TestBackend>);

impl Backend for SharedBackend {
    fn open_session(&self, user: &str, _database: &str) -> Arc<dyn Session> {
        Arc::new(TestSession {
            backend: self.0.clone(),
            ctx: SessionContext::new(),
            user: user.to_owned(),
        })
    }
}

/// A running server; dropping it shuts the server down.
pub struct Server {
    pub port: u16,
    pub backend: Arc<TestBackend>,
    _stop: oneshot::Sender<()>,
}

pub async fn start() -> Server {
    start_with(sluice_pgwire::ServerConfig::default()).await
}

pub async fn start_with(config: sluice_pgwire::ServerConfig) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let backend = Arc::new(TestBackend::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let shared: Arc<dyn Backend> = Arc::new(SharedBackend(backend.clone()));
    tokio::spawn(async move {
        sluice_pgwire::serve_with_config(listener, shared, config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Server {
        port,
        backend,
        _stop: stop,
    }
}

/// Wait (bounded) until `f` holds.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}
