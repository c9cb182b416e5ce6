//! Interop with Confluent's own Python client (PyPI `confluent-kafka`): its Schema Registry
//! client and Avro serializer register a schema in Sluice's registry and produce records; Sluice
//! infers a stream from the registered schema, queries it, and writes an AVRO sink whose records
//! Confluent's Avro deserializer reads back through Sluice's registry.
//!
//! Needs Python with `confluent-kafka[avro,schemaregistry]` (`$SLUICE_PYTHON`, default
//! `python3`); skipped when missing unless `SLUICE_REQUIRE_PYTHON_INTEROP` is set (CI's
//! `scripts/test.sh` sets it, and `scripts/install-test-deps.sh` installs the package).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/confluent_avro.py"
);

fn python() -> String {
    std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn python_ready() -> bool {
    let ok = Command::new(python())
        .args([
            "-c",
            "import confluent_kafka.schema_registry.avro, fastavro",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok && std::env::var("SLUICE_REQUIRE_PYTHON_INTEROP").is_ok() {
        panic!("SLUICE_REQUIRE_PYTHON_INTEROP is set but python3 cannot import confluent_kafka's Avro serializers");
    }
    ok
}

fn run_script(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(python())
        .arg(SCRIPT)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("python3 runs");
    assert!(out.status.success(), "{args:?} failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_python_avro_in_and_out() {
    if !python_ready() {
        eprintln!("skipped: python3 with confluent-kafka[avro] is not installed");
        return;
    }
    let server = start_playground().await;
    let client = connect(&server).await;
    let registry = format!("http://{}", server.registry_addr.expect("registry served"));
    let bootstrap = server.kafka_bootstrap.clone();
    // The embedded broker cannot create topics over the wire: make the input topic from SQL.
    rows(
        &client,
        "CREATE STREAM seed (x INT) WITH (kafka_topic='orders', value_format='JSON', partitions=1);",
    )
    .await;

    let inputs = [
        r#"{"id": 1, "item": "apple", "amount": 2.5, "tags": ["fruit"], "note": null}"#,
        r#"{"id": 2, "item": "pear", "amount": 0.5, "tags": [], "note": "ripe"}"#,
        r#"{"id": 3, "item": "fig", "amount": 7.25, "tags": ["a", "b"], "note": null}"#,
    ];
    let (b, r) = (bootstrap.clone(), registry.clone());
    let produced = tokio::task::spawn_blocking(move || {
        run_script(&["produce", &b, &r, "orders"], &inputs.join("\n"))
    })
    .await
    .unwrap();
    assert!(
        produced.contains(r#""subject": "orders-value""#),
        "{produced}"
    );

    // A stream with no columns: they come from the schema the Python serializer registered.
    rows(
        &client,
        "CREATE STREAM orders WITH (kafka_topic='orders', value_format='AVRO');",
    )
    .await;
    let described = rows(&client, "DESCRIBE orders;").await;
    let text = format!("{described:?}");
    for col in ["ID", "ITEM", "AMOUNT", "TAGS", "NOTE"] {
        assert!(text.contains(col), "DESCRIBE lacks {col}: {text}");
    }
    rows(&client, "SET 'auto.offset.reset'='earliest';").await;
    let pushed = rows(
        &client,
        "SELECT id, item, amount * 2 AS doubled, tags[1] AS first_tag, note FROM orders EMIT CHANGES LIMIT 3;",
    )
    .await;
    assert_eq!(
        pushed,
        vec![
            vec![
                Some("1".into()),
                Some("apple".into()),
                Some("5.0".into()),
                Some("fruit".into()),
                None
            ],
            vec![
                Some("2".into()),
                Some("pear".into()),
                Some("1.0".into()),
                None,
                Some("ripe".into())
            ],
            vec![
                Some("3".into()),
                Some("fig".into()),
                Some("14.5".into()),
                Some("a".into()),
                None
            ],
        ]
    );

    // An AVRO sink: Sluice registers the generated schema; Confluent's deserializer reads it.
    rows(
        &client,
        "CREATE STREAM big WITH (value_format='AVRO') AS SELECT id, UCASE(item) AS item, amount FROM orders WHERE amount > 1;",
    )
    .await;
    let (b, r) = (bootstrap.clone(), registry.clone());
    let consumed =
        tokio::task::spawn_blocking(move || run_script(&["consume", &b, &r, "BIG", "2"], ""))
            .await
            .unwrap();
    let lines: Vec<&str> = consumed.lines().collect();
    assert_eq!(
        lines,
        vec![
            r#"{"AMOUNT": 2.5, "ID": 1, "ITEM": "APPLE"}"#,
            r#"{"AMOUNT": 7.25, "ID": 3, "ITEM": "FIG"}"#,
        ]
    );
    server.shutdown().await;
}
