//! Sluice's benchmarks (issue 7): tools that make speed measurable, comparable and reproducible.
//!
//! Entry points:
//! - [`nexmark`]: a deterministic port of the standard Nexmark event generator (persons,
//!   auctions and bids in proportions 1:3:46, with the standard id, price, hot-item, timing and
//!   padding rules) writing each event as the JSON record the Nexmark topics carry, and the
//!   Nexmark sources and queries in KSQL ([`nexmark::queries`]), the end-to-end runs through
//!   Kafka checked against a DataFusion oracle beside an rdkafka decode baseline
//!   ([`nexmark::run`], [`nexmark::oracle`], [`nexmark::baseline`]) and the engine-only mode
//!   ([`nexmark::engine_only`]);
//! - [`pull`]: the materialized table that the pgbench comparison with PostgreSQL queries;
//! - the `sluice-bench` binary (`src/main.rs`): `generate`, `nexmark`, `pull-server`,
//!   `pull-rows`;
//! - criterion micro-benchmarks of the hot paths (`benches/`).
//!
//! Not for: timed tests. Benchmarks are tools; the tests here check correctness only, and
//! `docs/benchmarks.md` holds the method and the figures.

pub mod nexmark;
pub mod pull;
