//! Issue 4's first scenario: a windowed aggregation materialized as a table, read with pull
//! queries (a key filter, and an aggregate with ORDER BY over the table) while inputs arrive.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Polls a pull query until it returns `want` (the table catches up asynchronously).
async fn eventually(client: &tokio_postgres::Client, sql: &str, want: &[Vec<Option<String>>]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = rows(client, sql).await;
        if got == want {
            return;
        }
        if Instant::now() > deadline {
            panic!("{sql}: expected {want:?}, got {got:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_revenue_is_materialized_and_pull_queries_see_fresh_results() {
    let server = start_playground().await;
    let client = connect(&server).await;
    for sql in [
        "CREATE STREAM orders (id INT KEY, region VARCHAR, amount DOUBLE) WITH (kafka_topic='orders', value_format='JSON', partitions=1)",
        "SET 'auto.offset.reset'='earliest'",
        // Every input change produces its output change (no coalescing per batch).
        "SET 'cache.max.bytes.buffering'='0'",
        "CREATE TABLE revenue AS SELECT region, COUNT(*) AS n, SUM(amount) AS total FROM orders WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY region EMIT CHANGES",
        // Two windows: minute 0 and minute 1 (ROWTIME in milliseconds).
        "INSERT INTO orders (ROWTIME, id, region, amount) VALUES (1000, 1, 'EU', 10.0)",
        "INSERT INTO orders (ROWTIME, id, region, amount) VALUES (2000, 2, 'EU', 5.0)",
        "INSERT INTO orders (ROWTIME, id, region, amount) VALUES (3000, 3, 'US', 7.0)",
        "INSERT INTO orders (ROWTIME, id, region, amount) VALUES (61000, 4, 'EU', 1.0)",
    ] {
        client
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
    eventually(
        &client,
        "SELECT region, WINDOWSTART, n, total FROM revenue WHERE region = 'EU' ORDER BY WINDOWSTART",
        &[
            vec![s("EU"), s("0"), s("2"), s("15.0")],
            vec![s("EU"), s("60000"), s("1"), s("1.0")],
        ],
    )
    .await;
    eventually(
        &client,
        "SELECT region, SUM(total) FROM revenue GROUP BY region ORDER BY 2 DESC",
        &[vec![s("EU"), s("16.0")], vec![s("US"), s("7.0")]],
    )
    .await;
    // Each row's ROWTIME is its latest input's time; `*` does not include it.
    eventually(
        &client,
        "SELECT region, WINDOWSTART, ROWTIME FROM revenue ORDER BY region, WINDOWSTART",
        &[
            vec![s("EU"), s("0"), s("2000")],
            vec![s("EU"), s("60000"), s("61000")],
            vec![s("US"), s("0"), s("3000")],
        ],
    )
    .await;
    let star = client
        .query("SELECT * FROM revenue WHERE region = 'US'", &[])
        .await
        .unwrap();
    let names: Vec<&str> = star[0].columns().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        vec!["REGION", "WINDOWSTART", "WINDOWEND", "N", "TOTAL"]
    );
    // A prepared pull query: its parameters are typed after the columns they are compared
    // with, and it is planned, not run, to describe it.
    let by_window = client
        .prepare("SELECT n FROM revenue WHERE region = $1 AND WINDOWSTART = $2")
        .await
        .unwrap();
    assert_eq!(by_window.params()[1], tokio_postgres::types::Type::INT8);
    let got = client.query(&by_window, &[&"EU", &60000i64]).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].get::<_, i64>(0), 1);

    // Fresh: a new order shows up in the next pull query.
    client
        .simple_query(
            "INSERT INTO orders (ROWTIME, id, region, amount) VALUES (4000, 5, 'US', 20.0)",
        )
        .await
        .unwrap();
    eventually(
        &client,
        "SELECT region, SUM(total) FROM revenue GROUP BY region ORDER BY 2 DESC",
        &[vec![s("US"), s("27.0")], vec![s("EU"), s("16.0")]],
    )
    .await;

    // The output topic is a changelog with windowed keys: one record per input.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let records = read_topic(&server.kafka_bootstrap, "REVENUE", 1);
        if records.len() == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "{records:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
