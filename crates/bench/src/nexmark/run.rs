//! `sluice-bench nexmark --query qN`: one Nexmark query end to end through Kafka, checked
//! against the oracle, beside the speed-of-light baseline, then the sustained live rate and a
//! latency run at half of it.
//!
//! # Method
//!
//! Everything runs in one process: a Sluice server with its embedded broker (librdkafka's mock
//! cluster), the benchmark's producer and its sink reader (plain rdkafka clients).
//!
//! 1. **Throughput (catch-up).** The generator's events are produced to the three topics
//!    first (event time advancing [`RunConfig::event_spacing_us`] per event), then the query's
//!    statements start reading from the earliest offsets. The clock runs from the moment the
//!    query has processed its first batch (so the seconds the engine's consumer takes to join
//!    its group are not counted) until the sink record that completes the correct answer is
//!    visible to the sink reader. `engine` = records of the query's input topics / that time.
//!    The mock broker keeps only about 5 MiB per partition, so the run spreads the events over
//!    [`RunConfig::partitions`] partitions and refuses to measure if any were dropped.
//! 2. **Correctness.** The sink's records are compared with the oracle's answer (the same query
//!    answered by DataFusion over the same events); any difference fails the run.
//! 3. **Baseline.** On the same broker and records: [`super::baseline`] reads and decodes the
//!    query's input topics, nothing else.
//! 4. **Sustained rate.** [`super::sustained::search`]: live probes on fresh servers, the
//!    generator pacing events in real time while the query runs, find the highest input rate
//!    the engine keeps up with (lag and p99 latency within a bound), below the throughput of
//!    step 1.
//! 5. **Latency.** One more live run at half the sustained rate, for
//!    [`RunConfig::latency_secs`]. Latency of a sink record = when the sink reader saw it −
//!    its record timestamp, which is the send time of the newest input that produced it
//!    (projections and joins carry it over, aggregations stamp an update with the time of the
//!    record that caused it). The first second is warm-up and not counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_catalog::SourceDef;
use sluice_server::session::SessionProps;
use sluice_server::{KafkaMode, QueryInfo, RunningServer, ServerConfig};

use super::kafka_io::{dropped_partitions, topic_of, watermarks, EventProducer, SinkReader};
use super::oracle::{self, Answer, Observed};
use super::queries::{sources, Query};
use super::sustained::{self, SearchConfig};
use super::{baseline, Event, EventKind, Generator, GeneratorConfig};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub query: &'static Query,
    /// Events generated for the throughput run.
    pub events: u64,
    /// Partitions of each input topic.
    pub partitions: u32,
    /// Partitions of each input topic in the live runs (the search and the latency run).
    /// The embedded broker's fetch cost grows with the message sets a partition keeps, and a
    /// live producer writes a set per partition every `linger.ms`, so fewer partitions mean
    /// fewer, fuller sets; nothing needs the throughput run's 64 partitions, whose purpose
    /// is to keep a whole backlog under 5 MiB per partition.
    pub live_partitions: u32,
    /// Event-time distance between consecutive events of the throughput run (µs). The
    /// default, 1 ms, gives every event its own millisecond, so results that depend on which of
    /// two equal timestamps is processed first (a stream–table join) are well defined.
    pub event_spacing_us: i64,
    /// Length of the latency run (0 skips it and the search for the sustained rate).
    pub latency_secs: u64,
    /// The latency run's input rate (records of the query's topics per second) instead of
    /// half the sustained rate; no search then.
    pub latency_rate: Option<f64>,
    /// Upper bound of the live runs' input rate (records of the query's topics per second),
    /// for small runs whose throughput figure means little.
    pub max_latency_rate: Option<f64>,
    /// How the sustained rate is searched for.
    pub search: SearchConfig,
    /// Give up on the throughput run after this long.
    pub timeout: Duration,
}

impl RunConfig {
    pub fn new(query: &'static Query) -> Self {
        Self {
            query,
            events: 1_000_000,
            partitions: 64,
            live_partitions: 8,
            event_spacing_us: 1_000,
            latency_secs: 10,
            latency_rate: None,
            max_latency_rate: None,
            search: SearchConfig::default(),
            timeout: Duration::from_secs(300),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub query: &'static str,
    /// Records of the query's input topics.
    pub input_records: u64,
    pub output_records: u64,
    /// Throughput run: input records / seconds.
    pub engine_per_sec: f64,
    /// Process CPU seconds spent during the throughput run (engine, broker, sink reader).
    pub cpu_secs: f64,
    pub elapsed: Duration,
    pub baseline_per_sec: f64,
    /// The highest input rate (records/s) sustained live with bounded lag, if searched for
    /// and found.
    pub sustained_per_sec: Option<f64>,
    /// The search's probes, one line each, and whether each rate was sustained.
    pub probes: Vec<(String, bool)>,
    /// Latency run: input records per second asked for, and latencies (ms).
    pub latency_rate: f64,
    /// The latency run: how long after its last input every query had caught up.
    pub latency_drained: Option<Duration>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub latency_samples: usize,
}

impl RunReport {
    /// The one-line summary.
    pub fn line(&self) -> String {
        let ms = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.1}"));
        format!(
            "{} engine={:.0} baseline={:.0} ratio={:.2} p50={} p99={}",
            self.query,
            self.engine_per_sec,
            self.baseline_per_sec,
            self.engine_per_sec / self.baseline_per_sec.max(1e-9),
            ms(self.p50_ms),
            ms(self.p99_ms)
        )
    }

    /// The details behind the line.
    pub fn details(&self) -> String {
        let mut out = format!(
            "{} input_records={} output_records={} elapsed_s={:.2} cpu_s={:.2} \
             engine_per_cpu_s={:.0} sustained={} latency_rate={:.0} latency_samples={} \
             latency_drained_ms={}",
            self.query,
            self.input_records,
            self.output_records,
            self.elapsed.as_secs_f64(),
            self.cpu_secs,
            self.input_records as f64 / self.cpu_secs.max(1e-9),
            self.sustained_per_sec
                .map_or("none".to_string(), |r| format!("{r:.0}")),
            self.latency_rate,
            self.latency_samples,
            self.latency_drained
                .map_or("no".to_string(), |d| d.as_millis().to_string()),
        );
        for (probe, ok) in &self.probes {
            let verdict = if *ok { "sustained" } else { "not sustained" };
            out.push_str(&format!("\n    probe {probe}: {verdict}"));
        }
        out
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("server: {0}")]
    Server(String),
    #[error("statement failed: {statement}: {error}")]
    Statement { statement: String, error: String },
    #[error("kafka: {0}")]
    Kafka(String),
    #[error("the broker dropped records of {topic} (partition {partition} starts at offset {low}); use more partitions or fewer events")]
    Dropped {
        topic: String,
        partition: usize,
        low: i64,
    },
    #[error("oracle: {0}")]
    Oracle(#[from] oracle::OracleError),
    #[error("wrong result for {query} after {elapsed:?}: {diff}")]
    Wrong {
        query: String,
        elapsed: Duration,
        diff: String,
    },
    #[error("the query's persistent query stopped (see the server's log)")]
    QueryStopped,
    #[error("engine: {0}")]
    Engine(String),
}

/// A note naming the topics the broker dropped records of, for a wrong result's message.
fn dropped_note(bootstrap: &str) -> String {
    match dropped_partitions(bootstrap) {
        Ok(d) if d.is_empty() => String::new(),
        Ok(d) => {
            let mut topics: Vec<&str> = d.iter().map(|(t, _, _)| t.as_str()).collect();
            topics.dedup();
            let (t, p, low) = &d[0];
            format!(
                "; the broker dropped the oldest records of {} partition(s) of {} (e.g. {t} partition {p} starts at offset {low}): use more partitions or fewer events",
                d.len(),
                topics.join(", ")
            )
        }
        Err(e) => format!("; could not check the topics for dropped records: {e}"),
    }
}

/// The topics a query reads.
pub fn input_kinds(q: &Query) -> Vec<EventKind> {
    q.reads.to_vec()
}

pub(crate) async fn start_server() -> Result<RunningServer, RunError> {
    sluice_server::start(ServerConfig {
        kafka: KafkaMode::Embedded,
        data_dir: None,
        listen: "127.0.0.1:0".parse().expect("address"),
        service_id: "bench_".into(),
        schema_registry: None,
        schema_registry_listen: None,
    })
    .await
    .map_err(|e| RunError::Server(e.to_string()))
}

pub(crate) async fn execute(
    server: &RunningServer,
    props: &SessionProps,
    sql: &str,
) -> Result<(), RunError> {
    server
        .engine
        .execute(props, sql)
        .await
        .map(|_| ())
        .map_err(|e| RunError::Statement {
            statement: sql.to_string(),
            error: e.to_string(),
        })
}

/// Creates the sources (and their topics).
pub(crate) async fn create_sources(
    server: &RunningServer,
    partitions: u32,
) -> Result<SessionProps, RunError> {
    let props = SessionProps::default();
    props.set("auto.offset.reset", "earliest");
    for s in sources(partitions) {
        execute(server, &props, &s).await?;
    }
    Ok(props)
}

/// Runs the query's statements; returns the persistent queries they started.
pub(crate) async fn start_query(
    server: &RunningServer,
    props: &SessionProps,
    q: &Query,
) -> Result<Vec<QueryInfo>, RunError> {
    let before = server.engine.queries().len();
    for s in q.statements {
        execute(server, props, s).await?;
    }
    Ok(server.engine.queries()[before..].to_vec())
}

/// Whether one of `queries` has stopped (persistent queries stop only when they fail).
pub(crate) fn any_stopped(server: &RunningServer, queries: &[QueryInfo]) -> bool {
    server
        .engine
        .queries()
        .iter()
        .any(|qi| !qi.running && queries.iter().any(|mine| mine.id == qi.id))
}

/// Process CPU time (user + system) so far.
pub(crate) fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc_rusage::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let rc = unsafe { libc_rusage::getrusage(0, usage.as_mut_ptr()) };
    if rc != 0 {
        return Duration::ZERO;
    }
    // SAFETY: initialized by the successful call above.
    let u = unsafe { usage.assume_init() };
    let tv = |t: libc_rusage::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// `getrusage` without a libc dependency (Linux x86_64/aarch64 layout).
mod libc_rusage {
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct timeval {
        pub tv_sec: i64,
        pub tv_usec: i64,
    }
    #[repr(C)]
    pub struct rusage {
        pub ru_utime: timeval,
        pub ru_stime: timeval,
        pub rest: [i64; 14],
    }
    extern "C" {
        pub fn getrusage(who: i32, usage: *mut rusage) -> i32;
    }
}

/// Runs `config` (both phases) and reports; a wrong result is an error.
pub async fn run(config: &RunConfig) -> Result<RunReport, RunError> {
    let q = config.query;
    let kinds = input_kinds(q);
    let gen_config = GeneratorConfig {
        num_events: Some(config.events as i64),
        first_event_rate: (1_000_000 / config.event_spacing_us.max(1)).max(1),
        ..GeneratorConfig::default()
    };
    let events: Vec<Event> = Generator::new(gen_config).collect();
    let input_records = events.iter().filter(|e| kinds.contains(&e.kind())).count() as u64;
    tracing::info!(
        query = q.name,
        events = events.len(),
        input_records,
        "asking the oracle"
    );
    let expected = oracle::expected(&q.oracle, &events).await?;

    // Phase 1: throughput.
    let server = start_server().await?;
    let props = create_sources(&server, config.partitions).await?;
    let bootstrap = server.kafka_bootstrap.clone();
    {
        let bootstrap = bootstrap.clone();
        let partitions = config.partitions;
        let events = &events;
        std::thread::scope(|s| {
            s.spawn(move || -> Result<(), RunError> {
                let mut p = EventProducer::new(&bootstrap, partitions, 20)
                    .map_err(|e| RunError::Kafka(e.to_string()))?;
                for (i, e) in events.iter().enumerate() {
                    p.send(e).map_err(|e| RunError::Kafka(e.to_string()))?;
                    if i % 1024 == 0 {
                        p.poll();
                    }
                }
                p.flush().map_err(|e| RunError::Kafka(e.to_string()))
            })
            .join()
            .map_err(|_| RunError::Kafka("producer panicked".into()))?
        })?;
    }
    for kind in [EventKind::Person, EventKind::Auction, EventKind::Bid] {
        let topic = topic_of(kind);
        let marks = watermarks(&bootstrap, topic).map_err(RunError::Kafka)?;
        if let Some((partition, (low, _))) = marks.iter().enumerate().find(|(_, (l, _))| *l > 0) {
            return Err(RunError::Dropped {
                topic: topic.into(),
                partition,
                low: *low,
            });
        }
    }
    let queries = start_query(&server, &props, q).await?;
    let reader = SinkReader::start(&bootstrap, q.sink).map_err(RunError::Kafka)?;
    let begin = Instant::now();
    // The clock starts once the first batch is processed.
    let (start, cpu_start) = loop {
        if queries.iter().any(|qi| {
            qi.metrics
                .records_in
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
        }) {
            break (Instant::now(), cpu_time());
        }
        if begin.elapsed() > config.timeout {
            let _ = reader.stop();
            return Err(RunError::Wrong {
                query: q.name.into(),
                elapsed: begin.elapsed(),
                diff: "the query processed nothing".into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let mut observed = Observed::new(q.oracle);
    let mut read = 0;
    let quiet = Duration::from_millis(1500);
    let done_at = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (count, last) = reader.progress();
        let settled = match &expected {
            Answer::Stream(rows) => count >= rows.len(),
            Answer::Table(_) => last.is_some_and(|l| l.elapsed() >= quiet),
        };
        let timed_out = start.elapsed() > config.timeout;
        if settled || timed_out {
            for r in reader.records_from(read) {
                observed.push(r.key.as_deref(), r.value.as_deref());
            }
            read = count;
            let diff = observed.answer().diff(&expected);
            match diff {
                None if observed.unreadable.is_empty() => break last.unwrap_or(start),
                _ if timed_out => {
                    let _ = reader.stop();
                    let mut diff = diff.unwrap_or_default();
                    if let Some(u) = observed.unreadable.first() {
                        diff.push_str(&format!("; unreadable sink records, first: {u}"));
                    }
                    diff.push_str(&dropped_note(&bootstrap));
                    return Err(RunError::Wrong {
                        query: q.name.into(),
                        elapsed: start.elapsed(),
                        diff,
                    });
                }
                _ => {}
            }
        }
        if any_stopped(&server, &queries) {
            let _ = reader.stop();
            return Err(RunError::QueryStopped);
        }
    };
    let cpu = cpu_time().saturating_sub(cpu_start);
    let elapsed = done_at.saturating_duration_since(start);
    let output_records = reader.progress().0 as u64;
    reader.stop().map_err(RunError::Kafka)?;
    let engine_per_sec = input_records as f64 / elapsed.as_secs_f64().max(1e-9);

    // Phase 3: baseline on the same broker and records.
    let catalog = server.engine.catalog();
    let inputs: Vec<(String, Arc<SourceDef>)> = kinds
        .iter()
        .map(|k| {
            let def = catalog
                .source(k.stream_name())
                .cloned()
                .ok_or_else(|| RunError::Server(format!("no source {}", k.stream_name())))?;
            Ok((topic_of(*k).to_string(), def))
        })
        .collect::<Result<_, RunError>>()?;
    let base = {
        let bootstrap = bootstrap.clone();
        tokio::task::spawn_blocking(move || baseline::run(&bootstrap, &inputs))
            .await
            .map_err(|e| RunError::Kafka(e.to_string()))?
            .map_err(RunError::Kafka)?
    };
    server.shutdown().await;

    // Phases 4 and 5: the sustained rate, and latency at half of it.
    let share = input_records as f64 / events.len().max(1) as f64;
    let cap = config.max_latency_rate.unwrap_or(f64::MAX);
    let mut report = RunReport {
        query: q.name,
        input_records,
        output_records,
        engine_per_sec,
        cpu_secs: cpu.as_secs_f64(),
        elapsed,
        baseline_per_sec: base.per_second(),
        sustained_per_sec: None,
        probes: Vec::new(),
        latency_rate: 0.0,
        latency_drained: None,
        p50_ms: None,
        p99_ms: None,
        latency_samples: 0,
    };
    if config.latency_secs == 0 {
        return Ok(report);
    }
    let rate = match config.latency_rate {
        Some(rate) => Some(rate),
        None => {
            let found = sustained::search(
                q,
                config.live_partitions,
                share,
                engine_per_sec.min(cap),
                &config.search,
            )
            .await?;
            report.sustained_per_sec = found.sustained;
            report.probes = found
                .probes
                .iter()
                .map(|(p, ok)| (p.summary(), *ok))
                .collect();
            found.sustained.map(|r| r / 2.0)
        }
    };
    if let Some(rate) = rate.map(|r| r.min(cap)) {
        let live = sustained::paced(
            q,
            config.live_partitions,
            share,
            rate,
            Duration::from_secs(config.latency_secs),
            Duration::from_secs(30),
        )
        .await?;
        report.latency_rate = rate;
        report.latency_drained = live.drained_after;
        report.p50_ms = live.quantile(0.5);
        report.p99_ms = live.quantile(0.99);
        report.latency_samples = live.latencies.len();
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nexmark::queries::query;

    #[test]
    fn each_query_reads_the_topics_it_names() {
        for q in crate::nexmark::queries::QUERIES {
            let text = q.statements.join(" ").to_ascii_lowercase();
            for kind in [EventKind::Person, EventKind::Auction, EventKind::Bid] {
                let name = kind.stream_name().to_ascii_lowercase();
                let named = text.contains(&format!("from {name}"))
                    || text.contains(&format!("join {name}"));
                assert_eq!(named, input_kinds(q).contains(&kind), "{} {name}", q.name);
            }
        }
        assert_eq!(input_kinds(query("q4").unwrap()).len(), 2);
    }

    #[test]
    fn cpu_time_advances() {
        let a = cpu_time();
        // Busy for 50 ms of wall time (a loop the optimiser cannot fold away).
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(x > 0);
        assert!(cpu_time() > a);
    }
}
