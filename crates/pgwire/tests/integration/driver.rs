//! The protocol as tokio-postgres sees it.

use std::time::{Duration, Instant};

use futures::{pin_mut, StreamExt, TryStreamExt};
use tokio_postgres::error::{ErrorPosition, SqlState};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::common::{eventually, start, start_with, tick_batch, TICK};

async fn connect(port: u16) -> Client {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=alice dbname=sluice"),
        NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

fn tags(messages: &[SimpleQueryMessage]) -> Vec<u64> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn simple_query_runs_statements_in_order() {
    let server = start().await;
    let client = connect(server.port).await;
    let messages = client
        .simple_query("SELECT 1 AS a, 'x;y' AS b; CREATE STREAM s (a INT); SHOW STREAMS;")
        .await
        .unwrap();
    assert_eq!(
        rows(&messages),
        vec![
            vec![Some("1".into()), Some("x;y".into())],
            vec![Some("ticks".into())],
            vec![Some("feed".into())],
        ]
    );
    // SELECT 1, CREATE STREAM (no count), SHOW (no count)
    assert_eq!(tags(&messages), vec![1, 0, 0]);
    assert_eq!(
        server.backend.executed(),
        vec![
            "SELECT 1 AS a, 'x;y' AS b",
            "CREATE STREAM s (a INT)",
            "SHOW STREAMS"
        ]
    );
    // Only whitespace and comments: an empty query, not an error.
    let messages = client.simple_query(" -- nothing\n ; ").await.unwrap();
    assert!(rows(&messages).is_empty());
}

#[tokio::test]
async fn errors_carry_sqlstate_position_detail_and_stop_the_batch() {
    let server = start().await;
    let client = connect(server.port).await;
    let sql = "SELECT 1;  SELECT bogus FROM t; CREATE STREAM never";
    let err = client.simple_query(sql).await.unwrap_err();
    let db = err.as_db_error().expect("db error");
    assert_eq!(*db.code(), SqlState::UNDEFINED_COLUMN);
    assert_eq!(db.message(), "column \"bogus\" does not exist");
    assert_eq!(db.detail(), Some("There is no such column."));
    assert_eq!(db.hint(), Some("Check the spelling."));
    let expected = sql.find("bogus").unwrap() as u32 + 1;
    assert_eq!(db.position(), Some(&ErrorPosition::Original(expected)));
    // The statement after the failing one never ran.
    assert!(!server
        .backend
        .executed()
        .iter()
        .any(|s| s.contains("never")));
    // The connection is still fine.
    let messages = client.simple_query("SELECT 2").await.unwrap();
    assert_eq!(rows(&messages), vec![vec![Some("2".into())]]);
}

#[tokio::test]
async fn extended_query_with_typed_parameters() {
    let server = start().await;
    let client = connect(server.port).await;
    // DataFusion infers $1 as Int64 from the comparison; tokio-postgres sends it in binary.
    let stmt = client
        .prepare("SELECT column1 AS v FROM (VALUES (1), (2), (3)) t WHERE column1 > $1 ORDER BY v")
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[Type::INT8]);
    assert_eq!(stmt.columns()[0].name(), "v");
    assert_eq!(stmt.columns()[0].type_(), &Type::INT8);
    let got: Vec<i64> = client
        .query(&stmt, &[&1i64])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(got, vec![2, 3]);
    // Negative numbers must not turn `-$1` into a comment.
    let got: Vec<i64> = client
        .query(
            "SELECT column1 FROM (VALUES (5)) t WHERE column1 - $1 > 0",
            &[&-3i64],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(got, vec![5]);
    assert!(server
        .backend
        .executed()
        .iter()
        .any(|s| s.ends_with("column1 - (-3) > 0")));
}

#[tokio::test]
async fn string_parameters_are_quoted_and_null_is_null() {
    let server = start().await;
    let client = connect(server.port).await;
    let row = client
        .query_typed_one(
            "SELECT $1 AS s, $2 AS n",
            &[(&"it's; DROP", Type::TEXT), (&None::<String>, Type::TEXT)],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "it's; DROP");
    assert_eq!(row.get::<_, Option<String>>(1), None);
    assert!(server
        .backend
        .executed()
        .contains(&"SELECT 'it''s; DROP' AS s, NULL AS n".to_owned()));
}

#[tokio::test]
async fn extended_errors_are_positioned_in_the_original_text() {
    let server = start().await;
    let client = connect(server.port).await;
    let err = client.prepare("  SELECT $1, bogus").await.unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(*db.code(), SqlState::UNDEFINED_COLUMN);
    assert_eq!(db.position(), Some(&ErrorPosition::Original(14)));
    // The execution path maps through the substitution: 'abcdef' is longer than $1.
    let err = client
        .query_typed("SELECT $1 || bogus", &[(&"abcdef", Type::TEXT)])
        .await
        .unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.position(), Some(&ErrorPosition::Original(14)));
    // Unknown statement errors do not break the connection.
    assert_eq!(
        client
            .query_one("SELECT 7::BIGINT", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        7
    );
}

#[tokio::test]
async fn binary_results_for_common_types() {
    let server = start().await;
    let client = connect(server.port).await;
    let row = client
        .query_one(
            "SELECT CAST(1 AS INT) AS i, 2.5::DOUBLE AS d, true AS b, 'txt' AS t, \
             CAST('2024-02-29' AS DATE) AS dt, CAST(12.34 AS DECIMAL(10,2)) AS n",
            &[],
        )
        .await
        .unwrap();
    let types: Vec<&Type> = row.columns().iter().map(|c| c.type_()).collect();
    assert_eq!(
        types,
        vec![
            &Type::INT4,
            &Type::FLOAT8,
            &Type::BOOL,
            &Type::TEXT,
            &Type::DATE,
            &Type::NUMERIC
        ]
    );
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, f64>(1), 2.5);
    assert!(row.get::<_, bool>(2));
    assert_eq!(row.get::<_, String>(3), "txt");
    let messages = client
        .simple_query("SELECT CAST('2024-02-29' AS DATE) AS dt, CAST(12.34 AS DECIMAL(10,2)) AS n")
        .await
        .unwrap();
    assert_eq!(
        rows(&messages),
        vec![vec![Some("2024-02-29".into()), Some("12.34".into())]]
    );
}

#[tokio::test]
async fn push_rows_arrive_per_batch_before_the_stream_ends() {
    let server = start().await;
    let feed = server.backend.feed("a");
    let client = connect(server.port).await;
    let stream = client
        .query_raw("SELECT * FROM feed_a EMIT CHANGES", Vec::<String>::new())
        .await
        .unwrap();
    pin_mut!(stream);
    feed.unbounded_send(Ok(tick_batch(0, 1))).unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the first row arrives while the stream is still open")
        .unwrap()
        .unwrap();
    assert_eq!(first.get::<_, i64>(0), 0);
    assert_eq!(first.get::<_, String>(1), "tick-0");
    feed.unbounded_send(Ok(tick_batch(1, 2))).unwrap();
    let second = stream.next().await.unwrap().unwrap();
    assert_eq!(second.get::<_, i64>(0), 1);
    assert_eq!(server.backend.live(), 1);
    drop(feed);
    let rest: Vec<_> = stream.try_collect().await.unwrap();
    assert_eq!(rest.len(), 1);
    eventually("the ended stream is dropped", || server.backend.live() == 0).await;
}

#[tokio::test]
async fn push_query_with_limit_ends_by_itself() {
    let server = start().await;
    let client = connect(server.port).await;
    let messages = client
        .simple_query("SELECT * FROM ticks EMIT CHANGES LIMIT 3")
        .await
        .unwrap();
    let got = rows(&messages);
    assert_eq!(got.len(), 3);
    assert_eq!(got[2], vec![Some("2".into()), Some("tick-2".into())]);
    assert_eq!(tags(&messages), vec![3]);
    let rows = client
        .query("SELECT * FROM ticks EMIT CHANGES LIMIT 4", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[3].get::<_, i64>(0), 3);
    assert_eq!(server.backend.live(), 0);
}

#[tokio::test]
async fn cancel_request_stops_a_push_query_and_the_connection_survives() {
    let server = start().await;
    let client = connect(server.port).await;
    let token = client.cancel_token();
    let started = Instant::now();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(TICK * 10).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let err = client
        .simple_query("SELECT * FROM ticks EMIT CHANGES")
        .await
        .unwrap_err();
    canceller.await.unwrap();
    let db = err.as_db_error().expect("db error");
    assert_eq!(*db.code(), SqlState::QUERY_CANCELED);
    assert_eq!(db.message(), "canceling statement due to user request");
    assert!(started.elapsed() < Duration::from_secs(10));
    eventually("the cancelled stream is dropped", || {
        server.backend.live() == 0
    })
    .await;
    // Still usable, in both protocols.
    let messages = client.simple_query("SELECT 5").await.unwrap();
    assert_eq!(rows(&messages), vec![vec![Some("5".into())]]);
    assert_eq!(
        client
            .query_one("SELECT 6::BIGINT", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        6
    );

    // The extended protocol can be cancelled too.
    let token = client.cancel_token();
    tokio::spawn(async move {
        tokio::time::sleep(TICK * 5).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let err = client
        .query("SELECT * FROM ticks EMIT CHANGES", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED));
    eventually("the cancelled stream is dropped", || {
        server.backend.live() == 0
    })
    .await;
    assert_eq!(
        client
            .query_one("SELECT 8::BIGINT", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        8
    );
}

#[tokio::test]
async fn a_client_that_disconnects_mid_push_frees_the_stream() {
    let server = start().await;
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={} user=bob", server.port),
        NoTls,
    )
    .await
    .unwrap();
    let conn_task = tokio::spawn(connection);
    let query = tokio::spawn(async move {
        let _ = client
            .simple_query("SELECT * FROM ticks EMIT CHANGES")
            .await;
    });
    eventually("the push query runs", || server.backend.live() == 1).await;
    // Kill the client side: the socket closes without a Terminate.
    conn_task.abort();
    query.abort();
    eventually("the server notices and drops the stream", || {
        server.backend.live() == 0
    })
    .await;
}

#[tokio::test]
async fn portals_suspend_and_resume_the_same_stream() {
    let server = start().await;
    let mut client = connect(server.port).await;
    let tx = client.transaction().await.unwrap();
    let portal = tx
        .bind("SELECT * FROM ticks EMIT CHANGES", &[])
        .await
        .unwrap();
    let first = tx.query_portal(&portal, 2).await.unwrap();
    let second = tx.query_portal(&portal, 3).await.unwrap();
    let ns: Vec<i64> = first.iter().chain(&second).map(|r| r.get(0)).collect();
    assert_eq!(ns, vec![0, 1, 2, 3, 4]);
    assert_eq!(server.backend.live(), 1);
    tx.commit().await.unwrap();
    eventually("COMMIT closes the portal and its stream", || {
        server.backend.live() == 0
    })
    .await;

    // Finite results suspend too, and the last Execute completes.
    let tx = client.transaction().await.unwrap();
    let portal = tx
        .bind(
            "SELECT column1 FROM (VALUES (1), (2), (3)) t ORDER BY column1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(tx.query_portal(&portal, 2).await.unwrap().len(), 2);
    assert_eq!(tx.query_portal(&portal, 2).await.unwrap().len(), 1);
    assert_eq!(tx.query_portal(&portal, 2).await.unwrap().len(), 0);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn stream_errors_end_the_statement_with_the_engines_error() {
    let server = start().await;
    let client = connect(server.port).await;
    let err = client
        .simple_query("SELECT * FROM broken EMIT CHANGES")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INTERNAL_ERROR));
    assert_eq!(err.as_db_error().unwrap().message(), "the source broke");
    assert_eq!(server.backend.live(), 0);
}

#[tokio::test]
async fn cursors_fetch_from_push_queries() {
    let server = start().await;
    let client = connect(server.port).await;
    let messages = client
        .simple_query(
            "BEGIN; DECLARE c NO SCROLL CURSOR FOR SELECT * FROM ticks EMIT CHANGES; \
             FETCH FORWARD 2 FROM c; FETCH 1 c",
        )
        .await
        .unwrap();
    let got = rows(&messages);
    assert_eq!(
        got.iter()
            .map(|r| r[0].clone().unwrap())
            .collect::<Vec<_>>(),
        vec!["0", "1", "2"]
    );
    assert_eq!(server.backend.live(), 1);
    let messages = client.simple_query("CLOSE c; COMMIT").await.unwrap();
    assert!(rows(&messages).is_empty());
    assert_eq!(server.backend.live(), 0);
    let err = client.simple_query("FETCH 1 FROM c").await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INVALID_CURSOR_NAME));
}

#[tokio::test]
async fn fetch_on_an_idle_push_cursor_returns_within_the_wait() {
    let server = start_with(sluice_pgwire::ServerConfig {
        fetch_first_row_timeout: Duration::from_millis(300),
        fetch_linger: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    let feed = server.backend.feed("idle");
    let client = connect(server.port).await;
    client
        .batch_execute("BEGIN; DECLARE c CURSOR FOR SELECT * FROM feed_idle EMIT CHANGES")
        .await
        .unwrap();
    let started = Instant::now();
    let messages = client.simple_query("FETCH 10 FROM c").await.unwrap();
    assert!(rows(&messages).is_empty());
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(started.elapsed() < Duration::from_secs(3));
    // Rows that are ready are returned without waiting for the full count.
    feed.unbounded_send(Ok(tick_batch(0, 3))).unwrap();
    let messages = client.simple_query("FETCH 10 FROM c").await.unwrap();
    assert_eq!(rows(&messages).len(), 3);
    client.batch_execute("ROLLBACK").await.unwrap();
    eventually("ROLLBACK drops the cursor", || server.backend.live() == 0).await;
}

#[tokio::test]
async fn failed_transactions_reject_until_rollback() {
    let server = start().await;
    let client = connect(server.port).await;
    client.batch_execute("BEGIN").await.unwrap();
    assert!(client.batch_execute("SELECT bogus").await.is_err());
    let err = client.batch_execute("SELECT 1").await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    client.batch_execute("ROLLBACK").await.unwrap();
    let messages = client.simple_query("SELECT 1").await.unwrap();
    assert_eq!(rows(&messages).len(), 1);
}

#[tokio::test]
async fn copy_out_in_text_and_csv() {
    let server = start().await;
    let client = connect(server.port).await;
    let stream = client
        .copy_out("COPY (SELECT * FROM ticks EMIT CHANGES LIMIT 2) TO STDOUT")
        .await
        .unwrap();
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    let text: String = chunks
        .iter()
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    assert_eq!(text, "0\ttick-0\n1\ttick-1\n");

    let stream = client
        .copy_out(
            "COPY (SELECT 'a,b' AS x, NULL AS y, 'tab\there' AS z) TO STDOUT WITH (FORMAT csv, HEADER)",
        )
        .await
        .unwrap();
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    let text: String = chunks
        .iter()
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    assert_eq!(text, "x,y,z\n\"a,b\",,tab\there\n");
}

#[tokio::test]
async fn set_notices_reach_the_client() {
    let server = start().await;
    let (client, mut connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={} user=carol", server.port),
        NoTls,
    )
    .await
    .unwrap();
    let (tx, mut rx) = futures::channel::mpsc::unbounded();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            let _ = tx.unbounded_send(message);
        }
    });
    client
        .batch_execute("SET 'auto.offset.reset'='earliest'")
        .await
        .unwrap();
    match rx.next().await {
        Some(tokio_postgres::AsyncMessage::Notice(notice)) => {
            assert_eq!(notice.message(), "property set for carol");
        }
        other => panic!("expected a notice, got {other:?}"),
    }
}
