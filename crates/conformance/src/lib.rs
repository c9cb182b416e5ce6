//! `sluice-conformance`: replays ksqlDB's own functional test corpus (query-validation and
//! rest-query-validation JSON files) against the real Sluice engine and reports, test by test,
//! whether Sluice behaves as ksqlDB does.
//!
//! Entry points:
//! - [`load_variants`]: test files → runnable [`Variant`]s (one per test, or per test × format
//!   for tests with a `format` list), with stable ids `file / test / FORMAT-or-dash`;
//! - [`run_all`] / [`run::run_variant`]: each variant against its own embedded broker and
//!   engine, statements through [`sluice_server::Engine::execute`] (pgwire's entry point),
//!   inputs written byte-exactly, outputs read back and compared by the topic's formats;
//! - [`report`]: the console summary, the JSON report, the ratchet file
//!   (`sql-tests/conformance/passing.txt`) and the Markdown page `docs/conformance.md`;
//! - the `sluice-conformance` binary (`src/main.rs`) ties these together.
//!
//! What it is not: a place for engine behaviour. The runner only translates the corpus format;
//! nothing here knows a test's name, input or expected value. A test is skipped only for a
//! reason about the test itself (disabled, or it calls a function that exists only in ksqlDB's
//! Java test sources); a missing Sluice feature is a failure with its reason.

pub mod avro;
pub mod base64;
pub mod compare;
pub mod corpus;
pub mod deviations;
pub mod error;
pub mod json;
pub mod post;
pub mod produce;
pub mod protobuf;
pub mod records;
pub mod report;
pub mod rows;
pub mod run;
pub mod topics;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

pub use corpus::{Variant, TEST_ONLY_FUNCTIONS};
pub use error::ConformanceError;
pub use run::{Outcome, RunConfig, Status};

/// Reads every test file under `paths` and expands it into variants, keeping those whose id
/// contains `filter`. A file that cannot be read or parsed becomes one failing outcome (it is
/// not silently dropped).
pub fn load_variants(
    paths: &[PathBuf],
    filter: Option<&str>,
) -> Result<(Vec<Variant>, Vec<Outcome>), ConformanceError> {
    let files = corpus::discover(paths)?;
    let mut variants = Vec::new();
    let mut broken = Vec::new();
    for f in &files {
        match corpus::load(f) {
            Ok(vs) => variants.extend(
                vs.into_iter()
                    .filter(|v| filter.is_none_or(|s| v.id().contains(s))),
            ),
            Err(e) => {
                if filter.is_none_or(|s| f.name.contains(s)) {
                    broken.push(Outcome {
                        file: f.name.clone(),
                        test: "(the whole file)".into(),
                        format: None,
                        status: Status::Fail,
                        reason: format!("cannot read the test file: {e}"),
                        details: Vec::new(),
                        elapsed: Duration::ZERO,
                        schema_registry: false,
                    });
                }
            }
        }
    }
    Ok((variants, broken))
}

/// Runs the variants, `jobs` at a time, each isolated from the others. Outcomes come back in
/// the order of `variants`; `progress(done, total, outcome)` is called as each finishes.
pub async fn run_all(
    variants: Vec<Variant>,
    cfg: &RunConfig,
    jobs: usize,
    mut progress: impl FnMut(usize, usize, &Outcome),
) -> Vec<Outcome> {
    let total = variants.len();
    let cfg = Arc::new(cfg.clone());
    let mut stream = futures::stream::iter(variants.into_iter().enumerate().map(|(i, v)| {
        let cfg = cfg.clone();
        async move {
            let id = (v.file.clone(), v.test.clone(), v.format.clone());
            let schema_registry = v.uses_schema_registry();
            let outcome = match tokio::spawn(async move { run::run_variant(&v, &cfg).await }).await
            {
                Ok(o) => o,
                Err(e) => Outcome {
                    file: id.0,
                    test: id.1,
                    format: id.2,
                    status: Status::Fail,
                    reason: format!("the runner's task failed: {e}"),
                    details: Vec::new(),
                    schema_registry,
                    elapsed: Duration::ZERO,
                },
            };
            tracing::info!(
                id = %outcome.id(),
                status = outcome.status.as_str(),
                elapsed_ms = outcome.elapsed.as_millis() as u64,
                "variant done"
            );
            (i, outcome)
        }
    }))
    .buffer_unordered(jobs.max(1));
    let mut slots: Vec<Option<Outcome>> = (0..total).map(|_| None).collect();
    let mut done = 0;
    while let Some((i, o)) = stream.next().await {
        done += 1;
        progress(done, total, &o);
        slots[i] = Some(o);
    }
    slots.into_iter().flatten().collect()
}
