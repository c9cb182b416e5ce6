//! Integration tests against the embedded mock cluster and (when `SLUICE_TANSU_BIN` is set) a
//! tansu broker process.

mod scenario;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sluice_kafka::rdkafka::consumer::Consumer;
use sluice_kafka::rdkafka::{Offset, TopicPartitionList};
use sluice_kafka::tansu::TansuBroker;
use sluice_kafka::{
    commit_offsets, embedded_admin, produce_batch, read_topic_to_end, BatchOptions, EmbeddedBroker,
    OffsetReset, OffsetTracker, ProduceRecord, TopicReader,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_scenario() {
    scenario::init_tracing();
    let broker = EmbeddedBroker::start(1).unwrap();
    let admin = embedded_admin(&broker).unwrap();
    let config = broker.kafka_config().with_client_id_prefix("test");
    scenario::run(config, admin, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_scenario() {
    scenario::init_tracing();
    let Some(tansu) = TansuBroker::start_from_env().unwrap() else {
        return;
    };
    let config = tansu.kafka_config();
    let admin = config.admin().unwrap();
    scenario::run(config, admin, true).await;
}

/// One task per partition through split partition queues, as documented in `reader`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_split_partition_queues() {
    scenario::init_tracing();
    let broker = EmbeddedBroker::start(1).unwrap();
    let admin = embedded_admin(&broker).unwrap();
    admin.create_topic("split", 3, 1, &[]).await.unwrap();
    let config = broker.kafka_config();
    let producer = config.producer().unwrap();
    let records: Vec<ProduceRecord> = (0..90)
        .map(|i| {
            ProduceRecord::new("split", None, Some(Bytes::from(format!("{i}"))))
                .with_partition(i % 3)
        })
        .collect();
    produce_batch(&producer, &records).await.unwrap();

    let consumer = Arc::new(
        config
            .consumer("split-group", OffsetReset::Earliest)
            .unwrap(),
    );
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset("split", p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let queues: Vec<_> = (0..3)
        .map(|p| consumer.split_partition_queue("split", p).expect("queue"))
        .collect();
    // Main queue: serves events, must not see messages.
    let main = {
        let c = consumer.clone();
        tokio::spawn(async move {
            let opts = BatchOptions::default().with_max_wait(Duration::from_secs(2));
            sluice_kafka::recv_batch(&*c, &opts).await.unwrap()
        })
    };
    let mut tasks = Vec::new();
    for (p, q) in queues.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let (got, _) =
                scenario::read_n(&q, 30, &BatchOptions::default(), Duration::from_secs(30)).await;
            (p as i32, got)
        }));
    }
    for t in tasks {
        let (p, got) = t.await.unwrap();
        assert_eq!(got.len(), 30);
        assert!(got.iter().all(|r| r.partition == p), "partition {p} queue");
        let offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (0..30).collect::<Vec<i64>>());
    }
    assert!(main.await.unwrap().is_empty(), "main queue got messages");
}

/// Replay sees exactly what was there at open time even while producers keep writing, and can
/// keep following afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_replay_then_follow() {
    scenario::init_tracing();
    let broker = EmbeddedBroker::start(1).unwrap();
    let admin = embedded_admin(&broker).unwrap();
    admin.create_topic("commands", 1, 1, &[]).await.unwrap();
    let config = broker.kafka_config();
    let producer = config.producer().unwrap();
    let batch = |from: usize, to: usize| -> Vec<ProduceRecord> {
        (from..to)
            .map(|i| ProduceRecord::new("commands", None, Some(Bytes::from(format!("cmd{i}")))))
            .collect()
    };
    produce_batch(&producer, &batch(0, 25)).await.unwrap();
    let all = read_topic_to_end(&config, "commands").await.unwrap();
    let values: Vec<Bytes> = all.iter().map(|r| r.value.clone().unwrap()).collect();
    let expect: Vec<Bytes> = (0..25).map(|i| Bytes::from(format!("cmd{i}"))).collect();
    assert_eq!(values, expect, "replay keeps order");

    let mut reader = TopicReader::open(&config, "commands").await.unwrap();
    assert_eq!(reader.watermarks()[&0], (0, 25));
    produce_batch(&producer, &batch(25, 30)).await.unwrap();
    let replayed = reader.read_to_end().await.unwrap();
    let offsets: BTreeSet<i64> = replayed.iter().map(|r| r.offset).collect();
    assert!(
        (0..25).all(|o| offsets.contains(&o)),
        "everything up to the snapshot end"
    );
    let consumer = reader.into_consumer();
    let rest: Vec<i64> = if offsets.len() < 30 {
        let (more, _) = scenario::read_n(
            &consumer,
            30 - offsets.len(),
            &BatchOptions::default(),
            Duration::from_secs(20),
        )
        .await;
        more.iter().map(|r| r.offset).collect()
    } else {
        vec![]
    };
    let mut all_offsets: Vec<i64> = offsets.into_iter().chain(rest).collect();
    all_offsets.sort();
    assert_eq!(all_offsets, (0..30).collect::<Vec<i64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_admin_fails_cleanly_after_broker_stops() {
    let broker = EmbeddedBroker::start(1).unwrap();
    let admin = embedded_admin(&broker).unwrap();
    drop(broker);
    let err = admin.create_topic("late", 1, 1, &[]).await.unwrap_err();
    assert!(
        matches!(err, sluice_kafka::KafkaError::Embedded(_)),
        "{err:?}"
    );
}

/// The mock keeps an emptied group "rebalancing" for session.timeout.ms - 1 s; the embedded
/// config keeps that short so a restarted consumer resumes quickly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_group_rejoin_is_fast() {
    scenario::init_tracing();
    let broker = EmbeddedBroker::start(1).unwrap();
    let admin = embedded_admin(&broker).unwrap();
    admin.create_topic("rejoin", 2, 1, &[]).await.unwrap();
    let config = broker.kafka_config();
    let producer = config.producer().unwrap();
    let records: Vec<ProduceRecord> = (0..20)
        .map(|i| ProduceRecord::new("rejoin", None, Some(Bytes::from(format!("{i}")))))
        .collect();
    produce_batch(&producer, &records).await.unwrap();
    let opts = BatchOptions::default();
    {
        let c = config.consumer("rg", OffsetReset::Earliest).unwrap();
        c.subscribe(&["rejoin"]).unwrap();
        let (got, _) = scenario::read_n(&c, 20, &opts, Duration::from_secs(30)).await;
        let mut t = OffsetTracker::new();
        t.observe_all(&got);
        commit_offsets(&c, &t).unwrap();
    }
    produce_batch(&producer, &records[..5]).await.unwrap();
    let start = Instant::now();
    let c = config.consumer("rg", OffsetReset::Earliest).unwrap();
    c.subscribe(&["rejoin"]).unwrap();
    let (got, _) = scenario::read_n(&c, 5, &opts, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 5, "only the records after the commit");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(8), "rejoin took {took:?}");
}

#[test]
fn tansu_start_and_stop() {
    let Some(tansu) = TansuBroker::start_from_env().unwrap() else {
        return;
    };
    let addr = tansu.bootstrap_servers().to_string();
    assert!(
        tansu.dir().join("tansu.db").exists(),
        "sqlite storage in the temp dir"
    );
    std::net::TcpStream::connect(&addr).expect("tansu listens");
    let dir = tansu.dir().to_path_buf();
    tansu.stop();
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "tansu stopped"
    );
    assert!(!dir.exists(), "temp dir removed");
}
