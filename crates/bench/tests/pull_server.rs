//! The pull-query benchmark's server (`sluice-bench pull-server`) works with a small table:
//! every row is materialized and a primary-key lookup over the PostgreSQL protocol answers
//! the row `pull::row` defines, both as pgbench sends it (extended protocol, a prepared
//! statement with an untyped parameter) and as a simple query.

use sluice_bench::pull::{row, PullConfig, PullServer};
use tokio_postgres::NoTls;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_server_answers_key_lookups() {
    let server = PullServer::start(&PullConfig {
        keys: 1_000,
        partitions: 4,
        ..PullConfig::default()
    })
    .await
    .expect("pull server starts and loads");
    let addr = server.pg_addr();
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host={} port={} user=bench dbname=bench",
            addr.ip(),
            addr.port()
        ),
        NoTls,
    )
    .await
    .expect("connect");
    let conn = tokio::spawn(conn);

    // pgbench's way: Parse with an unspecified parameter type, then Bind/Execute per lookup.
    let lookup = client
        .prepare("SELECT id, name, amount FROM kv WHERE id = $1")
        .await
        .expect("prepare");
    assert_eq!(lookup.params(), &[tokio_postgres::types::Type::INT8]);
    for id in [1i64, 500, 1_000] {
        let got = client.query(&lookup, &[&id]).await.expect("lookup");
        assert_eq!(got.len(), 1, "id {id}");
        let want = row(id);
        assert_eq!(got[0].get::<_, i64>(0), want.id);
        assert_eq!(got[0].get::<_, String>(1), want.name);
        assert_eq!(got[0].get::<_, i64>(2), want.amount);
    }
    assert!(client
        .query(&lookup, &[&1_001i64])
        .await
        .expect("lookup")
        .is_empty());

    let rows = client
        .simple_query("SELECT name FROM kv WHERE id = 42")
        .await
        .expect("simple query");
    let names: Vec<String> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec![row(42).name]);

    drop(client);
    let _ = conn.await;
    server.shutdown().await;
}
