//! Flow control between the two tasks of a query split at a repartition topic (and between a
//! task re-keying a join input and the join reading its `-Join-*-repartition` topic).
//!
//! A broker that drops a partition's oldest records by size (the embedded mock cluster keeps
//! about 5 MiB or 100 000 records per partition, whether read or not) would lose the rows of a
//! first task that runs far ahead of the second, as it does when a query catches up on a
//! backlog. The first task records what it wrote to each partition ([`LeadGuard::wrote`]) and,
//! before writing more, waits while the second task's read position trails its writes by more
//! than half of what the broker keeps ([`LeadGuard::wait`]). Against a real cluster there is no
//! guard: the topic's retention keeps unread records.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::warn;

/// How long the first task waits for a second task that does not move before it writes anyway
/// (a stopped second task must not hang the first one; it is stopped with it).
const MAX_WAIT: Duration = Duration::from_secs(30);

/// The first task's unread writes per partition of its repartition topic.
pub struct LeadGuard {
    max_bytes: u64,
    max_records: u64,
    /// Per partition: (offset, bytes) of each record written and not yet known to be read,
    /// and the sum of those bytes.
    unread: BTreeMap<i32, (VecDeque<(i64, u64)>, u64)>,
    /// The task's stop signal: a stopping task does not wait for its reader.
    stop: Option<watch::Receiver<bool>>,
}

impl LeadGuard {
    /// A guard for a broker that keeps `(bytes, records)` per partition: the lead stays under
    /// half of each.
    pub fn new((bytes, records): (u64, u64)) -> Self {
        Self {
            max_bytes: bytes / 2,
            max_records: records / 2,
            unread: BTreeMap::new(),
            stop: None,
        }
    }

    /// Stop waiting once `stop` turns true (the query is stopping; its reader may be gone).
    pub fn stop_with(&mut self, stop: watch::Receiver<bool>) {
        self.stop = Some(stop);
    }

    /// Notes a record of `bytes` written at `offset` of `partition`.
    pub fn wrote(&mut self, partition: i32, offset: i64, bytes: u64) {
        let (records, total) = self.unread.entry(partition).or_default();
        records.push_back((offset, bytes));
        *total += bytes;
    }

    /// Forgets the records below the reader's positions (next offset to read per partition)
    /// and returns the largest remaining lead of a partition, in bytes and in records.
    fn lead(&mut self, read: &BTreeMap<i32, i64>) -> (u64, u64) {
        let mut most = (0, 0);
        for (p, (records, total)) in &mut self.unread {
            if let Some(&next) = read.get(p) {
                while let Some(&(_, bytes)) = records.front().filter(|&&(o, _)| o < next) {
                    records.pop_front();
                    *total -= bytes;
                }
            }
            most = (most.0.max(*total), most.1.max(records.len() as u64));
        }
        most
    }

    /// Whether the lead is within bounds, given the reader's positions.
    pub fn within(&mut self, read: &BTreeMap<i32, i64>) -> bool {
        let (bytes, records) = self.lead(read);
        bytes <= self.max_bytes && records <= self.max_records
    }

    /// Waits until the reader (whose positions `read` gives) is close enough behind.
    pub async fn wait(&mut self, query_id: &str, read: &Mutex<BTreeMap<i32, i64>>) {
        let started = Instant::now();
        loop {
            let positions = read.lock().expect("positions lock").clone();
            if self.within(&positions) || self.stop.as_ref().is_some_and(|s| *s.borrow()) {
                return;
            }
            if started.elapsed() > MAX_WAIT {
                warn!(
                    query_id,
                    waited_ms = started.elapsed().as_millis() as u64,
                    "the repartition topic's reader does not keep up; writing on"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lead_is_what_the_reader_has_not_read() {
        let mut g = LeadGuard::new((1000, 10));
        for o in 0..4 {
            g.wrote(0, o, 200);
        }
        g.wrote(1, 0, 100);
        // Nothing read yet: partition 0 leads by 800 bytes, over half of 1000.
        assert!(!g.within(&BTreeMap::new()));
        // The reader is at offset 2 of partition 0: 400 bytes ahead.
        assert!(g.within(&BTreeMap::from([(0, 2)])));
        for o in 4..10 {
            g.wrote(0, o, 1);
        }
        // 8 records unread, more than half of 10.
        assert!(!g.within(&BTreeMap::from([(0, 2)])));
        assert!(g.within(&BTreeMap::from([(0, 7)])));
    }
}
