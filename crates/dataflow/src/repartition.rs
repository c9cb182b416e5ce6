//! Repartition topics: moving rows to the task that owns their key.
//!
//! A query whose stateful step (an aggregation today, joins later) is keyed differently from its
//! source runs as two tasks joined by an internal topic, as Kafka Streams runs it: the first
//! task evaluates the new key of every row and writes the row to the partition that key hashes
//! to ([`RepartitionEncoder`]); the second reads that topic, so every key is processed by
//! exactly one task, whatever server it runs on ([`RepartitionDecoder`]).
//!
//! Record format (internal: only Sluice reads it). One Kafka record carries the rows of one
//! processed batch that go to one partition, as an Arrow IPC stream: the rows' columns, then
//! `__change` (the [`ChangeKind`] of each row), `__origin_partition` and `__origin_offset`
//! (the source record each row derives from, [`crate::Origins`]). The rows derived from one
//! source record never straddle two Kafka records. The record timestamp is the largest ROWTIME
//! of its rows.
//!
//! Exactly-once state over at-least-once delivery: after a crash, the first task may write the
//! rows of some source records again. The decoder keeps, per repartition partition and source
//! partition, the largest source offset it has applied, commits it with the second task's state
//! ([`RepartitionDecoder::checkpoint`]), and drops rows it has applied before. Source records
//! reach a repartition partition in offset order, so this drops exactly the repeats.
//!
//! Partitioning: Kafka's murmur2 over the key columns in Arrow's row format, so the same key
//! always lands in the same partition.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Int32Array, Int64Array, Int8Array, UInt32Array,
};
use datafusion::arrow::compute::{concat_batches, filter_record_batch, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;
use sluice_state::{StateStore, WriteBatch};

use crate::source::{RawRecord, RecordError};
use crate::{Batch, ChangeKind, DataflowError};

const CHANGE: &str = "__change";
const ORIGIN_PARTITION: &str = "__origin_partition";
const ORIGIN_OFFSET: &str = "__origin_offset";

/// Key prefix of the decoder's applied offsets in the task's store (operators use
/// `0x01..0xf0`, materialized rows `0xf0`).
pub const APPLIED_PREFIX: u8 = 0xf1;

/// Records are kept well under Kafka's default 1 MB message size.
const MAX_RECORD_BYTES: usize = 512 * 1024;

/// Kafka's murmur2 (the Java client's default partitioner hash).
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let len = data.len();
    let mut h: u32 = 0x9747_b28c ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() == 3 {
        h ^= (rest[2] as u32) << 16;
    }
    if rest.len() >= 2 {
        h ^= (rest[1] as u32) << 8;
    }
    if !rest.is_empty() {
        h ^= rest[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's partition for a murmur2 hash.
pub fn partition_for(hash: i32, partitions: i32) -> i32 {
    (hash & 0x7fff_ffff) % partitions.max(1)
}

/// One record for the repartition topic.
#[derive(Debug, Clone)]
pub struct RepartitionRecord {
    pub partition: i32,
    /// Largest ROWTIME of the rows (ms), if they have one.
    pub timestamp: Option<i64>,
    pub value: Vec<u8>,
}

/// Writes batches to a repartition topic, by key.
pub struct RepartitionEncoder {
    key_exprs: Vec<Arc<dyn PhysicalExpr>>,
    converter: RowConverter,
    partitions: i32,
    max_record_bytes: usize,
}

impl RepartitionEncoder {
    /// Rows are placed by the values of `key_exprs` (of types `key_types`) among `partitions`
    /// partitions.
    pub fn new(
        key_exprs: Vec<Arc<dyn PhysicalExpr>>,
        key_types: Vec<DataType>,
        partitions: i32,
    ) -> Result<Self, DataflowError> {
        Ok(Self {
            key_exprs,
            converter: RowConverter::new(key_types.into_iter().map(SortField::new).collect())?,
            partitions: partitions.max(1),
            max_record_bytes: MAX_RECORD_BYTES,
        })
    }

    /// The partition count rows are spread over.
    pub fn partitions(&self) -> i32 {
        self.partitions
    }

    /// The records for one processed batch: one per partition that gets rows (more when they
    /// would be too large), partitions in ascending order.
    pub fn encode(&self, batch: &Batch) -> Result<Vec<RepartitionRecord>, DataflowError> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(Vec::new());
        }
        let keys = self
            .key_exprs
            .iter()
            .map(|e| e.evaluate(&batch.data).and_then(|v| v.into_array(n)))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = self.converter.convert_columns(&keys)?;
        let places: Vec<i32> = (0..n)
            .map(|i| partition_for(murmur2(rows.row(i).as_ref()), self.partitions))
            .collect();
        self.encode_placed(batch, &places, false)
    }

    /// The records for one processed batch whose rows go to partitions `places` (one per row,
    /// below [`RepartitionEncoder::partitions`]). With `by_time`, a record holds rows of one
    /// event time only (a run of them, in row order; but the rows of one source record stay
    /// together), so a reader ordering records by their timestamps orders the rows too (a
    /// join's re-keyed intermediate rows, see `sluice_planner::join::JoinStage`).
    pub fn encode_placed(
        &self,
        batch: &Batch,
        places: &[i32],
        by_time: bool,
    ) -> Result<Vec<RepartitionRecord>, DataflowError> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(Vec::new());
        }
        let origin = batch.origin.as_ref().ok_or_else(|| {
            DataflowError::Plan("rows for a repartition topic must know their origin".into())
        })?;
        let mut by_partition: Vec<Vec<u32>> = vec![Vec::new(); self.partitions as usize];
        for (i, p) in places.iter().enumerate() {
            let p = (*p).clamp(0, self.partitions - 1);
            by_partition[p as usize].push(i as u32);
        }
        // The whole batch with its hidden columns, then one slice of it per partition.
        let changes: ArrayRef = Arc::new(match &batch.changes {
            Some(c) => c.clone(),
            None => Int8Array::from(vec![ChangeKind::Insert as i8; n]),
        });
        let mut fields: Vec<Field> = batch
            .data
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(CHANGE, DataType::Int8, true));
        fields.push(Field::new(ORIGIN_PARTITION, DataType::Int32, false));
        fields.push(Field::new(ORIGIN_OFFSET, DataType::Int64, false));
        let mut columns = batch.data.columns().to_vec();
        columns.push(changes);
        columns.push(Arc::new(origin.partition.clone()));
        columns.push(Arc::new(origin.offset.clone()));
        let full = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;

        let mut out = Vec::new();
        for (p, indices) in by_partition.into_iter().enumerate() {
            if indices.is_empty() {
                continue;
            }
            let indices = UInt32Array::from(indices);
            let columns = full
                .columns()
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<Result<Vec<_>, _>>()?;
            let part = RecordBatch::try_new(full.schema(), columns)?;
            if by_time {
                for (start, len) in time_runs(&part) {
                    self.encode_part(p as i32, &part.slice(start, len), &mut out)?;
                }
            } else {
                self.encode_part(p as i32, &part, &mut out)?;
            }
        }
        Ok(out)
    }

    /// One record for `part`, or several when it is too large (split between source records).
    fn encode_part(
        &self,
        partition: i32,
        part: &RecordBatch,
        out: &mut Vec<RepartitionRecord>,
    ) -> Result<(), DataflowError> {
        let value = ipc_bytes(part)?;
        if value.len() > self.max_record_bytes && part.num_rows() > 1 {
            if let Some(at) = split_point(part) {
                self.encode_part(partition, &part.slice(0, at), out)?;
                return self.encode_part(partition, &part.slice(at, part.num_rows() - at), out);
            }
        }
        let timestamp = crate::batch::event_time_index(part.schema_ref())
            .and_then(|i| part.column(i).as_any().downcast_ref::<Int64Array>())
            .and_then(|t| t.iter().flatten().max());
        out.push(RepartitionRecord {
            partition,
            timestamp,
            value,
        });
        Ok(())
    }
}

/// The runs of rows of `part` to write as records of one event time, as (start, length), in
/// row order: a run ends where the time changes, unless the source record stays the same (the
/// rows of one source record are never split, see the module docs; such a record is stamped
/// with its newest time). The whole part when it has no event time column.
fn time_runs(part: &RecordBatch) -> Vec<(usize, usize)> {
    let n = part.num_rows();
    let columns = (
        crate::batch::event_time_index(part.schema_ref())
            .and_then(|i| part.column(i).as_any().downcast_ref::<Int64Array>()),
        part.column_by_name(ORIGIN_PARTITION)
            .and_then(|c| c.as_any().downcast_ref::<Int32Array>()),
        part.column_by_name(ORIGIN_OFFSET)
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>()),
    );
    let (Some(t), Some(p), Some(o)) = columns else {
        return vec![(0, n)];
    };
    let time = |i: usize| t.is_valid(i).then(|| t.value(i));
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        let ends = i == n
            || (time(i) != time(i - 1)
                && (p.value(i) != p.value(i - 1) || o.value(i) != o.value(i - 1)));
        if ends {
            runs.push((start, i - start));
            start = i;
        }
    }
    runs
}

/// A row index near the middle of `part` where the source record changes, if any.
fn split_point(part: &RecordBatch) -> Option<usize> {
    let p = part
        .column_by_name(ORIGIN_PARTITION)?
        .as_any()
        .downcast_ref::<Int32Array>()?;
    let o = part
        .column_by_name(ORIGIN_OFFSET)?
        .as_any()
        .downcast_ref::<Int64Array>()?;
    let n = part.num_rows();
    let differs = |i: usize| p.value(i) != p.value(i - 1) || o.value(i) != o.value(i - 1);
    let mid = n / 2;
    (mid.max(1)..n)
        .find(|&i| differs(i))
        .or_else(|| (1..mid.max(1)).rev().find(|&i| differs(i)))
}

fn ipc_bytes(batch: &RecordBatch) -> Result<Vec<u8>, DataflowError> {
    let mut buf = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut buf, &batch.schema())?;
        w.write(batch)?;
        w.finish()?;
    }
    Ok(buf)
}

/// Reads a repartition topic back into batches of the rows' original columns, dropping rows
/// applied before (see the module docs).
pub struct RepartitionDecoder {
    /// The rows' schema, from the first record read (every record of a topic has the same).
    schema: Option<SchemaRef>,
    /// (repartition partition, source partition) → largest source offset applied.
    applied: HashMap<(i32, i32), i64>,
    dirty: HashSet<(i32, i32)>,
    /// Whether decoded rows name their repartition record as their origin.
    origins: bool,
}

impl Default for RepartitionDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl RepartitionDecoder {
    pub fn new() -> Self {
        Self {
            schema: None,
            applied: HashMap::new(),
            dirty: HashSet::new(),
            origins: false,
        }
    }

    /// Decoded rows name the repartition record they came from (partition and offset in the
    /// repartition topic) as their origin, for a task that writes them to another repartition
    /// topic in turn (a join stage after another): the records it reads are its own source
    /// records, which it reads in offset order, so the next decoder drops exactly the repeats.
    pub fn with_origins(mut self) -> Self {
        self.origins = true;
        self
    }

    /// Reads back the applied offsets committed in `store`.
    pub fn open(&mut self, store: &dyn StateStore) -> Result<(), DataflowError> {
        self.applied.clear();
        self.dirty.clear();
        for entry in store.scan_prefix(&[APPLIED_PREFIX])? {
            let (k, v) = entry?;
            if k.len() != 9 || v.len() != 8 {
                return Err(DataflowError::StateFormat(
                    "bad repartition offset entry".into(),
                ));
            }
            let via = i32::from_be_bytes(k[1..5].try_into().expect("4 bytes"));
            let partition = i32::from_be_bytes(k[5..9].try_into().expect("4 bytes"));
            let offset = i64::from_be_bytes(v[..8].try_into().expect("8 bytes"));
            self.applied.insert((via, partition), offset);
        }
        Ok(())
    }

    /// Adds the offsets applied since the last checkpoint to `batch`.
    pub fn checkpoint(&mut self, batch: &mut WriteBatch) {
        for (via, partition) in self.dirty.drain() {
            let offset = self.applied[&(via, partition)];
            let mut key = vec![APPLIED_PREFIX];
            key.extend_from_slice(&via.to_be_bytes());
            key.extend_from_slice(&partition.to_be_bytes());
            batch.put(key, offset.to_be_bytes().to_vec());
        }
    }

    /// Decodes `records` (read from the repartition topic, in order per partition). A record
    /// that cannot be read is skipped and reported.
    pub fn decode(
        &mut self,
        records: &[RawRecord<'_>],
    ) -> Result<(Option<Batch>, Vec<RecordError>), DataflowError> {
        let mut errors = Vec::new();
        let mut parts: Vec<RecordBatch> = Vec::new();
        let mut kinds: Vec<Int8Array> = Vec::new();
        let (mut origin_partitions, mut origin_offsets) = (Vec::new(), Vec::new());
        for r in records {
            match self.decode_one(r) {
                Ok(Some((data, changes))) => {
                    if self.origins {
                        let n = data.num_rows();
                        origin_partitions.extend(std::iter::repeat_n(r.partition, n));
                        origin_offsets.extend(std::iter::repeat_n(r.offset, n));
                    }
                    parts.push(data);
                    kinds.push(changes);
                }
                Ok(None) => {}
                Err(reason) => errors.push(RecordError {
                    partition: r.partition,
                    offset: r.offset,
                    reason,
                }),
            }
        }
        if parts.is_empty() {
            return Ok((None, errors));
        }
        let data = concat_batches(&parts[0].schema(), &parts)?;
        let all_inserts = kinds
            .iter()
            .all(|k| k.values().iter().all(|v| *v == ChangeKind::Insert as i8));
        let changes = if all_inserts {
            None
        } else {
            let refs: Vec<&dyn Array> = kinds.iter().map(|k| k as &dyn Array).collect();
            Some(
                datafusion::arrow::compute::concat(&refs)?
                    .as_any()
                    .downcast_ref::<Int8Array>()
                    .cloned()
                    .ok_or_else(|| DataflowError::Plan("bad change column".into()))?,
            )
        };
        let origin = self.origins.then(|| crate::Origins {
            partition: Int32Array::from(origin_partitions),
            offset: Int64Array::from(origin_offsets),
        });
        Ok((
            Some(Batch {
                data,
                changes,
                origin,
            }),
            errors,
        ))
    }

    /// One record's rows not applied before, or why the record cannot be read.
    fn decode_one(
        &mut self,
        r: &RawRecord<'_>,
    ) -> Result<Option<(RecordBatch, Int8Array)>, String> {
        let value = r
            .value
            .ok_or_else(|| "repartition record without a value".to_string())?;
        let reader = StreamReader::try_new(value, None).map_err(|e| e.to_string())?;
        let mut out: Option<(RecordBatch, Int8Array)> = None;
        for batch in reader {
            let batch = batch.map_err(|e| e.to_string())?;
            let n = batch.num_rows();
            let width = batch.num_columns();
            if width < 3 || batch.schema().field(width - 1).name() != ORIGIN_OFFSET {
                return Err("not a repartition record".into());
            }
            let col = |i: usize| batch.column(width - 3 + i).clone();
            let changes = col(0)
                .as_any()
                .downcast_ref::<Int8Array>()
                .cloned()
                .ok_or("bad change column")?;
            let partitions = col(1)
                .as_any()
                .downcast_ref::<Int32Array>()
                .cloned()
                .ok_or("bad origin partition column")?;
            let offsets = col(2)
                .as_any()
                .downcast_ref::<Int64Array>()
                .cloned()
                .ok_or("bad origin offset column")?;
            // Keep rows of source records this partition has not delivered before: compare
            // with what was applied before this record, per source partition (one lookup per
            // partition, not per row), then move the applied offsets on.
            let mut seen: HashMap<i32, (i64, i64)> = HashMap::new();
            let keep = BooleanArray::from_iter((0..n).map(|i| {
                let p = partitions.value(i);
                let (before, newest) = seen.entry(p).or_insert_with(|| {
                    let applied = self
                        .applied
                        .get(&(r.partition, p))
                        .copied()
                        .unwrap_or(i64::MIN);
                    (applied, applied)
                });
                let o = offsets.value(i);
                *newest = (*newest).max(o);
                Some(o > *before)
            }));
            for (p, (before, newest)) in seen {
                if newest > before {
                    self.applied.insert((r.partition, p), newest);
                    self.dirty.insert((r.partition, p));
                }
            }
            let schema = batch.schema();
            let fields: Vec<_> = schema.fields()[..width - 3].iter().cloned().collect();
            let schema = Arc::new(Schema::new(fields));
            match &self.schema {
                None => self.schema = Some(schema.clone()),
                Some(known) if *known != schema => {
                    return Err(
                        "repartition record's columns differ from the topic's earlier records"
                            .into(),
                    )
                }
                Some(_) => {}
            }
            let data = RecordBatch::try_new(schema.clone(), batch.columns()[..width - 3].to_vec())
                .map_err(|e| e.to_string())?;
            let data = filter_record_batch(&data, &keep).map_err(|e| e.to_string())?;
            let changes = datafusion::arrow::compute::filter(&changes, &keep)
                .map_err(|e| e.to_string())?
                .as_any()
                .downcast_ref::<Int8Array>()
                .cloned()
                .ok_or("bad change column")?;
            if data.num_rows() == 0 {
                continue;
            }
            out = Some(match out {
                None => (data, changes),
                Some((d, c)) => {
                    let d = concat_batches(&schema, &[d, data]).map_err(|e| e.to_string())?;
                    let c = datafusion::arrow::compute::concat(&[&c, &changes])
                        .map_err(|e| e.to_string())?
                        .as_any()
                        .downcast_ref::<Int8Array>()
                        .cloned()
                        .ok_or("bad change column")?;
                    (d, c)
                }
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::physical_expr::expressions::Column;
    use sluice_catalog::ROWTIME;

    /// A re-keyed join row goes where Kafka's partitioner puts a record whose key is the join
    /// key written in the key format given: KAFKA's 4-byte INT, JSON's text.
    #[test]
    fn key_placer_hashes_the_key_as_the_format_writes_it() {
        let schema = Arc::new(Schema::new(vec![Field::new("V", DataType::Int32, true)]));
        let data = RecordBatch::try_new(
            schema,
            vec![Arc::new(Int32Array::from(vec![Some(42), None, Some(7)]))],
        )
        .unwrap();
        let batch = Batch {
            data,
            changes: None,
            origin: None,
        };
        let key: Arc<dyn PhysicalExpr> = Arc::new(Column::new("V", 0));
        let kafka = sluice_formats::Format::new(sluice_formats::FormatKind::Kafka);
        let mut placer = KeyPlacer::new(key.clone(), DataType::Int32, &kafka, 5).unwrap();
        let places = placer.place(&batch).unwrap();
        assert_eq!(
            places,
            vec![
                Some(partition_for(murmur2(&42i32.to_be_bytes()), 5)),
                None,
                Some(partition_for(murmur2(&7i32.to_be_bytes()), 5)),
            ]
        );
        let json = sluice_formats::Format::new(sluice_formats::FormatKind::Json);
        let mut placer = KeyPlacer::new(key, DataType::Int32, &json, 5).unwrap();
        assert_eq!(
            placer.place(&batch).unwrap()[0],
            Some(partition_for(murmur2(b"42"), 5))
        );
    }

    fn batch(keys: &[&str], offsets: &[i64]) -> Batch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("K", DataType::Utf8, true),
            Field::new(ROWTIME, DataType::Int64, true),
        ]));
        let data = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(keys.to_vec())),
                Arc::new(Int64Array::from_iter_values(offsets.iter().map(|o| o * 10))),
            ],
        )
        .unwrap();
        Batch {
            data,
            changes: None,
            origin: Some(crate::Origins {
                partition: Int32Array::from(vec![0; keys.len()]),
                offset: Int64Array::from(offsets.to_vec()),
            }),
        }
    }

    fn encoder(partitions: i32) -> RepartitionEncoder {
        RepartitionEncoder::new(
            vec![Arc::new(Column::new("K", 0))],
            vec![DataType::Utf8],
            partitions,
        )
        .unwrap()
    }

    fn raw(records: &[RepartitionRecord]) -> Vec<RawRecord<'_>> {
        records
            .iter()
            .enumerate()
            .map(|(i, r)| RawRecord {
                partition: r.partition,
                offset: i as i64,
                timestamp: r.timestamp,
                value: Some(&r.value),
                ..RawRecord::default()
            })
            .collect()
    }

    fn keys_of(b: &Batch) -> Vec<String> {
        let k = b
            .data
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        k.iter().map(|v| v.unwrap().to_string()).collect()
    }

    #[test]
    fn murmur2_matches_kafka() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(&[b'a', b'b', b'c']), 479470107);
    }

    #[test]
    fn same_key_same_partition_and_rows_round_trip() {
        let enc = encoder(4);
        let records = enc
            .encode(&batch(&["a", "b", "a", "c", "b"], &[1, 2, 3, 4, 5]))
            .unwrap();
        let mut seen: HashMap<String, i32> = HashMap::new();
        let mut total = 0;
        for r in &records {
            let mut dec = RepartitionDecoder::new();
            let (b, errors) = dec.decode(&raw(std::slice::from_ref(r))).unwrap();
            assert!(errors.is_empty());
            let b = b.unwrap();
            total += b.num_rows();
            for k in keys_of(&b) {
                assert_eq!(*seen.entry(k).or_insert(r.partition), r.partition);
            }
        }
        assert_eq!(total, 5);
        assert_eq!(seen.len(), 3);
    }

    /// Rows placed by the caller go where they are told; `by_time` gives each run of one
    /// event time its own record (stamped with that time), in row order.
    #[test]
    fn placed_rows_by_time_make_a_record_per_time() {
        let mut b = batch(&["a", "b", "c", "d"], &[1, 2, 3, 4]);
        let times = Int64Array::from(vec![10, 10, 20, 10]);
        let mut columns = b.data.columns().to_vec();
        columns[1] = Arc::new(times);
        b.data = RecordBatch::try_new(b.data.schema(), columns).unwrap();
        let records = encoder(2).encode_placed(&b, &[1, 1, 1, 0], true).unwrap();
        let got: Vec<(i32, Option<i64>, Vec<String>)> = records
            .iter()
            .map(|r| {
                let (rows, _) = RepartitionDecoder::new()
                    .decode(&raw(std::slice::from_ref(r)))
                    .unwrap();
                (r.partition, r.timestamp, keys_of(&rows.unwrap()))
            })
            .collect();
        let s = |v: &[&str]| v.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            vec![
                (0, Some(10), s(&["d"])),
                (1, Some(10), s(&["a", "b"])),
                (1, Some(20), s(&["c"])),
            ]
        );
        // The rows of one source record stay in one record, stamped with their newest time.
        let stamps_with_origins = |offsets: Vec<i64>| -> Vec<(i32, Option<i64>)> {
            let mut same = b.clone();
            same.origin = Some(crate::Origins {
                partition: Int32Array::from(vec![0; 4]),
                offset: Int64Array::from(offsets),
            });
            let records = encoder(2)
                .encode_placed(&same, &[1, 1, 1, 0], true)
                .unwrap();
            records.iter().map(|r| (r.partition, r.timestamp)).collect()
        };
        assert_eq!(
            stamps_with_origins(vec![1, 1, 2, 4]),
            vec![(0, Some(10)), (1, Some(10)), (1, Some(20))]
        );
        assert_eq!(
            stamps_with_origins(vec![1, 1, 1, 4]),
            vec![(0, Some(10)), (1, Some(20))]
        );
        // Without `by_time`, a partition's rows are one record stamped with their newest time.
        let records = encoder(2).encode_placed(&b, &[1, 1, 1, 0], false).unwrap();
        let stamps: Vec<(i32, Option<i64>)> =
            records.iter().map(|r| (r.partition, r.timestamp)).collect();
        assert_eq!(stamps, vec![(0, Some(10)), (1, Some(20))]);
    }

    #[test]
    fn rows_delivered_again_are_dropped() {
        let enc = encoder(1);
        let first = enc.encode(&batch(&["a", "b"], &[1, 2])).unwrap();
        // After a crash the first task writes offsets 2 and 3 (2 again).
        let again = enc.encode(&batch(&["b", "c"], &[2, 3])).unwrap();
        let mut dec = RepartitionDecoder::new();
        let (b, _) = dec.decode(&raw(&first)).unwrap();
        assert_eq!(keys_of(&b.unwrap()), vec!["a", "b"]);
        // The applied offsets survive a restart through the store.
        let store = sluice_state::MemoryStore::new();
        let mut wb = WriteBatch::new();
        dec.checkpoint(&mut wb);
        store.commit(wb).unwrap();
        let mut dec = RepartitionDecoder::new();
        dec.open(&store).unwrap();
        let (b, _) = dec.decode(&raw(&again)).unwrap();
        assert_eq!(keys_of(&b.unwrap()), vec!["c"]);
    }

    #[test]
    fn large_batches_split_between_source_records() {
        let mut enc = encoder(1);
        enc.max_record_bytes = 200;
        let keys: Vec<String> = (0..50).map(|i| format!("key-{i:04}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        // Two rows per source record.
        let offsets: Vec<i64> = (0..50).map(|i| i / 2).collect();
        let records = enc.encode(&batch(&keys, &offsets)).unwrap();
        assert!(records.len() > 1);
        let mut dec = RepartitionDecoder::new();
        let mut total = 0;
        for r in &records {
            let (b, _) = dec.decode(&raw(std::slice::from_ref(r))).unwrap();
            let b = b.unwrap();
            assert_eq!(b.num_rows() % 2, 0, "a source record's rows stay together");
            total += b.num_rows();
        }
        assert_eq!(total, 50);
    }

    #[test]
    fn unreadable_records_are_reported() {
        let mut dec = RepartitionDecoder::new();
        let bad = RawRecord {
            partition: 0,
            offset: 7,
            value: Some(b"not arrow"),
            ..RawRecord::default()
        };
        let (b, errors) = dec.decode(&[bad]).unwrap();
        assert!(b.is_none());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].offset, 7);
    }
}

/// Places the rows of a join input that is re-keyed before the join (ksqlDB's
/// `-Join-*-repartition` topics): each row goes to the partition Kafka's default partitioner
/// gives its join key written in the key format of the inputs read as they are, so it meets
/// their rows in the same partition. The records themselves cross unchanged (the join task
/// decodes them with the input's own formats); only their partition is decided here.
pub struct KeyPlacer {
    key: Arc<dyn PhysicalExpr>,
    encoder: sluice_formats::Encoder,
    partitions: i32,
}

impl KeyPlacer {
    /// Rows placed by `key` (of type `key_type`) written in `key_format`, among `partitions`.
    pub fn new(
        key: Arc<dyn PhysicalExpr>,
        key_type: DataType,
        key_format: &sluice_formats::Format,
        partitions: i32,
    ) -> Result<Self, DataflowError> {
        let field = Arc::new(Field::new("K", key_type, true));
        Ok(Self {
            key,
            encoder: sluice_formats::Encoder::new(
                key_format,
                vec![field].into(),
                sluice_formats::Part::Key,
            )?,
            partitions: partitions.max(1),
        })
    }

    /// The partition count rows are spread over.
    pub fn partitions(&self) -> i32 {
        self.partitions
    }

    /// The partition of each row of `batch`; `None` for a row whose key is null (it meets
    /// nothing, and stays where it is).
    pub fn place(&mut self, batch: &Batch) -> Result<Vec<Option<i32>>, DataflowError> {
        let n = batch.num_rows();
        let key = self.key.evaluate(&batch.data)?.into_array(n)?;
        let bytes = self.encoder.encode_rows(std::slice::from_ref(&key), n)?;
        Ok(bytes
            .into_iter()
            .enumerate()
            .map(|(i, b)| match b {
                Some(b) if !key.is_null(i) => Some(partition_for(murmur2(&b), self.partitions)),
                _ => None,
            })
            .collect())
    }
}
