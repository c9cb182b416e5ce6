//! `sluice-bench nexmark --engine-only`: the engine without the broker client.
//!
//! The query's statements are created on a server as usual (so the catalog, formats and sink
//! are the real ones), then [`sluice_server::Engine::offline_query`] instantiates the same
//! decoders, joins, operators, repartition step and sink encoder, and the benchmark hands them
//! the generated events already in Kafka-record form (key, JSON value, timestamp, partition,
//! offset), in event-time order, in batches of the engine's size. A query that reads another
//! query's sink (q4's second step) gets that query's output records. Operator state stays in
//! memory: no changelog, no sled commit, no Kafka client anywhere.
//!
//! The baseline of this mode is the source decoder alone over the same records. The result is
//! checked against the oracle like the end-to-end run's.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::message::{OwnedMessage, Timestamp};
use sluice_dataflow::source::{RawRecord, SourceDecoder};
use sluice_server::OfflineQuery;

use super::kafka_io::topic_of;
use super::oracle::{self, Observed};
use super::queries::Query;
use super::run::{cpu_time, create_sources, execute, input_kinds, start_server, RunError};
use super::{Event, Generator, GeneratorConfig};

/// Records per batch (the engine's largest batch).
const BATCH: usize = 4096;

/// What an engine-only run measured.
#[derive(Debug, Clone)]
pub struct EngineOnlyReport {
    pub query: &'static str,
    pub input_records: u64,
    pub output_records: u64,
    pub engine_per_sec: f64,
    pub cpu_secs: f64,
    pub elapsed: Duration,
    /// Decoding the same records alone, records per second.
    pub decode_per_sec: f64,
}

impl EngineOnlyReport {
    pub fn line(&self) -> String {
        format!(
            "{} engine-only engine={:.0} baseline={:.0} ratio={:.2}",
            self.query,
            self.engine_per_sec,
            self.decode_per_sec,
            self.engine_per_sec / self.decode_per_sec.max(1e-9)
        )
    }

    pub fn details(&self) -> String {
        format!(
            "{} engine-only input_records={} output_records={} elapsed_s={:.2} cpu_s={:.2}",
            self.query,
            self.input_records,
            self.output_records,
            self.elapsed.as_secs_f64(),
            self.cpu_secs
        )
    }
}

/// The query's input events as the records its source topics would hold.
fn records(q: &Query, events: &[Event], partitions: u32) -> Vec<OwnedMessage> {
    let kinds = input_kinds(q);
    let mut offsets: HashMap<(&str, i32), i64> = HashMap::new();
    let mut next_bid_partition = 0i64;
    let mut out = Vec::new();
    for e in events.iter().filter(|e| kinds.contains(&e.kind())) {
        let topic = topic_of(e.kind());
        let (key, p) = match e {
            Event::Person(p) => (
                Some(p.id.to_be_bytes().to_vec()),
                super::kafka_io::key_partition(p.id, partitions as i32),
            ),
            Event::Auction(a) => (
                Some(a.id.to_be_bytes().to_vec()),
                super::kafka_io::key_partition(a.id, partitions as i32),
            ),
            Event::Bid(_) => {
                next_bid_partition += 1;
                (None, next_bid_partition - 1)
            }
        };
        let partition = (p % partitions as i64) as i32;
        let offset = offsets.entry((topic, partition)).or_default();
        *offset += 1;
        let mut value = Vec::with_capacity(256);
        e.to_json(&mut value);
        out.push(OwnedMessage::new(
            Some(value),
            key,
            topic.to_string(),
            Timestamp::CreateTime(e.date_time()),
            partition,
            *offset - 1,
            None,
        ));
    }
    out
}

/// Runs `q` engine-only over `events` generated events and checks the result.
pub async fn run(
    q: &'static Query,
    events: u64,
    partitions: u32,
) -> Result<EngineOnlyReport, RunError> {
    let gen_config = GeneratorConfig {
        num_events: Some(events as i64),
        first_event_rate: 1_000,
        ..GeneratorConfig::default()
    };
    let events: Vec<Event> = Generator::new(gen_config).collect();
    let expected = oracle::expected(&q.oracle, &events).await?;
    let input = records(q, &events, partitions);
    drop(events);

    let server = start_server().await?;
    let props = create_sources(&server, partitions).await?;
    for s in q.statements {
        execute(&server, &props, s).await?;
    }
    // One offline query per statement that starts a query, in order (q4: two).
    // (The engine lists queries by id, not in the order they were created.)
    let sinks: Vec<String> = q
        .statements
        .iter()
        .filter_map(|s| {
            let words: Vec<&str> = s.split_whitespace().take(3).collect();
            server
                .engine
                .queries()
                .into_iter()
                .map(|qi| qi.sink)
                .find(|sink| words.get(2).is_some_and(|w| w.eq_ignore_ascii_case(sink)))
        })
        .collect();
    let mut stages: Vec<OfflineQuery> = sinks
        .iter()
        .map(|s| {
            server
                .engine
                .offline_query(s, &props)
                .map_err(|e| RunError::Engine(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let catalog = server.engine.catalog();
    let mut decoders: HashMap<String, SourceDecoder> = HashMap::new();
    for kind in input_kinds(q) {
        let def = catalog
            .source(kind.stream_name())
            .ok_or_else(|| RunError::Engine(format!("no source {}", kind.stream_name())))?;
        decoders.insert(
            topic_of(kind).to_string(),
            SourceDecoder::new(def, None).map_err(|e| RunError::Engine(e.to_string()))?,
        );
    }
    server.shutdown().await;

    // The engine.
    let mut observed = Observed::new(q.oracle);
    let mut output_records = 0u64;
    let mut offsets: Vec<i64> = vec![0; stages.len()];
    let cpu_start = cpu_time();
    let start = Instant::now();
    for chunk in input.chunks(BATCH) {
        let mut feed: Vec<OwnedMessage> = Vec::new();
        for (i, stage) in stages.iter_mut().enumerate() {
            let messages = if i == 0 { chunk } else { &feed[..] };
            let out = stage
                .process(messages)
                .map_err(|e| RunError::Engine(e.to_string()))?;
            if i + 1 == offsets.len() {
                output_records += out.len() as u64;
                for r in &out {
                    observed.push(r.key.as_deref(), r.value.as_deref());
                }
            } else {
                feed = out
                    .into_iter()
                    .map(|r| {
                        offsets[i] += 1;
                        OwnedMessage::new(
                            r.value,
                            r.key,
                            stage.sink_topic().to_string(),
                            Timestamp::CreateTime(r.timestamp),
                            0,
                            offsets[i] - 1,
                            None,
                        )
                    })
                    .collect();
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_start);
    if let Some(diff) = observed.answer().diff(&expected) {
        return Err(RunError::Wrong {
            query: q.name.into(),
            elapsed,
            diff,
        });
    }
    if let Some(s) = stages.iter().find(|s| s.skipped() > 0) {
        return Err(RunError::Engine(format!(
            "{} records could not be decoded",
            s.skipped()
        )));
    }

    // The baseline: decoding alone.
    let start = Instant::now();
    for chunk in input.chunks(BATCH) {
        let mut from = 0;
        while from < chunk.len() {
            let topic = rdkafka::message::Message::topic(&chunk[from]);
            let end = (from..chunk.len())
                .find(|&i| rdkafka::message::Message::topic(&chunk[i]) != topic)
                .unwrap_or(chunk.len());
            let raw: Vec<RawRecord<'_>> = chunk[from..end]
                .iter()
                .map(|m| {
                    use rdkafka::message::Message;
                    RawRecord {
                        partition: m.partition(),
                        offset: m.offset(),
                        timestamp: m.timestamp().to_millis(),
                        key: m.key(),
                        value: m.payload(),
                        headers: Vec::new(),
                    }
                })
                .collect();
            let decoder = decoders
                .get_mut(topic)
                .ok_or_else(|| RunError::Engine(format!("no decoder for {topic}")))?;
            let (batch, errors) = decoder
                .decode(&raw)
                .map_err(|e| RunError::Engine(e.to_string()))?;
            if !errors.is_empty() || batch.is_none() {
                return Err(RunError::Engine("the baseline could not decode".into()));
            }
            from = end;
        }
    }
    let decode = start.elapsed();
    let n = input.len() as u64;
    Ok(EngineOnlyReport {
        query: q.name,
        input_records: n,
        output_records,
        engine_per_sec: n as f64 / elapsed.as_secs_f64().max(1e-9),
        cpu_secs: cpu.as_secs_f64(),
        elapsed,
        decode_per_sec: n as f64 / decode.as_secs_f64().max(1e-9),
    })
}
