//! Interop with Confluent's own Python client (PyPI `confluent-kafka`): its Schema Registry
//! client and its Avro, JSON Schema and Protobuf serializers register schemas in Sluice's
//! registry and produce records; Sluice infers a stream from the registered schema, queries it,
//! and writes a sink in the same format whose records Confluent's deserializers read back
//! (Avro and JSON Schema through Sluice's registry; Protobuf with the message class of the
//! schema Sluice generates).
//!
//! Needs Python with `confluent-kafka[avro,json,protobuf,schemaregistry]` (`$SLUICE_PYTHON`,
//! default `python3`); skipped when missing unless `SLUICE_REQUIRE_PYTHON_INTEROP` is set (CI's
//! `scripts/test.sh` sets it, and `scripts/install-test-deps.sh` installs the package).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use sluice_server::RunningServer;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/confluent_sr.py");

fn python() -> String {
    std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn python_ready() -> bool {
    let ok = Command::new(python())
        .args([
            "-c",
            "import confluent_kafka.schema_registry.avro, fastavro, jsonschema, google.protobuf, \
             confluent_kafka.schema_registry.json_schema, confluent_kafka.schema_registry.protobuf",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok && std::env::var("SLUICE_REQUIRE_PYTHON_INTEROP").is_ok() {
        panic!("SLUICE_REQUIRE_PYTHON_INTEROP is set but python3 cannot import confluent_kafka's Avro, JSON Schema and Protobuf serializers");
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

/// Produces orders with Confluent's `fmt` serializer, infers a stream over them in Sluice's
/// `value_format`, queries it, writes a sink in that format and reads it back with Confluent's
/// deserializer.
async fn round_trip(server: &RunningServer, fmt: &str, value_format: &str) {
    let client = connect(server).await;
    let registry = format!("http://{}", server.registry_addr.expect("registry served"));
    let bootstrap = server.kafka_bootstrap.clone();
    let topic = format!("orders_{fmt}");
    // The embedded broker cannot create topics over the wire: make the input topic from SQL.
    rows(
        &client,
        &format!(
            "CREATE STREAM seed_{fmt} (x INT) WITH (kafka_topic='{topic}', value_format='JSON', partitions=1);"
        ),
    )
    .await;

    let inputs = [
        r#"{"id": 1, "item": "apple", "amount": 2.5, "tags": ["fruit"], "note": null}"#,
        r#"{"id": 2, "item": "pear", "amount": 0.5, "tags": [], "note": "ripe"}"#,
        r#"{"id": 3, "item": "fig", "amount": 7.25, "tags": ["a", "b"], "note": null}"#,
    ];
    let (b, r, t, f) = (
        bootstrap.clone(),
        registry.clone(),
        topic.clone(),
        fmt.to_string(),
    );
    let produced = tokio::task::spawn_blocking(move || {
        run_script(&[&f, "produce", &b, &r, &t], &inputs.join("\n"))
    })
    .await
    .unwrap();
    assert!(
        produced.contains(&format!(r#""subject": "{topic}-value""#)),
        "{produced}"
    );

    // A stream with no columns: they come from the schema the Python serializer registered.
    rows(
        &client,
        &format!(
            "CREATE STREAM orders_in_{fmt} WITH (kafka_topic='{topic}', value_format='{value_format}');"
        ),
    )
    .await;
    let described = rows(&client, &format!("DESCRIBE orders_in_{fmt};")).await;
    let text = format!("{described:?}");
    for col in ["ID", "ITEM", "AMOUNT", "TAGS", "NOTE"] {
        assert!(text.contains(col), "{fmt}: DESCRIBE lacks {col}: {text}");
    }
    rows(&client, "SET 'auto.offset.reset'='earliest';").await;
    let pushed = rows(
        &client,
        &format!(
            "SELECT id, item, amount * 2 AS doubled, tags[1] AS first_tag, note FROM orders_in_{fmt} EMIT CHANGES LIMIT 3;"
        ),
    )
    .await;
    // proto3 strings have no null: an unset note reads as its default, the empty string.
    let no_note = if fmt == "protobuf" {
        Some(String::new())
    } else {
        None
    };
    assert_eq!(
        pushed,
        vec![
            vec![
                Some("1".into()),
                Some("apple".into()),
                Some("5.0".into()),
                Some("fruit".into()),
                no_note.clone()
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
                no_note
            ],
        ],
        "{fmt}"
    );

    // A sink in the same format: Sluice registers the generated schema; Confluent's
    // deserializer reads it.
    rows(
        &client,
        &format!(
            "CREATE STREAM big_{fmt} WITH (value_format='{value_format}') AS SELECT id, UCASE(item) AS item, amount FROM orders_in_{fmt} WHERE amount > 1;"
        ),
    )
    .await;
    let (b, r, f) = (bootstrap.clone(), registry.clone(), fmt.to_string());
    let sink = format!("BIG_{}", fmt.to_uppercase());
    let consumed =
        tokio::task::spawn_blocking(move || run_script(&[&f, "consume", &b, &r, &sink, "2"], ""))
            .await
            .unwrap();
    let lines: Vec<&str> = consumed.lines().collect();
    assert_eq!(
        lines,
        vec![
            r#"{"AMOUNT": 2.5, "ID": 1, "ITEM": "APPLE"}"#,
            r#"{"AMOUNT": 7.25, "ID": 3, "ITEM": "FIG"}"#,
        ],
        "{fmt}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_python_serializers_in_and_out() {
    if !python_ready() {
        eprintln!("skipped: python3 with confluent-kafka[avro,json,protobuf] is not installed");
        return;
    }
    let server = start_playground().await;
    round_trip(&server, "avro", "AVRO").await;
    round_trip(&server, "json", "JSON_SR").await;
    round_trip(&server, "protobuf", "PROTOBUF").await;
    server.shutdown().await;
}
