//! A tiny `sluice-bench nexmark` run of every query: each must finish with the oracle's answer
//! (a wrong or incomplete result is an error), and the search for the sustained rate and the
//! latency run must measure something.
//! Speeds are printed, never asserted: benchmarks are tools, not timed tests.

use std::time::Duration;

use sluice_bench::nexmark::queries::{query, QUERIES};
use sluice_bench::nexmark::run::{run, RunConfig};

fn tiny(name: &str) -> RunConfig {
    let mut config = RunConfig::new(query(name).expect("a Nexmark query"));
    config.events = 6_000;
    config.partitions = 4;
    config.live_partitions = 4;
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
async fn the_search_finds_a_sustained_rate_and_the_latency_run_measures_sink_records() {
    // q0: every bid makes a sink record, so a short live run has samples.
    let mut config = tiny("q0");
    config.latency_secs = 3;
    config.max_latency_rate = Some(4_000.0);
    config.search.probe = Duration::from_secs(2);
    config.search.max_probes = 2;
    // Generous for a debug build sharing two cores with the other tests.
    config.search.lag_bound = Duration::from_secs(3);
    let report = run(&config).await.expect("q0 runs");
    eprintln!("{}\n{}", report.line(), report.details());
    assert!(!report.probes.is_empty(), "{report:?}");
    // The first probe offers a quarter of the cap: 1,000 records/s of q0 is sustained.
    let sustained = report.sustained_per_sec.expect("a sustained rate");
    assert!(sustained <= 4_000.0, "{report:?}");
    assert_eq!(report.latency_rate, sustained / 2.0, "{report:?}");
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
