//! ksqlDB's String, URL, bytes and geo functions, as DataFusion scalar UDFs over Arrow arrays.
//!
//! - `GEO_DISTANCE(lat1, lon1, lat2, lon2 [, unit])`: great-circle (haversine) distance, in
//!   kilometres (earth radius 6371) or miles (3959);
//! - `SPLIT(string, delimiter)` / `SPLIT(bytes, delimiter)`, `SPLIT_TO_MAP(string, entryDelim,
//!   kvDelim)`, `REGEXP_SPLIT_TO_ARRAY(string, regex)`;
//! - `ELT(n, strings...)` and `FIELD(string, strings...)`;
//! - `URL_ENCODE_PARAM`, `URL_DECODE_PARAM` and the `URL_EXTRACT_*` functions, which parse their
//!   input the way `java.net.URI` does (see [`JavaUri`]);
//! - `TO_BYTES(string, encoding)`, `FROM_BYTES(bytes, encoding)` with the encodings `hex`,
//!   `utf8`, `ascii` and `base64`, and `INT_FROM_BYTES`, `BIGINT_FROM_BYTES`,
//!   `DOUBLE_FROM_BYTES` with an optional byte order.
//!
//! All of them are one [`TextUdf`] type: ksqlDB's overloads drive argument coercion (and the
//! "does not accept parameters" error), arguments are processed as whole Arrow arrays, and a value
//! ksqlDB's function would throw on is an execution error carrying ksqlDB's message.

use crate::ksql_type::ksql_type_name;
use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, Float64Array, Float64Builder, Int32Array,
    Int32Builder, Int64Builder, ListBuilder, MapBuilder, MapFieldNames, StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float64Type, Int32Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use regex::Regex;

/// Every function of this module, for registration.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    use Func::*;
    use Param::{Bytes, Double, Int, Str};
    let fixed = |params: &[Param]| Overload {
        fixed: params.to_vec(),
        rest: None,
    };
    let variadic = |params: &[Param], rest: Param| Overload {
        fixed: params.to_vec(),
        rest: Some(rest),
    };
    let udfs = vec![
        TextUdf::new(
            "geo_distance",
            GeoDistance,
            vec![
                fixed(&[Double, Double, Double, Double]),
                fixed(&[Double, Double, Double, Double, Str]),
            ],
        ),
        TextUdf::new(
            "split",
            Split,
            vec![fixed(&[Str, Str]), fixed(&[Bytes, Bytes])],
        ),
        TextUdf::new("split_to_map", SplitToMap, vec![fixed(&[Str, Str, Str])]),
        TextUdf::new(
            "regexp_split_to_array",
            RegexpSplitToArray,
            vec![fixed(&[Str, Str])],
        ),
        TextUdf::new("elt", Elt, vec![variadic(&[Int], Str)]),
        TextUdf::new(
            "lpad",
            Pad { left: true },
            vec![fixed(&[Str, Int, Str]), fixed(&[Bytes, Int, Bytes])],
        ),
        TextUdf::new(
            "rpad",
            Pad { left: false },
            vec![fixed(&[Str, Int, Str]), fixed(&[Bytes, Int, Bytes])],
        ),
        TextUdf::new("field", FieldPos, vec![variadic(&[Str], Str)]),
        TextUdf::new("url_decode_param", UrlDecodeParam, vec![fixed(&[Str])]),
        TextUdf::new("url_encode_param", UrlEncodeParam, vec![fixed(&[Str])]),
        TextUdf::new("initcap", InitCap, vec![fixed(&[Str])]),
        TextUdf::new(
            "url_extract_fragment",
            UrlExtract(UrlPart::Fragment),
            vec![fixed(&[Str])],
        ),
        TextUdf::new(
            "url_extract_host",
            UrlExtract(UrlPart::Host),
            vec![fixed(&[Str])],
        ),
        TextUdf::new(
            "url_extract_parameter",
            UrlExtractParameter,
            vec![fixed(&[Str, Str])],
        ),
        TextUdf::new(
            "url_extract_path",
            UrlExtract(UrlPart::Path),
            vec![fixed(&[Str])],
        ),
        TextUdf::new("url_extract_port", UrlExtractPort, vec![fixed(&[Str])]),
        TextUdf::new(
            "url_extract_protocol",
            UrlExtract(UrlPart::Scheme),
            vec![fixed(&[Str])],
        ),
        TextUdf::new(
            "url_extract_query",
            UrlExtract(UrlPart::Query),
            vec![fixed(&[Str])],
        ),
        TextUdf::new("to_bytes", ToBytes, vec![fixed(&[Str, Str])]),
        TextUdf::new("from_bytes", FromBytes, vec![fixed(&[Bytes, Str])]),
        TextUdf::new(
            "int_from_bytes",
            NumberFromBytes(NumberKind::Int),
            vec![fixed(&[Bytes]), fixed(&[Bytes, Str])],
        ),
        TextUdf::new(
            "bigint_from_bytes",
            NumberFromBytes(NumberKind::BigInt),
            vec![fixed(&[Bytes]), fixed(&[Bytes, Str])],
        ),
        TextUdf::new(
            "double_from_bytes",
            NumberFromBytes(NumberKind::Double),
            vec![fixed(&[Bytes]), fixed(&[Bytes, Str])],
        ),
    ];
    udfs.into_iter()
        .map(|u| Arc::new(ScalarUDF::new_from_impl(u)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The UDF type: overloads, coercion, evaluation.
// ---------------------------------------------------------------------------------------------

/// A ksqlDB parameter type of these functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Param {
    Str,
    Bytes,
    Int,
    Double,
}

impl Param {
    /// The Arrow type an argument is coerced to.
    fn arrow(self) -> DataType {
        match self {
            Param::Str => DataType::Utf8,
            Param::Bytes => DataType::Binary,
            Param::Int => DataType::Int32,
            Param::Double => DataType::Float64,
        }
    }

    /// Whether an argument of type `dt` can be passed (ksqlDB's implicit widening included).
    fn accepts(self, dt: &DataType) -> bool {
        use DataType::*;
        if *dt == Null {
            return true;
        }
        match self {
            Param::Str => matches!(dt, Utf8 | LargeUtf8 | Utf8View),
            Param::Bytes => matches!(dt, Binary | LargeBinary | BinaryView | FixedSizeBinary(_)),
            Param::Int => matches!(dt, Int8 | Int16 | Int32 | UInt8 | UInt16),
            Param::Double => matches!(
                dt,
                Int8 | Int16
                    | Int32
                    | Int64
                    | UInt8
                    | UInt16
                    | UInt32
                    | UInt64
                    | Float16
                    | Float32
                    | Float64
                    | Decimal128(_, _)
                    | Decimal256(_, _)
            ),
        }
    }

    fn ksql_name(self) -> &'static str {
        match self {
            Param::Str => "STRING",
            Param::Bytes => "BYTES",
            Param::Int => "INT",
            Param::Double => "DOUBLE",
        }
    }
}

/// One ksqlDB overload: fixed parameters, then optionally any number of `rest` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Overload {
    fixed: Vec<Param>,
    rest: Option<Param>,
}

impl Overload {
    fn param(&self, i: usize) -> Option<Param> {
        self.fixed.get(i).copied().or(self.rest)
    }

    fn accepts(&self, types: &[DataType]) -> bool {
        let arity_ok = match self.rest {
            None => types.len() == self.fixed.len(),
            Some(_) => types.len() >= self.fixed.len(),
        };
        arity_ok
            && types
                .iter()
                .enumerate()
                .all(|(i, t)| self.param(i).is_some_and(|p| p.accepts(t)))
    }

    fn describe(&self, name: &str) -> String {
        let mut parts: Vec<String> = self.fixed.iter().map(|p| p.ksql_name().into()).collect();
        if let Some(rest) = self.rest {
            parts.push(format!("{}...", rest.ksql_name()));
        }
        format!("{name}({})", parts.join(", "))
    }
}

/// A part of a URL that `URL_EXTRACT_*` returns as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum UrlPart {
    Scheme,
    Host,
    Path,
    Query,
    Fragment,
}

/// The numeric type a `*_FROM_BYTES` function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NumberKind {
    Int,
    BigInt,
    Double,
}

impl NumberKind {
    fn width(self) -> usize {
        match self {
            NumberKind::Int => 4,
            NumberKind::BigInt | NumberKind::Double => 8,
        }
    }
}

/// Which function a [`TextUdf`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Func {
    GeoDistance,
    Split,
    SplitToMap,
    RegexpSplitToArray,
    Elt,
    /// LPAD / RPAD.
    Pad {
        left: bool,
    },
    FieldPos,
    UrlDecodeParam,
    UrlEncodeParam,
    /// ksqlDB's INITCAP: words are separated by spaces only (DataFusion's also splits at
    /// punctuation: `some_string` would become `Some_String`).
    InitCap,
    UrlExtract(UrlPart),
    UrlExtractParameter,
    UrlExtractPort,
    ToBytes,
    FromBytes,
    NumberFromBytes(NumberKind),
}

/// One function of this module as a DataFusion scalar UDF.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TextUdf {
    name: &'static str,
    func: Func,
    overloads: Vec<Overload>,
    signature: Signature,
}

impl TextUdf {
    fn new(name: &'static str, func: Func, overloads: Vec<Overload>) -> Self {
        TextUdf {
            name,
            func,
            overloads,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn is_binary(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
    )
}

/// `ARRAY<item>` the Sluice way.
fn list_type(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

fn map_entry_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, true),
    ])
}

/// `MAP<STRING, STRING>` the Sluice way: entries{key (non-null), value}, unsorted.
fn string_map_type() -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(map_entry_fields()),
            false,
        )),
        false,
    )
}

impl ScalarUDFImpl for TextUdf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.func {
            Func::GeoDistance => DataType::Float64,
            Func::Split => {
                if arg_types.first().is_some_and(is_binary) {
                    list_type(DataType::Binary)
                } else {
                    list_type(DataType::Utf8)
                }
            }
            Func::SplitToMap => string_map_type(),
            Func::RegexpSplitToArray => list_type(DataType::Utf8),
            Func::Elt => DataType::Utf8,
            Func::Pad { .. } => {
                if arg_types.first().is_some_and(is_binary) {
                    DataType::Binary
                } else {
                    DataType::Utf8
                }
            }
            Func::FieldPos => DataType::Int32,
            Func::UrlDecodeParam
            | Func::UrlEncodeParam
            | Func::InitCap
            | Func::UrlExtract(_)
            | Func::UrlExtractParameter => DataType::Utf8,
            Func::UrlExtractPort => DataType::Int32,
            Func::ToBytes => DataType::Binary,
            Func::FromBytes => DataType::Utf8,
            Func::NumberFromBytes(NumberKind::Int) => DataType::Int32,
            Func::NumberFromBytes(NumberKind::BigInt) => DataType::Int64,
            Func::NumberFromBytes(NumberKind::Double) => DataType::Float64,
        })
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match self.overloads.iter().find(|o| o.accepts(arg_types)) {
            Some(o) => Ok((0..arg_types.len())
                .map(|i| o.param(i).map(Param::arrow).unwrap_or(DataType::Null))
                .collect()),
            None => {
                let given = arg_types
                    .iter()
                    .map(ksql_type_name)
                    .collect::<Vec<_>>()
                    .join(", ");
                let alternatives = self
                    .overloads
                    .iter()
                    .map(|o| o.describe(self.name))
                    .collect::<Vec<_>>()
                    .join("\n");
                plan_err!(
                    "Function '{}' does not accept parameters ({given}).\nValid alternatives are:\n{alternatives}",
                    self.name
                )
            }
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
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let out = evaluate(self.func, &arrays, rows)?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

fn evaluate(func: Func, args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    match func {
        Func::GeoDistance => geo_distance(args, rows),
        Func::Split => {
            if args.first().is_some_and(|a| is_binary(a.data_type())) {
                split_bytes(args, rows)
            } else {
                split_strings(args, rows)
            }
        }
        Func::SplitToMap => split_to_map(args, rows),
        Func::RegexpSplitToArray => regexp_split_to_array(args, rows),
        Func::Elt => elt(args, rows),
        Func::Pad { left } => pad(args, rows, left),
        Func::FieldPos => field(args, rows),
        Func::UrlDecodeParam => map_strings(args, rows, |s| url_decode_param(s).map(Some)),
        Func::UrlEncodeParam => map_strings(args, rows, |s| Ok(Some(url_encode_param(s)))),
        Func::InitCap => map_strings(args, rows, |s| Ok(Some(initcap(s)))),
        Func::UrlExtract(part) => map_strings(args, rows, |s| {
            let uri = parse_url(s)?;
            Ok(match part {
                UrlPart::Scheme => uri.scheme.map(str::to_string),
                UrlPart::Host => uri.host.map(str::to_string),
                UrlPart::Path => uri.path.map(java_uri_decode),
                UrlPart::Query => uri.query.map(java_uri_decode),
                UrlPart::Fragment => uri.fragment.map(java_uri_decode),
            })
        }),
        Func::UrlExtractParameter => url_extract_parameter(args, rows),
        Func::UrlExtractPort => url_extract_port(args, rows),
        Func::ToBytes => to_bytes(args, rows),
        Func::FromBytes => from_bytes(args, rows),
        Func::NumberFromBytes(kind) => number_from_bytes(kind, args, rows),
    }
}

// ---------------------------------------------------------------------------------------------
// Argument access.
// ---------------------------------------------------------------------------------------------

fn utf8(a: &ArrayRef) -> Result<StringArray> {
    Ok(cast(a, &DataType::Utf8)?.as_string::<i32>().clone())
}

fn binary(a: &ArrayRef) -> Result<BinaryArray> {
    Ok(cast(a, &DataType::Binary)?.as_binary::<i32>().clone())
}

fn float64(a: &ArrayRef) -> Result<Float64Array> {
    Ok(cast(a, &DataType::Float64)?
        .as_primitive::<Float64Type>()
        .clone())
}

fn int32(a: &ArrayRef) -> Result<Int32Array> {
    Ok(cast(a, &DataType::Int32)?
        .as_primitive::<Int32Type>()
        .clone())
}

fn str_at(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

fn bytes_at(a: &BinaryArray, i: usize) -> Option<&[u8]> {
    a.is_valid(i).then(|| a.value(i))
}

/// A one-string-argument function: null in, null out.
/// Each space-separated word with its first character upper-cased and the rest lower-cased;
/// runs of spaces are kept.
fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut word_start = true;
    for c in s.chars() {
        if c == ' ' {
            out.push(c);
            word_start = true;
        } else if word_start {
            out.extend(c.to_uppercase());
            word_start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn map_strings(
    args: &[ArrayRef],
    rows: usize,
    f: impl Fn(&str) -> Result<Option<String>>,
) -> Result<ArrayRef> {
    let input = utf8(&args[0])?;
    let mut out = StringBuilder::with_capacity(rows, 0);
    for i in 0..rows {
        match str_at(&input, i) {
            Some(s) => out.append_option(f(s)?),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Java's `String.trim()`: strips every char up to and including the space.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

// ---------------------------------------------------------------------------------------------
// GEO_DISTANCE
// ---------------------------------------------------------------------------------------------

const EARTH_RADIUS_KM: f64 = 6371.0;
const EARTH_RADIUS_MILES: f64 = 3959.0;
const RADIUS_NAMES_MILES: [&str; 3] = ["mi", "mile", "miles"];
const RADIUS_NAMES_KMS: [&str; 5] = ["km", "kilometer", "kilometers", "kilometre", "kilometres"];

fn geo_distance(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let lat1 = float64(&args[0])?;
    let lon1 = float64(&args[1])?;
    let lat2 = float64(&args[2])?;
    let lon2 = float64(&args[3])?;
    let units = args.get(4).map(utf8).transpose()?;
    let mut out = Float64Builder::with_capacity(rows);
    for i in 0..rows {
        if lat1.is_null(i) || lon1.is_null(i) || lat2.is_null(i) || lon2.is_null(i) {
            out.append_null();
            continue;
        }
        let unit = units.as_ref().and_then(|u| str_at(u, i));
        out.append_value(haversine_distance(
            lat1.value(i),
            lon1.value(i),
            lat2.value(i),
            lon2.value(i),
            unit,
        )?);
    }
    Ok(Arc::new(out.finish()))
}

fn haversine_distance(
    lat1: f64,
    lon1: f64,
    lat2: f64,
    lon2: f64,
    unit: Option<&str>,
) -> Result<f64> {
    if lat1 < -90.0 || lat2 < -90.0 || lat1 > 90.0 || lat2 > 90.0 {
        return exec_err!(
            "valid latitude values for GeoDistance function are in the range of -90 to 90 decimal degrees"
        );
    }
    if lon1 < -180.0 || lon2 < -180.0 || lon1 > 180.0 || lon2 > 180.0 {
        return exec_err!(
            "valid longitude values for GeoDistance function are in the range of -180 to +180 decimal degrees"
        );
    }
    let radius = match unit.map(java_trim).filter(|u| !u.is_empty()) {
        None => EARTH_RADIUS_KM,
        Some(u) => {
            let u = u.to_lowercase();
            if RADIUS_NAMES_MILES.contains(&u.as_str()) {
                EARTH_RADIUS_MILES
            } else if RADIUS_NAMES_KMS.contains(&u.as_str()) {
                EARTH_RADIUS_KM
            } else {
                let names: Vec<&str> = RADIUS_NAMES_MILES
                    .iter()
                    .chain(RADIUS_NAMES_KMS.iter())
                    .copied()
                    .collect();
                let (last, init) = names.split_last().expect("unit names");
                return exec_err!(
                    "GeoDistance function units parameter must be one of {} or {last}. Values are case-insensitive.",
                    init.join(", ")
                );
            }
        }
    };
    let haversin = |v: f64| (v / 2.0).sin().powi(2);
    // As ksqlDB's JVM computes Math.toRadians (degrees / 180 * PI, not degrees * (PI / 180):
    // the last bit differs).
    let radians = |deg: f64| deg / 180.0 * std::f64::consts::PI;
    let delta_lat = radians(lat2 - lat1);
    let delta_lon = radians(lon2 - lon1);
    let a = haversin(delta_lat) + haversin(delta_lon) * radians(lat1).cos() * radians(lat2).cos();
    Ok(2.0 * a.sqrt().asin() * radius)
}

// ---------------------------------------------------------------------------------------------
// SPLIT, SPLIT_TO_MAP, REGEXP_SPLIT_TO_ARRAY
// ---------------------------------------------------------------------------------------------

fn string_list_builder(rows: usize) -> ListBuilder<StringBuilder> {
    ListBuilder::with_capacity(StringBuilder::new(), rows).with_field(Arc::new(Field::new(
        "item",
        DataType::Utf8,
        true,
    )))
}

fn split_strings(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let input = utf8(&args[0])?;
    let delim = utf8(&args[1])?;
    let mut out = string_list_builder(rows);
    for i in 0..rows {
        match (str_at(&input, i), str_at(&delim, i)) {
            (Some(s), Some(d)) => {
                if d.is_empty() {
                    // Java's `Pattern.compile("").split(s)`: every character, or `[""]`.
                    if s.is_empty() {
                        out.values().append_value("");
                    } else {
                        for (start, c) in s.char_indices() {
                            out.values().append_value(&s[start..start + c.len_utf8()]);
                        }
                    }
                } else {
                    // Guava's `Splitter.on(d)`: keeps leading, trailing and adjacent empties.
                    for piece in s.split(d) {
                        out.values().append_value(piece);
                    }
                }
                out.append(true);
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// ksqlDB's `BytesUtils.split`: an empty input is one empty piece, an empty delimiter splits
/// every byte, otherwise pieces between non-overlapping occurrences of the delimiter.
fn split_byte_slices<'a>(b: &'a [u8], delim: &[u8]) -> Vec<&'a [u8]> {
    if b.is_empty() {
        return vec![b];
    }
    if delim.is_empty() {
        return b.chunks(1).collect();
    }
    let mut pieces = Vec::new();
    let mut offset = 0;
    let mut i = 0;
    while i + delim.len() <= b.len() {
        if &b[i..i + delim.len()] == delim {
            pieces.push(&b[offset..i]);
            i += delim.len();
            offset = i;
        } else {
            i += 1;
        }
    }
    pieces.push(&b[offset..]);
    pieces
}

fn split_bytes(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let input = binary(&args[0])?;
    let delim = binary(&args[1])?;
    let mut out = ListBuilder::with_capacity(BinaryBuilder::new(), rows)
        .with_field(Arc::new(Field::new("item", DataType::Binary, true)));
    for i in 0..rows {
        match (bytes_at(&input, i), bytes_at(&delim, i)) {
            (Some(b), Some(d)) => {
                for piece in split_byte_slices(b, d) {
                    out.values().append_value(piece);
                }
                out.append(true);
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn split_to_map(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let input = utf8(&args[0])?;
    let entry_delim = utf8(&args[1])?;
    let kv_delim = utf8(&args[2])?;
    let names = MapFieldNames {
        entry: "entries".into(),
        key: "key".into(),
        value: "value".into(),
    };
    let mut out = MapBuilder::with_capacity(
        Some(names),
        StringBuilder::new(),
        StringBuilder::new(),
        rows,
    );
    for i in 0..rows {
        let (Some(s), Some(ed), Some(kvd)) = (
            str_at(&input, i),
            str_at(&entry_delim, i),
            str_at(&kv_delim, i),
        ) else {
            out.append(false)?;
            continue;
        };
        if ed.is_empty() || kvd.is_empty() || ed == kvd {
            out.append(false)?;
            continue;
        }
        // Later values of a key replace earlier ones; keys keep their first position.
        let mut entries: Vec<(&str, &str)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for entry in s.split(ed).filter(|e| !e.is_empty() && e.contains(kvd)) {
            let mut kv = entry.split(kvd);
            let key = kv.next().unwrap_or_default();
            let value = kv.next().unwrap_or_default();
            match index.get(key) {
                Some(&at) => entries[at].1 = value,
                None => {
                    index.insert(key, entries.len());
                    entries.push((key, value));
                }
            }
        }
        for (k, v) in entries {
            out.keys().append_value(k);
            out.values().append_value(v);
        }
        out.append(true)?;
    }
    Ok(Arc::new(out.finish()))
}

/// The byte length of the char at `i` of `s` (1 past the end).
fn char_len_at(s: &str, i: usize) -> usize {
    s[i..].chars().next().map_or(1, char::len_utf8)
}

/// Java's `Pattern.split(input)` (limit 0): no leading empty piece for a zero-width match at
/// the start, trailing empty pieces removed.
fn java_pattern_split<'a>(re: &Regex, s: &'a str) -> Vec<&'a str> {
    let mut pieces = Vec::new();
    let mut index = 0;
    let mut from = 0;
    while from <= s.len() {
        let Some(m) = re.find_at(s, from) else {
            break;
        };
        from = if m.start() == m.end() {
            m.end() + char_len_at(s, m.end())
        } else {
            m.end()
        };
        if index == 0 && m.start() == 0 && m.end() == 0 {
            continue;
        }
        pieces.push(&s[index..m.start()]);
        index = m.end();
    }
    if index == 0 {
        return vec![s];
    }
    pieces.push(&s[index..]);
    while pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    pieces
}

/// Guava's `Splitter.on(pattern).splitToList(input)`: every piece, empties included.
fn guava_pattern_split<'a>(re: &Regex, s: &'a str) -> Vec<&'a str> {
    let mut pieces = Vec::new();
    let mut offset = Some(0usize);
    while let Some(next_start) = offset {
        loop {
            let Some(off) = offset else {
                break;
            };
            let end;
            match re.find_at(s, off) {
                None => {
                    end = s.len();
                    offset = None;
                }
                Some(m) => {
                    end = m.start();
                    offset = Some(m.end());
                }
            }
            if offset == Some(next_start) {
                // An empty match where the piece starts: look for separators further on.
                let advanced = next_start + char_len_at(s, next_start);
                offset = (advanced <= s.len()).then_some(advanced);
                continue;
            }
            pieces.push(&s[next_start..end]);
            break;
        }
    }
    pieces
}

fn regexp_split_to_array(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let input = utf8(&args[0])?;
    let patterns = utf8(&args[1])?;
    let mut compiled: HashMap<&str, Regex> = HashMap::new();
    let mut out = string_list_builder(rows);
    for i in 0..rows {
        let (Some(s), Some(p)) = (str_at(&input, i), str_at(&patterns, i)) else {
            out.append_null();
            continue;
        };
        if !compiled.contains_key(p) {
            match Regex::new(p) {
                Ok(re) => {
                    compiled.insert(p, re);
                }
                Err(_) => return exec_err!("Invalid regular expression pattern: {p}"),
            }
        }
        let re = &compiled[p];
        let pieces = if p.is_empty() || re.is_match("") {
            java_pattern_split(re, s)
        } else {
            guava_pattern_split(re, s)
        };
        for piece in pieces {
            out.values().append_value(piece);
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

// ---------------------------------------------------------------------------------------------
// ELT, FIELD
// ---------------------------------------------------------------------------------------------

fn elt(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let n = int32(&args[0])?;
    let strings = args[1..].iter().map(utf8).collect::<Result<Vec<_>>>()?;
    let mut out = StringBuilder::with_capacity(rows, 0);
    for i in 0..rows {
        let chosen = if n.is_valid(i) {
            let n = n.value(i);
            if n < 1 || n as usize > strings.len() {
                None
            } else {
                str_at(&strings[n as usize - 1], i)
            }
        } else {
            None
        };
        out.append_option(chosen);
    }
    Ok(Arc::new(out.finish()))
}

/// ksqlDB's LPAD / RPAD over characters (STRING) or bytes (BYTES): the input padded with
/// repetitions of the padding to `len` on the left (right), or cut to its first `len`
/// elements; null when any argument is null, `len` is negative or the padding is empty.
fn pad(args: &[ArrayRef], rows: usize, left: bool) -> Result<ArrayRef> {
    let len = int32(&args[1])?;
    fn padded<T: Clone>(input: &[T], len: usize, padding: &[T], left: bool) -> Vec<T> {
        if input.len() >= len {
            return input[..len].to_vec();
        }
        let fill: Vec<T> = padding
            .iter()
            .cycle()
            .take(len - input.len())
            .cloned()
            .collect();
        if left {
            [fill.as_slice(), input].concat()
        } else {
            [input, fill.as_slice()].concat()
        }
    }
    let len_at = |i: usize| {
        len.is_valid(i)
            .then(|| len.value(i))
            .filter(|n| *n >= 0)
            .map(|n| n as usize)
    };
    if is_binary(args[0].data_type()) {
        let (input, padding) = (binary(&args[0])?, binary(&args[2])?);
        let mut out = BinaryBuilder::with_capacity(rows, 0);
        for i in 0..rows {
            match (bytes_at(&input, i), len_at(i), bytes_at(&padding, i)) {
                (Some(s), Some(n), Some(p)) if !p.is_empty() => {
                    out.append_value(padded(s, n, p, left))
                }
                _ => out.append_null(),
            }
        }
        return Ok(Arc::new(out.finish()));
    }
    let (input, padding) = (utf8(&args[0])?, utf8(&args[2])?);
    let mut out = StringBuilder::with_capacity(rows, 0);
    for i in 0..rows {
        match (str_at(&input, i), len_at(i), str_at(&padding, i)) {
            (Some(s), Some(n), Some(p)) if !p.is_empty() => {
                let s: Vec<char> = s.chars().collect();
                let p: Vec<char> = p.chars().collect();
                out.append_value(padded(&s, n, &p, left).into_iter().collect::<String>())
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn field(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let needle = utf8(&args[0])?;
    let strings = args[1..].iter().map(utf8).collect::<Result<Vec<_>>>()?;
    let mut out = Int32Builder::with_capacity(rows);
    for i in 0..rows {
        let position = match str_at(&needle, i) {
            None => 0,
            Some(s) => strings
                .iter()
                .position(|a| str_at(a, i) == Some(s))
                .map_or(0, |p| p as i32 + 1),
        };
        out.append_value(position);
    }
    Ok(Arc::new(out.finish()))
}

// ---------------------------------------------------------------------------------------------
// URL functions
// ---------------------------------------------------------------------------------------------

/// Guava's `UrlEscapers.urlFormParameterEscaper()`: ASCII letters, digits and `-_.*` stay, a
/// space becomes `+`, everything else is `%XX` (upper case) of its UTF-8 bytes.
fn url_encode_param(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push_str(&format!("{b:02X}"));
            }
        }
    }
    out
}

/// Java's `URLDecoder.decode(s, "UTF-8")`.
fn url_decode_param(s: &str) -> Result<String> {
    fn hex_pair(pair: &[u8]) -> std::result::Result<u8, String> {
        // Integer.parseInt(pair, 16): an optional sign, then hex digits.
        let text = String::from_utf8_lossy(pair);
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, &text[..]),
        };
        if digits.is_empty() || !digits.bytes().all(|d| d.is_ascii_hexdigit()) {
            return Err(format!(
                "URLDecoder: Illegal hex characters in escape (%) pattern - Error at index 0 in: \"{text}\""
            ));
        }
        let v = i32::from_str_radix(digits, 16).unwrap_or(0);
        if negative && v != 0 {
            return Err(
                "URLDecoder: Illegal hex characters in escape (%) pattern - negative value".into(),
            );
        }
        Ok(v as u8)
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut plain_from = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push_str(&s[plain_from..i]);
                out.push(' ');
                i += 1;
                plain_from = i;
            }
            b'%' => {
                out.push_str(&s[plain_from..i]);
                let mut bytes = Vec::new();
                while i + 2 < b.len() && b[i] == b'%' {
                    match hex_pair(&b[i + 1..i + 3]) {
                        Ok(v) => bytes.push(v),
                        Err(msg) => return exec_err!("{msg}"),
                    }
                    i += 3;
                }
                if i < b.len() && b[i] == b'%' {
                    return exec_err!("URLDecoder: Incomplete trailing escape (%) pattern");
                }
                out.push_str(&String::from_utf8_lossy(&bytes));
                plain_from = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&s[plain_from..]);
    Ok(out)
}

/// ksqlDB's `UrlParser.extract`: the URL parsed as a `java.net.URI`, or its error.
fn parse_url(url: &str) -> Result<JavaUri<'_>> {
    match JavaUri::parse(url) {
        Some(uri) => Ok(uri),
        None => exec_err!("URL input has invalid syntax: {url}"),
    }
}

fn url_extract_parameter(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let input = utf8(&args[0])?;
    let names = utf8(&args[1])?;
    let mut out = StringBuilder::with_capacity(rows, 0);
    for i in 0..rows {
        let Some(url) = str_at(&input, i) else {
            out.append_null();
            continue;
        };
        let Some(query) = parse_url(url)?.query.map(java_uri_decode) else {
            out.append_null();
            continue;
        };
        let name = str_at(&names, i);
        let found = query.split('&').find_map(|param| {
            let (key, value) = match param.split_once('=') {
                Some((k, v)) => (k, v),
                None => (param, ""),
            };
            (Some(key) == name).then(|| value.to_string())
        });
        out.append_option(found);
    }
    Ok(Arc::new(out.finish()))
}

fn url_extract_port(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let input = utf8(&args[0])?;
    let mut out = Int32Builder::with_capacity(rows);
    for i in 0..rows {
        match str_at(&input, i) {
            Some(url) => {
                let port = parse_url(url)?.port;
                out.append_option((port >= 0).then_some(port));
            }
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Java's `URI.decode`: each run of `%XX` escapes is decoded as UTF-8 (malformed sequences
/// become U+FFFD). The parser has already checked that every `%` starts a valid escape.
fn java_uri_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut plain_from = 0;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        out.push_str(&s[plain_from..i]);
        let mut bytes = Vec::new();
        while i + 2 < b.len() && b[i] == b'%' {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00");
            bytes.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            i += 3;
        }
        out.push_str(&String::from_utf8_lossy(&bytes));
        plain_from = i;
    }
    out.push_str(&s[plain_from..]);
    out
}

/// The parts of a URI as `java.net.URI` parses it (RFC 2396 with Java's deviations), raw
/// (still escaped). `None` where Java's getter returns null; `port` is -1 when absent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct JavaUri<'a> {
    scheme: Option<&'a str>,
    host: Option<&'a str>,
    port: i32,
    path: Option<&'a str>,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

/// Character classes of `java.net.URI`, as bit masks over ASCII. Bit 0 (NUL, never a member)
/// flags classes that also admit escapes and visible non-ASCII characters.
mod uri_chars {
    const fn range(lo: u8, hi: u8) -> u128 {
        let mut m = 0u128;
        let mut c = lo;
        while c <= hi {
            m |= 1u128 << c;
            c += 1;
        }
        m
    }

    const fn chars(s: &[u8]) -> u128 {
        let mut m = 0u128;
        let mut i = 0;
        while i < s.len() {
            m |= 1u128 << s[i];
            i += 1;
        }
        m
    }

    pub const ESCAPED: u128 = 1;
    pub const DIGIT: u128 = range(b'0', b'9');
    pub const ALPHA: u128 = range(b'a', b'z') | range(b'A', b'Z');
    pub const ALPHANUM: u128 = DIGIT | ALPHA;
    pub const HEX: u128 = DIGIT | range(b'a', b'f') | range(b'A', b'F');
    pub const MARK: u128 = chars(b"-_.!~*'()");
    pub const UNRESERVED: u128 = ALPHANUM | MARK;
    pub const RESERVED: u128 = chars(b";/?:@&=+$,[]");
    pub const URIC: u128 = RESERVED | UNRESERVED | ESCAPED;
    pub const PCHAR: u128 = UNRESERVED | ESCAPED | chars(b":@&=+$,");
    pub const PATH: u128 = PCHAR | chars(b";/");
    pub const DASH: u128 = chars(b"-");
    pub const DOT: u128 = chars(b".");
    pub const USERINFO: u128 = UNRESERVED | ESCAPED | chars(b";:&=+$,");
    pub const REG_NAME: u128 = UNRESERVED | ESCAPED | chars(b"$,;:@&=+");
    pub const SERVER: u128 = USERINFO | ALPHANUM | DASH | chars(b".:@[]");
    pub const SERVER_PERCENT: u128 = SERVER | chars(b"%");
    pub const SCHEME: u128 = ALPHA | DIGIT | chars(b"+-.");
    pub const SCOPE_ID: u128 = ALPHANUM | chars(b"_.");

    /// Whether `c` is in the class `mask` on its own (escapes aside).
    pub fn matches(c: char, mask: u128) -> bool {
        let c = c as u32;
        c != 0 && c < 128 && (mask >> c) & 1 == 1
    }
}

/// A URI that does not parse (`URISyntaxException`).
struct UriSyntax;

type Parsed<T> = std::result::Result<T, UriSyntax>;

/// Java's `Character.isSpaceChar`: the Unicode space separators (Zs, Zl, Zp).
fn is_java_space_char(c: char) -> bool {
    matches!(
        c,
        '\u{20}' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// The parser of `java.net.URI`, over byte offsets of `s` (always at char boundaries).
struct UriParser<'a> {
    s: &'a str,
    b: &'a [u8],
    uri: JavaUri<'a>,
}

impl<'a> JavaUri<'a> {
    /// Parses `s` as `new java.net.URI(s)` does; `None` where Java throws.
    fn parse(s: &'a str) -> Option<JavaUri<'a>> {
        let mut p = UriParser {
            s,
            b: s.as_bytes(),
            uri: JavaUri {
                port: -1,
                ..JavaUri::default()
            },
        };
        p.parse().ok()?;
        Some(p.uri)
    }
}

impl<'a> UriParser<'a> {
    fn at(&self, p: usize, n: usize, c: u8) -> bool {
        p < n && self.b[p] == c
    }

    fn char_at(&self, p: usize) -> char {
        self.s[p..].chars().next().unwrap_or('\0')
    }

    /// The first position in `[start, end)` holding one of `stop`, or `end`.
    fn scan_to(&self, start: usize, end: usize, stop: &[u8]) -> usize {
        (start..end)
            .find(|&p| stop.contains(&self.b[p]))
            .unwrap_or(end)
    }

    /// Like [`Self::scan_to`], but `None` when one of `err` comes first.
    fn scan_to_unless(&self, start: usize, end: usize, err: &[u8], stop: &[u8]) -> Option<usize> {
        for p in start..end {
            if err.contains(&self.b[p]) {
                return None;
            }
            if stop.contains(&self.b[p]) {
                return Some(p);
            }
        }
        Some(end)
    }

    /// Past `c` if it is at `start`, else `start`.
    fn scan_char(&self, start: usize, end: usize, c: u8) -> usize {
        if self.at(start, end, c) {
            start + 1
        } else {
            start
        }
    }

    fn scan_escape(&self, p: usize, n: usize, c: char) -> Parsed<usize> {
        if c == '%' {
            if p + 3 <= n
                && uri_chars::matches(self.b[p + 1] as char, uri_chars::HEX)
                && uri_chars::matches(self.b[p + 2] as char, uri_chars::HEX)
            {
                return Ok(p + 3);
            }
            return Err(UriSyntax);
        }
        if c as u32 > 128 && !is_java_space_char(c) && !c.is_control() {
            return Ok(p + c.len_utf8());
        }
        Ok(p)
    }

    /// The end of the run of characters of class `mask` from `start`.
    fn scan(&self, start: usize, n: usize, mask: u128) -> Parsed<usize> {
        let mut p = start;
        while p < n {
            let c = self.char_at(p);
            if uri_chars::matches(c, mask) {
                p += 1;
                continue;
            }
            if mask & uri_chars::ESCAPED != 0 {
                let q = self.scan_escape(p, n, c)?;
                if q > p {
                    p = q;
                    continue;
                }
            }
            break;
        }
        Ok(p)
    }

    fn check_chars(&self, start: usize, end: usize, mask: u128) -> Parsed<()> {
        if self.scan(start, end, mask)? < end {
            return Err(UriSyntax);
        }
        Ok(())
    }

    fn parse(&mut self) -> Parsed<()> {
        let n = self.b.len();
        let mut p = match self.scan_to_unless(0, n, b"/?#", b":") {
            Some(colon) if self.at(colon, n, b':') => {
                if colon == 0 {
                    return Err(UriSyntax);
                }
                if !uri_chars::matches(self.char_at(0), uri_chars::ALPHA) {
                    return Err(UriSyntax);
                }
                self.check_chars(1, colon, uri_chars::SCHEME)?;
                self.uri.scheme = Some(&self.s[..colon]);
                let p = colon + 1;
                if self.at(p, n, b'/') {
                    self.parse_hierarchical(p, n)?
                } else {
                    // An opaque URI: no authority, path or query.
                    let q = self.scan_to(p, n, b"#");
                    if q <= p {
                        return Err(UriSyntax);
                    }
                    self.check_chars(p, q, uri_chars::URIC)?;
                    q
                }
            }
            _ => self.parse_hierarchical(0, n)?,
        };
        if self.at(p, n, b'#') {
            self.check_chars(p + 1, n, uri_chars::URIC)?;
            self.uri.fragment = Some(&self.s[p + 1..]);
            p = n;
        }
        if p < n {
            return Err(UriSyntax);
        }
        Ok(())
    }

    fn parse_hierarchical(&mut self, start: usize, n: usize) -> Parsed<usize> {
        let mut p = start;
        if self.at(p, n, b'/') && self.at(p + 1, n, b'/') {
            p += 2;
            let q = self.scan_to(p, n, b"/?#");
            if q > p {
                p = self.parse_authority(p, q)?;
            } else if q >= n {
                return Err(UriSyntax);
            }
        }
        let q = self.scan_to(p, n, b"?#");
        self.check_chars(p, q, uri_chars::PATH)?;
        self.uri.path = Some(&self.s[p..q]);
        p = q;
        if self.at(p, n, b'?') {
            p += 1;
            let q = self.scan_to(p, n, b"#");
            self.check_chars(p, q, uri_chars::URIC)?;
            self.uri.query = Some(&self.s[p..q]);
            p = q;
        }
        Ok(p)
    }

    fn parse_authority(&mut self, start: usize, n: usize) -> Parsed<usize> {
        let p = start;
        let server_chars = if self.scan_to(p, n, b"]") > p {
            self.scan(p, n, uri_chars::SERVER_PERCENT)? == n
        } else {
            self.scan(p, n, uri_chars::SERVER)? == n
        };
        let reg_chars = self.scan(p, n, uri_chars::REG_NAME)? == n;
        if reg_chars && !server_chars {
            // A registry-based authority: no host, no port.
            return Ok(n);
        }
        if server_chars && matches!(self.parse_server(p, n), Ok(q) if q == n) {
            return Ok(n);
        }
        // Not a server-based authority: registry-based if its characters allow.
        self.uri.host = None;
        self.uri.port = -1;
        if reg_chars {
            Ok(n)
        } else {
            Err(UriSyntax)
        }
    }

    fn parse_server(&mut self, start: usize, n: usize) -> Parsed<usize> {
        let mut p = start;
        // user info
        if let Some(q) = self.scan_to_unless(p, n, b"/?#", b"@") {
            if self.at(q, n, b'@') {
                self.check_chars(p, q, uri_chars::USERINFO)?;
                p = q + 1;
            }
        }
        // host name, IPv4 address or bracketed IPv6 address
        if self.at(p, n, b'[') {
            p += 1;
            match self.scan_to_unless(p, n, b"/?#", b"]") {
                Some(q) if q > p && self.at(q, n, b']') => {
                    let r = self.scan_to(p, q, b"%");
                    if r > p {
                        self.check_ipv6(p, r)?;
                        if r + 1 == q {
                            return Err(UriSyntax);
                        }
                        if r < q {
                            self.check_chars(r + 1, q, uri_chars::SCOPE_ID)?;
                        }
                    } else {
                        self.check_ipv6(p, q)?;
                    }
                    self.uri.host = Some(&self.s[p - 1..q + 1]);
                    p = q + 1;
                }
                _ => return Err(UriSyntax),
            }
        } else {
            p = match self.parse_ipv4(p, n) {
                Some(q) if q > p => q,
                _ => self.parse_hostname(p, n)?,
            };
        }
        // port
        if self.at(p, n, b':') {
            p += 1;
            let q = self.scan_to(p, n, b"/");
            if q > p {
                self.check_chars(p, q, uri_chars::DIGIT)?;
                self.uri.port = self.s[p..q].parse::<i32>().map_err(|_| UriSyntax)?;
                p = q;
            }
        }
        if p < n {
            return Err(UriSyntax);
        }
        Ok(p)
    }

    fn check_ipv6(&self, start: usize, end: usize) -> Parsed<()> {
        self.s[start..end]
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| UriSyntax)
    }

    /// One byte of a dotted IPv4 address: past its digits, or `start` when there are none or
    /// they exceed 255.
    fn scan_byte(&self, start: usize, n: usize) -> usize {
        let q = self.scan(start, n, uri_chars::DIGIT).unwrap_or(start);
        if q <= start {
            return q;
        }
        let digits = self.s[start..q].trim_start_matches('0');
        if digits.len() < 3 {
            return q;
        }
        if digits.len() > 3 || digits.parse::<u32>().unwrap_or(256) > 255 {
            return start;
        }
        q
    }

    /// A dotted IPv4 address at `start` (only followed by a port, if anything): its end.
    fn parse_ipv4(&mut self, start: usize, n: usize) -> Option<usize> {
        let m = self
            .scan(start, n, uri_chars::DIGIT | uri_chars::DOT)
            .unwrap_or(start);
        if m <= start {
            return None;
        }
        let mut p = start;
        for part in 0..4 {
            if part > 0 {
                let q = self.scan_char(p, m, b'.');
                if q <= p {
                    return None;
                }
                p = q;
            }
            let q = self.scan_byte(p, m);
            if q <= p {
                return None;
            }
            p = q;
        }
        if p < m {
            return None;
        }
        if p < n && self.b[p] != b':' {
            return None;
        }
        self.uri.host = Some(&self.s[start..p]);
        Some(p)
    }

    fn parse_hostname(&mut self, start: usize, n: usize) -> Parsed<usize> {
        let mut p = start;
        let mut last_label = None;
        loop {
            let q = self.scan(p, n, uri_chars::ALPHANUM)?;
            if q <= p {
                break;
            }
            last_label = Some(p);
            p = q;
            let q = self.scan(p, n, uri_chars::ALPHANUM | uri_chars::DASH)?;
            if q > p {
                if self.b[q - 1] == b'-' {
                    return Err(UriSyntax);
                }
                p = q;
            }
            let q = self.scan_char(p, n, b'.');
            if q <= p {
                break;
            }
            p = q;
            if p >= n {
                break;
            }
        }
        if p < n && !self.at(p, n, b':') {
            return Err(UriSyntax);
        }
        let Some(l) = last_label else {
            return Err(UriSyntax);
        };
        // The rightmost label of a qualified name must start with a letter.
        if l > start && !uri_chars::matches(self.char_at(l), uri_chars::ALPHA) {
            return Err(UriSyntax);
        }
        self.uri.host = Some(&self.s[start..p]);
        Ok(p)
    }
}

// ---------------------------------------------------------------------------------------------
// TO_BYTES, FROM_BYTES, *_FROM_BYTES
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Hex,
    Utf8,
    Ascii,
    Base64,
}

impl Encoding {
    fn named(name: &str) -> Result<Encoding> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "hex" => Encoding::Hex,
            "utf8" => Encoding::Utf8,
            "ascii" => Encoding::Ascii,
            "base64" => Encoding::Base64,
            _ => {
                return exec_err!(
                    "Unknown encoding type '{name}'. Supported formats are 'hex', 'utf8', 'ascii', and 'base64'."
                )
            }
        })
    }

    /// Bytes to text (FROM_BYTES).
    fn encode(self, b: &[u8]) -> String {
        match self {
            Encoding::Hex => {
                let mut out = String::with_capacity(b.len() * 2);
                for byte in b {
                    out.push_str(&format!("{byte:02X}"));
                }
                out
            }
            Encoding::Utf8 => String::from_utf8_lossy(b).into_owned(),
            Encoding::Ascii => b
                .iter()
                .map(|&c| if c < 0x80 { c as char } else { '\u{fffd}' })
                .collect(),
            Encoding::Base64 => base64_encode(b),
        }
    }

    /// Text to bytes (TO_BYTES).
    fn decode(self, s: &str) -> Result<Vec<u8>> {
        match self {
            Encoding::Hex => hex_decode(s),
            Encoding::Utf8 => Ok(s.as_bytes().to_vec()),
            Encoding::Ascii => Ok(s
                .chars()
                .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
                .collect()),
            Encoding::Base64 => base64_decode(s),
        }
    }
}

/// `DatatypeConverter.parseHexBinary`.
fn hex_decode(s: &str) -> Result<Vec<u8>> {
    if s.encode_utf16().count() % 2 != 0 {
        return exec_err!("hexBinary needs to be even-length: {s}");
    }
    let b = s.as_bytes();
    if !b.iter().all(u8::is_ascii_hexdigit) {
        return exec_err!("contains illegal character for hexBinary: {s}");
    }
    let nibble = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    Ok(b.chunks(2)
        .map(|pair| nibble(pair[0]) * 16 + nibble(pair[1]))
        .collect())
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `Base64.getEncoder()`: the basic alphabet, padded.
fn base64_encode(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let bits = (chunk[0] as u32) << 16
            | (chunk.get(1).copied().unwrap_or(0) as u32) << 8
            | chunk.get(2).copied().unwrap_or(0) as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(BASE64_ALPHABET[(bits >> (18 - 6 * k) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `Base64.getDecoder().decode(String)`: the basic alphabet, padding optional but checked, no
/// other characters; Java's messages.
fn base64_decode(s: &str) -> Result<Vec<u8>> {
    // decode(String) reads the string as ISO-8859-1.
    let src: Vec<u8> = s
        .chars()
        .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
        .collect();
    let sl = src.len();
    if sl == 0 {
        return Ok(Vec::new());
    }
    if sl < 2 {
        return exec_err!("Input byte[] should at least have 2 bytes for base64 bytes");
    }
    let value = |c: u8| {
        BASE64_ALPHABET
            .iter()
            .position(|&a| a == c)
            .map(|v| v as u32)
    };
    let mut out = Vec::with_capacity(sl / 4 * 3 + 2);
    let mut bits = 0u32;
    let mut shiftto: i32 = 18;
    let mut sp = 0;
    while sp < sl {
        let c = src[sp];
        sp += 1;
        let Some(v) = value(c) else {
            if c == b'=' {
                if (shiftto == 6
                    && (sp == sl || {
                        let next = src[sp];
                        sp += 1;
                        next != b'='
                    }))
                    || shiftto == 18
                {
                    return exec_err!("Input byte array has wrong 4-byte ending unit");
                }
                break;
            }
            let signed = c as i8 as i32;
            let hex = if signed < 0 {
                format!("-{:x}", -signed)
            } else {
                format!("{signed:x}")
            };
            return exec_err!("Illegal base64 character {hex}");
        };
        bits |= v << shiftto;
        shiftto -= 6;
        if shiftto < 0 {
            out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]);
            shiftto = 18;
            bits = 0;
        }
    }
    match shiftto {
        6 => out.push((bits >> 16) as u8),
        0 => out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8]),
        12 => return exec_err!("Last unit does not have enough valid bits"),
        _ => {}
    }
    if sp < sl {
        return exec_err!("Input byte array has incorrect ending byte at {sp}");
    }
    Ok(out)
}

fn to_bytes(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let input = utf8(&args[0])?;
    let encodings = utf8(&args[1])?;
    let mut out = BinaryBuilder::with_capacity(rows, 0);
    for i in 0..rows {
        match (str_at(&input, i), str_at(&encodings, i)) {
            (Some(s), Some(e)) => out.append_value(Encoding::named(e)?.decode(s)?),
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn from_bytes(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let input = binary(&args[0])?;
    let encodings = utf8(&args[1])?;
    let mut out = StringBuilder::with_capacity(rows, 0);
    for i in 0..rows {
        match (bytes_at(&input, i), str_at(&encodings, i)) {
            (Some(b), Some(e)) => out.append_value(Encoding::named(e)?.encode(b)),
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `BytesUtils.byteOrderType`: whether the order is little-endian.
fn little_endian(order: Option<&str>) -> Result<bool> {
    match order {
        Some(o) if o.eq_ignore_ascii_case("BIG_ENDIAN") => Ok(false),
        Some(o) if o.eq_ignore_ascii_case("LITTLE_ENDIAN") => Ok(true),
        _ => exec_err!(
            "Byte order must be BIG_ENDIAN or LITTLE_ENDIAN. Unknown byte order '{}'.",
            order.unwrap_or("null")
        ),
    }
}

fn number_from_bytes(kind: NumberKind, args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let input = binary(&args[0])?;
    let orders = args.get(1).map(utf8).transpose()?;
    // The value's bytes as a big-endian array of the kind's width, or null.
    let mut values: Vec<Option<[u8; 8]>> = Vec::with_capacity(rows);
    for i in 0..rows {
        let Some(b) = bytes_at(&input, i) else {
            values.push(None);
            continue;
        };
        let little = match &orders {
            Some(o) => little_endian(str_at(o, i))?,
            None => false,
        };
        let width = kind.width();
        if b.len() != width {
            return exec_err!(
                "Number of bytes must be equal to {width}, but found {}",
                b.len()
            );
        }
        let mut be = [0u8; 8];
        be[..width].copy_from_slice(b);
        if little {
            be[..width].reverse();
        }
        values.push(Some(be));
    }
    Ok(match kind {
        NumberKind::Int => {
            let mut out = Int32Builder::with_capacity(rows);
            for v in values {
                out.append_option(v.map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])));
            }
            Arc::new(out.finish())
        }
        NumberKind::BigInt => {
            let mut out = Int64Builder::with_capacity(rows);
            for v in values {
                out.append_option(v.map(i64::from_be_bytes));
            }
            Arc::new(out.finish())
        }
        NumberKind::Double => {
            let mut out = Float64Builder::with_capacity(rows);
            for v in values {
                out.append_option(v.map(f64::from_be_bytes));
            }
            Arc::new(out.finish())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ListArray, MapArray};
    use datafusion::arrow::datatypes::{Float64Type, Int64Type};
    use datafusion::config::ConfigOptions;

    fn udf(name: &str) -> Arc<ScalarUDF> {
        functions()
            .into_iter()
            .find(|f| f.name() == name)
            .unwrap_or_else(|| panic!("no function {name}"))
    }

    /// Calls `name` the way DataFusion does: coercion, casts, return type, invocation.
    fn call(name: &str, args: Vec<ColumnarValue>, rows: usize) -> Result<ColumnarValue> {
        let f = udf(name);
        let imp = f.inner();
        let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
        let coerced = imp.coerce_types(&types)?;
        let args = args
            .into_iter()
            .zip(&coerced)
            .map(|(a, t)| a.cast_to(t, None))
            .collect::<Result<Vec<_>>>()?;
        let ret = imp.return_type(&coerced)?;
        let out = imp.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields: coerced
                .iter()
                .map(|t| Arc::new(Field::new("a", t.clone(), true)))
                .collect(),
            number_rows: rows,
            return_field: Arc::new(Field::new("r", ret.clone(), true)),
            config_options: Arc::new(ConfigOptions::default()),
        })?;
        assert_eq!(out.data_type(), ret, "{name} returns its declared type");
        Ok(out)
    }

    /// Calls `name` on array arguments of `rows` rows and returns the result array.
    fn call_arrays(name: &str, args: Vec<ArrayRef>) -> Result<ArrayRef> {
        let rows = args.first().map_or(1, |a| a.len());
        let out = call(
            name,
            args.into_iter().map(ColumnarValue::Array).collect(),
            rows,
        )?;
        match out {
            ColumnarValue::Array(a) => Ok(a),
            ColumnarValue::Scalar(s) => panic!("array expected, got {s:?}"),
        }
    }

    fn err_of(r: Result<impl std::fmt::Debug>) -> String {
        match r {
            Ok(v) => panic!("error expected, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn strs(v: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(v.to_vec()))
    }

    /// A column of one value repeated `rows` times.
    fn rep(v: Option<&str>, rows: usize) -> ArrayRef {
        strs(&vec![v; rows])
    }

    fn bins(v: &[Option<&[u8]>]) -> ArrayRef {
        Arc::new(BinaryArray::from(v.to_vec()))
    }

    fn f64s(v: &[Option<f64>]) -> ArrayRef {
        Arc::new(Float64Array::from(v.to_vec()))
    }

    fn lit(s: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s.into())))
    }

    fn texts(a: &ArrayRef) -> Vec<Option<String>> {
        a.as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    fn string_lists(a: &ArrayRef) -> Vec<Option<Vec<String>>> {
        let list = a.as_any().downcast_ref::<ListArray>().expect("a list");
        (0..list.len())
            .map(|i| {
                list.is_valid(i).then(|| {
                    let items = list.value(i);
                    items
                        .as_string::<i32>()
                        .iter()
                        .map(|v| v.expect("non-null item").to_string())
                        .collect()
                })
            })
            .collect()
    }

    fn byte_lists(a: &ArrayRef) -> Vec<Option<Vec<Vec<u8>>>> {
        let list = a.as_any().downcast_ref::<ListArray>().expect("a list");
        (0..list.len())
            .map(|i| {
                list.is_valid(i).then(|| {
                    let items = list.value(i);
                    items
                        .as_binary::<i32>()
                        .iter()
                        .map(|v| v.expect("non-null item").to_vec())
                        .collect()
                })
            })
            .collect()
    }

    fn own(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    fn b64(s: &str) -> Vec<u8> {
        base64_decode(s).unwrap()
    }

    // --- INITCAP ---

    #[test]
    fn initcap_splits_words_at_spaces_only() {
        assert_eq!(initcap("some_string"), "Some_string");
        assert_eq!(initcap("the   Quick br0wn fOx"), "The   Quick Br0wn Fox");
        assert_eq!(initcap(" éLAN"), " Élan");
        assert_eq!(initcap(""), "");
    }

    // --- GEO_DISTANCE ---

    #[test]
    fn geo_distance_matches_ksql() {
        let a = call_arrays(
            "geo_distance",
            vec![
                f64s(&[
                    Some(37.4439),
                    Some(37.4439),
                    Some(37.4439),
                    Some(51.5257),
                    None,
                ]),
                f64s(&[Some(-122.1663); 5]),
                f64s(&[
                    Some(51.5257),
                    Some(51.5257),
                    Some(51.5257),
                    Some(-33.9323),
                    Some(1.0),
                ]),
                f64s(&[
                    Some(-0.1122),
                    Some(-0.1122),
                    Some(-0.1122),
                    Some(18.4197),
                    Some(1.0),
                ]),
                strs(&[None, Some("KM"), Some(" mi "), Some("Miles"), Some("km")]),
            ],
        )
        .unwrap();
        let d = a.as_primitive::<Float64Type>();
        let close = |i: usize, want: f64| {
            assert!(
                (d.value(i) - want).abs() < 1e-6,
                "row {i}: {} vs {want}",
                d.value(i)
            )
        };
        close(0, 8634.659796579544);
        close(1, 8634.659796579544);
        close(2, 5365.659729188262);
        // (51.5257, -122.1663) to (-33.9323, 18.4197) in miles: just check it is miles.
        assert!(d.value(3) > 0.0 && d.value(3) < 12000.0);
        assert!(d.is_null(4), "a null coordinate gives null");
    }

    #[test]
    fn geo_distance_four_args_and_literals() {
        let out = call(
            "geo_distance",
            vec![
                ColumnarValue::Scalar(ScalarValue::Float64(Some(39.18660374))),
                ColumnarValue::Scalar(ScalarValue::Float64(Some(-76.73262144))),
                ColumnarValue::Scalar(ScalarValue::Float64(Some(39.18660374))),
                ColumnarValue::Scalar(ScalarValue::Float64(Some(-76.73222145))),
            ],
            3,
        )
        .unwrap();
        let ColumnarValue::Scalar(ScalarValue::Float64(Some(d))) = out else {
            panic!("a scalar expected: {out:?}")
        };
        assert!((d - 0.03447366811448324).abs() < 1e-9);

        // INT and DECIMAL arguments are widened to DOUBLE (udf-implicit-cast.json).
        let a = call_arrays(
            "geo_distance",
            vec![
                f64s(&[Some(37.4439)]),
                f64s(&[Some(-122.1663)]),
                Arc::new(Int32Array::from(vec![51])),
                Arc::new(
                    datafusion::arrow::array::Decimal128Array::from(vec![0i128])
                        .with_precision_and_scale(3, 1)
                        .unwrap(),
                ),
            ],
        )
        .unwrap();
        let d = a.as_primitive::<Float64Type>().value(0);
        assert!((d - 8682.459061368269).abs() < 1e-6, "{d}");
    }

    #[test]
    fn geo_distance_errors() {
        let f = udf("geo_distance");
        let msg = err_of(f.inner().coerce_types(&[
            DataType::Float64,
            DataType::Float64,
            DataType::Utf8,
            DataType::Int32,
        ]));
        assert!(
            msg.contains("Function 'geo_distance' does not accept parameters (DOUBLE, DOUBLE, STRING, INTEGER)"),
            "{msg}"
        );
        let one = |v: f64| f64s(&[Some(v)]);
        let msg = err_of(call_arrays(
            "geo_distance",
            vec![one(91.0), one(0.0), one(0.0), one(0.0)],
        ));
        assert!(
            msg.contains("valid latitude values for GeoDistance function are in the range of -90 to 90 decimal degrees"),
            "{msg}"
        );
        let msg = err_of(call_arrays(
            "geo_distance",
            vec![one(0.0), one(0.0), one(0.0), one(-180.5)],
        ));
        assert!(
            msg.contains("valid longitude values for GeoDistance function are in the range of -180 to +180 decimal degrees"),
            "{msg}"
        );
        let msg = err_of(call_arrays(
            "geo_distance",
            vec![
                one(0.0),
                one(0.0),
                one(0.0),
                one(0.0),
                strs(&[Some("parsecs")]),
            ],
        ));
        assert!(
            msg.contains("GeoDistance function units parameter must be one of mi, mile, miles, km, kilometer, kilometers, kilometre or kilometres. Values are case-insensitive."),
            "{msg}"
        );
    }

    // --- SPLIT ---

    #[test]
    fn split_strings_like_ksql() {
        let input = strs(&[
            Some("a.b.c"),
            Some(".abc."),
            Some("..a.."),
            Some("abc"),
            Some(""),
            None,
        ]);
        let a = call_arrays("split", vec![input.clone(), rep(Some("."), 6)]).unwrap();
        assert_eq!(
            string_lists(&a),
            vec![
                own(&["a", "b", "c"]),
                own(&["", "abc", ""]),
                own(&["", "", "a", "", ""]),
                own(&["abc"]),
                own(&[""]),
                None,
            ]
        );
        let a = call_arrays("split", vec![input.clone(), rep(Some(""), 6)]).unwrap();
        assert_eq!(
            string_lists(&a),
            vec![
                own(&["a", ".", "b", ".", "c"]),
                own(&[".", "a", "b", "c", "."]),
                own(&[".", ".", "a", ".", "."]),
                own(&["a", "b", "c"]),
                own(&[""]),
                None,
            ]
        );
        let a = call_arrays(
            "split",
            vec![
                strs(&[Some("a$$b.c"), Some(".abc$$"), Some(".$$a.."), Some("x")]),
                strs(&[Some("$$"), Some("$$"), Some("$$"), None]),
            ],
        )
        .unwrap();
        assert_eq!(
            string_lists(&a),
            vec![
                own(&["a", "b.c"]),
                own(&[".abc", ""]),
                own(&[".", "a.."]),
                None
            ]
        );
    }

    #[test]
    fn split_bytes_like_ksql() {
        let input = bins(&[
            Some(b"a.b.c"),
            Some(b".abc."),
            Some(b"..a.."),
            Some(b"abc"),
            Some(b""),
            None,
        ]);
        let dot: ArrayRef = bins(&[Some(b".".as_slice()); 6]);
        let a = call_arrays("split", vec![input.clone(), dot]).unwrap();
        assert_eq!(
            a.data_type(),
            &DataType::List(Arc::new(Field::new("item", DataType::Binary, true)))
        );
        let v = |s: &[&str]| Some(s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>());
        assert_eq!(
            byte_lists(&a),
            vec![
                v(&["a", "b", "c"]),
                v(&["", "abc", ""]),
                v(&["", "", "a", "", ""]),
                v(&["abc"]),
                v(&[""]),
                None,
            ]
        );
        let empty: ArrayRef = bins(&[Some(b"".as_slice()); 6]);
        let a = call_arrays("split", vec![input, empty]).unwrap();
        assert_eq!(byte_lists(&a)[1], v(&[".", "a", "b", "c", "."]));
        assert_eq!(byte_lists(&a)[4], v(&[""]));
        let a = call_arrays(
            "split",
            vec![
                bins(&[
                    Some(b"a$$b.c"),
                    Some(b".$$a.."),
                    Some(b"a$b$$c"),
                    Some(b"x"),
                ]),
                bins(&[Some(b"$$"), Some(b"$$"), Some(b"$$"), None]),
            ],
        )
        .unwrap();
        assert_eq!(
            byte_lists(&a),
            vec![v(&["a", "b.c"]), v(&[".", "a.."]), v(&["a$b", "c"]), None]
        );
    }

    #[test]
    fn split_rejects_mixed_types() {
        let msg = err_of(
            udf("split")
                .inner()
                .coerce_types(&[DataType::Binary, DataType::Utf8]),
        );
        assert!(
            msg.contains("Function 'split' does not accept parameters (BYTES, STRING)"),
            "{msg}"
        );
        assert_eq!(
            udf("split")
                .inner()
                .coerce_types(&[DataType::Utf8View, DataType::Null])
                .unwrap(),
            vec![DataType::Utf8, DataType::Utf8]
        );
    }

    // --- SPLIT_TO_MAP ---

    fn maps(a: &ArrayRef) -> Vec<Option<Vec<(String, String)>>> {
        let m = a.as_any().downcast_ref::<MapArray>().expect("a map");
        (0..m.len())
            .map(|i| {
                m.is_valid(i).then(|| {
                    let entries = m.value(i);
                    let keys = entries.column(0).as_string::<i32>();
                    let values = entries.column(1).as_string::<i32>();
                    let mut kv: Vec<(String, String)> = (0..entries.len())
                        .map(|j| (keys.value(j).to_string(), values.value(j).to_string()))
                        .collect();
                    kv.sort();
                    kv
                })
            })
            .collect()
    }

    #[test]
    fn split_to_map_like_ksql() {
        let fruit = "apple:green/banana:yellow/cherry:red";
        let a = call_arrays(
            "split_to_map",
            vec![
                strs(&[
                    Some(fruit),
                    Some(fruit),
                    Some("apple:green//banana:yellow//cherry:red/"),
                    Some(fruit),
                    Some(fruit),
                    Some(fruit),
                    Some(fruit),
                    Some(fruit),
                    Some(""),
                    None,
                    Some("a:1:x/b/a:2"),
                ]),
                strs(&[
                    Some("/"),
                    Some("&&"),
                    Some("/"),
                    Some("/"),
                    Some(""),
                    Some("/"),
                    None,
                    Some("/"),
                    Some("/"),
                    Some("/"),
                    Some("/"),
                ]),
                strs(&[
                    Some(":"),
                    Some(":"),
                    Some(":"),
                    Some("="),
                    Some(":"),
                    Some(""),
                    Some(":"),
                    None,
                    Some(":"),
                    Some(":"),
                    Some(":"),
                ]),
            ],
        )
        .unwrap();
        assert_eq!(a.data_type(), &string_map_type());
        let kv = |v: &[(&str, &str)]| {
            Some(
                v.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        let fruits = kv(&[("apple", "green"), ("banana", "yellow"), ("cherry", "red")]);
        assert_eq!(
            maps(&a),
            vec![
                fruits.clone(),
                kv(&[("apple", "green/banana")]),
                fruits,
                kv(&[]),
                None,
                None,
                None,
                None,
                kv(&[]),
                None,
                kv(&[("a", "2")]),
            ]
        );
    }

    // --- REGEXP_SPLIT_TO_ARRAY ---

    #[test]
    fn regexp_split_to_array_like_ksql() {
        let a = call_arrays(
            "regexp_split_to_array",
            vec![
                strs(&[
                    Some("aabcda"),
                    Some("aabdcda"),
                    Some("zxy"),
                    None,
                    Some("zxy"),
                    Some("abc"),
                    Some(""),
                    Some("a1b22c"),
                    Some("aaa"),
                ]),
                strs(&[
                    Some("(ab|cd)"),
                    Some("(ab|cd)"),
                    Some("(ab|cd)"),
                    Some("(ab|cd)"),
                    None,
                    Some(""),
                    Some(""),
                    Some("[0-9]+"),
                    Some("a*"),
                ]),
            ],
        )
        .unwrap();
        assert_eq!(
            string_lists(&a),
            vec![
                own(&["a", "", "a"]),
                own(&["a", "d", "a"]),
                own(&["zxy"]),
                None,
                None,
                own(&["a", "b", "c"]),
                own(&[""]),
                own(&["a", "b", "c"]),
                // Java: "aaa".split("a*") is empty.
                own(&[]),
            ]
        );
        let msg = err_of(call_arrays(
            "regexp_split_to_array",
            vec![strs(&[Some("x")]), strs(&[Some("(")])],
        ));
        assert!(
            msg.contains("Invalid regular expression pattern: ("),
            "{msg}"
        );
    }

    #[test]
    fn java_and_guava_pattern_splits() {
        let re = Regex::new("a*").unwrap();
        assert_eq!(java_pattern_split(&re, "ab"), vec!["", "", "b"]);
        let re = Regex::new(r"\b").unwrap();
        assert_eq!(guava_pattern_split(&re, "ab cd"), vec!["ab", " ", "cd"]);
        let re = Regex::new(",").unwrap();
        assert_eq!(guava_pattern_split(&re, ",a,,"), vec!["", "a", "", ""]);
        assert_eq!(guava_pattern_split(&re, ""), vec![""]);
    }

    // --- LPAD / RPAD ---
    #[test]
    fn lpad_and_rpad_follow_ksqldb() {
        let s: ArrayRef = Arc::new(StringArray::from(vec![
            Some("foo"),
            Some("foo"),
            Some("foo"),
            Some("foo"),
            Some("foo"),
            Some(""),
            None,
        ]));
        let n: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(7),
            Some(2),
            Some(-1),
            None,
            Some(7),
            Some(7),
            Some(7),
        ]));
        let p: ArrayRef = Arc::new(StringArray::from(vec![
            Some("Bar"),
            Some("Bar"),
            Some("Bar"),
            Some("Bar"),
            Some(""),
            Some("Bar"),
            Some("Bar"),
        ]));
        let args = [s, n, p];
        let l = pad(&args, 7, true).unwrap();
        let l = l.as_string::<i32>();
        let got: Vec<Option<&str>> = (0..7).map(|i| l.is_valid(i).then(|| l.value(i))).collect();
        assert_eq!(
            got,
            [
                Some("BarBfoo"),
                Some("fo"),
                None,
                None,
                None,
                Some("BarBarB"),
                None
            ]
        );
        let r = pad(&args, 7, false).unwrap();
        assert_eq!(r.as_string::<i32>().value(0), "fooBarB");
        let b: ArrayRef = Arc::new(BinaryArray::from(vec![Some(b"yes".as_slice())]));
        let bn: ArrayRef = Arc::new(Int32Array::from(vec![Some(8)]));
        let bp: ArrayRef = Arc::new(BinaryArray::from(vec![Some(b"no".as_slice())]));
        let out = pad(&[b, bn, bp], 1, true).unwrap();
        assert_eq!(out.as_binary::<i32>().value(0), b"nononyes");
    }

    // --- ELT / FIELD ---

    #[test]
    fn elt_and_field() {
        let out = call(
            "elt",
            vec![
                ColumnarValue::Scalar(ScalarValue::Int32(Some(2))),
                lit("ignored"),
                ColumnarValue::Array(strs(&[Some("something"), None])),
            ],
            2,
        )
        .unwrap()
        .into_array(2)
        .unwrap();
        assert_eq!(texts(&out), vec![Some("something".into()), None]);

        let a = strs(&[Some("hello"), None, Some("world"), None]);
        let b = strs(&[Some("world"), Some("world"), Some("hello"), None]);
        let pos = call(
            "field",
            vec![
                lit("hello"),
                ColumnarValue::Array(a.clone()),
                ColumnarValue::Array(b.clone()),
            ],
            4,
        )
        .unwrap()
        .into_array(4)
        .unwrap();
        assert_eq!(
            pos.as_primitive::<Int32Type>().values().to_vec(),
            vec![1, 0, 2, 0]
        );
        let hello = call_arrays("elt", vec![pos, a, b]).unwrap();
        assert_eq!(
            texts(&hello),
            vec![Some("hello".into()), None, Some("hello".into()), None]
        );
        // Out of range and null positions give null; a null needle is at position 0.
        let out = call_arrays(
            "elt",
            vec![
                Arc::new(Int32Array::from(vec![Some(0), Some(3), None, Some(-1)])),
                rep(Some("x"), 4),
                rep(Some("y"), 4),
            ],
        )
        .unwrap();
        assert_eq!(texts(&out), vec![None, None, None, None]);
        let out = call_arrays("field", vec![strs(&[None, Some("q")])]).unwrap();
        assert_eq!(
            out.as_primitive::<Int32Type>().values().to_vec(),
            vec![0, 0]
        );
        let msg = err_of(udf("elt").inner().coerce_types(&[DataType::Utf8]));
        assert!(msg.contains("elt(INT, STRING...)"), "{msg}");
    }

    // --- URL functions ---

    #[test]
    fn url_encode_and_decode_param() {
        let a = call_arrays(
            "url_encode_param",
            vec![strs(&[
                Some("?foo $bar"),
                Some("hello&world"),
                Some("nothing"),
                Some("é*~"),
                None,
            ])],
        )
        .unwrap();
        assert_eq!(
            texts(&a),
            vec![
                Some("%3Ffoo+%24bar".into()),
                Some("hello%26world".into()),
                Some("nothing".into()),
                Some("%C3%A9*%7E".into()),
                None,
            ]
        );
        let a = call_arrays(
            "url_decode_param",
            vec![strs(&[
                Some("%3Ffoo+%24bar"),
                Some("hello%26world"),
                Some("nothing"),
                Some("%E2%82+x%41"),
                Some("%c3%a9%+1"),
                None,
            ])],
        )
        .unwrap();
        assert_eq!(
            texts(&a),
            vec![
                Some("?foo $bar".into()),
                Some("hello&world".into()),
                Some("nothing".into()),
                Some("\u{fffd} xA".into()),
                Some("é\u{1}".into()),
                None,
            ]
        );
        for (input, message) in [
            (
                "%zz",
                "URLDecoder: Illegal hex characters in escape (%) pattern",
            ),
            ("ab%4", "URLDecoder: Incomplete trailing escape (%) pattern"),
            (
                "%-1",
                "URLDecoder: Illegal hex characters in escape (%) pattern - negative value",
            ),
        ] {
            let msg = err_of(call_arrays("url_decode_param", vec![strs(&[Some(input)])]));
            assert!(msg.contains(message), "{input}: {msg}");
        }
    }

    fn extract(name: &str, urls: &[Option<&str>]) -> Vec<Option<String>> {
        texts(&call_arrays(name, vec![strs(urls)]).unwrap())
    }

    fn some(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|s| s.map(str::to_string)).collect()
    }

    #[test]
    fn url_extractors_like_ksql() {
        assert_eq!(
            extract(
                "url_extract_fragment",
                &[
                    Some("http://www.test.com/?query#fragment"),
                    Some("http://www.nofragment.com"),
                    None
                ]
            ),
            some(&[Some("fragment"), None, None])
        );
        assert_eq!(
            extract(
                "url_extract_host",
                &[
                    Some("http://www.test.com/?query#fragment"),
                    Some("http://test@confluent.io:8080")
                ]
            ),
            some(&[Some("www.test.com"), Some("confluent.io")])
        );
        assert_eq!(
            extract(
                "url_extract_path",
                &[
                    Some("http://www.test.com?query#fragment"),
                    Some("http://www.test.com/path?query"),
                    Some("http://test@confluent.io:8080/nested/path?query&jobs")
                ]
            ),
            some(&[Some(""), Some("/path"), Some("/nested/path")])
        );
        assert_eq!(
            extract(
                "url_extract_protocol",
                &[
                    Some("http://test@confluent.io"),
                    Some("https://test@confluent.io:8080/nested/path?query&jobs"),
                    Some("www.confluent.io")
                ]
            ),
            some(&[Some("http"), Some("https"), None])
        );
        assert_eq!(
            extract(
                "url_extract_query",
                &[
                    Some("http://www.test.com?query#fragment"),
                    Some("http://www.test.com/path?q1&q2"),
                    Some("http://test@confluent.io:8080/nested/path?q=2"),
                    Some("http://test@confluent.io:8080/path")
                ]
            ),
            some(&[Some("query"), Some("q1&q2"), Some("q=2"), None])
        );
        let ports = call_arrays(
            "url_extract_port",
            vec![strs(&[
                Some("http://test@confluent.io"),
                Some("http://test@confluent.io:8080/nested/path?query&jobs"),
                None,
            ])],
        )
        .unwrap();
        let ports = ports.as_primitive::<Int32Type>();
        assert!(ports.is_null(0) && ports.is_null(2));
        assert_eq!(ports.value(1), 8080);
    }

    #[test]
    fn url_extract_parameter_like_ksql() {
        let url = "http://www.test.com/?one=a&two=b&three";
        let a = call(
            "url_extract_parameter",
            vec![
                ColumnarValue::Array(strs(&[Some(url), Some(url), Some(url), Some(url), None])),
                ColumnarValue::Array(strs(&[
                    Some("one"),
                    Some("two"),
                    Some("three"),
                    Some("four"),
                    Some("one"),
                ])),
            ],
            5,
        )
        .unwrap()
        .into_array(5)
        .unwrap();
        assert_eq!(
            texts(&a),
            some(&[Some("a"), Some("b"), Some(""), None, None])
        );
        let out = call(
            "url_decode_param",
            vec![call(
                "url_extract_parameter",
                vec![
                    lit("http://www.test.com/?one=a&two=url%20encoded"),
                    lit("two"),
                ],
                1,
            )
            .unwrap()],
            1,
        )
        .unwrap();
        assert!(
            matches!(out, ColumnarValue::Scalar(ScalarValue::Utf8(Some(ref s))) if s == "url encoded"),
            "{out:?}"
        );
    }

    /// The parts `java.net.URI` (JDK 17) gives for these inputs.
    #[test]
    fn urls_parse_like_java_uri() {
        let parts = |u: &str| {
            let uri = JavaUri::parse(u).unwrap_or_else(|| panic!("{u} should parse"));
            (
                uri.scheme.map(str::to_string),
                uri.host.map(str::to_string),
                uri.port,
                uri.path.map(java_uri_decode),
                uri.query.map(java_uri_decode),
                uri.fragment.map(java_uri_decode),
            )
        };
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            parts("http://a_b.com/p%20q?x=%41%C3%A9&y#f%2Fg"),
            (s("http"), None, -1, s("/p q"), s("x=Aé&y"), s("f/g"))
        );
        assert_eq!(
            parts("http://1.2.3.4:80/"),
            (s("http"), s("1.2.3.4"), 80, s("/"), None, None)
        );
        assert_eq!(
            parts("http://1.2.3.4.5/"),
            (s("http"), None, -1, s("/"), None, None)
        );
        assert_eq!(
            parts("http://[::1]:9/x"),
            (s("http"), s("[::1]"), 9, s("/x"), None, None)
        );
        assert_eq!(
            parts("http://host:/x"),
            (s("http"), s("host"), -1, s("/x"), None, None)
        );
        assert_eq!(parts("http://host:99999999999/x").1, None);
        assert_eq!(parts("http://host:80x/").1, None);
        assert_eq!(parts("http://-a.com/").1, None);
        assert_eq!(parts("http://a-.com/").1, None);
        assert_eq!(parts("http://a.1b/").1, None);
        assert_eq!(
            parts("//host/path?q"),
            (None, s("host"), -1, s("/path"), s("q"), None)
        );
        assert_eq!(
            parts("file:///etc/x"),
            (s("file"), None, -1, s("/etc/x"), None, None)
        );
        assert_eq!(
            parts("mailto:a@b.com#x"),
            (s("mailto"), None, -1, None, None, s("x"))
        );
        assert_eq!(
            parts("localhost:8080"),
            (s("localhost"), None, -1, None, None, None)
        );
        assert_eq!(
            parts("http://héllo.com/ü?ä#ö"),
            (s("http"), None, -1, s("/ü"), s("ä"), s("ö"))
        );
        assert_eq!(parts("http://ex.com/%E2%82").3, s("/\u{fffd}"));
        assert_eq!(parts("http://x.com/a?b=c%26d&e").4, s("b=c&d&e"));
        for bad in [
            "http://a b.com",
            "http://x.com/%zz",
            ":foo",
            "http://",
            "http://a%zz/",
        ] {
            assert_eq!(JavaUri::parse(bad), None, "{bad} should not parse");
        }
        let msg = err_of(call_arrays(
            "url_extract_host",
            vec![strs(&[Some("http://a b.com")])],
        ));
        assert!(
            msg.contains("URL input has invalid syntax: http://a b.com"),
            "{msg}"
        );
    }

    // --- TO_BYTES / FROM_BYTES ---

    #[test]
    fn bytes_and_strings_like_ksql() {
        // convert bytes to HEX encoded string
        let b = bins(&[Some(&b64("IQ==")), Some(&b64("Iw==")), Some(&b64("GrI="))]);
        let hex = call_arrays("from_bytes", vec![b.clone(), rep(Some("hex"), 3)]).unwrap();
        assert_eq!(texts(&hex), some(&[Some("21"), Some("23"), Some("1AB2")]));
        let back = call_arrays("to_bytes", vec![hex, rep(Some("HEX"), 3)]).unwrap();
        assert_eq!(back.as_ref(), b.as_ref());
        let s = call_arrays("to_bytes", vec![strs(&[Some("1aB2")]), rep(Some("hex"), 1)]).unwrap();
        assert_eq!(s.as_binary::<i32>().value(0), &[0x1a, 0xb2]);

        // ascii and utf8
        for enc in ["ascii", "utf8"] {
            let b = bins(&[Some(b"!"), Some(b"#"), None]);
            let s = call_arrays("from_bytes", vec![b.clone(), rep(Some(enc), 3)]).unwrap();
            assert_eq!(texts(&s), some(&[Some("!"), Some("#"), None]));
            let back = call_arrays("to_bytes", vec![s, rep(Some(enc), 3)]).unwrap();
            assert_eq!(back.as_ref(), b.as_ref());
        }
        let a = call_arrays(
            "to_bytes",
            vec![strs(&[Some("hé😀")]), rep(Some("ascii"), 1)],
        )
        .unwrap();
        assert_eq!(a.as_binary::<i32>().value(0), b"h??");
        let a = call_arrays(
            "from_bytes",
            vec![bins(&[Some(&[65, 200, 66])]), rep(Some("ascii"), 1)],
        )
        .unwrap();
        assert_eq!(texts(&a), some(&[Some("A\u{fffd}B")]));
        let a = call_arrays("to_bytes", vec![strs(&[Some("é")]), rep(Some("utf8"), 1)]).unwrap();
        assert_eq!(a.as_binary::<i32>().value(0), "é".as_bytes());

        // base64
        let s = strs(&[
            Some("IQ=="),
            Some("Iw=="),
            Some("QUJD"),
            Some("QUI"),
            Some(""),
            None,
        ]);
        let b = call_arrays("to_bytes", vec![s, rep(Some("base64"), 6)]).unwrap();
        let back = call_arrays("from_bytes", vec![b, rep(Some("base64"), 6)]).unwrap();
        assert_eq!(
            texts(&back),
            some(&[
                Some("IQ=="),
                Some("Iw=="),
                Some("QUJD"),
                Some("QUI="),
                Some(""),
                None
            ])
        );
        // A null encoding gives null.
        let a = call_arrays("from_bytes", vec![bins(&[Some(b"x")]), strs(&[None])]).unwrap();
        assert!(a.is_null(0));
    }

    #[test]
    fn bytes_encoding_errors() {
        let to = |s: &str, enc: &str| {
            call_arrays("to_bytes", vec![strs(&[Some(s)]), strs(&[Some(enc)])])
        };
        let msg = err_of(to("x", "utf16"));
        assert!(
            msg.contains("Unknown encoding type 'utf16'. Supported formats are 'hex', 'utf8', 'ascii', and 'base64'."),
            "{msg}"
        );
        let msg = err_of(call_arrays(
            "from_bytes",
            vec![bins(&[Some(b"x")]), strs(&[Some("ebcdic")])],
        ));
        assert!(msg.contains("Unknown encoding type 'ebcdic'"), "{msg}");
        assert!(err_of(to("abc", "hex")).contains("hexBinary needs to be even-length: abc"));
        assert!(err_of(to("zz", "hex")).contains("contains illegal character for hexBinary: zz"));
        for (input, message) in [
            (
                "Q",
                "Input byte[] should at least have 2 bytes for base64 bytes",
            ),
            ("QQ=", "Input byte array has wrong 4-byte ending unit"),
            (
                "QQ==QQ==",
                "Input byte array has incorrect ending byte at 4",
            ),
            ("Q===", "Last unit does not have enough valid bits"),
            ("QQ-A", "Illegal base64 character 2d"),
            ("QUJDRA=", "Input byte array has wrong 4-byte ending unit"),
            ("QUé=", "Illegal base64 character -17"),
        ] {
            let msg = err_of(to(input, "base64"));
            assert!(msg.contains(message), "{input}: {msg}");
        }
        assert_eq!(base64_decode("QQ").unwrap(), b"A");
    }

    #[test]
    fn numbers_from_bytes_like_ksql() {
        let be = [b64("AAAH5Q=="), b64("AAAAASoF8gA="), b64("QICm/ZvJ9YI=")];
        let le = [b64("5QcAAA=="), b64("APIFKgEAAAA="), b64("gvXJm/2mgEA=")];
        let int = call_arrays("int_from_bytes", vec![bins(&[Some(&be[0]), None])]).unwrap();
        let int = int.as_primitive::<Int32Type>();
        assert_eq!(int.value(0), 2021);
        assert!(int.is_null(1));
        let big = call_arrays("bigint_from_bytes", vec![bins(&[Some(&be[1])])]).unwrap();
        assert_eq!(big.as_primitive::<Int64Type>().value(0), 5000000000);
        let dbl = call_arrays("double_from_bytes", vec![bins(&[Some(&be[2])])]).unwrap();
        assert_eq!(dbl.as_primitive::<Float64Type>().value(0), 532.8738323);

        let little = |name: &str, b: &[u8]| {
            call(
                name,
                vec![
                    ColumnarValue::Scalar(ScalarValue::Binary(Some(b.to_vec()))),
                    lit("little_endian"),
                ],
                1,
            )
            .unwrap()
        };
        assert!(matches!(
            little("int_from_bytes", &le[0]),
            ColumnarValue::Scalar(ScalarValue::Int32(Some(2021)))
        ));
        let ColumnarValue::Scalar(ScalarValue::Int64(Some(v))) =
            little("bigint_from_bytes", &le[1])
        else {
            panic!()
        };
        assert_eq!(v, 5000000000);
        let ColumnarValue::Scalar(ScalarValue::Float64(Some(v))) =
            little("double_from_bytes", &le[2])
        else {
            panic!()
        };
        assert_eq!(v, 532.8738323);
        let out = call_arrays(
            "int_from_bytes",
            vec![bins(&[Some(&be[0])]), strs(&[Some("BIG_ENDIAN")])],
        )
        .unwrap();
        assert_eq!(out.as_ref(), &Int32Array::from(vec![2021]) as &dyn Array);

        let msg = err_of(call_arrays("int_from_bytes", vec![bins(&[Some(b"abc")])]));
        assert!(
            msg.contains("Number of bytes must be equal to 4, but found 3"),
            "{msg}"
        );
        let msg = err_of(call_arrays(
            "bigint_from_bytes",
            vec![bins(&[Some(b"abcd")])],
        ));
        assert!(
            msg.contains("Number of bytes must be equal to 8, but found 4"),
            "{msg}"
        );
        let msg = err_of(call_arrays(
            "double_from_bytes",
            vec![bins(&[Some(&be[2])]), strs(&[Some("MIDDLE")])],
        ));
        assert!(
            msg.contains(
                "Byte order must be BIG_ENDIAN or LITTLE_ENDIAN. Unknown byte order 'MIDDLE'."
            ),
            "{msg}"
        );
    }

    #[test]
    fn every_function_is_registered_once() {
        let names: Vec<String> = functions().iter().map(|f| f.name().to_string()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert_eq!(names.len(), 23);
    }
}
