//! The date/time UDFs through DataFusion's UDF interface: argument coercion (DataFusion's own
//! `data_types_with_scalar_udf`), return types, null and error rows, literal and per-row
//! patterns; the cases are ksqlDB's date/time conformance tests.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Int32Array, Int64Array, StringArray,
    Time32MillisecondArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Field, Int32Type, Int64Type, Time32MillisecondType, TimeUnit,
    TimestampMillisecondType,
};
use datafusion::common::config::ConfigOptions;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF};

use super::scalar_functions;

fn udf(name: &str) -> Arc<ScalarUDF> {
    scalar_functions()
        .into_iter()
        .find(|f| f.name() == name)
        .unwrap_or_else(|| panic!("no function {name}"))
}

/// The argument types DataFusion's coercion gives a call of `f` with `types`.
fn coerce_with(f: &ScalarUDF, types: &[DataType]) -> datafusion::common::Result<Vec<DataType>> {
    let fields: Vec<_> = types
        .iter()
        .map(|t| Arc::new(Field::new("arg", t.clone(), true)))
        .collect();
    Ok(fields_with_udf(&fields, f)?
        .iter()
        .map(|f| f.data_type().clone())
        .collect())
}

fn coerce(name: &str, types: &[DataType]) -> datafusion::common::Result<Vec<DataType>> {
    coerce_with(&udf(name), types)
}

/// Calls `name` as DataFusion would: coerce, cast the arguments, invoke.
fn call(name: &str, args: Vec<ColumnarValue>, rows: usize) -> ColumnarValue {
    let f = udf(name);
    let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
    let coerced = coerce_with(&f, &types).expect("coercion");
    let args: Vec<ColumnarValue> = args
        .into_iter()
        .zip(&coerced)
        .map(|(a, t)| a.cast_to(t, None).expect("cast"))
        .collect();
    let arg_fields = coerced
        .iter()
        .map(|t| Arc::new(Field::new("arg", t.clone(), true)))
        .collect();
    let return_type = f.return_type(&coerced).expect("return type");
    let result = f
        .invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields,
            number_rows: rows,
            return_field: Arc::new(Field::new("out", return_type.clone(), true)),
            config_options: Arc::new(ConfigOptions::default()),
        })
        .expect("invoke");
    assert_eq!(result.data_type(), return_type, "{name} result type");
    result
}

fn col(a: impl Array + 'static) -> ColumnarValue {
    ColumnarValue::Array(Arc::new(a) as ArrayRef)
}

fn lit(s: &str) -> ColumnarValue {
    ColumnarValue::Scalar(ScalarValue::Utf8(Some(s.to_string())))
}

fn array(v: ColumnarValue) -> ArrayRef {
    match v {
        ColumnarValue::Array(a) => a,
        ColumnarValue::Scalar(s) => panic!("expected an array, got {s:?}"),
    }
}

fn strings(v: ColumnarValue) -> Vec<Option<String>> {
    array(v)
        .as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|s| Some(s.to_string())).collect()
}

#[test]
fn every_function_is_registered_with_ksql_types() {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    let time = DataType::Time32(TimeUnit::Millisecond);
    let cases: Vec<(&str, Vec<DataType>, DataType)> = vec![
        (
            "stringtotimestamp",
            vec![DataType::Utf8, DataType::Utf8],
            DataType::Int64,
        ),
        (
            "timestamptostring",
            vec![DataType::Int64, DataType::Utf8],
            DataType::Utf8,
        ),
        (
            "parse_timestamp",
            vec![DataType::Utf8, DataType::Utf8],
            ts.clone(),
        ),
        (
            "format_timestamp",
            vec![ts.clone(), DataType::Utf8],
            DataType::Utf8,
        ),
        (
            "parse_date",
            vec![DataType::Utf8, DataType::Utf8],
            DataType::Date32,
        ),
        (
            "format_date",
            vec![DataType::Date32, DataType::Utf8],
            DataType::Utf8,
        ),
        (
            "stringtodate",
            vec![DataType::Utf8, DataType::Utf8],
            DataType::Int32,
        ),
        (
            "datetostring",
            vec![DataType::Int32, DataType::Utf8],
            DataType::Utf8,
        ),
        (
            "parse_time",
            vec![DataType::Utf8, DataType::Utf8],
            time.clone(),
        ),
        (
            "format_time",
            vec![time.clone(), DataType::Utf8],
            DataType::Utf8,
        ),
        ("unix_timestamp", vec![], DataType::Int64),
        ("unix_date", vec![DataType::Date32], DataType::Int32),
        ("from_unixtime", vec![DataType::Int64], ts.clone()),
        ("from_days", vec![DataType::Int32], DataType::Date32),
        (
            "convert_tz",
            vec![ts.clone(), DataType::Utf8, DataType::Utf8],
            ts.clone(),
        ),
        (
            "dateadd",
            vec![DataType::Utf8, DataType::Int32, DataType::Date32],
            DataType::Date32,
        ),
        (
            "timesub",
            vec![DataType::Utf8, DataType::Int32, time.clone()],
            time.clone(),
        ),
        (
            "timestampadd",
            vec![DataType::Utf8, DataType::Int32, ts.clone()],
            ts.clone(),
        ),
    ];
    assert_eq!(scalar_functions().len(), 21);
    for (name, args, returns) in cases {
        let f = udf(name);
        assert_eq!(coerce(name, &args).unwrap(), args, "{name}");
        assert_eq!(f.return_type(&args).unwrap(), returns, "{name}");
    }
}

#[test]
fn arguments_widen_but_do_not_narrow() {
    // INT widens to BIGINT; NULL fits anything; views become STRING.
    assert_eq!(
        coerce("timestamptostring", &[DataType::Int32, DataType::Utf8View]).unwrap(),
        vec![DataType::Int64, DataType::Utf8]
    );
    assert_eq!(
        coerce("from_days", &[DataType::Null]).unwrap(),
        vec![DataType::Int32]
    );
    let e = coerce("from_days", &[DataType::Int64])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Function 'from_days' does not accept parameters (BIGINT)."),
        "{e}"
    );
}

#[test]
fn wrong_argument_types_fail_as_ksql_says() {
    for name in ["dateadd", "datesub"] {
        let e = coerce(name, &[DataType::Date32, DataType::Int32, DataType::Date32])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!(
                "Function '{name}' does not accept parameters (DATE, INTEGER, DATE)."
            )),
            "{e}"
        );
    }
    let time = DataType::Time32(TimeUnit::Millisecond);
    let e = coerce("timeadd", &[time.clone(), DataType::Int32, time])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Function 'timeadd' does not accept parameters (TIME, INTEGER, TIME)."),
        "{e}"
    );
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    let e = coerce("timestampadd", &[ts.clone(), DataType::Int32, ts])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "Function 'timestampadd' does not accept parameters (TIMESTAMP, INTEGER, TIMESTAMP)."
        ),
        "{e}"
    );
    assert!(coerce("format_timestamp", &[DataType::Int64, DataType::Utf8]).is_err());
}

#[test]
fn stringtotimestamp_and_parse_timestamp() {
    let texts = StringArray::from(vec![
        "2018-05-11T21:58:33Z",
        "2019-05-11T21:58:33Z",
        "2020-05-11T21:58:33Z",
        "2020-05-11T21:58:33z",
    ]);
    let out = call(
        "stringtotimestamp",
        vec![col(texts), lit("yyyy-MM-dd'T'HH:mm:ssX")],
        4,
    );
    let out = array(out);
    assert_eq!(
        out.as_primitive::<Int64Type>().values().to_vec(),
        vec![1526075913000, 1557611913000, 1589234313000, 1589234313000]
    );

    let texts = StringArray::from(vec![
        "2018-05-11T21:58:33 PST",
        "2019-05-11T21:58:33 PST",
        "2020-05-11T21:58:33 PST",
    ]);
    let out = array(call(
        "parse_timestamp",
        vec![col(texts), lit("yyyy-MM-dd'T'HH:mm:ss zzz")],
        3,
    ));
    assert_eq!(
        out.as_primitive::<TimestampMillisecondType>()
            .values()
            .to_vec(),
        vec![1526101113000, 1557637113000, 1589259513000]
    );

    // Without a zone in the text PARSE_TIMESTAMP reads GMT, or the zone given.
    let texts = StringArray::from(vec!["2018-05-11T21:58:33"]);
    let pattern = lit("yyyy-MM-dd'T'HH:mm:ss");
    let gmt = array(call(
        "parse_timestamp",
        vec![col(texts.clone()), pattern.clone()],
        1,
    ));
    assert_eq!(
        gmt.as_primitive::<TimestampMillisecondType>().value(0),
        1526075913000
    );
    let la = array(call(
        "parse_timestamp",
        vec![col(texts), pattern, lit("America/Los_Angeles")],
        1,
    ));
    assert_eq!(
        la.as_primitive::<TimestampMillisecondType>().value(0),
        1526075913000 + 7 * 3_600_000
    );
}

#[test]
fn unparsable_rows_are_null() {
    let texts = StringArray::from(vec![
        Some("2018-05-11T21:58:33Z"),
        Some("not a timestamp"),
        None,
    ]);
    let out = array(call(
        "stringtotimestamp",
        vec![col(texts), lit("yyyy-MM-dd'T'HH:mm:ssX")],
        3,
    ));
    let out = out.as_primitive::<Int64Type>();
    assert_eq!(out.value(0), 1526075913000);
    assert!(out.is_null(1));
    assert!(out.is_null(2));

    // A bad pattern, or a bad zone, makes every row null.
    let texts = StringArray::from(vec!["2018-05-11"]);
    let out = array(call(
        "stringtotimestamp",
        vec![col(texts.clone()), lit("yyyy-MM-ddTHH")],
        1,
    ));
    assert!(out.is_null(0));
    let out = array(call(
        "stringtotimestamp",
        vec![col(texts), lit("yyyy-MM-dd"), lit("Nowhere/Special")],
        1,
    ));
    assert!(out.is_null(0));
}

#[test]
fn timestamptostring_and_format_timestamp() {
    let out = call(
        "timestamptostring",
        vec![
            ColumnarValue::Scalar(ScalarValue::Int64(Some(1526075913000))),
            lit("yyyy-MM-dd HH:mm:ss zzz"),
            lit("America/Los_Angeles"),
        ],
        1,
    );
    assert_eq!(
        out.into_array(1).unwrap().as_string::<i32>().value(0),
        "2018-05-11 14:58:33 PDT"
    );
    let rowtime = col(Int64Array::from(vec![1526075913000]));
    let out = call(
        "timestamptostring",
        vec![
            rowtime,
            lit("yyyy-MM-dd HH:mm:ss zzz"),
            lit("Europe/London"),
        ],
        1,
    );
    assert_eq!(strings(out), some(&["2018-05-11 22:58:33 BST"]));
    let window = col(Int64Array::from(vec![1580223282000, 1580223283000]));
    let out = call(
        "timestamptostring",
        vec![window, lit("yyyy-MM-dd HH:mm:ss Z"), lit("UTC")],
        2,
    );
    assert_eq!(
        strings(out),
        some(&["2020-01-28 14:54:42 +0000", "2020-01-28 14:54:43 +0000"])
    );

    let times = || {
        col(TimestampMillisecondArray::from(vec![
            Some(1526075913000),
            None,
        ]))
    };
    let out = call(
        "format_timestamp",
        vec![
            times(),
            lit("yyyy-MM-dd HH:mm:ss zzz"),
            lit("America/Los_Angeles"),
        ],
        2,
    );
    assert_eq!(
        strings(out),
        vec![Some("2018-05-11 14:58:33 PDT".into()), None]
    );
    let out = call(
        "format_timestamp",
        vec![times(), lit("yyyy-MM-dd HH:mm:ss")],
        2,
    );
    assert_eq!(strings(out), vec![Some("2018-05-11 21:58:33".into()), None]);
}

#[test]
fn dates_format_with_per_row_patterns() {
    let days = vec![17662, 18027, 18993, 0, -1];
    let patterns = StringArray::from(vec![
        "yyyy-MM-dd",
        "dd/MM/yyyy",
        "dd-MMM-yyyy",
        "dd-MM-yyyy",
        "dd-MM-yyyy'Sophia'",
    ]);
    let expected = some(&[
        "2018-05-11",
        "11/05/2019",
        "01-Jan-2022",
        "01-01-1970",
        "31-12-1969Sophia",
    ]);
    let out = call(
        "datetostring",
        vec![col(Int32Array::from(days.clone())), col(patterns.clone())],
        5,
    );
    assert_eq!(strings(out), expected);
    let out = call(
        "format_date",
        vec![col(Date32Array::from(days)), col(patterns)],
        5,
    );
    assert_eq!(strings(out), expected);
}

#[test]
fn times_format_and_parse_with_per_row_patterns() {
    let times = Time32MillisecondArray::from(vec![Some(65000), Some(1234567), Some(0), None]);
    let patterns = StringArray::from(vec![
        "HH_mm_ss_SSS",
        "HHmmss'AAAAA'",
        "HH:mm:ss",
        "HH:mm:ss",
    ]);
    let out = call("format_time", vec![col(times), col(patterns)], 4);
    assert_eq!(
        strings(out),
        vec![
            Some("00_01_05_000".into()),
            Some("002034AAAAA".into()),
            Some("00:00:00".into()),
            None
        ]
    );

    let texts = StringArray::from(vec![
        "00:01:05Lit",
        "11/05/19",
        "01:00:00 PM",
        "01:00:00 Pm",
    ]);
    let patterns = StringArray::from(vec![
        "HH:mm:ss'Lit'",
        "HH/mm/ss",
        "hh:mm:ss a",
        "hh:mm:ss a",
    ]);
    let out = array(call("parse_time", vec![col(texts), col(patterns)], 4));
    assert_eq!(
        out.as_primitive::<Time32MillisecondType>()
            .values()
            .to_vec(),
        vec![65000, 39919000, 46800000, 46800000]
    );
}

#[test]
fn parse_date_nulls_what_it_cannot_read() {
    let texts = StringArray::from(vec![
        Some("2003-12-24"),
        Some("2008-08-13"),
        Some("2004"),
        Some("2004-01-01"),
        Some("abcd"),
        None,
    ]);
    let out = array(call("parse_date", vec![col(texts), lit("yyyy-MM-dd")], 6));
    let out = out.as_primitive::<Date32Type>();
    let values: Vec<Option<i32>> = out.iter().collect();
    assert_eq!(
        values,
        vec![Some(12410), Some(14104), None, Some(12418), None, None]
    );
    // STRINGTODATE too.
    let texts = StringArray::from(vec!["foo", "20180511"]);
    let out = array(call("stringtodate", vec![col(texts), lit("yyyyMMdd")], 2));
    let values: Vec<Option<i32>> = out.as_primitive::<Int32Type>().iter().collect();
    assert_eq!(values, vec![None, Some(17662)]);
}

#[test]
fn date_time_and_timestamp_arithmetic() {
    let days = |v: Vec<Option<i32>>| col(Date32Array::from(v));
    let n = |v: i32| ColumnarValue::Scalar(ScalarValue::Int32(Some(v)));
    let dates = |out: ColumnarValue| -> Vec<Option<i32>> {
        array(out).as_primitive::<Date32Type>().iter().collect()
    };
    assert_eq!(
        dates(call(
            "dateadd",
            vec![lit("DAYS"), n(10), days(vec![Some(10)])],
            1
        )),
        vec![Some(20)]
    );
    assert_eq!(
        dates(call(
            "dateadd",
            vec![lit("DAYS"), n(-5), days(vec![Some(5), Some(10), Some(2)])],
            3
        )),
        vec![Some(0), Some(5), Some(-3)]
    );
    assert_eq!(
        dates(call(
            "datesub",
            vec![lit("DAYS"), n(10), days(vec![Some(40), Some(5)])],
            2
        )),
        vec![Some(30), Some(-5)]
    );
    assert_eq!(
        dates(call(
            "datesub",
            vec![lit("DAYS"), n(-5), days(vec![Some(5), Some(-5)])],
            2
        )),
        vec![Some(10), Some(0)]
    );
    // Nulls in any argument give null.
    let nums = col(Int32Array::from(vec![Some(5), None, None]));
    assert_eq!(
        dates(call(
            "dateadd",
            vec![lit("MILLISECONDS"), nums, days(vec![None, Some(5), None])],
            3
        )),
        vec![None, None, None]
    );

    let times = |v: Vec<i32>| col(Time32MillisecondArray::from(v));
    let time_values = |out: ColumnarValue| -> Vec<i32> {
        array(out)
            .as_primitive::<Time32MillisecondType>()
            .values()
            .to_vec()
    };
    assert_eq!(
        time_values(call(
            "timeadd",
            vec![lit("MILLISECONDS"), n(10), times(vec![10, 86399995])],
            2
        )),
        vec![20, 5]
    );
    assert_eq!(
        time_values(call(
            "timeadd",
            vec![lit("MILLISECONDS"), n(-5), times(vec![5, 10, 2])],
            3
        )),
        vec![0, 5, 86399997]
    );
    assert_eq!(
        time_values(call(
            "timesub",
            vec![lit("SECONDS"), n(1), times(vec![500])],
            1
        )),
        vec![86399500]
    );

    let stamps = |v: Vec<i64>| col(TimestampMillisecondArray::from(v));
    let stamp_values = |out: ColumnarValue| -> Vec<i64> {
        array(out)
            .as_primitive::<TimestampMillisecondType>()
            .values()
            .to_vec()
    };
    assert_eq!(
        stamp_values(call(
            "timestampadd",
            vec![lit("MILLISECONDS"), n(10), stamps(vec![10])],
            1
        )),
        vec![20]
    );
    assert_eq!(
        stamp_values(call(
            "timestampadd",
            vec![lit("MILLISECONDS"), n(-5), stamps(vec![5, 10, 2])],
            3
        )),
        vec![0, 5, -3]
    );
    assert_eq!(
        stamp_values(call(
            "timestampsub",
            vec![lit("hours"), n(1), stamps(vec![3_600_000])],
            1
        )),
        vec![0]
    );
    // An unknown unit gives null.
    let out = array(call(
        "timestampadd",
        vec![lit("WEEKS"), n(1), stamps(vec![0])],
        1,
    ));
    assert!(out.is_null(0));
}

#[test]
fn epoch_functions() {
    let stamps = col(TimestampMillisecondArray::from(vec![
        Some(100),
        Some(1589234313000),
        None,
    ]));
    let out = array(call("unix_timestamp", vec![stamps], 3));
    let values: Vec<Option<i64>> = out.as_primitive::<Int64Type>().iter().collect();
    assert_eq!(values, vec![Some(100), Some(1589234313000), None]);

    let dates = col(Date32Array::from(vec![Some(10), Some(100), None]));
    let out = array(call("unix_date", vec![dates], 3));
    let values: Vec<Option<i32>> = out.as_primitive::<Int32Type>().iter().collect();
    assert_eq!(values, vec![Some(10), Some(100), None]);

    // With no argument: the clock, one value per row.
    let now = array(call("unix_timestamp", vec![], 2));
    assert_eq!(now.len(), 2);
    assert!(now.as_primitive::<Int64Type>().value(0) > 1_700_000_000_000);
    let today = array(call("unix_date", vec![], 2));
    assert!(today.as_primitive::<Int32Type>().value(1) > 19_000);

    let days = col(Int32Array::from(vec![Some(10), Some(-10), None]));
    let out = array(call("from_days", vec![days], 3));
    let values: Vec<Option<i32>> = out.as_primitive::<Date32Type>().iter().collect();
    assert_eq!(values, vec![Some(10), Some(-10), None]);

    let millis = col(Int64Array::from(vec![Some(5), None]));
    let out = array(call("from_unixtime", vec![millis], 2));
    let values: Vec<Option<i64>> = out
        .as_primitive::<TimestampMillisecondType>()
        .iter()
        .collect();
    assert_eq!(values, vec![Some(5), None]);

    for (from, to) in [
        ("+0200", "+0500"),
        ("America/Los_Angeles", "America/New_York"),
    ] {
        let stamps = col(TimestampMillisecondArray::from(vec![
            Some(100),
            Some(1589234313000),
            None,
        ]));
        let out = array(call("convert_tz", vec![stamps, lit(from), lit(to)], 3));
        let values: Vec<Option<i64>> = out
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .collect();
        assert_eq!(values, vec![Some(10800100), Some(1589245113000), None]);
    }
}

#[test]
fn literal_arguments_give_a_literal() {
    let out = call(
        "format_date",
        vec![
            ColumnarValue::Scalar(ScalarValue::Date32(Some(0))),
            lit("yyyy"),
        ],
        1,
    );
    match out {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) => assert_eq!(s, "1970"),
        other => panic!("{other:?}"),
    }
    let out = call(
        "format_date",
        vec![
            ColumnarValue::Scalar(ScalarValue::Date32(None)),
            lit("yyyy"),
        ],
        1,
    );
    assert!(matches!(
        out,
        ColumnarValue::Scalar(ScalarValue::Utf8(None))
    ));
}
