//! Live runs: the generator paces events in real time while the query runs, to find the
//! highest input rate the engine sustains with bounded lag, and to measure end-to-end latency
//! at half that rate.
//!
//! # What "sustained" means
//!
//! A *probe* runs the query on a fresh server and offers its inputs at a fixed rate for
//! [`SearchConfig::probe`]. The rate is sustained when all of these hold:
//!
//! - the producer kept to its schedule (it shares the two cores with the server: if it could
//!   offer only less than 95% of the rate, the machine did not sustain it);
//! - the input lag, sampled every 100 ms while the events are sent, never exceeded
//!   [`SearchConfig::lag_bound`] worth of input (`rate × bound` records), so the broker
//!   never had to drop records the query had not read;
//! - within [`SearchConfig::lag_bound`] of the last event sent, every persistent query of the
//!   run has processed every record of its input topic (and of its repartition topic, for a
//!   split query): the input lag the engine reports (`SHOW QUERIES`' `input-lag`) is 0;
//! - the p99 end-to-end latency of the sink records stamped after the first second is within
//!   the same bound.
//!
//! A backlog that grows by `(rate − capacity)` records per second for `probe` seconds drains
//! in `probe × (rate − capacity) / capacity` seconds, so with a 5-second probe and a 1-second
//! bound a probe passes up to about 1.2 × the true capacity: the search's answer is within
//! that of the highest rate with bounded lag.
//!
//! # The search
//!
//! The catch-up throughput is the ceiling (a live run also pays for its producer). The first
//! probe is at a quarter of the ceiling, then a quarter of the last failing rate, until one
//! passes or the rate drops below [`SearchConfig::floor`]; then geometric bisection between
//! the highest passing and the lowest failing rate until they are within 20% or
//! [`SearchConfig::max_probes`] probes have run.

use std::time::{Duration, Instant};

use sluice_server::{QueryInfo, RunningServer};

use super::kafka_io::{now_ms, EventProducer, SinkReader};
use super::queries::Query;
use super::run::{any_stopped, create_sources, start_query, start_server, RunError};
use super::{Generator, GeneratorConfig};

/// The live producer's `linger.ms` (librdkafka's default). The embedded broker answers a
/// fetch with one message set per partition, found by walking the partition's message sets
/// from the oldest, so a producer that sends every record as its own set (`linger.ms` 1 at
/// these rates) makes every read slower the longer a run lasts.
const PRODUCER_LINGER_MS: u32 = 5;

/// How often the input lag is sampled during a live run.
const LAG_SAMPLE: Duration = Duration::from_millis(100);

/// How to search for the sustained rate.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// Length of each probe.
    pub probe: Duration,
    /// Lag and p99 latency a sustained rate keeps within.
    pub lag_bound: Duration,
    /// The search gives up below this many input records per second.
    pub floor: f64,
    /// At most this many probes.
    pub max_probes: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            probe: Duration::from_secs(5),
            lag_bound: Duration::from_secs(1),
            floor: 50.0,
            max_probes: 7,
        }
    }
}

/// What one paced run saw.
#[derive(Debug, Clone)]
pub struct Paced {
    /// Input records per second asked for.
    pub rate: f64,
    /// Input records per second the producer managed to send.
    pub offered: f64,
    /// The largest input lag (records not yet processed) sampled while the events were sent.
    pub max_lag: u64,
    /// From the last event sent until no query of the run lagged; `None` if that did not
    /// happen within the run's settle time.
    pub drained_after: Option<Duration>,
    /// End-to-end latencies (ms) of the sink records stamped after the first second, sorted.
    pub latencies: Vec<i64>,
}

impl Paced {
    /// The `p`-quantile of the latencies (ms).
    pub fn quantile(&self, p: f64) -> Option<f64> {
        if self.latencies.is_empty() {
            return None;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        Some(self.latencies[i] as f64)
    }

    /// Whether the rate was sustained with lag and p99 latency within `bound`.
    pub fn sustained(&self, bound: Duration) -> bool {
        let bound_ms = bound.as_millis() as f64;
        self.offered >= 0.95 * self.rate
            && self.max_lag as f64 <= self.rate * bound.as_secs_f64()
            && self.drained_after.is_some_and(|d| d <= bound)
            && self.quantile(0.99).is_none_or(|p99| p99 <= bound_ms)
    }

    /// One line for the report's details.
    pub fn summary(&self) -> String {
        let ms = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.0}"));
        format!(
            "rate={:.0} offered={:.0} max_lag={} drained_ms={} p50={} p99={} samples={}",
            self.rate,
            self.offered,
            self.max_lag,
            self.drained_after
                .map_or("no".to_string(), |d| d.as_millis().to_string()),
            ms(self.quantile(0.5)),
            ms(self.quantile(0.99)),
            self.latencies.len()
        )
    }
}

/// The search's result: the highest sustained rate (if any) and every probe.
#[derive(Debug, Clone)]
pub struct Search {
    pub sustained: Option<f64>,
    pub probes: Vec<(Paced, bool)>,
}

/// Finds the highest sustained input rate (records of the query's topics per second) at or
/// below `ceiling`. `share` is the fraction of generated events the query reads.
pub async fn search(
    query: &'static Query,
    partitions: u32,
    share: f64,
    ceiling: f64,
    config: &SearchConfig,
) -> Result<Search, RunError> {
    let mut best: Option<f64> = None;
    let mut failed = ceiling;
    let mut probes = Vec::new();
    let mut rate = ceiling / 4.0;
    while probes.len() < config.max_probes && rate >= config.floor {
        let p = paced(
            query,
            partitions,
            share,
            rate,
            config.probe,
            config.lag_bound,
        )
        .await?;
        let ok = p.sustained(config.lag_bound);
        tracing::info!(query = query.name, probe = %p.summary(), sustained = ok, "probe");
        probes.push((p, ok));
        if ok {
            best = Some(rate);
        } else {
            failed = rate;
        }
        rate = match best {
            None => failed / 4.0,
            Some(lo) if failed / lo < 1.2 => break,
            Some(lo) => (lo * failed).sqrt(),
        };
    }
    Ok(Search {
        sustained: best,
        probes,
    })
}

/// One live run on a fresh server: the query's inputs arrive at `rate` records per second for
/// `length`; then up to `settle` for the queries to catch up.
pub async fn paced(
    query: &'static Query,
    partitions: u32,
    share: f64,
    rate: f64,
    length: Duration,
    settle: Duration,
) -> Result<Paced, RunError> {
    let server = start_server().await?;
    let result = paced_on(&server, query, partitions, share, rate, length, settle).await;
    server.shutdown().await;
    result
}

async fn paced_on(
    server: &RunningServer,
    query: &'static Query,
    partitions: u32,
    share: f64,
    rate: f64,
    length: Duration,
    settle: Duration,
) -> Result<Paced, RunError> {
    let props = create_sources(server, partitions).await?;
    let bootstrap = server.kafka_bootstrap.clone();
    let queries = start_query(server, &props, query).await?;
    let reader = SinkReader::start(&bootstrap, query.sink).map_err(RunError::Kafka)?;
    // Let the query's consumers join their groups before the clock starts.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let events_per_sec = (rate / share.max(1e-9)).clamp(1.0, 2_000_000.0);
    let total = (events_per_sec * length.as_secs_f64()).max(1.0) as i64;
    let base_time = now_ms() + 200;
    let gen_config = GeneratorConfig {
        num_events: Some(total),
        first_event_rate: events_per_sec.round() as i64,
        base_time,
        ..GeneratorConfig::default()
    };
    let warmup_until = base_time + 1_000;
    let producer = {
        let bootstrap = bootstrap.clone();
        tokio::task::spawn_blocking(move || -> Result<i64, RunError> {
            let mut p = EventProducer::new(&bootstrap, partitions, PRODUCER_LINGER_MS)
                .map_err(|e| RunError::Kafka(e.to_string()))?;
            let mut last = base_time;
            for mut e in Generator::new(gen_config) {
                let due = e.date_time();
                loop {
                    let now = now_ms();
                    if now >= due {
                        break;
                    }
                    p.poll();
                    std::thread::sleep(Duration::from_micros(200));
                }
                // The event's time is when it is sent (behind schedule if the producer lags),
                // so a sink record's timestamp says when its newest input entered Kafka.
                let sent = now_ms();
                e.set_date_time(sent);
                p.send(&e).map_err(|e| RunError::Kafka(e.to_string()))?;
                last = sent;
            }
            p.flush().map_err(|e| RunError::Kafka(e.to_string()))?;
            Ok(last)
        })
    };
    // The queries' input lag, sampled while the events are sent.
    tokio::pin!(producer);
    let mut max_lag = 0;
    let last_sent = loop {
        tokio::select! {
            sent = &mut producer => {
                break sent.map_err(|e| RunError::Kafka(e.to_string()))??;
            }
            _ = tokio::time::sleep(LAG_SAMPLE) => {
                max_lag = max_lag.max(total_lag(server, &queries).await.unwrap_or(0));
            }
        }
    };
    let sending_secs = ((last_sent - base_time) as f64 / 1000.0).max(length.as_secs_f64());
    let offered = total as f64 * share / sending_secs;

    // Until no query lags, or `settle` after the last send.
    let drained_after = loop {
        let since = Duration::from_millis((now_ms() - last_sent).max(0) as u64);
        if total_lag(server, &queries).await == Some(0) {
            break Some(since);
        }
        if since > settle {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if any_stopped(server, &queries) {
        let _ = reader.stop();
        return Err(RunError::QueryStopped);
    }
    // The last outputs reach the sink reader shortly after the inputs are processed.
    if drained_after.is_some() {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (_, last) = reader.progress();
            let quiet = last.is_none_or(|l| l.elapsed() > Duration::from_millis(500));
            if quiet || Instant::now() > deadline {
                break;
            }
        }
    }
    let mut latencies: Vec<i64> = reader
        .records_from(0)
        .iter()
        .filter(|r| r.timestamp >= warmup_until && r.timestamp <= last_sent)
        .map(|r| r.seen_ms - r.timestamp)
        .collect();
    reader.stop().map_err(RunError::Kafka)?;
    latencies.sort_unstable();
    Ok(Paced {
        rate,
        offered,
        max_lag,
        drained_after,
        latencies,
    })
}

/// The summed input lag of `queries` (`None` if a topic's watermarks could not be read).
async fn total_lag(server: &RunningServer, queries: &[QueryInfo]) -> Option<u64> {
    let mut total = 0;
    for q in queries {
        total += server.engine.input_lag(q).await?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(rate: f64, offered: f64, drained_ms: Option<u64>, latencies: Vec<i64>) -> Paced {
        Paced {
            rate,
            offered,
            max_lag: (rate / 10.0) as u64,
            drained_after: drained_ms.map(Duration::from_millis),
            latencies,
        }
    }

    #[test]
    fn a_rate_is_sustained_only_with_the_schedule_kept_lag_drained_and_p99_in_bound() {
        let bound = Duration::from_secs(1);
        assert!(probe(1000.0, 990.0, Some(30), vec![5, 10, 20]).sustained(bound));
        // The producer fell behind.
        assert!(!probe(1000.0, 900.0, Some(30), vec![5, 10, 20]).sustained(bound));
        // The backlog did not drain in time.
        assert!(!probe(1000.0, 1000.0, None, vec![5]).sustained(bound));
        assert!(!probe(1000.0, 1000.0, Some(1500), vec![5]).sustained(bound));
        // Outputs came late.
        assert!(!probe(1000.0, 1000.0, Some(30), vec![5, 1200]).sustained(bound));
        // No output in the window: lag decides.
        assert!(probe(1000.0, 1000.0, Some(30), vec![]).sustained(bound));
        // The lag grew beyond a second's worth of input while the events were sent.
        let mut backlog = probe(1000.0, 1000.0, Some(30), vec![5]);
        backlog.max_lag = 1001;
        assert!(!backlog.sustained(bound));
    }

    #[test]
    fn quantiles_pick_from_the_sorted_latencies() {
        let p = probe(1.0, 1.0, Some(0), (1..=100).collect());
        assert_eq!(p.quantile(0.5), Some(51.0));
        assert_eq!(p.quantile(0.99), Some(99.0));
        assert_eq!(probe(1.0, 1.0, Some(0), vec![]).quantile(0.5), None);
    }
}
