//! Printing a date, time or zoned date-time with a compiled pattern, as Java's
//! `DateTimeFormatter.format` does for `LocalDate`, `LocalTime` and `ZonedDateTime`.

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};

use super::compile::{Field, Item, NumKind, NumberSpec, SignStyle};
use super::names;
use super::zone::{gmt_offset, Zone};

/// What is being printed: a date, a time, or both with an offset and zone.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Moment<'a> {
    pub date: Option<NaiveDate>,
    pub time: Option<NaiveTime>,
    pub offset: Option<i32>,
    pub zone: Option<&'a Zone>,
    pub instant_ms: Option<i64>,
}

/// Why printing failed: a field the value lacks (skipped inside optional sections), or
/// anything else.
enum Failure {
    Unsupported(String),
    Other(String),
}

/// Prints `moment` with `items`; the error is the reason, in Java's words.
pub(crate) fn format_items(items: &[Item], moment: &Moment<'_>) -> Result<String, String> {
    let mut out = String::new();
    sequence(items, moment, &mut out).map_err(|f| match f {
        Failure::Unsupported(m) | Failure::Other(m) => m,
    })?;
    Ok(out)
}

fn sequence(items: &[Item], moment: &Moment<'_>, out: &mut String) -> Result<(), Failure> {
    for item in items {
        match item {
            Item::Optional(inner) => {
                let mut section = String::new();
                match sequence(inner, moment, &mut section) {
                    Ok(()) => out.push_str(&section),
                    Err(Failure::Unsupported(_)) => {}
                    Err(other) => return Err(other),
                }
            }
            other => one(other, moment, out)?,
        }
    }
    Ok(())
}

fn one(item: &Item, moment: &Moment<'_>, out: &mut String) -> Result<(), Failure> {
    match item {
        Item::Literal(lit) => out.push_str(lit),
        Item::Number(spec) => number(spec, field(moment, spec.field)?, out)?,
        Item::Text { field: f, style } => {
            let value = field(moment, *f)?;
            match names::text_of(*f, *style, value) {
                Some(text) => out.push_str(text),
                None => out.push_str(&value.to_string()),
            }
        }
        Item::Offset { kind, zero } => {
            let secs = offset(moment)?;
            out.push_str(&offset_text(secs, *kind, zero));
        }
        Item::LocalizedOffset { full } => out.push_str(&gmt_offset(offset(moment)?, *full)),
        Item::ZoneId => out.push_str(&zone(moment)?.id()),
        Item::ZoneText { full } => {
            let z = zone(moment)?;
            out.push_str(&z.display_name(moment.instant_ms.unwrap_or(0), *full));
        }
        Item::Optional(_) => unreachable!("handled by sequence"),
    }
    Ok(())
}

fn describe(moment: &Moment<'_>) -> String {
    match (moment.date, moment.time) {
        (Some(d), Some(t)) => format!("{d}T{t}"),
        (Some(d), None) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => String::new(),
    }
}

fn offset(moment: &Moment<'_>) -> Result<i32, Failure> {
    moment
        .offset
        .ok_or_else(|| Failure::Unsupported("Unsupported field: OffsetSeconds".into()))
}

fn zone<'a>(moment: &Moment<'a>) -> Result<&'a Zone, Failure> {
    moment.zone.ok_or_else(|| {
        Failure::Unsupported(format!(
            "Unable to extract ZoneId from temporal {}",
            describe(moment)
        ))
    })
}

/// The value of `f` in `moment`.
fn field(moment: &Moment<'_>, f: Field) -> Result<i64, Failure> {
    let unsupported = || Failure::Unsupported(format!("Unsupported field: {}", f.java_name()));
    if f.is_date() {
        let d = moment.date.ok_or_else(unsupported)?;
        let year = i64::from(d.year());
        return Ok(match f {
            Field::Era => i64::from(year > 0),
            Field::YearOfEra => {
                if year > 0 {
                    year
                } else {
                    1 - year
                }
            }
            Field::Year => year,
            Field::Quarter => i64::from((d.month() - 1) / 3 + 1),
            Field::Month => i64::from(d.month()),
            Field::DayOfYear => i64::from(d.ordinal()),
            Field::DayOfMonth => i64::from(d.day()),
            _ => i64::from(d.weekday().number_from_monday()),
        });
    }
    let t = moment.time.ok_or_else(unsupported)?;
    let hour = i64::from(t.hour());
    let nano = i64::from(t.nanosecond().min(999_999_999));
    let second_of_day = i64::from(t.num_seconds_from_midnight());
    Ok(match f {
        Field::AmPm => hour / 12,
        Field::HourOfAmPm => hour % 12,
        Field::ClockHourOfAmPm => {
            if hour % 12 == 0 {
                12
            } else {
                hour % 12
            }
        }
        Field::HourOfDay => hour,
        Field::ClockHourOfDay => {
            if hour == 0 {
                24
            } else {
                hour
            }
        }
        Field::MinuteOfHour => i64::from(t.minute()),
        Field::SecondOfMinute => i64::from(t.second()),
        Field::NanoOfSecond => nano,
        Field::MilliOfDay => second_of_day * 1000 + nano / 1_000_000,
        _ => second_of_day * 1_000_000_000 + nano,
    })
}

/// Java's `NumberPrinterParser.format` (and its reduced and fraction variants).
fn number(spec: &NumberSpec, value: i64, out: &mut String) -> Result<(), Failure> {
    match spec.kind {
        NumKind::Fraction => {
            let digits = format!("{:09}", value);
            out.push_str(&digits[..spec.max.min(9)]);
            return Ok(());
        }
        NumKind::Reduced => {
            out.push_str(&format!("{:02}", value.unsigned_abs() % 100));
            return Ok(());
        }
        NumKind::LocalDayOfWeek => {
            let local = value % 7 + 1;
            out.push_str(&format!("{:0width$}", local, width = spec.min));
            return Ok(());
        }
        NumKind::Plain => {}
    }
    let digits = value.unsigned_abs().to_string();
    if digits.len() > spec.max {
        return Err(Failure::Other(format!(
            "Field {} cannot be printed as the value {value} exceeds the maximum print width of {}",
            spec.field.java_name(),
            spec.max
        )));
    }
    if value < 0 {
        if spec.sign == SignStyle::NotNegative {
            return Err(Failure::Other(format!(
                "Field {} cannot be printed as the value {value} cannot be negative according to the SignStyle",
                spec.field.java_name()
            )));
        }
        out.push('-');
    } else if spec.sign == SignStyle::ExceedsPad && spec.min < 19 && digits.len() > spec.min {
        out.push('+');
    }
    for _ in digits.len()..spec.min {
        out.push('0');
    }
    out.push_str(&digits);
    Ok(())
}

/// Java's `OffsetIdPrinterParser.format` for pattern `kind` (see `Item::Offset`).
fn offset_text(secs: i32, kind: u8, zero: &str) -> String {
    if secs == 0 {
        return zero.to_string();
    }
    let abs = secs.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    let colon = if kind > 0 && kind.is_multiple_of(2) {
        ":"
    } else {
        ""
    };
    let mut out = format!("{}{h:02}", if secs < 0 { '-' } else { '+' });
    if kind >= 3 || (kind >= 1 && m > 0) {
        out.push_str(&format!("{colon}{m:02}"));
        if kind >= 5 && s > 0 {
            out.push_str(&format!("{colon}{s:02}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_print_in_each_pattern() {
        let five_thirty = 5 * 3600 + 30 * 60;
        assert_eq!(offset_text(0, 1, "Z"), "Z");
        assert_eq!(offset_text(2 * 3600, 1, "Z"), "+02");
        assert_eq!(offset_text(five_thirty, 1, "Z"), "+0530");
        assert_eq!(offset_text(-2 * 3600, 3, "+0000"), "-0200");
        assert_eq!(offset_text(five_thirty, 4, "Z"), "+05:30");
        assert_eq!(offset_text(five_thirty + 15, 6, "Z"), "+05:30:15");
        assert_eq!(offset_text(2 * 3600, 0, "Z"), "+02");
    }
}
