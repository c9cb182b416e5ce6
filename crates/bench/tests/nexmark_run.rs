//! A tiny `sluice-bench nexmark` run of every query: each must finish with the oracle's answer
//! (a wrong or incomplete result is an error), and the latency run must measure something.
//! Speeds are printed, never asserted: benchmarks are tools, not timed tests.

use std::time::Duration;

use sluice_bench::nexmark::queries::{query, QUERIES};
use sluice_bench::nexmark::run::{run, RunConfig};

fn tiny(name: &str) -> RunConfig {
    let mut config = RunConfig::new(query(name).expect("a Nexmark query"));
    config.events = 6_000;
    config.partitions = 4;
    config.latency_secs = 0;
    config.timeout = Duration::from_secs(90);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_gives_the_oracles_answer() {
    let mut failures = Vec::new();
    for q in QUERIES {
        match run(&tiny(q.name)).await {
            Ok(report) => {
                eprintln!("{}", report.line());
                assert!(report.output_records > 0, "{}: no output", q.name);
                assert!(report.engine_per_sec > 0.0 && report.baseline_per_sec > 0.0);
            }
            Err(e) => failures.push(format!("{}: {e}", q.name)),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latency_run_measures_sink_records() {
    let mut config = tiny("q2");
    config.latency_secs = 3;
    config.max_latency_rate = Some(5_000.0);
    let report = run(&config).await.expect("q2 runs");
    eprintln!("{}\n{}", report.line(), report.details());
    assert!(report.latency_samples > 0, "{report:?}");
    let (p50, p99) = (report.p50_ms.unwrap(), report.p99_ms.unwrap());
    assert!(p50 >= 0.0 && p99 >= p50, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_gives_the_oracles_answer_engine_only() {
    let mut failures = Vec::new();
    for q in QUERIES {
        match sluice_bench::nexmark::engine_only::run(q, 6_000, 4).await {
            Ok(report) => {
                eprintln!("{}", report.line());
                assert!(report.output_records > 0, "{}: no output", q.name);
            }
            Err(e) => failures.push(format!("{}: {e}", q.name)),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
