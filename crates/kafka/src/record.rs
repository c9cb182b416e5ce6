//! Owned records: [`KafkaRecord`] (consumed) and [`ProduceRecord`] (to produce).

use std::sync::Arc;

use bytes::Bytes;
use rdkafka::message::{Headers, Message};

/// A consumed record, owned (copied out of librdkafka's buffers) so whole batches can be handed
/// to a decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    /// Shared between the records of a batch that come from the same topic.
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// Record timestamp in milliseconds since the epoch (create or log-append time, whichever
    /// the topic uses); `None` when the record has none.
    pub timestamp: Option<i64>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

impl KafkaRecord {
    /// Copies a librdkafka message. `topic` is reused when it equals the message's topic (avoids
    /// one allocation per record).
    pub fn from_message<M: Message>(msg: &M, topic: &mut Option<Arc<str>>) -> Self {
        let t = match topic {
            Some(t) if &**t == msg.topic() => t.clone(),
            _ => {
                let t: Arc<str> = Arc::from(msg.topic());
                *topic = Some(t.clone());
                t
            }
        };
        let headers = msg
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_string(), h.value.map(Bytes::copy_from_slice)))
                    .collect()
            })
            .unwrap_or_default();
        KafkaRecord {
            topic: t,
            partition: msg.partition(),
            offset: msg.offset(),
            timestamp: msg.timestamp().to_millis(),
            key: msg.key().map(Bytes::copy_from_slice),
            value: msg.payload().map(Bytes::copy_from_slice),
            headers,
        }
    }
}

/// A record to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceRecord {
    pub topic: Arc<str>,
    /// `None`: the producer's partitioner decides (murmur2 of the key, Java-compatible; random
    /// for null keys).
    pub partition: Option<i32>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    /// Milliseconds since the epoch; `None` lets the producer stamp the current time.
    pub timestamp: Option<i64>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

impl ProduceRecord {
    pub fn new(topic: impl Into<Arc<str>>, key: Option<Bytes>, value: Option<Bytes>) -> Self {
        ProduceRecord {
            topic: topic.into(),
            partition: None,
            key,
            value,
            timestamp: None,
            headers: Vec::new(),
        }
    }

    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    pub fn with_timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    pub fn with_header(mut self, key: impl Into<String>, value: Option<Bytes>) -> Self {
        self.headers.push((key.into(), value));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};

    #[test]
    fn copies_everything_and_shares_topic() {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "h1",
                value: Some("v1"),
            })
            .insert(Header {
                key: "h2",
                value: None::<&[u8]>,
            });
        let msg = OwnedMessage::new(
            Some(b"value".to_vec()),
            Some(b"key".to_vec()),
            "orders".to_string(),
            Timestamp::CreateTime(1234),
            2,
            42,
            Some(headers),
        );
        let mut cache = None;
        let r = KafkaRecord::from_message(&msg, &mut cache);
        assert_eq!(&*r.topic, "orders");
        assert_eq!(r.partition, 2);
        assert_eq!(r.offset, 42);
        assert_eq!(r.timestamp, Some(1234));
        assert_eq!(r.key.as_deref(), Some(&b"key"[..]));
        assert_eq!(r.value.as_deref(), Some(&b"value"[..]));
        assert_eq!(
            r.headers,
            vec![
                ("h1".to_string(), Some(Bytes::from_static(b"v1"))),
                ("h2".to_string(), None)
            ]
        );
        let r2 = KafkaRecord::from_message(&msg, &mut cache);
        assert!(Arc::ptr_eq(&r.topic, &r2.topic));
    }

    #[test]
    fn missing_parts_are_none() {
        let msg = OwnedMessage::new(
            None,
            None,
            "t".to_string(),
            Timestamp::NotAvailable,
            0,
            0,
            None,
        );
        let r = KafkaRecord::from_message(&msg, &mut None);
        assert_eq!(r.key, None);
        assert_eq!(r.value, None);
        assert_eq!(r.timestamp, None);
        assert!(r.headers.is_empty());
    }
}
