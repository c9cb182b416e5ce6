//! ksqlDB's collection functions DataFusion lacks: `AS_MAP`, `ENTRIES`, `MAP_UNION`, `SLICE`,
//! and the math function `SIGN`.
//!
//! - `AS_MAP(keys ARRAY<STRING>, values ARRAY<V>)`: a map of `keys[i]` to `values[i]` (null
//!   where `values` is shorter; a later duplicate key wins); null when either array is null.
//! - `ENTRIES(map MAP<STRING, V>, sorted BOOLEAN)`: an array of `STRUCT<K, V>`, sorted by key when
//!   asked; null for a null map.
//! - `MAP_UNION(m1, m2)`: both maps' entries, `m2` winning on equal keys; null when both are null.
//! - `SLICE(array, from, to)`: elements `from..=to` (1-based; a null bound means the array's
//!   start or end); null when the bounds fall outside the array (ksqlDB's `subList` failing).
//! - `SIGN(x)`: -1, 0 or 1 as INTEGER (NaN gives 0).
//!
//! Each works a batch at a time: element indices are collected per row and the output built
//! with one `take` over the input values (any element type), no per-element scalars.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, ListArray, MapArray, StructArray, UInt32Array,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::{cast, concat, take};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::ksql_type::not_accepted;

/// The functions of this module.
pub(crate) fn functions() -> Vec<Arc<ScalarUDF>> {
    [
        Func::AsMap,
        Func::Entries,
        Func::MapUnion,
        Func::Slice,
        Func::Sign,
    ]
    .into_iter()
    .map(|f| Arc::new(ScalarUDF::new_from_impl(CollectionUdf::new(f))))
    .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Func {
    AsMap,
    Entries,
    MapUnion,
    Slice,
    Sign,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CollectionUdf {
    func: Func,
    signature: Signature,
}

impl CollectionUdf {
    fn new(func: Func) -> Self {
        CollectionUdf {
            func,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn ksql_name(&self) -> &'static str {
        match self.func {
            Func::AsMap => "AS_MAP",
            Func::Entries => "ENTRIES",
            Func::MapUnion => "MAP_UNION",
            Func::Slice => "SLICE",
            Func::Sign => "SIGN",
        }
    }

    fn refuse<T>(&self, args: &[DataType]) -> Result<T> {
        Err(not_accepted(self.ksql_name(), args))
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_int(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::Null
    )
}

fn string_map(value: DataType) -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(Fields::from(vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", value, true),
            ])),
            false,
        )),
        false,
    )
}

fn map_value_type(t: &DataType) -> Option<&DataType> {
    match t {
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 && is_string(kv[0].data_type()) => {
                Some(kv[1].data_type())
            }
            _ => None,
        },
        _ => None,
    }
}

impl ScalarUDFImpl for CollectionUdf {
    fn name(&self) -> &str {
        match self.func {
            Func::AsMap => "as_map",
            Func::Entries => "entries",
            Func::MapUnion => "map_union",
            Func::Slice => "slice",
            Func::Sign => "sign",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match (self.func, args) {
            (Func::AsMap, [DataType::List(kf), v @ DataType::List(_)])
                if is_string(kf.data_type()) || kf.data_type() == &DataType::Null =>
            {
                Ok(vec![
                    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                    v.clone(),
                ])
            }
            (Func::Entries, [m, DataType::Boolean | DataType::Null])
                if map_value_type(m).is_some() =>
            {
                Ok(vec![m.clone(), DataType::Boolean])
            }
            (Func::MapUnion, [a, b]) => match (map_value_type(a), map_value_type(b)) {
                (Some(x), Some(y)) if x == y => Ok(vec![a.clone(), b.clone()]),
                (Some(_), _) if b == &DataType::Null => Ok(vec![a.clone(), a.clone()]),
                (_, Some(_)) if a == &DataType::Null => Ok(vec![b.clone(), b.clone()]),
                _ => self.refuse(args),
            },
            (Func::Slice, [l @ DataType::List(_), from, to]) if is_int(from) && is_int(to) => {
                Ok(vec![l.clone(), DataType::Int32, DataType::Int32])
            }
            (Func::Sign, [t]) if t.is_numeric() || t == &DataType::Null => Ok(vec![match t {
                DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => {
                    DataType::Float64
                }
                _ => DataType::Int64,
            }]),
            _ => self.refuse(args),
        }
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(match (self.func, args) {
            (Func::AsMap, [_, DataType::List(v)]) => string_map(v.data_type().clone()),
            (Func::Entries, [m, _]) => {
                let v = map_value_type(m).cloned().unwrap_or(DataType::Null);
                DataType::List(Arc::new(Field::new(
                    "item",
                    DataType::Struct(Fields::from(vec![
                        Field::new("K", DataType::Utf8, true),
                        Field::new("V", v, true),
                    ])),
                    true,
                )))
            }
            (Func::MapUnion, [a, _]) => a.clone(),
            (Func::Slice, [l, _, _]) => l.clone(),
            (Func::Sign, _) => DataType::Int32,
            _ => return self.refuse(args),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out = match self.func {
            Func::AsMap => as_map(&arrays[0], &arrays[1], args.return_type())?,
            Func::Entries => entries(&arrays[0], &arrays[1], args.return_type())?,
            Func::MapUnion => map_union(&arrays[0], &arrays[1])?,
            Func::Slice => slice(&arrays[0], &arrays[1], &arrays[2])?,
            Func::Sign => sign(&arrays[0])?,
        };
        debug_assert_eq!(out.len(), rows);
        Ok(ColumnarValue::Array(out))
    }
}

fn entries_field(map_type: &DataType) -> Result<Arc<Field>> {
    match map_type {
        DataType::Map(f, _) => Ok(f.clone()),
        other => exec_err!("expected a MAP type, got {other}"),
    }
}

/// Per output row (None: a null map): its entries as (key index, value index or None for a
/// null value) into the key and value pools.
type RowEntries = Vec<Option<Vec<(u32, Option<u32>)>>>;

/// Builds maps from per-row (key index, value index) lists into `keys` / `values`.
fn build_map(
    map_type: &DataType,
    keys: &dyn Array,
    values: &dyn Array,
    per_row: RowEntries,
) -> Result<ArrayRef> {
    let entries = entries_field(map_type)?;
    let fields = match entries.data_type() {
        DataType::Struct(f) => f.clone(),
        other => return exec_err!("malformed MAP entries {other}"),
    };
    let mut key_idx = Vec::new();
    let mut value_idx = Vec::new();
    let mut lengths = Vec::with_capacity(per_row.len());
    let mut valid = Vec::with_capacity(per_row.len());
    for row in per_row {
        match row {
            Some(pairs) => {
                lengths.push(pairs.len());
                valid.push(true);
                for (k, v) in pairs {
                    key_idx.push(k);
                    value_idx.push(v);
                }
            }
            None => {
                lengths.push(0);
                valid.push(false);
            }
        }
    }
    let k = take(keys, &UInt32Array::from(key_idx), None)?;
    let k = cast(&k, fields[0].data_type())?;
    let v = take(values, &UInt32Array::from(value_idx), None)?;
    let v = cast(&v, fields[1].data_type())?;
    let entries_array = StructArray::try_new(fields, vec![k, v], None)?;
    Ok(Arc::new(MapArray::try_new(
        entries,
        OffsetBuffer::from_lengths(lengths),
        entries_array,
        Some(NullBuffer::from(valid)),
        false,
    )?))
}

fn as_map(keys: &ArrayRef, values: &ArrayRef, ret: &DataType) -> Result<ArrayRef> {
    let (k, v) = (keys.as_list::<i32>(), values.as_list::<i32>());
    let key_strings = cast(k.values(), &DataType::Utf8)?;
    let key_strings = key_strings.as_string::<i32>();
    let mut per_row = Vec::with_capacity(k.len());
    for r in 0..k.len() {
        if k.is_null(r) || v.is_null(r) {
            per_row.push(None);
            continue;
        }
        let (ks, ke) = (k.offsets()[r] as usize, k.offsets()[r + 1] as usize);
        let (vs, ve) = (v.offsets()[r] as usize, v.offsets()[r + 1] as usize);
        // Later duplicates win; a null key is dropped (a map key cannot be null).
        let mut order: Vec<&str> = Vec::new();
        let mut at: HashMap<&str, (u32, Option<u32>)> = HashMap::new();
        for (j, i) in (ks..ke).enumerate() {
            if key_strings.is_null(i) {
                continue;
            }
            let key = key_strings.value(i);
            let value = (vs + j < ve).then_some((vs + j) as u32);
            if at.insert(key, (i as u32, value)).is_none() {
                order.push(key);
            }
        }
        per_row.push(Some(order.iter().map(|key| at[key]).collect()));
    }
    build_map(ret, key_strings, v.values().as_ref(), per_row)
}

fn entries(maps: &ArrayRef, sorted: &ArrayRef, ret: &DataType) -> Result<ArrayRef> {
    let m = maps.as_map();
    let sorted = sorted.as_boolean();
    let keys = cast(m.keys(), &DataType::Utf8)?;
    let key_strings = keys.as_string::<i32>();
    let mut idx = Vec::new();
    let mut lengths = Vec::with_capacity(m.len());
    let mut valid = Vec::with_capacity(m.len());
    for r in 0..m.len() {
        if m.is_null(r) {
            lengths.push(0);
            valid.push(false);
            continue;
        }
        let range: Vec<u32> = (m.offsets()[r] as u32..m.offsets()[r + 1] as u32).collect();
        let mut range = range;
        if sorted.is_valid(r) && sorted.value(r) {
            range.sort_by(|a, b| {
                key_strings
                    .value(*a as usize)
                    .cmp(key_strings.value(*b as usize))
            });
        }
        lengths.push(range.len());
        valid.push(true);
        idx.extend(range);
    }
    let idx = UInt32Array::from(idx);
    let DataType::List(item) = ret else {
        return exec_err!("ENTRIES returns an ARRAY");
    };
    let DataType::Struct(fields) = item.data_type() else {
        return exec_err!("ENTRIES returns an ARRAY of STRUCT");
    };
    let k = take(&keys, &idx, None)?;
    let v = cast(
        &take(m.values().as_ref(), &idx, None)?,
        fields[1].data_type(),
    )?;
    let structs = StructArray::try_new(fields.clone(), vec![k, v], None)?;
    Ok(Arc::new(ListArray::try_new(
        item.clone(),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(structs),
        Some(NullBuffer::from(valid)),
    )?))
}

fn map_union(a: &ArrayRef, b: &ArrayRef) -> Result<ArrayRef> {
    let ret = a.data_type().clone();
    let (ma, mb) = (a.as_map(), b.as_map());
    let ka = cast(ma.keys(), &DataType::Utf8)?;
    let kb = cast(mb.keys(), &DataType::Utf8)?;
    // One pool of keys and values: a's entries, then b's.
    let keys = concat(&[ka.as_ref(), kb.as_ref()])?;
    let values = concat(&[ma.values().as_ref(), mb.values().as_ref()])?;
    let key_strings = keys.as_string::<i32>();
    let shift = ka.len() as u32;
    let mut per_row = Vec::with_capacity(ma.len());
    for r in 0..ma.len() {
        if ma.is_null(r) && mb.is_null(r) {
            per_row.push(None);
            continue;
        }
        let mut order: Vec<&str> = Vec::new();
        let mut at: HashMap<&str, (u32, Option<u32>)> = HashMap::new();
        let mut add = |range: std::ops::Range<u32>| {
            for i in range {
                let key = key_strings.value(i as usize);
                if at.insert(key, (i, Some(i))).is_none() {
                    order.push(key);
                }
            }
        };
        if ma.is_valid(r) {
            add(ma.offsets()[r] as u32..ma.offsets()[r + 1] as u32);
        }
        if mb.is_valid(r) {
            add(mb.offsets()[r] as u32 + shift..mb.offsets()[r + 1] as u32 + shift);
        }
        per_row.push(Some(order.iter().map(|key| at[key]).collect()));
    }
    build_map(&ret, keys.as_ref(), values.as_ref(), per_row)
}

fn slice(lists: &ArrayRef, from: &ArrayRef, to: &ArrayRef) -> Result<ArrayRef> {
    let l = lists.as_list::<i32>();
    use datafusion::arrow::datatypes::Int32Type;
    let (from, to) = (
        from.as_primitive::<Int32Type>(),
        to.as_primitive::<Int32Type>(),
    );
    let mut idx = Vec::new();
    let mut lengths = Vec::with_capacity(l.len());
    let mut valid = Vec::with_capacity(l.len());
    for r in 0..l.len() {
        let (s, e) = (l.offsets()[r] as i64, l.offsets()[r + 1] as i64);
        let len = e - s;
        let start = if from.is_null(r) {
            0
        } else {
            from.value(r) as i64 - 1
        };
        let end = if to.is_null(r) {
            len
        } else {
            to.value(r) as i64
        };
        // Java's subList: 0 <= start <= end <= size, else null.
        if l.is_null(r) || start < 0 || end > len || start > end {
            lengths.push(0);
            valid.push(false);
            continue;
        }
        idx.extend((s + start) as u32..(s + end) as u32);
        lengths.push((end - start) as usize);
        valid.push(true);
    }
    let DataType::List(item) = lists.data_type() else {
        return exec_err!("SLICE expects an ARRAY");
    };
    let values = take(l.values().as_ref(), &UInt32Array::from(idx), None)?;
    Ok(Arc::new(ListArray::try_new(
        item.clone(),
        OffsetBuffer::from_lengths(lengths),
        values,
        Some(NullBuffer::from(valid)),
    )?))
}

fn sign(x: &ArrayRef) -> Result<ArrayRef> {
    let out: Int32Array = match x.data_type() {
        DataType::Float64 => x
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .iter()
            .map(|v| {
                v.map(|v| {
                    if v > 0.0 {
                        1
                    } else if v < 0.0 {
                        -1
                    } else {
                        0
                    }
                })
            })
            .collect(),
        DataType::Int64 => x
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .iter()
            .map(|v| v.map(|v| v.signum() as i32))
            .collect(),
        DataType::Null => Int32Array::new_null(x.len()),
        other => return exec_err!("SIGN of {other}"),
    };
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{string_int_maps, MapRows};
    use datafusion::arrow::array::{BooleanArray, StringArray, StringBuilder};
    use datafusion::arrow::datatypes::Int32Type;
    use datafusion::arrow::util::display::array_value_to_string;

    fn call(func: Func, args: Vec<ArrayRef>) -> ArrayRef {
        let udf = CollectionUdf::new(func);
        let types: Vec<DataType> = args.iter().map(|a| a.data_type().clone()).collect();
        let coerced = udf.coerce_types(&types).unwrap();
        let args: Vec<ArrayRef> = args
            .iter()
            .zip(&coerced)
            .map(|(a, t)| cast(a, t).unwrap())
            .collect();
        let ret = udf.return_type(&coerced).unwrap();
        let n = args[0].len();
        udf.invoke_with_args(ScalarFunctionArgs {
            arg_fields: args
                .iter()
                .map(|a| Arc::new(Field::new("a", a.data_type().clone(), true)))
                .collect(),
            args: args.into_iter().map(ColumnarValue::Array).collect(),
            number_rows: n,
            return_field: Arc::new(Field::new("r", ret, true)),
            config_options: Arc::new(Default::default()),
        })
        .unwrap()
        .into_array(n)
        .unwrap()
    }

    fn show(a: &ArrayRef) -> Vec<String> {
        (0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    "NULL".to_string()
                } else {
                    array_value_to_string(a, i).unwrap()
                }
            })
            .collect()
    }

    fn strings(rows: Vec<Option<Vec<Option<&str>>>>) -> ArrayRef {
        let mut b = datafusion::arrow::array::ListBuilder::new(StringBuilder::new());
        for r in rows {
            match r {
                Some(items) => {
                    for i in items {
                        b.values().append_option(i);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Arc::new(b.finish())
    }

    fn ints(rows: Vec<Option<Vec<Option<i32>>>>) -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(rows))
    }

    fn maps(rows: MapRows<'_>) -> ArrayRef {
        string_int_maps(rows)
    }

    #[test]
    fn as_map_pairs_keys_with_values() {
        let out = call(
            Func::AsMap,
            vec![
                strings(vec![
                    Some(vec![Some("a"), Some("b"), Some("a")]),
                    Some(vec![Some("x"), Some("y")]),
                    None,
                ]),
                ints(vec![
                    Some(vec![Some(1), Some(2), Some(3)]),
                    Some(vec![Some(9)]),
                    Some(vec![]),
                ]),
            ],
        );
        assert_eq!(show(&out), ["{a: 3, b: 2}", "{x: 9, y: }", "NULL"]);
    }

    #[test]
    fn entries_sorted_and_not() {
        let m = maps(vec![Some(vec![("b", Some(2)), ("a", Some(1))]), None]);
        let yes: ArrayRef = Arc::new(BooleanArray::from(vec![true, true]));
        let no: ArrayRef = Arc::new(BooleanArray::from(vec![false, false]));
        assert_eq!(
            show(&call(Func::Entries, vec![m.clone(), yes])),
            ["[{K: a, V: 1}, {K: b, V: 2}]", "NULL"]
        );
        assert_eq!(
            show(&call(Func::Entries, vec![m, no])),
            ["[{K: b, V: 2}, {K: a, V: 1}]", "NULL"]
        );
    }

    #[test]
    fn map_union_prefers_the_second_map() {
        let a = maps(vec![Some(vec![("a", Some(1)), ("b", Some(2))]), None, None]);
        let b = maps(vec![
            Some(vec![("b", Some(20)), ("c", Some(30))]),
            Some(vec![("z", None)]),
            None,
        ]);
        assert_eq!(
            show(&call(Func::MapUnion, vec![a, b])),
            ["{a: 1, b: 20, c: 30}", "{z: }", "NULL"]
        );
    }

    #[test]
    fn slice_is_one_based_and_inclusive() {
        let l = ints(vec![
            Some(vec![Some(1), Some(2), Some(3), Some(4)]),
            Some(vec![Some(1), Some(2), Some(3), Some(4)]),
            Some(vec![Some(1), Some(2)]),
            None,
        ]);
        let from: ArrayRef = Arc::new(Int32Array::from(vec![Some(2), None, Some(1), Some(1)]));
        let to: ArrayRef = Arc::new(Int32Array::from(vec![Some(3), Some(2), Some(5), Some(1)]));
        assert_eq!(
            show(&call(Func::Slice, vec![l, from, to])),
            ["[2, 3]", "[1, 2]", "NULL", "NULL"]
        );
    }

    #[test]
    fn sign_of_numbers() {
        let x: ArrayRef = Arc::new(Int32Array::from(vec![Some(-5), Some(0), Some(7), None]));
        assert_eq!(show(&call(Func::Sign, vec![x])), ["-1", "0", "1", "NULL"]);
        let d: ArrayRef = Arc::new(datafusion::arrow::array::Float64Array::from(vec![
            -0.5,
            f64::NAN,
        ]));
        assert_eq!(show(&call(Func::Sign, vec![d])), ["-1", "0"]);
        let bad: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
        let udf = CollectionUdf::new(Func::Sign);
        assert!(udf.coerce_types(&[bad.data_type().clone()]).is_err());
    }
}
