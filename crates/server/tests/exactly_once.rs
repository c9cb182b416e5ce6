//! `processing.guarantee = 'exactly_once_v2'` against the embedded broker (librdkafka's mock
//! cluster, which implements the transaction protocol but writes no transaction markers, so
//! aborted records would stay visible, stores no offsets sent with TxnOffsetCommit, and gives
//! every InitProducerId a new producer id instead of bumping the epoch of the transactional id,
//! so it does not fence): what is checked here is the protocol flow — every batch commits
//! through a transaction the broker accepts, not through a separate offset commit.

mod common;

use std::time::Duration;

use common::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// The offset the consumer group `group` committed for `topic` partition 0.
fn committed(bootstrap: &str, group: &str, topic: &str) -> Option<i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).ok()?;
    match got.elements()[0].offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_commits_offsets_in_transactions_and_fences_zombies() {
    let server = start_playground().await;
    let client = connect(&server).await;

    // An unknown guarantee is refused when set.
    let err = client
        .simple_query("SET 'processing.guarantee'='twice'")
        .await
        .unwrap_err();
    assert!(err
        .as_db_error()
        .unwrap()
        .message()
        .contains("processing.guarantee"));

    for sql in [
        "CREATE STREAM clicks (id INT KEY, page VARCHAR) WITH (kafka_topic='clicks', value_format='JSON', partitions=1)",
        "SET 'auto.offset.reset'='earliest'",
        "SET 'cache.max.bytes.buffering'='0'",
        "SET 'processing.guarantee'='exactly_once_v2'",
        "CREATE TABLE per_page AS SELECT page, COUNT(*) AS n FROM clicks GROUP BY page",
        "INSERT INTO clicks (id, page) VALUES (1, '/a')",
        "INSERT INTO clicks (id, page) VALUES (2, '/b')",
        "INSERT INTO clicks (id, page) VALUES (3, '/a')",
    ] {
        client
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
    let queries = rows(&client, "SHOW QUERIES").await;
    let query_id = queries[0][0].clone().unwrap();
    let group = format!("_confluent-ksql-default_query_{query_id}");

    // Results and outputs as under at-least-once.
    let table = eventually(Duration::from_secs(30), || async {
        let r = rows(&client, "SELECT page, n FROM per_page ORDER BY page").await;
        (r == vec![vec![s("/a"), s("2")], vec![s("/b"), s("1")]]).then_some(r)
    })
    .await;
    assert!(table.is_some(), "the aggregate is materialized");
    let out = read_topic(&server.kafka_bootstrap, "PER_PAGE", 1);
    assert_eq!(out.len(), 3, "one output per input: {out:?}");

    // Under exactly-once the input offsets go to the group only inside the transactions
    // (TxnOffsetCommit), never through a separate offset commit. The mock cluster accepts
    // TxnOffsetCommit but does not store the offsets, so the group shows none here; under
    // at-least-once the query's own commit would show 3.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        committed(&server.kafka_bootstrap, &group, "clicks"),
        None,
        "no offset commit outside the transactions"
    );

    // Contrast: an at-least-once query over the same input commits its offsets itself, and
    // the group shows them (so the check above can see commits).
    for sql in [
        "SET 'processing.guarantee'='at_least_once'",
        "CREATE TABLE per_page_alo AS SELECT page, COUNT(*) AS n FROM clicks GROUP BY page",
    ] {
        client.simple_query(sql).await.unwrap();
    }
    let alo = rows(&client, "SHOW QUERIES")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .find(|id| id.starts_with("CTAS_PER_PAGE_ALO"))
        .unwrap();
    let alo_group = format!("_confluent-ksql-default_query_{alo}");
    let offset = eventually(Duration::from_secs(30), || async {
        committed(&server.kafka_bootstrap, &alo_group, "clicks").filter(|o| *o == 3)
    })
    .await;
    assert_eq!(offset, Some(3));

    // Both queries keep running (no transaction failed).
    let q = rows(&client, "SHOW QUERIES").await;
    assert!(q.iter().all(|r| r[2] == s("RUNNING:1")), "{q:?}");

    server.shutdown().await;
}
