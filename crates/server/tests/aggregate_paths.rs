//! The aggregation's two paths agree: per-row emission (`cache.max.bytes.buffering` = 0, one
//! output change per input change) and coalesced emission (each group's rows of a batch folded
//! with one `update_batch`/`retract_batch` per run, one change per group and batch). Both must end
//! with the true aggregate of the input, for a stream and for a table (retractions).
//!
//! Queries are planned by the real planner from KSQL and fed batches from memory, as the server
//! feeds them after decoding.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, Int64Array, Int8Array, ListArray, StringArray,
};
use datafusion::arrow::record_batch::RecordBatch;
use sluice_dataflow::{Batch, ChangeKind};
use sluice_kafka::{embedded_admin, EmbeddedBroker};
use sluice_planner::QueryPlan;
use sluice_server::engine::{Engine, EngineDeps};
use sluice_server::SessionProps;
use sluice_state::SledDb;

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

async fn engine(dir: &std::path::Path) -> (EmbeddedBroker, Arc<Engine>) {
    let broker = EmbeddedBroker::start(1).expect("broker");
    let engine = Engine::start(EngineDeps {
        service_id: "paths_".into(),
        kafka: broker.kafka_config(),
        admin: embedded_admin(&broker).unwrap(),
        state: SledDb::open(dir.join("state")).unwrap(),
        registry: None,
    })
    .await
    .unwrap();
    (broker, engine)
}

async fn plan(engine: &Engine, ddl: &str, query: &str) -> QueryPlan {
    engine
        .execute(&SessionProps::default(), ddl)
        .await
        .unwrap_or_else(|e| panic!("{ddl}: {e}"));
    let parsed = sluice_parser::parse(query).unwrap().remove(0);
    let sluice_parser::Statement::Query(q) = parsed.statement else {
        panic!("a query")
    };
    engine.planner().plan_query(&q, &engine.catalog()).unwrap()
}

/// Input batches for a source with columns K (key), G, N: `rows` random rows per batch;
/// `deletes` marks some rows as tombstones (tables).
fn batches(
    plan: &QueryPlan,
    rng: &mut Rng,
    count: usize,
    rows: usize,
    deletes: bool,
) -> Vec<Batch> {
    let schema = plan.source.batch_schema().unwrap();
    let mut offset = 0i64;
    (0..count)
        .map(|_| {
            let keys: Vec<String> = (0..rows).map(|_| format!("k{}", rng.next(40))).collect();
            let groups: Vec<String> = (0..rows).map(|_| format!("g{}", rng.next(5))).collect();
            let values: Vec<i64> = (0..rows).map(|_| rng.next(1000) as i64).collect();
            let kinds: Vec<i8> = (0..rows)
                .map(|_| {
                    if deletes && rng.next(6) == 0 {
                        ChangeKind::Delete as i8
                    } else {
                        ChangeKind::Insert as i8
                    }
                })
                .collect();
            let offsets: Vec<i64> = (0..rows as i64).map(|i| offset + i).collect();
            offset += rows as i64;
            let columns: Vec<ArrayRef> = schema
                .fields()
                .iter()
                .map(|f| -> ArrayRef {
                    match f.name().as_str() {
                        "K" => Arc::new(StringArray::from(keys.clone())),
                        "G" => Arc::new(StringArray::from(groups.clone())),
                        "N" => Arc::new(Int64Array::from(values.clone())),
                        "ROWTIME" | "ROWOFFSET" => Arc::new(Int64Array::from(offsets.clone())),
                        _ => new_null_array(f.data_type(), rows),
                    }
                })
                .collect();
            Batch {
                data: RecordBatch::try_new(schema.clone(), columns).unwrap(),
                changes: deletes.then(|| Int8Array::from(kinds)),
                origin: None,
            }
        })
        .collect()
}

type Results = BTreeMap<String, Vec<String>>;

/// Runs `input` through a fresh pipeline of `plan`; returns each group's last result and the
/// number of new results emitted (retractions of earlier results not counted).
fn run(plan: &QueryPlan, coalesce: bool, input: &[Batch]) -> (Results, usize) {
    let mut plan = plan.clone();
    plan.set_coalesce(coalesce);
    let mut pipeline = plan.pipeline().unwrap();
    let mut results = Results::new();
    let mut changes = 0;
    for b in input {
        let out = pipeline.process(b.clone()).unwrap();
        for o in out {
            for i in 0..o.num_rows() {
                let kind = o.change(i);
                if kind != ChangeKind::UpdateBefore {
                    changes += 1;
                }
                let cells: Vec<String> = (0..plan.output.fields().len())
                    .map(|c| cell(o.data.column(c), i))
                    .collect();
                match kind {
                    ChangeKind::UpdateBefore => {}
                    ChangeKind::Delete => {
                        results.remove(&cells[0]);
                    }
                    _ => {
                        results.insert(cells[0].clone(), cells[1..].to_vec());
                    }
                }
            }
        }
    }
    (results, changes)
}

fn cell(a: &ArrayRef, i: usize) -> String {
    if a.is_null(i) {
        return "null".into();
    }
    if let Some(s) = a.as_any().downcast_ref::<StringArray>() {
        return s.value(i).to_string();
    }
    if let Some(n) = a.as_any().downcast_ref::<Int64Array>() {
        return n.value(i).to_string();
    }
    if let Some(l) = a.as_any().downcast_ref::<ListArray>() {
        let v = l.value(i);
        let items: Vec<String> = (0..v.len()).map(|j| cell(&v, j)).collect();
        return format!("[{}]", items.join(","));
    }
    format!("{a:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_aggregation_paths_agree_with_the_true_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, engine) = engine(dir.path()).await;
    let plan = plan(
        &engine,
        "CREATE STREAM s (k VARCHAR KEY, g VARCHAR, n BIGINT) WITH (kafka_topic='s', value_format='JSON', partitions=1)",
        "SELECT g, COUNT(*) AS c, SUM(n) AS total, COLLECT_LIST(n) AS ns FROM s GROUP BY g EMIT CHANGES",
    )
    .await;
    let input = batches(&plan, &mut Rng(0x5eed), 6, 500, false);

    // The true aggregate, row by row in arrival order.
    let mut want: BTreeMap<String, (i64, i64, Vec<String>)> = BTreeMap::new();
    for b in &input {
        let g = b.data.column_by_name("G").unwrap();
        let g = g.as_any().downcast_ref::<StringArray>().unwrap();
        let n = b.data.column_by_name("N").unwrap();
        let n = n.as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..b.num_rows() {
            let e = want.entry(g.value(i).to_string()).or_default();
            e.0 += 1;
            e.1 += n.value(i);
            e.2.push(n.value(i).to_string());
        }
    }
    let want: Results = want
        .into_iter()
        .map(|(g, (c, s, l))| {
            (
                g,
                vec![c.to_string(), s.to_string(), format!("[{}]", l.join(","))],
            )
        })
        .collect();

    let (per_row, per_row_changes) = run(&plan, false, &input);
    let (coalesced, coalesced_changes) = run(&plan, true, &input);
    assert_eq!(per_row, want, "per-row path");
    assert_eq!(
        coalesced, want,
        "coalesced path (COLLECT_LIST keeps arrival order)"
    );
    assert_eq!(per_row_changes, 6 * 500, "one new result per input row");
    assert!(
        coalesced_changes <= 6 * want.len(),
        "at most one change per group and batch, got {coalesced_changes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_aggregation_paths_retract_alike() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, engine) = engine(dir.path()).await;
    let plan = plan(
        &engine,
        "CREATE TABLE t (k VARCHAR PRIMARY KEY, g VARCHAR, n BIGINT) WITH (kafka_topic='t', value_format='JSON', partitions=1)",
        "SELECT g, COUNT(*) AS c, SUM(n) AS total FROM t GROUP BY g EMIT CHANGES",
    )
    .await;
    let input = batches(&plan, &mut Rng(0xfeed), 8, 300, true);

    // The true aggregate: the table's final rows, grouped.
    let mut rows: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for b in &input {
        let col = |name: &str| b.data.column_by_name(name).unwrap().clone();
        let (k, g, n) = (col("K"), col("G"), col("N"));
        let k = k.as_any().downcast_ref::<StringArray>().unwrap();
        let g = g.as_any().downcast_ref::<StringArray>().unwrap();
        let n = n.as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..b.num_rows() {
            if b.change(i) == ChangeKind::Delete {
                rows.remove(k.value(i));
            } else {
                rows.insert(k.value(i).to_string(), (g.value(i).to_string(), n.value(i)));
            }
        }
    }
    let mut want: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (g, n) in rows.values() {
        let e = want.entry(g.clone()).or_default();
        e.0 += 1;
        e.1 += n;
    }

    let (per_row, _) = run(&plan, false, &input);
    let (coalesced, _) = run(&plan, true, &input);
    assert_eq!(per_row, coalesced, "both paths end alike");
    // Groups that lost all their rows stay with a count of 0, as in ksqlDB.
    let live: Results = coalesced.into_iter().filter(|(_, v)| v[0] != "0").collect();
    let want: Results = want
        .into_iter()
        .map(|(g, (c, s))| (g, vec![c.to_string(), s.to_string()]))
        .collect();
    assert_eq!(live, want, "the table's final rows, grouped");
}

/// Sessions of a key never seen again leave the store once they pass the retention, found
/// through the index of last session ends (not only when the key comes back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_keys_never_seen_again_expire_from_the_store() {
    use sluice_state::{StateStore, WriteBatch};
    let dir = tempfile::tempdir().unwrap();
    let (_broker, engine) = engine(dir.path()).await;
    let plan = plan(
        &engine,
        "CREATE STREAM s (k VARCHAR KEY, g VARCHAR, n BIGINT) WITH (kafka_topic='s', value_format='JSON', partitions=1)",
        "SELECT g, COUNT(*) AS c FROM s WINDOW SESSION (10 MILLISECONDS, RETENTION 1 SECOND, GRACE PERIOD 5 MILLISECONDS) GROUP BY g EMIT CHANGES",
    )
    .await;
    let db = SledDb::open(dir.path().join("sessions")).unwrap();
    let store = db.store("q").unwrap();
    let mut pipeline = plan.pipeline().unwrap();
    pipeline.open(Arc::new(store.clone())).unwrap();
    let schema = plan.source.batch_schema().unwrap();
    let rows = |g: &str, ts: i64| -> Batch {
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                match f.name().as_str() {
                    "G" => Arc::new(StringArray::from(vec![g])),
                    "N" | "ROWTIME" | "ROWOFFSET" => Arc::new(Int64Array::from(vec![ts])),
                    _ => new_null_array(f.data_type(), 1),
                }
            })
            .collect();
        Batch::inserts(RecordBatch::try_new(schema.clone(), columns).unwrap())
    };
    let sessions_in_store = || {
        store
            .scan_prefix(&[])
            .unwrap()
            .map(|r| r.unwrap().0)
            .filter(|k| k.len() > 1 && k[0] < 0xf0 && k[1] == b's')
            .count()
    };
    let step = |pipeline: &mut sluice_dataflow::Pipeline, b: Batch| {
        pipeline.process(b).unwrap();
        let mut wb = WriteBatch::new();
        pipeline.checkpoint(&mut wb).unwrap();
        store.commit(wb).unwrap();
    };
    step(&mut pipeline, rows("a", 0));
    step(&mut pipeline, rows("b", 500));
    assert_eq!(sessions_in_store(), 2, "both keys have a live session");
    // Stream time moves past a's session end plus the retention; a is never seen again.
    step(&mut pipeline, rows("b", 2_000));
    assert_eq!(sessions_in_store(), 1, "a's sessions left the store");
    // Restarted over the same store, the index still finds b's expired sessions.
    let mut pipeline = plan.pipeline().unwrap();
    pipeline.open(Arc::new(store.clone())).unwrap();
    step(&mut pipeline, rows("c", 10_000));
    assert_eq!(sessions_in_store(), 1, "only c's session is left");
}

/// A hopping aggregation grouped by a value column runs as two tasks joined by a repartition
/// topic. Only the columns the aggregation reads cross it (the GROUP BY column and ROWTIME),
/// once per row: window assignment happens after the topic. Through the real encoder and
/// decoder, the two parts still give the true hopping counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repartitioned_rows_carry_only_what_the_aggregation_reads() {
    use sluice_dataflow::repartition::{RepartitionDecoder, RepartitionEncoder};
    use sluice_dataflow::source::RawRecord;
    use sluice_dataflow::Origins;
    use sluice_planner::PlanPart;

    let dir = tempfile::tempdir().unwrap();
    let (_broker, engine) = engine(dir.path()).await;
    let plan = plan(
        &engine,
        "CREATE STREAM s (k VARCHAR KEY, g VARCHAR, n BIGINT, pad VARCHAR) WITH (kafka_topic='s', value_format='JSON', partitions=1)",
        "SELECT g, COUNT(*) AS c FROM s WINDOW HOPPING (SIZE 100 MILLISECONDS, ADVANCE BY 20 MILLISECONDS) WHERE n >= 100 GROUP BY g EMIT CHANGES",
    )
    .await;
    let explain = plan.explain().join("\n");
    let r = plan.repartition.as_ref().expect("GROUP BY g repartitions");
    let at = |needle: &str| {
        explain
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} in\n{explain}"))
    };
    assert!(
        at("Project:") < at("Repartition:") && at("Repartition:") < at("WindowAssign"),
        "prune, repartition, then assign windows:\n{explain}"
    );

    let mut input = batches(&plan, &mut Rng(0xabcd), 5, 400, false);
    let mut offset = 0i64;
    for b in &mut input {
        let n = b.num_rows() as i64;
        b.origin = Some(Origins {
            partition: vec![0; n as usize].into(),
            offset: (offset..offset + n).collect::<Vec<_>>().into(),
        });
        offset += n;
    }
    // The true answer: per group and hopping window, the rows with N >= 100.
    let mut want: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for b in &input {
        let col = |name: &str| b.data.column_by_name(name).unwrap().clone();
        let (g, n, t) = (col("G"), col("N"), col("ROWTIME"));
        let g = g.as_any().downcast_ref::<StringArray>().unwrap();
        let n = n.as_any().downcast_ref::<Int64Array>().unwrap();
        let t = t.as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..b.num_rows() {
            if n.value(i) < 100 {
                continue;
            }
            let ts = t.value(i);
            let mut start = (ts - 100 + 20).max(0) / 20 * 20;
            while start <= ts {
                *want.entry((g.value(i).to_string(), start)).or_default() += 1;
                start += 20;
            }
        }
    }

    let mut front = plan.pipeline_part(PlanPart::BeforeRepartition).unwrap();
    let mut back = plan.pipeline_part(PlanPart::AfterRepartition).unwrap();
    let encoder = RepartitionEncoder::new(r.key_exprs.clone(), r.key_types.clone(), 3).unwrap();
    let mut decoder = RepartitionDecoder::new();
    let mut offsets = [0i64; 3];
    let mut got: BTreeMap<(String, i64), i64> = BTreeMap::new();
    let start_col = plan.output.fields().len();
    for b in input {
        for out in front.process(b).unwrap() {
            let names: Vec<String> = out
                .data
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            assert_eq!(
                names,
                ["G", "ROWTIME"],
                "only what the aggregation reads crosses"
            );
            for rec in encoder.encode(&out).unwrap() {
                let p = rec.partition as usize;
                let raw = RawRecord {
                    partition: rec.partition,
                    offset: offsets[p],
                    timestamp: rec.timestamp,
                    key: None,
                    value: Some(&rec.value),
                    headers: Vec::new(),
                };
                offsets[p] += 1;
                let (batch, errors) = decoder.decode(&[raw]).unwrap();
                assert!(errors.is_empty(), "{errors:?}");
                for res in back.process(batch.unwrap()).unwrap() {
                    let g = res
                        .data
                        .column(0)
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .unwrap()
                        .clone();
                    let c = res
                        .data
                        .column(1)
                        .as_any()
                        .downcast_ref::<Int64Array>()
                        .unwrap()
                        .clone();
                    // The window start rides along after the output columns and the event time.
                    let ws = res
                        .data
                        .column(start_col + 1)
                        .as_any()
                        .downcast_ref::<Int64Array>()
                        .unwrap()
                        .clone();
                    for i in 0..res.num_rows() {
                        if res.change(i) != ChangeKind::UpdateBefore {
                            got.insert((g.value(i).to_string(), ws.value(i)), c.value(i));
                        }
                    }
                }
            }
        }
    }
    assert_eq!(
        got, want,
        "true hopping counts through the repartition topic's records"
    );
}
