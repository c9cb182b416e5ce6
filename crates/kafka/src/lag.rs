//! Whether a consumer has read everything a topic held at its last fetch, without a broker
//! round trip (what Kafka Streams uses to decide whether to wait for a quiet input).

use std::ffi::CString;

use rdkafka::consumer::Consumer;
use rdkafka::Offset;

use crate::SluiceConsumer;

/// The (low, high) watermarks librdkafka cached for `topic`/`partition` from its last fetch
/// response, if it has any.
pub fn cached_watermarks(
    consumer: &SluiceConsumer,
    topic: &str,
    partition: i32,
) -> Option<(i64, i64)> {
    let topic = CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is valid for the consumer's lifetime, the topic is a valid C
    // string for the call, and librdkafka only writes the two out-parameters.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some((low, high))
}

/// True when the consumer is assigned partitions of `topic` and, as of its last fetches, has
/// nothing more to read from any of them.
pub fn caught_up(consumer: &SluiceConsumer, topic: &str) -> bool {
    match assigned_progress(consumer, topic) {
        Some(parts) => !parts.is_empty() && parts.iter().all(|&(_, done)| done),
        None => false,
    }
}

/// The partitions of `topic` assigned to the consumer, each with whether it has nothing more to
/// read as of the consumer's last fetches (its position is at the cached high watermark; a
/// partition without cached watermarks counts as not caught up). `None` when the assignment
/// or positions cannot be read.
pub fn assigned_progress(consumer: &SluiceConsumer, topic: &str) -> Option<Vec<(i32, bool)>> {
    Some(
        assigned_positions(consumer, topic)?
            .into_iter()
            .map(|(p, position)| {
                let done = cached_watermarks(consumer, topic, p)
                    .is_some_and(|(low, high)| position.unwrap_or(low) >= high);
                (p, done)
            })
            .collect(),
    )
}

/// The partitions of `topic` assigned to the consumer, each with the consumer's position in it
/// (`None` before it has one).
pub fn assigned_positions(
    consumer: &SluiceConsumer,
    topic: &str,
) -> Option<Vec<(i32, Option<i64>)>> {
    let (Ok(assignment), Ok(positions)) = (consumer.assignment(), consumer.position()) else {
        return None;
    };
    Some(
        assignment
            .elements_for_topic(topic)
            .into_iter()
            .map(|e| {
                let p = e.partition();
                let position = positions
                    .find_partition(topic, p)
                    .and_then(|e| match e.offset() {
                        Offset::Offset(o) => Some(o),
                        _ => None,
                    });
                (p, position)
            })
            .collect(),
    )
}
