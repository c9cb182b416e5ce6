//! Engine-only runs of a persistent query: its decoders, joins, operators, repartition step
//! and sink encoder, driven by records handed to it in memory (benchmarks).
//!
//! [`crate::Engine::offline_query`] builds an [`OfflineQuery`] from a sink that a `CREATE ...
//! AS SELECT` made: the statement is planned again against the current catalog and
//! instantiated with the same parts [`crate::queries::QueryTask`] runs, so the records go through
//! the engine's own code from the source decoder to the sink's bytes. What is left out is
//! everything around it: Kafka clients (no consumer, no producer, no group), the state store
//! (operator state stays in memory; no changelog, no sled commit) and the event-time
//! ordering of a join's inputs (records are processed in the order given, which must be
//! time order for joins).
//!
//! Not for serving queries: nothing here is durable.

use rdkafka::message::{Message, OwnedMessage};
use sluice_catalog::SourceDef;
use sluice_dataflow::repartition::{RepartitionDecoder, RepartitionEncoder};
use sluice_dataflow::sink::{OutRecord, SinkEncoder};
use sluice_dataflow::source::{RawRecord, SourceDecoder};
use sluice_dataflow::{Batch, Pipeline};
use sluice_planner::{PlanPart, QueryPlan};

use crate::error::{EngineError, Result};
use crate::io;
use crate::queries::{Decoder, JoinTask};

/// The second half of a query split at a repartition topic.
struct Repartition {
    encoder: RepartitionEncoder,
    decoder: RepartitionDecoder,
    back: Pipeline,
    /// Next offset per repartition partition.
    offsets: Vec<i64>,
}

/// A persistent query's processing, without Kafka or durable state.
pub struct OfflineQuery {
    topics: Vec<String>,
    decoder: Decoder,
    join: Option<JoinTask>,
    front: Pipeline,
    repartition: Option<Repartition>,
    encoder: SinkEncoder,
    sink_topic: String,
    skipped: u64,
}

impl OfflineQuery {
    pub(crate) fn new(
        plan: &QueryPlan,
        sink: &SourceDef,
        encoder: SinkEncoder,
        registry: Option<&std::sync::Arc<dyn sluice_registry::SchemaRegistry>>,
    ) -> Result<Self> {
        let part = if plan.repartition.is_some() {
            PlanPart::BeforeRepartition
        } else {
            PlanPart::Whole
        };
        let front = plan.pipeline_part(part)?;
        let repartition = match &plan.repartition {
            None => None,
            Some(r) => {
                let partitions = plan.source.partitions.max(1);
                Some(Repartition {
                    encoder: RepartitionEncoder::new(
                        r.key_exprs.clone(),
                        r.key_types.clone(),
                        partitions,
                    )?,
                    decoder: RepartitionDecoder::new(),
                    back: plan.pipeline_part(PlanPart::AfterRepartition)?,
                    offsets: vec![0; partitions as usize],
                })
            }
        };
        let join = if plan.joins.is_empty() {
            None
        } else {
            Some(JoinTask::new(
                plan,
                &plan.source,
                None,
                registry,
                &Default::default(),
                0..plan.joins.len(),
                false,
            )?)
        };
        let topics = match &join {
            Some(j) => j.topics().map(str::to_string).collect(),
            None => vec![plan.source.topic.clone()],
        };
        Ok(Self {
            topics,
            decoder: Decoder::Source(SourceDecoder::new(&plan.source, registry)?),
            join,
            front,
            repartition,
            encoder,
            sink_topic: sink.topic.clone(),
            skipped: 0,
        })
    }

    /// The topics it reads: the query's source first, then the sources it joins.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// The topic its sink records are for.
    pub fn sink_topic(&self) -> &str {
        &self.sink_topic
    }

    /// Records it could not decode so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Processes records of its topics, in the order given, and returns the sink records.
    pub fn process(&mut self, messages: &[OwnedMessage]) -> Result<Vec<OutRecord>> {
        let Self {
            topics,
            decoder,
            join,
            front,
            skipped,
            ..
        } = self;
        let mut count = |errors: &[sluice_dataflow::source::RecordError], _: &str| {
            *skipped += errors.len() as u64;
        };
        let batches = match join {
            None => {
                let raw = io::raw_records(messages, decoder.needs_headers());
                let (batch, errors) = decoder.decode(&raw)?;
                count(&errors, "");
                match batch {
                    Some(b) => front.process(b)?,
                    None => Vec::new(),
                }
            }
            Some(join) => {
                let sides: Vec<usize> = messages
                    .iter()
                    .map(|m| topics.iter().position(|t| t == m.topic()).unwrap_or(0))
                    .collect();
                join.process_runs(decoder, messages, &sides, count, |b| Ok(front.process(b)?))?
            }
        };
        let batches = match &mut self.repartition {
            None => batches,
            Some(r) => r.pass(batches, &mut self.skipped)?,
        };
        let mut out = Vec::new();
        for b in &batches {
            out.extend(self.encoder.encode(b)?);
        }
        Ok(out)
    }
}

impl Repartition {
    /// Through the repartition "topic" (encoded and decoded as Kafka would carry it) and the
    /// operators after it.
    fn pass(&mut self, batches: Vec<Batch>, skipped: &mut u64) -> Result<Vec<Batch>> {
        let mut out = Vec::new();
        for b in &batches {
            let records = self.encoder.encode(b)?;
            let raw: Vec<RawRecord<'_>> = records
                .iter()
                .map(|r| {
                    let offset = &mut self.offsets[r.partition as usize];
                    *offset += 1;
                    RawRecord {
                        partition: r.partition,
                        offset: *offset - 1,
                        timestamp: r.timestamp,
                        key: None,
                        value: Some(&r.value),
                        headers: Vec::new(),
                    }
                })
                .collect();
            let (batch, errors) = self.decoder.decode(&raw)?;
            *skipped += errors.len() as u64;
            if let Some(b) = batch {
                out.extend(self.back.process(b)?);
            }
        }
        Ok(out)
    }
}

/// The CREATE ... AS SELECT statement that writes `sink`.
pub(crate) fn writing_statement(sink: &SourceDef) -> Result<sluice_parser::CreateAsSelect> {
    if sink.is_source || sink.written_by.is_none() {
        return Err(EngineError::Invalid(format!(
            "{} is not written by a persistent query",
            sink.name
        )));
    }
    let mut statements = sluice_parser::parse(&sink.statement)?;
    match statements.pop().map(|s| s.statement) {
        Some(sluice_parser::Statement::CreateAsSelect(c)) if statements.is_empty() => Ok(c),
        _ => Err(EngineError::Invalid(format!(
            "{} was not created by CREATE ... AS SELECT",
            sink.name
        ))),
    }
}
