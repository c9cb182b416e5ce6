//! A persistent query task's state: its sled store, the changelog topic behind it, and the input
//! positions the state reflects.
//!
//! Commit protocol for one processed batch (see `docs/durability.md`):
//! 1. the batch's output records (of all its tasks) are produced and acknowledged;
//! 2. each task's operators' state changes and its input positions are gathered in a
//!    [`WriteBatch`] of the task's;
//! 3. its writes are produced to the changelog, followed by a commit marker carrying the
//!    positions ([`sluice_state::changelog`]), and acknowledged (each task's to its own
//!    partition, all tasks' handed to the producer before any is awaited);
//! 4. the batch (plus the changelog position after the marker) is committed to sled atomically
//!    (all tasks' in one sled transaction);
//! 5. the input positions are committed to the query's consumer group (asynchronously: a
//!    restart goes by the store's positions, and seeds the group with them).
//!
//! On start, [`TaskState::open`] brings the local store up to the changelog: a store that is
//! missing (new directory, or one thrown away as corrupt) or behind (sled loses the commits of
//! its last ~0.5 s when the process is killed) replays the changelog from its own changelog
//! position, batch by batch, up to the last complete marker. The task then skips input records
//! below the store's positions. Since steps 3–4 happen before step 5, the store's positions are
//! never behind the consumer group's, so no input is ever counted twice or missed.

use std::collections::BTreeMap;
use std::sync::Arc;

use rdkafka::producer::FutureRecord;
use sluice_kafka::{KafkaConfig, KafkaError, SluiceProducer, TopicAdmin, TopicReader};
use sluice_state::changelog::{batch_records, Restorer};
use sluice_state::{Positions, SledStore, StateStore, WriteBatch};
use tracing::{debug, info, warn};

use crate::error::{EngineError, Result};

/// The state of a query's tasks (of one part of a split query): one store, in which task `p`
/// (reading partition `p` of its inputs) keeps its operators' keys under [`task_prefix`]`(p)`
/// and writes its changes to partition `p` of the changelog, as a Kafka Streams task writes
/// its store's changelog partition. Input positions are per partition, so each task's are its
/// own; so is its changelog position. (Materialized rows are keyed by the result's key, which
/// belongs to one task.)
pub struct TaskState {
    store: SledStore,
    changelog: String,
    /// Partitions of the changelog: one per task.
    partitions: i32,
    admin: Arc<dyn TopicAdmin>,
    /// Whether the changelog topic is known to exist (created at the first write).
    changelog_ready: bool,
    producer: SluiceProducer,
    positions: Positions,
}

impl TaskState {
    /// Opens `store` for `partitions` tasks, catching it up from `changelog` when the topic
    /// holds batches the store has not seen (every partition from its own position).
    pub async fn open(
        store: SledStore,
        changelog: String,
        partitions: i32,
        kafka: &KafkaConfig,
        admin: Arc<dyn TopicAdmin>,
        producer: SluiceProducer,
    ) -> Result<Self> {
        let changelog_ready = restore(&store, &changelog, kafka).await?;
        let positions = store.positions().map_err(state_error)?;
        debug!(
            store = store.name(),
            ?positions,
            partitions,
            "task state opened"
        );
        Ok(Self {
            store,
            changelog,
            partitions: partitions.max(1),
            admin,
            changelog_ready,
            producer,
            positions,
        })
    }

    /// The store (operators get their prefixed views of it).
    pub fn store(&self) -> &SledStore {
        &self.store
    }

    /// The next input offset the state expects for `topic`/`partition`, if it has seen any.
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.positions.get(&(topic.to_string(), partition)).copied()
    }

    /// Input positions recorded in the state (excluding the changelog's own).
    pub fn input_positions(&self) -> BTreeMap<(String, i32), i64> {
        self.positions
            .iter()
            .filter(|((t, _), _)| *t != self.changelog)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Step 3 for the tasks of a batch: each task's batch (its writes and a commit marker) to
    /// its partition of the changelog (through the query's producer, so inside its transaction
    /// under exactly-once), all handed to the producer before any is awaited. Returns the
    /// tasks' batches as one for step 4 (their keys and positions are their own), with the
    /// changelog position after each task's marker.
    pub async fn write_changelogs(
        &mut self,
        batches: Vec<(i32, WriteBatch)>,
    ) -> Result<WriteBatch> {
        let mut pending = Vec::new();
        for (task, batch) in &batches {
            if batch.write_count() > 0 {
                if !self.changelog_ready {
                    self.create_changelog().await?;
                }
                let records =
                    enqueue_changelog(&self.producer, &self.changelog, *task, batch).await?;
                pending.push((*task, records));
            }
        }
        let mut all = WriteBatch::new();
        for (_, batch) in batches {
            all.absorb(batch);
        }
        let changelog = self.changelog.as_str();
        let landed =
            futures::future::join_all(pending.into_iter().map(|(task, records)| async move {
                (task, crate::io::await_deliveries(records, changelog).await)
            }))
            .await;
        for (task, next) in landed {
            all.set_position(self.changelog.clone(), task, next?);
        }
        Ok(all)
    }

    /// Creates the changelog with a partition per task; an existing one must have as many.
    async fn create_changelog(&mut self) -> Result<()> {
        // Compacted, as Kafka Streams' changelogs are: the newest value of each key (and the
        // newest commit marker) is all a restore needs.
        let config = [("cleanup.policy".to_string(), "compact".to_string())];
        match self
            .admin
            .create_topic(&self.changelog, self.partitions, -1, &config)
            .await
        {
            Ok(()) => {}
            Err(KafkaError::TopicAlreadyExists { .. }) => {
                let have = self
                    .admin
                    .describe_topic(&self.changelog)
                    .await?
                    .map(|t| t.partitions)
                    .unwrap_or(self.partitions);
                if have < self.partitions {
                    return Err(EngineError::Internal(format!(
                        "the changelog topic {} has {have} partitions, but the query runs {} \
                         tasks (one per input partition); the query's state cannot be kept",
                        self.changelog, self.partitions
                    )));
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.changelog_ready = true;
        Ok(())
    }

    /// Step 4: `batch` (state, input positions, changelog position) into sled, atomically.
    pub fn commit_local(&mut self, batch: WriteBatch) -> Result<()> {
        for (k, v) in batch.positions() {
            self.positions.insert(k.clone(), *v);
        }
        self.store.commit(batch).map_err(state_error)
    }
}

fn state_error(e: sluice_state::StateError) -> EngineError {
    EngineError::Internal(format!("state store: {e}"))
}

/// The prefix under which task `p` keeps its operators' keys in the query's store: `0x00`
/// (free in the operators' one-byte layout) and the partition.
pub fn task_prefix(p: i32) -> Vec<u8> {
    let mut prefix = vec![0x00];
    prefix.extend_from_slice(&p.to_be_bytes());
    prefix
}

/// Hands `batch`'s changelog records, in order, to the producer for `partition`; the offset
/// after the last delivery is the one after the marker.
async fn enqueue_changelog(
    producer: &SluiceProducer,
    topic: &str,
    partition: i32,
    batch: &WriteBatch,
) -> Result<Vec<rdkafka::producer::DeliveryFuture>> {
    let records = batch_records(batch);
    let mut pending = Vec::with_capacity(records.len());
    for (key, value) in &records {
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
            .partition(partition)
            .key(key.as_slice());
        if let Some(v) = value {
            rec = rec.payload(v.as_slice());
        }
        pending.push(crate::io::enqueue(producer, rec, topic).await?);
    }
    Ok(pending)
}

/// Replays the changelog into `store`, each partition from the store's position in it.
/// Returns whether the changelog topic exists.
async fn restore(store: &SledStore, changelog: &str, kafka: &KafkaConfig) -> Result<bool> {
    let positions: BTreeMap<i32, i64> = store
        .positions()
        .map_err(state_error)?
        .iter()
        .filter(|((topic, _), _)| topic == changelog)
        .map(|((_, p), next)| (*p, *next))
        .collect();
    let from = |p: i32| positions.get(&p).copied().unwrap_or(0);
    let mut reader = match TopicReader::open(kafka, changelog).await {
        Ok(r) => r,
        Err(KafkaError::UnknownTopic { .. }) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let mut behind = false;
    for (&p, &(_, high)) in reader.watermarks() {
        if high < from(p) {
            warn!(
                store = store.name(),
                changelog,
                partition = p,
                high,
                from = from(p),
                "the changelog is shorter than the local store; keeping the store"
            );
        }
        behind |= high > from(p);
    }
    if !behind {
        return Ok(true);
    }
    // Markers close batches per partition: one restorer each.
    let mut restorers: BTreeMap<i32, Restorer> = BTreeMap::new();
    let mut batches = 0u64;
    while let Some(records) = reader.next_batch().await? {
        for r in records {
            if r.offset < from(r.partition) {
                continue;
            }
            let batch = restorers
                .entry(r.partition)
                .or_default()
                .push(r.key.as_deref().unwrap_or_default(), r.value.as_deref())
                .map_err(|e| {
                    EngineError::Internal(format!(
                        "changelog {changelog} partition {} offset {}: {e}",
                        r.partition, r.offset
                    ))
                })?;
            if let Some(mut batch) = batch {
                batch.set_position(changelog.to_string(), r.partition, r.offset + 1);
                store.commit(batch).map_err(state_error)?;
                batches += 1;
            }
        }
    }
    store.flush().map_err(state_error)?;
    info!(
        store = store.name(),
        changelog,
        batches,
        discarded = restorers.values().map(Restorer::incomplete).sum::<usize>(),
        "restored state from the changelog"
    );
    Ok(true)
}
