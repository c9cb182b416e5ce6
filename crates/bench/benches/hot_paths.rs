//! Criterion micro-benchmarks of Sluice's hot paths (issue 7 item 6), on Nexmark data from the
//! bench crate's generator and operators planned from KSQL by the real planner:
//!
//! - `decode`: JSON → Arrow, [`SourceDecoder`] over one consumer batch of bid records;
//! - `encode`: Arrow → JSON, [`SinkEncoder`] over q0's output rows;
//! - `filter_project`: q1's projection (DECIMAL arithmetic) and q2's filter and projection;
//! - `window`: q5's hopping-window assignment (10 s windows every 2 s: five per bid);
//! - `aggregate`: q5's windowed COUNT per auction, and an unwindowed COUNT/SUM/MAX per bidder;
//! - `join`: a stream–table join probe, bids looking up their auction in a table of auctions.
//!
//! Throughput is in input records (elements) per second. Operators are never opened over a
//! state store, so their state stays in memory (as in a transient push query): these measure
//! the operator code, not sled. Setup is small and measurements short, so that
//! `cargo bench -p sluice-bench` finishes in a few minutes; CI only builds them.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sluice_bench::nexmark::{Event, Generator, GeneratorConfig};
use sluice_catalog::{Catalog, ColumnDef, ColumnRole, SourceDef, SourceKind, TimestampSpec};
use sluice_dataflow::ops::{JoinOp, JoinSide};
use sluice_dataflow::sink::SinkEncoder;
use sluice_dataflow::source::{RawRecord, SourceDecoder};
use sluice_dataflow::{Batch, Operator, Pipeline};
use sluice_formats::{Format, FormatKind};
use sluice_parser::SqlType;
use sluice_planner::{OpSpec, Planner, QueryPlan};

/// Records per batch, as the server's consumer loop hands them to the decoder.
const BATCH: usize = 4096;

/// The JSON records of the first `n` bids (and, separately, of the auctions generated among
/// the same events).
struct Records {
    bids: Vec<(i64, Vec<u8>)>,
    auctions: Vec<(i64, Vec<u8>, Vec<u8>)>,
}

fn records(bids: usize) -> Records {
    let mut out = Records {
        bids: Vec::with_capacity(bids),
        auctions: Vec::new(),
    };
    for event in Generator::new(GeneratorConfig::default()) {
        let mut json = Vec::with_capacity(256);
        event.to_json(&mut json);
        match &event {
            Event::Bid(b) => out.bids.push((b.date_time, json)),
            Event::Auction(a) => {
                out.auctions
                    .push((a.date_time, a.id.to_be_bytes().to_vec(), json))
            }
            Event::Person(_) => {}
        }
        if out.bids.len() == bids {
            break;
        }
    }
    out
}

fn raw<'a>(records: impl Iterator<Item = (i64, Option<&'a [u8]>, &'a [u8])>) -> Vec<RawRecord<'a>> {
    records
        .enumerate()
        .map(|(i, (time, key, value))| RawRecord {
            partition: 0,
            offset: i as i64,
            timestamp: Some(time),
            key,
            value: Some(value),
            headers: Vec::new(),
        })
        .collect()
}

fn column(name: &str, ty: SqlType, role: ColumnRole) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        ty,
        role,
    }
}

/// The `BID` stream and the `AUCTION_BY_ID` table as `nexmark::queries::SOURCES` declares them
/// (the table is the auction topic read as a table keyed by id).
fn catalog() -> Catalog {
    use ColumnRole::{Key, Value};
    use SqlType::{Bigint, String as Str};
    let source = |name: &str, kind, topic: &str, key: FormatKind, columns| SourceDef {
        name: name.into(),
        kind,
        columns,
        topic: topic.into(),
        key_format: Format::new(key),
        value_format: Format::new(FormatKind::Json),
        timestamp: Some(TimestampSpec {
            column: "DATETIME".into(),
            format: None,
        }),
        window: None,
        is_source: false,
        partitions: 1,
        statement: String::new(),
        written_by: None,
    };
    let mut catalog = Catalog::new();
    let bid = vec![
        column("AUCTION", Bigint, Value),
        column("BIDDER", Bigint, Value),
        column("PRICE", Bigint, Value),
        column("CHANNEL", Str, Value),
        column("URL", Str, Value),
        column("DATETIME", Bigint, Value),
        column("EXTRA", Str, Value),
    ];
    let auction = vec![
        column("ID", Bigint, Key),
        column("ITEMNAME", Str, Value),
        column("DESCRIPTION", Str, Value),
        column("INITIALBID", Bigint, Value),
        column("RESERVE", Bigint, Value),
        column("DATETIME", Bigint, Value),
        column("EXPIRES", Bigint, Value),
        column("SELLER", Bigint, Value),
        column("CATEGORY", Bigint, Value),
        column("EXTRA", Str, Value),
    ];
    for def in [
        source(
            "BID",
            SourceKind::Stream,
            "nexmark-bid",
            FormatKind::None,
            bid,
        ),
        source(
            "AUCTION_BY_ID",
            SourceKind::Table,
            "nexmark-auction",
            FormatKind::Kafka,
            auction,
        ),
    ] {
        catalog.add_source(def, false).expect("source");
    }
    catalog
}

fn plan(planner: &Planner, catalog: &Catalog, sql: &str) -> QueryPlan {
    let parsed = sluice_parser::parse(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .remove(0);
    let sluice_parser::Statement::Query(q) = parsed.statement else {
        panic!("not a query: {sql}")
    };
    planner
        .plan_query(&q, catalog)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Fresh operators for `ops`.
fn pipeline_of(ops: &[OpSpec]) -> Pipeline {
    Pipeline::new(
        ops.iter()
            .map(|o| o.instantiate().expect("operator"))
            .collect(),
    )
}

fn decode(decoder: &mut SourceDecoder, records: &[RawRecord<'_>]) -> Batch {
    let (batch, errors) = decoder.decode(records).expect("decode");
    assert!(errors.is_empty(), "{errors:?}");
    batch.expect("rows")
}

struct Fixture {
    planner: Planner,
    catalog: Catalog,
    data: Records,
    /// One decoded batch of `BATCH` bids.
    bids: Batch,
}

impl Fixture {
    fn new() -> Self {
        let catalog = catalog();
        let data = records(BATCH);
        let bid_source = catalog.require("BID").expect("BID").clone();
        let mut decoder = SourceDecoder::new(&bid_source, None).expect("decoder");
        let raw = raw(data.bids.iter().map(|(t, v)| (*t, None, v.as_slice())));
        let bids = decode(&mut decoder, &raw);
        Self {
            planner: Planner::new(),
            catalog,
            data,
            bids,
        }
    }

    fn plan(&self, sql: &str) -> QueryPlan {
        plan(&self.planner, &self.catalog, sql)
    }
}

fn bench_decode(c: &mut Criterion, f: &Fixture) {
    let source = f.catalog.require("BID").expect("BID").clone();
    let mut decoder = SourceDecoder::new(&source, None).expect("decoder");
    let records = raw(f.data.bids.iter().map(|(t, v)| (*t, None, v.as_slice())));
    let bytes: usize = f.data.bids.iter().map(|(_, v)| v.len()).sum();
    let mut g = c.benchmark_group("decode");
    configure(&mut g);
    g.throughput(Throughput::Elements(records.len() as u64));
    g.bench_function(format!("bid_json_{}B_avg", bytes / records.len()), |b| {
        b.iter(|| decode(&mut decoder, &records))
    });
    g.finish();
}

fn bench_encode(c: &mut Criterion, f: &Fixture) {
    let plan = f.plan("SELECT auction, bidder, price, dateTime, extra FROM bid EMIT CHANGES;");
    let layout = sluice_planner::sink::plan_sink(&plan, "NEXMARK_Q0").expect("sink layout");
    let mut encoder = SinkEncoder::new(
        &Format::new(FormatKind::None),
        layout.key_fields,
        &Format::new(FormatKind::Json),
        layout.value_fields,
        None,
    )
    .expect("encoder");
    let mut p = plan.pipeline().expect("pipeline");
    let out = p.process(f.bids.clone()).expect("q0").remove(0);
    let mut g = c.benchmark_group("encode");
    configure(&mut g);
    g.throughput(Throughput::Elements(out.num_rows() as u64));
    g.bench_function("q0_json", |b| {
        b.iter(|| encoder.encode(&out).expect("encode"))
    });
    g.finish();
}

fn bench_filter_project(c: &mut Criterion, f: &Fixture) {
    let mut g = c.benchmark_group("filter_project");
    configure(&mut g);
    g.throughput(Throughput::Elements(f.bids.num_rows() as u64));
    for (name, sql) in [
        (
            "q1_project_decimal",
            "SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid EMIT CHANGES;",
        ),
        (
            "q2_filter_project",
            "SELECT auction, price FROM bid WHERE auction % 123 = 0 EMIT CHANGES;",
        ),
    ] {
        let mut p = f.plan(sql).pipeline().expect("pipeline");
        g.bench_function(name, |b| {
            b.iter_batched(
                || f.bids.clone(),
                |batch| p.process(batch).expect("process"),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

const Q5: &str = "SELECT auction, COUNT(*) AS num FROM bid \
                  WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 2 SECONDS) GROUP BY auction \
                  EMIT CHANGES;";

fn bench_window(c: &mut Criterion, f: &Fixture) {
    let plan = f.plan(Q5);
    // Only the window assignment is measured: its input is what the operators before it
    // produce (the projection that keeps what the aggregation reads, before the repartition).
    let at = plan
        .ops
        .iter()
        .position(|o| matches!(o, OpSpec::WindowAssign(..)))
        .unwrap_or_else(|| panic!("a window assignment: {:?}", plan.explain()));
    let mut before = pipeline_of(&plan.ops[..at]);
    let input: Vec<Batch> = before.process(f.bids.clone()).expect("before");
    let mut window = plan.ops[at].instantiate().expect("window");
    let mut g = c.benchmark_group("window");
    configure(&mut g);
    g.throughput(Throughput::Elements(f.bids.num_rows() as u64));
    g.bench_function("q5_hopping_10s_2s", |b| {
        b.iter_batched(
            || input.clone(),
            |input| {
                for batch in input {
                    window.process_batch(batch).expect("window");
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn bench_aggregate(c: &mut Criterion, f: &Fixture) {
    let mut g = c.benchmark_group("aggregate");
    configure(&mut g);
    g.throughput(Throughput::Elements(f.bids.num_rows() as u64));
    // Only the aggregation is measured: its input is what the operators before it produce.
    for (name, sql) in [
        ("q5_windowed_count", Q5),
        (
            "count_sum_max_per_bidder",
            "SELECT bidder, COUNT(*) AS n, SUM(price) AS total, MAX(price) AS top FROM bid \
             GROUP BY bidder EMIT CHANGES;",
        ),
    ] {
        let plan = f.plan(sql);
        let at = plan
            .ops
            .iter()
            .position(|o| matches!(o, OpSpec::Aggregate(_)))
            .expect("an aggregation");
        let mut before = pipeline_of(&plan.ops[..at]);
        let input: Vec<Batch> = before.process(f.bids.clone()).expect("before");
        let mut agg: Box<dyn Operator> = plan.ops[at].instantiate().expect("aggregate");
        // Every group exists already: the measurement is the steady state of updates.
        for b in &input {
            agg.process_batch(b.clone()).expect("warm up");
        }
        g.bench_function(name, |b| {
            b.iter_batched(
                || input.clone(),
                |input| {
                    for batch in input {
                        agg.process_batch(batch).expect("aggregate");
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn bench_join(c: &mut Criterion, f: &Fixture) {
    let plan = f.plan(
        "SELECT B.auction AS auction, B.price AS price, A.seller AS seller, \
         A.category AS category FROM bid B JOIN auction_by_id A ON B.auction = A.id EMIT CHANGES;",
    );
    let spec = plan.joins.first().expect("a join").spec.clone();
    let mut join = JoinOp::new(spec).expect("join");
    // The table side: every auction generated up to the last bid.
    let table = f.catalog.require("AUCTION_BY_ID").expect("table").clone();
    let mut decoder = SourceDecoder::new(&table, None).expect("decoder");
    let records = raw(f
        .data
        .auctions
        .iter()
        .map(|(t, k, v)| (*t, Some(k.as_slice()), v.as_slice())));
    let auctions = decode(&mut decoder, &records);
    join.process(JoinSide::Right, &auctions)
        .expect("table side");
    let matched = join
        .process(JoinSide::Left, &f.bids)
        .expect("probe")
        .map_or(0, |b| b.num_rows());
    assert!(matched > 0, "bids find their auctions");
    let mut g = c.benchmark_group("join");
    configure(&mut g);
    g.throughput(Throughput::Elements(f.bids.num_rows() as u64));
    g.bench_function(
        format!("stream_table_probe_{}_auctions", auctions.num_rows()),
        |b| b.iter(|| join.process(JoinSide::Left, &f.bids).expect("probe")),
    );
    g.finish();
}

fn configure(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

fn hot_paths(c: &mut Criterion) {
    let f = Fixture::new();
    bench_decode(c, &f);
    bench_encode(c, &f);
    bench_filter_project(c, &f);
    bench_window(c, &f);
    bench_aggregate(c, &f);
    bench_join(c, &f);
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
