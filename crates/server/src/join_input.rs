//! The two inputs of a join task, consumed in event-time order.
//!
//! A join task subscribes to the topics of both sides. Which rows meet depends on the order
//! the two are processed in, so, as Kafka Streams does, the
//! task processes records in timestamp order across its inputs: records are buffered per input,
//! and a record is released only when every other input either has a buffered record at the
//! same time or later, or has nothing more to read (its partitions are at their high
//! watermarks, as of the consumer's last fetches). An input that lags without delivering holds
//! the others back for at most [`MAX_IDLE`] (2 s). Ties go to the right side first when it is a
//! table joined to a stream, so a table update and a stream record with the same timestamp meet
//! in the updated row, else to the left side. Each input's records
//! are released in arrival order (prefixes of its buffer), so the positions committed after a
//! batch never skip a record still waiting.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rdkafka::message::{Message, OwnedMessage};
use sluice_kafka::SluiceConsumer;

/// How long a lagging input may hold the other back.
pub const MAX_IDLE: Duration = Duration::from_secs(2);

pub use sluice_dataflow::ops::JoinSide as Side;

/// Buffers of the two inputs.
pub struct JoinInput {
    stream_topic: String,
    table_topic: String,
    /// The left input's records (`stream`) and the right input's (`table`).
    stream: VecDeque<OwnedMessage>,
    table: VecDeque<OwnedMessage>,
    idle_since: Option<Instant>,
    right_first: bool,
}

fn ts(m: &OwnedMessage) -> i64 {
    m.timestamp().to_millis().unwrap_or(0)
}

impl JoinInput {
    /// Inputs of the left side's topic and the right side's; `right_first`: ties go to the
    /// right side.
    pub fn new(stream_topic: String, table_topic: String, right_first: bool) -> Self {
        Self {
            stream_topic,
            table_topic,
            stream: VecDeque::new(),
            table: VecDeque::new(),
            idle_since: None,
            right_first,
        }
    }

    /// The right side's topic.
    pub fn table_topic(&self) -> &str {
        &self.table_topic
    }

    /// Buffers newly read records.
    pub fn push(&mut self, messages: Vec<OwnedMessage>) {
        for m in messages {
            if m.topic() == self.table_topic {
                self.table.push_back(m);
            } else {
                self.stream.push_back(m);
            }
        }
    }

    /// The records that can be processed now, in processing order.
    pub fn ready(&mut self, consumer: &SluiceConsumer) -> Vec<(Side, OwnedMessage)> {
        if self.stream.is_empty() && self.table.is_empty() {
            self.idle_since = None;
            return Vec::new();
        }
        // How far each input lets the others go.
        let bound = |buf: &VecDeque<OwnedMessage>, topic: &str| -> Option<i64> {
            match buf.iter().map(ts).max() {
                Some(t) => Some(t),
                None if sluice_kafka::caught_up(consumer, topic) => Some(i64::MAX),
                None => None,
            }
        };
        let limit = match (
            bound(&self.stream, &self.stream_topic),
            bound(&self.table, &self.table_topic),
        ) {
            (Some(a), Some(b)) => a.min(b),
            _ => {
                let since = *self.idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() < MAX_IDLE {
                    return Vec::new();
                }
                i64::MAX
            }
        };
        self.idle_since = None;
        let take = |buf: &mut VecDeque<OwnedMessage>| -> Vec<OwnedMessage> {
            let n = buf.iter().take_while(|m| ts(m) <= limit).count();
            buf.drain(..n).collect()
        };
        let mut table = take(&mut self.table).into_iter().peekable();
        let mut stream = take(&mut self.stream).into_iter().peekable();
        let mut out = Vec::new();
        loop {
            let side = match (table.peek(), stream.peek()) {
                (Some(t), Some(s)) => {
                    if ts(t) < ts(s) || (ts(t) == ts(s) && self.right_first) {
                        Side::Right
                    } else {
                        Side::Left
                    }
                }
                (Some(_), None) => Side::Right,
                (None, Some(_)) => Side::Left,
                (None, None) => break,
            };
            let m = match side {
                Side::Right => table.next(),
                Side::Left => stream.next(),
            };
            out.extend(m.map(|m| (side, m)));
        }
        out
    }

    /// Whether records are waiting.
    pub fn is_waiting(&self) -> bool {
        !self.stream.is_empty() || !self.table.is_empty()
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
    async fn merges_by_time_with_table_first_on_ties() {
        let mut input = JoinInput::new("s".into(), "t".into(), true);
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
        let order: Vec<(Side, i64)> = input
            .ready(&consumer)
            .iter()
            .map(|(s, m)| (*s, ts(m)))
            .collect();
        assert_eq!(
            order,
            vec![
                (Side::Right, 0),
                (Side::Right, 10),
                (Side::Left, 10),
                (Side::Left, 15)
            ]
        );
        // The table record at 20 waits: the stream input is empty and not known to be read.
        assert!(input.ready(&consumer).is_empty());
        assert!(input.is_waiting());
    }
}
