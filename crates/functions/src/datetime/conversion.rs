//! ksqlDB's conversions between strings and dates/times: STRINGTOTIMESTAMP,
//! TIMESTAMPTOSTRING, PARSE_TIMESTAMP, FORMAT_TIMESTAMP, PARSE_DATE, FORMAT_DATE, STRINGTODATE,
//! DATETOSTRING, PARSE_TIME, FORMAT_TIME.
//!
//! Zones: STRINGTOTIMESTAMP and TIMESTAMPTOSTRING default to the system zone (UTC in Sluice),
//! PARSE_TIMESTAMP and FORMAT_TIMESTAMP to GMT; a zone argument is a Java zone id. A null
//! argument gives null; a value that cannot be converted gives null and a processing-log entry.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Date32Array, Int32Array, Int64Array, StringArray, Time32MillisecondArray,
    TimestampMillisecondArray,
};
use datafusion::common::Result;

use super::udf::{DateTimeUdf, Func, Inputs, Param, Patterns, Reporter, Zones};
use super::zone::Zone;

/// The conversion functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ConversionFn {
    StringToTimestamp,
    TimestampToString,
    ParseTimestamp,
    FormatTimestamp,
    ParseDate,
    FormatDate,
    StringToDate,
    DateToString,
    ParseTime,
    FormatTime,
}

/// The UDF definitions, with ksqlDB's overloads.
pub(crate) fn definitions() -> Vec<DateTimeUdf> {
    use ConversionFn::*;
    use Param::*;
    let def = |name, f, overloads, returns| {
        DateTimeUdf::new(name, Func::Conversion(f), overloads, returns, false)
    };
    vec![
        def(
            "stringtotimestamp",
            StringToTimestamp,
            vec![vec![String, String], vec![String, String, String]],
            BigInt,
        ),
        def(
            "timestamptostring",
            TimestampToString,
            vec![vec![BigInt, String], vec![BigInt, String, String]],
            String,
        ),
        def(
            "parse_timestamp",
            ParseTimestamp,
            vec![vec![String, String], vec![String, String, String]],
            Timestamp,
        ),
        def(
            "format_timestamp",
            FormatTimestamp,
            vec![vec![Timestamp, String], vec![Timestamp, String, String]],
            String,
        ),
        def("parse_date", ParseDate, vec![vec![String, String]], Date),
        def("format_date", FormatDate, vec![vec![Date, String]], String),
        def(
            "stringtodate",
            StringToDate,
            vec![vec![String, String]],
            Int,
        ),
        def(
            "datetostring",
            DateToString,
            vec![vec![Int, String]],
            String,
        ),
        def("parse_time", ParseTime, vec![vec![String, String]], Time),
        def("format_time", FormatTime, vec![vec![Time, String]], String),
    ]
}

/// The zone for row `row`: argument `index` when the call has it, else `default`. `None`
/// when the argument is null (the result is then null).
fn zone_arg(
    inputs: &Inputs,
    index: usize,
    row: usize,
    default: &Zone,
    zones: &mut Zones,
    report: &mut Reporter,
) -> Result<Option<Zone>> {
    if inputs.len() <= index {
        return Ok(Some(default.clone()));
    }
    let Some(id) = inputs.strings(index)?.get(row) else {
        return Ok(None);
    };
    Ok(report.ok(zones.get(id)))
}

/// Computes `f` over a batch.
pub(crate) fn evaluate(
    f: ConversionFn,
    inputs: &Inputs,
    report: &mut Reporter,
) -> Result<ArrayRef> {
    use ConversionFn::*;
    let rows = inputs.rows;
    let gmt = Zone::of("GMT").expect("GMT is a zone");
    let system = Zone::utc();
    let mut zones = Zones::default();
    let mut patterns = Patterns::new(f == ParseDate);
    Ok(match f {
        StringToTimestamp | ParseTimestamp => {
            let default = if f == StringToTimestamp {
                &system
            } else {
                &gmt
            };
            let (text, format) = (inputs.strings(0)?, inputs.strings(1)?);
            let mut out = Vec::with_capacity(rows);
            for row in 0..rows {
                let value = match (text.get(row), format.get(row)) {
                    (Some(t), Some(p)) => {
                        match zone_arg(inputs, 2, row, default, &mut zones, report)? {
                            Some(zone) => report.ok(patterns
                                .get(p)
                                .and_then(|p| p.parse_timestamp_millis_in(t, &zone))),
                            None => None,
                        }
                    }
                    _ => None,
                };
                out.push(value);
            }
            if f == StringToTimestamp {
                Arc::new(Int64Array::from(out))
            } else {
                Arc::new(TimestampMillisecondArray::from(out))
            }
        }
        TimestampToString | FormatTimestamp => {
            let default = if f == TimestampToString {
                &system
            } else {
                &gmt
            };
            let millis: Vec<Option<i64>> = if f == TimestampToString {
                let c = inputs.bigints(0)?;
                (0..rows).map(|r| c.get(r)).collect()
            } else {
                let c = inputs.timestamps(0)?;
                (0..rows).map(|r| c.get(r)).collect()
            };
            let format = inputs.strings(1)?;
            let mut out = Vec::with_capacity(rows);
            for (row, ms) in millis.into_iter().enumerate() {
                let value = match (ms, format.get(row)) {
                    (Some(ms), Some(p)) => {
                        match zone_arg(inputs, 2, row, default, &mut zones, report)? {
                            Some(zone) => report.ok(patterns
                                .get(p)
                                .and_then(|p| p.format_timestamp_millis_in(ms, &zone))),
                            None => None,
                        }
                    }
                    _ => None,
                };
                out.push(value);
            }
            Arc::new(StringArray::from(out))
        }
        ParseDate | StringToDate | ParseTime => {
            let (text, format) = (inputs.strings(0)?, inputs.strings(1)?);
            let values = (0..rows).map(|row| match (text.get(row), format.get(row)) {
                (Some(t), Some(p)) => report.ok(patterns.get(p).and_then(|p| match f {
                    ParseDate => p.parse_date_days(t),
                    StringToDate => p.parse_local_date_days(t),
                    _ => p.parse_time_millis(t),
                })),
                _ => None,
            });
            match f {
                ParseDate => Arc::new(Date32Array::from_iter(values)),
                StringToDate => Arc::new(Int32Array::from_iter(values)),
                _ => Arc::new(Time32MillisecondArray::from_iter(values)),
            }
        }
        FormatDate | DateToString | FormatTime => {
            let values: Vec<Option<i32>> = match f {
                FormatDate => {
                    let c = inputs.dates(0)?;
                    (0..rows).map(|r| c.get(r)).collect()
                }
                DateToString => {
                    let c = inputs.ints(0)?;
                    (0..rows).map(|r| c.get(r)).collect()
                }
                _ => {
                    let c = inputs.times(0)?;
                    (0..rows).map(|r| c.get(r)).collect()
                }
            };
            let format = inputs.strings(1)?;
            let out = values
                .into_iter()
                .enumerate()
                .map(|(row, v)| match (v, format.get(row)) {
                    (Some(v), Some(p)) => report.ok(patterns.get(p).and_then(|p| {
                        if f == FormatTime {
                            p.format_time_millis(v)
                        } else {
                            p.format_date_days(v)
                        }
                    })),
                    _ => None,
                });
            Arc::new(StringArray::from_iter(out))
        }
    })
}
