//! COUNT_DISTINCT (ksqlDB's `CountDistinct`): BIGINT, an estimate of the number of distinct
//! non-null values, any input type.
//!
//! Like ksqlDB it is a HyperLogLog with 2^14 registers (stream-lib's `HyperLogLog(14)`: 32-bit
//! MurmurHash2 of the value, linear counting for small cardinalities, no large-range
//! correction), so small counts are exact and large ones within about 1%. Values are hashed as
//! ksqlDB hashes them: INT and BIGINT as longs, DOUBLE by its bits, STRING as UTF-8 bytes,
//! other types by their Java text (`BigDecimal.toString()`, dates as `yyyy-MM-dd`, ...);
//! BYTES by their content (ksqlDB hashes a `ByteBuffer`'s description, which only tells
//! lengths apart). Not retractable.
//!
//! State: one BINARY value, a format byte then either the non-zero registers as
//! (u16 index, u8 value) pairs (`0`) or all 16384 registers (`1`).

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::java::java_to_string;
use super::udaf::AggregateSpec;

const LOG2M: u32 = 14;
const M: usize = 1 << LOG2M;
/// Sparse registers switch to dense beyond this many non-zero registers.
const SPARSE_MAX: usize = 2048;

/// `COUNT_DISTINCT(col)`.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct CountDistinct;

impl AggregateSpec for CountDistinct {
    fn name(&self) -> &'static str {
        "count_distinct"
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [t] => Ok(vec![t.clone()]),
            _ => plan_err!(
                "Function 'COUNT_DISTINCT' does not accept parameters ({} arguments).",
                args.len()
            ),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn state(&self, _args: &[DataType], _ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        Ok(vec![("registers", DataType::Binary)])
    }

    fn accumulator(&self, _args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CountDistinctAccumulator::default()))
    }
}

/// stream-lib's `MurmurHash.hash(byte[])`: MurmurHash2, 32 bits, seed -1, Java's signed
/// tail bytes.
pub(crate) fn murmur_bytes(data: &[u8]) -> i32 {
    const MUL: i32 = 0x5bd1_e995;
    let length = data.len() as i32;
    let mut h: i32 = -1 ^ length;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(MUL);
        k ^= ((k as u32) >> 24) as i32;
        k = k.wrapping_mul(MUL);
        h = h.wrapping_mul(MUL);
        h ^= k;
    }
    if !tail.is_empty() {
        let n = data.len();
        if tail.len() >= 3 {
            h ^= (data[n - 3] as i8 as i32) << 16;
        }
        if tail.len() >= 2 {
            h ^= (data[n - 2] as i8 as i32) << 8;
        }
        h ^= data[n - 1] as i8 as i32;
        h = h.wrapping_mul(MUL);
    }
    h ^= ((h as u32) >> 13) as i32;
    h = h.wrapping_mul(MUL);
    h ^= ((h as u32) >> 15) as i32;
    h
}

/// stream-lib's `MurmurHash.hashLong`.
pub(crate) fn murmur_long(data: i64) -> i32 {
    const MUL: i32 = 0x5bd1_e995;
    let mut h: i32 = 0;
    let mut k: i32 = (data as i32).wrapping_mul(MUL);
    k ^= ((k as u32) >> 24) as i32;
    h ^= k.wrapping_mul(MUL);
    k = ((data >> 32) as i32).wrapping_mul(MUL);
    k ^= ((k as u32) >> 24) as i32;
    h = h.wrapping_mul(MUL);
    h ^= k.wrapping_mul(MUL);
    h ^= ((h as u32) >> 13) as i32;
    h = h.wrapping_mul(MUL);
    h ^= ((h as u32) >> 15) as i32;
    h
}

#[derive(Debug, Clone)]
enum Registers {
    Sparse(BTreeMap<u16, u8>),
    Dense(Box<[u8]>),
}

/// HyperLogLog registers and a cached estimate.
#[derive(Debug, Clone)]
pub(crate) struct CountDistinctAccumulator {
    registers: Registers,
    cached: Option<i64>,
}

impl Default for CountDistinctAccumulator {
    fn default() -> Self {
        Self {
            registers: Registers::Sparse(BTreeMap::new()),
            cached: Some(0),
        }
    }
}

impl CountDistinctAccumulator {
    fn get(&self, j: usize) -> u8 {
        match &self.registers {
            Registers::Sparse(m) => m.get(&(j as u16)).copied().unwrap_or(0),
            Registers::Dense(d) => d[j],
        }
    }

    fn update_if_greater(&mut self, j: usize, r: u8) {
        match &mut self.registers {
            Registers::Dense(d) => {
                if d[j] < r {
                    d[j] = r;
                    self.cached = None;
                }
            }
            Registers::Sparse(m) => {
                let cur = m.entry(j as u16).or_insert(0);
                if *cur < r {
                    *cur = r;
                    self.cached = None;
                }
                if m.len() > SPARSE_MAX {
                    let mut dense = vec![0u8; M].into_boxed_slice();
                    for (k, v) in m.iter() {
                        dense[*k as usize] = *v;
                    }
                    self.registers = Registers::Dense(dense);
                }
            }
        }
    }

    /// `HyperLogLog.offerHashed(int)`.
    fn offer_hashed(&mut self, x: i32) {
        let j = ((x as u32) >> (32 - LOG2M)) as usize;
        let r = (((x << LOG2M) | ((1 << (LOG2M - 1)) + 1)) as u32).leading_zeros() + 1;
        self.update_if_greater(j, r as u8);
    }

    fn offer_array(&mut self, array: &dyn Array) -> Result<()> {
        match array.data_type() {
            DataType::Int32 => {
                for v in array.as_primitive::<Int32Type>().iter().flatten() {
                    self.offer_hashed(murmur_long(v as i64));
                }
            }
            DataType::Int64 => {
                for v in array.as_primitive::<Int64Type>().iter().flatten() {
                    self.offer_hashed(murmur_long(v));
                }
            }
            DataType::Float64 => {
                for v in array.as_primitive::<Float64Type>().iter().flatten() {
                    self.offer_hashed(murmur_long(v.to_bits() as i64));
                }
            }
            DataType::Utf8 => {
                for v in array.as_string::<i32>().iter().flatten() {
                    self.offer_hashed(murmur_bytes(v.as_bytes()));
                }
            }
            DataType::Binary => {
                for v in array.as_binary::<i32>().iter().flatten() {
                    self.offer_hashed(murmur_bytes(v));
                }
            }
            _ => {
                for i in 0..array.len() {
                    if array.is_valid(i) {
                        let v = ScalarValue::try_from_array(array, i)?;
                        self.offer_hashed(murmur_bytes(java_to_string(&v).as_bytes()));
                    }
                }
            }
        }
        Ok(())
    }

    /// `HyperLogLog.cardinality()`, summing registers in index order as Java does.
    fn cardinality(&mut self) -> i64 {
        if let Some(c) = self.cached {
            return c;
        }
        let m = M as f64;
        let mut register_sum = 0.0f64;
        let mut zeros = 0.0f64;
        for j in 0..M {
            let val = self.get(j);
            register_sum += 1.0 / (1u64 << val) as f64;
            if val == 0 {
                zeros += 1.0;
            }
        }
        let alpha_mm = (0.7213 / (1.0 + 1.079 / m)) * m * m;
        let estimate = alpha_mm * (1.0 / register_sum);
        let c = if estimate <= 2.5 * m {
            (m * (m / zeros).ln()).round() as i64
        } else {
            estimate.round() as i64
        };
        self.cached = Some(c);
        c
    }

    fn to_bytes(&self) -> Vec<u8> {
        match &self.registers {
            Registers::Sparse(m) => {
                let mut out = Vec::with_capacity(1 + 3 * m.len());
                out.push(0);
                for (k, v) in m.iter().filter(|(_, v)| **v > 0) {
                    out.extend_from_slice(&k.to_le_bytes());
                    out.push(*v);
                }
                out
            }
            Registers::Dense(d) => {
                let mut out = Vec::with_capacity(1 + M);
                out.push(1);
                out.extend_from_slice(d);
                out
            }
        }
    }

    fn merge_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        match bytes.split_first() {
            Some((0, pairs)) if pairs.len() % 3 == 0 => {
                for p in pairs.chunks_exact(3) {
                    let j = u16::from_le_bytes([p[0], p[1]]) as usize;
                    if j >= M {
                        return exec_err!("COUNT_DISTINCT state: register {j} out of range");
                    }
                    self.update_if_greater(j, p[2]);
                }
                Ok(())
            }
            Some((1, regs)) if regs.len() == M => {
                for (j, r) in regs.iter().enumerate() {
                    if *r > 0 {
                        self.update_if_greater(j, *r);
                    }
                }
                Ok(())
            }
            _ => exec_err!("COUNT_DISTINCT state: malformed registers"),
        }
    }
}

impl Accumulator for CountDistinctAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.offer_array(values[0].as_ref())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.cardinality())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + match &self.registers {
                Registers::Sparse(m) => m.len() * 8,
                Registers::Dense(_) => M,
            }
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.to_bytes()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for b in states[0].as_binary::<i32>().iter().flatten() {
            self.merge_bytes(b)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::*;
    use std::sync::Arc;

    #[test]
    fn murmur_matches_stream_lib() {
        // Reference values computed with stream-lib's Java MurmurHash code on a JVM.
        assert_eq!(murmur_bytes(b"one"), 1448687641);
        assert_eq!(murmur_bytes(b"two"), -1859166203);
        assert_eq!(murmur_bytes(b"abcd"), 1555318719);
        assert_eq!(murmur_bytes(b"abcde"), -392878951);
        assert_eq!(murmur_bytes("h\u{e9}llo w\u{f6}rld".as_bytes()), 1630776496);
        assert_eq!(murmur_bytes(b""), -1285986640);
        // Tail bytes are sign-extended as Java bytes.
        assert_eq!(murmur_bytes(&[0x80, 0xff, 0x91]), 1302679960);
        assert_eq!(murmur_long(0), 0);
        assert_eq!(murmur_long(1), 1527037976);
        assert_eq!(murmur_long(-1), -2037786185);
        assert_eq!(murmur_long(123456789012), 1561874345);
        assert_eq!(murmur_long(i64::MIN), 630388283);
        assert_eq!(murmur_long(2147483648), -430375848);
        assert_eq!(murmur_long(1.5f64.to_bits() as i64), -1688758945);
    }

    #[test]
    fn counts_distinct_strings_ignoring_nulls() {
        let mut acc = CountDistinctAccumulator::default();
        let out = eval_each(
            &mut acc,
            &[strs(&[
                Some("one"),
                Some("two"),
                Some("one"),
                Some("two"),
                None,
            ])],
        );
        let counts: Vec<_> = out
            .iter()
            .map(|v| match v {
                ScalarValue::Int64(Some(c)) => *c,
                _ => panic!(),
            })
            .collect();
        assert_eq!(counts, vec![1, 2, 2, 2, 2]);
    }

    #[test]
    fn estimates_are_close_for_many_values() {
        let mut acc = CountDistinctAccumulator::default();
        let values: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from_iter_values(
            0..100_000i64,
        ));
        acc.update_batch(std::slice::from_ref(&values)).unwrap();
        acc.update_batch(&[values]).unwrap();
        let ScalarValue::Int64(Some(c)) = acc.evaluate().unwrap() else {
            panic!()
        };
        assert!((c - 100_000).abs() < 3_000, "{c}");
        let small = (0..100).collect::<Vec<i32>>();
        let mut acc = CountDistinctAccumulator::default();
        acc.update_batch(&[Arc::new(datafusion::arrow::array::Int32Array::from(small))])
            .unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int64(Some(100)));
    }

    #[test]
    fn state_round_trips_sparse_and_dense() {
        check_round_trip(
            &|| Box::new(CountDistinctAccumulator::default()),
            &[i32s(&[Some(1), Some(2), None, Some(1), Some(3)])],
        );
        let mut big = CountDistinctAccumulator::default();
        big.update_batch(&[Arc::new(
            datafusion::arrow::array::Int64Array::from_iter_values(0..20_000i64),
        )])
        .unwrap();
        assert!(matches!(big.registers, Registers::Dense(_)));
        let mut fresh = CountDistinctAccumulator::default();
        restore(&mut big, &mut fresh).unwrap();
        assert_eq!(big.evaluate().unwrap(), fresh.evaluate().unwrap());
    }

    #[test]
    fn other_types_are_counted_by_their_text() {
        let mut acc = CountDistinctAccumulator::default();
        acc.update_batch(&[decs(&[Some(540), Some(540), Some(541)], 4, 2)])
            .unwrap();
        acc.update_batch(&[bools(&[Some(true), Some(false), None])])
            .unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int64(Some(4)));
    }
}
