//! Durable mode against tansu, an independent Kafka-protocol broker running as its own process:
//! a server killed with SIGKILL and started again keeps its streams and persistent queries, and
//! the persistent query carries on from its committed position.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The tansu binary, or None when the test should be skipped.
fn tansu_bin() -> Option<String> {
    match std::env::var("SLUICE_TANSU_BIN") {
        Ok(b) if Path::new(&b).exists() => Some(b),
        _ if std::env::var("SLUICE_REQUIRE_TANSU").is_ok() => {
            panic!("SLUICE_REQUIRE_TANSU is set but SLUICE_TANSU_BIN does not name a tansu binary")
        }
        _ => None,
    }
}

async fn start_tansu(bin: &str, dir: &Path) -> (Child, String) {
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(bin)
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
        .stdout(Stdio::null())
        .stderr(Stdio::null())
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
async fn start_sluice(kafka: &str, data_dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["--kafka", kafka, "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("sluice starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
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

async fn pg(addr: &str) -> tokio_postgres::Client {
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

async fn outputs(kafka: &str, n: usize) -> Vec<serde_json::Value> {
    let kafka = kafka.to_string();
    eventually(Duration::from_secs(60), || {
        let kafka = kafka.clone();
        async move {
            let r = tokio::task::spawn_blocking(move || read_topic(&kafka, "BIG", 1))
                .await
                .unwrap();
            (r.len() >= n).then(|| {
                r.iter()
                    .map(|(_, v)| serde_json::from_str(v.as_deref().unwrap()).unwrap())
                    .collect()
            })
        }
    })
    .await
    .unwrap_or_else(|| panic!("{n} outputs arrive"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_keeps_catalog_and_resumes_queries() {
    let Some(bin) = tansu_bin() else {
        eprintln!("skipped: set SLUICE_TANSU_BIN to a tansu binary to run this test");
        return;
    };
    let tansu_dir = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let (_tansu, kafka) = start_tansu(&bin, tansu_dir.path()).await;

    let (mut first, addr) = start_sluice(&kafka, data_dir.path()).await;
    let client = pg(&addr).await;
    for s in [
        "CREATE STREAM nums (id INT KEY, n BIGINT) WITH (kafka_topic='nums', value_format='JSON', partitions=1)",
        "SET 'auto.offset.reset'='earliest'",
        "CREATE STREAM big AS SELECT id, n FROM nums WHERE n > 10",
    ] {
        client.simple_query(s).await.unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }
    let p = producer(&kafka);
    for n in [5, 11, 12] {
        produce(&p, "nums", None, &format!(r#"{{"N": {n}}}"#)).await;
    }
    assert_eq!(outputs(&kafka, 2).await.len(), 2);

    first.kill().await.unwrap(); // SIGKILL
    for n in [13, 1, 14] {
        produce(&p, "nums", None, &format!(r#"{{"N": {n}}}"#)).await;
    }

    let (mut second, addr) = start_sluice(&kafka, data_dir.path()).await;
    let client = pg(&addr).await;
    let streams = rows(&client, "SHOW STREAMS").await;
    let mut names: Vec<_> = streams.iter().map(|r| r[0].clone().unwrap()).collect();
    names.sort();
    assert_eq!(names, vec!["BIG", "NUMS"]);
    let queries = rows(&client, "SHOW QUERIES").await;
    assert_eq!(queries.len(), 1, "{queries:?}");

    let got = outputs(&kafka, 4).await;
    let mut ns: Vec<i64> = got.iter().map(|v| v["N"].as_i64().unwrap()).collect();
    ns.sort();
    ns.dedup();
    assert_eq!(ns, vec![11, 12, 13, 14]);
    assert_eq!(got.len(), 4, "each input once: {got:?}");
    second.kill().await.unwrap();
}
