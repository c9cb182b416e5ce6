//! The first session from the README, end to end: psql-compatible client in, Kafka through the
//! operators, results out to a topic and to push queries.

mod common;

use std::time::Duration;

use common::*;

const SETUP: &[&str] = &[
    "CREATE STREAM pageviews (user_id VARCHAR KEY, page VARCHAR, ms BIGINT) WITH (kafka_topic='pageviews', value_format='JSON', partitions=2)",
    "INSERT INTO pageviews (user_id, page, ms) VALUES ('u1', '/home', 120)",
    "INSERT INTO pageviews (user_id, page, ms) VALUES ('u2', '/cart', 80)",
    "INSERT INTO pageviews (user_id, page, ms) VALUES ('u3', '/pay', 300)",
    "SET 'auto.offset.reset'='earliest'",
    "CREATE STREAM slow_views AS SELECT user_id, page, ms * 2 AS ms2 FROM pageviews WHERE ms > 100 EMIT CHANGES",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_session_filters_projects_and_writes_the_sink_topic() {
    let server = start_playground().await;
    let client = connect(&server).await;
    for s in SETUP {
        client
            .simple_query(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }

    // The push query returns u1 and u3 with ms doubled.
    let mut got = tokio::time::timeout(
        Duration::from_secs(30),
        rows(&client, "SELECT * FROM slow_views EMIT CHANGES LIMIT 2"),
    )
    .await
    .expect("push query with LIMIT ends");
    got.sort();
    assert_eq!(
        got,
        vec![
            vec![Some("u1".into()), Some("/home".into()), Some("240".into())],
            vec![Some("u3".into()), Some("/pay".into()), Some("600".into())],
        ]
    );

    // The sink topic holds the same records as JSON, keyed by user id.
    let mut records = read_topic(&server.kafka_bootstrap, "SLOW_VIEWS", 2);
    records.sort();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0].0.as_deref(), Some("u1"));
    let v: serde_json::Value = serde_json::from_str(records[0].1.as_deref().unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({"PAGE": "/home", "MS2": 240}));
    let v: serde_json::Value = serde_json::from_str(records[1].1.as_deref().unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({"PAGE": "/pay", "MS2": 600}));

    // SHOW / DESCRIBE describe what was created.
    let streams = rows(&client, "SHOW STREAMS").await;
    let names: Vec<_> = streams.iter().map(|r| r[0].clone().unwrap()).collect();
    assert!(
        names.contains(&"PAGEVIEWS".to_string()) && names.contains(&"SLOW_VIEWS".to_string()),
        "{names:?}"
    );
    let queries = rows(&client, "SHOW QUERIES").await;
    assert_eq!(queries.len(), 1);
    assert!(queries[0][0]
        .as_deref()
        .unwrap()
        .starts_with("CSAS_SLOW_VIEWS_"));
    let described = rows(&client, "DESCRIBE slow_views").await;
    let fields: Vec<_> = described.iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(fields, vec!["ROWTIME", "USER_ID", "PAGE", "MS2"]);

    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_from_an_outside_producer_reaches_a_running_push_query() {
    let server = start_playground().await;
    let client = connect(&server).await;
    client
        .simple_query("CREATE STREAM clicks (id INT KEY, url STRING) WITH (kafka_topic='clicks', value_format='JSON', partitions=1)")
        .await
        .unwrap();
    let bootstrap = server.kafka_bootstrap.clone();
    // The push query starts at the latest offset; produce once it is running.
    let query = tokio::spawn(async move {
        rows(
            &client,
            "SELECT url FROM clicks WHERE url LIKE '%sluice%' EMIT CHANGES LIMIT 1",
        )
        .await
    });
    // The query reads from the latest offset once its consumer has joined: keep producing
    // until the row shows up.
    let p = producer(&bootstrap);
    let feeder = tokio::spawn(async move {
        loop {
            produce(&p, "clicks", None, r#"{"URL": "http://other"}"#).await;
            produce(&p, "clicks", None, r#"{"url": "https://sluice.dev"}"#).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let rows = tokio::time::timeout(Duration::from_secs(20), query)
        .await
        .expect("push query ends at LIMIT")
        .unwrap();
    feeder.abort();
    assert_eq!(rows, vec![vec![Some("https://sluice.dev".to_string())]]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_records_are_skipped_and_the_query_goes_on() {
    let server = start_playground().await;
    let client = connect(&server).await;
    client
        .simple_query("CREATE STREAM nums (n BIGINT) WITH (kafka_topic='nums', value_format='JSON', partitions=1)")
        .await
        .unwrap();
    client
        .simple_query("SET 'auto.offset.reset'='earliest'")
        .await
        .unwrap();
    client
        .simple_query("CREATE STREAM doubled AS SELECT n * 2 AS d FROM nums")
        .await
        .unwrap();
    let p = producer(&server.kafka_bootstrap);
    produce(&p, "nums", None, r#"{"N": 1}"#).await;
    produce(&p, "nums", None, "this is not json").await;
    produce(&p, "nums", None, r#"{"N": "not a number"}"#).await;
    produce(&p, "nums", None, r#"{"N": 21}"#).await;
    let out = eventually(Duration::from_secs(20), || {
        let b = server.kafka_bootstrap.clone();
        async move {
            let r = read_topic(&b, "DOUBLED", 1);
            (r.len() >= 2).then_some(r)
        }
    })
    .await
    .expect("good records come through");
    let values: Vec<serde_json::Value> = out
        .iter()
        .map(|(_, v)| serde_json::from_str(v.as_deref().unwrap()).unwrap())
        .collect();
    assert_eq!(
        values,
        vec![serde_json::json!({"D": 2}), serde_json::json!({"D": 42})]
    );
    let q = rows(&client, "SHOW QUERIES").await;
    assert_eq!(q[0][8].as_deref(), Some("2"), "two records skipped: {q:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_statements_get_sqlstates_and_the_server_keeps_serving() {
    let server = start_playground().await;
    let client = connect(&server).await;
    let code = |e: tokio_postgres::Error| e.code().map(|c| c.code().to_string());

    let e = client
        .simple_query("CREATE STREM x (a INT)")
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("42601"));

    let e = client
        .simple_query("SELECT * FROM nowhere EMIT CHANGES")
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("42P01"));

    client
        .simple_query("CREATE STREAM s (id INT KEY, n BIGINT) WITH (kafka_topic='s', value_format='JSON', partitions=1)")
        .await
        .unwrap();
    let e = client
        .simple_query("CREATE STREAM s (id INT KEY, n BIGINT) WITH (kafka_topic='s', value_format='JSON', partitions=1)")
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("42710"));

    let e = client
        .simple_query("INSERT INTO s (id, n) VALUES (1, 'abc')")
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("42804"));

    let e = client
        .simple_query("CREATE STREAM t (a INT) WITH (kafka_topic='missing', value_format='JSON')")
        .await
        .unwrap_err();
    let msg = e
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_default();
    assert!(msg.contains("does not exist"), "{msg}");

    // Still serving.
    assert_eq!(rows(&client, "SHOW STREAMS").await.len(), 1);
    server.shutdown().await;
}
