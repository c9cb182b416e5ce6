//! `ksql_cube(array)`: the combinations ksqlDB's table function `CUBE_EXPLODE(array)` emits, as
//! one array of arrays per row. The planner writes `CUBE_EXPLODE(a)` as
//! `UNNEST(ksql_cube(a))`, so the rows come out of the same vectorized explode operator as
//! `EXPLODE`'s.
//!
//! For an array of `n` elements of which `k` are not null there are `2^k` combinations: each
//! non-null element is either kept or replaced by null (null elements stay null, so no
//! combination repeats). They come in ksqlDB's order: binary counting with the first element as
//! the most significant bit, "replaced by null" before "kept" (`[1, 2]` gives `[null, null]`,
//! `[null, 2]`, `[1, null]`, `[1, 2]`). A null array gives no rows (an empty array of
//! combinations).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, ListArray, UInt32Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// More non-null elements than this would make over a million rows from one input row.
const MAX_NON_NULL: u32 = 20;

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Cube {
    signature: Signature,
}

impl Cube {
    pub(crate) fn new() -> Self {
        Cube {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Cube {
    fn name(&self) -> &str {
        "ksql_cube"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t @ DataType::List(_)] => Ok(DataType::List(Arc::new(Field::new(
                "item",
                t.clone(),
                true,
            )))),
            [_] => Err(crate::ksql_type::not_accepted("CUBE_EXPLODE", arg_types)),
            _ => plan_err!("Function 'CUBE_EXPLODE' takes one argument"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("CUBE_EXPLODE takes one argument");
        };
        let input = arg.to_array(args.number_rows)?;
        let DataType::List(item) = input.data_type() else {
            return exec_err!("CUBE_EXPLODE expects an ARRAY");
        };
        let lists = input.as_list::<i32>();
        let values = lists.values();
        let offsets = lists.offsets();
        // Per input row: 2^k inner arrays of n elements each; element indices into `values`
        // (None for a replaced or null element).
        let mut indices: Vec<Option<u32>> = Vec::new();
        let mut inner_lengths: Vec<usize> = Vec::new();
        let mut outer_lengths: Vec<usize> = Vec::with_capacity(lists.len());
        for row in 0..lists.len() {
            if lists.is_null(row) {
                outer_lengths.push(0);
                continue;
            }
            let range = offsets[row] as usize..offsets[row + 1] as usize;
            let k = range.clone().filter(|&i| values.is_valid(i)).count() as u32;
            if k > MAX_NON_NULL {
                return exec_err!(
                    "CUBE_EXPLODE: an array with {k} non-null elements would give 2^{k} rows \
                     (at most {MAX_NON_NULL} non-null elements are supported)"
                );
            }
            let combos = 1usize << k;
            outer_lengths.push(combos);
            for combo in 0..combos {
                // Bit (k - 1 - j) of `combo` keeps the j-th non-null element.
                let mut bit = k as usize;
                for i in range.clone() {
                    let kept = if values.is_valid(i) {
                        bit -= 1;
                        combo >> bit & 1 == 1
                    } else {
                        false
                    };
                    indices.push(kept.then_some(i as u32));
                }
                inner_lengths.push(range.len());
            }
        }
        let elements = take(values.as_ref(), &UInt32Array::from(indices), None)?;
        let inner = ListArray::try_new(
            item.clone(),
            OffsetBuffer::from_lengths(inner_lengths),
            elements,
            None,
        )?;
        let outer = ListArray::try_new(
            Arc::new(Field::new("item", input.data_type().clone(), true)),
            OffsetBuffer::from_lengths(outer_lengths),
            Arc::new(inner),
            None,
        )?;
        Ok(ColumnarValue::Array(Arc::new(outer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Int32Type;

    fn cube(rows: Vec<Option<Vec<Option<i32>>>>) -> Vec<Vec<Vec<Option<i32>>>> {
        let input = ListArray::from_iter_primitive::<Int32Type, _, _>(rows);
        let n = input.len();
        let out = Cube::new()
            .invoke_with_args(ScalarFunctionArgs {
                args: vec![ColumnarValue::Array(Arc::new(input.clone()))],
                arg_fields: vec![Arc::new(Field::new("a", input.data_type().clone(), true))],
                number_rows: n,
                return_field: Arc::new(Field::new(
                    "r",
                    Cube::new()
                        .return_type(&[input.data_type().clone()])
                        .unwrap(),
                    true,
                )),
                config_options: Arc::new(Default::default()),
            })
            .unwrap()
            .into_array(n)
            .unwrap();
        let outer = out.as_list::<i32>();
        (0..n)
            .map(|r| {
                let combos = outer.value(r);
                let combos = combos.as_list::<i32>();
                (0..combos.len())
                    .map(|c| {
                        let inner = combos.value(c);
                        inner.as_primitive::<Int32Type>().iter().collect::<Vec<_>>()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn combinations_in_ksqldb_order() {
        let got = cube(vec![
            Some(vec![Some(1), Some(2)]),
            Some(vec![Some(1), None]),
            None,
            Some(vec![]),
        ]);
        assert_eq!(
            got[0],
            vec![
                vec![None, None],
                vec![None, Some(2)],
                vec![Some(1), None],
                vec![Some(1), Some(2)]
            ]
        );
        assert_eq!(got[1], vec![vec![None, None], vec![Some(1), None]]);
        assert!(got[2].is_empty());
        assert_eq!(got[3], vec![Vec::<Option<i32>>::new()]);
    }
}
