//! The crash test of issue 5: tansu stays up while the `sluice` server running a stream–table
//! join and a stream–stream join is killed with SIGKILL at random moments, again and again,
//! while input keeps arriving. Join outputs are at-least-once (a record may be written again
//! after a kill), so the test compares the *set* of output records with the true join of the
//! input: every expected record is there and nothing else is. A table row lost from the join's
//! state shows up as an order enriched with a null tier (the join is a LEFT JOIN); a stream row
//! lost from the window state, as a missing pair. The topics have 3 partitions and both joins
//! run a task per partition: the stream-stream join's right side (joined on a value column) is
//! re-keyed through `-Join-right-repartition`, and the stream-table join's orders (joined on a
//! value column) through `-Join-left-repartition`. A third query joins the stream-stream join's
//! rows with the table on another column, so it runs in two stages, its joined rows re-keyed
//! between them through `-Join-left-2-repartition` (each stage a task per partition, with its
//! own state).
//!
//! Skipped unless `SLUICE_TANSU_BIN` names a tansu binary (`SLUICE_REQUIRE_TANSU` makes a
//! missing binary a failure, as CI sets it). `SLUICE_CRASH_SEED` replays a run's kill times.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::producer::FutureRecord;

const CUSTOMERS: u64 = 20;
const KEYS: u64 = 13;
const RECORDS: u64 = 4_000;
const PRODUCE_CHUNK: u64 = 250;
const KILLS: usize = 4;

/// (key, value) of every distinct record of `topic`, values parsed as JSON.
fn distinct(kafka: &str, topic: &str) -> BTreeSet<(String, String)> {
    read_topic(kafka, topic, 3)
        .into_iter()
        .map(|(k, v)| {
            let v: serde_json::Value =
                serde_json::from_str(&v.unwrap_or_default()).unwrap_or(serde_json::Value::Null);
            (k.unwrap_or_default(), v.to_string())
        })
        .collect()
}

/// Asserts that `got` is `want`, naming how many records are missing and unexpected (and the
/// first few of each).
fn same(want: &BTreeSet<(String, String)>, got: &BTreeSet<(String, String)>, what: &str) {
    let missing: Vec<_> = want.difference(got).collect();
    let wrong: Vec<_> = got.difference(want).collect();
    assert!(
        missing.is_empty() && wrong.is_empty(),
        "{what}: {} of {} missing, e.g. {:?}; {} unexpected, e.g. {:?}",
        missing.len(),
        want.len(),
        &missing[..missing.len().min(5)],
        wrong.len(),
        &wrong[..wrong.len().min(5)],
    );
}

async fn wait_for(
    kafka: &str,
    topic: &str,
    want: &BTreeSet<(String, String)>,
) -> BTreeSet<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (k, t) = (kafka.to_string(), topic.to_string());
        let got = tokio::task::spawn_blocking(move || distinct(&k, &t))
            .await
            .unwrap();
        if want.is_subset(&got) || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_keeps_join_state() {
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
        "CREATE TABLE cust (id VARCHAR PRIMARY KEY, tier VARCHAR) WITH (kafka_topic='cust', value_format='JSON', partitions=3)",
        "CREATE STREAM orders (id VARCHAR KEY, cid VARCHAR, n BIGINT) WITH (kafka_topic='orders', value_format='JSON', partitions=3)",
        "CREATE STREAM l (k VARCHAR KEY, n BIGINT) WITH (kafka_topic='l', value_format='JSON', partitions=3)",
        "CREATE STREAM r (id VARCHAR KEY, k2 VARCHAR, m BIGINT, cid VARCHAR) WITH (kafka_topic='r', value_format='JSON', partitions=3)",
        "SET 'auto.offset.reset'='earliest'",
        "CREATE STREAM enriched AS SELECT o.cid, o.n, c.tier FROM orders o LEFT JOIN cust c ON o.cid = c.id EMIT CHANGES",
        "CREATE STREAM pairs AS SELECT l.k, l.n, r.m FROM l JOIN r WITHIN 5 MILLISECONDS ON l.k = r.k2 EMIT CHANGES",
        "CREATE STREAM trios AS SELECT r.cid, l.n, r.m, c.tier FROM l JOIN r WITHIN 5 MILLISECONDS ON l.k = r.k2 LEFT JOIN cust c ON r.cid = c.id EMIT CHANGES",
    ] {
        client
            .simple_query(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }

    // The customers first (at time 1), then orders and both streams in chunks for as long as
    // the kills go on. Left row i (time 1000 + 100 i) meets right row i only (1 ms later; the
    // next right row of its key is 100 * KEYS ms away).
    let producer_kafka = kafka.clone();
    let feeding = tokio::spawn(async move {
        let p = producer(&producer_kafka);
        for j in 0..CUSTOMERS {
            let (k, v) = (format!("c{j}"), format!("{{\"TIER\": \"t{j}\"}}"));
            p.send(
                FutureRecord::to("cust").key(&k).payload(&v).timestamp(1),
                Duration::from_secs(30),
            )
            .await
            .expect("produce");
        }
        let mut i = 0;
        while i < RECORDS {
            let end = (i + PRODUCE_CHUNK).min(RECORDS);
            let mut records: Vec<(&str, String, String, i64)> = Vec::new();
            for i in i..end {
                let t = 1000 + 100 * i as i64;
                let k = format!("k{}", i % KEYS);
                records.push((
                    "orders",
                    format!("o{i}"),
                    format!("{{\"CID\": \"c{}\", \"N\": {i}}}", i % CUSTOMERS),
                    t,
                ));
                records.push(("l", k.clone(), format!("{{\"N\": {i}}}"), t));
                records.push((
                    "r",
                    format!("r{i}"),
                    format!(
                        "{{\"K2\": \"{k}\", \"M\": {i}, \"CID\": \"c{}\"}}",
                        i % CUSTOMERS
                    ),
                    t + 1,
                ));
            }
            let sends = records.iter().map(|(topic, k, v, t)| {
                p.send(
                    FutureRecord::to(topic).key(k).payload(v).timestamp(*t),
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
    tokio::time::sleep(Duration::from_millis(rng.next() % 1000)).await;
    server.start_kill().expect("SIGKILL");
    let _ = server.wait().await;
    let (mut server, _addr) = start_sluice(&kafka, data_dir.path()).await;

    let enriched: BTreeSet<(String, String)> = (0..RECORDS)
        .map(|i| {
            let c = i % CUSTOMERS;
            (
                format!("c{c}"),
                serde_json::json!({"N": i, "TIER": format!("t{c}")}).to_string(),
            )
        })
        .collect();
    let got = wait_for(&kafka, "ENRICHED", &enriched).await;
    same(&enriched, &got, &format!("seed {seed}: stream-table join"));

    let pairs: BTreeSet<(String, String)> = (0..RECORDS)
        .map(|i| {
            (
                format!("k{}", i % KEYS),
                serde_json::json!({"N": i, "M": i}).to_string(),
            )
        })
        .collect();
    let got = wait_for(&kafka, "PAIRS", &pairs).await;
    same(&pairs, &got, &format!("seed {seed}: stream-stream join"));

    let trios: BTreeSet<(String, String)> = (0..RECORDS)
        .map(|i| {
            let c = i % CUSTOMERS;
            (
                format!("c{c}"),
                serde_json::json!({"N": i, "M": i, "TIER": format!("t{c}")}).to_string(),
            )
        })
        .collect();
    let got = wait_for(&kafka, "TRIOS", &trios).await;
    same(&trios, &got, &format!("seed {seed}: two-stage join"));
    server.kill().await.unwrap();
}
