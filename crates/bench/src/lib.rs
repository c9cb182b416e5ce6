//! Sluice's benchmarks (issue 7): tools that make speed measurable, comparable and reproducible.
//!
//! Entry points:
//! - [`nexmark`]: a deterministic port of the standard Nexmark event generator (persons,
//!   auctions and bids in proportions 1:3:46, with the standard id, price, hot-item, timing and
//!   padding rules) writing each event as the JSON record the Nexmark topics carry, and the
//!   Nexmark sources and queries in KSQL ([`nexmark::queries`]);
//! - the `sluice-bench` binary (`src/main.rs`): `sluice-bench generate` prints generated events
//!   as JSON lines.
//!
//! Not here (yet): the end-to-end throughput runs with their
//! DataFusion oracle and rdkafka baseline, the pgbench comparison and the criterion
//! micro-benchmarks — see issue 7 and `docs/benchmarks.md`. Benchmarks are tools, never timed
//! tests: the tests here check correctness only.

pub mod nexmark;
