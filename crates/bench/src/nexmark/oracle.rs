//! The correctness oracle: each query answered by DataFusion in batch over the same events,
//! and the comparison of a run's sink records with that answer.
//!
//! The oracle builds its Arrow tables straight from the generator's [`Event`]s (never from the
//! JSON the engine reads), runs the query's [`Oracle::sql`] and turns each result row into a
//! canonical text; [`Observed`] turns the sink's records into the same text. A stream's result
//! is the multiset of its records, a table's the last value per key (and window), so a table
//! that emitted intermediate updates is still correct when its final state is.
//!
//! Numbers compare by value: integral values as integers, others to 15 significant digits
//! ([`Compare::Exact`], enough for the decimals here to be exact) or 9 ([`Compare::Approx`],
//! for DOUBLE sums taken in a different order).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Decimal128Array, Float64Array, Int64Array, Int64Builder, RecordBatch,
    StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::queries::{Compare, Oracle, SinkKey};
use super::Event;

/// Why a check could not be made or failed.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    #[error("oracle query failed: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("oracle column {column} has type {data_type}, which the comparison does not read")]
    Type { column: usize, data_type: DataType },
}

/// A result as canonical rows: `key|window start|value...` (stream: sorted multiset; table:
/// key and window → values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Stream(Vec<String>),
    Table(BTreeMap<String, String>),
}

impl Answer {
    /// Number of records (stream) or keys (table).
    pub fn len(&self) -> usize {
        match self {
            Answer::Stream(rows) => rows.len(),
            Answer::Table(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What differs from `expected`, as a short human-readable report (`None` when equal).
    pub fn diff(&self, expected: &Answer) -> Option<String> {
        if self == expected {
            return None;
        }
        let (missing, extra) = match (self, expected) {
            (Answer::Stream(got), Answer::Stream(want)) => {
                multiset_diff(got.iter().cloned(), want.iter().cloned())
            }
            (Answer::Table(got), Answer::Table(want)) => multiset_diff(
                got.iter().map(|(k, v)| format!("{k} => {v}")),
                want.iter().map(|(k, v)| format!("{k} => {v}")),
            ),
            _ => return Some("a stream compared with a table".into()),
        };
        let show = |rows: &[String]| -> String {
            let mut s: Vec<&str> = rows.iter().take(5).map(String::as_str).collect();
            if rows.len() > 5 {
                s.push("...");
            }
            s.join("; ")
        };
        Some(format!(
            "{} expected rows missing ({}), {} unexpected rows ({}); got {} rows, expected {}",
            missing.len(),
            show(&missing),
            extra.len(),
            show(&extra),
            self.len(),
            expected.len()
        ))
    }
}

/// (missing from got, extra in got).
fn multiset_diff(
    got: impl Iterator<Item = String>,
    want: impl Iterator<Item = String>,
) -> (Vec<String>, Vec<String>) {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for w in want {
        *counts.entry(w).or_default() += 1;
    }
    for g in got {
        *counts.entry(g).or_default() -= 1;
    }
    let mut missing = Vec::new();
    let mut extra = Vec::new();
    for (row, n) in counts {
        for _ in 0..n.max(0) {
            missing.push(row.clone());
        }
        for _ in 0..(-n).max(0) {
            extra.push(row.clone());
        }
    }
    (missing, extra)
}

/// The answer DataFusion gives to `oracle` over `events`.
pub async fn expected(oracle: &Oracle, events: &[Event]) -> Result<Answer, OracleError> {
    let ctx = SessionContext::new();
    let (person, auction, bid) = tables(events);
    for (name, batch) in [("person", person), ("auction", auction), ("bid", bid)] {
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        ctx.register_table(name, Arc::new(table))?;
    }
    let batches = ctx.sql(oracle.sql).await?.collect().await?;
    let fixed = fixed_columns(oracle);
    let mut stream = Vec::new();
    let mut table = BTreeMap::new();
    for batch in &batches {
        let columns: Vec<Vec<String>> = batch
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let compare = match i.checked_sub(fixed) {
                    Some(v) => oracle.columns.get(v).map_or(Compare::Exact, |c| c.1),
                    None => Compare::Exact,
                };
                canonical_column(i, c, compare)
            })
            .collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            let key = columns[..fixed]
                .iter()
                .map(|c| c[row].as_str())
                .collect::<Vec<_>>()
                .join("|");
            let value = columns[fixed..]
                .iter()
                .map(|c| c[row].as_str())
                .collect::<Vec<_>>()
                .join("|");
            if oracle.table {
                table.insert(key, value);
            } else {
                stream.push(join_row(&key, &value));
            }
        }
    }
    Ok(if oracle.table {
        Answer::Table(table)
    } else {
        stream.sort();
        Answer::Stream(stream)
    })
}

fn join_row(key: &str, value: &str) -> String {
    if key.is_empty() {
        value.to_string()
    } else {
        format!("{key}|{value}")
    }
}

/// Key and window columns before the values.
fn fixed_columns(oracle: &Oracle) -> usize {
    usize::from(oracle.key != SinkKey::None) + usize::from(oracle.windowed)
}

fn canonical_column(i: usize, c: &ArrayRef, compare: Compare) -> Result<Vec<String>, OracleError> {
    let n = c.len();
    let text = |f: &dyn Fn(usize) -> String| -> Vec<String> {
        (0..n)
            .map(|r| {
                if c.is_null(r) {
                    "null".to_string()
                } else {
                    f(r)
                }
            })
            .collect()
    };
    Ok(match c.data_type() {
        DataType::Int64 => {
            let a = c.as_any().downcast_ref::<Int64Array>().expect("Int64");
            text(&|r| a.value(r).to_string())
        }
        DataType::Float64 => {
            let a = c.as_any().downcast_ref::<Float64Array>().expect("Float64");
            text(&|r| canonical_f64(a.value(r), compare))
        }
        DataType::Decimal128(_, scale) => {
            let a = c
                .as_any()
                .downcast_ref::<Decimal128Array>()
                .expect("Decimal128");
            let scale = *scale as i32;
            text(&|r| canonical_f64(a.value(r) as f64 / 10f64.powi(scale), compare))
        }
        DataType::Utf8 => {
            let a = c.as_any().downcast_ref::<StringArray>().expect("Utf8");
            text(&|r| a.value(r).to_string())
        }
        other => {
            return Err(OracleError::Type {
                column: i,
                data_type: other.clone(),
            })
        }
    })
}

/// A number as the comparison sees it.
pub fn canonical_f64(v: f64, compare: Compare) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        match compare {
            Compare::Exact => format!("{v:.14e}"),
            Compare::Approx => format!("{v:.8e}"),
        }
    }
}

/// The sink's records, read into the same canonical form as the oracle's answer.
#[derive(Debug)]
pub struct Observed {
    oracle: Oracle,
    stream: Vec<String>,
    table: BTreeMap<String, String>,
    /// Records that could not be read (bad key or JSON), with why.
    pub unreadable: Vec<String>,
}

impl Observed {
    pub fn new(oracle: Oracle) -> Self {
        Self {
            oracle,
            stream: Vec::new(),
            table: BTreeMap::new(),
            unreadable: Vec::new(),
        }
    }

    /// Applies one sink record (in the order the sink's partition holds them).
    pub fn push(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) {
        let key = match self.key_text(key) {
            Ok(k) => k,
            Err(e) => {
                self.unreadable.push(e);
                return;
            }
        };
        let value = match value {
            None => None,
            Some(v) => match self.value_text(v) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.unreadable.push(e);
                    return;
                }
            },
        };
        match (self.oracle.table, value) {
            (true, Some(v)) => {
                self.table.insert(key, v);
            }
            (true, None) => {
                self.table.remove(&key);
            }
            (false, Some(v)) => self.stream.push(join_row(&key, &v)),
            (false, None) => self
                .unreadable
                .push(format!("stream record without a value: {key}")),
        }
    }

    /// The answer so far.
    pub fn answer(&self) -> Answer {
        if self.oracle.table {
            Answer::Table(self.table.clone())
        } else {
            let mut rows = self.stream.clone();
            rows.sort();
            Answer::Stream(rows)
        }
    }

    fn key_text(&self, key: Option<&[u8]>) -> Result<String, String> {
        let bytes = key.unwrap_or_default();
        let (inner, window) = if self.oracle.windowed {
            if bytes.len() < 8 {
                return Err(format!("windowed key of {} bytes", bytes.len()));
            }
            let (k, w) = bytes.split_at(bytes.len() - 8);
            (k, Some(i64::from_be_bytes(w.try_into().expect("8 bytes"))))
        } else {
            (bytes, None)
        };
        let mut parts = Vec::new();
        match self.oracle.key {
            SinkKey::None => {}
            SinkKey::BigInt => match <[u8; 8]>::try_from(inner) {
                Ok(b) => parts.push(i64::from_be_bytes(b).to_string()),
                Err(_) => return Err(format!("BIGINT key of {} bytes", inner.len())),
            },
            SinkKey::Text => parts.push(String::from_utf8_lossy(inner).into_owned()),
        }
        if let Some(w) = window {
            parts.push(w.to_string());
        }
        Ok(parts.join("|"))
    }

    fn value_text(&self, value: &[u8]) -> Result<String, String> {
        let v: serde_json::Value = serde_json::from_slice(value).map_err(|e| {
            format!(
                "value is not JSON ({e}): {}",
                String::from_utf8_lossy(value)
            )
        })?;
        let obj = v
            .as_object()
            .ok_or_else(|| format!("value is not a JSON object: {v}"))?;
        let mut parts = Vec::with_capacity(self.oracle.columns.len());
        for (name, compare) in self.oracle.columns {
            parts.push(match obj.get(*name) {
                None => return Err(format!("value has no {name}: {v}")),
                Some(serde_json::Value::Null) => "null".to_string(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => i.to_string(),
                    (None, Some(f)) => canonical_f64(f, *compare),
                    _ => n.to_string(),
                },
                Some(other) => other.to_string(),
            });
        }
        Ok(parts.join("|"))
    }
}

/// The events as the oracle's three tables.
fn tables(events: &[Event]) -> (RecordBatch, RecordBatch, RecordBatch) {
    let (mut p_id, mut p_dt) = (Int64Builder::new(), Int64Builder::new());
    let mut p_text: [StringBuilder; 6] = std::array::from_fn(|_| StringBuilder::new());
    let mut a_int: [Int64Builder; 7] = std::array::from_fn(|_| Int64Builder::new());
    let mut a_text: [StringBuilder; 3] = std::array::from_fn(|_| StringBuilder::new());
    let mut b_int: [Int64Builder; 4] = std::array::from_fn(|_| Int64Builder::new());
    let mut b_text: [StringBuilder; 3] = std::array::from_fn(|_| StringBuilder::new());
    for e in events {
        match e {
            Event::Person(p) => {
                p_id.append_value(p.id);
                p_dt.append_value(p.date_time);
                for (b, v) in p_text.iter_mut().zip([
                    &p.name,
                    &p.email_address,
                    &p.credit_card,
                    &p.city,
                    &p.state,
                    &p.extra,
                ]) {
                    b.append_value(v);
                }
            }
            Event::Auction(a) => {
                for (b, v) in a_int.iter_mut().zip([
                    a.id,
                    a.initial_bid,
                    a.reserve,
                    a.date_time,
                    a.expires,
                    a.seller,
                    a.category,
                ]) {
                    b.append_value(v);
                }
                for (b, v) in a_text
                    .iter_mut()
                    .zip([&a.item_name, &a.description, &a.extra])
                {
                    b.append_value(v);
                }
            }
            Event::Bid(b) => {
                for (bb, v) in b_int
                    .iter_mut()
                    .zip([b.auction, b.bidder, b.price, b.date_time])
                {
                    bb.append_value(v);
                }
                for (bb, v) in b_text.iter_mut().zip([&b.channel, &b.url, &b.extra]) {
                    bb.append_value(v);
                }
            }
        }
    }
    let batch = |names: &[(&str, DataType)], columns: Vec<ArrayRef>| {
        let fields: Vec<Field> = names
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), false))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("oracle table")
    };
    let int = DataType::Int64;
    let text = DataType::Utf8;
    let finish_ints = |bs: &mut [Int64Builder]| -> Vec<ArrayRef> {
        bs.iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect()
    };
    let finish_texts = |bs: &mut [StringBuilder]| -> Vec<ArrayRef> {
        bs.iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect()
    };
    let pt = finish_texts(&mut p_text);
    let person = batch(
        &[
            ("id", int.clone()),
            ("name", text.clone()),
            ("email_address", text.clone()),
            ("credit_card", text.clone()),
            ("city", text.clone()),
            ("state", text.clone()),
            ("date_time", int.clone()),
            ("extra", text.clone()),
        ],
        vec![
            Arc::new(p_id.finish()),
            pt[0].clone(),
            pt[1].clone(),
            pt[2].clone(),
            pt[3].clone(),
            pt[4].clone(),
            Arc::new(p_dt.finish()),
            pt[5].clone(),
        ],
    );
    let mut ai = finish_ints(&mut a_int);
    let at = finish_texts(&mut a_text);
    let auction = batch(
        &[
            ("id", int.clone()),
            ("item_name", text.clone()),
            ("description", text.clone()),
            ("initial_bid", int.clone()),
            ("reserve", int.clone()),
            ("date_time", int.clone()),
            ("expires", int.clone()),
            ("seller", int.clone()),
            ("category", int.clone()),
            ("extra", text.clone()),
        ],
        vec![
            ai.remove(0),
            at[0].clone(),
            at[1].clone(),
            ai.remove(0),
            ai.remove(0),
            ai.remove(0),
            ai.remove(0),
            ai.remove(0),
            ai.remove(0),
            at[2].clone(),
        ],
    );
    let bi = finish_ints(&mut b_int);
    let bt = finish_texts(&mut b_text);
    let bid = batch(
        &[
            ("auction", int.clone()),
            ("bidder", int.clone()),
            ("price", int.clone()),
            ("channel", text.clone()),
            ("url", text.clone()),
            ("date_time", int),
            ("extra", text),
        ],
        vec![
            bi[0].clone(),
            bi[1].clone(),
            bi[2].clone(),
            bt[0].clone(),
            bt[1].clone(),
            bi[3].clone(),
            bt[2].clone(),
        ],
    );
    (person, auction, bid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nexmark::queries::QUERIES;
    use crate::nexmark::{Generator, GeneratorConfig};

    fn events(n: i64) -> Vec<Event> {
        Generator::new(GeneratorConfig {
            num_events: Some(n),
            first_event_rate: 1_000,
            ..GeneratorConfig::default()
        })
        .collect()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn every_query_has_a_nonempty_answer() {
        let events = events(20_000);
        for q in QUERIES {
            let answer = block_on(expected(&q.oracle, &events))
                .unwrap_or_else(|e| panic!("{}: {e}", q.name));
            assert!(!answer.is_empty(), "{}: empty answer", q.name);
        }
    }

    #[test]
    fn q0_answer_is_every_bid() {
        let events = events(1_000);
        let q0 = crate::nexmark::queries::query("q0").unwrap();
        let answer = block_on(expected(&q0.oracle, &events)).unwrap();
        let bids: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Bid(b) => Some(b),
                _ => None,
            })
            .collect();
        assert_eq!(answer.len(), bids.len());
        // The sink's record for the first bid reads as one of the answer's rows.
        let b = bids[0];
        let mut observed = Observed::new(q0.oracle);
        // The engine writes the projected columns; the bid's own JSON has those and more.
        let json = crate::nexmark::Event::Bid(b.clone()).to_json_string();
        observed.push(None, Some(json.as_bytes()));
        assert!(observed.unreadable.is_empty(), "{:?}", observed.unreadable);
        let Answer::Stream(rows) = observed.answer() else {
            panic!("a stream")
        };
        let Answer::Stream(want) = answer else {
            panic!("a stream")
        };
        assert!(want.contains(&rows[0]), "{} not in the answer", rows[0]);
    }

    #[test]
    fn observed_tables_keep_the_last_value_and_read_windowed_keys() {
        let q5 = crate::nexmark::queries::query("q5").unwrap();
        let mut o = Observed::new(q5.oracle);
        let mut key = 1007i64.to_be_bytes().to_vec();
        key.extend_from_slice(&4000i64.to_be_bytes());
        o.push(Some(&key), Some(br#"{"NUM":1}"#));
        o.push(Some(&key), Some(br#"{"NUM":2}"#));
        let want = Answer::Table(BTreeMap::from([("1007|4000".to_string(), "2".to_string())]));
        assert_eq!(o.answer().diff(&want), None);
        o.push(Some(&key), None);
        assert!(o
            .answer()
            .diff(&want)
            .unwrap()
            .contains("1 expected rows missing"));
        o.push(Some(b"short"), Some(b"{}"));
        assert_eq!(o.unreadable.len(), 1);
    }

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(canonical_f64(111.0, Compare::Exact), "111");
        assert_eq!(
            canonical_f64(1120986.836, Compare::Exact),
            canonical_f64("1120986.836".parse().unwrap(), Compare::Exact)
        );
        assert_eq!(
            canonical_f64(0.1 + 0.2, Compare::Approx),
            canonical_f64(0.3, Compare::Approx)
        );
        assert_ne!(
            canonical_f64(0.1 + 0.2, Compare::Exact),
            canonical_f64(0.31, Compare::Exact)
        );
    }
}
