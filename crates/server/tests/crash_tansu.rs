//! The crash test of issue 4: tansu (a Kafka-protocol broker in its own process) stays up while
//! the `sluice` server running an aggregation is killed with SIGKILL at random moments, again
//! and again, while input keeps arriving. After the last restart the materialized table must
//! equal both the true aggregate of the input and a clean run of the same query: no input
//! counted twice, none missed. Two aggregations run side by side: one grouped by the stream's
//! key (one task), one grouped by a value column (two tasks joined by a repartition topic, whose
//! records the first task may write again after a kill).
//!
//! Skipped unless `SLUICE_TANSU_BIN` names a tansu binary (`SLUICE_REQUIRE_TANSU` makes a
//! missing binary a failure, as CI sets it). `SLUICE_CRASH_SEED` replays a run's kill times.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::producer::FutureRecord;

const KEYS: u64 = 37;
const GROUPS: u64 = 11;
const RECORDS: u64 = 30_000;
const PRODUCE_CHUNK: u64 = 500;
const KILLS: usize = 6;

type Table = BTreeMap<String, (i64, i64)>;

/// The true aggregate per key (`by_key`) or per value group.
fn expected(by_key: bool) -> Table {
    let mut t = Table::new();
    for i in 0..RECORDS {
        let k = if by_key {
            format!("k{}", i % KEYS)
        } else {
            format!("g{}", i % GROUPS)
        };
        let e = t.entry(k).or_insert((0, 0));
        e.0 += 1;
        e.1 += i as i64;
    }
    t
}

async fn table(client: &tokio_postgres::Client, name: &str) -> Option<Table> {
    let sql = format!("SELECT * FROM {name}");
    let msgs = client.simple_query(&sql).await.ok()?;
    let mut t = Table::new();
    for m in msgs {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            t.insert(
                r.get(0)?.to_string(),
                (r.get(1)?.parse().ok()?, r.get(2)?.parse().ok()?),
            );
        }
    }
    Some(t)
}

async fn wait_for_table(client: &tokio_postgres::Client, name: &str, want: &Table) -> Table {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = table(client, name).await.unwrap_or_default();
        if &got == want || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_never_counts_an_input_twice_or_misses_one() {
    let Some(bin) = tansu_bin() else {
        eprintln!("skipped: set SLUICE_TANSU_BIN to a tansu binary to run this test");
        return;
    };
    let seed = crash_seed();
    let mut rng = Rng(seed);

    let tansu_dir = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let (_tansu, kafka) = start_tansu(&bin, tansu_dir.path()).await;

    let (mut server, addr) = start_sluice(&kafka, data_dir.path()).await;
    let client = pg(&addr).await;
    for s in [
        "CREATE STREAM ev (k VARCHAR KEY, v BIGINT, g VARCHAR) WITH (kafka_topic='ev', value_format='JSON', partitions=2)",
        "SET 'auto.offset.reset'='earliest'",
        "CREATE TABLE agg AS SELECT k, COUNT(*) AS n, SUM(v) AS total FROM ev GROUP BY k EMIT CHANGES",
        "CREATE TABLE by_g AS SELECT g, COUNT(*) AS n, SUM(v) AS total FROM ev GROUP BY g EMIT CHANGES",
    ] {
        client
            .simple_query(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }

    // Input arrives in chunks for as long as the kills go on.
    let producer_kafka = kafka.clone();
    let feeding = tokio::spawn(async move {
        let p = producer(&producer_kafka);
        let mut i = 0;
        while i < RECORDS {
            let end = (i + PRODUCE_CHUNK).min(RECORDS);
            let records: Vec<(String, String)> = (i..end)
                .map(|i| {
                    (
                        format!("k{}", i % KEYS),
                        format!("{{\"V\": {i}, \"G\": \"g{}\"}}", i % GROUPS),
                    )
                })
                .collect();
            let sends = records.iter().map(|(k, v)| {
                p.send(
                    FutureRecord::to("ev").key(k).payload(v),
                    Duration::from_secs(30),
                )
            });
            for r in futures::future::join_all(sends).await {
                r.expect("produce");
            }
            i = end;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });

    kill_and_restart(&mut server, &kafka, data_dir.path(), &mut rng, KILLS).await;
    feeding.await.expect("producer finished");
    // A last kill once all input is written, then the final run.
    tokio::time::sleep(Duration::from_millis(rng.next() % 1000)).await;
    server.start_kill().expect("SIGKILL");
    let _ = server.wait().await;
    let (mut server, addr) = start_sluice(&kafka, data_dir.path()).await;
    let client = pg(&addr).await;

    let want = expected(true);
    let got = wait_for_table(&client, "AGG", &want).await;
    assert_eq!(got.len(), want.len(), "keys");
    let diff: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(v))
        .map(|(k, v)| (k, v, got.get(k)))
        .collect();
    assert!(
        diff.is_empty(),
        "seed {seed}: keys whose (count, sum) differ from the input's (key, want, got): {diff:?}"
    );
    let want_g = expected(false);
    let got_g = wait_for_table(&client, "BY_G", &want_g).await;
    assert_eq!(
        got_g, want_g,
        "seed {seed}: the repartitioned aggregation equals the input's"
    );

    // A clean run of the same query over the same input agrees.
    client
        .simple_query("SET 'auto.offset.reset'='earliest'")
        .await
        .expect("SET");
    client
        .simple_query(
            "CREATE TABLE clean AS SELECT k, COUNT(*) AS n, SUM(v) AS total FROM ev GROUP BY k EMIT CHANGES",
        )
        .await
        .expect("clean run");
    let clean = wait_for_table(&client, "CLEAN", &want).await;
    assert_eq!(clean, got, "the crashed run equals a clean run");
    server.kill().await.unwrap();
}
