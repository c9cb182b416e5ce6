//! Running one variant against a fresh engine: its own embedded broker, its own engine, the
//! statements through [`Engine::execute`] (the entry point pgwire uses), the inputs written to
//! their topics, the outputs read back and compared, the post conditions checked.
//!
//! Query-validation tests (QTT) run every statement, then write the inputs. Rest-query tests
//! (RQTT) run the statements before the first `SELECT`, write the inputs (or, with
//! `waitForActivePushQuery`, wait until the push query runs), then run the queries and compare
//! each statement's response.
//!
//! Waiting is bounded: outputs are read until every expected record is there and the engine
//! is quiet, until every persistent query has consumed everything in its source topic and the
//! engine is quiet, until nothing at all happened for [`SILENCE`], or until the variant's
//! timeout. No wait depends on a test's name or content beyond the counts it expects.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use sluice_kafka::rdkafka::consumer::Consumer;
use sluice_kafka::rdkafka::message::{Headers, Message};
use sluice_kafka::rdkafka::{Offset, TopicPartitionList};
use sluice_kafka::{EmbeddedBroker, KafkaConfig, OffsetReset, SluiceConsumer, TopicAdmin};
use sluice_server::engine::{Engine, EngineDeps};
use sluice_server::{SessionProps, StatementResult};
use tracing::debug;

use crate::compare::{matches, matches_actual, Actual};
use crate::corpus::{Record, Variant, Window};
use crate::json::Json;
use crate::produce::{RawProducer, RawRecord};
use crate::records::{decode_key, decode_value, encode_key, encode_value, formats_for};

/// ksqlDB's test driver runs with this service id; query and internal topic names derive
/// from it.
pub const SERVICE_ID: &str = "some.ksql.service.id";
/// With nothing happening for this long (no record, no query progress), outputs are complete.
/// Longer than the embedded broker's consumer-group join delay (3 s).
pub const SILENCE: Duration = Duration::from_secs(4);
/// Once every persistent query consumed its whole source, how long to wait for stragglers.
const SETTLE: Duration = Duration::from_millis(250);
/// Once every expected record arrived, how long to wait for unexpected extra records.
const EXTRA: Duration = Duration::from_millis(1000);
/// How long `waitForActivePushQuery` waits before writing inputs: the push query's consumer
/// must have joined its group (the embedded broker delays a group's first join by 3 s).
const PUSH_WARMUP: Duration = Duration::from_millis(3500);

/// How the runner runs variants.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Upper bound on waiting for outputs or push-query rows, per wait.
    pub timeout: Duration,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            timeout: Duration::from_secs(12),
        }
    }
}

/// Pass, fail or skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// The result of one variant.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub file: String,
    pub test: String,
    pub format: Option<String>,
    pub status: Status,
    /// Why it failed or was skipped (one line); empty for passes.
    pub reason: String,
    /// Expected and actual side by side (shown with `--verbose`).
    pub details: Vec<String>,
    pub elapsed: Duration,
    /// The variant uses a schema-registry format (AVRO, PROTOBUF, PROTOBUF_NOSR, JSON_SR), by its
    /// `{FORMAT}` or in its statements: issue targets count only the other formats.
    pub schema_registry: bool,
}

impl Outcome {
    pub fn id(&self) -> String {
        crate::corpus::variant_id(&self.file, &self.test, self.format.as_deref())
    }
}

/// Why a variant failed.
#[derive(Debug)]
struct Failure {
    reason: String,
    details: Vec<String>,
}

fn fail(reason: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        details: Vec::new(),
    }
}

/// One line, at most `max` characters.
fn short(s: &str, max: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        format!("{}…", one.chars().take(max).collect::<String>())
    }
}

/// Runs one variant (or reports why it is skipped). Never panics, never hangs: the whole
/// variant is bounded by a multiple of the timeout.
pub async fn run_variant(v: &Variant, cfg: &RunConfig) -> Outcome {
    let started = Instant::now();
    let mut out = Outcome {
        file: v.file.clone(),
        test: v.test.clone(),
        format: v.format.clone(),
        status: Status::Pass,
        reason: String::new(),
        details: Vec::new(),
        elapsed: Duration::ZERO,
        schema_registry: v.uses_schema_registry(),
    };
    if let Some(why) = &v.skip {
        out.status = Status::Skip;
        out.reason = why.clone();
        return out;
    }
    let limit = cfg.timeout * 4 + Duration::from_secs(30);
    let result = match tokio::time::timeout(limit, run_isolated(v, cfg)).await {
        Ok(r) => r,
        Err(_) => Err(fail(format!(
            "the runner gave up after {} s",
            limit.as_secs()
        ))),
    };
    if let Err(f) = result {
        out.status = Status::Fail;
        out.reason = f.reason;
        out.details = f.details;
    }
    out.elapsed = started.elapsed();
    out
}

/// Sets up a broker and an engine, runs, and tears both down.
async fn run_isolated(v: &Variant, cfg: &RunConfig) -> Result<(), Failure> {
    let broker = tokio::task::spawn_blocking(|| EmbeddedBroker::start(1))
        .await
        .map_err(|e| fail(format!("setup: {e}")))?
        .map_err(|e| fail(format!("setup: embedded broker: {e}")))?;
    let result = async {
        let kafka =
            KafkaConfig::new(broker.bootstrap_servers()).with_client_id_prefix("conformance");
        let admin = sluice_kafka::embedded_admin(&broker)
            .map_err(|e| fail(format!("setup: topic admin: {e}")))?;
        for (topic, partitions) in crate::topics::topics_to_create(v) {
            match admin.create_topic(&topic, partitions, 1, &[]).await {
                Ok(()) | Err(sluice_kafka::KafkaError::TopicAlreadyExists { .. }) => {}
                Err(e) => return Err(fail(format!("setup: cannot create topic {topic}: {e}"))),
            }
        }
        let state_dir = tempfile::Builder::new()
            .prefix("sluice-conformance-")
            .tempdir()
            .map_err(|e| fail(format!("setup: state directory: {e}")))?;
        let state = sluice_state::SledDb::open(state_dir.path())
            .map_err(|e| fail(format!("setup: state store: {e}")))?;
        // The test's registry schemas, registered (with their ids when given) before the
        // statements run, as ksqlDB's harness does.
        let local = sluice_registry::LocalRegistry::in_memory();
        crate::topics::register_schemas(v, &local).map_err(|e| fail(format!("setup: {e}")))?;
        let registry: Arc<dyn sluice_registry::SchemaRegistry> = Arc::new(local);
        let engine = Engine::start(EngineDeps {
            service_id: SERVICE_ID.to_string(),
            kafka: kafka.clone(),
            admin: admin.clone(),
            state,
            registry: Some(registry.clone()),
        })
        .await
        .map_err(|e| fail(format!("setup: engine start: {e}")))?;
        let h = Harness {
            bootstrap: broker.bootstrap_servers().to_string(),
            kafka,
            admin,
            engine: engine.clone(),
            props: SessionProps::default(),
            cfg: cfg.clone(),
            registry: registry.clone(),
        };
        h.props.set("auto.offset.reset", "earliest");
        // ksqlDB's test harness runs without record caching: every change is emitted.
        h.props.set("cache.max.bytes.buffering", "0");
        for (k, val) in &v.properties {
            h.props.set(k, val);
        }
        let r = if v.rest {
            h.run_rest(v).await
        } else {
            h.run_qtt(v).await
        };
        engine.shutdown().await;
        drop(h);
        drop(engine);
        r
    }
    .await;
    // Dropping the broker joins its thread.
    let _ = tokio::task::spawn_blocking(move || drop(broker)).await;
    result
}

/// What a statement returned, as ksqlDB's REST API would show it.
#[derive(Debug)]
enum Response {
    Admin(String),
    Query {
        header: String,
        rows: Vec<Json>,
        final_message: Option<String>,
    },
}

/// A record read back from an output topic.
#[derive(Debug, Clone)]
struct Got {
    partition: i32,
    timestamp: Option<i64>,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

struct Harness {
    bootstrap: String,
    kafka: KafkaConfig,
    admin: Arc<dyn TopicAdmin>,
    engine: Arc<Engine>,
    props: SessionProps,
    cfg: RunConfig,
    registry: Arc<dyn sluice_registry::SchemaRegistry>,
}

impl Harness {
    async fn run_qtt(&self, v: &Variant) -> Result<(), Failure> {
        for (i, s) in v.statements.iter().enumerate() {
            if let Err(e) = self.engine.execute(&self.props, s).await {
                return statement_error(v, i, &e.to_string());
            }
        }
        if let Some(m) = &v.expected_error {
            return Err(expected_error_missing(m));
        }
        self.produce_inputs(v).await?;
        self.verify_outputs(v).await?;
        self.check_post(v).await
    }

    async fn run_rest(&self, v: &Variant) -> Result<(), Failure> {
        let first_query = v
            .statements
            .iter()
            .position(|s| s.trim_start().to_uppercase().starts_with("SELECT"))
            .unwrap_or(v.statements.len());
        let mut responses = Vec::new();
        for (i, s) in v.statements[..first_query].iter().enumerate() {
            match self.engine.execute(&self.props, s).await {
                Ok(results) => {
                    // ksqlDB's REST API answers INSERT ... VALUES with no entity.
                    if is_insert_values(s) {
                        continue;
                    }
                    for r in results {
                        responses.push(self.response(r, None, None).await);
                    }
                }
                Err(e) => return statement_error(v, i, &e.to_string()),
            }
        }
        let mut produced = false;
        if !v.wait_for_push_query {
            self.produce_inputs(v).await?;
            produced = true;
            // ksqlDB's harness lets materializations catch up before the pull queries run.
            let group = format!("conformance-pull-{}", std::process::id());
            if let Ok(reader) = self.kafka.consumer(&group, OffsetReset::Earliest) {
                self.wait_for_queries(&Arc::new(reader)).await;
            }
        }
        for (i, s) in v.statements.iter().enumerate().skip(first_query) {
            let results = match self.engine.execute(&self.props, s).await {
                Ok(r) => r,
                Err(e) => return statement_error(v, i, &e.to_string()),
            };
            let want_rows = v
                .responses
                .as_ref()
                .and_then(|r| r.get(i))
                .map(expected_row_count);
            let limit = pull_limit(s);
            for r in results {
                let is_push = matches!(r, StatementResult::Push { .. });
                if is_push && !produced {
                    produced = true;
                    let (resp, prod) =
                        futures::join!(self.response(r, want_rows, Some(Instant::now())), async {
                            tokio::time::sleep(PUSH_WARMUP).await;
                            self.produce_inputs(v).await
                        });
                    prod?;
                    responses.push(resp);
                } else {
                    let mut resp = self.response(r, want_rows, None).await;
                    // ksqlDB's REST API ends a pull query whose rows reached its LIMIT with
                    // "Limit Reached"; pgwire has no such message, so the runner translates.
                    if let (
                        Response::Query {
                            rows,
                            final_message,
                            ..
                        },
                        Some(n),
                    ) = (&mut resp, limit)
                    {
                        if rows.len() as u64 == n {
                            *final_message = Some("Limit Reached".into());
                        }
                    }
                    responses.push(resp);
                }
            }
        }
        if let Some(m) = &v.expected_error {
            return Err(expected_error_missing(m));
        }
        if !produced {
            self.produce_inputs(v).await?;
        }
        if let Some(expected) = &v.responses {
            compare_responses(expected, &responses, v.verify_order)?;
        }
        self.verify_outputs(v).await?;
        self.check_post(v).await
    }

    /// A statement's response; push queries are read until they end, until `want_rows` rows
    /// arrived and a moment passed, or until the timeout.
    async fn response(
        &self,
        r: StatementResult,
        want_rows: Option<usize>,
        started: Option<Instant>,
    ) -> Response {
        match r {
            StatementResult::Command { .. } => Response::Admin("currentStatus".into()),
            StatementResult::Rows {
                schema, batches, ..
            } => Response::Query {
                header: crate::rows::header_schema(&schema),
                rows: crate::rows::rows(&batches),
                final_message: Some("Query Completed".into()),
            },
            StatementResult::Push { schema, mut stream } => {
                // Rows are awaited from when the inputs are written (after the warm-up when
                // the query waits for them), until the query ends, until the expected rows
                // arrived and a moment passed, or until no row came for a silence.
                let start = match started {
                    Some(t) => t + PUSH_WARMUP,
                    None => Instant::now(),
                };
                let deadline = start + self.cfg.timeout;
                let mut rows = Vec::new();
                let mut final_message = None;
                let mut enough_at: Option<Instant> = None;
                let mut last_row = start;
                loop {
                    let now = Instant::now();
                    let until = match enough_at {
                        Some(t) => (t + EXTRA).min(deadline),
                        None => (last_row + SILENCE.min(self.cfg.timeout)).min(deadline),
                    };
                    if now >= until {
                        break;
                    }
                    match tokio::time::timeout(until - now, stream.next()).await {
                        Ok(Some(Ok(batch))) => {
                            last_row = Instant::now();
                            rows.extend(crate::rows::rows(&[batch]));
                            if want_rows.is_some_and(|w| rows.len() >= w) && enough_at.is_none() {
                                enough_at = Some(Instant::now());
                            }
                        }
                        Ok(Some(Err(e))) => {
                            final_message = Some(format!("error: {e}"));
                            break;
                        }
                        Ok(None) => {
                            final_message = Some("Limit Reached".into());
                            break;
                        }
                        Err(_) => break,
                    }
                }
                Response::Query {
                    header: crate::rows::header_schema(&schema),
                    rows,
                    final_message,
                }
            }
        }
    }

    /// Writes every input record, in order, with its formats, timestamp (0 when not given),
    /// partition (0 when not given) and headers.
    async fn produce_inputs(&self, v: &Variant) -> Result<(), Failure> {
        if v.inputs.is_empty() {
            return Ok(());
        }
        let catalog = self.engine.catalog();
        let mut producer = RawProducer::connect(&self.bootstrap)
            .await
            .map_err(|e| fail(format!("inputs: {e}")))?;
        // Only made when the inputs switch topics (it reads the topics' watermarks).
        let mut reader: Option<Arc<SluiceConsumer>> = None;
        for (i, r) in v.inputs.iter().enumerate() {
            // ksqlDB's test driver processes each input completely before the next. Records of
            // one topic keep their order through Kafka; before switching to another topic, wait
            // until the queries consumed what was written, so that outputs of queries reading
            // different topics keep the inputs' order too.
            if i > 0 && v.inputs[i - 1].topic != r.topic {
                if reader.is_none() {
                    let group = format!("conformance-inputs-{}", std::process::id());
                    reader = self
                        .kafka
                        .consumer(&group, OffsetReset::Earliest)
                        .ok()
                        .map(Arc::new);
                }
                if let Some(reader) = &reader {
                    self.wait_for_queries(reader).await;
                }
            }
            let f = formats_for(&catalog, &r.topic, false, Some(&self.registry));
            let key =
                encode_key(f.as_ref(), r).map_err(|e| fail(format!("input {}: {e}", i + 1)))?;
            let value =
                encode_value(f.as_ref(), r).map_err(|e| fail(format!("input {}: {e}", i + 1)))?;
            let raw = RawRecord {
                topic: r.topic.clone(),
                partition: r.partition.unwrap_or(0),
                timestamp: r.timestamp.unwrap_or(0),
                key,
                value,
                headers: r.headers.clone().unwrap_or_default(),
            };
            producer
                .send(&raw)
                .await
                .map_err(|e| fail(format!("input {}: {e}", i + 1)))?;
        }
        Ok(())
    }

    /// Waits (bounded by the timeout) until every persistent query consumed its source.
    async fn wait_for_queries(&self, reader: &Arc<SluiceConsumer>) {
        if self.engine.queries().is_empty() {
            return;
        }
        let deadline = Instant::now() + self.cfg.timeout;
        while Instant::now() < deadline {
            if self.caught_up(reader, &BTreeMap::new()).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        debug!("inputs: queries did not catch up before the next topic");
    }

    async fn verify_outputs(&self, v: &Variant) -> Result<(), Failure> {
        let mut by_topic: Vec<(String, Vec<&Record>)> = Vec::new();
        for r in &v.outputs {
            match by_topic.iter_mut().find(|(t, _)| *t == r.topic) {
                Some((_, list)) => list.push(r),
                None => by_topic.push((r.topic.clone(), vec![r])),
            }
        }
        if by_topic.is_empty() {
            return Ok(());
        }
        let counts: BTreeMap<String, usize> =
            by_topic.iter().map(|(t, l)| (t.clone(), l.len())).collect();
        let got = self.collect_outputs(&counts).await?;
        let catalog = self.engine.catalog();
        let ran_with_inserts = v.inputs.is_empty();
        for (topic, expected) in &by_topic {
            let formats = formats_for(&catalog, topic, true, Some(&self.registry));
            let actual: Vec<Decoded> = got
                .get(topic)
                .map(|l| l.iter().map(|g| decode(formats.as_ref(), g)).collect())
                .unwrap_or_default();
            compare_topic(topic, expected, &actual, ran_with_inserts)?;
        }
        Ok(())
    }

    /// Reads the output topics from the beginning until the outputs are complete (see the
    /// module docs).
    async fn collect_outputs(
        &self,
        counts: &BTreeMap<String, usize>,
    ) -> Result<BTreeMap<String, Vec<Got>>, Failure> {
        let group = format!("conformance-reader-{}", std::process::id());
        let consumer: Arc<SluiceConsumer> = Arc::new(
            self.kafka
                .consumer(&group, OffsetReset::Earliest)
                .map_err(|e| fail(format!("outputs: {e}")))?,
        );
        let mut tpl = TopicPartitionList::new();
        for topic in counts.keys() {
            let info = self
                .admin
                .describe_topic(topic)
                .await
                .map_err(|e| fail(format!("outputs: {e}")))?;
            for p in 0..info.map(|i| i.partitions).unwrap_or(0) {
                tpl.add_partition_offset(topic, p, Offset::Beginning)
                    .map_err(|e| fail(format!("outputs: {e}")))?;
            }
        }
        let mut got: BTreeMap<String, Vec<Got>> = BTreeMap::new();
        // Next offset to read, per output partition.
        let mut positions: BTreeMap<(String, i32), i64> = tpl
            .elements()
            .iter()
            .map(|e| ((e.topic().to_string(), e.partition()), 0))
            .collect();
        if tpl.count() == 0 {
            return Ok(got);
        }
        consumer
            .assign(&tpl)
            .map_err(|e| fail(format!("outputs: {e}")))?;
        let start = Instant::now();
        let deadline = start + self.cfg.timeout;
        let mut last_change = start;
        let mut last_progress: Option<(usize, u64)> = None;
        let mut next_check = start;
        loop {
            match tokio::time::timeout(Duration::from_millis(20), consumer.recv()).await {
                Ok(Ok(m)) => {
                    let headers = m
                        .headers()
                        .map(|hs| {
                            hs.iter()
                                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default();
                    positions.insert((m.topic().to_string(), m.partition()), m.offset() + 1);
                    got.entry(m.topic().to_string()).or_default().push(Got {
                        partition: m.partition(),
                        timestamp: m.timestamp().to_millis(),
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().map(<[u8]>::to_vec),
                        headers,
                    });
                    last_change = Instant::now();
                    continue;
                }
                Ok(Err(e)) => debug!(error = %e, "output read error"),
                Err(_) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if now < next_check {
                continue;
            }
            next_check = now + Duration::from_millis(100);
            let queries = self.engine.queries();
            let progress: u64 = queries
                .iter()
                .map(|q| {
                    q.metrics.records_in.load(Ordering::Relaxed)
                        + q.metrics.records_out.load(Ordering::Relaxed)
                        + q.metrics.records_skipped.load(Ordering::Relaxed)
                })
                .sum();
            let sig = (queries.len(), progress);
            if last_progress != Some(sig) {
                last_progress = Some(sig);
                last_change = now;
            }
            let quiet = now - last_change;
            let all_expected = counts
                .iter()
                .all(|(t, n)| got.get(t).map_or(0, Vec::len) >= *n);
            let stop = if all_expected && quiet >= EXTRA {
                Some("every expected record arrived")
            } else if quiet >= SETTLE && self.caught_up(&consumer, &positions).await {
                Some("every query consumed its source")
            } else if quiet >= SILENCE.min(self.cfg.timeout) {
                Some("silence")
            } else {
                None
            };
            if let Some(why) = stop {
                debug!(
                    why,
                    waited_ms = start.elapsed().as_millis() as u64,
                    "outputs complete"
                );
                return Ok(got);
            }
        }
        debug!(
            waited_ms = start.elapsed().as_millis() as u64,
            "outputs: timeout"
        );
        Ok(got)
    }

    /// Whether every persistent query has consumed every record of its source topic, and the
    /// runner every record of the output topics (`positions`: next offset per partition).
    async fn caught_up(
        &self,
        reader: &Arc<SluiceConsumer>,
        positions: &BTreeMap<(String, i32), i64>,
    ) -> bool {
        let catalog = self.engine.catalog();
        let mut wanted = Vec::new();
        for q in self.engine.queries() {
            let metrics = q.metrics;
            let sources = query_sources(&q.statement);
            if sources.is_empty() {
                return false;
            }
            for source in sources {
                let Some(def) = catalog.source(&source) else {
                    return false;
                };
                let partitions = match self.admin.describe_topic(&def.topic).await {
                    Ok(Some(info)) => info.partitions,
                    _ => return false,
                };
                let consumed = metrics
                    .consumed
                    .lock()
                    .ok()
                    .and_then(|c| c.get(&def.topic).copied())
                    .unwrap_or(0);
                wanted.push((def.topic.clone(), partitions, consumed));
            }
            // A split query has caught up when its tasks have read its internal topics.
            for topic in metrics.internal.keys() {
                match sluice_kafka::topic_watermarks(&self.kafka, topic).await {
                    Ok(w) if metrics.internal_lag(topic, &w) == 0 => {}
                    _ => return false,
                }
            }
        }
        let reader = reader.clone();
        let positions = positions.clone();
        tokio::task::spawn_blocking(move || {
            // Queries first: what they consumed is already in the outputs checked next.
            let queries_done = wanted.iter().all(|(topic, partitions, consumed)| {
                let mut total: i64 = 0;
                for p in 0..*partitions {
                    match reader.fetch_watermarks(topic, p, Duration::from_secs(2)) {
                        Ok((low, high)) => total += high - low,
                        Err(_) => return false,
                    }
                }
                *consumed as i64 >= total
            });
            queries_done
                && positions.iter().all(|((topic, p), next)| {
                    matches!(
                        reader.fetch_watermarks(topic, *p, Duration::from_secs(2)),
                        Ok((_, high)) if *next >= high
                    )
                })
        })
        .await
        .unwrap_or(false)
    }

    async fn check_post(&self, v: &Variant) -> Result<(), Failure> {
        let Some(post) = &v.post else {
            return Ok(());
        };
        let harness_partitions = v.topics.iter().all(|t| t.partitions.is_none())
            && !v
                .statements
                .iter()
                .any(|s| s.to_ascii_uppercase().contains("PARTITIONS"));
        crate::post::check(
            post,
            &self.engine.catalog(),
            self.admin.as_ref(),
            self.registry.as_ref(),
            harness_partitions,
        )
        .await
        .map_err(fail)
    }
}

fn is_insert_values(statement: &str) -> bool {
    matches!(
        sluice_parser::parse(statement)
            .ok()
            .and_then(|p| p.into_iter().next()),
        Some(sluice_parser::ParsedStatement {
            statement: sluice_parser::Statement::InsertValues { .. },
            ..
        })
    )
}

/// The source a persistent query reads, from its statement text.
/// Every source in the FROM clause of a persistent query's statement (joins included).
fn query_sources(statement: &str) -> Vec<String> {
    use sluice_parser::sql::ast::{SetExpr, TableFactor};
    let Some(parsed) = sluice_parser::parse(statement)
        .ok()
        .and_then(|p| p.into_iter().next())
    else {
        return Vec::new();
    };
    let query = match parsed.statement {
        sluice_parser::Statement::CreateAsSelect(c) => c.query,
        sluice_parser::Statement::InsertInto { query, .. } => query,
        _ => return Vec::new(),
    };
    let SetExpr::Select(select) = query.query.body.as_ref() else {
        return Vec::new();
    };
    let name = |t: &TableFactor| match t {
        TableFactor::Table { name, .. } => {
            Some(name.to_string().trim_matches('"').replace("\"\"", "\""))
        }
        _ => None,
    };
    let mut out = Vec::new();
    for twj in &select.from {
        out.extend(name(&twj.relation));
        for j in &twj.joins {
            out.extend(name(&j.relation));
        }
    }
    out
}

fn statement_error(v: &Variant, index: usize, error: &str) -> Result<(), Failure> {
    match &v.expected_error {
        Some(m) if error.contains(m.as_str()) => Ok(()),
        Some(m) => Err(Failure {
            reason: format!(
                "statement {} failed with \"{}\", but the test expects an error containing \"{}\"",
                index + 1,
                short(error, 160),
                short(m, 160)
            ),
            details: vec![
                format!("expected error containing: {m}"),
                format!("actual error: {error}"),
            ],
        }),
        None => Err(Failure {
            reason: format!("statement {} failed: {}", index + 1, short(error, 200)),
            details: vec![
                format!("statement: {}", v.statements[index]),
                format!("error: {error}"),
            ],
        }),
    }
}

fn expected_error_missing(message: &str) -> Failure {
    fail(format!(
        "expected an error containing \"{}\", but every statement succeeded",
        short(message, 160)
    ))
}

/// The LIMIT of a pull query (a query without EMIT), if it has one.
fn pull_limit(statement: &str) -> Option<u64> {
    match sluice_parser::parse_one(statement).ok()?.statement {
        sluice_parser::Statement::Query(q) if q.emit.is_none() => q.limit,
        _ => None,
    }
}

/// Number of `row` messages in an expected `{"query": [...]}` response.
fn expected_row_count(r: &Json) -> usize {
    r.get("query")
        .and_then(Json::as_array)
        .map(|msgs| msgs.iter().filter(|m| m.get("row").is_some()).count())
        .unwrap_or(0)
}

/// Compares RQTT responses. Query rows are compared in order when `verify_order`, otherwise as
/// a multiset (each expected row matched by one actual row), as ksqlDB's harness does unless a
/// test sets `outputConditions.verifyOrder`.
fn compare_responses(
    expected: &[Json],
    actual: &[Response],
    verify_order: bool,
) -> Result<(), Failure> {
    let details: Vec<String> = expected
        .iter()
        .zip(actual.iter().map(Some).chain(std::iter::repeat(None)))
        .enumerate()
        .map(|(i, (e, a))| format!("response {}: expected {e} | actual {a:?}", i + 1))
        .collect();
    let with = |reason: String| Failure {
        reason,
        details: details.clone(),
    };
    if expected.len() != actual.len() {
        return Err(with(format!(
            "expected {} statement responses, got {}",
            expected.len(),
            actual.len()
        )));
    }
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        let n = i + 1;
        if let Some(admin) = e.get("admin") {
            let want = admin.get("@type").and_then(Json::as_str).unwrap_or("");
            match a {
                Response::Admin(t) if t == want => {}
                other => {
                    return Err(with(format!(
                        "response {n}: expected an admin response {want}, got {}",
                        describe_response(other)
                    )))
                }
            }
        } else if let Some(msgs) = e.get("query").and_then(Json::as_array) {
            let Response::Query {
                header,
                rows,
                final_message,
            } = a
            else {
                return Err(with(format!(
                    "response {n}: expected query results, got {}",
                    describe_response(a)
                )));
            };
            let want_header = msgs
                .iter()
                .find_map(|m| m.get("header"))
                .and_then(|h| h.get("schema"))
                .and_then(Json::as_str);
            if let Some(h) = want_header {
                if h != header {
                    return Err(with(format!(
                        "response {n}: expected header {h}, got {header}"
                    )));
                }
            }
            let want_rows: Vec<&Json> = msgs
                .iter()
                .filter_map(|m| m.get("row"))
                .map(|r| r.get("columns").unwrap_or(&Json::Null))
                .collect();
            if !verify_order && rows.len() == want_rows.len() {
                let mut used = vec![false; rows.len()];
                for (j, w) in want_rows.iter().enumerate() {
                    match (0..rows.len()).find(|k| !used[*k] && matches(w, &rows[*k])) {
                        Some(k) => used[k] = true,
                        None => {
                            return Err(with(format!(
                                "response {n}, row {}: expected {w}, which no returned row matches (rows: {})",
                                j + 1,
                                rows.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
                            )))
                        }
                    }
                }
            }
            for (j, w) in want_rows.iter().enumerate() {
                if !verify_order && rows.len() == want_rows.len() {
                    break; // matched as a multiset above
                }
                match rows.get(j) {
                    Some(got) if matches(w, got) => {}
                    Some(got) => {
                        return Err(with(format!(
                            "response {n}, row {}: expected {w}, got {got}",
                            j + 1
                        )))
                    }
                    None => {
                        return Err(with(format!(
                            "response {n}: expected {} rows, got {}",
                            want_rows.len(),
                            rows.len()
                        )))
                    }
                }
            }
            if rows.len() > want_rows.len() {
                return Err(with(format!(
                    "response {n}: expected {} rows, got {} (first extra: {})",
                    want_rows.len(),
                    rows.len(),
                    rows[want_rows.len()]
                )));
            }
            let want_final = msgs
                .iter()
                .find_map(|m| m.get("finalMessage"))
                .and_then(Json::as_str);
            if let Some(f) = want_final {
                if final_message.as_deref() != Some(f) {
                    return Err(with(format!(
                        "response {n}: expected final message \"{f}\", got {}",
                        final_message
                            .as_deref()
                            .map(|m| format!("\"{m}\""))
                            .unwrap_or_else(|| "none (the query did not end)".into())
                    )));
                }
            }
        }
    }
    Ok(())
}

fn describe_response(r: &Response) -> String {
    match r {
        Response::Admin(t) => format!("an admin response {t}"),
        Response::Query { rows, .. } => format!("query results ({} rows)", rows.len()),
    }
}

/// An output record, decoded with the formats of the source that writes its topic.
#[derive(Debug, Clone)]
struct Decoded {
    partition: i32,
    timestamp: Option<i64>,
    key: Actual,
    window: Option<Window>,
    value: Actual,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn decode(f: Option<&crate::records::TopicFormats>, g: &Got) -> Decoded {
    let (key, window) = decode_key(f, g.key.as_deref());
    Decoded {
        partition: g.partition,
        timestamp: g.timestamp,
        key,
        window,
        value: decode_value(f, g.value.as_deref()),
        headers: g.headers.clone(),
    }
}

fn show_expected(r: &Record) -> String {
    let mut s = format!("<{}, {}>", r.key, r.value);
    if let Some(t) = r.timestamp {
        s.push_str(&format!(" ts={t}"));
    }
    if let Some(w) = &r.window {
        s.push_str(&format!(" window={}[{},{})", w.kind, w.start, w.end));
    }
    if let Some(h) = &r.headers {
        if !h.is_empty() {
            s.push_str(&format!(" headers={}", show_headers(h)));
        }
    }
    s
}

fn show_actual(d: &Decoded) -> String {
    let mut s = format!("<{}, {}>", d.key, d.value);
    if let Some(t) = d.timestamp {
        s.push_str(&format!(" ts={t}"));
    }
    if let Some(w) = &d.window {
        s.push_str(&format!(" window={}[{},{})", w.kind, w.start, w.end));
    }
    if !d.headers.is_empty() {
        s.push_str(&format!(" headers={}", show_headers(&d.headers)));
    }
    s
}

fn show_headers(h: &[(String, Option<Vec<u8>>)]) -> String {
    let parts: Vec<String> = h
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={}", crate::base64::encode(v)),
            None => format!("{k}=null"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Whether an actual record matches an expected one; `None` if it does, else what differs.
fn record_mismatch(e: &Record, a: &Decoded, _ran_with_inserts: bool) -> Option<&'static str> {
    match (&e.window, &a.window) {
        (Some(ew), Some(aw)) if ew != aw => return Some("window"),
        (Some(_), None) => return Some("window (the key is not windowed)"),
        (None, Some(_)) => return Some("window (the key is windowed)"),
        _ => {}
    }
    if !matches_actual(&e.key, &a.key) {
        return Some("key");
    }
    if !matches_actual(&e.value, &a.value) {
        return Some("value");
    }
    let want_headers = e.headers.clone().unwrap_or_default();
    if want_headers != a.headers {
        return Some("headers");
    }
    if let Some(ts) = e.timestamp {
        // librdkafka stamps a record produced with timestamp 0 with the current time, so an
        // output whose event time is 0 cannot carry it: expected 0 is not compared.
        if ts != 0 && a.timestamp != Some(ts) {
            return Some("timestamp");
        }
    }
    None
}

/// Compares a topic's records in order (per partition when the topic has several: records of
/// different partitions may interleave in any order).
fn compare_topic(
    topic: &str,
    expected: &[&Record],
    actual: &[Decoded],
    ran_with_inserts: bool,
) -> Result<(), Failure> {
    let mut details = vec![format!("topic {topic}:")];
    let rows = expected.len().max(actual.len());
    for i in 0..rows {
        details.push(format!(
            "  #{:<3} expected {:<60} | actual {}",
            i + 1,
            expected
                .get(i)
                .map(|r| show_expected(r))
                .unwrap_or_else(|| "-".into()),
            actual.get(i).map(show_actual).unwrap_or_else(|| "-".into())
        ));
    }
    let with = |reason: String| Failure {
        reason,
        details: details.clone(),
    };
    // Per-partition queues of actual records.
    let mut partitions: BTreeMap<i32, std::collections::VecDeque<&Decoded>> = BTreeMap::new();
    for a in actual {
        partitions.entry(a.partition).or_default().push_back(a);
    }
    let single = partitions.len() <= 1;
    for (i, e) in expected.iter().enumerate() {
        let heads: Vec<(i32, &Decoded)> = partitions
            .iter()
            .filter_map(|(p, q)| q.front().map(|a| (*p, *a)))
            .collect();
        if heads.is_empty() {
            return Err(with(format!(
                "topic {topic}: expected {} records, got {}; missing #{}: {}",
                expected.len(),
                actual.len(),
                i + 1,
                short(&show_expected(e), 200)
            )));
        }
        match heads
            .iter()
            .find(|(_, a)| record_mismatch(e, a, ran_with_inserts).is_none())
        {
            Some((p, _)) => {
                partitions.get_mut(p).expect("partition").pop_front();
            }
            None => {
                let a = heads[0].1;
                let what = record_mismatch(e, a, ran_with_inserts).unwrap_or("record");
                let count = if expected.len() == actual.len() {
                    String::new()
                } else {
                    format!(
                        " (expected {} records, got {})",
                        expected.len(),
                        actual.len()
                    )
                };
                let at = if single {
                    format!("record #{}", i + 1)
                } else {
                    format!("record #{} (no partition's next record matches)", i + 1)
                };
                return Err(with(format!(
                    "topic {topic}, {at}: {what} differs{count}: expected {}, got {}",
                    short(&show_expected(e), 150),
                    short(&show_actual(a), 150)
                )));
            }
        }
    }
    let extra: Vec<&Decoded> = partitions.values().flatten().copied().collect();
    if let Some(first) = extra.first() {
        return Err(with(format!(
            "topic {topic}: expected {} records, got {}; first extra: {}",
            expected.len(),
            actual.len(),
            short(&show_actual(first), 200)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_lenient;

    fn rec(key: &str, value: &str, ts: Option<i64>) -> Record {
        Record {
            topic: "t".into(),
            key: parse_lenient(key).unwrap(),
            value: parse_lenient(value).unwrap(),
            timestamp: ts,
            partition: None,
            window: None,
            headers: None,
        }
    }

    fn got(partition: i32, key: Actual, value: &str, ts: i64) -> Decoded {
        Decoded {
            partition,
            timestamp: Some(ts),
            key,
            window: None,
            value: Actual::Json(parse_lenient(value).unwrap()),
            headers: vec![],
        }
    }

    #[test]
    fn topic_comparison_reports_first_difference() {
        let e1 = rec("1", r#"{"A": 1}"#, Some(10));
        let e2 = rec("2", r#"{"A": 2}"#, None);
        let ok = [
            got(0, Actual::Int(1), r#"{"A":1}"#, 10),
            got(0, Actual::Int(2), r#"{"A":2}"#, 99),
        ];
        assert!(compare_topic("t", &[&e1, &e2], &ok, false).is_ok());

        let bad_ts = [got(0, Actual::Int(1), r#"{"A":1}"#, 11), ok[1].clone()];
        let f = compare_topic("t", &[&e1, &e2], &bad_ts, false).unwrap_err();
        assert!(
            f.reason.contains("record #1: timestamp differs"),
            "{}",
            f.reason
        );

        let f = compare_topic("t", &[&e1, &e2], &ok[..1], false).unwrap_err();
        assert!(
            f.reason.contains("expected 2 records, got 1"),
            "{}",
            f.reason
        );

        let extra = [ok[0].clone(), ok[1].clone(), ok[1].clone()];
        let f = compare_topic("t", &[&e1, &e2], &extra, false).unwrap_err();
        assert!(f.reason.contains("first extra"), "{}", f.reason);
        assert!(f.details.len() > 3);
    }

    #[test]
    fn partitions_may_interleave_but_keep_their_order() {
        let e1 = rec("1", "{}", None);
        let e2 = rec("2", "{}", None);
        let a = [
            got(1, Actual::Int(2), "{}", 0),
            got(0, Actual::Int(1), "{}", 0),
        ];
        assert!(compare_topic("t", &[&e1, &e2], &a, false).is_ok());
        let same_partition = [
            got(0, Actual::Int(2), "{}", 0),
            got(0, Actual::Int(1), "{}", 0),
        ];
        assert!(compare_topic("t", &[&e1, &e2], &same_partition, false).is_err());
    }

    #[test]
    fn zero_timestamps_are_not_checked_but_others_are() {
        // librdkafka cannot produce timestamp 0: an expected 0 is not compared.
        let e = rec("1", "{}", Some(0));
        let a = [got(0, Actual::Int(1), "{}", 12345)];
        assert!(compare_topic("t", &[&e], &a, false).is_ok());
        let e = rec("1", "{}", Some(7));
        assert!(compare_topic("t", &[&e], &a, false).is_err());
        let a = [got(0, Actual::Int(1), "{}", 7)];
        assert!(compare_topic("t", &[&e], &a, false).is_ok());
    }

    #[test]
    fn expected_errors_are_substrings() {
        let mut v = crate::corpus::Variant {
            file: "f".into(),
            test: "t".into(),
            format: None,
            rest: false,
            statements: vec!["CREATE X;".into()],
            inputs: vec![],
            outputs: vec![],
            topics: vec![],
            properties: vec![],
            expected_error: Some("does not exist".into()),
            post: None,
            responses: None,
            wait_for_push_query: false,
            verify_order: false,
            skip: None,
        };
        assert!(statement_error(&v, 0, "Source X does not exist.").is_ok());
        let f = statement_error(&v, 0, "syntax error").unwrap_err();
        assert!(
            f.reason.contains("expects an error containing"),
            "{}",
            f.reason
        );
        v.expected_error = None;
        let f = statement_error(&v, 0, "syntax error").unwrap_err();
        assert_eq!(f.reason, "statement 1 failed: syntax error");
    }

    #[test]
    fn insert_values_is_recognised() {
        assert!(is_insert_values("INSERT INTO T (A) VALUES (1);"));
        assert!(!is_insert_values("INSERT INTO T SELECT * FROM S;"));
    }

    #[test]
    fn query_sources_come_from_the_from_clause() {
        assert_eq!(
            query_sources("CREATE STREAM O AS SELECT * FROM input_s WHERE A > 1;"),
            vec!["INPUT_S"]
        );
        assert_eq!(
            query_sources("INSERT INTO O SELECT * FROM `Mixed`;"),
            vec!["Mixed"]
        );
        assert_eq!(
            query_sources("CREATE STREAM S (A INT) WITH (kafka_topic='t');"),
            Vec::<String>::new()
        );
        assert_eq!(
            query_sources(
                "CREATE STREAM O AS SELECT * FROM a JOIN b WITHIN 1 SECOND ON a.x = b.x;"
            ),
            vec!["A", "B"]
        );
    }

    #[test]
    fn responses_compare_headers_rows_and_final_message() {
        let expected = vec![
            parse_lenient(r#"{"admin": {"@type": "currentStatus"}}"#).unwrap(),
            parse_lenient(
                r#"{"query": [{"header": {"schema": "`A` INTEGER"}}, {"row": {"columns": [1]}},
                   {"finalMessage": "Limit Reached"}]}"#,
            )
            .unwrap(),
        ];
        let actual = vec![
            Response::Admin("currentStatus".into()),
            Response::Query {
                header: "`A` INTEGER".into(),
                rows: vec![parse_lenient("[1]").unwrap()],
                final_message: Some("Limit Reached".into()),
            },
        ];
        assert!(compare_responses(&expected, &actual, true).is_ok());
        // Out of order: fine unless the test asks for order.
        let two = |a: &str, b: &str| {
            vec![
                Response::Admin("currentStatus".into()),
                Response::Query {
                    header: "`A` INTEGER".into(),
                    rows: vec![parse_lenient(a).unwrap(), parse_lenient(b).unwrap()],
                    final_message: Some("Limit Reached".into()),
                },
            ]
        };
        let expected_two = vec![
            expected[0].clone(),
            parse_lenient(r#"{"query": [{"row": {"columns": [1]}}, {"row": {"columns": [2]}}]}"#)
                .unwrap(),
        ];
        assert!(compare_responses(&expected_two, &two("[2]", "[1]"), false).is_ok());
        assert!(compare_responses(&expected_two, &two("[2]", "[1]"), true).is_err());
        assert!(compare_responses(&expected_two, &two("[1]", "[1]"), false).is_err());
        let actual2 = vec![
            Response::Admin("currentStatus".into()),
            Response::Query {
                header: "`A` INTEGER".into(),
                rows: vec![parse_lenient("[2]").unwrap()],
                final_message: None,
            },
        ];
        let f = compare_responses(&expected, &actual2, true).unwrap_err();
        assert!(
            f.reason.contains("row 1: expected [1], got [2]"),
            "{}",
            f.reason
        );
        assert_eq!(expected_row_count(&expected[1]), 1);
    }
}
