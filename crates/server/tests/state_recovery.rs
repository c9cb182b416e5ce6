//! Aggregation state survives an engine restart, both from the local sled store and, when the
//! store is lost, from the query's changelog topic; either way every input is counted once.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use sluice_kafka::{embedded_admin, EmbeddedBroker, TopicAdmin};
use sluice_server::engine::{Engine, EngineDeps};
use sluice_server::{SessionProps, StatementResult};
use sluice_state::SledDb;

const KEYS: i64 = 10;

async fn start(broker: &EmbeddedBroker, admin: &Arc<dyn TopicAdmin>, db: SledDb) -> Arc<Engine> {
    Engine::start(EngineDeps {
        service_id: "recovery_".into(),
        kafka: broker.kafka_config(),
        admin: admin.clone(),
        state: db,
        registry: None,
    })
    .await
    .expect("engine starts")
}

/// `(key, count, total)` per key from a pull query over the table.
async fn table(engine: &Engine) -> BTreeMap<String, (String, String)> {
    let props = SessionProps::default();
    let results = engine
        .execute(&props, "SELECT K, N, TOTAL FROM T")
        .await
        .expect("pull query");
    let mut out = BTreeMap::new();
    for r in results {
        let StatementResult::Rows { batches, .. } = r else {
            panic!("expected rows")
        };
        for b in batches {
            let col = |i: usize| {
                let c = cast(b.column(i), &DataType::Utf8).unwrap();
                c.as_any().downcast_ref::<StringArray>().unwrap().clone()
            };
            let (k, n, t) = (col(0), col(1), col(2));
            for i in 0..b.num_rows() {
                out.insert(
                    k.value(i).to_string(),
                    (n.value(i).to_string(), t.value(i).to_string()),
                );
            }
        }
    }
    out
}

/// What the table must hold after `rounds` rounds of input (each round: values `0..100*KEYS`
/// offset by the round, key `i % KEYS`).
fn expected(rounds: i64) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for k in 0..KEYS {
        let mut total = 0i64;
        let mut n = 0i64;
        for r in 0..rounds {
            for i in 0..100 * KEYS {
                if i % KEYS == k {
                    total += i + r;
                    n += 1;
                }
            }
        }
        out.insert(format!("k{k}"), (n.to_string(), total.to_string()));
    }
    out
}

async fn produce_round(bootstrap: &str, round: i64) {
    let p = common::producer(bootstrap);
    let records: Vec<(String, String)> = (0..100 * KEYS)
        .map(|i| {
            (
                format!("k{}", i % KEYS),
                format!("{{\"V\": {}}}", i + round),
            )
        })
        .collect();
    let sends = records.iter().map(|(k, v)| {
        p.send(
            rdkafka::producer::FutureRecord::to("s").key(k).payload(v),
            Duration::from_secs(10),
        )
    });
    for r in futures::future::join_all(sends).await {
        r.expect("produce");
    }
}

async fn wait_for(engine: &Engine, want: &BTreeMap<String, (String, String)>, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = table(engine).await;
        if &got == want {
            return;
        }
        if Instant::now() > deadline {
            panic!("{what}: expected {want:?}, got {got:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_resume_from_the_store_and_from_the_changelog() {
    let broker = EmbeddedBroker::start(1).expect("broker");
    let admin = embedded_admin(&broker).expect("admin");
    let bootstrap = broker.bootstrap_servers().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = SledDb::open(dir.path().join("a")).unwrap();

    let engine = start(&broker, &admin, db.clone()).await;
    let props = SessionProps::default();
    props.set("auto.offset.reset", "earliest");
    for sql in [
        "CREATE STREAM s (k VARCHAR KEY, v BIGINT) WITH (kafka_topic='s', value_format='JSON', partitions=1)",
        "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total FROM s GROUP BY k EMIT CHANGES",
    ] {
        engine.execute(&props, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    produce_round(&bootstrap, 0).await;
    wait_for(&engine, &expected(1), "first run").await;
    engine.shutdown().await;
    drop(engine);

    // Restart over the same store: the table is there at once, and counting carries on.
    let engine = start(&broker, &admin, db.clone()).await;
    assert_eq!(table(&engine).await, expected(1), "state after a restart");
    produce_round(&bootstrap, 1).await;
    wait_for(&engine, &expected(2), "after the restart").await;
    engine.shutdown().await;
    drop(engine);
    drop(db);

    // The local store is gone: the query rebuilds it from its changelog topic.
    let db = SledDb::open(dir.path().join("b")).unwrap();
    let engine = start(&broker, &admin, db.clone()).await;
    wait_for(&engine, &expected(2), "rebuilt from the changelog").await;
    produce_round(&bootstrap, 2).await;
    wait_for(&engine, &expected(3), "after the rebuild").await;
    engine.shutdown().await;
}

/// Rows of a pull query, as text.
async fn pull(engine: &Engine, sql: &str) -> Vec<Vec<String>> {
    let props = SessionProps::default();
    let mut out = Vec::new();
    for r in engine.execute(&props, sql).await.expect("pull query") {
        let StatementResult::Rows { batches, .. } = r else {
            panic!("expected rows")
        };
        for b in batches {
            for i in 0..b.num_rows() {
                out.push(
                    (0..b.num_columns())
                        .map(|c| {
                            let col = cast(b.column(c), &DataType::Utf8).unwrap();
                            let s = col.as_any().downcast_ref::<StringArray>().unwrap();
                            if s.is_null(i) {
                                "NULL".to_string()
                            } else {
                                s.value(i).to_string()
                            }
                        })
                        .collect(),
                );
            }
        }
    }
    out.sort();
    out
}

/// A query over a topic of 4 partitions runs a task per partition, as Kafka Streams does:
/// each task has its own stream time (a window that partition 0's time has closed is still
/// open for partition 1), and its own partition of the changelog, from which the state is
/// rebuilt partition by partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_per_partition_keep_their_own_time_and_changelog_partition() {
    let broker = EmbeddedBroker::start(1).expect("broker");
    let admin = embedded_admin(&broker).expect("admin");
    let bootstrap = broker.bootstrap_servers().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = SledDb::open(dir.path().join("a")).unwrap();

    let engine = start(&broker, &admin, db.clone()).await;
    let props = SessionProps::default();
    props.set("auto.offset.reset", "earliest");
    for sql in [
        "CREATE STREAM w (k VARCHAR KEY, v BIGINT) WITH (kafka_topic='w', value_format='JSON', partitions=4)",
        "CREATE TABLE counts AS SELECT k, COUNT(*) AS n FROM w \
         WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 0 SECONDS) GROUP BY k EMIT CHANGES",
    ] {
        engine.execute(&props, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let p = common::producer(&bootstrap);
    let send = |partition: i32, key: &'static str, ts: i64| {
        p.send(
            rdkafka::producer::FutureRecord::to("w")
                .partition(partition)
                .key(key)
                .payload("{\"V\": 1}")
                .timestamp(ts),
            Duration::from_secs(10),
        )
    };
    // Partition 0's time moves to 100 s; partition 1 is still at 1 s.
    send(0, "a", 1_000).await.expect("produce");
    send(0, "a", 100_000).await.expect("produce");
    send(1, "b", 1_000).await.expect("produce");
    // Late for partition 0 (its window [0, 10 s) closed at 100 s); on time for partition 1.
    send(0, "a", 2_000).await.expect("produce");
    send(1, "b", 2_000).await.expect("produce");
    let want = vec![
        vec!["a".to_string(), "0".into(), "1".into()],
        vec!["a".to_string(), "100000".into(), "1".into()],
        vec!["b".to_string(), "0".into(), "2".into()],
    ];
    let sql = "SELECT K, WINDOWSTART, N FROM COUNTS";
    let deadline = Instant::now() + Duration::from_secs(60);
    while pull(&engine, sql).await != want {
        assert!(
            Instant::now() < deadline,
            "expected {want:?}, got {:?}",
            pull(&engine, sql).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The changelog has a partition per task, written by the tasks that had state.
    let topics = admin.list_topics().await.expect("topics");
    let changelog = topics
        .iter()
        .find(|t| {
            t.name
                .starts_with("_confluent-ksql-recovery_query_CTAS_COUNTS")
                && t.name.ends_with("-changelog")
        })
        .unwrap_or_else(|| panic!("no changelog among {topics:?}"));
    assert_eq!(changelog.partitions, 4, "{changelog:?}");
    let written: Vec<i32> = {
        let reader = sluice_kafka::TopicReader::open(&broker.kafka_config(), &changelog.name)
            .await
            .expect("reader");
        reader
            .watermarks()
            .iter()
            .filter(|(_, (low, high))| high > low)
            .map(|(p, _)| *p)
            .collect()
    };
    assert_eq!(written, vec![0, 1], "changelog partitions written");
    engine.shutdown().await;
    drop(engine);
    drop(db);

    // A new store is rebuilt from both written partitions, and each task's time with it:
    // partition 1 still takes a record at 3 s, partition 0 still drops one at 4 s.
    let db = SledDb::open(dir.path().join("b")).unwrap();
    let engine = start(&broker, &admin, db.clone()).await;
    send(1, "b", 3_000).await.expect("produce");
    send(0, "a", 4_000).await.expect("produce");
    let want = vec![
        vec!["a".to_string(), "0".into(), "1".into()],
        vec!["a".to_string(), "100000".into(), "1".into()],
        vec!["b".to_string(), "0".into(), "3".into()],
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    while pull(&engine, sql).await != want {
        assert!(
            Instant::now() < deadline,
            "after the rebuild: expected {want:?}, got {:?}",
            pull(&engine, sql).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    engine.shutdown().await;
}
