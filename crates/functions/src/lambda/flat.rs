//! Collections flattened for lambda evaluation, and collections rebuilt from flat columns.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, ListArray, MapArray, StructArray, UInt32Array,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, FieldRef, Fields};
use datafusion::common::{exec_err, Result};

/// The elements of a batch's collections (arrays or maps), one row per element of a non-null
/// collection.
pub(crate) struct Flat {
    /// Element columns: `[item]` for arrays, `[key, value]` for maps.
    pub columns: Vec<ArrayRef>,
    /// Row `r`'s elements are `offsets[r]..offsets[r + 1]` of `columns`; starts at 0.
    pub offsets: OffsetBuffer<i32>,
    /// The collections' nulls (a null collection has no elements here).
    pub nulls: Option<NullBuffer>,
}

impl Flat {
    /// Flattens an array of `ARRAY`s or `MAP`s.
    pub(crate) fn of(array: &dyn Array) -> Result<Flat> {
        let (offsets, nulls, children) = match array.data_type() {
            DataType::List(_) => {
                let l = array.as_list::<i32>();
                (l.offsets(), l.nulls(), vec![l.values().clone()])
            }
            DataType::Map(..) => {
                let m = array.as_map();
                (
                    m.offsets(),
                    m.nulls(),
                    vec![m.keys().clone(), m.values().clone()],
                )
            }
            other => return exec_err!("expected an ARRAY or a MAP, got {other}"),
        };
        let rows = array.len();
        let hidden =
            nulls.is_some_and(|n| (0..rows).any(|r| n.is_null(r) && offsets[r + 1] > offsets[r]));
        if !hidden {
            let start = offsets[0];
            let end = offsets[rows];
            let columns = children
                .iter()
                .map(|c| c.slice(start as usize, (end - start) as usize))
                .collect();
            let shifted = OffsetBuffer::new(offsets.iter().map(|o| o - start).collect());
            return Ok(Flat {
                columns,
                offsets: shifted,
                nulls: nulls.cloned(),
            });
        }
        // Null collections whose slots still hold elements: keep only the valid rows' elements.
        let mut indices = Vec::with_capacity((offsets[rows] - offsets[0]) as usize);
        let mut lengths = Vec::with_capacity(rows);
        for r in 0..rows {
            if nulls.is_some_and(|n| n.is_null(r)) {
                lengths.push(0);
            } else {
                indices.extend(offsets[r] as u32..offsets[r + 1] as u32);
                lengths.push((offsets[r + 1] - offsets[r]) as usize);
            }
        }
        let indices = UInt32Array::from(indices);
        let columns = children
            .iter()
            .map(|c| Ok(take(c.as_ref(), &indices, None)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(Flat {
            columns,
            offsets: OffsetBuffer::from_lengths(lengths),
            nulls: nulls.cloned(),
        })
    }

    /// Number of collections (input rows).
    pub(crate) fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of elements over all rows.
    pub(crate) fn elements(&self) -> usize {
        *self.offsets.last().unwrap_or(&0) as usize
    }

    /// Row `r`'s element range.
    pub(crate) fn range(&self, r: usize) -> std::ops::Range<usize> {
        self.offsets[r] as usize..self.offsets[r + 1] as usize
    }

    /// The row each element belongs to (to repeat captured columns per element).
    pub(crate) fn parents(&self) -> UInt32Array {
        let mut out = Vec::with_capacity(self.elements());
        for r in 0..self.rows() {
            out.extend(std::iter::repeat_n(r as u32, self.range(r).len()));
        }
        UInt32Array::from(out)
    }
}

/// `ARRAY`s of `items` (element type from `item`).
pub(crate) fn list(
    item: FieldRef,
    offsets: OffsetBuffer<i32>,
    items: ArrayRef,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef> {
    Ok(Arc::new(ListArray::try_new(item, offsets, items, nulls)?))
}

/// `MAP`s of `keys` to `values` under the `entries` field of the map type.
pub(crate) fn map(
    entries: FieldRef,
    offsets: OffsetBuffer<i32>,
    keys: ArrayRef,
    values: ArrayRef,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef> {
    let fields: Fields = match entries.data_type() {
        DataType::Struct(f) => f.clone(),
        other => return exec_err!("malformed MAP entries type {other}"),
    };
    let entries_array = StructArray::try_new(fields, vec![keys, values], None)?;
    Ok(Arc::new(MapArray::try_new(
        entries,
        offsets,
        entries_array,
        nulls,
        false,
    )?))
}
