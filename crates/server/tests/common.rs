//! Shared helpers for the server's integration tests: a real server, real clients.

#![allow(dead_code)]

use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use sluice_server::{KafkaMode, RunningServer, ServerConfig};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// Start a playground server (embedded broker) on a free port.
pub async fn start_playground() -> RunningServer {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    sluice_server::start(ServerConfig {
        kafka: KafkaMode::Embedded,
        data_dir: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        service_id: "default_".into(),
        schema_registry: None,
        schema_registry_listen: Some("127.0.0.1:0".parse().unwrap()),
    })
    .await
    .expect("server starts")
}

/// Connect tokio-postgres to the server.
pub async fn connect(server: &RunningServer) -> Client {
    let conn_str = format!(
        "host={} port={} user=test dbname=sluice",
        server.pg_addr.ip(),
        server.pg_addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&conn_str, NoTls)
        .await
        .expect("connects");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Runs `sql` on a fresh connection and returns the notices the server sent with its answer.
pub async fn notices_of(server: &RunningServer, sql: &str) -> Vec<String> {
    use futures::StreamExt;
    let conn_str = format!(
        "host={} port={} user=test dbname=sluice",
        server.pg_addr.ip(),
        server.pg_addr.port()
    );
    let (client, mut connection) = tokio_postgres::connect(&conn_str, NoTls)
        .await
        .expect("connects");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notice(n) = m {
                let _ = tx.send(n.message().to_string());
            }
        }
    });
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    drop(client);
    let mut out = Vec::new();
    while let Some(n) = rx.recv().await {
        out.push(n);
    }
    out
}

/// Rows of a simple query as vectors of optional strings.
pub async fn rows(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let msgs = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    msgs.into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

/// A Kafka producer for test inputs. It places keyed records as Kafka's Java clients do
/// (murmur2 of the key bytes), which ksqlDB and Sluice assume of multi-partition topics
/// (librdkafka's own default, `consistent_random`, hashes with CRC32).
pub fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("partitioner", "murmur2_random")
        .set("message.timeout.ms", "10000")
        .create()
        .expect("producer")
}

/// Produce one record and wait for it.
pub async fn produce(p: &FutureProducer, topic: &str, key: Option<&str>, value: &str) {
    let mut rec: FutureRecord<'_, str, str> = FutureRecord::to(topic).payload(value);
    if let Some(k) = key {
        rec = rec.key(k);
    }
    p.send(rec, Duration::from_secs(10)).await.expect("produce");
}

/// Every record currently in `topic` (all partitions), as (key, value) strings.
pub fn read_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Vec<(Option<String>, Option<String>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("test-reader-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut out = Vec::new();
    for p in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .expect("watermarks");
        if high <= low {
            continue;
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p, Offset::Offset(low))
            .unwrap();
        consumer.assign(&tpl).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut next = low;
        while next < high && std::time::Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                next = m.offset() + 1;
                out.push((
                    m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    m.payload().map(|v| String::from_utf8_lossy(v).into_owned()),
                ));
            }
        }
    }
    out
}

/// Poll `f` until it returns Some, for at most `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Processes: tansu and the sluice binary (durable-mode tests).

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The tansu binary, or None when the test should be skipped.
pub fn tansu_bin() -> Option<String> {
    match std::env::var("SLUICE_TANSU_BIN") {
        Ok(b) if std::path::Path::new(&b).exists() => Some(b),
        _ if std::env::var("SLUICE_REQUIRE_TANSU").is_ok() => {
            panic!("SLUICE_REQUIRE_TANSU is set but SLUICE_TANSU_BIN does not name a tansu binary")
        }
        _ => None,
    }
}

pub async fn start_tansu(bin: &str, dir: &std::path::Path) -> (tokio::process::Child, String) {
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = tokio::process::Command::new(bin)
        .current_dir(dir)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "sqlite://tansu.db",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tansu starts");
    let addr = format!("127.0.0.1:{port}");
    let up = eventually(Duration::from_secs(30), || {
        let addr = addr.clone();
        async move { tokio::net::TcpStream::connect(&addr).await.ok().map(|_| ()) }
    })
    .await;
    assert!(up.is_some(), "tansu listens on {addr}");
    (child, addr)
}

/// Start the `sluice` binary in durable mode; returns the child and its PostgreSQL address.
pub async fn start_sluice(
    kafka: &str,
    data_dir: &std::path::Path,
) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["--kafka", kafka, "--listen", "127.0.0.1:0"])
        .args(["--schema-registry-listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        // SLUICE_TEST_SERVER_LOG sets the child's RUST_LOG (e.g. `sluice=debug`) when
        // investigating a failure; warnings only otherwise.
        .env(
            "RUST_LOG",
            std::env::var("SLUICE_TEST_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("sluice starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.trim().strip_prefix("PostgreSQL protocol:") {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("sluice exited before it was ready");
    })
    .await
    .expect("sluice becomes ready");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

pub async fn pg(addr: &str) -> tokio_postgres::Client {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let (client, conn) = tokio_postgres::connect(
        &format!("host={host} port={port} user=test dbname=sluice"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A small deterministic generator for kill times (xorshift).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The seed of a crash test's kill times: `SLUICE_CRASH_SEED`, else the clock (printed, so a
/// failing run can be replayed).
pub fn crash_seed() -> u64 {
    let seed = std::env::var("SLUICE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed: {seed} (SLUICE_CRASH_SEED={seed} replays the kill times)");
    seed
}

/// Kills the `sluice` child with SIGKILL and starts it again over the same data directory,
/// `kills` times at random moments (300 ms to 2.8 s apart).
pub async fn kill_and_restart(
    server: &mut tokio::process::Child,
    kafka: &str,
    data_dir: &std::path::Path,
    rng: &mut Rng,
    kills: usize,
) {
    for kill in 0..kills {
        let wait = Duration::from_millis(300 + rng.next() % 2500);
        tokio::time::sleep(wait).await;
        server.start_kill().expect("SIGKILL");
        let _ = server.wait().await;
        eprintln!("kill {kill} after {wait:?}");
        let (s, _) = start_sluice(kafka, data_dir).await;
        *server = s;
    }
}
