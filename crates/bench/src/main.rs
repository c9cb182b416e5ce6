//! `sluice-bench`: see the crate docs.

use std::io::Write;

use clap::{Parser, Subcommand};
use sluice_bench::nexmark::engine_only;
use sluice_bench::nexmark::queries::{self, Query, QUERIES};
use sluice_bench::nexmark::run::{self, RunConfig};
use sluice_bench::nexmark::{Event, Generator, GeneratorConfig};

#[derive(Parser)]
#[command(name = "sluice-bench", about = "Sluice's benchmark tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print Nexmark events as JSON lines: `<kind>\t<json>` (kind: person, auction or bid).
    Generate {
        /// How many events.
        #[arg(long, default_value_t = 100)]
        events: u64,
        /// Events per second of event time (spacing of the event timestamps).
        #[arg(long, default_value_t = 10_000)]
        rate: i64,
    },
    /// Run Nexmark queries end to end through Kafka (embedded broker), check each result
    /// against DataFusion, and print `qN engine=... baseline=... ratio=... p50=... p99=...`.
    Nexmark {
        /// Queries to run (q0, q1, q2, q3, q4, q5, q7, q8), comma-separated, or `all`.
        #[arg(long, default_value = "all")]
        query: String,
        /// Events generated for the throughput run.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Partitions per input topic (the embedded broker keeps ~5 MiB per partition).
        #[arg(long, default_value_t = 64)]
        partitions: u32,
        /// Seconds of the latency run at half the sustained rate (0 skips it and the search
        /// for the sustained rate).
        #[arg(long, default_value_t = 10)]
        latency_secs: u64,
        /// Input rate of the latency run (records of the query's topics per second) instead of
        /// half the sustained rate (no search then).
        #[arg(long)]
        latency_rate: Option<f64>,
        /// Partitions per input topic in the live runs (search and latency).
        #[arg(long, default_value_t = 8)]
        live_partitions: u32,
        /// Seconds of each live probe of the search for the sustained rate.
        #[arg(long, default_value_t = 5)]
        probe_secs: u64,
        /// A sustained rate keeps its lag and p99 latency within this many milliseconds.
        #[arg(long, default_value_t = 1000)]
        lag_bound_ms: u64,
        /// Give up on a throughput run after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
        /// Feed the records straight into the query's operators (no Kafka clients, state in
        /// memory) and compare with decoding alone.
        #[arg(long)]
        engine_only: bool,
    },
    /// Serve a materialized table of `--keys` rows for pull queries (scripts/bench-pull.sh):
    /// prints `ready pg_addr=HOST:PORT ...` once every row can be looked up, then serves
    /// until killed.
    PullServer {
        /// Rows in the table (ids 1..=keys).
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
        /// Partitions of the table's topic (the embedded broker keeps ~5 MiB per partition).
        #[arg(long, default_value_t = 32)]
        partitions: u32,
        /// The PostgreSQL-protocol address.
        #[arg(long, default_value = "127.0.0.1:6875")]
        listen: std::net::SocketAddr,
        /// Give up loading after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
    },
    /// Print the pull-server's rows as CSV (`id,name,amount`) for PostgreSQL's COPY.
    PullRows {
        /// Rows (ids 1..=keys).
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
    },
}

fn main() -> std::io::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Nexmark {
            query,
            events,
            partitions,
            latency_secs,
            timeout_secs,
            latency_rate,
            probe_secs,
            lag_bound_ms,
            live_partitions,
            engine_only,
        } => {
            let names: Vec<&'static Query> = if query.eq_ignore_ascii_case("all") {
                QUERIES.iter().collect()
            } else {
                query
                    .split(',')
                    .map(|n| {
                        queries::query(n.trim()).ok_or_else(|| {
                            std::io::Error::new(
                                std::io::ErrorKind::InvalidInput,
                                format!("no Nexmark query {n}"),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let mut failed = false;
            for q in names {
                if engine_only {
                    match runtime.block_on(engine_only::run(q, events, partitions)) {
                        Ok(report) => {
                            println!("{}", report.line());
                            eprintln!("  {}", report.details());
                        }
                        Err(e) => {
                            failed = true;
                            println!("{} FAILED: {e}", q.name);
                        }
                    }
                    continue;
                }
                let mut config = RunConfig::new(q);
                config.events = events;
                config.partitions = partitions;
                config.live_partitions = live_partitions;
                config.latency_secs = latency_secs;
                config.latency_rate = latency_rate;
                config.search.probe = std::time::Duration::from_secs(probe_secs.max(1));
                config.search.lag_bound = std::time::Duration::from_millis(lag_bound_ms);
                config.timeout = std::time::Duration::from_secs(timeout_secs);
                match runtime.block_on(run::run(&config)) {
                    Ok(report) => {
                        println!("{}", report.line());
                        eprintln!("  {}", report.details());
                    }
                    Err(e) => {
                        failed = true;
                        println!("{} FAILED: {e}", q.name);
                    }
                }
            }
            if failed {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::PullServer {
            keys,
            partitions,
            listen,
            timeout_secs,
        } => pull_server(sluice_bench::pull::PullConfig {
            keys,
            partitions,
            listen,
            timeout: std::time::Duration::from_secs(timeout_secs),
        }),
        Command::PullRows { keys } => {
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            sluice_bench::pull::write_csv(keys, &mut out)?;
            out.flush()
        }
        Command::Generate { events, rate } => {
            let config = GeneratorConfig {
                first_event_rate: rate,
                ..GeneratorConfig::default()
            };
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            let mut buf = Vec::with_capacity(1024);
            for event in Generator::new(config).take(events as usize) {
                buf.clear();
                let kind = match &event {
                    Event::Person(p) => {
                        p.to_json(&mut buf);
                        "person"
                    }
                    Event::Auction(a) => {
                        a.to_json(&mut buf);
                        "auction"
                    }
                    Event::Bid(b) => {
                        b.to_json(&mut buf);
                        "bid"
                    }
                };
                out.write_all(kind.as_bytes())?;
                out.write_all(b"\t")?;
                out.write_all(&buf)?;
                out.write_all(b"\n")?;
            }
            out.flush()
        }
    }
}

/// `sluice-bench pull-server`: load the table, say so on stdout, serve until SIGINT/SIGTERM.
fn pull_server(config: sluice_bench::pull::PullConfig) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = sluice_bench::pull::PullServer::start(&config)
            .await
            .map_err(std::io::Error::other)?;
        println!(
            "ready pg_addr={} keys={} load_secs={:.1}",
            server.pg_addr(),
            server.keys,
            server.load_time.as_secs_f64()
        );
        std::io::stdout().flush()?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        server.shutdown().await;
        Ok(())
    })
}
