//! Table functions: `EXPLODE(array)` turns each row into one row per array element.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int8Array, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::{Batch, DataflowError, Operator};

/// ksqlDB's EXPLODE (DataFusion's UNNEST of list columns): each input row becomes as many rows
/// as its longest exploded array has elements (shorter arrays give nulls there; a row whose
/// arrays are all null or empty gives none), every other column repeated.
///
/// Output column `j` comes from input column `dependency[j]`: the element of that column's
/// array when the column is in `lists`, else the column's value. Input columns from `hidden`
/// on (the event time and window bounds the pipeline carries after a projection) follow,
/// repeated like the others.
pub struct Explode {
    lists: Vec<usize>,
    dependency: Vec<usize>,
    output: SchemaRef,
    hidden: usize,
}

impl Explode {
    pub fn new(
        lists: Vec<usize>,
        dependency: Vec<usize>,
        output: SchemaRef,
        hidden: usize,
    ) -> Self {
        Self {
            lists,
            dependency,
            output,
            hidden,
        }
    }
}

/// (offset, length) of each row's list, 0-length for nulls.
fn spans(a: &ArrayRef) -> Result<Vec<(usize, usize)>, DataflowError> {
    let span =
        |valid: bool, start: usize, end: usize| if valid { (start, end - start) } else { (0, 0) };
    if let Some(l) = a.as_list_opt::<i32>() {
        let o = l.value_offsets();
        return Ok((0..l.len())
            .map(|i| span(l.is_valid(i), o[i] as usize, o[i + 1] as usize))
            .collect());
    }
    if let Some(l) = a.as_list_opt::<i64>() {
        let o = l.value_offsets();
        return Ok((0..l.len())
            .map(|i| span(l.is_valid(i), o[i] as usize, o[i + 1] as usize))
            .collect());
    }
    Err(DataflowError::Plan(format!(
        "EXPLODE needs an array, not {}",
        a.data_type()
    )))
}

fn values(a: &ArrayRef) -> ArrayRef {
    match a.as_list_opt::<i32>() {
        Some(l) => l.values().clone(),
        None => a.as_list::<i64>().values().clone(),
    }
}

impl Operator for Explode {
    fn name(&self) -> String {
        let cols: Vec<&str> = self
            .lists
            .iter()
            .filter_map(|i| {
                self.dependency
                    .iter()
                    .position(|d| d == i)
                    .map(|j| self.output.field(j).name().as_str())
            })
            .collect();
        format!("Explode: [{}]", cols.join(", "))
    }

    fn process_batch(&mut self, batch: Batch) -> Result<Vec<Batch>, DataflowError> {
        let data = &batch.data;
        let spans: Vec<Vec<(usize, usize)>> = self
            .lists
            .iter()
            .map(|i| spans(data.column(*i)))
            .collect::<Result<_, _>>()?;
        // Which input row each output row repeats, and its position in the arrays.
        let mut rows: Vec<u32> = Vec::new();
        let mut positions: Vec<usize> = Vec::new();
        for r in 0..data.num_rows() {
            let n = spans.iter().map(|s| s[r].1).max().unwrap_or(0);
            for k in 0..n {
                rows.push(r as u32);
                positions.push(k);
            }
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let row_indices = UInt32Array::from(rows.clone());
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.dependency.len());
        for (j, dep) in self.dependency.iter().enumerate() {
            let col = data.column(*dep);
            let out = match self.lists.iter().position(|l| l == dep) {
                Some(li) if self.output.field(j).data_type() != col.data_type() => {
                    let s = &spans[li];
                    let element: UInt32Array = rows
                        .iter()
                        .zip(&positions)
                        .map(|(r, k)| {
                            let (offset, len) = s[*r as usize];
                            (*k < len).then_some((offset + k) as u32)
                        })
                        .collect();
                    take(values(col).as_ref(), &element, None)?
                }
                _ => take(col.as_ref(), &row_indices, None)?,
            };
            columns.push(out);
        }
        let mut fields: Vec<_> = self.output.fields().iter().cloned().collect();
        for i in self.hidden..data.num_columns() {
            fields.push(data.schema().field(i).clone().into());
            columns.push(take(data.column(i).as_ref(), &row_indices, None)?);
        }
        let schema = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
        let data = RecordBatch::try_new(schema, columns)?;
        let changes = match &batch.changes {
            Some(c) => Some(
                take(c, &row_indices, None)?
                    .as_any()
                    .downcast_ref::<Int8Array>()
                    .cloned()
                    .ok_or_else(|| DataflowError::Plan("bad change column".into()))?,
            ),
            None => None,
        };
        let origin = match &batch.origin {
            Some(o) => Some(o.take(&row_indices)?),
            None => None,
        };
        Ok(vec![Batch {
            data,
            changes,
            origin,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, ListArray, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
    use std::sync::Arc;

    #[test]
    fn one_row_per_element_padded_to_the_longest_array() {
        let a = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(2), Some(3)]),
            None,
            Some(vec![]),
            Some(vec![Some(9)]),
        ]);
        let b = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(10)]),
            Some(vec![Some(20)]),
            None,
            None,
        ]);
        let k = StringArray::from(vec!["a", "b", "c", "d"]);
        let input = Arc::new(Schema::new(vec![
            Field::new("K", DataType::Utf8, true),
            Field::new("A", a.data_type().clone(), true),
            Field::new("B", b.data_type().clone(), true),
        ]));
        let output = Arc::new(Schema::new(vec![
            Field::new("K", DataType::Utf8, true),
            Field::new("A", DataType::Int32, true),
            Field::new("B", DataType::Int32, true),
        ]));
        let batch =
            RecordBatch::try_new(input, vec![Arc::new(k), Arc::new(a), Arc::new(b)]).unwrap();
        let mut op = Explode::new(vec![1, 2], vec![0, 1, 2], output, 3);
        let out = op.process_batch(Batch::inserts(batch)).unwrap();
        let d = &out[0].data;
        let keys: Vec<&str> = d.column(0).as_string::<i32>().iter().flatten().collect();
        assert_eq!(keys, vec!["a", "a", "a", "b", "d"]);
        let a: Vec<Option<i32>> = d
            .column(1)
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(a, vec![Some(1), Some(2), Some(3), None, Some(9)]);
        let b: Vec<Option<i32>> = d
            .column(2)
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(b, vec![Some(10), None, None, Some(20), None]);
    }
}
