//! Running queries: persistent ones (CSAS / INSERT INTO ... SELECT, writing to a topic) and
//! transient ones (push queries, writing to a client).
//!
//! Each query is one task today: a consumer in the query's own group reads the source topic,
//! batches are decoded, pushed through the pipeline and written out, and only after the output
//! is acknowledged are the operators' state and the input positions committed (at-least-once on
//! outputs, exactly-once on state: see [`crate::task_state`] for the commit protocol). Transient
//! (push) queries keep their state in memory and commit nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use sluice_catalog::SourceDef;
use sluice_dataflow::sink::SinkEncoder;
use sluice_dataflow::source::SourceDecoder;
use sluice_dataflow::Pipeline;
use sluice_kafka::{SluiceConsumer, SluiceProducer};
use sluice_planner::QueryPlan;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::error::{EngineError, Result};
use crate::io;
use crate::materialized::Materialized;
use crate::task_state::TaskState;

/// Where a persistent query keeps its state.
pub struct StateSpec {
    pub store: sluice_state::SledStore,
    pub changelog: String,
    pub kafka: sluice_kafka::KafkaConfig,
    pub admin: Arc<dyn sluice_kafka::TopicAdmin>,
    pub producer: SluiceProducer,
}

/// Largest batch taken from the consumer at once.
const MAX_BATCH: usize = 4096;
/// How long to wait for more records once one has arrived.
const LINGER: Duration = Duration::from_millis(5);

/// Counters of a running query.
#[derive(Debug, Default)]
pub struct QueryMetrics {
    pub records_in: AtomicU64,
    pub records_out: AtomicU64,
    pub records_skipped: AtomicU64,
}

/// Where a query's output goes.
pub enum Output {
    /// A Kafka topic, through this encoder.
    Topic {
        topic: String,
        encoder: SinkEncoder,
        producer: SluiceProducer,
    },
    /// A client, through a channel; the query ends when the receiver is gone or `limit` is reached.
    Client {
        tx: mpsc::Sender<Result<RecordBatch>>,
        limit: Option<u64>,
    },
}

/// Everything a query task needs.
pub struct QueryTask {
    pub id: String,
    pub source: Arc<SourceDef>,
    pub plan: QueryPlan,
    pub consumer: SluiceConsumer,
    pub output: Output,
    pub metrics: Arc<QueryMetrics>,
    /// The result table's rows, kept for pull queries (tables written by persistent queries).
    pub materialize: Option<Arc<Materialized>>,
    /// The state store (persistent queries: state and input positions are committed after each
    /// batch); `None` keeps state in memory and commits nothing (transient queries).
    pub state: Option<StateSpec>,
}

impl QueryTask {
    /// Run until `stop` turns true, the client goes away, or LIMIT is reached.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut pipeline = match self.plan.pipeline() {
            Ok(p) => p,
            Err(e) => {
                self.fail(e.into()).await;
                return;
            }
        };
        let mut state = None;
        if let Some(spec) = self.state.take() {
            match open_state(spec, &mut pipeline, &self.consumer).await {
                Ok(s) => state = Some(s),
                Err(e) => {
                    warn!(query_id = %self.id, error = %e, "cannot open the query's state");
                    return;
                }
            }
        }
        if let Err(e) = self.consumer.subscribe(&[self.source.topic.as_str()]) {
            warn!(query_id = %self.id, error = %e, "cannot subscribe");
            self.fail(EngineError::Kafka(e.to_string())).await;
            return;
        }
        let mut decoder = match SourceDecoder::new(&self.source) {
            Ok(d) => d,
            Err(e) => {
                self.fail(e.into()).await;
                return;
            }
        };
        let mut emitted: u64 = 0;
        info!(query_id = %self.id, source = %self.source.name, "query started");
        loop {
            let messages = tokio::select! {
                _ = stop.changed() => break,
                _ = client_gone(&self.output) => break,
                m = io::next_batch(&self.consumer, MAX_BATCH, LINGER) => m,
            };
            let messages = match messages {
                Ok(m) => m,
                Err(e) => {
                    warn!(query_id = %self.id, error = %e, "read failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            // Records the state already reflects (read again after a crash between the state
            // commit and the consumer group commit) are skipped.
            let messages: Vec<_> = match &state {
                Some(st) => messages
                    .into_iter()
                    .filter(|m| {
                        st.position(m.topic(), m.partition())
                            .is_none_or(|p| m.offset() >= p)
                    })
                    .collect(),
                None => messages,
            };
            if messages.is_empty() {
                continue;
            }
            let outcome = self
                .process(
                    &mut decoder,
                    &mut pipeline,
                    &messages,
                    &mut emitted,
                    state.as_mut(),
                )
                .await;
            // Counted once processed: every record counted here has its output delivered.
            self.metrics
                .records_in
                .fetch_add(messages.len() as u64, Ordering::Relaxed);
            match outcome {
                Ok(true) => {}
                Ok(false) => break, // LIMIT reached or client gone
                Err(e) => {
                    warn!(query_id = %self.id, error = %e, "query failed");
                    self.fail(e).await;
                    return;
                }
            }
        }
        info!(query_id = %self.id, "query stopped");
    }

    /// Returns false when the query should end.
    async fn process(
        &mut self,
        decoder: &mut SourceDecoder,
        pipeline: &mut Pipeline,
        messages: &[rdkafka::message::OwnedMessage],
        emitted: &mut u64,
        state: Option<&mut TaskState>,
    ) -> Result<bool> {
        let raw = io::raw_records(messages);
        let (batch, errors) = decoder.decode(&raw)?;
        for e in &errors {
            // The processing log: one structured line per skipped record.
            warn!(
                target: "sluice::processing_log",
                query_id = %self.id,
                topic = %self.source.topic,
                partition = e.partition,
                offset = e.offset,
                reason = %e.reason,
                "skipped a record that could not be processed"
            );
        }
        self.metrics
            .records_skipped
            .fetch_add(errors.len() as u64, Ordering::Relaxed);
        let outputs = match batch {
            Some(b) => {
                let rows = b.num_rows();
                // A function that panics on some input (a bug in it, or in DataFusion) must not
                // take the query down: the batch's records are skipped and reported.
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pipeline.process(b)))
                {
                    Ok(result) => result?,
                    Err(panic) => {
                        let reason = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "unknown panic".into());
                        warn!(
                            target: "sluice::processing_log",
                            query_id = %self.id,
                            topic = %self.source.topic,
                            records = rows,
                            reason = %reason,
                            "skipped a batch whose processing panicked"
                        );
                        self.metrics
                            .records_skipped
                            .fetch_add(rows as u64, Ordering::Relaxed);
                        Vec::new()
                    }
                }
            }
            None => Vec::new(),
        };
        let mut keep_going = true;
        match &mut self.output {
            Output::Topic {
                topic,
                encoder,
                producer,
            } => {
                for b in &outputs {
                    if let Some(m) = &self.materialize {
                        m.apply(b)?;
                    }
                    let records = encoder.encode(b)?;
                    io::produce_all(producer, topic, &records).await?;
                    self.metrics
                        .records_out
                        .fetch_add(records.len() as u64, Ordering::Relaxed);
                }
            }
            Output::Client { tx, limit } => {
                let visible = self.plan.output.fields().len();
                for b in outputs {
                    let mut data = b
                        .data
                        .project(&(0..visible).collect::<Vec<_>>())
                        .map_err(|e| EngineError::Internal(e.to_string()))?;
                    if let Some(limit) = limit {
                        let left = limit.saturating_sub(*emitted) as usize;
                        if data.num_rows() >= left {
                            data = data.slice(0, left);
                            keep_going = false;
                        }
                    }
                    *emitted += data.num_rows() as u64;
                    self.metrics
                        .records_out
                        .fetch_add(data.num_rows() as u64, Ordering::Relaxed);
                    if data.num_rows() > 0 && tx.send(Ok(data)).await.is_err() {
                        return Ok(false);
                    }
                    if !keep_going {
                        break;
                    }
                }
            }
        }
        if let Some(state) = state {
            let mut batch = sluice_state::WriteBatch::new();
            pipeline.checkpoint(&mut batch)?;
            if let Some(m) = &self.materialize {
                m.checkpoint(&mut batch);
            }
            for ((topic, partition), next) in io::next_positions(messages) {
                batch.set_position(topic, partition, next);
            }
            state.commit(batch).await?;
            io::commit_after(&self.consumer, messages)?;
        }
        debug!(query_id = %self.id, records = messages.len(), "batch done");
        Ok(keep_going)
    }

    async fn fail(&self, e: EngineError) {
        if let Output::Client { tx, .. } = &self.output {
            let _ = tx.send(Err(e)).await;
        }
    }
}

/// Opens the task's state, restores its operators from it, and makes sure the consumer group
/// starts no later than the state's positions.
async fn open_state(
    spec: StateSpec,
    pipeline: &mut Pipeline,
    consumer: &SluiceConsumer,
) -> Result<TaskState> {
    let state = TaskState::open(
        spec.store,
        spec.changelog,
        &spec.kafka,
        spec.admin,
        spec.producer,
    )
    .await?;
    pipeline.open(Arc::new(state.store().clone()))?;
    // The group's committed offsets may be missing (the group commit failed after the state
    // commit): start the group where the state is. Offsets the group has that are ahead of the
    // state cannot occur (the state commits first); behind ones are skipped record by record.
    let positions = state.input_positions();
    if !positions.is_empty() {
        let mut tpl = rdkafka::TopicPartitionList::new();
        for ((topic, partition), next) in &positions {
            tpl.add_partition_offset(topic, *partition, rdkafka::Offset::Offset(*next))
                .map_err(|e| EngineError::Kafka(e.to_string()))?;
        }
        if let Err(e) = consumer.commit(&tpl, rdkafka::consumer::CommitMode::Sync) {
            debug!(error = %e, "could not seed the consumer group with the state's positions");
        }
    }
    Ok(state)
}

/// Resolves when a client-bound query's receiver is gone; never for topic outputs.
async fn client_gone(output: &Output) {
    match output {
        Output::Client { tx, .. } => tx.closed().await,
        Output::Topic { .. } => std::future::pending().await,
    }
}
