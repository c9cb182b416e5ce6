//! Changelog records: how a store's committed batches are written to a compacted Kafka topic,
//! and how a store is rebuilt from that topic.
//!
//! Every [`WriteBatch`] a task commits is first written to its changelog partition as one
//! record per key write (key = the store key, value = the value, or a tombstone for a delete)
//! followed by one **commit marker**: key [`MARKER_KEY`], value the batch's positions. A store
//! rebuilt from the changelog applies the writes between two markers together with the later
//! marker's positions, and nothing after the last marker: a task that crashed in the middle of
//! writing a batch leaves writes without a marker, and those are discarded (their input is
//! read again from the marker's positions). The marker key sorts after every operator key
//! (operators use prefixes below `0xff`), so compaction keeps exactly the newest marker.
//!
//! Entry points: [`batch_records`] (what to produce for a batch) and [`Restorer`] (fold
//! changelog records back into batches to commit).

use crate::batch::{Positions, WriteBatch};
use crate::positions_codec;

/// Key of the commit marker record.
pub const MARKER_KEY: &[u8] = b"\xff\xffsluice/commit";

/// One changelog record: `(key, value)`; a `None` value is a tombstone.
pub type ChangelogRecord = (Vec<u8>, Option<Vec<u8>>);

/// The records that represent `batch` on the changelog: its writes in key order, then the
/// commit marker carrying its positions.
pub fn batch_records(batch: &WriteBatch) -> Vec<ChangelogRecord> {
    let mut out: Vec<ChangelogRecord> = batch
        .writes()
        .map(|(k, v)| (k.to_vec(), v.map(|v| v.to_vec())))
        .collect();
    out.push((
        MARKER_KEY.to_vec(),
        Some(positions_codec::encode(batch.positions())),
    ));
    out
}

/// Folds changelog records, in offset order, into the batches they were committed as.
#[derive(Debug, Default)]
pub struct Restorer {
    pending: WriteBatch,
    /// Writes seen after the last marker (discarded unless a marker follows).
    pending_records: usize,
}

impl Restorer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one record. Returns a complete batch (writes plus positions) when `key` is a commit
    /// marker; the caller commits it to the store. A marker whose value cannot be decoded is an
    /// error (the changelog is not ours or is damaged).
    pub fn push(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<Option<WriteBatch>, String> {
        if key == MARKER_KEY {
            let positions: Positions = positions_codec::decode(value.unwrap_or_default())?;
            let mut batch = std::mem::take(&mut self.pending);
            for ((topic, partition), offset) in positions {
                batch.set_position(topic, partition, offset);
            }
            self.pending_records = 0;
            return Ok(Some(batch));
        }
        match value {
            Some(v) => self.pending.put(key, v),
            None => self.pending.delete(key),
        };
        self.pending_records += 1;
        Ok(None)
    }

    /// Writes after the last marker, which a restore discards.
    pub fn incomplete(&self) -> usize {
        self.pending_records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_round_trips_through_its_records() {
        let mut b = WriteBatch::new();
        b.put("a", "1").delete("b").set_position("in", 0, 42);
        let mut r = Restorer::new();
        let mut out = Vec::new();
        for (k, v) in batch_records(&b) {
            if let Some(batch) = r.push(&k, v.as_deref()).unwrap() {
                out.push(batch);
            }
        }
        assert_eq!(out, vec![b]);
        assert_eq!(r.incomplete(), 0);
    }

    #[test]
    fn writes_after_the_last_marker_are_not_applied() {
        let mut b = WriteBatch::new();
        b.put("a", "1").set_position("in", 0, 1);
        let mut r = Restorer::new();
        let mut out = Vec::new();
        let mut records = batch_records(&b);
        records.push((b"a".to_vec(), Some(b"2".to_vec())));
        for (k, v) in records {
            if let Some(batch) = r.push(&k, v.as_deref()).unwrap() {
                out.push(batch);
            }
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].writes().next(), Some((&b"a"[..], Some(&b"1"[..]))));
        assert_eq!(r.incomplete(), 1);
    }

    #[test]
    fn a_damaged_marker_is_an_error() {
        let mut r = Restorer::new();
        assert!(r.push(MARKER_KEY, Some(b"\x09junk")).is_err());
    }

    #[test]
    fn the_marker_sorts_after_operator_keys() {
        assert!(MARKER_KEY > &[0xfe, 0xff, 0xff][..]);
    }
}
