//! ksqlDB's epoch and zone functions: UNIX_TIMESTAMP, UNIX_DATE, FROM_UNIXTIME, FROM_DAYS,
//! CONVERT_TZ.
//!
//! UNIX_TIMESTAMP() and UNIX_DATE() read the clock for every batch (volatile); UNIX_DATE()
//! counts days in the system zone, UTC in Sluice.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Date32Array, Int32Array, Int64Array, TimestampMillisecondArray,
};
use datafusion::common::Result;

use super::pattern::epoch_days;
use super::udf::{DateTimeUdf, Func, Inputs, Param, Reporter, Zones};
use super::zone::Zone;

/// The epoch and zone functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EpochFn {
    UnixTimestamp,
    UnixDate,
    FromUnixTime,
    FromDays,
    ConvertTz,
}

/// The UDF definitions.
pub(crate) fn definitions() -> Vec<DateTimeUdf> {
    use EpochFn::*;
    use Param::*;
    vec![
        DateTimeUdf::new(
            "unix_timestamp",
            Func::Epoch(UnixTimestamp),
            vec![vec![], vec![Timestamp]],
            BigInt,
            true,
        ),
        DateTimeUdf::new(
            "unix_date",
            Func::Epoch(UnixDate),
            vec![vec![], vec![Date]],
            Int,
            true,
        ),
        DateTimeUdf::new(
            "from_unixtime",
            Func::Epoch(FromUnixTime),
            vec![vec![BigInt]],
            Timestamp,
            false,
        ),
        DateTimeUdf::new(
            "from_days",
            Func::Epoch(FromDays),
            vec![vec![Int]],
            Date,
            false,
        ),
        DateTimeUdf::new(
            "convert_tz",
            Func::Epoch(ConvertTz),
            vec![vec![Timestamp, String, String]],
            Timestamp,
            false,
        ),
    ]
}

/// CONVERT_TZ: shifts `millis` by the difference between the zones' offsets at that instant.
pub(crate) fn convert_tz(millis: i64, from: &Zone, to: &Zone) -> i64 {
    let shift = i64::from(to.offset_at(millis)) - i64::from(from.offset_at(millis));
    millis + shift * 1000
}

/// Computes `f` over a batch.
pub(crate) fn evaluate(f: EpochFn, inputs: &Inputs, report: &mut Reporter) -> Result<ArrayRef> {
    use EpochFn::*;
    let rows = inputs.rows;
    Ok(match f {
        UnixTimestamp if inputs.len() == 0 => {
            let now = chrono::Utc::now().timestamp_millis();
            Arc::new(Int64Array::from(vec![now; rows]))
        }
        UnixTimestamp => {
            let c = inputs.timestamps(0)?;
            Arc::new(Int64Array::from_iter((0..rows).map(|r| c.get(r))))
        }
        UnixDate if inputs.len() == 0 => {
            let today = epoch_days(chrono::Utc::now().date_naive()) as i32;
            Arc::new(Int32Array::from(vec![today; rows]))
        }
        UnixDate => {
            let c = inputs.dates(0)?;
            Arc::new(Int32Array::from_iter((0..rows).map(|r| c.get(r))))
        }
        FromUnixTime => {
            let c = inputs.bigints(0)?;
            Arc::new(TimestampMillisecondArray::from_iter(
                (0..rows).map(|r| c.get(r)),
            ))
        }
        FromDays => {
            let c = inputs.ints(0)?;
            Arc::new(Date32Array::from_iter((0..rows).map(|r| c.get(r))))
        }
        ConvertTz => {
            let (stamps, from, to) = (
                inputs.timestamps(0)?,
                inputs.strings(1)?,
                inputs.strings(2)?,
            );
            let mut zones = Zones::default();
            let mut out = Vec::with_capacity(rows);
            for row in 0..rows {
                let value = match (stamps.get(row), from.get(row), to.get(row)) {
                    (Some(ms), Some(from), Some(to)) => {
                        let zones = zones.get(from).and_then(|f| Ok((f, zones.get(to)?)));
                        report
                            .ok(zones)
                            .map(|(from, to)| convert_tz(ms, &from, &to))
                    }
                    _ => None,
                };
                out.push(value);
            }
            Arc::new(TimestampMillisecondArray::from(out))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convert_tz_shifts_by_the_offset_difference() {
        let z = |id: &str| Zone::of(id).unwrap();
        assert_eq!(convert_tz(100, &z("+0200"), &z("+0500")), 10_800_100);
        assert_eq!(
            convert_tz(1_589_234_313_000, &z("+0200"), &z("+0500")),
            1_589_245_113_000
        );
        assert_eq!(
            convert_tz(100, &z("America/Los_Angeles"), &z("America/New_York")),
            10_800_100
        );
        assert_eq!(
            convert_tz(
                1_589_234_313_000,
                &z("America/Los_Angeles"),
                &z("America/New_York")
            ),
            1_589_245_113_000
        );
        // Offsets are read at the instant: London is on summer time in May.
        assert_eq!(
            convert_tz(1_589_234_313_000, &z("UTC"), &z("Europe/London")),
            1_589_234_313_000 + 3_600_000
        );
    }
}
