//! The inputs of a join task, consumed in event-time order.
//!
//! A join task subscribes to the topics of all its sources. Which rows meet depends on the
//! order the inputs are processed in, so, as Kafka Streams does, the task processes records in
//! timestamp order across its inputs: records are buffered per input, and a record is released
//! only when every other input either has a buffered record at the same time or later, or has
//! nothing more to read (its partitions are at their high watermarks, as of the consumer's
//! last fetches). An input that lags without delivering holds the others back for at most
//! [`MAX_IDLE`] (2 s). Ties go to tables first (so a table update and a stream record with the
//! same timestamp meet in the updated row), then to the input that comes first in FROM. Each
//! input's records are released in arrival order (prefixes of its buffer), so the positions
//! committed after a batch never skip a record still waiting.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rdkafka::message::{Message, OwnedMessage};
use sluice_kafka::SluiceConsumer;

/// How long a lagging input may hold the others back.
pub const MAX_IDLE: Duration = Duration::from_secs(2);

/// One input: its topic, whether it is a table, and its waiting records.
struct Input {
    topic: String,
    table: bool,
    buffer: VecDeque<OwnedMessage>,
}

/// Buffers of a join task's inputs (index = the source's position in FROM).
pub struct JoinInput {
    inputs: Vec<Input>,
    idle_since: Option<Instant>,
}

fn ts(m: &OwnedMessage) -> i64 {
    m.timestamp().to_millis().unwrap_or(0)
}

impl JoinInput {
    /// Inputs reading `topics` (topic, is a table), in FROM order.
    pub fn new(topics: Vec<(String, bool)>) -> Self {
        Self {
            inputs: topics
                .into_iter()
                .map(|(topic, table)| Input {
                    topic,
                    table,
                    buffer: VecDeque::new(),
                })
                .collect(),
            idle_since: None,
        }
    }

    /// Every input's topic, in FROM order.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().map(|i| i.topic.as_str())
    }

    /// The topic of input `i`.
    pub fn topic(&self, i: usize) -> &str {
        &self.inputs[i].topic
    }

    /// Buffers newly read records.
    pub fn push(&mut self, messages: Vec<OwnedMessage>) {
        for m in messages {
            if let Some(i) = self.inputs.iter_mut().find(|i| i.topic == m.topic()) {
                i.buffer.push_back(m);
            }
        }
    }

    /// The records that can be processed now, in processing order, with their input's index.
    pub fn ready(&mut self, consumer: &SluiceConsumer) -> Vec<(usize, OwnedMessage)> {
        if !self.is_waiting() {
            self.idle_since = None;
            return Vec::new();
        }
        // How far each input lets the others go.
        let mut limit = Some(i64::MAX);
        for input in &self.inputs {
            let bound = match input.buffer.iter().map(ts).max() {
                Some(t) => Some(t),
                None if sluice_kafka::caught_up(consumer, &input.topic) => Some(i64::MAX),
                None => None,
            };
            limit = limit.zip(bound).map(|(a, b)| a.min(b));
        }
        let limit = match limit {
            Some(l) => l,
            None => {
                let since = *self.idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() < MAX_IDLE {
                    return Vec::new();
                }
                i64::MAX
            }
        };
        self.idle_since = None;
        let mut taken: Vec<VecDeque<OwnedMessage>> = self
            .inputs
            .iter_mut()
            .map(|i| {
                let n = i.buffer.iter().take_while(|m| ts(m) <= limit).count();
                i.buffer.drain(..n).collect()
            })
            .collect();
        let mut out = Vec::new();
        loop {
            // The earliest head; ties to tables, then to the first input.
            let next = taken
                .iter()
                .enumerate()
                .filter_map(|(i, q)| q.front().map(|m| (ts(m), !self.inputs[i].table, i)))
                .min();
            let Some((_, _, i)) = next else { break };
            let m = taken[i].pop_front().expect("a head");
            out.push((i, m));
        }
        out
    }

    /// Whether records are waiting.
    pub fn is_waiting(&self) -> bool {
        self.inputs.iter().any(|i| !i.buffer.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Timestamp;

    fn msg(topic: &str, offset: i64, ts: i64) -> OwnedMessage {
        OwnedMessage::new(
            None,
            None,
            topic.to_string(),
            Timestamp::CreateTime(ts),
            0,
            offset,
            None,
        )
    }

    #[tokio::test]
    async fn merges_by_time_with_tables_first_on_ties() {
        let mut input = JoinInput::new(vec![("s".into(), false), ("t".into(), true)]);
        input.push(vec![
            msg("t", 0, 0),
            msg("s", 0, 10),
            msg("t", 1, 10),
            msg("s", 1, 15),
            msg("t", 2, 20),
        ]);
        // Both inputs have records: everything up to the smaller of their newest times (15).
        let broker = sluice_kafka::EmbeddedBroker::start(1).unwrap();
        let consumer = broker
            .kafka_config()
            .consumer("g", sluice_kafka::OffsetReset::Earliest)
            .unwrap();
        let order: Vec<(usize, i64)> = input
            .ready(&consumer)
            .iter()
            .map(|(s, m)| (*s, ts(m)))
            .collect();
        assert_eq!(order, vec![(1, 0), (1, 10), (0, 10), (0, 15)]);
        // The table record at 20 waits: the stream input is empty and not known to be read.
        assert!(input.ready(&consumer).is_empty());
        assert!(input.is_waiting());
    }
}
