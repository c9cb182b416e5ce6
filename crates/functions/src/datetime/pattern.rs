//! [`JavaPattern`]: a Java `DateTimeFormatter` pattern compiled once (see `compile`), parsing
//! and formatting ksqlDB's timestamps (epoch millis), dates (epoch days) and times (millis of
//! the day) with it.
//!
//! Parsing is case-insensitive, as ksqlDB's parsers use `parseCaseInsensitive`; text is English
//! (`Locale.ROOT` / `en`). Supported letters: `G u y D M L d Q q E e c a h K k H m s S A n N V z O
//! X x Z`, quoted literals (`'T'`, `''`), optional sections `[...]`. Week-based fields (`Y w W`),
//! `F g B v` and padding (`p`) are valid Java but not supported: compiling them fails with
//! [`FunctionError::InvalidPattern`].

use chrono::{NaiveDate, NaiveTime, Timelike};
use chrono_tz::Tz;

use super::compile::{compile, Item};
use super::format::{format_items, Moment};
use super::parse::{parse_items, Parsed};
use super::zone::Zone;
use crate::FunctionError;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A compiled Java `DateTimeFormatter` pattern.
///
/// Contract: [`JavaPattern::new`] accepts what Java's `ofPattern` accepts (minus the letters
/// named in the module docs) and rejects the rest with [`FunctionError::InvalidPattern`]; the
/// parse methods accept exactly the texts Java's case-insensitive parser accepts for the pattern
/// and fail with [`FunctionError::Parse`] naming the text and pattern; the format methods print
/// what Java prints, or fail with [`FunctionError::Format`] when the pattern needs a field the
/// value does not have (a time field for a date, a zone for a time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaPattern {
    pattern: String,
    items: Vec<Item>,
    /// Parse as `java.text.SimpleDateFormat` (commons-lang `FastDateFormat`) does, for
    /// PARSE_DATE: numbers of any width, both text widths, trailing text ignored.
    simple_date_format: bool,
}

impl JavaPattern {
    /// Compiles a Java `DateTimeFormatter` pattern.
    pub fn new(pattern: &str) -> Result<Self, FunctionError> {
        Ok(JavaPattern {
            pattern: pattern.to_string(),
            items: compile(pattern)?,
            simple_date_format: false,
        })
    }

    /// Compiles a pattern to parse as ksqlDB's PARSE_DATE does (`SimpleDateFormat` rules:
    /// numbers of any width, short or full text, text after the pattern ignored).
    pub fn new_simple_date_format(pattern: &str) -> Result<Self, FunctionError> {
        Ok(JavaPattern {
            simple_date_format: true,
            ..JavaPattern::new(pattern)?
        })
    }

    /// The pattern text.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    fn parse_error(&self, text: &str, reason: String) -> FunctionError {
        FunctionError::Parse {
            text: text.to_string(),
            pattern: self.pattern.clone(),
            reason,
        }
    }

    fn parse_fields(&self, text: &str) -> Result<Parsed, FunctionError> {
        parse_items(&self.items, text, self.simple_date_format)
            .and_then(|p| p.check_ranges().map(|_| p))
            .map_err(|reason| self.parse_error(text, reason))
    }

    /// Parses `text` into epoch milliseconds as ksqlDB's `StringToTimestampParser` does: fields
    /// the pattern lacks default to 1970-01-01T00:00; the zone is the text's (offset first),
    /// else `zone`, else UTC.
    pub fn parse_timestamp_millis(
        &self,
        text: &str,
        zone: Option<&Tz>,
    ) -> Result<i64, FunctionError> {
        match zone {
            Some(tz) => self.parse_timestamp_millis_in(text, &Zone::Region(*tz)),
            None => self.parse_timestamp_millis_in(text, &Zone::utc()),
        }
    }

    /// [`JavaPattern::parse_timestamp_millis`] with any Java zone (fixed offsets included) as
    /// the default.
    pub fn parse_timestamp_millis_in(&self, text: &str, zone: &Zone) -> Result<i64, FunctionError> {
        let parsed = self.parse_fields(text)?;
        let local = parsed
            .date_time_with_defaults()
            .map_err(|r| self.parse_error(text, r))?;
        let offset = match (parsed.offset, &parsed.zone) {
            (Some(offset), _) => offset,
            (None, Some(z)) => z.offset_for_local(&local),
            (None, None) => zone.offset_for_local(&local),
        };
        Ok(local.and_utc().timestamp_millis() - i64::from(offset) * 1000)
    }

    /// Parses `text` into days since the epoch as ksqlDB's PARSE_DATE does: missing fields
    /// default to 1970-01-01, an offset in the text applies, and the result must be midnight
    /// UTC ("Date format contains time field.").
    pub fn parse_date_days(&self, text: &str) -> Result<i32, FunctionError> {
        let ms = self.parse_timestamp_millis_in(text, &Zone::utc())?;
        if ms % MILLIS_PER_DAY != 0 {
            return Err(self.parse_error(text, "Date format contains time field.".into()));
        }
        i32::try_from(ms / MILLIS_PER_DAY)
            .map_err(|_| self.parse_error(text, "date out of range".into()))
    }

    /// Parses `text` into days since the epoch as Java's `LocalDate.parse` does (ksqlDB's
    /// STRINGTODATE): the text must give a full date (year with month and day, or year and
    /// day-of-year).
    pub fn parse_local_date_days(&self, text: &str) -> Result<i32, FunctionError> {
        let parsed = self.parse_fields(text)?;
        let date = parsed
            .full_date()
            .map_err(|r| self.parse_error(text, r))?
            .ok_or_else(|| {
                self.parse_error(
                    text,
                    "Unable to obtain LocalDate from the parsed fields".into(),
                )
            })?;
        let date = match parsed
            .resolved_time()
            .map_err(|r| self.parse_error(text, r))?
        {
            Some((_, true)) => date.succ_opt().unwrap_or(date),
            _ => date,
        };
        i32::try_from(epoch_days(date))
            .map_err(|_| self.parse_error(text, "date out of range".into()))
    }

    /// Parses `text` into milliseconds of the day as ksqlDB's PARSE_TIME does: the pattern must
    /// have no date fields ("Time format contains date field.") and the text must give the hour.
    pub fn parse_time_millis(&self, text: &str) -> Result<i32, FunctionError> {
        let parsed = self.parse_fields(text)?;
        if parsed.has_date_field() {
            return Err(self.parse_error(text, "Time format contains date field.".into()));
        }
        let (time, _) = parsed
            .resolved_time()
            .map_err(|r| self.parse_error(text, r))?
            .ok_or_else(|| {
                self.parse_error(
                    text,
                    "Unable to obtain LocalTime from the parsed fields".into(),
                )
            })?;
        Ok((time.num_seconds_from_midnight() * 1000 + time.nanosecond() / 1_000_000) as i32)
    }

    fn format_error(&self, value: String, reason: String) -> FunctionError {
        FunctionError::Format {
            value,
            pattern: self.pattern.clone(),
            reason,
        }
    }

    /// Formats epoch milliseconds in `zone` (UTC when `None`), as FORMAT_TIMESTAMP and
    /// TIMESTAMPTOSTRING do.
    pub fn format_timestamp_millis(
        &self,
        ms: i64,
        zone: Option<&Tz>,
    ) -> Result<String, FunctionError> {
        match zone {
            Some(tz) => self.format_timestamp_millis_in(ms, &Zone::Region(*tz)),
            None => self.format_timestamp_millis_in(ms, &Zone::utc()),
        }
    }

    /// [`JavaPattern::format_timestamp_millis`] in any Java zone.
    pub fn format_timestamp_millis_in(
        &self,
        ms: i64,
        zone: &Zone,
    ) -> Result<String, FunctionError> {
        let offset = zone.offset_at(ms);
        let local = chrono::DateTime::from_timestamp_millis(ms)
            .and_then(|utc| {
                utc.naive_utc()
                    .checked_add_signed(chrono::Duration::seconds(i64::from(offset)))
            })
            .ok_or_else(|| self.format_error(ms.to_string(), "timestamp out of range".into()))?;
        let moment = Moment {
            date: Some(local.date()),
            time: Some(local.time()),
            offset: Some(offset),
            zone: Some(zone),
            instant_ms: Some(ms),
        };
        format_items(&self.items, &moment).map_err(|r| self.format_error(ms.to_string(), r))
    }

    /// Formats days since the epoch as a date (FORMAT_DATE, DATETOSTRING); time and zone
    /// fields are errors, as for Java's `LocalDate`.
    pub fn format_date_days(&self, days: i32) -> Result<String, FunctionError> {
        let date = date_from_days(i64::from(days))
            .ok_or_else(|| self.format_error(days.to_string(), "date out of range".into()))?;
        let moment = Moment {
            date: Some(date),
            ..Moment::default()
        };
        format_items(&self.items, &moment).map_err(|r| self.format_error(date.to_string(), r))
    }

    /// Formats milliseconds of the day as a time (FORMAT_TIME); date and zone fields are
    /// errors, as for Java's `LocalTime`.
    pub fn format_time_millis(&self, ms: i32) -> Result<String, FunctionError> {
        let time = (0..MILLIS_PER_DAY)
            .contains(&i64::from(ms))
            .then(|| {
                NaiveTime::from_num_seconds_from_midnight_opt(
                    (ms / 1000) as u32,
                    (ms % 1000) as u32 * 1_000_000,
                )
            })
            .flatten()
            .ok_or_else(|| self.format_error(ms.to_string(), "time out of range".into()))?;
        let moment = Moment {
            time: Some(time),
            ..Moment::default()
        };
        format_items(&self.items, &moment).map_err(|r| self.format_error(time.to_string(), r))
    }
}

/// Days since 1970-01-01 of `date`.
pub(crate) fn epoch_days(date: NaiveDate) -> i64 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days()
}

/// The date `days` after 1970-01-01.
pub(crate) fn date_from_days(days: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::try_days(days)?)
}
