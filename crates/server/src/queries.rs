//! Running queries: persistent ones (CSAS / INSERT INTO ... SELECT, writing to a topic) and
//! transient ones (push queries, writing to a client).
//!
//! A persistent query (each part of a split one) runs as one task per input partition, as
//! Kafka Streams runs it: a consumer in the query's own group reads the input topics, and each
//! record goes to the task of its partition (partition `p` of every co-partitioned input),
//! which has its own operators, its own keys in the query's store and its own changelog
//! partition. A join whose inputs are not co-partitioned on its key runs as one task over all
//! partitions, and so does a push query. Batches are decoded, pushed through each task's
//! operators and written out, and only after the output is acknowledged are the tasks' state
//! and the input positions committed (at-least-once on outputs, exactly-once on state: see
//! [`crate::task_state`] for the commit protocol). Transient (push) queries keep their state
//! in memory and commit nothing.

use sluice_registry::SchemaRegistry;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use rdkafka::consumer::Consumer;
use rdkafka::message::{Message, OwnedMessage};
use sluice_catalog::SourceDef;
use sluice_catalog::SourceKind;
use sluice_dataflow::ops::{JoinOp, JoinSide};
use sluice_dataflow::repartition::{KeyPlacer, RepartitionDecoder, RepartitionEncoder};
use sluice_dataflow::sink::SinkEncoder;
use sluice_dataflow::source::{RawRecord, RecordError, SourceDecoder};
use sluice_dataflow::state::{OperatorState, DEFAULT_CACHE_ENTRIES};
use sluice_dataflow::{Batch, DataflowError, Pipeline};
use sluice_kafka::{SluiceConsumer, SluiceProducer};
use sluice_planner::{PlanPart, QueryPlan};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::error::{EngineError, Result};
use crate::io;
use crate::join_input::{JoinInput, Upstream};
use crate::materialized::Materialized;
use crate::task_state::TaskState;
use crate::transaction::Transactions;

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
/// Entries each keyed state of a task keeps in memory at least, however many tasks share
/// [`DEFAULT_CACHE_ENTRIES`].
const MIN_CACHE_ENTRIES: usize = 10_000;
/// How often a join task with waiting records looks again at its inputs.
const JOIN_POLL: Duration = Duration::from_millis(20);

/// Counters of a running query.
#[derive(Debug, Default)]
pub struct QueryMetrics {
    pub records_in: AtomicU64,
    pub records_out: AtomicU64,
    pub records_skipped: AtomicU64,
    /// Next offset to process per input partition, as of the last processed batch (the
    /// positions input lag is measured from).
    pub positions: std::sync::Mutex<BTreeMap<i32, i64>>,
    /// The query reads its input from the beginning (`auto.offset.reset` = earliest): a
    /// partition it has not read yet lags by all of its records, not by none.
    pub from_earliest: bool,
    /// The query's internal topics its own tasks read (a split query's repartition topic, the
    /// re-keyed rows of a join stage), each with the next offset its reading task will
    /// process per partition (records of those topics wait to be processed too).
    pub internal: BTreeMap<String, std::sync::Mutex<BTreeMap<i32, i64>>>,
    /// Records processed per input topic (a join reads two).
    pub consumed: std::sync::Mutex<BTreeMap<String, u64>>,
}

impl QueryMetrics {
    pub fn new(from_earliest: bool) -> Self {
        QueryMetrics {
            from_earliest,
            ..QueryMetrics::default()
        }
    }

    /// The same, with these internal topics.
    pub fn with_internal(mut self, topics: impl IntoIterator<Item = String>) -> Self {
        self.internal = topics
            .into_iter()
            .map(|t| (t, std::sync::Mutex::new(BTreeMap::new())))
            .collect();
        self
    }

    /// Records not yet processed, given each input partition's (low, high) watermarks.
    pub fn lag(&self, watermarks: &BTreeMap<i32, (i64, i64)>) -> u64 {
        let positions = self.positions.lock().expect("positions lock");
        lag_of(&positions, watermarks, self.from_earliest)
    }

    /// Records of internal topic `topic` not yet processed by the task reading it, given that
    /// topic's watermarks (0 for a topic the query does not have).
    pub fn internal_lag(&self, topic: &str, watermarks: &BTreeMap<i32, (i64, i64)>) -> u64 {
        match self.internal.get(topic) {
            Some(positions) => {
                let positions = positions.lock().expect("positions lock");
                lag_of(&positions, watermarks, true)
            }
            None => 0,
        }
    }
}

fn lag_of(
    positions: &BTreeMap<i32, i64>,
    watermarks: &BTreeMap<i32, (i64, i64)>,
    from_earliest: bool,
) -> u64 {
    watermarks
        .iter()
        .map(|(p, (low, high))| {
            let at = match positions.get(p) {
                Some(pos) => (*pos).max(*low),
                None if from_earliest => *low,
                None => *high,
            };
            (high - at).max(0) as u64
        })
        .sum()
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
    /// A join input's repartition topic (the task re-keying that input): the records as they
    /// were read, each to the partition of its join key.
    Republish {
        topic: String,
        placer: KeyPlacer,
        producer: SluiceProducer,
        /// Set when the broker drops unread records by size (see [`crate::lead`]): the join's
        /// processed positions in the topic bound how far ahead this task writes.
        lead: Option<crate::lead::LeadGuard>,
    },
    /// The query's repartition topic (the first task of a split query), or the next join
    /// stage's topic (a join stage: its rows placed by `placer`, the next join's key written
    /// as the inputs read as they are write it; see [`sluice_planner::join::JoinStage`]).
    Repartition {
        topic: String,
        encoder: RepartitionEncoder,
        placer: Option<KeyPlacer>,
        producer: SluiceProducer,
        /// Set when the broker drops unread records by size (see [`crate::lead`]).
        lead: Option<crate::lead::LeadGuard>,
    },
}

/// What a task reads.
#[derive(Debug, Clone)]
pub enum Input {
    /// The query's source topic.
    Source,
    /// The query's repartition topic (the second task of a split query).
    Repartition { topic: String },
}

/// A join task's extra parts: its joins (left to right), the decoders of the sources they
/// join (the query's source has the task's own decoder), and the buffers that order the
/// inputs by time.
pub(crate) struct JoinTask {
    ops: Vec<JoinOp>,
    decoders: Vec<SourceDecoder>,
    input: JoinInput,
    /// The first join it runs (its joins are a stage of the query's, see
    /// [`sluice_planner::join::JoinStage`]): its input `i > 0` is the query's input
    /// `first + i`.
    first: usize,
    /// A stage before the last: its joined rows leave as the next join's left input.
    intermediate: bool,
}

impl JoinTask {
    /// `state`: the store, the task's prefix in it and its keyed states' cache size, when
    /// the state is kept.
    /// `join_topics`: inputs read from their repartition topic (the query's input index →
    /// topic; 0 is the left input of the first join it runs: the query's source, or the rows
    /// of the stage before). `joins`: the joins it runs (a stage's, else all); `intermediate`
    /// for a stage before the last.
    pub(crate) fn new(
        plan: &QueryPlan,
        source: &SourceDef,
        state: Option<(&TaskState, &[u8], usize)>,
        registry: Option<&Arc<dyn SchemaRegistry>>,
        join_topics: &BTreeMap<usize, JoinTopic>,
        joins: std::ops::Range<usize>,
        intermediate: bool,
    ) -> std::result::Result<Self, DataflowError> {
        let first = joins.start;
        let mut ops = Vec::with_capacity(joins.len());
        let mut decoders = Vec::with_capacity(joins.len());
        let topic = |i: usize, own: &str| {
            join_topics
                .get(&i)
                .map(|t| t.topic.clone())
                .unwrap_or(own.to_string())
        };
        let mut topics = vec![(topic(0, &source.topic), source.kind == SourceKind::Table)];
        for k in joins.clone() {
            let j = &plan.joins[k];
            let mut op = JoinOp::new(j.spec.clone())?;
            if let Some((st, base, cache_entries)) = state {
                let mut prefix = base.to_vec();
                prefix.push(JOIN_PREFIX + k as u8);
                op.open(
                    OperatorState::new(Arc::new(st.store().clone()), prefix)
                        .with_cache_entries(cache_entries),
                )?;
            }
            ops.push(op);
            decoders.push(SourceDecoder::new(&j.right, registry)?);
            topics.push((
                topic(k + 1, &j.right.topic),
                j.right.kind == SourceKind::Table,
            ));
        }
        let mut input = JoinInput::new(topics);
        for (&i, t) in join_topics {
            let local = match i {
                0 => 0,
                i if joins.contains(&(i - 1)) => i - first,
                _ => continue,
            };
            input = input.with_upstream(local, t.upstream.clone());
        }
        Ok(Self {
            ops,
            decoders,
            input,
            first,
            intermediate,
        })
    }

    /// A join task's batch, in processing order: runs of records of one input (`sides[i]` is
    /// the input of `messages[i]`: 0 the query's source, i the i-th join's right side) go
    /// through the joins from the one that input enters at, and what the last emits through
    /// `pipeline`. Records that cannot be decoded go to `report` with their topic.
    pub(crate) fn process_runs(
        &mut self,
        decoder: &mut Decoder,
        messages: &[rdkafka::message::OwnedMessage],
        sides: &[usize],
        mut report: impl FnMut(&[RecordError], &str),
        mut pipeline: impl FnMut(Batch) -> Result<Vec<Batch>>,
    ) -> Result<Vec<Batch>> {
        let mut outputs = Vec::new();
        let mut start = 0;
        while start < messages.len() {
            let input = sides[start];
            let end = (start..messages.len())
                .find(|&i| sides[i] != input)
                .unwrap_or(messages.len());
            let run = &messages[start..end];
            start = end;
            let (batch, errors) = match input {
                0 => decoder.decode(&io::raw_records(run, decoder.needs_headers()))?,
                i => {
                    let d = &mut self.decoders[i - 1];
                    d.decode(&io::raw_records(run, d.needs_headers()))?
                }
            };
            report(&errors, self.input.topic(input));
            let Some(mut b) = batch else { continue };
            // Origins name the input too (a repartition topic after the join tells source
            // records apart by them): partition + input << 16, the query's input index.
            if input > 0 {
                if let Some(o) = &mut b.origin {
                    let shift = ((self.first + input) as i32) << 16;
                    o.partition = o.partition.iter().map(|p| p.map(|p| p + shift)).collect();
                }
            }
            // Input 0 is the first join's left side; input i its i-th join's right side.
            let (first, side) = match input {
                0 => (0, JoinSide::Left),
                i => (i - 1, JoinSide::Right),
            };
            let mut rows = self.ops[first].process(side, &b)?;
            for op in self.ops[first + 1..].iter_mut() {
                rows = match rows {
                    Some(r) => op.process(JoinSide::Left, &joined_as_input(r)?)?,
                    None => None,
                };
            }
            if let Some(joined) = rows {
                let joined = match self.intermediate {
                    true => joined_as_input(joined)?,
                    false => joined,
                };
                outputs.extend(pipeline(joined)?);
            }
        }
        Ok(outputs)
    }

    /// The topics it reads, in FROM order (the query's source first).
    pub(crate) fn topics(&self) -> impl Iterator<Item = &str> {
        self.input.topics()
    }

    /// The same, reading only partition `partition` of each input (`None`: all).
    fn for_partition(mut self, partition: Option<i32>) -> Self {
        self.input = self.input.for_partition(partition);
        self
    }
}

/// Records a batch handed to the producer, awaited together once its tasks have run (see
/// `QueryTask::land`), rather than task by task: a batch spread over many partitions would
/// otherwise wait for a round trip to the broker per task.
#[derive(Default)]
struct InFlight {
    /// Output records: (topic, deliveries).
    outputs: Vec<(String, Vec<rdkafka::producer::DeliveryFuture>)>,
    /// Repartition records: (topic, deliveries, each record's size), where they land goes to
    /// the topic's reader and the lead guard.
    placed: Vec<(String, Vec<rdkafka::producer::DeliveryFuture>, Vec<u64>)>,
}

/// A join input read from its repartition topic, and the task that writes it.
#[derive(Clone)]
pub struct JoinTopic {
    pub topic: String,
    pub upstream: Arc<Upstream>,
}

/// One task of a query: the operators that process one partition of its inputs (partition
/// `p` of each), or all partitions for a query that runs as one task.
pub(crate) struct PartitionTask {
    pipeline: Pipeline,
    decoder: Decoder,
    join: Option<JoinTask>,
}

/// A join's output as the next join's left input: its result time becomes the row's ROWTIME
/// (the first one: the left-most source's) and the appended time column goes.
fn joined_as_input(b: Batch) -> std::result::Result<Batch, DataflowError> {
    let data = &b.data;
    let n = data.num_columns();
    let time = data.column(n - 1).clone();
    let mut columns: Vec<_> = data.columns()[..n - 1].to_vec();
    let mut fields: Vec<_> = data.schema().fields()[..n - 1].to_vec();
    if let Some(i) = fields
        .iter()
        .position(|f| f.name() == sluice_catalog::ROWTIME)
    {
        columns[i] = time;
    }
    fields.truncate(n - 1);
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    Ok(Batch {
        data: RecordBatch::try_new(schema, columns)?,
        changes: b.changes,
        origin: b.origin,
    })
}

/// Rows of several tasks (each task's batches in its order) as one batch, merged by their event
/// time: each task's rows keep their order, the rows of one source record stay together (at
/// their newest time), ties go to the earlier task.
fn merge_by_time(per_task: Vec<Vec<Batch>>) -> Result<Vec<Batch>> {
    use datafusion::arrow::array::{Array, Int32Array, Int64Array, Int8Array};
    use datafusion::arrow::compute::interleave;
    let per_task: Vec<Vec<Batch>> = per_task
        .into_iter()
        .map(|bs| {
            bs.into_iter()
                .filter(|b| b.num_rows() > 0)
                .collect::<Vec<_>>()
        })
        .filter(|bs| !bs.is_empty())
        .collect();
    if per_task.len() <= 1 {
        return Ok(per_task.into_iter().flatten().collect());
    }
    let batches: Vec<&Batch> = per_task.iter().flatten().collect();
    // Each batch's event times, found once.
    let times: Vec<Option<&Int64Array>> = batches
        .iter()
        .map(|b| {
            sluice_dataflow::batch::event_time_index(b.data.schema_ref())
                .and_then(|c| b.data.column(c).as_any().downcast_ref::<Int64Array>())
        })
        .collect();
    let time = |b: usize, i: usize| {
        times[b]
            .filter(|t| t.is_valid(i))
            .map_or(i64::MIN, |t| t.value(i))
    };
    // Each task's rows as runs of one source record (they stay together, see
    // `RepartitionEncoder::encode_placed`), in order, each with its newest time.
    let origin_of = |b: &Batch, r: usize| {
        b.origin
            .as_ref()
            .map(|o| (o.partition.value(r), o.offset.value(r)))
    };
    type Run = (i64, Vec<(usize, usize)>);
    let mut queues: Vec<std::collections::VecDeque<Run>> = Vec::new();
    let mut at = 0;
    for bs in &per_task {
        let mut q: std::collections::VecDeque<Run> = std::collections::VecDeque::new();
        let mut last = None;
        for b in bs {
            for r in 0..b.num_rows() {
                let origin = origin_of(b, r);
                let t = time(at, r);
                match q.back_mut() {
                    Some((newest, rows)) if origin.is_some() && origin == last => {
                        *newest = (*newest).max(t);
                        rows.push((at, r));
                    }
                    _ => q.push_back((t, vec![(at, r)])),
                }
                last = origin;
            }
            at += 1;
        }
        queues.push(q);
    }
    let mut heads: std::collections::BinaryHeap<std::cmp::Reverse<(i64, usize)>> = queues
        .iter()
        .enumerate()
        .filter_map(|(t, q)| q.front().map(|(newest, _)| std::cmp::Reverse((*newest, t))))
        .collect();
    let mut order = Vec::new();
    while let Some(std::cmp::Reverse((_, t))) = heads.pop() {
        let (_, rows) = queues[t].pop_front().expect("a head");
        order.extend(rows);
        if let Some((newest, _)) = queues[t].front() {
            heads.push(std::cmp::Reverse((*newest, t)));
        }
    }
    let internal = |e: datafusion::arrow::error::ArrowError| EngineError::Internal(e.to_string());
    let columns = (0..batches[0].data.num_columns())
        .map(|c| {
            let arrays: Vec<&dyn Array> =
                batches.iter().map(|b| b.data.column(c).as_ref()).collect();
            interleave(&arrays, &order)
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(internal)?;
    let data = RecordBatch::try_new(batches[0].data.schema(), columns).map_err(internal)?;
    let changes = batches.iter().any(|b| b.changes.is_some()).then(|| {
        Int8Array::from_iter_values(order.iter().map(|&(b, r)| batches[b].change(r) as i8))
    });
    let origin = match batches.iter().all(|b| b.origin.is_some()) {
        true => {
            let origins: Vec<_> = batches.iter().filter_map(|b| b.origin.as_ref()).collect();
            let part: Vec<&dyn Array> =
                origins.iter().map(|o| &o.partition as &dyn Array).collect();
            let off: Vec<&dyn Array> = origins.iter().map(|o| &o.offset as &dyn Array).collect();
            let partition = interleave(&part, &order).map_err(internal)?;
            let offset = interleave(&off, &order).map_err(internal)?;
            Some(sluice_dataflow::Origins {
                partition: partition
                    .as_any()
                    .downcast_ref::<Int32Array>()
                    .cloned()
                    .ok_or_else(|| EngineError::Internal("origin partitions".into()))?,
                offset: offset
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .cloned()
                    .ok_or_else(|| EngineError::Internal("origin offsets".into()))?,
            })
        }
        false => None,
    };
    Ok(vec![Batch {
        data,
        changes,
        origin,
    }])
}

/// Key prefix of the join's state in the task's store (operators of the pipeline use
/// `0x01..`, from the first).
const JOIN_PREFIX: u8 = 0xe0;

/// Decodes what a task reads into batches.
pub(crate) enum Decoder {
    Source(SourceDecoder),
    Repartition(RepartitionDecoder),
}

impl Decoder {
    pub(crate) fn needs_headers(&self) -> bool {
        match self {
            Decoder::Source(d) => d.needs_headers(),
            Decoder::Repartition(_) => false,
        }
    }

    pub(crate) fn decode(
        &mut self,
        raw: &[RawRecord<'_>],
    ) -> std::result::Result<(Option<Batch>, Vec<RecordError>), DataflowError> {
        match self {
            Decoder::Source(d) => d.decode(raw),
            Decoder::Repartition(d) => d.decode(raw),
        }
    }
}

/// Everything a query task needs.
pub struct QueryTask {
    pub id: String,
    pub source: Arc<SourceDef>,
    pub plan: QueryPlan,
    /// The part of the plan this task runs, and what it reads.
    pub part: PlanPart,
    /// The joins it runs (indices into the plan's joins): all of them in one task, a stage's
    /// in a query whose joins run in stages (see [`QueryPlan::join_range`]), none in a task
    /// that re-keys a join input or aggregates after a repartition topic.
    pub joins: std::ops::Range<usize>,
    pub input: Input,
    /// Join inputs read from their `-Join-*-repartition` topic instead of their source's
    /// topic (input index → topic; see [`sluice_planner::join::JoinRepartition`]).
    pub join_topics: BTreeMap<usize, JoinTopic>,
    /// A task re-keying a join input: where it reports its progress to the join.
    pub feeds: Option<Arc<Upstream>>,
    pub consumer: SluiceConsumer,
    pub output: Output,
    pub metrics: Arc<QueryMetrics>,
    /// The result table's rows, kept for pull queries (tables written by persistent queries).
    pub materialize: Option<Arc<Materialized>>,
    /// The state store (persistent queries: state and input positions are committed after each
    /// batch); `None` keeps state in memory and commits nothing (transient queries).
    pub state: Option<StateSpec>,
    /// Exactly-once: the transactional producer that writes the outputs and the changelog
    /// (the same one as in `output` and `state`); each batch commits in one transaction.
    pub transactional: Option<SluiceProducer>,
    /// Writer schemas of schema-registry formats (AVRO) in the inputs.
    pub registry: Option<Arc<dyn SchemaRegistry>>,
}

impl QueryTask {
    /// Run until `stop` turns true, the client goes away, or LIMIT is reached.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        if let Output::Repartition {
            lead: Some(lead), ..
        }
        | Output::Republish {
            lead: Some(lead), ..
        } = &mut self.output
        {
            lead.stop_with(stop.clone());
        }
        let topic = match &self.input {
            Input::Source => self
                .join_topics
                .get(&0)
                .map(|t| t.topic.clone())
                .unwrap_or_else(|| self.source.topic.clone()),
            Input::Repartition { topic } => topic.clone(),
        };
        // A persistent query runs a task per input partition when its inputs are
        // co-partitioned; a push query (state in memory) is one task.
        let per_partition = self.state.is_some() && self.plan.per_partition(self.part);
        let partitions = match (&self.state, per_partition) {
            (Some(spec), true) => match spec.admin.describe_topic(&topic).await {
                Ok(Some(t)) => t.partitions.max(1),
                Ok(None) => 1,
                Err(e) => {
                    warn!(query_id = %self.id, topic, error = %e, "cannot read the input's partitions");
                    self.fail(e.into()).await;
                    return;
                }
            },
            _ => 1,
        };
        let admin = self.state.as_ref().map(|s| s.admin.clone());
        let mut transactions = None;
        if let Some(producer) = self.transactional.take() {
            match Transactions::init(producer).await {
                Ok(t) => transactions = Some(t),
                Err(e) => {
                    warn!(query_id = %self.id, error = %e, "cannot initialize transactions");
                    return;
                }
            }
        }
        let mut state = None;
        if let Some(spec) = self.state.take() {
            match open_state(spec, partitions, &self.consumer).await {
                Ok(s) => state = Some(s),
                Err(e) => {
                    warn!(query_id = %self.id, error = %e, "cannot open the query's state");
                    return;
                }
            }
        }
        if transactions.is_some() && state.is_none() {
            warn!(query_id = %self.id, "exactly-once processing needs the query's state store");
            return;
        }
        let mut tasks: BTreeMap<i32, PartitionTask> = BTreeMap::new();
        // The tasks share the memory one task would have for its keyed state.
        let cache_entries = (DEFAULT_CACHE_ENTRIES / partitions as usize).max(MIN_CACHE_ENTRIES);
        if let Err(e) = self.add_tasks(
            &mut tasks,
            0..partitions,
            per_partition,
            cache_entries,
            state.as_ref(),
        ) {
            self.fail(e).await;
            return;
        }
        let topics: Vec<String> = match &tasks.values().next().and_then(|t| t.join.as_ref()) {
            // A join also reads the topics of the sources it joins.
            Some(j) => j.topics().map(str::to_string).collect(),
            None => vec![topic.clone()],
        };
        if !self.join_topics.is_empty() {
            // Everything written to a join input's repartition topic is for this query: the
            // group reads it from the start (whatever `auto.offset.reset` says for the
            // sources), from where the state is once it has seen a partition.
            let mut tpl = rdkafka::TopicPartitionList::new();
            for t in self.join_topics.values().map(|t| &t.topic) {
                for p in 0..partitions {
                    if state.as_ref().is_none_or(|s| s.position(t, p).is_none()) {
                        let _ = tpl.add_partition_offset(t, p, rdkafka::Offset::Offset(0));
                    }
                }
            }
            if tpl.count() > 0 {
                if let Err(e) = self
                    .consumer
                    .commit(&tpl, rdkafka::consumer::CommitMode::Sync)
                {
                    warn!(query_id = %self.id, error = %e, "cannot start the join's repartition topics from their beginning");
                }
            }
        }
        // What reads all partitions of a topic at once (a join running as one task, a join
        // stage's shared release, a re-keying task's merge) holds its records until it is
        // assigned all of them: it needs their counts.
        let whole = matches!(self.part, PlanPart::JoinFront | PlanPart::JoinStage(_))
            || (!per_partition && !self.joins.is_empty());
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        if let (Some(admin), true) = (&admin, whole) {
            for t in topics.iter().chain([&topic]) {
                if counts.contains_key(t) {
                    continue;
                }
                match admin.describe_topic(t).await {
                    Ok(Some(d)) => {
                        counts.insert(t.clone(), d.partitions.max(1) as usize);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        warn!(query_id = %self.id, topic = %t, error = %e, "cannot read the topic's partitions")
                    }
                }
            }
            for t in tasks.values_mut() {
                if let Some(j) = t.join.as_mut() {
                    j.input.set_partition_counts(&counts);
                }
            }
        }
        let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        if let Err(e) = self.consumer.subscribe(&topic_refs) {
            warn!(query_id = %self.id, error = %e, "cannot subscribe");
            self.fail(EngineError::Kafka(e.to_string())).await;
            return;
        }
        let mut emitted: u64 = 0;
        // A task re-keying a join input: its input merged in time order, and how far in time
        // it has passed.
        let mut rekeying = matches!(self.part, PlanPart::JoinFront)
            .then(|| Rekeying::new(&topic, counts.get(&topic).copied().unwrap_or(1)));
        // A join stage's tasks release their records by one time order over all partitions,
        // so that the rows they write reach each partition of the next stage's topic in time
        // order (their outputs are merged by time, see `QueryTask::process`).
        let mut shared = match self.part {
            PlanPart::JoinStage(_) => {
                tasks
                    .values()
                    .next()
                    .and_then(|t| t.join.as_ref())
                    .map(|j| {
                        let mut input = j.input.empty_like();
                        input.set_partition_counts(&counts);
                        input
                    })
            }
            _ => None,
        };
        info!(query_id = %self.id, source = %self.source.name, tasks = partitions, "query started");
        loop {
            // A join task also wakes up without new records: a waiting input may be released
            // once the other is known to be read, or has idled long enough.
            // A task re-keying a join input tells the join how far in time it has written
            // all it read, and looks again every poll interval (see `join_input::Upstream`).
            if let (Some(u), Some(r)) = (&self.feeds, rekeying.as_mut()) {
                u.set_vouch(r.vouch(&self.consumer, &topic, true));
            }
            // A join stage vouches for what its inputs have all passed (all it released is
            // written).
            if let (Some(u), Some(sh)) = (&self.feeds, shared.as_ref()) {
                u.set_vouch(sh.passed(&self.consumer));
            }
            let wait = (self.feeds.is_some()
                || tasks
                    .values()
                    .any(|t| t.join.as_ref().is_some_and(|j| j.input.is_waiting())))
            .then_some(JOIN_POLL);
            // Only the wait for a first record is cut short by the poll interval or a stop
            // (see `io::read_batch`: a batch dropped half-read would be lost).
            let stopped = async {
                tokio::select! {
                    _ = stop.changed() => {}
                    _ = client_gone(&self.output) => {}
                }
            };
            let Some(messages) =
                io::read_batch(&self.consumer, MAX_BATCH, LINGER, wait, stopped).await
            else {
                break;
            };
            let messages = match messages {
                Ok(m) => m,
                Err(e) => {
                    warn!(query_id = %self.id, error = %e, "read failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if let (Some(u), Some(r), false) = (&self.feeds, rekeying.as_mut(), messages.is_empty())
            {
                // Until these are written, the task vouches only for the times it had read
                // before them (each partition's records come in time order, nearly).
                u.set_vouch(r.vouch(&self.consumer, &topic, false));
                r.read(&messages);
            }
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
            // A re-keying task writes what its partitions have all passed, in time order.
            let messages = match rekeying.as_mut() {
                Some(r) => r.release(&self.consumer, messages),
                None => messages,
            };
            // Each record to its task: a join stage's as its inputs release them (in time order
            // over all partitions) with the input each came from, others' in arrival order.
            let mut released: BTreeMap<i32, (Vec<OwnedMessage>, Vec<usize>)> = BTreeMap::new();
            let mut routed: BTreeMap<i32, Vec<OwnedMessage>> = BTreeMap::new();
            match shared.as_mut() {
                Some(sh) => {
                    sh.push(messages);
                    for (side, m) in sh.ready(&self.consumer) {
                        let (ms, sides) = released.entry(m.partition()).or_default();
                        ms.push(m);
                        sides.push(side);
                    }
                }
                None => {
                    for m in messages {
                        let task = if per_partition { m.partition() } else { 0 };
                        routed.entry(task).or_default().push(m);
                    }
                }
            }
            // (A partition added to the input after the query started gets its task now.)
            if let Err(e) = self.add_tasks(
                &mut tasks,
                released.keys().chain(routed.keys()).copied(),
                per_partition,
                cache_entries,
                state.as_ref(),
            ) {
                self.fail(e).await;
                return;
            }
            let work = if shared.is_some() {
                released
                    .into_iter()
                    .map(|(p, (ms, sides))| (p, ms, sides))
                    .collect()
            } else {
                // What each task processes now (a join task: the records its inputs release, with
                // the input each came from).
                let mut work: Vec<(i32, Vec<rdkafka::message::OwnedMessage>, Vec<usize>)> =
                    Vec::new();
                for (&p, task) in tasks.iter_mut() {
                    let new = routed.remove(&p).unwrap_or_default();
                    match task.join.as_mut() {
                        None if new.is_empty() => {}
                        None => work.push((p, new, Vec::new())),
                        Some(j) => {
                            j.input.push(new);
                            let (ready, sides): (Vec<_>, Vec<usize>) = j
                                .input
                                .ready(&self.consumer)
                                .into_iter()
                                .map(|(side, m)| (m, side))
                                .unzip();
                            if !ready.is_empty() {
                                work.push((p, ready, sides));
                            }
                        }
                    }
                }
                work
            };
            if work.is_empty() {
                continue;
            }
            if let Some(t) = &transactions {
                if let Err(e) = t.begin() {
                    warn!(query_id = %self.id, error = %e, "query failed");
                    return;
                }
            }
            let all: Vec<&rdkafka::message::OwnedMessage> =
                work.iter().flat_map(|(_, m, _)| m.iter()).collect();
            let positions = io::next_positions(all.iter().copied());
            let outcome = self
                .process(
                    &mut tasks,
                    &work,
                    &positions,
                    &mut emitted,
                    state.as_mut(),
                    transactions.as_ref(),
                )
                .await;
            if let (Err(_), Some(t)) = (&outcome, &transactions) {
                // Nothing of the batch becomes visible to read_committed readers; the query
                // stops (its in-memory operator state already holds the batch).
                t.abort().await;
            }

            // Counted once processed: every record counted here has its output delivered.
            // (A split query counts its source records, read by its first task; a join stage
            // its inputs' records, the next stage the records of its own inputs. A re-keyed
            // join input's records count, under the input's topic, once the join has
            // processed them from its repartition topic; the re-keying task counts those
            // that do not cross. Records of the query's internal topics do not count: their
            // lag is measured.)
            if !matches!(self.output, Output::Republish { .. }) {
                let internal = match &self.input {
                    Input::Repartition { topic } => Some(topic.as_str()),
                    Input::Source => None,
                };
                let counted: Vec<_> = all.iter().filter(|m| Some(m.topic()) != internal).collect();
                if !counted.is_empty() {
                    let mut consumed = self.metrics.consumed.lock().expect("consumed lock");
                    for m in &counted {
                        *consumed
                            .entry(self.input_topic(m.topic()).to_string())
                            .or_default() += 1;
                    }
                    self.metrics
                        .records_in
                        .fetch_add(counted.len() as u64, Ordering::Relaxed);
                }
            }
            let (seen, lag_topic) = match self.input {
                Input::Source => (
                    Some(&self.metrics.positions),
                    self.plan.source.topic.as_str(),
                ),
                Input::Repartition { .. } => (self.metrics.internal.get(&topic), topic.as_str()),
            };
            // A re-keying task writing ahead of this join waits on what it has processed.
            for jt in self.join_topics.values() {
                jt.upstream.processed_to(
                    positions
                        .iter()
                        .filter(|((t, _), _)| *t == jt.topic)
                        .map(|((_, p), next)| (*p, *next)),
                );
            }
            if let Some(seen) = seen {
                let mut seen = seen.lock().expect("positions lock");
                for ((t, partition), next) in &positions {
                    if t != lag_topic {
                        continue; // a join's right side: lag is measured on the source
                    }
                    let e = seen.entry(*partition).or_insert(*next);
                    *e = (*e).max(*next);
                }
            }
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

    /// Adds the tasks of `partitions` that `tasks` lacks (see [`QueryTask::new_task`]).
    fn add_tasks(
        &self,
        tasks: &mut BTreeMap<i32, PartitionTask>,
        partitions: impl IntoIterator<Item = i32>,
        per_partition: bool,
        cache_entries: usize,
        state: Option<&TaskState>,
    ) -> Result<()> {
        for p in partitions {
            if let std::collections::btree_map::Entry::Vacant(slot) = tasks.entry(p) {
                slot.insert(self.new_task(p, per_partition, cache_entries, state)?);
            }
        }
        Ok(())
    }

    /// The task for input partition `p` (all partitions, unless `per_partition`): fresh
    /// operators, restored from `state` under the task's prefix.
    fn new_task(
        &self,
        p: i32,
        per_partition: bool,
        cache_entries: usize,
        state: Option<&TaskState>,
    ) -> Result<PartitionTask> {
        let base = crate::task_state::task_prefix(p);
        let mut pipeline = self.plan.pipeline_part(self.part)?;
        if let Some(st) = state {
            pipeline.open_under(Arc::new(st.store().clone()), &base, cache_entries)?;
        }
        let decoder = match &self.input {
            Input::Source => {
                let d = SourceDecoder::new(&self.source, self.registry.as_ref())?;
                // PARTITION BY and plain projections forward a stream's records without a
                // value (re-keyed, and as records without a value) unless a WHERE drops them,
                // as ksqlDB does.
                if self.plan.joins.is_empty()
                    && (self.plan.partitioning.is_some()
                        || (self.plan.grouping.is_none()
                            && !self
                                .plan
                                .ops
                                .iter()
                                .any(|o| matches!(o, sluice_planner::OpSpec::Filter(_)))
                            && !matches!(self.output, Output::Client { .. })))
                {
                    Decoder::Source(d.with_stream_tombstones())
                } else {
                    Decoder::Source(d)
                }
            }
            Input::Repartition { .. } => {
                // A join stage's rows are read as the left input of the next joins: their
                // origins are the records read here (see `RepartitionDecoder::with_origins`).
                let mut d = match self.joins.is_empty() {
                    true => RepartitionDecoder::new(),
                    false => RepartitionDecoder::new().with_origins(),
                };
                if let Some(st) = state {
                    d.open(st.store())?;
                }
                Decoder::Repartition(d)
            }
        };
        // A join also reads the topics of the sources it joins. (The second task of a split
        // query reads joined rows from the repartition topic.)
        let joins = self.joins.clone();
        let join = if joins.is_empty() {
            None
        } else {
            let j = JoinTask::new(
                &self.plan,
                &self.source,
                state.map(|s| (s, base.as_slice(), cache_entries)),
                self.registry.as_ref(),
                &self.join_topics,
                joins,
                matches!(self.part, PlanPart::JoinStage(_)),
            )?;
            Some(j.for_partition(per_partition.then_some(p)))
        };
        Ok(PartitionTask {
            pipeline,
            decoder,
            join,
        })
    }

    /// Processes each task's records, writes the outputs, and commits (see
    /// [`crate::task_state`]): every task's state and positions to its changelog partition,
    /// then to the store, then the input positions of all to the consumer group. Returns
    /// false when the query should end.
    async fn process(
        &mut self,
        tasks: &mut BTreeMap<i32, PartitionTask>,
        work: &[(i32, Vec<rdkafka::message::OwnedMessage>, Vec<usize>)],
        positions: &HashMap<(String, i32), i64>,
        emitted: &mut u64,
        state: Option<&mut TaskState>,
        transactions: Option<&Transactions>,
    ) -> Result<bool> {
        let mut keep_going = true;
        // Each task's state changes, gathered right after its outputs were handed over (the
        // materialized rows its records changed are its own: tasks run one at a time).
        let mut gathered: Vec<(i32, sluice_state::WriteBatch)> = Vec::new();
        // What the tasks hand to the producer, awaited once for the batch.
        let mut in_flight = InFlight::default();
        let stage = matches!(self.part, PlanPart::JoinStage(_));
        let mut staged = Vec::new();
        for (p, messages, sides) in work {
            let task = tasks.get_mut(p).expect("a task per routed partition");
            let outputs = match task.join.as_mut() {
                None => {
                    let raw = io::raw_records(messages, task.decoder.needs_headers());
                    let (batch, errors) = task.decoder.decode(&raw)?;
                    self.report(&errors, &self.source.topic);
                    match batch {
                        Some(b) if matches!(self.output, Output::Republish { .. }) => {
                            self.republish(&b, messages).await?;
                            Vec::new()
                        }
                        Some(b) => self.run_pipeline(&mut task.pipeline, b)?,
                        None => {
                            if matches!(self.output, Output::Republish { .. }) {
                                self.count_uncrossed(messages.len());
                            }
                            Vec::new()
                        }
                    }
                }
                Some(join) => join.process_runs(
                    &mut task.decoder,
                    messages,
                    sides,
                    |errors, topic| self.report(errors, topic),
                    |b| self.run_pipeline(&mut task.pipeline, b),
                )?,
            };
            if stage {
                staged.push(outputs);
                continue;
            }
            keep_going &= self.write_outputs(outputs, emitted, &mut in_flight).await?;
            if state.is_some() {
                gathered.push((*p, self.gather_task(task, messages)?));
            }
            if !keep_going {
                break;
            }
        }
        if stage {
            // A join stage writes its tasks' rows merged by time (each task's in its order),
            // then its tasks' state.
            let merged = merge_by_time(staged)?;
            keep_going &= self.write_outputs(merged, emitted, &mut in_flight).await?;
            if state.is_some() {
                for (p, messages, _) in work {
                    let task = tasks.get_mut(p).expect("a task per routed partition");
                    gathered.push((*p, self.gather_task(task, messages)?));
                }
            }
        }
        // Every output is acknowledged before any changelog record is written: a store
        // restored from the changelog must never be ahead of the outputs.
        self.land(in_flight).await?;
        if let Some(state) = state {
            let commit = state.write_changelogs(gathered).await?;
            match transactions {
                // Outputs, changelog and input offsets become visible together; the local
                // store follows (a crash before it is caught up from the changelog).
                Some(t) => {
                    t.commit(positions, &self.consumer).await?;
                    state.commit_local(commit)?;
                }
                None => {
                    state.commit_local(commit)?;
                    io::commit_positions(&self.consumer, positions)?;
                }
            }
        }
        debug!(query_id = %self.id, tasks = work.len(), "batch done");
        Ok(keep_going)
    }

    /// Task `p`'s state changes and input positions after it processed `messages`, for its
    /// changelog partition and the store (see [`TaskState::write_changelogs`]).
    fn gather_task(
        &self,
        task: &mut PartitionTask,
        messages: &[OwnedMessage],
    ) -> Result<sluice_state::WriteBatch> {
        let mut batch = sluice_state::WriteBatch::new();
        task.pipeline.checkpoint(&mut batch)?;
        if let Decoder::Repartition(d) = &mut task.decoder {
            d.checkpoint(&mut batch);
        }
        if let Some(j) = task.join.as_mut() {
            for op in &mut j.ops {
                op.checkpoint(&mut batch)?;
            }
        }
        // Rows of the result this task's records changed (tasks run one at a time).
        if let Some(m) = &self.materialize {
            m.checkpoint(&mut batch);
        }
        for ((topic, partition), next) in io::next_positions(messages.iter()) {
            batch.set_position(topic, partition, next);
        }
        Ok(batch)
    }

    /// Waits until everything a batch handed to the producer is acknowledged; tells the
    /// reader of a repartition topic (and the lead guard) where its records landed.
    async fn land(&mut self, in_flight: InFlight) -> Result<()> {
        for (topic, pending) in in_flight.outputs {
            io::await_deliveries(pending, &topic).await?;
        }
        for (topic, pending, sizes) in in_flight.placed {
            let landed = io::deliveries(pending, &topic).await?;
            if let Some(u) = &self.feeds {
                u.wrote(&landed);
            }
            if let Output::Repartition {
                lead: Some(lead), ..
            } = &mut self.output
            {
                for (size, (partition, offset)) in sizes.into_iter().zip(landed) {
                    lead.wrote(partition, offset, size);
                }
            }
        }
        Ok(())
    }

    /// The input topic whose records `topic` carries: a join repartition topic carries its
    /// re-keyed input's.
    fn input_topic<'a>(&'a self, topic: &'a str) -> &'a str {
        match self.join_topics.iter().find(|(_, t)| t.topic == topic) {
            Some((0, _)) => &self.plan.source.topic,
            Some((i, _)) => self
                .plan
                .joins
                .get(i - 1)
                .map_or(topic, |j| j.right.topic.as_str()),
            None => topic,
        }
    }

    /// A join input's records, as they were read, each to the partition of its join key in
    /// the input's repartition topic (rows `b` decoded from `messages`; a record that could not
    /// be decoded was reported and does not cross; one whose key is null stays in its
    /// partition).
    async fn republish(&mut self, b: &Batch, messages: &[OwnedMessage]) -> Result<()> {
        let Output::Republish {
            topic,
            placer,
            producer,
            lead,
        } = &mut self.output
        else {
            return Ok(());
        };
        let places = placer.place(b)?;
        let origin = b.origin.as_ref().ok_or_else(|| {
            EngineError::Internal("a join input's rows must know their records".into())
        })?;
        let by_position: HashMap<(i32, i64), &OwnedMessage> = messages
            .iter()
            .map(|m| ((m.partition(), m.offset()), m))
            .collect();
        let partitions = placer.partitions();
        let records: Vec<(i32, &OwnedMessage)> = places
            .iter()
            .enumerate()
            .filter_map(|(i, place)| {
                let at = (origin.partition.value(i), origin.offset.value(i));
                let m = by_position.get(&at)?;
                Some((place.unwrap_or(at.0 % partitions), *m))
            })
            .collect();
        if let (Some(lead), Some(u)) = (lead.as_mut(), &self.feeds) {
            lead.wait(&self.id, &u.processed).await;
        }
        let landed = io::republish(producer, topic, &records).await?;
        if let Some(u) = &self.feeds {
            u.wrote(&landed);
        }
        if let Some(lead) = lead.as_mut() {
            for ((_, m), (partition, offset)) in records.iter().zip(&landed) {
                let bytes = m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len);
                lead.wrote(*partition, *offset, bytes as u64);
            }
        }
        self.count_uncrossed(messages.len().saturating_sub(records.len()));
        Ok(())
    }

    /// A re-keying task is done with `n` records that do not cross (reported as
    /// undecodable): they count as consumed now (the join counts the others once it has
    /// processed them).
    fn count_uncrossed(&self, n: usize) {
        if n == 0 {
            return;
        }
        *self
            .metrics
            .consumed
            .lock()
            .expect("consumed lock")
            .entry(self.source.topic.clone())
            .or_default() += n as u64;
        self.metrics
            .records_in
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Writes a task's output batches where the query's output goes. Returns false when the
    /// query should end (LIMIT reached or client gone).
    async fn write_outputs(
        &mut self,
        outputs: Vec<Batch>,
        emitted: &mut u64,
        in_flight: &mut InFlight,
    ) -> Result<bool> {
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
                    let pending = io::enqueue_all(producer, topic, &records).await?;
                    in_flight.outputs.push((topic.clone(), pending));
                    self.metrics
                        .records_out
                        .fetch_add(records.len() as u64, Ordering::Relaxed);
                }
            }
            Output::Repartition {
                topic,
                encoder,
                placer,
                producer,
                lead,
            } => {
                for b in &outputs {
                    if let Some(lead) = lead.as_mut() {
                        // The reading task's processed positions (a join stage's reader
                        // reports them through the stage's `Upstream`).
                        match (&self.feeds, self.metrics.internal.get(topic.as_str())) {
                            (Some(u), _) => lead.wait(&self.id, &u.processed).await,
                            (None, Some(read)) => lead.wait(&self.id, read).await,
                            (None, None) => {}
                        }
                    }
                    let encoded = match placer.as_mut() {
                        None => encoder.encode(b)?,
                        Some(placer) => {
                            // A row whose key is null meets nothing; it stays in its origin's
                            // partition (an outer join still emits it).
                            let partitions = placer.partitions();
                            let origin = b.origin.as_ref().map(|o| &o.partition);
                            let places: Vec<i32> = placer
                                .place(b)?
                                .into_iter()
                                .enumerate()
                                .map(|(i, p)| {
                                    p.unwrap_or_else(|| {
                                        origin.map_or(0, |o| (o.value(i) & 0xffff) % partitions)
                                    })
                                })
                                .collect();
                            encoder.encode_placed(b, &places, true)?
                        }
                    };
                    let records: Vec<io::PartitionedRecord> = encoded
                        .into_iter()
                        .map(|r| io::PartitionedRecord {
                            partition: r.partition,
                            timestamp: r.timestamp,
                            value: r.value,
                        })
                        .collect();
                    let pending = io::enqueue_partitioned(producer, topic, &records).await?;
                    let sizes = records.iter().map(|r| r.value.len() as u64).collect();
                    in_flight.placed.push((topic.clone(), pending, sizes));
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
            // Written by `republish`.
            Output::Republish { .. } => {}
        }
        Ok(keep_going)
    }

    /// The processing log: one structured line per skipped record.
    fn report(&self, errors: &[RecordError], topic: &str) {
        for e in errors {
            warn!(
                target: "sluice::processing_log",
                query_id = %self.id,
                topic = %topic,
                partition = e.partition,
                offset = e.offset,
                reason = %e.reason,
                "skipped a record that could not be processed"
            );
        }
        self.metrics
            .records_skipped
            .fetch_add(errors.len() as u64, Ordering::Relaxed);
    }

    /// Runs `b` through the pipeline. A function that panics on some input (a bug in it, or in
    /// DataFusion) must not take the query down: the batch's records are skipped and reported.
    fn run_pipeline(&self, pipeline: &mut Pipeline, b: Batch) -> Result<Vec<Batch>> {
        let rows = b.num_rows();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pipeline.process(b))) {
            Ok(result) => Ok(result?),
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
                Ok(Vec::new())
            }
        }
    }

    async fn fail(&self, e: EngineError) {
        if let Output::Client { tx, .. } = &self.output {
            let _ = tx.send(Err(e)).await;
        }
    }
}

/// Opens the state of `partitions` tasks (restoring it from the changelog if need be), and
/// makes sure the consumer group starts no later than the state's positions.
async fn open_state(
    spec: StateSpec,
    partitions: i32,
    consumer: &SluiceConsumer,
) -> Result<TaskState> {
    let state = TaskState::open(
        spec.store,
        spec.changelog,
        partitions,
        &spec.kafka,
        spec.admin,
        spec.producer,
    )
    .await?;
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

/// How long a partition of a re-keying task's input must have been read to its end before
/// the task vouches for every time on it: the consumer's cached end of a partition lags the
/// broker by up to a fetch, so a record just written there may not be known yet.
const SETTLED: Duration = Duration::from_millis(200);

/// A task re-keying a join input: its input's records merged in time order across
/// partitions (so that each partition of the repartition topic receives records in time
/// order), and how far in time it has passed (see `join_input::Upstream`).
struct Rekeying {
    merge: JoinInput,
    /// The newest time read per input partition.
    read: BTreeMap<i32, i64>,
    /// Since when each partition has been read to its end.
    ended: BTreeMap<i32, std::time::Instant>,
    /// How many partitions the input has: the task vouches for nothing while it is not
    /// assigned all of them.
    partitions: usize,
}

impl Rekeying {
    fn new(topic: &str, partitions: usize) -> Self {
        let mut merge = JoinInput::new(vec![(topic.to_string(), false)]);
        merge.set_partition_counts(&BTreeMap::from([(topic.to_string(), partitions)]));
        Self {
            merge,
            read: BTreeMap::new(),
            ended: BTreeMap::new(),
            partitions,
        }
    }

    /// Takes newly read records; returns those every partition has passed, in time order.
    fn release(
        &mut self,
        consumer: &SluiceConsumer,
        messages: Vec<OwnedMessage>,
    ) -> Vec<OwnedMessage> {
        self.merge.push(messages);
        self.merge
            .ready(consumer)
            .into_iter()
            .map(|(_, m)| m)
            .collect()
    }

    fn read(&mut self, messages: &[OwnedMessage]) {
        for m in messages {
            let t = io::record_time(m).unwrap_or(0);
            let e = self.read.entry(m.partition()).or_insert(t);
            *e = (*e).max(t);
            self.ended.remove(&m.partition());
        }
    }

    /// The smallest newest time read over the assigned partitions (`i64::MIN` for one not
    /// read yet), where, with `written` (all that was read and released is written), a
    /// partition read to its end for [`SETTLED`] with nothing waiting has passed every time;
    /// a partition with records waiting in the merge has passed no more than the oldest of
    /// them. `i64::MIN` while the task is not assigned every partition of its input.
    fn vouch(&mut self, consumer: &SluiceConsumer, topic: &str, written: bool) -> i64 {
        let waiting = self.merge.oldest_waiting(0);
        let Some(parts) = sluice_kafka::assigned_progress(consumer, topic) else {
            return i64::MIN;
        };
        if parts.len() < self.partitions {
            return i64::MIN;
        }
        let now = std::time::Instant::now();
        let mut vouch = i64::MAX;
        for (p, done) in parts {
            let settled = if done {
                let since = *self.ended.entry(p).or_insert(now);
                now.duration_since(since) >= SETTLED
            } else {
                self.ended.remove(&p);
                false
            };
            let t = match (waiting.get(&p), settled && written, self.read.get(&p)) {
                (Some(&w), _, _) => w.saturating_sub(1),
                (None, true, _) => i64::MAX,
                (None, false, Some(&t)) => t,
                (None, false, None) => i64::MIN,
            };
            vouch = vouch.min(t);
        }
        vouch
    }
}

/// Resolves when a client-bound query's receiver is gone; never for topic outputs.
async fn client_gone(output: &Output) {
    match output {
        Output::Client { tx, .. } => tx.closed().await,
        Output::Topic { .. } | Output::Repartition { .. } | Output::Republish { .. } => {
            std::future::pending().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(times: &[i64], origin: i32) -> Batch {
        use datafusion::arrow::array::{Int32Array, Int64Array};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        let schema = Arc::new(Schema::new(vec![Field::new(
            sluice_catalog::ROWTIME,
            DataType::Int64,
            true,
        )]));
        let data =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(times.to_vec()))]).unwrap();
        Batch {
            data,
            changes: None,
            origin: Some(sluice_dataflow::Origins {
                partition: Int32Array::from(vec![origin; times.len()]),
                offset: Int64Array::from_iter_values(0..times.len() as i64),
            }),
        }
    }

    /// A join stage's tasks' rows leave merged by time, each task's in its own order (so each
    /// origin partition's rows stay in offset order, which the next stage's decoder relies on).
    #[test]
    fn stage_rows_merge_by_time_keeping_each_tasks_order() {
        use datafusion::arrow::array::Int64Array;
        let merged = merge_by_time(vec![
            vec![rows(&[10, 40], 0), rows(&[30], 0)],
            vec![],
            vec![rows(&[20, 35, 50], 2)],
        ])
        .unwrap();
        assert_eq!(merged.len(), 1);
        let b = &merged[0];
        let times = b
            .data
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        // Task 0's 40 comes before its 30: its order is kept, the merge goes by its head.
        assert_eq!(times.values().to_vec(), vec![10, 20, 35, 40, 30, 50]);
        let origin = b.origin.as_ref().unwrap();
        assert_eq!(origin.partition.values().to_vec(), vec![0, 2, 2, 0, 0, 2]);
        assert_eq!(origin.offset.values().to_vec(), vec![0, 0, 1, 1, 0, 2]);
        // The rows of one source record move together, at their newest time.
        let mut joined = rows(&[10, 50], 0);
        joined.origin = Some(sluice_dataflow::Origins {
            partition: datafusion::arrow::array::Int32Array::from(vec![0, 0]),
            offset: Int64Array::from(vec![7, 7]),
        });
        let merged = merge_by_time(vec![vec![joined], vec![rows(&[20], 1)]]).unwrap();
        let times = merged[0]
            .data
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(times.values().to_vec(), vec![20, 10, 50]);
        // One task's rows pass as they are.
        let one = merge_by_time(vec![vec![rows(&[5, 1], 3)]]).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].num_rows(), 2);
    }

    #[test]
    fn lag_counts_unprocessed_records_per_partition() {
        let m = QueryMetrics::new(true);
        m.positions.lock().unwrap().insert(0, 7);
        let w = BTreeMap::from([(0, (0, 10)), (1, (2, 5))]);
        // partition 0: 10 - 7; partition 1 never read, from the beginning: 5 - 2
        assert_eq!(m.lag(&w), 6);
        let latest = QueryMetrics::new(false);
        assert_eq!(latest.lag(&w), 0);
        // a position below the low watermark (records deleted by retention) counts from low
        latest.positions.lock().unwrap().insert(1, 0);
        assert_eq!(latest.lag(&w), 3);
    }
}
