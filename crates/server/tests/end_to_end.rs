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

    // PARTITION BY re-keys: the sink's records are keyed by page, the old key is in the value.
    client
        .simple_query(
            "CREATE STREAM by_page AS SELECT page, user_id, ms FROM pageviews PARTITION BY page",
        )
        .await
        .unwrap();
    let mut keyed = eventually(Duration::from_secs(30), || async {
        let r = read_topic(&server.kafka_bootstrap, "BY_PAGE", 2);
        (r.len() == 3).then_some(r)
    })
    .await
    .expect("three re-keyed records");
    keyed.sort();
    assert_eq!(keyed[0].0.as_deref(), Some("/cart"));
    let v: serde_json::Value = serde_json::from_str(keyed[0].1.as_deref().unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({"USER_ID": "u2", "MS": 80}));
    client.simple_query("DROP STREAM by_page").await.unwrap();

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

/// PRINT, SHOW TOPICS / PROPERTIES, DESCRIBE EXTENDED (with the writing query's statistics),
/// SHOW QUERIES' lag and state columns, map and array subscripts, and DROP ... DELETE TOPIC on
/// the embedded broker (which cannot delete: the client is told).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_print_and_subscripts() {
    let server = start_playground().await;
    let client = connect(&server).await;
    for s in [
        "CREATE STREAM m (id VARCHAR KEY, tags MAP<VARCHAR, INT>, arr ARRAY<INT>) WITH (kafka_topic='m_topic', value_format='JSON', partitions=1)",
        "INSERT INTO m (id, tags, arr) VALUES ('a', MAP('x' := 1, 'y' := 2), ARRAY[5, 6])",
        "INSERT INTO m (id, tags, arr) VALUES ('b', MAP('x' := 3), ARRAY[7])",
        "SET 'auto.offset.reset'='earliest'",
    ] {
        client
            .simple_query(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }

    // Map subscripts (a missing key is NULL), array subscripts from the front and the back.
    let mut got = tokio::time::timeout(
        Duration::from_secs(30),
        rows(
            &client,
            "SELECT id, tags['x'] AS x, tags['y'] AS y, arr[1] AS first, arr[-1] AS last FROM m EMIT CHANGES LIMIT 2",
        ),
    )
    .await
    .expect("push query ends");
    got.sort();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        got,
        vec![
            vec![s("a"), s("1"), s("2"), s("5"), s("6")],
            vec![s("b"), s("3"), None, s("7"), s("7")],
        ]
    );

    // PRINT shows the raw records: time, key, value, partition.
    let printed = tokio::time::timeout(
        Duration::from_secs(30),
        rows(&client, "PRINT 'm_topic' FROM BEGINNING LIMIT 2"),
    )
    .await
    .expect("PRINT with LIMIT ends");
    assert_eq!(printed.len(), 2, "{printed:?}");
    let first = printed[0][0].clone().unwrap();
    assert!(
        first.starts_with("rowtime: ") && first.contains("key: a, value: {\"TAGS\":{"),
        "{first}"
    );
    assert!(first.ends_with("partition: 0"), "{first}");

    // SHOW TOPICS lists the topic with its partition count; internal topics stay hidden.
    let topics = rows(&client, "SHOW TOPICS").await;
    assert!(
        topics.contains(&vec![s("m_topic"), s("1"), s("1")]),
        "{topics:?}"
    );
    assert!(topics
        .iter()
        .all(|t| !t[0].as_deref().unwrap().starts_with('_')));

    // SHOW PROPERTIES reflects SET.
    let props = rows(&client, "SHOW PROPERTIES").await;
    assert!(
        props.contains(&vec![s("auto.offset.reset"), s("SESSION"), s("earliest")]),
        "{props:?}"
    );

    // SHOW FUNCTIONS lists the functions Sluice runs, with ksqlDB's categories.
    let functions = rows(&client, "SHOW FUNCTIONS").await;
    for (name, category) in [
        ("TRANSFORM", "LAMBDA"),
        ("SUBSTRING", "STRING"),
        ("COUNT", "AGGREGATE"),
        ("EXPLODE", "TABLE"),
        ("MASK_LEFT", "STRING"),
    ] {
        assert!(
            functions.contains(&vec![s(name), s(category)]),
            "{name} missing: {functions:?}"
        );
    }
    assert!(functions.len() > 140, "{}", functions.len());

    // A persistent query: SHOW QUERIES counts its records, lag and state; DESCRIBE EXTENDED shows
    // the source's settings and the query that writes it.
    client
        .simple_query("CREATE TABLE counts AS SELECT id, COUNT(*) AS n FROM m GROUP BY id")
        .await
        .unwrap();
    let queries = eventually(Duration::from_secs(30), || async {
        let q = rows(&client, "SHOW QUERIES").await;
        (q.len() == 1 && q[0][6] == s("2")).then_some(q)
    })
    .await
    .expect("the query processes both records");
    let header = [
        "Records In",
        "Records Out",
        "Records Skipped",
        "Input Lag",
        "State Entries",
        "State Bytes",
    ];
    assert_eq!(queries[0][6..12].len(), header.len());
    assert_eq!(
        queries[0][9],
        s("0"),
        "input lag once caught up: {queries:?}"
    );
    let entries: u64 = queries[0][10].as_deref().unwrap().parse().unwrap();
    let bytes: u64 = queries[0][11].as_deref().unwrap().parse().unwrap();
    assert!(
        entries >= 2 && bytes > 0,
        "two groups in state: {queries:?}"
    );

    let described = rows(&client, "DESCRIBE EXTENDED counts").await;
    let find = |k: &str| {
        described
            .iter()
            .find(|r| r[0].as_deref() == Some(k))
            .unwrap_or_else(|| panic!("{k} in {described:?}"))
            .clone()
    };
    assert_eq!(find("[Type]")[1], s("TABLE"));
    assert_eq!(find("[Kafka topic]")[1], s("COUNTS"));
    assert_eq!(find("[Value format]")[1], s("JSON"));
    let writer = find("[Written by query]");
    assert!(writer[1].as_deref().unwrap().starts_with("CTAS_COUNTS_"));
    assert!(
        writer[2]
            .as_deref()
            .unwrap()
            .starts_with("records-in: 2, records-out: 2, records-skipped: 0, input-lag: 0"),
        "{writer:?}"
    );
    let reader = rows(&client, "DESCRIBE EXTENDED m").await;
    assert!(
        reader
            .iter()
            .any(|r| r[0] == s("[Read by query]") && r[1] == writer[1]),
        "{reader:?}"
    );

    // DROP ... DELETE TOPIC: the embedded broker cannot delete topics, and says so.
    client.simple_query("TERMINATE ALL").await.unwrap();
    let notices = notices_of(&server, "DROP STREAM m DELETE TOPIC").await;
    assert!(
        notices
            .iter()
            .any(|n| n.contains("was dropped") && n.contains("The topic was not deleted")),
        "{notices:?}"
    );

    server.shutdown().await;
}

/// HEADERS and HEADER('k') columns: records produced with headers by an outside client are read
/// into them, DESCRIBE marks them, a CSAS copies them into its value (BYTES as base64 in JSON),
/// and INSERT VALUES refuses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_columns_read_record_headers() {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::FutureRecord;

    let server = start_playground().await;
    let client = connect(&server).await;
    for s in [
        "CREATE STREAM h (id VARCHAR KEY, v INT, hs ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, trace BYTES HEADER('trace')) WITH (kafka_topic='h_topic', value_format='JSON', partitions=1)",
        "SET 'auto.offset.reset'='earliest'",
        "CREATE STREAM h_out AS SELECT id, v, trace, hs FROM h",
    ] {
        client
            .simple_query(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }
    let p = producer(&server.kafka_bootstrap);
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "trace",
            value: Some("t-1"),
        })
        .insert(Header {
            key: "other",
            value: Some("o"),
        });
    p.send(
        FutureRecord::to("h_topic")
            .key("a")
            .payload(r#"{"V": 1}"#)
            .headers(headers),
        Duration::from_secs(10),
    )
    .await
    .expect("produce");
    produce(&p, "h_topic", Some("b"), r#"{"V": 2}"#).await;

    let got = tokio::time::timeout(
        Duration::from_secs(30),
        rows(
            &client,
            "SELECT id, v, trace IS NULL AS no_trace, hs[2]->key AS second FROM h EMIT CHANGES LIMIT 2",
        ),
    )
    .await
    .expect("push query ends");
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        got,
        vec![
            vec![s("a"), s("1"), s("f"), s("other")],
            vec![s("b"), s("2"), s("t"), None],
        ]
    );

    // The CSAS sink carries the header values as value columns (BYTES are base64 in JSON).
    let records = eventually(Duration::from_secs(30), || async {
        let r = read_topic(&server.kafka_bootstrap, "H_OUT", 1);
        (r.len() == 2).then_some(r)
    })
    .await
    .expect("two output records");
    let v: serde_json::Value = serde_json::from_str(records[0].1.as_deref().unwrap()).unwrap();
    assert_eq!(v["TRACE"], serde_json::json!("dC0x")); // base64("t-1")
    assert_eq!(
        v["HS"],
        serde_json::json!([{"KEY": "trace", "VALUE": "dC0x"}, {"KEY": "other", "VALUE": "bw=="}])
    );

    let described = rows(&client, "DESCRIBE h").await;
    assert!(described.contains(&vec![s("TRACE"), s("BYTES"), s("(header('trace'))")]));
    assert!(described
        .iter()
        .any(|r| r[0] == s("HS") && r[2] == s("(headers)")));

    let err = client
        .simple_query("INSERT INTO h (id, v, trace) VALUES ('c', 3, TO_BYTES('x', 'utf8'))")
        .await
        .unwrap_err();
    let msg = err
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("Cannot insert into HEADER columns: TRACE"),
        "{err:?}"
    );
    let err = client
        .simple_query("CREATE STREAM bad (id VARCHAR KEY, h STRING HEADER('x')) WITH (kafka_topic='h_topic', value_format='JSON')")
        .await
        .unwrap_err();
    let msg = err
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("Invalid type for HEADER('x') column"),
        "{err:?}"
    );

    server.shutdown().await;
}

/// The lines of `EXPLAIN <query>`.
async fn explain(client: &tokio_postgres::Client, query: &str) -> Vec<String> {
    rows(client, &format!("EXPLAIN {query}"))
        .await
        .into_iter()
        .filter_map(|r| r[0].clone())
        .collect()
}

/// Issue 5's enrichment query: orders (a stream) joined with customers (a table) on a non-key
/// column of the orders, filtered on the table's columns. Only platinum customers' orders reach
/// the output topic, keyed by the join key; a customer update is seen by later orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_table_join_enriches_orders_with_platinum_customers() {
    let server = start_playground().await;
    let client = connect(&server).await;
    for s in [
        "CREATE STREAM orders (id INT KEY, customer_id VARCHAR, amount DOUBLE) WITH (kafka_topic='orders', value_format='JSON', partitions=1)",
        "CREATE TABLE customers (id VARCHAR PRIMARY KEY, name VARCHAR, type VARCHAR) WITH (kafka_topic='customers', value_format='JSON', partitions=1)",
        "SET 'auto.offset.reset'='earliest'",
        "CREATE STREAM platinum_orders AS SELECT o.id AS order_id, o.customer_id, c.name, o.amount FROM orders o JOIN customers c ON o.customer_id = c.id WHERE c.type = 'Platinum'",
    ] {
        client
            .simple_query(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }
    let p = producer(&server.kafka_bootstrap);
    produce(
        &p,
        "customers",
        Some("c1"),
        r#"{"NAME": "Ada", "TYPE": "Platinum"}"#,
    )
    .await;
    produce(
        &p,
        "customers",
        Some("c2"),
        r#"{"NAME": "Bob", "TYPE": "Gold"}"#,
    )
    .await;
    // Orders arrive after the customers (later record times).
    tokio::time::sleep(Duration::from_millis(20)).await;
    for s in [
        "INSERT INTO orders (id, customer_id, amount) VALUES (1, 'c1', 10.5)",
        "INSERT INTO orders (id, customer_id, amount) VALUES (2, 'c2', 20)",
        "INSERT INTO orders (id, customer_id, amount) VALUES (3, 'c9', 30)",
    ] {
        client.simple_query(s).await.unwrap();
    }

    let first = eventually(Duration::from_secs(30), || async {
        let r = read_topic(&server.kafka_bootstrap, "PLATINUM_ORDERS", 1);
        (!r.is_empty()).then_some(r)
    })
    .await
    .expect("an enriched order");
    assert_eq!(
        first.len(),
        1,
        "only the platinum customer's order: {first:?}"
    );
    assert_eq!(first[0].0.as_deref(), Some("c1"), "keyed by the join key");
    let v: serde_json::Value = serde_json::from_str(first[0].1.as_deref().unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"ORDER_ID": 1, "NAME": "Ada", "AMOUNT": 10.5})
    );

    // Bob becomes platinum: his next order is enriched, the earlier one is not replayed.
    produce(
        &p,
        "customers",
        Some("c2"),
        r#"{"NAME": "Bob", "TYPE": "Platinum"}"#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    client
        .simple_query("INSERT INTO orders (id, customer_id, amount) VALUES (4, 'c2', 40)")
        .await
        .unwrap();
    let both = eventually(Duration::from_secs(30), || async {
        let r = read_topic(&server.kafka_bootstrap, "PLATINUM_ORDERS", 1);
        (r.len() >= 2).then_some(r)
    })
    .await
    .expect("the second enriched order");
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[1].0.as_deref(), Some("c2"));
    let v: serde_json::Value = serde_json::from_str(both[1].1.as_deref().unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"ORDER_ID": 4, "NAME": "Bob", "AMOUNT": 40.0})
    );

    // EXPLAIN shows the join.
    let text = explain(
        &client,
        "SELECT * FROM orders o LEFT JOIN customers c ON o.customer_id = c.id EMIT CHANGES",
    )
    .await;
    assert!(
        text.iter()
            .any(|l| l.contains("StreamTableJoin: LEFT JOIN")),
        "{text:?}"
    );
    // A stream joined with a table on a value column is re-keyed by it (as ksqlDB does), so
    // the query runs a task per partition.
    assert!(
        text.iter().any(|l| l.starts_with(
            "Repartition: input 0 by CUSTOMER_ID@1 through topic <query>-Join-left-repartition"
        )),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|l| l.starts_with("Tasks: one per input partition")),
        "{text:?}"
    );
    // A join of streams on two equalities runs as one task over all partitions.
    client
        .simple_query("CREATE STREAM refunds (id INT KEY, customer_id VARCHAR) WITH (kafka_topic='refunds', value_format='JSON', partitions=1)")
        .await
        .unwrap();
    let text = explain(
        &client,
        "SELECT * FROM orders o JOIN refunds r WITHIN 1 HOUR ON o.id = r.id AND o.customer_id = r.customer_id EMIT CHANGES",
    )
    .await;
    assert!(
        text.iter()
            .any(|l| l.starts_with("Tasks: one over all input partitions")),
        "{text:?}"
    );
    server.shutdown().await;
}
