//! PRINT topic: the records of a topic as text, as they arrive.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use sluice_kafka::OffsetReset;
use tokio::sync::mpsc;

use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::result::StatementResult;

/// Stream the records of `topic`, formatted as ksqlDB's PRINT does.
pub async fn print(
    engine: &Engine,
    topic: &str,
    from_beginning: bool,
    interval: Option<u64>,
    limit: Option<u64>,
) -> Result<StatementResult> {
    let topic = match engine.admin().describe_topic(topic).await? {
        Some(_) => topic.to_string(),
        None => {
            // ksqlDB tries the name as written and then case-insensitively.
            let all = engine.admin().list_topics().await?;
            all.into_iter()
                .find(|t| t.name.eq_ignore_ascii_case(topic))
                .map(|t| t.name)
                .ok_or_else(|| {
                    EngineError::UnknownObject(format!(
                        "Could not find topic '{topic}', or the KSQL user does not have permissions to list the topic. Topic names are case-sensitive."
                    ))
                })?
        }
    };
    let reset = if from_beginning {
        OffsetReset::Earliest
    } else {
        OffsetReset::Latest
    };
    let group = format!("_sluice_print_{}", uuid::Uuid::new_v4().simple());
    let consumer: sluice_kafka::SluiceConsumer = engine.kafka().consumer(&group, reset)?;
    consumer
        .subscribe(&[topic.as_str()])
        .map_err(|e| EngineError::Kafka(e.to_string()))?;
    let schema = Arc::new(Schema::new(vec![Field::new(
        "record",
        DataType::Utf8,
        false,
    )]));
    let (tx, mut rx) = mpsc::channel::<Result<RecordBatch>>(16);
    let out_schema = schema.clone();
    let interval = interval.unwrap_or(1).max(1);
    tokio::spawn(async move {
        let mut seen: u64 = 0;
        let mut printed: u64 = 0;
        loop {
            let msg = tokio::select! {
                _ = tx.closed() => break,
                m = consumer.recv() => m,
            };
            let m = match msg {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "PRINT read failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            seen += 1;
            if (seen - 1) % interval != 0 {
                continue;
            }
            let ts = m
                .timestamp()
                .to_millis()
                .and_then(|t| Utc.timestamp_millis_opt(t).single())
                .map(|t| t.format("%Y/%m/%d %H:%M:%S%.3f Z").to_string())
                .unwrap_or_else(|| "N/A".into());
            let text = |b: Option<&[u8]>| match b {
                None => "<null>".to_string(),
                Some(b) => String::from_utf8_lossy(b).into_owned(),
            };
            let line = format!(
                "rowtime: {ts}, key: {}, value: {}, partition: {}",
                text(m.key()),
                text(m.payload()),
                m.partition()
            );
            let batch = RecordBatch::try_new(
                out_schema.clone(),
                vec![Arc::new(StringArray::from(vec![line]))],
            )
            .map_err(|e| EngineError::Internal(e.to_string()));
            if tx.send(batch).await.is_err() {
                break;
            }
            printed += 1;
            if limit.is_some_and(|l| printed >= l) {
                break;
            }
        }
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed();
    Ok(StatementResult::Push { schema, stream })
}
