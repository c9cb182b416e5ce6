//! The benchmark's own Kafka clients: the event producer (all at once, or paced by event time)
//! and the sink reader that records what the query wrote and when it became visible.
//!
//! Both talk to the broker with plain rdkafka clients of their own (not Sluice's), by explicit
//! partition assignment: joining a consumer group on the embedded broker takes seconds, which
//! would blur the measurements.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::{Event, EventKind};

/// The topic each kind of event goes to.
pub fn topic_of(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Person => "nexmark-person",
        EventKind::Auction => "nexmark-auction",
        EventKind::Bid => "nexmark-bid",
    }
}

/// Wall-clock time, epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn producer(bootstrap: &str, linger_ms: u32) -> Result<BaseProducer, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", linger_ms.to_string())
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("acks", "1")
        .create()
}

/// Sends events to their topics: persons and auctions keyed by id (KAFKA BIGINT) in the
/// partition Kafka's default (Java) partitioner gives the key (murmur2 of its bytes, which joins
/// over several partitions rely on, as ksqlDB's do), bids without key spread round robin; the
/// record timestamp is the event time.
pub struct EventProducer {
    producer: BaseProducer,
    partitions: i32,
    buf: Vec<u8>,
    next_bid_partition: i32,
    /// Bytes of values sent per topic (person, auction, bid).
    pub bytes: [u64; 3],
}

impl EventProducer {
    pub fn new(bootstrap: &str, partitions: u32, linger_ms: u32) -> Result<Self, KafkaError> {
        Ok(Self {
            producer: producer(bootstrap, linger_ms)?,
            partitions: partitions as i32,
            buf: Vec::with_capacity(1024),
            next_bid_partition: 0,
            bytes: [0; 3],
        })
    }

    /// Queues one event (waiting while the client's queue is full).
    pub fn send(&mut self, event: &Event) -> Result<(), KafkaError> {
        self.buf.clear();
        event.to_json(&mut self.buf);
        let (key, partition, slot) = match event {
            Event::Person(p) => (
                Some(p.id.to_be_bytes()),
                key_partition(p.id, self.partitions),
                0,
            ),
            Event::Auction(a) => (
                Some(a.id.to_be_bytes()),
                key_partition(a.id, self.partitions),
                1,
            ),
            Event::Bid(_) => {
                let p = self.next_bid_partition;
                self.next_bid_partition = (p + 1) % self.partitions;
                (None, p as i64, 2)
            }
        };
        self.bytes[slot] += self.buf.len() as u64;
        let topic = topic_of(event.kind());
        loop {
            let mut record = BaseRecord::<[u8; 8], [u8]>::to(topic)
                .payload(&self.buf[..])
                .partition((partition % self.partitions as i64) as i32)
                .timestamp(event.date_time());
            if let Some(k) = &key {
                record = record.key(k);
            }
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// Serves delivery reports (call now and then).
    pub fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Waits until everything sent is acknowledged.
    pub fn flush(&self) -> Result<(), KafkaError> {
        self.producer.flush(Duration::from_secs(120))
    }
}

/// The partition Kafka's default partitioner gives a KAFKA BIGINT key among `partitions`.
pub fn key_partition(id: i64, partitions: i32) -> i64 {
    use sluice_dataflow::repartition::{murmur2, partition_for};
    i64::from(partition_for(murmur2(&id.to_be_bytes()), partitions))
}

/// Number of partitions of `topic`, waiting up to `timeout` for it to exist.
pub fn partition_count(bootstrap: &str, topic: &str, timeout: Duration) -> Result<i32, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(md) = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            if let Some(t) = md.topics().iter().find(|t| t.name() == topic) {
                if t.error().is_none() && !t.partitions().is_empty() {
                    return Ok(t.partitions().len() as i32);
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!("topic {topic} did not appear"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The low and high watermarks of every partition of `topic`.
pub fn watermarks(bootstrap: &str, topic: &str) -> Result<Vec<(i64, i64)>, String> {
    let n = partition_count(bootstrap, topic, Duration::from_secs(10))?;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    (0..n)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Every partition, of every topic on the broker, whose oldest records the broker has dropped
/// (its low watermark is above 0): `(topic, partition, low watermark)`. The embedded broker keeps
/// only a few MiB per partition, so a run that overflows an input, repartition or changelog topic
/// loses records silently; this names them.
pub fn dropped_partitions(bootstrap: &str) -> Result<Vec<(String, i32, i64)>, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    let md = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let mut dropped = Vec::new();
    for t in md.topics() {
        for p in t.partitions() {
            let (low, _) = consumer
                .fetch_watermarks(t.name(), p.id(), Duration::from_secs(10))
                .map_err(|e| e.to_string())?;
            if low > 0 {
                dropped.push((t.name().to_string(), p.id(), low));
            }
        }
    }
    dropped.sort();
    Ok(dropped)
}

/// One record the sink reader saw.
#[derive(Debug, Clone)]
pub struct SinkRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// The record's timestamp (ms).
    pub timestamp: i64,
    /// When the reader received it (wall clock, ms).
    pub seen_ms: i64,
}

#[derive(Default)]
struct Seen {
    records: Vec<SinkRecord>,
    last: Option<Instant>,
}

/// Reads a sink topic from the beginning on a thread of its own, keeping every record with the
/// time it became visible here.
pub struct SinkReader {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl SinkReader {
    pub fn start(bootstrap: &str, topic: &str) -> Result<Self, String> {
        let partitions = partition_count(bootstrap, topic, Duration::from_secs(30))?;
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("sluice-bench-reader-{}", now_ms()))
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "5")
            .set("fetch.min.bytes", "1")
            .create()
            .map_err(|e| e.to_string())?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        consumer.assign(&tpl).map_err(|e| e.to_string())?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let mut local = Vec::with_capacity(4096);
                while !stop.load(Ordering::Relaxed) {
                    let Some(m) = consumer.poll(Duration::from_millis(20)) else {
                        continue;
                    };
                    let m = m.map_err(|e| e.to_string())?;
                    let seen_ms = now_ms();
                    local.push(SinkRecord {
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().map(<[u8]>::to_vec),
                        timestamp: m.timestamp().to_millis().unwrap_or(0),
                        seen_ms,
                    });
                    // Take the rest of what was fetched before publishing.
                    while local.len() < 4096 {
                        match consumer.poll(Duration::ZERO) {
                            Some(Ok(m)) => local.push(SinkRecord {
                                key: m.key().map(<[u8]>::to_vec),
                                value: m.payload().map(<[u8]>::to_vec),
                                timestamp: m.timestamp().to_millis().unwrap_or(0),
                                seen_ms,
                            }),
                            Some(Err(e)) => return Err(e.to_string()),
                            None => break,
                        }
                    }
                    let mut s = seen.lock().expect("sink reader lock");
                    s.records.append(&mut local);
                    s.last = Some(Instant::now());
                }
                Ok(())
            })
        };
        Ok(Self {
            seen,
            stop,
            thread: Some(thread),
        })
    }

    /// Records seen so far, and when the last one arrived.
    pub fn progress(&self) -> (usize, Option<Instant>) {
        let s = self.seen.lock().expect("sink reader lock");
        (s.records.len(), s.last)
    }

    /// Records from index `from` on.
    pub fn records_from(&self, from: usize) -> Vec<SinkRecord> {
        let s = self.seen.lock().expect("sink reader lock");
        s.records.get(from..).unwrap_or_default().to_vec()
    }

    /// Stops reading; returns an error the reader hit, if any.
    pub fn stop(mut self) -> Result<(), String> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err("sink reader panicked".into()),
            None => Ok(()),
        }
    }
}

impl Drop for SinkReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
