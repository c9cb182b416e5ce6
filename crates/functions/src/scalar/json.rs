//! ksqlDB's JSON functions, as DataFusion scalar UDFs over Arrow arrays.
//!
//! | KSQL                              | returns              | Arrow                  |
//! |-----------------------------------|----------------------|------------------------|
//! | `TO_JSON_STRING(any)`             | STRING               | Utf8                   |
//! | `EXTRACTJSONFIELD(json, path)`    | STRING               | Utf8                   |
//! | `IS_JSON_STRING(json)`            | BOOLEAN              | Boolean                |
//! | `JSON_ARRAY_LENGTH(json)`         | INT                  | Int32                  |
//! | `JSON_CONCAT(json, ...)`          | STRING               | Utf8                   |
//! | `JSON_KEYS(json)`                 | ARRAY<STRING>        | List<Utf8>             |
//! | `JSON_RECORDS(json)`              | MAP<STRING, STRING>  | Map<Utf8, Utf8>        |
//! | `JSON_ITEMS(json)`                | ARRAY<STRING>        | List<Utf8>             |
//! | `JSON_ARRAY_CONTAINS(json, any)`  | BOOLEAN              | Boolean                |
//!
//! ksqlDB parses with Jackson (`readTree`, floats as exact `BigDecimal`s), and the behaviour
//! kept here is Jackson's:
//! - strict JSON (no comments, single quotes, `NaN`, leading zeros or trailing commas), at most
//!   1000 levels of nesting; content after the first value is not read, except that a number at
//!   the root must be followed by white space or the end;
//! - an empty (or blank) string is "no value": not valid JSON for `IS_JSON_STRING`, a null
//!   result elsewhere;
//! - objects keep their keys in document order, a repeated key keeps its first position and
//!   its last value;
//! - numbers keep their text: `1.0` stays `1.0`. Where ksqlDB prints a parsed value with
//!   `JsonNode.toString` (EXTRACTJSONFIELD, JSON_RECORDS, JSON_ITEMS) an exponent is kept as
//!   `BigDecimal.toString` writes it (`1E+3`); where it writes with its mapper (JSON_CONCAT)
//!   decimals are written plain (`1000`);
//! - strings are written with Jackson's escapes (`\n`, `\"`, `\u001F`; non-ASCII as is).
//!
//! Null handling follows ksqlDB: a null argument gives a null result, except `IS_JSON_STRING`
//! (false) and `TO_JSON_STRING` (the text `null`). Text that is not JSON gives a null result
//! and is reported on the `sluice::processing_log` target (ksqlDB's "Invalid JSON format"),
//! except for `IS_JSON_STRING` (false) and `JSON_ARRAY_CONTAINS` (false), which do not report.
//!
//! `TO_JSON_STRING` writes structs and maps with their keys sorted (ksqlDB builds a `TreeMap`),
//! DATE as `yyyy-MM-dd`, TIME as `LocalTime.toString` of whole seconds (`HH:mm`, or `HH:mm:ss`
//! when the seconds are not zero), TIMESTAMP as `yyyy-MM-dd'T'HH:mm:ss.SSS` in UTC, BYTES as
//! base64, DECIMAL plain, DOUBLE as Java's `Double.toString` (`NaN`/`Infinity` quoted).

use crate::ksql_type::ksql_type_name;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, ListArray, MapArray, StringArray,
    StringBuilder, StructArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Decimal32Type, Decimal64Type,
    Field, FieldRef, Fields, Float16Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Every function of this module, for registration.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    Kind::ALL
        .iter()
        .map(|k| Arc::new(ScalarUDF::new_from_impl(JsonUdf::new(*k))))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The UDFs
// ---------------------------------------------------------------------------------------------

/// Which JSON function a [`JsonUdf`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    ToJsonString,
    ExtractJsonField,
    IsJsonString,
    JsonArrayLength,
    JsonConcat,
    JsonKeys,
    JsonRecords,
    JsonItems,
    JsonArrayContains,
}

impl Kind {
    const ALL: [Kind; 9] = [
        Kind::ToJsonString,
        Kind::ExtractJsonField,
        Kind::IsJsonString,
        Kind::JsonArrayLength,
        Kind::JsonConcat,
        Kind::JsonKeys,
        Kind::JsonRecords,
        Kind::JsonItems,
        Kind::JsonArrayContains,
    ];

    /// The registered (lower case) name.
    fn name(self) -> &'static str {
        match self {
            Kind::ToJsonString => "to_json_string",
            Kind::ExtractJsonField => "extractjsonfield",
            Kind::IsJsonString => "is_json_string",
            Kind::JsonArrayLength => "json_array_length",
            Kind::JsonConcat => "json_concat",
            Kind::JsonKeys => "json_keys",
            Kind::JsonRecords => "json_records",
            Kind::JsonItems => "json_items",
            Kind::JsonArrayContains => "json_array_contains",
        }
    }

    /// The name ksqlDB uses in its messages (its `@UdfDescription` name).
    fn ksql_name(self) -> &'static str {
        match self {
            Kind::ToJsonString => "TO_JSON_STRING",
            Kind::ExtractJsonField => "extractjsonfield",
            Kind::IsJsonString => "IS_JSON_STRING",
            Kind::JsonArrayLength => "JSON_ARRAY_LENGTH",
            Kind::JsonConcat => "JSON_CONCAT",
            Kind::JsonKeys => "JSON_KEYS",
            Kind::JsonRecords => "JSON_RECORDS",
            Kind::JsonItems => "JSON_ITEMS",
            Kind::JsonArrayContains => "JSON_ARRAY_CONTAINS",
        }
    }

    /// The parameter list, as ksqlDB shows it under "Valid alternatives are:".
    fn params(self) -> &'static str {
        match self {
            Kind::ToJsonString => "T input",
            Kind::ExtractJsonField => "STRING input, STRING path",
            Kind::IsJsonString => "STRING input",
            Kind::JsonArrayLength => "STRING jsonArray",
            Kind::JsonConcat => "STRING... jsonStrings",
            Kind::JsonKeys | Kind::JsonRecords => "STRING jsonObj",
            Kind::JsonItems => "STRING jsonItems",
            Kind::JsonArrayContains => "STRING jsonArray, T val",
        }
    }

    fn return_type(self) -> DataType {
        match self {
            Kind::ToJsonString | Kind::ExtractJsonField | Kind::JsonConcat => DataType::Utf8,
            Kind::IsJsonString | Kind::JsonArrayContains => DataType::Boolean,
            Kind::JsonArrayLength => DataType::Int32,
            Kind::JsonKeys | Kind::JsonItems => DataType::List(list_item_field()),
            Kind::JsonRecords => DataType::Map(map_entries_field(), false),
        }
    }
}

/// The item field of ARRAY<STRING> results (as the catalog maps ARRAY<STRING>).
fn list_item_field() -> FieldRef {
    Arc::new(Field::new("item", DataType::Utf8, true))
}

/// The key and value fields of MAP<STRING, STRING> results (as the catalog maps MAP<K, V>).
fn map_kv_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, true),
    ])
}

fn map_entries_field() -> FieldRef {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(map_kv_fields()),
        false,
    ))
}

/// One ksqlDB JSON function as a DataFusion scalar UDF.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonUdf {
    kind: Kind,
    signature: Signature,
}

impl JsonUdf {
    fn new(kind: Kind) -> Self {
        JsonUdf {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn reject(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let given = arg_types
            .iter()
            .map(ksql_type_name)
            .collect::<Vec<_>>()
            .join(", ");
        plan_err!(
            "Function '{}' does not accept parameters ({given}).\nValid alternatives are:\n{}({})",
            self.kind.ksql_name(),
            self.kind.ksql_name(),
            self.kind.params()
        )
    }
}

fn is_string_type(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => true,
        DataType::Dictionary(_, v) => is_string_type(v),
        _ => false,
    }
}

impl ScalarUDFImpl for JsonUdf {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.kind.return_type())
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let strings = |n: usize| arg_types.len() == n && arg_types.iter().all(is_string_type);
        let ok = match self.kind {
            Kind::ToJsonString => {
                return if arg_types.len() == 1 {
                    Ok(arg_types.to_vec())
                } else {
                    self.reject(arg_types)
                }
            }
            Kind::ExtractJsonField => strings(2),
            Kind::IsJsonString
            | Kind::JsonArrayLength
            | Kind::JsonKeys
            | Kind::JsonRecords
            | Kind::JsonItems => strings(1),
            Kind::JsonConcat => !arg_types.is_empty() && arg_types.iter().all(is_string_type),
            Kind::JsonArrayContains => {
                return match arg_types {
                    [json, val] if is_string_type(json) => {
                        let val = if is_string_type(val) && *val != DataType::Null {
                            DataType::Utf8
                        } else {
                            val.clone()
                        };
                        Ok(vec![DataType::Utf8, val])
                    }
                    _ => self.reject(arg_types),
                }
            }
        };
        if ok {
            Ok(vec![DataType::Utf8; arg_types.len()])
        } else {
            self.reject(arg_types)
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let arrays = args
            .args
            .into_iter()
            .map(|a| a.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let mut log = ErrorLog::new(self.kind.ksql_name());
        let out = match self.kind {
            Kind::ToJsonString => to_json_string(&arrays, rows, &mut log)?,
            Kind::ExtractJsonField => extract_json_field(&arrays, rows, &mut log)?,
            Kind::IsJsonString => is_json_string(&arrays, rows)?,
            Kind::JsonArrayLength => json_array_length(&arrays, rows, &mut log)?,
            Kind::JsonConcat => json_concat(&arrays, rows, &mut log)?,
            Kind::JsonKeys => json_keys(&arrays, rows, &mut log)?,
            Kind::JsonRecords => json_records(&arrays, rows, &mut log)?,
            Kind::JsonItems => json_items(&arrays, rows, &mut log)?,
            Kind::JsonArrayContains => json_array_contains(&arrays, rows)?,
        };
        log.flush();
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// Collects a batch's row errors and logs them once, as ksqlDB's processing log would.
struct ErrorLog {
    function: &'static str,
    first: Option<String>,
    rows: usize,
}

impl ErrorLog {
    fn new(function: &'static str) -> Self {
        ErrorLog {
            function,
            first: None,
            rows: 0,
        }
    }

    fn record(&mut self, message: String) {
        self.rows += 1;
        if self.first.is_none() {
            self.first = Some(message);
        }
    }

    fn flush(&mut self) {
        if let Some(message) = self.first.take() {
            tracing::warn!(
                target: "sluice::processing_log",
                function = self.function,
                rows = self.rows,
                "{message}; the result is null"
            );
        }
        self.rows = 0;
    }
}

/// An argument as a Utf8 array (Utf8View, LargeUtf8, dictionaries and NULL are cast).
fn utf8(array: &ArrayRef) -> Result<StringArray> {
    let array = if *array.data_type() == DataType::Utf8 {
        Arc::clone(array)
    } else {
        cast(array, &DataType::Utf8)?
    };
    Ok(array.as_string::<i32>().clone())
}

/// The text of row `i`, or `None` when null.
fn text(array: &StringArray, i: usize) -> Option<&str> {
    array.is_valid(i).then(|| array.value(i))
}

/// Shortens a document for a log message.
fn excerpt(s: &str) -> &str {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s;
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Parses `doc`, recording ksqlDB's "Invalid JSON format" error when it is not JSON.
/// `Ok(None)` is an empty document (Jackson's missing node).
fn parse_logged(doc: &str, log: &mut ErrorLog) -> Option<Option<Json>> {
    match parse_document(doc) {
        Ok(v) => Some(v),
        Err(e) => {
            log.record(format!("Invalid JSON format:{} ({e})", excerpt(doc)));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The functions, over whole arrays
// ---------------------------------------------------------------------------------------------

fn to_json_string(arrays: &[ArrayRef], rows: usize, log: &mut ErrorLog) -> Result<ArrayRef> {
    let array = &arrays[0];
    let mut out = StringBuilder::with_capacity(rows, rows * 8);
    let mut buf = String::new();
    for row in 0..rows {
        buf.clear();
        match write_arrow(&mut buf, array.as_ref(), row) {
            Ok(()) => out.append_value(&buf),
            Err(e) => {
                log.record(format!("JSON serialization error: {e}"));
                out.append_null();
            }
        }
    }
    Ok(Arc::new(out.finish()))
}

fn extract_json_field(arrays: &[ArrayRef], rows: usize, log: &mut ErrorLog) -> Result<ArrayRef> {
    let docs = utf8(&arrays[0])?;
    let paths = utf8(&arrays[1])?;
    let mut out = StringBuilder::with_capacity(rows, rows * 8);
    // The tokens of the last path seen: a literal path is tokenized once per batch.
    let mut last: Option<(String, Result<Vec<String>, String>)> = None;
    for row in 0..rows {
        let (Some(doc), Some(path)) = (text(&docs, row), text(&paths, row)) else {
            out.append_null();
            continue;
        };
        if last.as_ref().map(|(p, _)| p.as_str()) != Some(path) {
            last = Some((path.to_string(), tokenize_path(path)));
        }
        let tokens = match last.as_ref().map(|(_, t)| t) {
            Some(Ok(tokens)) => tokens,
            Some(Err(e)) => {
                log.record(e.clone());
                out.append_null();
                continue;
            }
            None => {
                out.append_null();
                continue;
            }
        };
        match parse_logged(doc, log) {
            Some(parsed) => out.append_option(extract(parsed.as_ref(), tokens)),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn is_json_string(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let docs = utf8(&arrays[0])?;
    let out: BooleanArray = (0..rows)
        .map(|row| Some(text(&docs, row).is_some_and(|d| matches!(parse_document(d), Ok(Some(_))))))
        .collect();
    Ok(Arc::new(out))
}

fn json_array_length(arrays: &[ArrayRef], rows: usize, log: &mut ErrorLog) -> Result<ArrayRef> {
    let docs = utf8(&arrays[0])?;
    let out: Int32Array = (0..rows)
        .map(|row| match parse_logged(text(&docs, row)?, log)? {
            Some(Json::Arr(items)) => i32::try_from(items.len()).ok(),
            _ => None,
        })
        .collect();
    Ok(Arc::new(out))
}

fn json_concat(arrays: &[ArrayRef], rows: usize, log: &mut ErrorLog) -> Result<ArrayRef> {
    let columns = arrays.iter().map(utf8).collect::<Result<Vec<_>>>()?;
    let mut out = StringBuilder::with_capacity(rows, rows * 16);
    for row in 0..rows {
        out.append_option(concat_row(&columns, row, log));
    }
    Ok(Arc::new(out.finish()))
}

/// JSON_CONCAT of one row: objects are merged (the last value of a key wins, keys keep their
/// first position); otherwise arrays are concatenated, other values becoming one-item arrays.
fn concat_row(columns: &[StringArray], row: usize, log: &mut ErrorLog) -> Option<String> {
    let mut nodes = Vec::with_capacity(columns.len());
    for column in columns {
        let doc = text(column, row)?;
        nodes.push(parse_logged(doc, log)??);
    }
    let all_objects = nodes.iter().all(|n| matches!(n, Json::Obj(_)));
    let mut nodes = nodes.into_iter();
    let mut result = nodes.next()?;
    for node in nodes {
        result = match (result, node) {
            (Json::Obj(mut acc), Json::Obj(more)) if all_objects => {
                set_all(&mut acc, more);
                Json::Obj(acc)
            }
            (acc, node) => {
                let mut items = into_items(acc);
                items.extend(into_items(node));
                Json::Arr(items)
            }
        };
    }
    match plain_string(&result) {
        Ok(s) => Some(s),
        Err(e) => {
            log.record(format!("JSON serialization error: {e}"));
            None
        }
    }
}

fn into_items(node: Json) -> Vec<Json> {
    match node {
        Json::Arr(items) => items,
        other => vec![other],
    }
}

/// Jackson's `ObjectNode.setAll`: replaces the values of known keys in place, appends new keys.
fn set_all(acc: &mut Vec<(String, Json)>, more: Vec<(String, Json)>) {
    let mut index: HashMap<String, usize> = acc
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.clone(), i))
        .collect();
    for (k, v) in more {
        match index.get(&k) {
            Some(&i) => acc[i].1 = v,
            None => {
                index.insert(k.clone(), acc.len());
                acc.push((k, v));
            }
        }
    }
}

fn json_keys(arrays: &[ArrayRef], rows: usize, log: &mut ErrorLog) -> Result<ArrayRef> {
    let docs = utf8(&arrays[0])?;
    let mut out = ListOut::new(rows);
    for row in 0..rows {
        match text(&docs, row)
            .and_then(|d| parse_logged(d, log))
            .flatten()
        {
            Some(Json::Obj(entries)) => out.push_items(entries.iter().map(|(k, _)| k.as_str())),
            _ => out.push_null(),
        }
    }
    out.finish()
}

fn json_items(arrays: &[ArrayRef], rows: usize, log: &mut ErrorLog) -> Result<ArrayRef> {
    let docs = utf8(&arrays[0])?;
    let mut out = ListOut::new(rows);
    for row in 0..rows {
        let Some(doc) = text(&docs, row) else {
            out.push_null();
            continue;
        };
        // ksqlDB reads a List<JsonNode>: anything but an array is an error.
        match parse_logged(doc, log) {
            Some(Some(Json::Arr(items))) => {
                if items.iter().all(|i| matches!(i, Json::Obj(_))) {
                    let texts: Vec<String> = items.iter().map(node_string).collect();
                    out.push_items(texts.iter().map(String::as_str));
                } else {
                    out.push_null();
                }
            }
            Some(_) => {
                log.record(format!(
                    "Invalid JSON format:{} (not a JSON array)",
                    excerpt(doc)
                ));
                out.push_null();
            }
            None => out.push_null(),
        }
    }
    out.finish()
}

fn json_records(arrays: &[ArrayRef], rows: usize, log: &mut ErrorLog) -> Result<ArrayRef> {
    let docs = utf8(&arrays[0])?;
    let mut offsets = Vec::with_capacity(rows + 1);
    offsets.push(0i32);
    let mut keys = StringBuilder::new();
    let mut values = StringBuilder::new();
    let mut valid = Vec::with_capacity(rows);
    let mut entries_len = 0usize;
    for row in 0..rows {
        match text(&docs, row)
            .and_then(|d| parse_logged(d, log))
            .flatten()
        {
            Some(Json::Obj(entries)) => {
                for (k, v) in &entries {
                    keys.append_value(k);
                    match v {
                        Json::Str(s) => values.append_value(s),
                        other => values.append_value(node_string(other)),
                    }
                }
                entries_len += entries.len();
                valid.push(true);
            }
            _ => valid.push(false),
        }
        offsets.push(offset_i32(entries_len)?);
    }
    let entries = StructArray::try_new(
        map_kv_fields(),
        vec![Arc::new(keys.finish()), Arc::new(values.finish())],
        None,
    )?;
    let map = MapArray::try_new(
        map_entries_field(),
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        entries,
        nulls(valid),
        false,
    )?;
    Ok(Arc::new(map))
}

fn json_array_contains(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let docs = utf8(&arrays[0])?;
    let needles = match arrays[1].data_type() {
        DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let value_type = match arrays[1].data_type() {
                DataType::Dictionary(_, v) => v.as_ref().clone(),
                _ => DataType::Utf8,
            };
            let value_type = match value_type {
                DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
                other => other,
            };
            cast(&arrays[1], &value_type)?
        }
        _ => Arc::clone(&arrays[1]),
    };
    let out: BooleanArray = (0..rows)
        .map(|row| {
            let doc = text(&docs, row)?;
            Some(array_contains(doc, &Needle::of(needles.as_ref(), row)))
        })
        .collect();
    Ok(Arc::new(out))
}

fn offset_i32(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| {
        datafusion::error::DataFusionError::Execution("result too large for a list".into())
    })
}

fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    let nulls = NullBuffer::from(valid);
    (nulls.null_count() > 0).then_some(nulls)
}

/// Builds an ARRAY<STRING> result row by row.
struct ListOut {
    offsets: Vec<i32>,
    values: StringBuilder,
    valid: Vec<bool>,
    len: usize,
    overflow: bool,
}

impl ListOut {
    fn new(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        ListOut {
            offsets,
            values: StringBuilder::new(),
            valid: Vec::with_capacity(rows),
            len: 0,
            overflow: false,
        }
    }

    fn push_items<'a>(&mut self, items: impl Iterator<Item = &'a str>) {
        for item in items {
            self.values.append_value(item);
            self.len += 1;
        }
        self.valid.push(true);
        self.push_offset();
    }

    fn push_null(&mut self) {
        self.valid.push(false);
        self.push_offset();
    }

    fn push_offset(&mut self) {
        match i32::try_from(self.len) {
            Ok(o) => self.offsets.push(o),
            Err(_) => {
                self.overflow = true;
                self.offsets.push(i32::MAX);
            }
        }
    }

    fn finish(mut self) -> Result<ArrayRef> {
        if self.overflow {
            return datafusion::common::exec_err!("result too large for a list");
        }
        let list = ListArray::try_new(
            list_item_field(),
            OffsetBuffer::new(ScalarBuffer::from(self.offsets)),
            Arc::new(self.values.finish()),
            nulls(self.valid),
        )?;
        Ok(Arc::new(list))
    }
}

// ---------------------------------------------------------------------------------------------
// JSON values, as Jackson's tree model holds them
// ---------------------------------------------------------------------------------------------

/// A parsed JSON value. Objects keep their keys in document order, without repeats.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(Number),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// A JSON number as Jackson keeps it: integers exactly, others as an exact `BigDecimal`
/// (`digits` × 10^-`scale`).
#[derive(Debug, Clone, PartialEq)]
struct Number {
    /// Whether the text had a minus sign (kept for `-0.0` as a double; not printed for zero).
    neg: bool,
    /// The unscaled value's digits, without leading zeros ("0" for zero).
    digits: String,
    scale: i32,
    /// Whether the text had a fraction or an exponent (Jackson's VALUE_NUMBER_FLOAT).
    float: bool,
}

impl Number {
    fn is_zero(&self) -> bool {
        self.digits == "0"
    }

    fn sign(&self, out: &mut String) {
        if self.neg && !self.is_zero() {
            out.push('-');
        }
    }

    /// `BigDecimal.toString` (and plain integers): `1.50`, `1E+3`, `1E-7`, `0E-8`.
    fn write_node(&self, out: &mut String) {
        self.sign(out);
        let coeff = self.digits.as_str();
        let len = coeff.len() as i64;
        let scale = i64::from(self.scale);
        if scale == 0 {
            out.push_str(coeff);
            return;
        }
        let adjusted = -scale + (len - 1);
        if scale > 0 && adjusted >= -6 {
            if len > scale {
                let point = (len - scale) as usize;
                out.push_str(&coeff[..point]);
                out.push('.');
                out.push_str(&coeff[point..]);
            } else {
                out.push_str("0.");
                push_zeros(out, scale - len);
                out.push_str(coeff);
            }
        } else {
            out.push_str(&coeff[..1]);
            if len > 1 {
                out.push('.');
                out.push_str(&coeff[1..]);
            }
            if adjusted != 0 {
                out.push('E');
                if adjusted > 0 {
                    out.push('+');
                }
                let _ = write!(out, "{adjusted}");
            }
        }
    }

    /// `BigDecimal.toPlainString`, as Jackson writes with `WRITE_BIGDECIMAL_AS_PLAIN` (which
    /// refuses scales beyond ±9999).
    fn write_plain(&self, out: &mut String) -> Result<(), String> {
        if self.scale.unsigned_abs() > 9999 {
            return Err(format!(
                "Attempt to write plain `java.math.BigDecimal` with illegal scale ({})",
                self.scale
            ));
        }
        self.sign(out);
        write_plain_digits(out, &self.digits, i64::from(self.scale));
        Ok(())
    }

    /// The value as an integer, if it is one that fits.
    fn to_i128(&self) -> Option<i128> {
        if self.float || self.digits.len() > 38 {
            return None;
        }
        let v: i128 = self.digits.parse().ok()?;
        Some(if self.neg { -v } else { v })
    }

    /// The value as a double (`Double.parseDouble` of the text).
    fn to_f64(&self) -> f64 {
        let sign = if self.neg { "-" } else { "" };
        format!("{sign}{}e{}", self.digits, -i64::from(self.scale))
            .parse()
            .unwrap_or(f64::NAN)
    }
}

fn push_zeros(out: &mut String, n: i64) {
    for _ in 0..n {
        out.push('0');
    }
}

/// Unsigned `digits` × 10^-`scale` in plain notation (zero with a negative scale is `0`).
fn write_plain_digits(out: &mut String, digits: &str, scale: i64) {
    let zero = digits.bytes().all(|b| b == b'0');
    if scale <= 0 {
        out.push_str(digits);
        if !zero {
            push_zeros(out, -scale);
        }
        return;
    }
    let len = digits.len() as i64;
    if len > scale {
        let point = (len - scale) as usize;
        out.push_str(&digits[..point]);
        out.push('.');
        out.push_str(&digits[point..]);
    } else {
        out.push_str("0.");
        push_zeros(out, scale - len);
        out.push_str(digits);
    }
}

/// How numbers are written: as `JsonNode.toString` does, or as ksqlDB's mapper does.
#[derive(Clone, Copy)]
enum Form {
    Node,
    Plain,
}

fn write_json(out: &mut String, v: &Json, form: Form) -> Result<(), String> {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Num(n) => match form {
            Form::Node => n.write_node(out),
            Form::Plain => n.write_plain(out)?,
        },
        Json::Str(s) => write_json_str(out, s),
        Json::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, form)?;
            }
            out.push(']');
        }
        Json::Obj(entries) => {
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(out, k);
                out.push(':');
                write_json(out, item, form)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// `JsonNode.toString`: compact JSON, decimals as `BigDecimal.toString`.
fn node_string(v: &Json) -> String {
    let mut out = String::new();
    // The node form cannot fail.
    let _ = write_json(&mut out, v, Form::Node);
    out
}

/// ksqlDB's mapper `writeValueAsString`: compact JSON, decimals plain.
fn plain_string(v: &Json) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, Form::Plain)?;
    Ok(out)
}

/// A JSON string literal, with Jackson's escapes.
fn write_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0C => "\\f",
            0x00..=0x1F => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xF)] as char);
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// Parsing, as Jackson's default `ObjectMapper` does
// ---------------------------------------------------------------------------------------------

/// Jackson's default maximum nesting depth.
const MAX_DEPTH: u32 = 1000;
/// Jackson's default maximum length of a number.
const MAX_NUMBER_LEN: usize = 1000;

/// Parses a document: `Ok(None)` when it is empty or blank (Jackson's missing node). Content
/// after the first value is not read, except that a number at the root must end with white
/// space or the end of the text.
fn parse_document(s: &str) -> Result<Option<Json>, String> {
    let mut p = Parser::new(s);
    p.skip_ws();
    let Some(first) = p.peek() else {
        return Ok(None);
    };
    let v = p.parse_value()?;
    if matches!(first, b'-' | b'0'..=b'9') {
        if let Some(c) = p.peek() {
            if !is_ws(c) {
                return p.err("expected space separating root-level values");
            }
        }
    }
    Ok(Some(v))
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser {
            s,
            b: s.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at character {}", self.pos + 1))
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    fn skip_digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn parse_value(&mut self) -> Result<Json, String> {
        self.skip_ws();
        match self.peek() {
            None => self.err("unexpected end of input"),
            Some(b'{') => self.parse_object(),
            Some(b'[') => self.parse_array(),
            Some(b'"') => {
                self.pos += 1;
                Ok(Json::Str(self.parse_string()?))
            }
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => Ok(Json::Num(self.parse_number()?)),
            Some(_) => self.err("unexpected character"),
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if !self.b[self.pos..].starts_with(word.as_bytes()) {
            return self.err("unrecognized token");
        }
        self.pos += word.len();
        // Jackson refuses `truex`, `null1`: a token may not run on into identifier characters.
        if let Some(c) = self.s[self.pos..].chars().next() {
            if c.is_alphanumeric() || c == '_' || c == '$' {
                return self.err("unrecognized token");
            }
        }
        Ok(v)
    }

    fn enter(&mut self) -> Result<(), String> {
        self.pos += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("maximum nesting depth exceeded");
        }
        Ok(())
    }

    fn parse_array(&mut self) -> Result<Json, String> {
        self.enter()?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Json::Arr(items));
        }
        loop {
            items.push(self.parse_value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return self.err("expected ',' or ']'"),
            }
        }
        self.depth -= 1;
        Ok(Json::Arr(items))
    }

    fn parse_object(&mut self) -> Result<Json, String> {
        self.enter()?;
        let mut entries = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Json::Obj(entries));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return self.err("expected a field name in double quotes");
            }
            self.pos += 1;
            let key = self.parse_string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return self.err("expected ':'");
            }
            self.pos += 1;
            let v = self.parse_value()?;
            entries.push((key, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return self.err("expected ',' or '}'"),
            }
        }
        self.depth -= 1;
        Ok(Json::Obj(dedupe(entries)))
    }

    /// The rest of a string literal, after its opening quote.
    fn parse_string(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let mut start = self.pos;
        loop {
            let Some(c) = self.peek() else {
                return self.err("unterminated string");
            };
            match c {
                b'"' => {
                    out.push_str(&self.s[start..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.s[start..self.pos]);
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return self.err("unterminated string");
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let unit = self.hex4()?;
                            out.push(self.utf16_char(unit)?);
                        }
                        _ => return self.err("unrecognized character escape"),
                    }
                    start = self.pos;
                }
                0x00..=0x1F => return self.err("illegal unquoted control character"),
                _ => self.pos += 1,
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let Some(hex) = self.s.get(self.pos..self.pos + 4) else {
            return self.err("bad \\u escape");
        };
        if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return self.err("bad \\u escape");
        }
        self.pos += 4;
        u32::from_str_radix(hex, 16).map_err(|e| e.to_string())
    }

    /// The character of a `\u` escape, joining a surrogate pair; a lone surrogate (which a
    /// Java string can hold and a Rust one cannot) becomes U+FFFD.
    fn utf16_char(&mut self, unit: u32) -> Result<char, String> {
        if (0xD800..0xDC00).contains(&unit) && self.b[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let low = self.hex4()?;
            if (0xDC00..0xE000).contains(&low) {
                let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            self.pos = save;
        }
        Ok(char::from_u32(unit).unwrap_or('\u{FFFD}'))
    }

    fn parse_number(&mut self) -> Result<Number, String> {
        let start = self.pos;
        let neg = self.peek() == Some(b'-');
        if neg {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return self.err("invalid numeric value: leading zeroes not allowed");
                }
            }
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return self.err("invalid numeric value: expected a digit"),
        }
        let int_digits = &self.s[int_start..self.pos];
        let mut frac_digits = "";
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let frac_start = self.pos;
            self.skip_digits();
            if self.pos == frac_start {
                return self.err("invalid numeric value: decimal point not followed by a digit");
            }
            frac_digits = &self.s[frac_start..self.pos];
            float = true;
        }
        let mut exp: i64 = 0;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            float = true;
            self.pos += 1;
            let exp_neg = match self.peek() {
                Some(b'-') => {
                    self.pos += 1;
                    true
                }
                Some(b'+') => {
                    self.pos += 1;
                    false
                }
                _ => false,
            };
            let exp_start = self.pos;
            self.skip_digits();
            if self.pos == exp_start {
                return self
                    .err("invalid numeric value: exponent indicator not followed by a digit");
            }
            for &d in &self.b[exp_start..self.pos] {
                exp = (exp * 10 + i64::from(d - b'0')).min(i64::from(u32::MAX) * 4);
            }
            if exp_neg {
                exp = -exp;
            }
        }
        if self.pos - start > MAX_NUMBER_LEN {
            return self.err("number value length exceeds the maximum allowed");
        }
        let scale = frac_digits.len() as i64 - exp;
        let Ok(scale) = i32::try_from(scale) else {
            return self.err("numeric value out of range");
        };
        let mut digits = String::with_capacity(int_digits.len() + frac_digits.len());
        digits.push_str(int_digits);
        digits.push_str(frac_digits);
        let leading = digits.bytes().take_while(|&b| b == b'0').count();
        let digits = if leading == digits.len() {
            "0".to_string()
        } else {
            digits[leading..].to_string()
        };
        Ok(Number {
            neg,
            digits,
            scale,
            float,
        })
    }
}

/// An object's entries without repeated keys: a repeated key keeps its first position and
/// takes its last value (Jackson's `ObjectNode.replace`).
fn dedupe(entries: Vec<(String, Json)>) -> Vec<(String, Json)> {
    let n = entries.len();
    let repeated = if n < 2 {
        false
    } else if n <= 8 {
        (1..n).any(|i| (0..i).any(|j| entries[i].0 == entries[j].0))
    } else {
        let mut seen = HashSet::with_capacity(n);
        !entries.iter().all(|(k, _)| seen.insert(k.as_str()))
    };
    if !repeated {
        return entries;
    }
    let mut out: Vec<(String, Json)> = Vec::with_capacity(n);
    set_all(&mut out, entries);
    out
}

// ---------------------------------------------------------------------------------------------
// EXTRACTJSONFIELD
// ---------------------------------------------------------------------------------------------

/// The steps of a JSON path (ksqlDB's `JsonPathTokenizer`): `$`, then `.name` (letters, digits,
/// `_` and `:`), `[name]` (letters, digits and `_`), or `["name"]` (any text; `\"` and `\\`
/// escaped). `['name']` is accepted too.
fn tokenize_path(path: &str) -> Result<Vec<String>, String> {
    let invalid = || Err(format!("Invalid JSON path: '{path}'"));
    let chars: Vec<char> = path.chars().collect();
    if chars.first() != Some(&'$') {
        return invalid();
    }
    let mut tokens = Vec::new();
    let mut i = 1;
    let unquoted = |c: char| c == '_' || c.is_alphanumeric();
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                let start = i;
                while i < chars.len() && (chars[i] == ':' || unquoted(chars[i])) {
                    i += 1;
                }
                if i == start {
                    return invalid();
                }
                tokens.push(chars[start..i].iter().collect());
            }
            '[' => {
                i += 1;
                match chars.get(i) {
                    Some(&q @ ('"' | '\'')) => {
                        i += 1;
                        let mut token = String::new();
                        loop {
                            match chars.get(i) {
                                None => return invalid(),
                                Some(&c) if c == q => {
                                    i += 1;
                                    break;
                                }
                                Some('\\') => match chars.get(i + 1) {
                                    Some(&e) if e == q || e == '\\' => {
                                        token.push(e);
                                        i += 2;
                                    }
                                    _ => return invalid(),
                                },
                                Some(&c) => {
                                    token.push(c);
                                    i += 1;
                                }
                            }
                        }
                        tokens.push(token);
                    }
                    _ => {
                        let start = i;
                        while i < chars.len() && unquoted(chars[i]) {
                            i += 1;
                        }
                        if i == start {
                            return invalid();
                        }
                        tokens.push(chars[start..i].iter().collect());
                    }
                }
                if chars.get(i) != Some(&']') {
                    return invalid();
                }
                i += 1;
            }
            _ => return invalid(),
        }
    }
    Ok(tokens)
}

/// Java's `Integer.parseInt`.
fn java_parse_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

/// The value at `tokens` in `doc` as EXTRACTJSONFIELD returns it: a string's text, anything
/// else as JSON text (`null` included).
fn extract(doc: Option<&Json>, tokens: &[String]) -> Option<String> {
    let Some(mut node) = doc else {
        // Jackson's missing node: it has no children, and prints as `null`.
        return tokens.is_empty().then(|| "null".to_string());
    };
    for token in tokens {
        node = match node {
            Json::Arr(items) => {
                let i = usize::try_from(java_parse_int(token)?).ok()?;
                items.get(i)?
            }
            Json::Obj(entries) => entries.iter().find(|(k, _)| k == token).map(|(_, v)| v)?,
            _ => return None,
        };
    }
    Some(match node {
        Json::Str(s) => s.clone(),
        other => node_string(other),
    })
}

// ---------------------------------------------------------------------------------------------
// JSON_ARRAY_CONTAINS
// ---------------------------------------------------------------------------------------------

/// The value JSON_ARRAY_CONTAINS looks for, by the Java type ksqlDB would pass.
#[derive(Debug)]
enum Needle<'a> {
    /// A null: matches JSON `null`.
    Null,
    Bool(bool),
    /// An INT or BIGINT, with the range of its Java type: a JSON integer outside that range
    /// fails Jackson's conversion, and the whole function returns false.
    Int {
        value: i128,
        min: i128,
        max: i128,
    },
    Double(f64),
    Str(&'a str),
    /// A type no JSON token converts to (DECIMAL, BYTES, dates, collections...).
    Never,
}

impl<'a> Needle<'a> {
    fn of(array: &'a dyn Array, row: usize) -> Needle<'a> {
        if *array.data_type() == DataType::Null || array.is_null(row) {
            return Needle::Null;
        }
        let int = |value: i128, wide: bool| {
            let (min, max) = if wide {
                (i128::from(i64::MIN), i128::from(i64::MAX))
            } else {
                (i128::from(i32::MIN), i128::from(i32::MAX))
            };
            Needle::Int { value, min, max }
        };
        match array.data_type() {
            DataType::Boolean => Needle::Bool(array.as_boolean().value(row)),
            DataType::Int8 => int(array.as_primitive::<Int8Type>().value(row).into(), false),
            DataType::Int16 => int(array.as_primitive::<Int16Type>().value(row).into(), false),
            DataType::Int32 => int(array.as_primitive::<Int32Type>().value(row).into(), false),
            DataType::UInt8 => int(array.as_primitive::<UInt8Type>().value(row).into(), false),
            DataType::UInt16 => int(array.as_primitive::<UInt16Type>().value(row).into(), false),
            DataType::Int64 => int(array.as_primitive::<Int64Type>().value(row).into(), true),
            DataType::UInt32 => int(array.as_primitive::<UInt32Type>().value(row).into(), true),
            DataType::UInt64 => int(array.as_primitive::<UInt64Type>().value(row).into(), true),
            DataType::Float64 => Needle::Double(array.as_primitive::<Float64Type>().value(row)),
            DataType::Float32 => {
                Needle::Double(array.as_primitive::<Float32Type>().value(row).into())
            }
            DataType::Float16 => {
                Needle::Double(array.as_primitive::<Float16Type>().value(row).to_f64())
            }
            DataType::Utf8 => Needle::Str(array.as_string::<i32>().value(row)),
            _ => Needle::Never,
        }
    }

    /// Whether `v` is the needle; `None` when comparing fails (which ends the search).
    fn test(&self, v: &Json) -> Option<bool> {
        Some(match (self, v) {
            (Needle::Null, Json::Null) => true,
            (Needle::Bool(b), Json::Bool(x)) => b == x,
            (Needle::Int { value, min, max }, Json::Num(n)) if !n.float => {
                let x = n.to_i128()?;
                if x < *min || x > *max {
                    return None;
                }
                x == *value
            }
            (Needle::Double(d), Json::Num(n)) if n.float => n.to_f64().to_bits() == d.to_bits(),
            (Needle::Str(s), Json::Str(x)) => *s == x.as_str(),
            _ => false,
        })
    }
}

/// Whether the JSON array `doc` has `needle` among its top-level items. Like ksqlDB's streaming
/// parse, it stops at the first match: what follows is not checked.
fn array_contains(doc: &str, needle: &Needle) -> bool {
    let mut p = Parser::new(doc);
    p.skip_ws();
    if p.peek() != Some(b'[') || p.enter().is_err() {
        return false;
    }
    p.skip_ws();
    if p.peek() == Some(b']') {
        return false;
    }
    loop {
        let Ok(item) = p.parse_value() else {
            return false;
        };
        match needle.test(&item) {
            Some(true) => return true,
            Some(false) => {}
            None => return false,
        }
        p.skip_ws();
        if p.peek() != Some(b',') {
            return false;
        }
        p.pos += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// TO_JSON_STRING: Arrow values as JSON text
// ---------------------------------------------------------------------------------------------

/// Writes row `row` of `array` as JSON, as ksqlDB's TO_JSON_STRING does.
fn write_arrow(out: &mut String, array: &dyn Array, row: usize) -> Result<(), String> {
    use DataType::*;
    if *array.data_type() == Null || array.is_null(row) {
        out.push_str("null");
        return Ok(());
    }
    macro_rules! int {
        ($t:ty) => {{
            let _ = write!(out, "{}", array.as_primitive::<$t>().value(row));
        }};
    }
    match array.data_type() {
        Null => out.push_str("null"),
        Boolean => out.push_str(if array.as_boolean().value(row) {
            "true"
        } else {
            "false"
        }),
        Int8 => int!(Int8Type),
        Int16 => int!(Int16Type),
        Int32 => int!(Int32Type),
        Int64 => int!(Int64Type),
        UInt8 => int!(UInt8Type),
        UInt16 => int!(UInt16Type),
        UInt32 => int!(UInt32Type),
        UInt64 => int!(UInt64Type),
        Float16 => write_java_float(out, array.as_primitive::<Float16Type>().value(row).to_f32()),
        Float32 => write_java_float(out, array.as_primitive::<Float32Type>().value(row)),
        Float64 => write_java_double(out, array.as_primitive::<Float64Type>().value(row)),
        Decimal32(_, s) => write_decimal(
            out,
            &array.as_primitive::<Decimal32Type>().value(row).to_string(),
            *s,
        ),
        Decimal64(_, s) => write_decimal(
            out,
            &array.as_primitive::<Decimal64Type>().value(row).to_string(),
            *s,
        ),
        Decimal128(_, s) => write_decimal(
            out,
            &array
                .as_primitive::<Decimal128Type>()
                .value(row)
                .to_string(),
            *s,
        ),
        Decimal256(_, s) => write_decimal(
            out,
            &array
                .as_primitive::<Decimal256Type>()
                .value(row)
                .to_string(),
            *s,
        ),
        Utf8 => write_json_str(out, array.as_string::<i32>().value(row)),
        LargeUtf8 => write_json_str(out, array.as_string::<i64>().value(row)),
        Utf8View => write_json_str(out, array.as_string_view().value(row)),
        Binary => write_base64(out, array.as_binary::<i32>().value(row)),
        LargeBinary => write_base64(out, array.as_binary::<i64>().value(row)),
        BinaryView => write_base64(out, array.as_binary_view().value(row)),
        FixedSizeBinary(_) => write_base64(out, array.as_fixed_size_binary().value(row)),
        Date32 => write_date(
            out,
            i64::from(array.as_primitive::<Date32Type>().value(row)),
        ),
        // `TimeUnit.MILLISECONDS.toDays`: truncating.
        Date64 => write_date(
            out,
            array.as_primitive::<Date64Type>().value(row) / 86_400_000,
        ),
        Time32(TimeUnit::Second) => write_time(
            out,
            i64::from(array.as_primitive::<Time32SecondType>().value(row)),
        )?,
        Time32(_) => write_time(
            out,
            i64::from(array.as_primitive::<Time32MillisecondType>().value(row)) / 1_000,
        )?,
        Time64(TimeUnit::Microsecond) => write_time(
            out,
            array.as_primitive::<Time64MicrosecondType>().value(row) / 1_000_000,
        )?,
        Time64(_) => write_time(
            out,
            array.as_primitive::<Time64NanosecondType>().value(row) / 1_000_000_000,
        )?,
        Timestamp(unit, _) => {
            let millis = match unit {
                TimeUnit::Second => array
                    .as_primitive::<TimestampSecondType>()
                    .value(row)
                    .checked_mul(1_000)
                    .ok_or("timestamp out of range")?,
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(row)
                }
                TimeUnit::Microsecond => array
                    .as_primitive::<TimestampMicrosecondType>()
                    .value(row)
                    .div_euclid(1_000),
                TimeUnit::Nanosecond => array
                    .as_primitive::<TimestampNanosecondType>()
                    .value(row)
                    .div_euclid(1_000_000),
            };
            write_timestamp(out, millis);
        }
        List(_) => {
            let list = array.as_list::<i32>();
            let offsets = list.value_offsets();
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            write_items(out, list.values().as_ref(), start..end)?;
        }
        LargeList(_) => {
            let list = array.as_list::<i64>();
            let offsets = list.value_offsets();
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            write_items(out, list.values().as_ref(), start..end)?;
        }
        FixedSizeList(_, _) => {
            let list = array.as_fixed_size_list();
            let start = list.value_offset(row) as usize;
            let end = start + list.value_length() as usize;
            write_items(out, list.values().as_ref(), start..end)?;
        }
        Struct(fields) => {
            let s = array.as_struct();
            let mut order: Vec<usize> = (0..fields.len()).collect();
            order.sort_by(|&a, &b| java_cmp(fields[a].name(), fields[b].name()));
            out.push('{');
            for (n, &i) in order.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_json_str(out, fields[i].name());
                out.push(':');
                write_arrow(out, s.column(i).as_ref(), row)?;
            }
            out.push('}');
        }
        Map(_, _) => {
            let map = array.as_map();
            let offsets = map.value_offsets();
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            let (keys, values) = (map.keys(), map.values());
            let mut entries = Vec::with_capacity(end - start);
            for i in start..end {
                entries.push((map_key_text(keys.as_ref(), i)?, i));
            }
            // A `TreeMap`: sorted keys, the last value of a repeated key.
            entries.sort_by(|a, b| java_cmp(&a.0, &b.0));
            out.push('{');
            let mut first = true;
            for (n, (key, i)) in entries.iter().enumerate() {
                if entries.get(n + 1).is_some_and(|next| next.0 == *key) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                write_json_str(out, key);
                out.push(':');
                write_arrow(out, values.as_ref(), *i)?;
            }
            out.push('}');
        }
        Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let key = int_value(dict.keys(), row).ok_or("bad dictionary key")?;
            let key = usize::try_from(key).map_err(|_| "bad dictionary key")?;
            write_arrow(out, dict.values().as_ref(), key)?;
        }
        _ => {
            let options = FormatOptions::default();
            let formatter = ArrayFormatter::try_new(array, &options).map_err(|e| e.to_string())?;
            write_json_str(out, &formatter.value(row).to_string());
        }
    }
    Ok(())
}

fn write_items(
    out: &mut String,
    values: &dyn Array,
    range: std::ops::Range<usize>,
) -> Result<(), String> {
    out.push('[');
    for (n, i) in range.enumerate() {
        if n > 0 {
            out.push(',');
        }
        write_arrow(out, values, i)?;
    }
    out.push(']');
    Ok(())
}

/// Java's `String.compareTo`: by UTF-16 code units.
fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A map key as text (Java's `toString` of the key).
fn map_key_text(keys: &dyn Array, row: usize) -> Result<String, String> {
    match keys.data_type() {
        DataType::Utf8 => return Ok(keys.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => return Ok(keys.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => return Ok(keys.as_string_view().value(row).to_string()),
        _ => {}
    }
    let mut s = String::new();
    write_arrow(&mut s, keys, row)?;
    if s.starts_with('"') {
        if let Ok(Some(Json::Str(unquoted))) = parse_document(&s) {
            return Ok(unquoted);
        }
    }
    Ok(s)
}

/// An integer array's value (dictionary keys).
fn int_value(array: &dyn Array, row: usize) -> Option<i64> {
    if array.is_null(row) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).into(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).into(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).into(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).into(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).into(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).into(),
        DataType::UInt64 => i64::try_from(array.as_primitive::<UInt64Type>().value(row)).ok()?,
        _ => return None,
    })
}

/// A DECIMAL as Jackson writes a `BigDecimal` with `WRITE_BIGDECIMAL_AS_PLAIN`.
fn write_decimal(out: &mut String, unscaled: &str, scale: i8) {
    let (neg, digits) = match unscaled.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, unscaled),
    };
    if neg && !digits.bytes().all(|b| b == b'0') {
        out.push('-');
    }
    write_plain_digits(out, digits, i64::from(scale));
}

/// BYTES as a base64 JSON string.
fn write_base64(out: &mut String, bytes: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.push('"');
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.push('"');
}

/// Year, month and day of a day count from 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A DATE as `LocalDate.toString`: `2022-01-20`, `+10000-01-01`, `-0001-01-01`.
fn write_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    out.push('"');
    if y.abs() < 1_000 {
        if y < 0 {
            let _ = write!(out, "-{:04}", -y);
        } else {
            let _ = write!(out, "{y:04}");
        }
    } else {
        if y > 9_999 {
            out.push('+');
        }
        let _ = write!(out, "{y}");
    }
    let _ = write!(out, "-{m:02}-{d:02}\"");
}

/// A TIME of `secs` seconds as `LocalTime.toString`: `16:43:40`, or `13:25` on the minute.
fn write_time(out: &mut String, secs: i64) -> Result<(), String> {
    if !(0..86_400).contains(&secs) {
        return Err(format!(
            "Invalid value for SecondOfDay (valid values 0 - 86399): {secs}"
        ));
    }
    let _ = write!(out, "\"{:02}:{:02}", secs / 3_600, secs / 60 % 60);
    if secs % 60 != 0 {
        let _ = write!(out, ":{:02}", secs % 60);
    }
    out.push('"');
    Ok(())
}

/// A TIMESTAMP as `yyyy-MM-dd'T'HH:mm:ss.SSS` in UTC (the year is the year of era).
fn write_timestamp(out: &mut String, millis: i64) {
    let days = millis.div_euclid(86_400_000);
    let ms = millis.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let year_of_era = if y >= 1 { y } else { 1 - y };
    out.push('"');
    if year_of_era > 9_999 {
        out.push('+');
    }
    let _ = write!(
        out,
        "{year_of_era:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}\"",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1_000 % 60,
        ms % 1_000
    );
}

/// A DOUBLE as Jackson writes it: Java's `Double.toString`, non-finite values quoted.
fn write_java_double(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str(if v.is_nan() {
            "\"NaN\""
        } else if v > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
        return;
    }
    if v.is_sign_negative() {
        out.push('-');
    }
    let a = v.abs();
    write_java_fp(out, &format!("{a:e}"), a == 0.0 || (1e-3..1e7).contains(&a));
}

/// A FLOAT as Java's `Float.toString`.
fn write_java_float(out: &mut String, v: f32) {
    if !v.is_finite() {
        write_java_double(out, f64::from(v));
        return;
    }
    if v.is_sign_negative() {
        out.push('-');
    }
    let a = v.abs();
    write_java_fp(out, &format!("{a:e}"), a == 0.0 || (1e-3..1e7).contains(&a));
}

/// Java's floating point layout from the shortest digits (`sci`, Rust's `{:e}` of the absolute
/// value): plain (`1234.5`, `0.001`) when `plain`, else computerized scientific (`1.0E7`).
fn write_java_fp(out: &mut String, sci: &str, plain: bool) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = if digits.is_empty() {
        "0".to_string()
    } else {
        digits
    };
    if !plain {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        let _ = write!(out, "E{exp}");
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        for k in 0..int_len {
            out.push(digits.as_bytes().get(k).map_or('0', |&c| c as char));
        }
        out.push('.');
        out.push_str(if digits.len() > int_len {
            &digits[int_len..]
        } else {
            "0"
        });
    } else {
        out.push_str("0.");
        push_zeros(out, -exp - 1);
        out.push_str(&digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        BinaryArray, Date32Array, Decimal128Array, Float64Array, Int64Array, ListBuilder,
        MapBuilder, MapFieldNames, StringViewArray, Time32MillisecondArray,
        TimestampMillisecondArray,
    };
    use datafusion::arrow::array::{Int32Builder, StringBuilder as SB};

    fn udf(kind: Kind) -> JsonUdf {
        JsonUdf::new(kind)
    }

    fn invoke(kind: Kind, args: Vec<ArrayRef>) -> ArrayRef {
        let rows = args.first().map_or(1, |a| a.len());
        let f = udf(kind);
        let arg_fields = args
            .iter()
            .map(|a| Arc::new(Field::new("a", a.data_type().clone(), true)))
            .collect();
        let out = f
            .invoke_with_args(ScalarFunctionArgs {
                args: args.into_iter().map(ColumnarValue::Array).collect(),
                arg_fields,
                number_rows: rows,
                return_field: Arc::new(Field::new("r", kind.return_type(), true)),
                config_options: Arc::new(Default::default()),
            })
            .unwrap();
        let ColumnarValue::Array(a) = out else {
            panic!("array expected")
        };
        assert_eq!(a.data_type(), &kind.return_type(), "{kind:?}");
        assert_eq!(a.len(), rows);
        a
    }

    fn strs(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    fn as_strings(a: &ArrayRef) -> Vec<Option<String>> {
        a.as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    fn to_json(a: ArrayRef) -> Vec<Option<String>> {
        as_strings(&invoke(Kind::ToJsonString, vec![a]))
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    fn lists(a: &ArrayRef) -> Vec<Option<Vec<String>>> {
        let list = a.as_list::<i32>();
        (0..list.len())
            .map(|i| {
                list.is_valid(i).then(|| {
                    let v = list.value(i);
                    v.as_string::<i32>()
                        .iter()
                        .map(|x| x.unwrap().to_string())
                        .collect()
                })
            })
            .collect()
    }

    // ----- TO_JSON_STRING -----

    #[test]
    fn to_json_string_primitives() {
        assert_eq!(
            to_json(Arc::new(Int32Array::from(vec![Some(1), None]))),
            vec![s("1"), s("null")]
        );
        assert_eq!(
            to_json(Arc::new(Int64Array::from(vec![Some(123), None]))),
            vec![s("123"), s("null")]
        );
        assert_eq!(
            to_json(strs(&[Some("abc"), None, Some("a\"b\\c\n\u{1}é")])),
            vec![s("\"abc\""), s("null"), s("\"a\\\"b\\\\c\\n\\u0001é\"")]
        );
        assert_eq!(
            to_json(Arc::new(BooleanArray::from(vec![Some(true), None]))),
            vec![s("true"), s("null")]
        );
        assert_eq!(
            to_json(Arc::new(Float64Array::from(vec![
                Some(123.456),
                None,
                Some(2.0),
                Some(1e7),
                Some(1.5e-4),
                Some(0.001),
                Some(f64::NAN),
                Some(-0.0),
            ]))),
            vec![
                s("123.456"),
                s("null"),
                s("2.0"),
                s("1.0E7"),
                s("1.5E-4"),
                s("0.001"),
                s("\"NaN\""),
                s("-0.0")
            ]
        );
        assert_eq!(
            to_json(Arc::new(StringViewArray::from(vec![Some("v"), None]))),
            vec![s("\"v\""), s("null")]
        );
        assert_eq!(
            to_json(Arc::new(datafusion::arrow::array::NullArray::new(2))),
            vec![s("null"), s("null")]
        );
    }

    #[test]
    fn to_json_string_decimal_and_bytes() {
        let d = Decimal128Array::from(vec![Some(123_456), None, Some(1_000), Some(-5)])
            .with_precision_and_scale(6, 3)
            .unwrap();
        assert_eq!(
            to_json(Arc::new(d)),
            vec![s("123.456"), s("null"), s("1.000"), s("-0.005")]
        );
        let b = BinaryArray::from(vec![
            Some(&[0x21u8][..]),
            None,
            Some(&[0x00, 0x10, 0xBD, 0xBF][..]),
        ]);
        assert_eq!(
            to_json(Arc::new(b)),
            vec![s("\"IQ==\""), s("null"), s("\"ABC9vw==\"")]
        );
    }

    #[test]
    fn to_json_string_dates_and_times() {
        assert_eq!(
            to_json(Arc::new(Time32MillisecondArray::from(vec![
                Some(60_220_000),
                None,
                Some(48_300_000),
                Some(21_740_588),
            ]))),
            vec![
                s("\"16:43:40\""),
                s("null"),
                s("\"13:25\""),
                s("\"06:02:20\"")
            ]
        );
        assert_eq!(
            to_json(Arc::new(Date32Array::from(vec![
                Some(1_000),
                None,
                Some(19_012)
            ]))),
            vec![s("\"1972-09-27\""), s("null"), s("\"2022-01-20\"")]
        );
        assert_eq!(
            to_json(Arc::new(TimestampMillisecondArray::from(vec![
                Some(60_220_000_000),
                None,
                Some(1_642_698_362_588),
                Some(-1),
            ]))),
            vec![
                s("\"1971-11-28T23:46:40.000\""),
                s("null"),
                s("\"2022-01-20T17:06:02.588\""),
                s("\"1969-12-31T23:59:59.999\"")
            ]
        );
    }

    #[test]
    fn to_json_string_collections() {
        let mut lb = ListBuilder::new(Int32Builder::new());
        lb.append_value([Some(1), Some(2), Some(3)]);
        lb.append_null();
        lb.append_value([Some(4), None]);
        assert_eq!(
            to_json(Arc::new(lb.finish())),
            vec![s("[1,2,3]"), s("null"), s("[4,null]")]
        );

        // Struct fields come out sorted by name, whatever the declared order.
        let st = StructArray::try_new(
            Fields::from(vec![
                Field::new("NAME", DataType::Utf8, true),
                Field::new("ID", DataType::Int32, true),
            ]),
            vec![
                Arc::new(StringArray::from(vec![Some("Alice"), None, None])),
                Arc::new(Int32Array::from(vec![Some(1), None, Some(2)])),
            ],
            Some(NullBuffer::from(vec![true, false, true])),
        )
        .unwrap();
        assert_eq!(
            to_json(Arc::new(st)),
            vec![
                s("{\"ID\":1,\"NAME\":\"Alice\"}"),
                s("null"),
                s("{\"ID\":2,\"NAME\":null}")
            ]
        );

        let names = MapFieldNames {
            entry: "entries".into(),
            key: "key".into(),
            value: "value".into(),
        };
        let mut mb = MapBuilder::new(
            Some(names),
            SB::new(),
            ListBuilder::new(Int32Builder::new()),
        );
        mb.keys().append_value("id");
        mb.values().append_value([Some(1), Some(2), Some(3)]);
        mb.append(true).unwrap();
        mb.append(false).unwrap();
        mb.keys().append_value("d");
        mb.values().append_value([Some(4)]);
        mb.keys().append_value("c");
        mb.values().append_null();
        mb.append(true).unwrap();
        assert_eq!(
            to_json(Arc::new(mb.finish())),
            vec![
                s("{\"id\":[1,2,3]}"),
                s("null"),
                s("{\"c\":null,\"d\":[4]}")
            ]
        );
    }

    #[test]
    fn to_json_string_scalar_in_scalar_out() {
        let f = udf(Kind::ToJsonString);
        let out = f
            .invoke_with_args(ScalarFunctionArgs {
                args: vec![ColumnarValue::Scalar(ScalarValue::Int32(None))],
                arg_fields: vec![Arc::new(Field::new("a", DataType::Int32, true))],
                number_rows: 5,
                return_field: Arc::new(Field::new("r", DataType::Utf8, true)),
                config_options: Arc::new(Default::default()),
            })
            .unwrap();
        let ColumnarValue::Scalar(ScalarValue::Utf8(v)) = out else {
            panic!("scalar expected")
        };
        assert_eq!(v.as_deref(), Some("null"));
    }

    // ----- EXTRACTJSONFIELD -----

    fn extract_rows(docs: &[Option<&str>], path: &str) -> Vec<Option<String>> {
        let paths: Vec<Option<&str>> = vec![Some(path); docs.len()];
        as_strings(&invoke(
            Kind::ExtractJsonField,
            vec![strs(docs), strs(&paths)],
        ))
    }

    #[test]
    fn extractjsonfield_corpus_cases() {
        assert_eq!(
            extract_rows(&[Some("{\"name\":\"fred\",\"value\":1}")], "$.name"),
            vec![s("fred")]
        );
        assert_eq!(
            extract_rows(&[Some("{\"name\":\"fred\",\"value\":1}")], "$.value"),
            vec![s("1")]
        );
        assert_eq!(
            extract_rows(&[Some("{\"city\": \"London\"}")], "$.city"),
            vec![s("London")]
        );
        let doc = "{\"ITEMID\":6,\"CATEGORY\":{\"ID\":2,\"NAME\":\"Food\"},\"NAME\":\"Item_6\"}";
        assert_eq!(extract_rows(&[Some(doc)], "$.ITEMID"), vec![s("6")]);
        let tx = "{\"num_shares\":50000,\"customer\":{\"first_name\":\"Jill\"}}";
        assert_eq!(
            extract_rows(&[Some(tx)], "$.customer.first_name"),
            vec![s("Jill")]
        );
    }

    #[test]
    fn extractjsonfield_paths_and_nulls() {
        let doc = "{\"thing1\":{\"thing2\":\"hello\"},\"array\":[101,102],\"n\":null,\
                   \"f\":1.50,\"e\":1.5e3,\"a b\":true,\"q\\\"\":7}";
        let d = &[Some(doc)];
        assert_eq!(
            extract_rows(d, "$.thing1"),
            vec![s("{\"thing2\":\"hello\"}")]
        );
        assert_eq!(extract_rows(d, "$.thing1.thing2"), vec![s("hello")]);
        assert_eq!(extract_rows(d, "$.array.1"), vec![s("102")]);
        assert_eq!(extract_rows(d, "$.array[0]"), vec![s("101")]);
        assert_eq!(extract_rows(d, "$['array'][1]"), vec![s("102")]);
        assert_eq!(
            extract_rows(d, "$[\"thing1\"][\"thing2\"]"),
            vec![s("hello")]
        );
        assert_eq!(extract_rows(d, "$[\"a b\"]"), vec![s("true")]);
        assert_eq!(extract_rows(d, "$[\"q\\\"\"]"), vec![s("7")]);
        assert_eq!(extract_rows(d, "$.array[2]"), vec![None]);
        assert_eq!(extract_rows(d, "$.array.x"), vec![None]);
        assert_eq!(extract_rows(d, "$.will.not.find.me"), vec![None]);
        assert_eq!(extract_rows(d, "$.n"), vec![s("null")]);
        assert_eq!(extract_rows(d, "$.f"), vec![s("1.50")]);
        assert_eq!(extract_rows(d, "$.e"), vec![s("1.5E+3")]);
        assert_eq!(
            extract_rows(d, "$"),
            vec![s(
                "{\"thing1\":{\"thing2\":\"hello\"},\"array\":[101,102],\"n\":null,\
                    \"f\":1.50,\"e\":1.5E+3,\"a b\":true,\"q\\\"\":7}"
            )]
        );
        // Invalid paths and documents give nulls.
        assert_eq!(extract_rows(d, "thing1"), vec![None]);
        assert_eq!(extract_rows(d, "$."), vec![None]);
        assert_eq!(extract_rows(d, "$[]"), vec![None]);
        assert_eq!(
            extract_rows(&[Some("this is NOT a JSON doc"), None, Some("")], "$.a"),
            vec![None, None, None]
        );
        let out = invoke(
            Kind::ExtractJsonField,
            vec![strs(&[Some("{\"a\":1}")]), strs(&[None])],
        );
        assert_eq!(as_strings(&out), vec![None]);
    }

    // ----- IS_JSON_STRING -----

    #[test]
    fn is_json_string_cases() {
        let docs = [
            Some("1"),
            Some("abc"),
            Some("[1, 2, 3]"),
            Some("\"abc\""),
            Some(""),
            None,
            Some("{}"),
            Some("null"),
            Some("   "),
            Some("01"),
            Some("1abc"),
            Some("1 abc"),
            Some("[1] trailing"),
            Some("[1,]"),
            Some("{'a': 1}"),
            Some("truex"),
            Some("\"a\u{1}\""),
            Some("[1.]"),
            Some("-"),
            Some("{\"a\" 1}"),
        ];
        let out = invoke(Kind::IsJsonString, vec![strs(&docs)]);
        let got: Vec<Option<bool>> = out.as_boolean().iter().collect();
        let want = [
            true, false, true, true, false, false, true, true, false, false, false, true, true,
            false, false, false, false, false, false, false,
        ];
        assert_eq!(got, want.iter().map(|&b| Some(b)).collect::<Vec<_>>());
    }

    #[test]
    fn nesting_is_limited() {
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(matches!(parse_document(&deep), Ok(Some(_))));
        let deeper = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
        assert!(parse_document(&deeper).is_err());
    }

    // ----- JSON_ARRAY_LENGTH -----

    #[test]
    fn json_array_length_cases() {
        let docs = [
            Some("[1, 2, 3]"),
            Some("[1, [1, [2]], 3]"),
            Some("[]"),
            Some("{}"),
            Some("123"),
            None,
            Some("abc"),
            Some(""),
        ];
        let out = invoke(Kind::JsonArrayLength, vec![strs(&docs)]);
        let got: Vec<Option<i32>> = out.as_primitive::<Int32Type>().iter().collect();
        assert_eq!(
            got,
            vec![Some(3), Some(3), Some(0), None, None, None, None, None]
        );
    }

    // ----- JSON_CONCAT -----

    fn concat(columns: &[&[Option<&str>]]) -> Vec<Option<String>> {
        as_strings(&invoke(
            Kind::JsonConcat,
            columns.iter().map(|c| strs(c)).collect(),
        ))
    }

    #[test]
    fn json_concat_two_arguments() {
        let a = [
            Some("{\"a\": 1}"),
            Some("{}"),
            Some("{\"a\": {\"5\": 6}}"),
            Some("[1, 2]"),
            Some("null"),
            Some("[1, 2]"),
            Some("[]"),
            Some("[1, [2]]"),
            Some("1"),
            Some(""),
            Some(""),
            None,
            None,
            Some("abc"),
            Some("{\"a\": 1, \"b\": 2}"),
            Some("[1.50, 2e3]"),
        ];
        let b = [
            Some("{\"b\": 2}"),
            Some("{}"),
            Some("{\"a\": {\"3\": 4}}"),
            Some("[3, 4]"),
            Some("null"),
            Some("{\"a\": 1}"),
            Some("[]"),
            Some("[[[3]], [[[4]]]]"),
            Some(""),
            Some("1"),
            Some(""),
            None,
            Some(""),
            Some("[1]"),
            Some("{\"c\": 3, \"a\": 4}"),
            Some("1e-7"),
        ];
        assert_eq!(
            concat(&[&a, &b]),
            vec![
                s("{\"a\":1,\"b\":2}"),
                s("{}"),
                s("{\"a\":{\"3\":4}}"),
                s("[1,2,3,4]"),
                s("[null,null]"),
                s("[1,2,{\"a\":1}]"),
                s("[]"),
                s("[1,[2],[[3]],[[[4]]]]"),
                None,
                None,
                None,
                None,
                None,
                None,
                s("{\"a\":4,\"b\":2,\"c\":3}"),
                s("[1.50,2000,0.0000001]"),
            ]
        );
    }

    #[test]
    fn json_concat_three_arguments() {
        let a = [
            Some("{\"a\": 1}"),
            Some("{\"a\": {\"5\": 6}}"),
            Some("[1, 2]"),
            Some("null"),
            Some("[1, 2]"),
            Some("1"),
            None,
        ];
        let b = [
            Some("{\"b\": 2}"),
            Some("{\"a\": {\"3\": 4}}"),
            Some("[3, 4]"),
            Some("null"),
            Some("{\"a\": 1}"),
            Some(""),
            None,
        ];
        let c = [
            Some("{\"c\": 3}"),
            Some("{\"a\": {\"7\": 8}}"),
            Some("[5, 6]"),
            Some("null"),
            Some("4"),
            Some("2"),
            None,
        ];
        assert_eq!(
            concat(&[&a, &b, &c]),
            vec![
                s("{\"a\":1,\"b\":2,\"c\":3}"),
                s("{\"a\":{\"7\":8}}"),
                s("[1,2,3,4,5,6]"),
                s("[null,null,null]"),
                s("[1,2,{\"a\":1},4]"),
                None,
                None,
            ]
        );
        // One argument: the value as it is.
        assert_eq!(
            concat(&[&[Some(" 1 "), Some("[1, 2]")]]),
            vec![s("1"), s("[1,2]")]
        );
    }

    // ----- JSON_KEYS, JSON_RECORDS, JSON_ITEMS -----

    #[test]
    fn json_keys_cases() {
        let docs = [
            Some("{\"Red\": 3, \"Green\": 5}"),
            Some("{\"White\": 7, \"Pink\": 8}"),
            Some("{}"),
            None,
            Some(""),
            Some("[]"),
            Some("123"),
            Some("abc"),
            Some("{\"a\": 1, \"b\": 2, \"a\": 3}"),
        ];
        let out = invoke(Kind::JsonKeys, vec![strs(&docs)]);
        let v = |x: &[&str]| Some(x.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            lists(&out),
            vec![
                v(&["Red", "Green"]),
                v(&["White", "Pink"]),
                v(&[]),
                None,
                None,
                None,
                None,
                None,
                v(&["a", "b"]),
            ]
        );
    }

    #[test]
    fn json_records_cases() {
        let docs = [
            Some("{\"Red\": 3, \"Green\": 5}"),
            Some("{\"White\": \"Seven\"}"),
            Some("{}"),
            None,
            Some(""),
            Some("[]"),
            Some("abc"),
            Some("{\"a\": \"abc\", \"b\": { \"c\": \"a\" }, \"d\": 1, \"e\": null}"),
        ];
        let out = invoke(Kind::JsonRecords, vec![strs(&docs)]);
        let map = out.as_map();
        let got: Vec<Option<Vec<(String, String)>>> = (0..map.len())
            .map(|i| {
                map.is_valid(i).then(|| {
                    let entries = map.value(i);
                    let k = entries.column(0).as_string::<i32>();
                    let v = entries.column(1).as_string::<i32>();
                    (0..entries.len())
                        .map(|j| (k.value(j).to_string(), v.value(j).to_string()))
                        .collect()
                })
            })
            .collect();
        let e = |x: &[(&str, &str)]| {
            Some(
                x.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            got,
            vec![
                e(&[("Red", "3"), ("Green", "5")]),
                e(&[("White", "Seven")]),
                e(&[]),
                None,
                None,
                None,
                None,
                e(&[
                    ("a", "abc"),
                    ("b", "{\"c\":\"a\"}"),
                    ("d", "1"),
                    ("e", "null")
                ]),
            ]
        );
    }

    #[test]
    fn json_items_cases() {
        let docs = [
            Some("[{\"type\": \"AAA\", \"ts\": 1.0}, {\"type\": \"BBB\"}]"),
            Some("[]"),
            None,
            Some("[\"abc\"]"),
            Some("abc"),
            Some("{}"),
            Some("null"),
            Some(""),
        ];
        let out = invoke(Kind::JsonItems, vec![strs(&docs)]);
        assert_eq!(
            lists(&out),
            vec![
                Some(vec![
                    "{\"type\":\"AAA\",\"ts\":1.0}".to_string(),
                    "{\"type\":\"BBB\"}".to_string()
                ]),
                Some(vec![]),
                None,
                None,
                None,
                None,
                None,
                None,
            ]
        );
    }

    // ----- JSON_ARRAY_CONTAINS -----

    fn contains(doc: &str, needle: ArrayRef) -> Option<bool> {
        let out = invoke(Kind::JsonArrayContains, vec![strs(&[Some(doc)]), needle]);
        out.as_boolean().iter().next().unwrap()
    }

    fn int(v: Option<i32>) -> ArrayRef {
        Arc::new(Int32Array::from(vec![v]))
    }
    fn long(v: i64) -> ArrayRef {
        Arc::new(Int64Array::from(vec![v]))
    }
    fn dbl(v: f64) -> ArrayRef {
        Arc::new(Float64Array::from(vec![v]))
    }
    fn st(v: Option<&str>) -> ArrayRef {
        strs(&[v])
    }
    fn boolean(v: bool) -> ArrayRef {
        Arc::new(BooleanArray::from(vec![v]))
    }

    #[test]
    fn json_array_contains_corpus_case() {
        let docs = [
            Some("[\"Red\", \"Green\"]"),
            Some("[\"Black\"]"),
            Some("[\"Pink\", \"Yellow\", \"Pink\"]"),
            Some("[\"White\", \"Pink\"]"),
            Some("[\"Pink\", null]"),
            None,
        ];
        let pink = strs(&[Some("Pink"); 6]);
        let out = invoke(Kind::JsonArrayContains, vec![strs(&docs), pink]);
        let got: Vec<Option<bool>> = out.as_boolean().iter().collect();
        assert_eq!(
            got,
            vec![
                Some(false),
                Some(false),
                Some(true),
                Some(true),
                Some(true),
                None
            ]
        );
    }

    #[test]
    fn json_array_contains_by_type() {
        assert_eq!(contains("[]", boolean(true)), Some(false));
        assert_eq!(contains("[]", int(None)), Some(false));
        assert_eq!(contains("[null]", int(None)), Some(true));
        assert_eq!(contains("[null]", st(Some("null"))), Some(false));
        assert_eq!(contains("[null]", st(Some(""))), Some(false));
        let json = "[2147483647, {\"ab\":null }, -2147483648, 1, 2, 3, null, [4], 4]";
        assert_eq!(contains(json, int(Some(2147483647))), Some(true));
        assert_eq!(contains(json, int(Some(-2147483648))), Some(true));
        assert_eq!(contains(json, int(Some(3))), Some(true));
        assert_eq!(contains(json, int(Some(5))), Some(false));
        assert_eq!(contains("5", int(Some(5))), Some(false));
        assert_eq!(
            contains("[1111111111111111]", long(1111111111111111)),
            Some(true)
        );
        assert_eq!(
            contains("[[222222222222222], 33333]", long(33333)),
            Some(true)
        );
        assert_eq!(
            contains("[[222222222222222], 33333]", long(222222222222222)),
            Some(false)
        );
        assert_eq!(contains("[1]", dbl(1.0)), Some(false));
        // An integer too wide for INT ends the search.
        assert_eq!(contains("[3000000000, 1]", int(Some(1))), Some(false));
        assert_eq!(contains("[3000000000, 1]", long(1)), Some(true));
        assert_eq!(contains("[1.0, 2.0, 1.6E3]", dbl(1600.0)), Some(true));
        assert_eq!(contains("[1.0, 2.0, -1.6E3]", dbl(-1600.0)), Some(true));
        assert_eq!(contains("[[2.0], 3.0]", dbl(2.0)), Some(false));
        assert_eq!(
            contains("[{}, \"abc\", null, 1]", st(Some("abc"))),
            Some(true)
        );
        assert_eq!(contains("[\"\"]", st(Some(""))), Some(true));
        assert_eq!(contains("[\"\"]", st(None)), Some(false));
        assert_eq!(contains("[1,2,3]", st(Some("1"))), Some(false));
        assert_eq!(
            contains("[false, false, true, false]", boolean(true)),
            Some(true)
        );
        assert_eq!(contains("[true, true]", boolean(false)), Some(false));
        assert_eq!(contains("[false, true]", st(None)), Some(false));
        // The parse stops at the first match; broken JSON before it is false.
        assert_eq!(contains("[1, 2, oops", int(Some(2))), Some(true));
        assert_eq!(contains("[oops, 2]", int(Some(2))), Some(false));
        assert_eq!(contains("not json", int(Some(2))), Some(false));
        let view: ArrayRef = Arc::new(StringViewArray::from(vec![Some("x")]));
        assert_eq!(contains("[\"x\"]", view), Some(true));
    }

    // ----- Plumbing -----

    #[test]
    fn numbers_print_as_jackson_does() {
        let node = |t: &str| match parse_document(t) {
            Ok(Some(v)) => node_string(&v),
            other => panic!("{t}: {other:?}"),
        };
        let plain = |t: &str| match parse_document(t) {
            Ok(Some(v)) => plain_string(&v).unwrap(),
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(node("-0"), "0");
        assert_eq!(node("-0.0"), "0.0");
        assert_eq!(
            node("123456789012345678901234567890"),
            "123456789012345678901234567890"
        );
        assert_eq!(node("1e2"), "1E+2");
        assert_eq!(plain("1e2"), "100");
        assert_eq!(node("0.0000001"), "1E-7");
        assert_eq!(plain("0.0000001"), "0.0000001");
        assert_eq!(node("0.000001"), "0.000001");
        assert_eq!(node("-1.25e-10"), "-1.25E-10");
        assert_eq!(node("0e5"), "0E+5");
        assert_eq!(plain("0e5"), "0");
        assert_eq!(node("12.5E1"), "125");
        assert!(plain_string(&parse_document("1e20000").unwrap().unwrap()).is_err());
    }

    #[test]
    fn strings_and_objects_parse_as_jackson_does() {
        assert_eq!(
            parse_document("\"a\\u00e9\\ud83d\\ude00\\ud800x\\/\"").unwrap(),
            Some(Json::Str("aé😀\u{FFFD}x/".into()))
        );
        assert!(parse_document("\"\\x\"").is_err());
        assert_eq!(
            node_string(
                &parse_document("{\"b\":1,\"a\":2,\"b\":3}")
                    .unwrap()
                    .unwrap()
            ),
            "{\"b\":3,\"a\":2}"
        );
    }

    #[test]
    fn signatures_coerce_and_reject() {
        let f = udf(Kind::JsonKeys);
        assert_eq!(
            f.coerce_types(&[DataType::Utf8View]).unwrap(),
            vec![DataType::Utf8]
        );
        assert_eq!(
            f.coerce_types(&[DataType::Null]).unwrap(),
            vec![DataType::Utf8]
        );
        let err = f.coerce_types(&[DataType::Int32]).unwrap_err().to_string();
        assert!(
            err.contains("Function 'JSON_KEYS' does not accept parameters (INTEGER)."),
            "{err}"
        );
        let f = udf(Kind::JsonConcat);
        assert_eq!(
            f.coerce_types(&[DataType::Utf8, DataType::LargeUtf8, DataType::Utf8])
                .unwrap(),
            vec![DataType::Utf8; 3]
        );
        let f = udf(Kind::JsonArrayContains);
        assert_eq!(
            f.coerce_types(&[DataType::Utf8, DataType::Int64]).unwrap(),
            vec![DataType::Utf8, DataType::Int64]
        );
        let f = udf(Kind::ToJsonString);
        assert!(f.coerce_types(&[]).is_err());
        let names: Vec<String> = functions().iter().map(|f| f.name().to_string()).collect();
        assert_eq!(names.len(), 9);
        assert!(names.contains(&"to_json_string".to_string()));
        assert!(names.contains(&"extractjsonfield".to_string()));
    }
}
