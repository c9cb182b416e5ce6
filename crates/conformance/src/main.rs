//! `sluice-conformance [--json FILE] [--filter SUBSTRING] [--jobs N] [--verbose] PATH...`
//!
//! Runs ksqlDB's functional tests found under each PATH (a test file or a folder of them)
//! against the Sluice engine. Prints one line per failing variant, a summary per file and last
//! `N passed, M failed, K skipped`.
//!
//! Exit status: with `--passing FILE` (the ratchet), 1 when a listed id does not pass and 0
//! otherwise; with `--update-passing`, the file is rewritten and the status is 0; without
//! either, 1 when any variant failed. 2 for usage or I/O errors.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use sluice_conformance::{load_variants, report, run_all, RunConfig, Status};

/// The ratchet file, relative to the repository root.
const DEFAULT_PASSING: &str = "sql-tests/conformance/passing.txt";

#[derive(Debug, Parser)]
#[command(
    name = "sluice-conformance",
    about = "Replay ksqlDB's functional test corpus against the Sluice engine"
)]
struct Args {
    /// Test files or folders of them (searched recursively for *.json).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Write the JSON report (one object per test variant) to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Run only the variants whose id (`file / test / format`) contains SUBSTRING.
    #[arg(long, value_name = "SUBSTRING")]
    filter: Option<String>,
    /// Variants run in parallel.
    #[arg(long, default_value_t = 2, value_name = "N")]
    jobs: usize,
    /// Show expected and actual records of failing variants, and skipped variants.
    #[arg(long)]
    verbose: bool,
    /// Longest wait for outputs or push-query rows, in seconds.
    #[arg(long, default_value_t = 12, value_name = "SECS")]
    timeout: u64,
    /// Ratchet file: fail when one of its ids does not pass.
    #[arg(long, value_name = "FILE")]
    passing: Option<PathBuf>,
    /// Rewrite the ratchet file (--passing, default sql-tests/conformance/passing.txt) with
    /// the ids that pass; ids outside this run are kept.
    #[arg(long)]
    update_passing: bool,
    /// Write the Markdown page of pass rates (docs/conformance.md) to FILE.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// How the corpus is named on the Markdown page.
    #[arg(long, default_value = "`../shared/ksql-tests`", value_name = "TEXT")]
    corpus_name: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error,librdkafka=off")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sluice-conformance: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sluice-conformance: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<ExitCode, sluice_conformance::ConformanceError> {
    let started = Instant::now();
    let (variants, mut broken) = load_variants(&args.paths, args.filter.as_deref())?;
    let cfg = RunConfig {
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let total = variants.len();
    eprintln!(
        "sluice-conformance: {total} variants, {} at a time",
        args.jobs.max(1)
    );
    let mut outcomes = run_all(variants, &cfg, args.jobs, |done, total, o| {
        if o.status == Status::Fail && args.verbose {
            eprintln!("[{done}/{total}] FAIL {}: {}", o.id(), o.reason);
        } else if done % 50 == 0 || done == total {
            eprintln!("[{done}/{total}] {:.0} s", started.elapsed().as_secs_f64());
        }
    })
    .await;
    outcomes.append(&mut broken);

    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(report::console(&outcomes, args.verbose).as_bytes());
    let _ = stdout.flush();

    if let Some(path) = &args.json {
        report::write(path, &report::json(&outcomes))?;
    }
    if let Some(path) = &args.markdown {
        report::write(path, &report::markdown(&outcomes, &args.corpus_name))?;
    }

    let ratchet_path = args
        .passing
        .clone()
        .or_else(|| args.update_passing.then(|| PathBuf::from(DEFAULT_PASSING)));
    let Some(ratchet_path) = ratchet_path else {
        let failed = outcomes.iter().any(|o| o.status == Status::Fail);
        return Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    };
    let listed = report::read_passing(&ratchet_path)?;
    if args.update_passing {
        let ids = report::updated_passing(&listed, &outcomes);
        report::write(&ratchet_path, &report::passing_text(&ids))?;
        eprintln!(
            "sluice-conformance: {} now lists {} passing ids (was {})",
            ratchet_path.display(),
            ids.len(),
            listed.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let r = report::check_ratchet(&listed, &outcomes);
    if !r.not_run.is_empty() {
        eprintln!(
            "ratchet: {} listed ids were not part of this run",
            r.not_run.len()
        );
    }
    if !r.new_passes.is_empty() {
        eprintln!(
            "ratchet: {} variants pass but are not listed in {}; add them with --update-passing:",
            r.new_passes.len(),
            ratchet_path.display()
        );
        for id in &r.new_passes {
            eprintln!("  + {id}");
        }
    }
    if r.regressions.is_empty() {
        eprintln!(
            "ratchet: all {} listed ids pass",
            listed.len() - r.not_run.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "ratchet: {} listed ids no longer pass:",
            r.regressions.len()
        );
        for (id, why) in &r.regressions {
            eprintln!("  - {id}: {why}");
        }
        Ok(ExitCode::FAILURE)
    }
}
