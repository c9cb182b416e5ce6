//! Event-time extraction for sources with `TIMESTAMP_FORMAT`: a STRING column parsed into
//! epoch milliseconds a whole column at a time, as ksqlDB's `StringTimestampExtractor` does
//! per record.

use chrono_tz::Tz;
use datafusion::arrow::array::{Array, Int64Array, Int64Builder, StringArray};

use super::pattern::JavaPattern;
use crate::FunctionError;

/// Parses every value of `values` with `pattern` (zone from the text, else `zone`, else UTC).
/// Nulls stay null; a value that cannot be parsed is null in the result and reported with its
/// row index, so the caller can skip the record and log it as ksqlDB's processing log does.
pub fn parse_timestamp_array(
    pattern: &JavaPattern,
    zone: Option<&Tz>,
    values: &StringArray,
) -> (Int64Array, Vec<(usize, FunctionError)>) {
    let mut out = Int64Builder::with_capacity(values.len());
    let mut errors = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match value.map(|text| pattern.parse_timestamp_millis(text, zone)) {
            None => out.append_null(),
            Some(Ok(ms)) => out.append_value(ms),
            Some(Err(e)) => {
                out.append_null();
                errors.push((i, e));
            }
        }
    }
    (out.finish(), errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_stay_null_and_bad_rows_are_reported() {
        let pattern = JavaPattern::new("yyyy-MM-dd'T'HH:mm:ssX").unwrap();
        let values = StringArray::from(vec![
            Some("2018-05-11T21:58:33Z"),
            None,
            Some("not a timestamp"),
            Some("2019-05-11T21:58:33Z"),
        ]);
        let (millis, errors) = parse_timestamp_array(&pattern, None, &values);
        assert_eq!(millis.len(), 4);
        assert_eq!(millis.value(0), 1_526_075_913_000);
        assert!(millis.is_null(1));
        assert!(millis.is_null(2));
        assert_eq!(millis.value(3), 1_557_611_913_000);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, 2);
        let message = errors[0].1.to_string();
        assert!(message.contains("not a timestamp"), "{message}");
        assert!(message.contains("yyyy-MM-dd'T'HH:mm:ssX"), "{message}");
    }

    #[test]
    fn the_default_zone_applies_when_the_text_has_none() {
        let pattern = JavaPattern::new("yyyy-MM-dd HH:mm").unwrap();
        let values = StringArray::from(vec!["2020-01-01 00:00"]);
        let (utc, _) = parse_timestamp_array(&pattern, None, &values);
        let (la, _) = parse_timestamp_array(&pattern, Some(&Tz::America__Los_Angeles), &values);
        assert_eq!(la.value(0) - utc.value(0), 8 * 3_600_000);
    }
}
