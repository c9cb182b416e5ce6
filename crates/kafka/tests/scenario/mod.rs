//! The produce/consume/admin scenario run against every broker kind (embedded mock, tansu).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sluice_kafka::rdkafka::consumer::Consumer;
use sluice_kafka::{
    commit_offsets, committed_offsets, produce_batch, recv_batch, BatchOptions, KafkaConfig,
    KafkaError, KafkaRecord, MessageSource, OffsetReset, OffsetTracker, ProduceRecord, TopicAdmin,
    TopicReader,
};

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Reads until `n` records arrived (or fails after `timeout`), checking batch limits.
/// Returns the records and the sizes of the non-empty batches.
pub async fn read_n<S: MessageSource + ?Sized>(
    source: &S,
    n: usize,
    opts: &BatchOptions,
    timeout: Duration,
) -> (Vec<KafkaRecord>, Vec<usize>) {
    let deadline = Instant::now() + timeout;
    let mut all = Vec::new();
    let mut sizes = Vec::new();
    while all.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records after {timeout:?}",
            all.len()
        );
        let opts = opts.with_max_wait(Duration::from_millis(500));
        let batch = match recv_batch(source, &opts).await {
            Ok(b) => b,
            Err(e) if e.is_retriable() => continue,
            Err(e) => panic!("recv_batch failed: {e}"),
        };
        if !batch.is_empty() {
            assert!(batch.len() <= opts.max_records);
            sizes.push(batch.len());
        }
        all.extend(batch);
    }
    (all, sizes)
}

/// Nothing more arrives within `quiet`.
pub async fn assert_quiet<S: MessageSource + ?Sized>(source: &S, quiet: Duration) {
    let opts = BatchOptions::default().with_max_wait(quiet);
    let extra = recv_batch(source, &opts).await.unwrap();
    assert!(
        extra.is_empty(),
        "unexpected records: {:?}",
        extra
            .iter()
            .map(|r| (r.partition, r.offset))
            .collect::<Vec<_>>()
    );
}

fn key(i: usize) -> Bytes {
    Bytes::from(format!("key-{}", i % 40))
}

fn value(i: usize) -> Bytes {
    Bytes::from(format!("value-{i}"))
}

/// Create/describe/list, produce, consume in batches, commit, resume, replay, delete.
/// `can_delete`: whether the admin supports deleting topics.
pub async fn run(config: KafkaConfig, admin: Arc<dyn TopicAdmin>, can_delete: bool) {
    let topic = format!("orders-{}", std::process::id());
    const N: usize = 300;

    // --- admin -----------------------------------------------------------------------------
    admin.create_topic(&topic, 3, 1, &[]).await.unwrap();
    match admin.create_topic(&topic, 3, 1, &[]).await {
        Err(KafkaError::TopicAlreadyExists {
            topic: t,
            partitions,
        }) => {
            assert_eq!(t, topic);
            assert_eq!(partitions, Some(3));
        }
        other => panic!("expected TopicAlreadyExists, got {other:?}"),
    }
    let info = admin
        .describe_topic(&topic)
        .await
        .unwrap()
        .expect("topic exists");
    assert_eq!(info.partitions, 3);
    assert_eq!(info.replicas, 1);
    assert_eq!(
        admin.describe_topic("no-such-topic-xyz").await.unwrap(),
        None
    );
    let empty_topic = format!("empty-{}", std::process::id());
    admin.create_topic(&empty_topic, 2, 1, &[]).await.unwrap();
    let listed = admin.list_topics().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&topic.as_str()), "{names:?}");
    assert!(names.contains(&empty_topic.as_str()), "{names:?}");
    assert!(listed.iter().all(|t| !t.is_internal()), "{names:?}");
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "sorted: {names:?}");
    assert_eq!(
        listed.iter().find(|t| t.name == topic).unwrap().partitions,
        3
    );

    // --- produce ---------------------------------------------------------------------------
    let producer = config.producer().unwrap();
    let records: Vec<ProduceRecord> = (0..N)
        .map(|i| {
            let mut r = ProduceRecord::new(topic.as_str(), Some(key(i)), Some(value(i)))
                .with_timestamp(1_700_000_000_000 + i as i64);
            if i.is_multiple_of(10) {
                r = r.with_header("n", Some(Bytes::from(i.to_string())));
            }
            r
        })
        .collect();
    let delivered = produce_batch(&producer, &records).await.unwrap();
    assert_eq!(delivered.len(), N);
    // Equal keys land in the same partition; offsets per partition are 0..count.
    let mut partition_of_key: BTreeMap<Bytes, i32> = BTreeMap::new();
    let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (i, d) in delivered.iter().enumerate() {
        let p = *partition_of_key.entry(key(i)).or_insert(d.partition);
        assert_eq!(p, d.partition, "key {:?} moved partitions", key(i));
        assert!((0..3).contains(&d.partition));
        offsets.entry(d.partition).or_default().push(d.offset);
    }
    assert!(offsets.len() > 1, "40 keys should spread over partitions");
    for (p, offs) in &mut offsets {
        offs.sort();
        let expect: Vec<i64> = (0..offs.len() as i64).collect();
        assert_eq!(*offs, expect, "partition {p}");
    }
    let count_in = |p: i32| offsets.get(&p).map(|o| o.len() as i64).unwrap_or(0);

    // --- consume in a group, commit half -----------------------------------------------------
    let group = format!("g-{}", std::process::id());
    let opts = BatchOptions {
        max_records: 64,
        ..BatchOptions::default()
    };
    let committed: BTreeMap<i32, i64>;
    {
        let consumer = config.consumer(&group, OffsetReset::Earliest).unwrap();
        consumer.subscribe(&[&topic]).unwrap();
        let (got, sizes) = read_n(&consumer, N, &opts, Duration::from_secs(60)).await;
        assert_eq!(got.len(), N);
        assert!(sizes.iter().any(|s| *s > 1), "no real batching: {sizes:?}");
        let mut seen = BTreeSet::new();
        let mut last: BTreeMap<i32, i64> = BTreeMap::new();
        for r in &got {
            assert_eq!(&*r.topic, topic);
            let i: usize = std::str::from_utf8(r.value.as_ref().unwrap())
                .unwrap()
                .strip_prefix("value-")
                .unwrap()
                .parse()
                .unwrap();
            assert!(seen.insert(i), "duplicate record {i}");
            assert_eq!(r.key.as_ref(), Some(&key(i)));
            assert_eq!(r.partition, delivered[i].partition);
            assert_eq!(r.offset, delivered[i].offset);
            assert_eq!(r.timestamp, Some(1_700_000_000_000 + i as i64));
            if i.is_multiple_of(10) {
                assert_eq!(
                    r.headers,
                    vec![("n".to_string(), Some(Bytes::from(i.to_string())))]
                );
            } else {
                assert!(r.headers.is_empty());
            }
            if let Some(prev) = last.insert(r.partition, r.offset) {
                assert!(r.offset > prev, "offsets must increase per partition");
            }
        }
        // "Process" the first half of every partition and commit that.
        let mut tracker = OffsetTracker::new();
        tracker.observe_all(got.iter().filter(|r| r.offset < count_in(r.partition) / 2));
        commit_offsets(&consumer, &tracker).unwrap();
        committed = tracker.iter().map(|(_, p, o)| (p, o)).collect();
        let stored = committed_offsets(&consumer, &topic, 0..3).unwrap();
        assert_eq!(stored, committed);
    } // consumer closed: leaves the group

    // --- resume in the same group after the committed offsets -------------------------------
    {
        let consumer = config.consumer(&group, OffsetReset::Earliest).unwrap();
        consumer.subscribe(&[&topic]).unwrap();
        let expected: BTreeSet<(i32, i64)> = delivered
            .iter()
            .map(|d| (d.partition, d.offset))
            .filter(|(p, o)| *o >= committed.get(p).copied().unwrap_or(0))
            .collect();
        assert!(expected.len() < N && !expected.is_empty());
        let (got, _) = read_n(&consumer, expected.len(), &opts, Duration::from_secs(60)).await;
        let got_set: BTreeSet<(i32, i64)> = got.iter().map(|r| (r.partition, r.offset)).collect();
        assert_eq!(got_set, expected);
        assert_quiet(&consumer, Duration::from_millis(300)).await;
    }

    // --- replay from the beginning to the end, without a group -----------------------------
    let mut reader = TopicReader::open(&config, &topic).await.unwrap();
    let ends: i64 = reader.watermarks().values().map(|(_, high)| high).sum();
    assert_eq!(ends, N as i64);
    let replayed = reader.read_to_end().await.unwrap();
    assert!(reader.at_end());
    assert_eq!(replayed.len(), N);
    let replayed_set: BTreeSet<(i32, i64)> =
        replayed.iter().map(|r| (r.partition, r.offset)).collect();
    assert_eq!(replayed_set.len(), N);
    assert_eq!(reader.next_batch().await.unwrap(), None);

    drop(reader);

    let mut reader = TopicReader::open(&config, &empty_topic).await.unwrap();
    assert!(reader.at_end());
    assert_eq!(reader.next_batch().await.unwrap(), None);
    // Close readers before deleting their topic: librdkafka 2.12 crashes (NULL topic name in
    // leader discovery) on tansu's Fetch response for a topic that no longer exists.
    drop(reader);
    match TopicReader::open(&config, "no-such-topic-xyz").await {
        Err(KafkaError::UnknownTopic { topic }) => assert_eq!(topic, "no-such-topic-xyz"),
        Err(e) => panic!("expected UnknownTopic, got {e}"),
        Ok(_) => panic!("expected UnknownTopic, got a reader"),
    }

    // --- delete -----------------------------------------------------------------------------
    if can_delete {
        admin.delete_topic(&empty_topic).await.unwrap();
        assert_eq!(admin.describe_topic(&empty_topic).await.unwrap(), None);
        assert!(matches!(
            admin.delete_topic(&empty_topic).await,
            Err(KafkaError::UnknownTopic { .. })
        ));
    } else {
        assert!(matches!(
            admin.delete_topic(&empty_topic).await,
            Err(KafkaError::Unsupported { .. })
        ));
    }
}
