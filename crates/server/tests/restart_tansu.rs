//! Durable mode against tansu, an independent Kafka-protocol broker running as its own process:
//! a server killed with SIGKILL and started again keeps its streams and persistent queries, and
//! the persistent query carries on from its committed position.

mod common;

use std::time::Duration;

use common::*;

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

    // DROP ... DELETE TOPIC deletes the sink topic on a real broker (the query goes with the
    // stream it created).
    let topics = |rows: Vec<Vec<Option<String>>>| -> Vec<String> {
        rows.into_iter().map(|r| r[0].clone().unwrap()).collect()
    };
    assert!(topics(rows(&client, "SHOW TOPICS").await).contains(&"BIG".to_string()));
    client
        .simple_query("DROP STREAM big DELETE TOPIC")
        .await
        .unwrap();
    let gone = eventually(Duration::from_secs(30), || async {
        (!topics(rows(&client, "SHOW TOPICS").await).contains(&"BIG".to_string())).then_some(())
    })
    .await;
    assert!(
        gone.is_some(),
        "topic BIG still listed after DROP ... DELETE TOPIC"
    );
    assert!(rows(&client, "SHOW QUERIES").await.is_empty());
    second.kill().await.unwrap();
}
