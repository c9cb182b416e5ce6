//! The inputs of a join task, consumed in event-time order.
//!
//! A join task subscribes to the topics of all its sources. Which rows meet depends on the
//! order the inputs are processed in, so, as Kafka Streams does, the task processes records in
//! timestamp order across its inputs. Records are buffered per input *partition*; each
//! partition's records arrive in offset order, which is (nearly) timestamp order, so a
//! partition vouches for every time up to the newest record it has delivered, a partition
//! that has delivered nothing vouches for nothing, and one with nothing more to read (the
//! consumer's position is at its high watermark, as of its last fetches) and nothing waiting
//! holds nothing back. A record is released once every
//! assigned partition of every input vouches for its time. (A task of a query whose inputs are
//! co-partitioned reads partition `p` of each, as a Kafka Streams task does; a join that is
//! not co-partitioned runs as one task over all partitions, so the rule covers all of them:
//! going by an input's newest record alone would let a lagging partition's older records
//! arrive after newer ones of the other input.) A
//! partition that lags without delivering holds the others back for at most [`MAX_IDLE`]
//! (2 s). A partition the task reads that is not assigned to the consumer (held by another
//! member of the group, or by a killed process's member until its session expires) holds
//! everything back for as long as it is not: its records may be older than any waiting, and
//! a table's rows may be the partners they wait for. Ties go to tables first (so a table
//! update and a stream record with the same timestamp meet in the updated row), then to the
//! input that comes first in FROM. Each partition's records are released in arrival order
//! (prefixes of its buffer), so the positions committed after a batch never skip a record
//! still waiting; a record read again after a rebalance (at or below an offset already taken
//! in) is dropped.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use rdkafka::message::{Message, OwnedMessage};
use sluice_kafka::SluiceConsumer;

/// How long a lagging input may hold the others back.
pub const MAX_IDLE: Duration = Duration::from_secs(2);

/// The progress of the task that writes a re-keyed join input's repartition topic (in the same
/// process). An empty partition of that topic says nothing about records that task has not
/// written yet, so a partition of it vouches only for times the writing task has passed: its
/// `vouch` is the smallest newest time it has read over its own input partitions (each read
/// to its end counts as having passed every time), published once what it read is written.
/// The join counts a partition of the topic as read once it has read every offset written
/// there.
#[derive(Debug)]
pub struct Upstream {
    vouch: std::sync::atomic::AtomicI64,
    /// The offset after the last record written, per partition.
    written: std::sync::Mutex<BTreeMap<i32, i64>>,
    /// The next offset the join will process, per partition (what the writing task's
    /// [`crate::lead::LeadGuard`] waits on against a broker that drops unread records).
    pub processed: std::sync::Mutex<BTreeMap<i32, i64>>,
}

impl Default for Upstream {
    fn default() -> Self {
        Self {
            vouch: std::sync::atomic::AtomicI64::new(i64::MIN),
            written: std::sync::Mutex::new(BTreeMap::new()),
            processed: std::sync::Mutex::new(BTreeMap::new()),
        }
    }
}

impl Upstream {
    /// Records landed at these (partition, offset)s.
    pub fn wrote(&self, landed: &[(i32, i64)]) {
        let mut written = self.written.lock().expect("written lock");
        for &(p, o) in landed {
            let e = written.entry(p).or_insert(0);
            *e = (*e).max(o + 1);
        }
    }

    /// The join has processed these partitions up to (not including) these offsets.
    pub fn processed_to(&self, next: impl IntoIterator<Item = (i32, i64)>) {
        let mut processed = self.processed.lock().expect("processed lock");
        for (p, n) in next {
            let e = processed.entry(p).or_insert(n);
            *e = (*e).max(n);
        }
    }

    /// Every record the writing task will still write has a time of at least `time`.
    pub fn set_vouch(&self, time: i64) {
        self.vouch.store(time, std::sync::atomic::Ordering::Release);
    }

    fn vouch(&self) -> i64 {
        self.vouch.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether a reader at `position` of `partition` has read all that was written there.
    fn read_all(&self, partition: i32, position: Option<i64>) -> bool {
        position.unwrap_or(0)
            >= self
                .written
                .lock()
                .expect("written lock")
                .get(&partition)
                .copied()
                .unwrap_or(0)
    }
}

/// One input: its topic, whether it is a table, its waiting records per partition, and the
/// newest timestamp each partition has delivered.
struct Input {
    topic: String,
    table: bool,
    /// For an input read from its repartition topic: the task writing it.
    upstream: Option<std::sync::Arc<Upstream>>,
    buffers: BTreeMap<i32, VecDeque<OwnedMessage>>,
    newest: BTreeMap<i32, i64>,
    /// The highest offset taken in per partition: a record at or below it is one read again
    /// (after a rebalance, the consumer reads a partition again from its committed offset,
    /// and records still waiting here are behind that).
    taken: BTreeMap<i32, i64>,
    /// How many partitions the topic has, when known: a task over all partitions holds its
    /// records until it is assigned every one of them.
    partitions: Option<usize>,
}

impl Input {
    fn new(topic: String, table: bool) -> Self {
        Self {
            topic,
            table,
            upstream: None,
            buffers: BTreeMap::new(),
            newest: BTreeMap::new(),
            taken: BTreeMap::new(),
            partitions: None,
        }
    }

    /// Whether the consumer holds every partition of this input the task reads, given the
    /// assigned partitions (`only`: the task's partition, to which `progress` is narrowed).
    /// A partition another member (or a dead process's member, until its session expires)
    /// holds may deliver records older than any here, so nothing is released or vouched for
    /// meanwhile, however long: releasing by idling out would join rows without partners
    /// that are merely assigned elsewhere.
    fn assigned(&self, progress: Option<&[(i32, bool)]>, only: Option<i32>) -> bool {
        let Some(progress) = progress else {
            return false;
        };
        match only {
            Some(_) => !progress.is_empty(),
            None => progress.len() >= self.partitions.unwrap_or(1),
        }
    }

    /// The time up to which this input's records are all known to have arrived, given its
    /// assigned partitions and whether each is read to its end (`None`: not known at all).
    /// O(partitions): the newest delivered time is kept as records arrive.
    fn vouches_for(&self, progress: Option<&[(i32, bool)]>) -> Option<i64> {
        let progress = progress?;
        let mut bound = i64::MAX;
        let mut known = false;
        // A re-keyed input: its partitions vouch for no more than its writer has passed.
        let writer = self.upstream.as_ref().map_or(i64::MAX, |u| u.vouch());
        for &(p, done) in progress {
            known = true;
            let waiting = self.buffers.get(&p).is_some_and(|b| !b.is_empty());
            match self.newest.get(&p) {
                // Read to its end with nothing waiting: it holds nothing back.
                _ if done && !waiting => bound = bound.min(writer),
                Some(&t) => bound = bound.min(t.min(writer)),
                // Records written there and not read yet: known to come, so no idling out.
                None if self.upstream.is_some() => bound = i64::MIN,
                None => return None,
            }
        }
        // Records of partitions not (or no longer) assigned still wait in the buffers.
        for (p, b) in &self.buffers {
            if !b.is_empty() && !progress.iter().any(|(q, _)| q == p) {
                if let Some(&t) = self.newest.get(p) {
                    known = true;
                    bound = bound.min(t);
                }
            }
        }
        // Nothing assigned and nothing buffered: nothing is known.
        known.then_some(bound)
    }
}

/// Buffers of a join task's inputs (index = the source's position in FROM).
pub struct JoinInput {
    inputs: Vec<Input>,
    idle_since: Option<Instant>,
    /// The partition of every input this task reads (a query that runs a task per partition),
    /// or `None`: all of them.
    partition: Option<i32>,
}

/// The assigned partitions of `topic` (only `only`, if set), and whether each is read to its
/// end (for a repartition topic that `upstreams` write: whether all written there was read).
fn progress_of(
    consumer: &SluiceConsumer,
    upstreams: &[(String, std::sync::Arc<Upstream>)],
    only: Option<i32>,
    topic: &str,
) -> Option<Vec<(i32, bool)>> {
    let progress = match upstreams.iter().find(|(t, _)| t == topic) {
        None => sluice_kafka::assigned_progress(consumer, topic),
        Some((_, u)) => sluice_kafka::assigned_positions(consumer, topic).map(|ps| {
            ps.into_iter()
                .map(|(p, position)| (p, u.read_all(p, position)))
                .collect()
        }),
    };
    progress.map(|mut progress| {
        if let Some(p) = only {
            progress.retain(|(q, _)| *q == p);
        }
        progress
    })
}

fn ts(m: &OwnedMessage) -> i64 {
    crate::io::record_time(m).unwrap_or(0)
}

impl JoinInput {
    /// Inputs reading `topics` (topic, is a table), in FROM order.
    pub fn new(topics: Vec<(String, bool)>) -> Self {
        Self {
            inputs: topics
                .into_iter()
                .map(|(topic, table)| Input::new(topic, table))
                .collect(),
            idle_since: None,
            partition: None,
        }
    }

    /// Input `i` is read from a repartition topic that `upstream` writes.
    pub fn with_upstream(mut self, i: usize, upstream: std::sync::Arc<Upstream>) -> Self {
        self.inputs[i].upstream = Some(upstream);
        self
    }

    /// The same, for the task that reads partition `partition` of every input.
    pub fn for_partition(mut self, partition: Option<i32>) -> Self {
        self.partition = partition;
        self
    }

    /// The partition counts of the inputs' topics (those known): a task over all partitions
    /// (`for_partition(None)`) releases records only while it is assigned all of them.
    pub fn set_partition_counts(&mut self, counts: &BTreeMap<String, usize>) {
        for i in &mut self.inputs {
            i.partitions = counts.get(&i.topic).copied().or(i.partitions);
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

    /// Inputs reading the same topics (and repartition topics) as this one, with nothing
    /// buffered, over all partitions.
    pub fn empty_like(&self) -> Self {
        Self {
            inputs: self
                .inputs
                .iter()
                .map(|i| Input {
                    upstream: i.upstream.clone(),
                    partitions: i.partitions,
                    ..Input::new(i.topic.clone(), i.table)
                })
                .collect(),
            idle_since: None,
            partition: None,
        }
    }

    /// How far in time every input has passed: records released from now on, and what they
    /// produce, have times of at least this (`i64::MIN` while an input is not known at all).
    /// A join stage vouches with it for the rows it writes (see [`Upstream`]).
    pub fn passed(&self, consumer: &SluiceConsumer) -> i64 {
        let upstreams = self.upstreams();
        self.passed_with(|topic| progress_of(consumer, &upstreams, self.partition, topic))
    }

    /// [`JoinInput::passed`] with the progress of each topic answered by `progress` (as for
    /// [`JoinInput::ready_with`]).
    pub fn passed_with(&self, progress: impl Fn(&str) -> Option<Vec<(i32, bool)>>) -> i64 {
        let mut bound = i64::MAX;
        for input in &self.inputs {
            let progress = progress(&input.topic);
            if !input.assigned(progress.as_deref(), self.partition) {
                return i64::MIN;
            }
            match input.vouches_for(progress.as_deref()) {
                Some(b) => bound = bound.min(b),
                None => return i64::MIN,
            }
            for b in input.buffers.values() {
                if let Some(t) = b.iter().map(ts).min() {
                    bound = bound.min(t.saturating_sub(1));
                }
            }
        }
        bound
    }

    fn upstreams(&self) -> Vec<(String, std::sync::Arc<Upstream>)> {
        self.inputs
            .iter()
            .filter_map(|i| i.upstream.clone().map(|u| (i.topic.clone(), u)))
            .collect()
    }

    /// Buffers newly read records, dropping any read again (at or below an offset already
    /// taken in for its partition: after a rebalance the consumer reads each partition again
    /// from its committed offset, behind the records still waiting here).
    pub fn push(&mut self, messages: Vec<OwnedMessage>) {
        for m in messages {
            if let Some(i) = self.inputs.iter_mut().find(|i| i.topic == m.topic()) {
                let taken = i.taken.entry(m.partition()).or_insert(i64::MIN);
                if m.offset() <= *taken {
                    continue;
                }
                *taken = m.offset();
                let newest = i.newest.entry(m.partition()).or_insert(i64::MIN);
                *newest = (*newest).max(ts(&m));
                i.buffers.entry(m.partition()).or_default().push_back(m);
            }
        }
    }

    /// The records that can be processed now, in processing order, with their input's index.
    pub fn ready(&mut self, consumer: &SluiceConsumer) -> Vec<(usize, OwnedMessage)> {
        let only = self.partition;
        let upstreams = self.upstreams();
        self.ready_with(|topic| progress_of(consumer, &upstreams, only, topic))
    }

    /// [`JoinInput::ready`] with the assigned partitions of a topic, and whether each is read
    /// to its end, answered by `progress`.
    pub fn ready_with(
        &mut self,
        progress: impl Fn(&str) -> Option<Vec<(i32, bool)>>,
    ) -> Vec<(usize, OwnedMessage)> {
        if !self.is_waiting() {
            self.idle_since = None;
            return Vec::new();
        }
        // How far each input lets the others go.
        let mut limit = Some(i64::MAX);
        for input in &self.inputs {
            let progress = progress(&input.topic);
            if !input.assigned(progress.as_deref(), self.partition) {
                self.idle_since = None;
                return Vec::new();
            }
            let bound = input.vouches_for(progress.as_deref());
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
        // Each partition's releasable prefix, merged by time (ties: tables, then FROM order).
        let mut taken: Vec<(usize, VecDeque<OwnedMessage>)> = Vec::new();
        for (i, input) in self.inputs.iter_mut().enumerate() {
            for b in input.buffers.values_mut() {
                let n = b.iter().take_while(|m| ts(m) <= limit).count();
                if n > 0 {
                    taken.push((i, b.drain(..n).collect()));
                }
            }
            input.buffers.retain(|_, b| !b.is_empty());
        }
        let mut heads: BinaryHeap<Reverse<(i64, bool, usize, usize)>> = taken
            .iter()
            .enumerate()
            .filter_map(|(k, (i, q))| {
                q.front()
                    .map(|m| Reverse((ts(m), !self.inputs[*i].table, *i, k)))
            })
            .collect();
        let mut out = Vec::with_capacity(taken.iter().map(|(_, q)| q.len()).sum());
        while let Some(Reverse((_, _, i, k))) = heads.pop() {
            let m = taken[k].1.pop_front().expect("a head");
            out.push((i, m));
            if let Some(next) = taken[k].1.front() {
                heads.push(Reverse((ts(next), !self.inputs[i].table, i, k)));
            }
        }
        out
    }

    /// The time of the oldest record waiting in each partition of input `i`.
    pub fn oldest_waiting(&self, i: usize) -> BTreeMap<i32, i64> {
        self.inputs[i]
            .buffers
            .iter()
            .filter_map(|(p, b)| b.iter().map(ts).min().map(|t| (*p, t)))
            .collect()
    }

    /// Whether records are waiting.
    pub fn is_waiting(&self) -> bool {
        self.inputs
            .iter()
            .any(|i| i.buffers.values().any(|b| !b.is_empty()))
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

    #[test]
    fn merges_by_time_with_tables_first_on_ties() {
        let mut input = JoinInput::new(vec![("s".into(), false), ("t".into(), true)]);
        input.push(vec![
            msg("t", 0, 0),
            msg("s", 0, 10),
            msg("t", 1, 10),
            msg("s", 1, 15),
            msg("t", 2, 20),
        ]);
        // Both inputs have records: everything up to the smaller of their newest times (15).
        let progress = |_: &str| Some(vec![(0, false)]);
        let order: Vec<(usize, i64)> = input
            .ready_with(progress)
            .iter()
            .map(|(s, m)| (*s, ts(m)))
            .collect();
        assert_eq!(order, vec![(1, 0), (1, 10), (0, 10), (0, 15)]);
        // The table record at 20 waits: the stream input is empty and not known to be read.
        assert!(input.ready_with(progress).is_empty());
        assert!(input.is_waiting());
    }

    #[test]
    fn a_partition_assigned_elsewhere_holds_the_task_back_past_the_idle_time() {
        // The task of partition 1: its stream partition is assigned, its table partition is
        // held by another member. The stream row must not go out without its table partner,
        // however long that lasts (an unassigned partition does not idle out).
        let mut input =
            JoinInput::new(vec![("s".into(), false), ("t".into(), true)]).for_partition(Some(1));
        input.push(vec![msg_in("s", 1, 0, 50)]);
        let table_assigned = |yes: bool| {
            move |topic: &str| -> Option<Vec<(i32, bool)>> {
                Some(match (topic, yes) {
                    ("t", false) => vec![],
                    _ => vec![(1, true)],
                })
            }
        };
        assert!(input.ready_with(table_assigned(false)).is_empty());
        assert_eq!(input.passed_with(table_assigned(false)), i64::MIN);
        input.idle_since = Some(Instant::now() - MAX_IDLE * 2);
        assert!(input.ready_with(table_assigned(false)).is_empty());
        assert!(input.is_waiting());
        // Assigned: the table partition delivers its row, and they go in time order.
        input.push(vec![msg_in("t", 1, 0, 1)]);
        let mut order: Vec<(usize, i64)> = Vec::new();
        for _ in 0..2 {
            let ready = input.ready_with(table_assigned(true));
            order.extend(ready.iter().map(|(s, m)| (*s, ts(m))));
        }
        assert_eq!(order, vec![(1, 1), (0, 50)]);
    }

    #[test]
    fn a_task_over_all_partitions_waits_until_it_is_assigned_all_of_them() {
        let mut input = JoinInput::new(vec![("s".into(), false), ("t".into(), true)]);
        input.set_partition_counts(&BTreeMap::from([("s".into(), 2), ("t".into(), 2)]));
        input.push(vec![msg_in("s", 0, 0, 50), msg_in("t", 0, 0, 1)]);
        let assigned = |parts: Vec<i32>| {
            move |_: &str| -> Option<Vec<(i32, bool)>> {
                Some(parts.iter().map(|&p| (p, true)).collect())
            }
        };
        input.idle_since = Some(Instant::now() - MAX_IDLE * 2);
        assert!(input.ready_with(assigned(vec![0])).is_empty());
        assert_eq!(input.passed_with(assigned(vec![0])), i64::MIN);
        let mut released = input.ready_with(assigned(vec![0, 1])).len();
        released += input.ready_with(assigned(vec![0, 1])).len();
        assert_eq!(released, 2);
    }

    #[test]
    fn records_read_again_after_a_rebalance_are_dropped() {
        // Offsets 0..3 of partition 0 were taken in; 0 was released. A rebalance makes the
        // consumer read the partition again from its committed offset (1): 1 and 2 again,
        // then 3, which is new.
        let mut input = JoinInput::new(vec![("s".into(), false)]);
        input.push(vec![
            msg_in("s", 0, 0, 10),
            msg_in("s", 0, 1, 20),
            msg_in("s", 0, 2, 30),
        ]);
        let progress = |_: &str| Some(vec![(0, false)]);
        assert_eq!(input.ready_with(progress).len(), 3);
        input.push(vec![msg_in("s", 0, 3, 40)]);
        input.push(vec![
            msg_in("s", 0, 1, 20),
            msg_in("s", 0, 2, 30),
            msg_in("s", 0, 3, 40),
        ]);
        input.push(vec![msg_in("s", 0, 4, 50)]);
        let all = |_: &str| Some(vec![(0, true)]);
        let offsets: Vec<i64> = input
            .ready_with(all)
            .iter()
            .map(|(_, m)| m.offset())
            .collect();
        assert_eq!(offsets, vec![3, 4]);
    }

    fn msg_in(topic: &str, partition: i32, offset: i64, ts: i64) -> OwnedMessage {
        OwnedMessage::new(
            None,
            None,
            topic.to_string(),
            Timestamp::CreateTime(ts),
            partition,
            offset,
            None,
        )
    }

    #[test]
    fn a_stage_has_passed_what_every_partition_vouches_for_and_nothing_waiting() {
        // Two partitions of `s`, one of table `t`: partition 1 of `s` has delivered nothing
        // and is not read to its end, so nothing is known yet.
        let mut input = JoinInput::new(vec![("s".into(), false), ("t".into(), true)]);
        input.push(vec![msg_in("s", 0, 0, 30), msg_in("t", 0, 0, 20)]);
        let progress = |done: bool| {
            move |topic: &str| -> Option<Vec<(i32, bool)>> {
                Some(match topic {
                    "s" => vec![(0, false), (1, done)],
                    _ => vec![(0, false)],
                })
            }
        };
        assert_eq!(input.passed_with(progress(false)), i64::MIN);
        // Partition 1 read to its end: the table row at 20 still waits (what it leads to has
        // a time of 20 at least, and may come after another input's records at 20).
        assert_eq!(input.passed_with(progress(true)), 19);
        let released: Vec<i64> = input
            .ready_with(progress(true))
            .iter()
            .map(|(_, m)| ts(m))
            .collect();
        assert_eq!(released, vec![20]);
        // Released: the table's newest time bounds it (the stream record at 30 waits).
        assert_eq!(input.passed_with(progress(true)), 20);
        // A record released out of its partition's time order is still waiting behind a newer
        // one: it bounds what has been passed.
        input.push(vec![msg_in("t", 0, 1, 50), msg_in("s", 0, 1, 10)]);
        assert_eq!(input.passed_with(progress(true)), 9);
    }

    #[test]
    fn a_lagging_partition_holds_back_newer_records_of_the_other_input() {
        // Table `t` has two partitions; partition 1 has delivered nothing yet and is not read
        // to its end. The stream record at 50 must wait for it, even though partition 0 of `t`
        // already has a record at 100.
        let mut input = JoinInput::new(vec![("s".into(), false), ("t".into(), true)]);
        input.push(vec![msg_in("t", 0, 0, 100), msg_in("s", 0, 0, 50)]);
        let progress = |done1: bool| {
            move |topic: &str| -> Option<Vec<(i32, bool)>> {
                Some(match topic {
                    "t" => vec![(0, false), (1, done1)],
                    _ => vec![(0, false)],
                })
            }
        };
        assert!(input.ready_with(progress(false)).is_empty());
        // Partition 1 delivers a row at 40: it goes, but the stream record at 50 still waits
        // (partition 1's next row may be older than 50) until partition 1 is read to its end.
        input.push(vec![msg_in("t", 1, 0, 40)]);
        let order = |v: Vec<(usize, OwnedMessage)>| -> Vec<(usize, i64)> {
            v.iter().map(|(s, m)| (*s, ts(m))).collect()
        };
        assert_eq!(order(input.ready_with(progress(false))), vec![(1, 40)]);
        assert_eq!(order(input.ready_with(progress(true))), vec![(0, 50)]);
        // The table row at 100 waits for the stream, which has nothing buffered and is not
        // read to its end; once it is, the row goes.
        assert!(input.ready_with(progress(false)).is_empty());
        let all_done = |topic: &str| -> Option<Vec<(i32, bool)>> {
            Some(match topic {
                "t" => vec![(0, true), (1, true)],
                _ => vec![(0, true)],
            })
        };
        let order: Vec<(usize, i64)> = input
            .ready_with(all_done)
            .iter()
            .map(|(s, m)| (*s, ts(m)))
            .collect();
        assert_eq!(order, vec![(1, 100)]);
        assert!(!input.is_waiting());
    }

    #[test]
    fn partitions_release_prefixes_in_time_order() {
        let mut input = JoinInput::new(vec![("s".into(), false), ("t".into(), true)]);
        input.push(vec![
            msg_in("s", 0, 0, 10),
            msg_in("s", 1, 0, 5),
            msg_in("s", 1, 1, 30),
            msg_in("t", 0, 0, 5),
            msg_in("t", 0, 1, 20),
        ]);
        let all = |topic: &str| -> Option<Vec<(i32, bool)>> {
            Some(match topic {
                "s" => vec![(0, false), (1, false)],
                _ => vec![(0, false)],
            })
        };
        // s vouches up to min(10, 30) = 10, t up to 20: everything at or before 10 goes.
        let order: Vec<(usize, i32, i64)> = input
            .ready_with(all)
            .iter()
            .map(|(s, m)| (*s, m.partition(), ts(m)))
            .collect();
        assert_eq!(order, vec![(1, 0, 5), (0, 1, 5), (0, 0, 10)]);
        assert!(input.is_waiting());
    }

    #[test]
    fn one_input_merges_its_partitions_in_time_order_for_a_re_keying_task() {
        // A re-keying task's input, read partition by partition (60 arrives before 40 and
        // 45): its records are written in time order, and what still waits bounds its vouch.
        let mut input = JoinInput::new(vec![("s".into(), false)]);
        input.push(vec![
            msg_in("s", 0, 0, 60),
            msg_in("s", 1, 0, 45),
            msg_in("s", 1, 1, 70),
            msg_in("s", 2, 0, 40),
        ]);
        let reading = |topic: &str| -> Option<Vec<(i32, bool)>> {
            assert_eq!(topic, "s");
            Some(vec![(0, false), (1, false), (2, false)])
        };
        let times =
            |v: Vec<(usize, OwnedMessage)>| -> Vec<i64> { v.iter().map(|(_, m)| ts(m)).collect() };
        // Up to the oldest newest time over the partitions (40).
        assert_eq!(times(input.ready_with(reading)), vec![40]);
        assert_eq!(input.oldest_waiting(0), BTreeMap::from([(0, 60), (1, 45)]));
        // Partition 2 is read to its end: up to 60, in time order.
        let two_done =
            |_: &str| -> Option<Vec<(i32, bool)>> { Some(vec![(0, false), (1, false), (2, true)]) };
        assert_eq!(times(input.ready_with(two_done)), vec![45, 60]);
        assert_eq!(input.oldest_waiting(0), BTreeMap::from([(1, 70)]));
    }
}
