//! ksqlDB's date/time arithmetic: DATEADD, DATESUB, TIMEADD, TIMESUB, TIMESTAMPADD,
//! TIMESTAMPSUB, each `(unit, INT interval, value)` with Java's `TimeUnit` conversions.
//!
//! The unit is ksqlDB's time-unit keyword (`DAY(S)`, `HOUR(S)`, `MINUTE(S)`, `SECOND(S)`,
//! `MILLISECOND(S)`; also `MICROSECOND(S)`, `NANOSECOND(S)`), passed as a string: DataFusion's
//! SQL parser reads a bare `DAYS` as a column, so the planner must turn the keyword into a
//! string literal. An unknown unit gives null and a processing-log entry.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Date32Array, Time32MillisecondArray, TimestampMillisecondArray,
};
use datafusion::common::Result;

use super::udf::{DateTimeUdf, Func, Inputs, Param, Reporter};
use crate::FunctionError;

const MILLIS_PER_DAY: i64 = 86_400_000;
const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// The arithmetic functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ArithmeticFn {
    DateAdd,
    DateSub,
    TimeAdd,
    TimeSub,
    TimestampAdd,
    TimestampSub,
}

/// The UDF definitions.
pub(crate) fn definitions() -> Vec<DateTimeUdf> {
    use ArithmeticFn::*;
    use Param::*;
    [
        ("dateadd", DateAdd, Date),
        ("datesub", DateSub, Date),
        ("timeadd", TimeAdd, Time),
        ("timesub", TimeSub, Time),
        ("timestampadd", TimestampAdd, Timestamp),
        ("timestampsub", TimestampSub, Timestamp),
    ]
    .into_iter()
    .map(|(name, f, value)| {
        DateTimeUdf::new(
            name,
            Func::Arithmetic(f),
            vec![vec![Unit, Int, value]],
            value,
            false,
        )
    })
    .collect()
}

/// Java's `java.util.concurrent.TimeUnit`, as ksqlDB's interval units map to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JavaTimeUnit {
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl JavaTimeUnit {
    /// Reads a unit keyword, singular or plural, in any case.
    pub(crate) fn parse(keyword: &str) -> Result<Self, FunctionError> {
        let upper = keyword.trim().to_ascii_uppercase();
        let singular = upper.strip_suffix('S').unwrap_or(&upper);
        Ok(match singular {
            "NANOSECOND" => JavaTimeUnit::Nanoseconds,
            "MICROSECOND" => JavaTimeUnit::Microseconds,
            "MILLISECOND" => JavaTimeUnit::Milliseconds,
            "SECOND" => JavaTimeUnit::Seconds,
            "MINUTE" => JavaTimeUnit::Minutes,
            "HOUR" => JavaTimeUnit::Hours,
            "DAY" => JavaTimeUnit::Days,
            _ => {
                return Err(FunctionError::InvalidArgument {
                    function: "time unit".into(),
                    reason: format!("'{keyword}' is not a time unit"),
                })
            }
        })
    }

    fn nanos(self) -> i64 {
        match self {
            JavaTimeUnit::Nanoseconds => 1,
            JavaTimeUnit::Microseconds => 1_000,
            JavaTimeUnit::Milliseconds => 1_000_000,
            JavaTimeUnit::Seconds => 1_000_000_000,
            JavaTimeUnit::Minutes => 60_000_000_000,
            JavaTimeUnit::Hours => 3_600_000_000_000,
            JavaTimeUnit::Days => NANOS_PER_DAY,
        }
    }

    /// `TimeUnit.toMillis`: truncating below a millisecond, saturating on overflow.
    pub(crate) fn to_millis(self, n: i64) -> i64 {
        match self {
            JavaTimeUnit::Nanoseconds => n / 1_000_000,
            JavaTimeUnit::Microseconds => n / 1_000,
            unit => n.saturating_mul(unit.nanos() / 1_000_000),
        }
    }

    /// `TimeUnit.toNanos`, saturating on overflow.
    pub(crate) fn to_nanos(self, n: i64) -> i64 {
        n.saturating_mul(self.nanos())
    }
}

/// DATEADD: the days of `date + unit * n` in milliseconds, truncated toward zero as Java's
/// `TimeUnit.MILLISECONDS.toDays` does.
pub(crate) fn add_to_date(days: i32, unit: JavaTimeUnit, n: i64) -> Result<i32, FunctionError> {
    let ms = (i64::from(days) * MILLIS_PER_DAY).wrapping_add(unit.to_millis(n));
    i32::try_from(ms / MILLIS_PER_DAY).map_err(|_| FunctionError::InvalidArgument {
        function: "dateadd".into(),
        reason: "the result is out of the DATE range".into(),
    })
}

/// TIMEADD: `LocalTime.plusNanos`, wrapping around midnight.
pub(crate) fn add_to_time(millis: i32, unit: JavaTimeUnit, n: i64) -> i32 {
    let nano_of_day = i64::from(millis) * 1_000_000;
    let added = (unit.to_nanos(n) % NANOS_PER_DAY + nano_of_day + NANOS_PER_DAY) % NANOS_PER_DAY;
    (added / 1_000_000) as i32
}

/// TIMESTAMPADD: `millis + unit.toMillis(n)` with Java's wrapping `long` addition.
pub(crate) fn add_to_timestamp(millis: i64, unit: JavaTimeUnit, n: i64) -> i64 {
    millis.wrapping_add(unit.to_millis(n))
}

/// Computes `f` over a batch.
pub(crate) fn evaluate(
    f: ArithmeticFn,
    inputs: &Inputs,
    report: &mut Reporter,
) -> Result<ArrayRef> {
    use ArithmeticFn::*;
    let rows = inputs.rows;
    let (units, intervals) = (inputs.strings(0)?, inputs.ints(1)?);
    let sign: i64 = if matches!(f, DateSub | TimeSub | TimestampSub) {
        -1
    } else {
        1
    };
    let unit_and_n = |row: usize, report: &mut Reporter| -> Option<(JavaTimeUnit, i64)> {
        let (unit, n) = (units.get(row)?, intervals.get(row)?);
        let unit = report.ok(JavaTimeUnit::parse(unit))?;
        Some((unit, sign * i64::from(n)))
    };
    Ok(match f {
        DateAdd | DateSub => {
            let dates = inputs.dates(2)?;
            let mut out = Vec::with_capacity(rows);
            for row in 0..rows {
                let value = match (unit_and_n(row, report), dates.get(row)) {
                    (Some((unit, n)), Some(d)) => Some(add_to_date(d, unit, n)),
                    _ => None,
                };
                out.push(value.and_then(|r| report.ok(r)));
            }
            Arc::new(Date32Array::from(out))
        }
        TimeAdd | TimeSub => {
            let times = inputs.times(2)?;
            let out: Vec<_> = (0..rows)
                .map(|row| match (unit_and_n(row, report), times.get(row)) {
                    (Some((unit, n)), Some(t)) => Some(add_to_time(t, unit, n)),
                    _ => None,
                })
                .collect();
            Arc::new(Time32MillisecondArray::from(out))
        }
        TimestampAdd | TimestampSub => {
            let stamps = inputs.timestamps(2)?;
            let out: Vec<_> = (0..rows)
                .map(|row| match (unit_and_n(row, report), stamps.get(row)) {
                    (Some((unit, n)), Some(ts)) => Some(add_to_timestamp(ts, unit, n)),
                    _ => None,
                })
                .collect();
            Arc::new(TimestampMillisecondArray::from(out))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_like_ksql_keywords() {
        assert_eq!(JavaTimeUnit::parse("DAYS").unwrap(), JavaTimeUnit::Days);
        assert_eq!(JavaTimeUnit::parse("day").unwrap(), JavaTimeUnit::Days);
        assert_eq!(
            JavaTimeUnit::parse("MILLISECONDS").unwrap(),
            JavaTimeUnit::Milliseconds
        );
        assert!(matches!(
            JavaTimeUnit::parse("FORTNIGHTS"),
            Err(FunctionError::InvalidArgument { .. })
        ));
    }

    #[test]
    fn java_time_unit_conversions() {
        assert_eq!(JavaTimeUnit::Days.to_millis(2), 2 * MILLIS_PER_DAY);
        assert_eq!(JavaTimeUnit::Nanoseconds.to_millis(1_999_999), 1);
        assert_eq!(JavaTimeUnit::Microseconds.to_millis(-1_500), -1);
        assert_eq!(JavaTimeUnit::Days.to_nanos(i64::MAX / 2), i64::MAX);
    }

    #[test]
    fn dates_add_whole_days_and_truncate_toward_zero() {
        // dateadd(DAYS, 10, 10) = 20; datesub(DAYS, 10, 5) = -5.
        assert_eq!(add_to_date(10, JavaTimeUnit::Days, 10).unwrap(), 20);
        assert_eq!(add_to_date(5, JavaTimeUnit::Days, -10).unwrap(), -5);
        assert_eq!(add_to_date(2, JavaTimeUnit::Days, -5).unwrap(), -3);
        // Less than a day moves nothing forward, and truncation rounds toward zero.
        assert_eq!(add_to_date(5, JavaTimeUnit::Hours, 23).unwrap(), 5);
        assert_eq!(add_to_date(-3, JavaTimeUnit::Milliseconds, 1).unwrap(), -2);
        assert_eq!(add_to_date(0, JavaTimeUnit::Hours, -1).unwrap(), 0);
    }

    #[test]
    fn times_wrap_around_midnight() {
        assert_eq!(add_to_time(10, JavaTimeUnit::Milliseconds, 10), 20);
        assert_eq!(add_to_time(86_399_995, JavaTimeUnit::Milliseconds, 10), 5);
        assert_eq!(add_to_time(2, JavaTimeUnit::Milliseconds, -5), 86_399_997);
        assert_eq!(add_to_time(0, JavaTimeUnit::Hours, 25), 3_600_000);
        // Java's toNanos saturates at Long.MAX_VALUE before the wrap.
        assert_eq!(
            add_to_time(0, JavaTimeUnit::Days, i64::from(i32::MAX)),
            (i64::MAX % NANOS_PER_DAY / 1_000_000) as i32
        );
    }

    #[test]
    fn timestamps_add_milliseconds() {
        assert_eq!(add_to_timestamp(10, JavaTimeUnit::Milliseconds, 10), 20);
        assert_eq!(add_to_timestamp(2, JavaTimeUnit::Milliseconds, -5), -3);
        assert_eq!(add_to_timestamp(0, JavaTimeUnit::Seconds, 3), 3000);
    }
}
