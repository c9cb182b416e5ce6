//! The speed-of-light baseline: a plain rdkafka consumer that reads a query's input topics and
//! decodes every record into Arrow with Sluice's own source decoder, and does nothing else.
//!
//! It reads the same records from the same broker as the engine did, in batches of up to the
//! engine's batch size, so `engine / baseline` says how much of the time between Kafka and a
//! decoded batch the engine spends on everything else (its consumer's record copies, operators,
//! encoding, producing the sink, committing state).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use sluice_catalog::SourceDef;
use sluice_dataflow::source::{RawRecord, SourceDecoder};

use super::kafka_io::watermarks;

/// Records per decoded batch (the engine's largest batch).
const BATCH: usize = 4096;

/// What the baseline did.
#[derive(Debug, Clone, Copy)]
pub struct BaselineRun {
    pub records: u64,
    pub rows: u64,
    pub elapsed: Duration,
}

impl BaselineRun {
    pub fn per_second(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Reads every record of each `(topic, source)` from the beginning and decodes it.
pub fn run(bootstrap: &str, inputs: &[(String, Arc<SourceDef>)]) -> Result<BaselineRun, String> {
    // The engine's own consumer settings (fetch sizes, waits, queue limits), so that the two
    // read the broker alike.
    let consumer: BaseConsumer = sluice_kafka::KafkaConfig::new(bootstrap)
        .consumer_config("sluice-bench-baseline", sluice_kafka::OffsetReset::Earliest)
        .create()
        .map_err(|e| e.to_string())?;
    let mut tpl = TopicPartitionList::new();
    let mut total = 0u64;
    let mut decoders = HashMap::new();
    for (topic, def) in inputs {
        for (p, (low, high)) in watermarks(bootstrap, topic)?.into_iter().enumerate() {
            tpl.add_partition_offset(topic, p as i32, Offset::Beginning)
                .map_err(|e| e.to_string())?;
            total += (high - low) as u64;
        }
        let d = SourceDecoder::new(def, None).map_err(|e| e.to_string())?;
        decoders.insert(topic.clone(), d);
    }
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let (mut records, mut rows) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(600);
    // The clock starts with the first record (as the engine's starts with its first batch).
    let mut start = None;
    while records < total {
        if Instant::now() > deadline {
            return Err(format!("baseline read {records} of {total} records"));
        }
        let mut batch = Vec::with_capacity(BATCH);
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            start.get_or_insert_with(Instant::now);
            batch.push(m.map_err(|e| e.to_string())?);
            while batch.len() < BATCH {
                match consumer.poll(Duration::ZERO) {
                    Some(m) => batch.push(m.map_err(|e| e.to_string())?),
                    None => break,
                }
            }
        }
        records += batch.len() as u64;
        // Decode runs of one topic together.
        let mut from = 0;
        while from < batch.len() {
            let topic = batch[from].topic();
            let end = (from..batch.len())
                .find(|&i| batch[i].topic() != topic)
                .unwrap_or(batch.len());
            let raw: Vec<RawRecord<'_>> = batch[from..end]
                .iter()
                .map(|m| RawRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    timestamp: m.timestamp().to_millis(),
                    key: m.key(),
                    value: m.payload(),
                    headers: Vec::new(),
                })
                .collect();
            let decoder = decoders
                .get_mut(topic)
                .ok_or("record of an unknown topic")?;
            let (decoded, errors) = decoder.decode(&raw).map_err(|e| e.to_string())?;
            if !errors.is_empty() {
                return Err(format!("baseline could not decode: {}", errors[0].reason));
            }
            rows += decoded.map_or(0, |b| b.num_rows() as u64);
            from = end;
        }
    }
    Ok(BaselineRun {
        records,
        rows,
        elapsed: start.map_or(Duration::ZERO, |s| s.elapsed()),
    })
}
