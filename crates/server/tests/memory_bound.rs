//! Issue 4's memory check: a GROUP BY over 10 million distinct keys keeps resident memory under
//! 1 GiB, because groups live in sled and only a bounded cache of them stays in memory.
//!
//! The query is planned by the real planner from KSQL and run as the server runs it (pipeline
//! opened over a sled store, a checkpoint committed after every batch), but fed batches straight
//! from memory instead of through Kafka: librdkafka's mock cluster keeps only about 5 MiB per
//! partition, far less than 10 million records. `SLUICE_MEMORY_KEYS` overrides the key count.

use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::array::{new_null_array, ArrayRef, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use sluice_dataflow::Batch;
use sluice_kafka::{embedded_admin, EmbeddedBroker};
use sluice_server::engine::{Engine, EngineDeps};
use sluice_server::SessionProps;
use sluice_state::{SledDb, StateStore, WriteBatch};

const BATCH: usize = 4096;
const LIMIT_BYTES: u64 = 1 << 30;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_by_ten_million_keys_stays_under_one_gib() {
    let keys: usize = std::env::var("SLUICE_MEMORY_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let broker = EmbeddedBroker::start(1).expect("broker");
    let dir = tempfile::tempdir().unwrap();
    let db = SledDb::open(dir.path().join("state")).unwrap();
    let engine = Engine::start(EngineDeps {
        service_id: "memory_".into(),
        kafka: broker.kafka_config(),
        admin: embedded_admin(&broker).unwrap(),
        state: db.clone(),
        registry: None,
    })
    .await
    .unwrap();
    engine
        .execute(
            &SessionProps::default(),
            "CREATE STREAM clicks (user_id VARCHAR KEY, n BIGINT) WITH (kafka_topic='clicks', value_format='JSON', partitions=1)",
        )
        .await
        .unwrap();
    let catalog = engine.catalog();
    let source = catalog.require("CLICKS").unwrap().clone();
    let parsed = sluice_parser::parse(
        "SELECT user_id, COUNT(*) AS c, SUM(n) AS total FROM clicks GROUP BY user_id EMIT CHANGES",
    )
    .unwrap()
    .remove(0);
    let sluice_parser::Statement::Query(query) = parsed.statement else {
        panic!("a query")
    };
    let plan = engine.planner().plan_query(&query, &catalog).unwrap();
    let mut pipeline = plan.pipeline().unwrap();
    let store = db.store("memory_query").unwrap();
    pipeline.open(Arc::new(store.clone())).unwrap();

    let schema = source.batch_schema().unwrap();
    let mut peak = 0u64;
    let mut offset = 0i64;
    let mut next_key = 0usize;
    while next_key < keys {
        let n = BATCH.min(keys - next_key);
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                match f.name().as_str() {
                    "USER_ID" => Arc::new(StringArray::from_iter_values(
                        (next_key..next_key + n).map(|k| format!("user-{k:08}")),
                    )),
                    "N" | "ROWTIME" | "ROWOFFSET" => Arc::new(Int64Array::from_iter_values(
                        (next_key..next_key + n).map(|k| k as i64),
                    )),
                    _ => new_null_array(f.data_type(), n),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let out = pipeline.process(Batch::inserts(batch)).unwrap();
        assert_eq!(
            out.iter().map(|b| b.num_rows()).sum::<usize>(),
            n,
            "one new result per new key"
        );
        let mut wb = WriteBatch::new();
        pipeline.checkpoint(&mut wb).unwrap();
        offset += n as i64;
        wb.set_position("clicks", 0, offset);
        store.commit(wb).unwrap();
        next_key += n;
        if (next_key / BATCH) % 64 == 0 {
            peak = peak.max(rss_bytes());
        }
    }
    peak = peak.max(rss_bytes());
    eprintln!("{keys} keys: peak resident memory {} MiB", peak / (1 << 20));
    assert!(
        peak < LIMIT_BYTES,
        "resident memory peaked at {} MiB",
        peak / (1 << 20)
    );
    // The first key's group was evicted from memory long ago: seeing the key again reads it
    // back from sled and counts on.
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            match f.name().as_str() {
                "USER_ID" => Arc::new(StringArray::from(vec!["user-00000000"])),
                "N" | "ROWTIME" | "ROWOFFSET" => Arc::new(Int64Array::from(vec![5])),
                _ => new_null_array(f.data_type(), 1),
            }
        })
        .collect();
    let out = pipeline
        .process(Batch::inserts(
            RecordBatch::try_new(schema.clone(), columns).unwrap(),
        ))
        .unwrap();
    let last = out.last().expect("an update");
    let counts = datafusion::arrow::compute::cast(
        last.data.column_by_name("C").expect("C column"),
        &datafusion::arrow::datatypes::DataType::Int64,
    )
    .unwrap();
    let counts = counts.as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(
        counts.value(counts.len() - 1),
        2,
        "the evicted group's count continues"
    );
    engine.shutdown().await;
}
