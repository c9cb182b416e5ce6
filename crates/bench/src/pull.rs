//! Pull-query QPS against PostgreSQL (issue 7 item 5): the Sluice side of
//! `scripts/bench-pull.sh`.
//!
//! [`PullServer::start`] starts a whole Sluice server in-process (embedded broker, temporary
//! state), declares a table over a topic, materializes it the way ksqlDB does (a persistent
//! query, `CREATE TABLE kv AS SELECT * FROM kv_input`, whose rows pull queries read from its
//! state store), produces `keys` rows into the topic and waits until every row is committed
//! to the materialized table. [`write_csv`] writes the very same rows as CSV for PostgreSQL's
//! `COPY`, so both databases hold identical data and pgbench runs one script against both:
//! [`LOOKUP`] with `:id` drawn uniformly from `1..=keys`.
//!
//! Rows are a function of their id only ([`row`]): `ID BIGINT` (primary key, `1..=keys`),
//! `NAME STRING` and `AMOUNT BIGINT`. The topic's keys are KAFKA BIGINTs (8 bytes, big-endian)
//! and its values JSON.
//!
//! The embedded broker (librdkafka's mock cluster) keeps only about 5 MiB per partition;
//! records here are about 60 bytes, so 32 partitions hold a million rows with room to spare.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, Int64Array};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use sluice_server::{EngineError, KafkaMode, RunningServer, ServerConfig, SessionProps};
use tracing::info;

/// The materialized table pull queries read.
pub const TABLE: &str = "kv";
/// The topic the rows are produced to.
pub const TOPIC: &str = "kv";
/// The lookup pgbench runs against both databases (`:id` is a pgbench variable).
pub const LOOKUP: &str = "SELECT id, name, amount FROM kv WHERE id = :id;";
/// PostgreSQL's table, with the same columns.
pub const POSTGRES_DDL: &str =
    "CREATE TABLE kv (id BIGINT PRIMARY KEY, name TEXT NOT NULL, amount BIGINT NOT NULL);";

/// Why the pull-query server could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("sluice: {0}")]
    Engine(#[from] EngineError),
    #[error("kafka producer: {0}")]
    Kafka(#[from] KafkaError),
    #[error("{0}")]
    Setup(String),
}

/// How to set up the server.
#[derive(Debug, Clone)]
pub struct PullConfig {
    /// Rows in the table: ids `1..=keys`.
    pub keys: u64,
    /// Partitions of the topic (and of the materializing query's sink and changelog).
    pub partitions: u32,
    /// The PostgreSQL-protocol address (port 0: any free port).
    pub listen: SocketAddr,
    /// How long to wait for every row to be materialized.
    pub timeout: Duration,
}

impl Default for PullConfig {
    fn default() -> Self {
        Self {
            keys: 1_000_000,
            partitions: 32,
            listen: "127.0.0.1:0".parse().expect("valid address"),
            timeout: Duration::from_secs(600),
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: i64,
    pub name: String,
    pub amount: i64,
}

/// The row with id `id` (deterministic: the same in Sluice and PostgreSQL).
pub fn row(id: i64) -> Row {
    // splitmix64: scatter the amounts so they do not follow the ids.
    let mut z = (id as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    Row {
        id,
        name: format!("name-{id:08}"),
        amount: (z % 1_000_000) as i64,
    }
}

impl Row {
    /// The record value in the topic: JSON with KSQL's upper-case column names.
    pub fn to_json(&self, out: &mut Vec<u8>) {
        // Names are plain ASCII (`name-` and digits): nothing to escape.
        let _ = write!(
            out,
            r#"{{"NAME":"{}","AMOUNT":{}}}"#,
            self.name, self.amount
        );
    }

    /// The line PostgreSQL's `COPY kv FROM STDIN (FORMAT csv)` reads.
    pub fn to_csv(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(out, "{},{},{}", self.id, self.name, self.amount)
    }
}

/// Writes rows `1..=keys` as CSV (`id,name,amount`, no header).
pub fn write_csv(keys: u64, out: &mut impl Write) -> std::io::Result<()> {
    for id in 1..=keys as i64 {
        row(id).to_csv(out)?;
    }
    Ok(())
}

/// A running Sluice server whose table [`TABLE`] holds every row.
pub struct PullServer {
    pub server: RunningServer,
    /// Rows in the table.
    pub keys: u64,
    /// How long producing and materializing took.
    pub load_time: Duration,
}

impl PullServer {
    /// Starts the server, creates and loads the table, and returns once every row can be
    /// looked up (see the module docs).
    pub async fn start(config: &PullConfig) -> Result<Self, PullError> {
        let server = sluice_server::start(ServerConfig {
            kafka: KafkaMode::Embedded,
            data_dir: None,
            listen: config.listen,
            service_id: "pull_bench_".into(),
            schema_registry: None,
            schema_registry_listen: None,
        })
        .await?;
        let started = Instant::now();
        match load(&server, config).await {
            Ok(()) => Ok(Self {
                server,
                keys: config.keys,
                load_time: started.elapsed(),
            }),
            Err(e) => {
                server.shutdown().await;
                Err(e)
            }
        }
    }

    /// The PostgreSQL-protocol address.
    pub fn pg_addr(&self) -> SocketAddr {
        self.server.pg_addr
    }

    /// Stops the server.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

async fn load(server: &RunningServer, config: &PullConfig) -> Result<(), PullError> {
    let props = SessionProps::default();
    props.set("auto.offset.reset", "earliest");
    let statements = [
        format!(
            "CREATE TABLE kv_input (id BIGINT PRIMARY KEY, name STRING, amount BIGINT) \
             WITH (kafka_topic='{TOPIC}', key_format='KAFKA', value_format='JSON', \
             partitions={});",
            config.partitions
        ),
        format!("CREATE TABLE {TABLE} AS SELECT * FROM kv_input EMIT CHANGES;"),
    ];
    for s in &statements {
        server.engine.execute(&props, s).await?;
    }
    let bootstrap = server.kafka_bootstrap.clone();
    let keys = config.keys;
    let produce_start = Instant::now();
    tokio::task::spawn_blocking(move || produce(&bootstrap, keys))
        .await
        .map_err(|e| PullError::Setup(format!("producer thread: {e}")))??;
    info!(keys, elapsed = ?produce_start.elapsed(), "rows produced");
    let deadline = Instant::now() + config.timeout;
    // First the query's progress (cheap), then the committed row count (a full scan).
    loop {
        let consumed: u64 = server
            .engine
            .queries()
            .iter()
            .filter(|q| q.sink.eq_ignore_ascii_case(TABLE))
            .map(|q| {
                q.metrics
                    .records_in
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .sum();
        if consumed >= keys {
            let rows = count(server, &props).await?;
            info!(rows, keys, "materialized rows");
            if rows >= keys {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(PullError::Setup(format!(
                "only {consumed} of {keys} rows materialized after {:?}",
                config.timeout
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `SELECT COUNT(*)` of the materialized table.
async fn count(server: &RunningServer, props: &SessionProps) -> Result<u64, PullError> {
    let results = server
        .engine
        .execute(props, &format!("SELECT COUNT(*) AS n FROM {TABLE};"))
        .await?;
    let Some(sluice_server::StatementResult::Rows { batches, .. }) = results.last() else {
        return Err(PullError::Setup("COUNT(*) returned no rows".into()));
    };
    let n = batches
        .first()
        .and_then(|b| b.column(0).as_any().downcast_ref::<Int64Array>())
        .filter(|c| !c.is_empty() && !c.is_null(0))
        .map(|c| c.value(0))
        .unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Produces rows `1..=keys` to [`TOPIC`] and waits until every one is acknowledged.
fn produce(bootstrap: &str, keys: u64) -> Result<(), PullError> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        // Java's partitioner: the partition ksqlDB's own producers would pick for a key.
        .set("partitioner", "murmur2_random")
        .create()?;
    let mut value = Vec::with_capacity(64);
    for id in 1..=keys as i64 {
        value.clear();
        row(id).to_json(&mut value);
        let key = id.to_be_bytes();
        let mut record = BaseRecord::to(TOPIC).key(&key[..]).payload(&value[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        if id % 10_000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_deterministic_and_agree_between_json_and_csv() {
        assert_eq!(row(42), row(42));
        assert_ne!(row(1).amount, row(2).amount);
        let r = row(7);
        let mut json = Vec::new();
        r.to_json(&mut json);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["NAME"], "name-00000007");
        assert_eq!(v["AMOUNT"], r.amount);
        let mut csv = Vec::new();
        write_csv(2, &mut csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1], format!("2,name-00000002,{}", row(2).amount));
    }
}
