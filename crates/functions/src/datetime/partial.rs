//! ksqlDB's "magic" timestamp strings: a STRING compared with ROWTIME or a TIMESTAMP
//! (`ROWTIME > '2018-01-01T00:00:00.001'`, `ROWTIME >= '2018'`) is read as
//! `yyyy-MM-dd'T'HH:mm:ss.SSS` with missing trailing parts completed and an optional offset, as
//! ksqlDB's `PartialStringToTimestampParser` does.

use std::sync::OnceLock;

use super::pattern::JavaPattern;
use super::zone::Zone;
use crate::FunctionError;

/// ksqlDB's full timestamp pattern (`KsqlConstants.DATE_TIME_PATTERN`).
pub const DATE_TIME_PATTERN: &str = "yyyy-MM-dd'T'HH:mm:ss.SSS";
const TIME_PATTERN: &str = "HH:mm:ss.SSS";

/// Reads a possibly partial timestamp into epoch milliseconds: `2018`, `2018-05`,
/// `2018-05-11`, `2018-05-11T10`, ..., `2018-05-11T10:15:30.123`, optionally followed by `Z`
/// or an offset (`+0200`, `-05:00`); without an offset the time is UTC.
pub fn parse_partial_timestamp(text: &str) -> Result<i64, FunctionError> {
    static PATTERN: OnceLock<JavaPattern> = OnceLock::new();
    let pattern =
        PATTERN.get_or_init(|| JavaPattern::new(DATE_TIME_PATTERN).expect("valid pattern"));
    let (date, time, zone) = match text.find('T') {
        Some(t) => {
            let with_zone = &text[t + 1..];
            let zone = match with_zone.find('+').or_else(|| with_zone.find('-')) {
                Some(z) => &with_zone[z..],
                None => "",
            };
            let time = &with_zone[..with_zone.len() - zone.len()];
            let time = time.strip_suffix('Z').unwrap_or(time);
            (text[..t].to_string(), complete_time(time), zone)
        }
        None => (complete_date(text), complete_time(""), ""),
    };
    let zone = if zone.trim().is_empty() {
        Zone::of("+0000")
    } else {
        Zone::of(zone)
    }
    .map_err(|e| FunctionError::Parse {
        text: text.to_string(),
        pattern: DATE_TIME_PATTERN.to_string(),
        reason: e.to_string(),
    })?;
    pattern
        .parse_timestamp_millis_in(&format!("{date}T{time}"), &zone)
        .map_err(|e| FunctionError::Parse {
            text: text.to_string(),
            pattern: DATE_TIME_PATTERN.to_string(),
            reason: match e {
                FunctionError::Parse { reason, .. } => reason,
                other => other.to_string(),
            },
        })
}

/// `2018` → `2018-01-01`, `2018-05` → `2018-05-01`; anything else unchanged.
fn complete_date(date: &str) -> String {
    let mut parts: Vec<&str> = date.split('-').collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    match parts.len() {
        1 => format!("{date}-01-01"),
        2 => format!("{date}-01"),
        _ => date.to_string(),
    }
}

/// Completes a time with the rest of `HH:mm:ss.SSS`, letters as zeros.
fn complete_time(time: &str) -> String {
    if time.len() >= TIME_PATTERN.len() {
        return time.to_string();
    }
    let rest: String = TIME_PATTERN
        .get(time.len()..)
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_ascii_alphabetic() { '0' } else { c })
        .collect();
    format!("{time}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_timestamps_complete_with_zeros() {
        let p = |s: &str| parse_partial_timestamp(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(p("2018-01-01T00:00:00.001"), 1_514_764_800_001);
        assert_eq!(p("2018-01-01T00:00:01"), 1_514_764_801_000);
        assert_eq!(p("2018"), 1_514_764_800_000);
        assert_eq!(p("2018-02"), 1_517_443_200_000);
        assert_eq!(p("2018-01-01T10"), 1_514_764_800_000 + 36_000_000);
        assert_eq!(p("2018-01-01T00:00:00Z"), 1_514_764_800_000);
        // An offset moves the instant: 00:00 at +04:45 is 19:15 the day before in UTC.
        assert_eq!(
            p("2019-01-01T00:00:00+0445"),
            1_546_300_800_000 - (4 * 60 + 45) * 60_000
        );
        assert_eq!(
            p("2019-01-01T00:00:00-05:00"),
            1_546_300_800_000 + 5 * 3_600_000
        );
    }

    #[test]
    fn bad_partial_timestamps_are_errors() {
        assert!(matches!(
            parse_partial_timestamp("yesterday"),
            Err(FunctionError::Parse { .. })
        ));
        assert!(parse_partial_timestamp("2018-01-01T00:00:00+99").is_err());
    }
}
