//! Parsing text with a compiled pattern, as Java's case-insensitive, strict
//! `DateTimeFormatter` parser does, and resolving the parsed fields the way Java's SMART
//! resolver and ksqlDB's `StringToTimestampParser` do (missing fields default to
//! 1970-01-01T00:00).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::compile::{Adjacency, Field, Item, NumKind, NumberSpec, SignStyle, TextStyle};
use super::names;
use super::zone::{parse_zone_at, Zone};

/// The fields, zone and offset read from a text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parsed {
    values: [Option<i64>; Field::COUNT],
    pub zone: Option<Zone>,
    pub offset: Option<i32>,
}

/// Parses all of `text` (or a prefix of it when `lenient`, as `SimpleDateFormat` does) with
/// `items`. The error is the reason, in Java's words.
pub(crate) fn parse_items(items: &[Item], text: &str, lenient: bool) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        lenient,
    };
    match parser.sequence(items, 0, &mut parsed) {
        Ok(end) if end == text.len() || lenient => Ok(parsed),
        Ok(end) => Err(format!(
            "could not be parsed, unparsed text found at index {}",
            char_index(text, end)
        )),
        Err(at) => Err(format!(
            "could not be parsed at index {}",
            char_index(text, at)
        )),
    }
}

fn char_index(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(byte, |s| s.chars().count())
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    lenient: bool,
}

impl Parser<'_> {
    /// Parses `items` from `pos`; returns the end position, or the position of the failure.
    fn sequence(
        &mut self,
        items: &[Item],
        mut pos: usize,
        parsed: &mut Parsed,
    ) -> Result<usize, usize> {
        for item in items {
            pos = self.item(item, pos, parsed)?;
        }
        Ok(pos)
    }

    fn item(&mut self, item: &Item, pos: usize, parsed: &mut Parsed) -> Result<usize, usize> {
        match item {
            Item::Literal(lit) => {
                let end = pos + lit.len();
                match self.bytes.get(pos..end) {
                    Some(b) if b.eq_ignore_ascii_case(lit.as_bytes()) => Ok(end),
                    _ => Err(pos),
                }
            }
            Item::Number(spec) => {
                let (value, end) = self.number(spec, pos)?;
                parsed.set(spec.field, value).map_err(|_| pos)?;
                Ok(end)
            }
            Item::Text { field, style } => {
                let lenient_full = if self.lenient {
                    names::texts(*field, TextStyle::Full)
                } else {
                    &[]
                };
                let longest = names::texts(*field, *style)
                    .iter()
                    .chain(lenient_full)
                    .filter(|(t, _)| {
                        self.bytes
                            .get(pos..pos + t.len())
                            .is_some_and(|b| b.eq_ignore_ascii_case(t.as_bytes()))
                    })
                    .max_by_key(|(t, _)| t.len());
                let (t, v) = longest.ok_or(pos)?;
                parsed.set(*field, *v).map_err(|_| pos)?;
                Ok(pos + t.len())
            }
            Item::Offset { kind, zero } => {
                let (secs, end) = self.offset(*kind, zero, pos)?;
                parsed.offset = Some(secs);
                Ok(end)
            }
            Item::LocalizedOffset { full } => {
                let (secs, end) = self.localized_offset(*full, pos)?;
                parsed.offset = Some(secs);
                Ok(end)
            }
            Item::ZoneId | Item::ZoneText { .. } => {
                let with_names = matches!(item, Item::ZoneText { .. });
                let (zone, end) = parse_zone_at(self.text, pos, with_names).ok_or(pos)?;
                parsed.zone = Some(zone);
                Ok(end)
            }
            Item::Optional(inner) => {
                let mut attempt = parsed.clone();
                match self.sequence(inner, pos, &mut attempt) {
                    Ok(end) => {
                        *parsed = attempt;
                        Ok(end)
                    }
                    Err(_) => Ok(pos),
                }
            }
        }
    }

    /// Java's `NumberPrinterParser.parse` in strict mode (any width when lenient and not
    /// part of an adjacent run).
    fn number(&self, spec: &NumberSpec, pos: usize) -> Result<(i64, usize), usize> {
        let (min, max, reserve) = match spec.adjacency {
            Adjacency::Alone if self.lenient => (1, 19, 0),
            Adjacency::Alone => (spec.min, spec.max, 0),
            Adjacency::Base(w) => (spec.min, spec.max, w),
            Adjacency::Subsequent => (spec.min, spec.max, 0),
        };
        let mut start = pos;
        let mut negative = false;
        let mut positive = false;
        match (self.bytes.get(pos), spec.sign) {
            (Some(b'-'), SignStyle::Normal | SignStyle::ExceedsPad) => {
                negative = true;
                start += 1;
            }
            (Some(b'+'), SignStyle::ExceedsPad) => {
                positive = true;
                start += 1;
            }
            (Some(b'+'), SignStyle::Normal) if self.lenient => start += 1,
            _ => {}
        }
        let available = self.bytes[start.min(self.bytes.len())..]
            .iter()
            .take(max + reserve)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if available < min {
            return Err(pos);
        }
        let take = if reserve > 0 {
            min.max(available.saturating_sub(reserve))
        } else {
            available
        };
        let digits = &self.bytes[start..start + take];
        let end = start + take;
        if !self.lenient && spec.sign == SignStyle::ExceedsPad {
            if positive && take <= spec.min {
                return Err(pos);
            }
            if !positive && !negative && take > spec.min {
                return Err(pos);
            }
        }
        let mut value: i64 = 0;
        for d in digits {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(d - b'0')))
                .ok_or(pos)?;
        }
        if negative {
            if value == 0 && !self.lenient {
                return Err(pos);
            }
            value = -value;
        }
        let value = match spec.kind {
            NumKind::Plain => value,
            NumKind::Reduced if take == 2 => 2000 + value,
            NumKind::Reduced => value,
            NumKind::Fraction => value * 10_i64.pow((9 - take.min(9)) as u32),
            NumKind::LocalDayOfWeek => match value {
                1 => 7,
                2..=7 => value - 1,
                _ => return Err(pos),
            },
        };
        Ok((value, end))
    }

    fn two_digits(&self, pos: usize) -> Option<i32> {
        let d = self.bytes.get(pos..pos + 2)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| i32::from(d[0] - b'0') * 10 + i32::from(d[1] - b'0'))
    }

    /// Java's `OffsetIdPrinterParser.parse` for pattern `kind` (see `Item::Offset`): the
    /// zero text is tried first (so `x`, whose zero text is `+00`, reads only `+00` of
    /// `+0000`, as in Java), then a signed offset.
    fn offset(&self, kind: u8, zero: &str, pos: usize) -> Result<(i32, usize), usize> {
        match self.bytes.get(pos..pos + zero.len()) {
            Some(b) if b.eq_ignore_ascii_case(zero.as_bytes()) => Ok((0, pos + zero.len())),
            _ => self.signed_offset(kind, pos).ok_or(pos),
        }
    }

    fn signed_offset(&self, kind: u8, pos: usize) -> Option<(i32, usize)> {
        let sign = match self.bytes.get(pos)? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let colon = kind > 0 && kind.is_multiple_of(2);
        let minutes_required = kind >= 3;
        let seconds_allowed = kind >= 5;
        let h = self.two_digits(pos + 1)?;
        let mut end = pos + 3;
        let (mut m, mut s) = (0, 0);
        if kind >= 1 {
            let at = end + usize::from(colon);
            let sep_ok = !colon || self.bytes.get(end) == Some(&b':');
            match self.two_digits(at).filter(|_| sep_ok) {
                Some(v) => {
                    m = v;
                    end = at + 2;
                    if seconds_allowed {
                        let at = end + usize::from(colon);
                        let sep_ok = !colon || self.bytes.get(end) == Some(&b':');
                        if let Some(v) = self.two_digits(at).filter(|_| sep_ok) {
                            s = v;
                            end = at + 2;
                        }
                    }
                }
                None if minutes_required => return None,
                None => {}
            }
        }
        if h > 18 || m > 59 || s > 59 {
            return None;
        }
        Some((sign * (h * 3600 + m * 60 + s), end))
    }

    /// Java's localized offset parser: `GMT`, then `+h[:mm[:ss]]` (short) or `+hh:mm[:ss]`.
    fn localized_offset(&self, full: bool, pos: usize) -> Result<(i32, usize), usize> {
        match self.bytes.get(pos..pos + 3) {
            Some(b) if b.eq_ignore_ascii_case(b"GMT") => {}
            _ => return Err(pos),
        }
        let mut end = pos + 3;
        let sign = match self.bytes.get(end) {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Ok((0, end)),
        };
        end += 1;
        let digits = self.bytes[end..]
            .iter()
            .take(2)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || (full && digits < 2) {
            return Err(pos);
        }
        let h: i32 = self.text[end..end + digits].parse().map_err(|_| pos)?;
        end += digits;
        let mut m = 0;
        let mut s = 0;
        if self.bytes.get(end) == Some(&b':') {
            if let Some(v) = self.two_digits(end + 1) {
                m = v;
                end += 3;
                if self.bytes.get(end) == Some(&b':') {
                    if let Some(v) = self.two_digits(end + 1) {
                        s = v;
                        end += 3;
                    }
                }
            }
        } else if full {
            return Err(pos);
        }
        if h > 18 || m > 59 || s > 59 {
            return Err(pos);
        }
        Ok((sign * (h * 3600 + m * 60 + s), end))
    }
}

/// A resolved time of day and whether it was `24:00` (the next day's midnight).
pub(crate) type ResolvedTime = (NaiveTime, bool);

impl Parsed {
    fn get(&self, field: Field) -> Option<i64> {
        self.values[field as usize]
    }

    /// Records `value` for `field`; a different earlier value for it is a conflict.
    fn set(&mut self, field: Field, value: i64) -> Result<(), ()> {
        match self.values[field as usize] {
            Some(old) if old != value => Err(()),
            _ => {
                self.values[field as usize] = Some(value);
                Ok(())
            }
        }
    }

    /// Whether any date field was parsed.
    pub(crate) fn has_date_field(&self) -> bool {
        Field::ALL
            .iter()
            .any(|f| f.is_date() && self.get(*f).is_some())
    }

    /// Java's range checks of the SMART resolver.
    pub(crate) fn check_ranges(&self) -> Result<(), String> {
        const RANGES: [(Field, i64, i64); Field::COUNT] = [
            (Field::Era, 0, 1),
            (Field::YearOfEra, 1, 999_999_999),
            (Field::Year, -999_999_999, 999_999_999),
            (Field::Quarter, 1, 4),
            (Field::Month, 1, 12),
            (Field::DayOfYear, 1, 366),
            (Field::DayOfMonth, 1, 31),
            (Field::DayOfWeek, 1, 7),
            (Field::AmPm, 0, 1),
            (Field::HourOfAmPm, 0, 11),
            // SMART accepts 0 for the clock hours (as 12 and 24).
            (Field::ClockHourOfAmPm, 0, 12),
            // SMART accepts 24:00 as the next day's midnight.
            (Field::HourOfDay, 0, 24),
            (Field::ClockHourOfDay, 0, 24),
            (Field::MinuteOfHour, 0, 59),
            (Field::SecondOfMinute, 0, 59),
            (Field::NanoOfSecond, 0, 999_999_999),
            (Field::MilliOfDay, 0, 86_399_999),
            (Field::NanoOfDay, 0, 86_399_999_999_999),
        ];
        for (field, lo, hi) in RANGES {
            if let Some(v) = self.get(field) {
                if v < lo || v > hi {
                    let (lo, hi) = match field {
                        Field::ClockHourOfAmPm => (1, 12),
                        Field::HourOfDay => (0, 23),
                        Field::ClockHourOfDay => (1, 24),
                        _ => (lo, hi),
                    };
                    return Err(format!(
                        "Invalid value for {} (valid values {lo} - {hi}): {v}",
                        field.java_name()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The proleptic year from `u`, or from `y` with the era (CE when absent).
    fn year(&self) -> Result<Option<i64>, String> {
        let from_era = self
            .get(Field::YearOfEra)
            .map(|yoe| match self.get(Field::Era) {
                Some(0) => 1 - yoe,
                _ => yoe,
            });
        match (self.get(Field::Year), from_era) {
            (Some(y), Some(e)) if y != e => Err(format!(
                "Conflict found: Year {y} differs from Year {e} derived from YearOfEra"
            )),
            (Some(y), _) => Ok(Some(y)),
            (None, e) => Ok(e),
        }
    }

    /// The date when the fields determine one (year with month and day, or year with
    /// day-of-year), as Java's SMART resolver finds it: a day past the month's end is clamped
    /// (2019-02-30 is 2019-02-28); other date fields must agree.
    pub(crate) fn full_date(&self) -> Result<Option<NaiveDate>, String> {
        let Some(year) = self.year()? else {
            return Ok(None);
        };
        let year = i32::try_from(year).map_err(|_| format!("Year {year} out of range"))?;
        let date = match (
            self.get(Field::Month),
            self.get(Field::DayOfMonth),
            self.get(Field::DayOfYear),
        ) {
            (Some(month), Some(dom), _) => {
                let dom = dom.min(i64::from(month_length(year, month as u32)));
                NaiveDate::from_ymd_opt(year, month as u32, dom as u32)
                    .ok_or_else(|| format!("Invalid date {year}-{month}-{dom}"))?
            }
            (_, _, Some(doy)) => NaiveDate::from_yo_opt(year, doy as u32).ok_or_else(|| {
                format!("Invalid date 'DayOfYear {doy}' as '{year}' is not a leap year")
            })?,
            _ => return Ok(None),
        };
        let derived = [
            (Field::DayOfYear, i64::from(date.ordinal())),
            (
                Field::DayOfWeek,
                i64::from(date.weekday().number_from_monday()),
            ),
            (Field::Month, i64::from(date.month())),
            (Field::Quarter, i64::from((date.month() - 1) / 3 + 1)),
        ];
        for (field, value) in derived {
            if let Some(v) = self.get(field) {
                if v != value {
                    return Err(format!(
                        "Conflict found: Field {name} {value} differs from {name} {v} derived from {date}",
                        name = field.java_name()
                    ));
                }
            }
        }
        Ok(Some(date))
    }

    /// The date as ksqlDB's `StringToTimestampParser` finds it: Java's full date when there is
    /// one, else 1970-01-01 with each parsed field set in turn (year, month, day-of-week,
    /// day-of-month, day-of-year).
    fn date_with_defaults(&self) -> Result<NaiveDate, String> {
        if let Some(date) = self.full_date()? {
            return Ok(date);
        }
        let mut date = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        if let Some(year) = self.year()? {
            let y = i32::try_from(year).map_err(|_| format!("Year {year} out of range"))?;
            date = date
                .with_year(y)
                .ok_or_else(|| format!("Year {year} out of range"))?;
        }
        if let Some(month) = self.get(Field::Month) {
            date = date
                .with_month(month as u32)
                .expect("day 1 exists in every month");
        }
        if let Some(dow) = self.get(Field::DayOfWeek) {
            let current = i64::from(date.weekday().number_from_monday());
            date = date
                .checked_add_signed(Duration::days(dow - current))
                .ok_or("date out of range")?;
        }
        if let Some(dom) = self.get(Field::DayOfMonth) {
            date = date.with_day(dom as u32).ok_or_else(|| {
                format!("Invalid date '{} {dom}'", month_name_upper(date.month()))
            })?;
        }
        if let Some(doy) = self.get(Field::DayOfYear) {
            if doy == 366 && self.year()?.is_none() {
                return Err("Leap day cannot be parsed without supplying the year field".into());
            }
            date = date.with_ordinal(doy as u32).ok_or_else(|| {
                format!(
                    "Invalid date 'DayOfYear {doy}' as '{}' is not a leap year",
                    date.year()
                )
            })?;
        }
        Ok(date)
    }

    /// The hour of day from `H`, `k`, or `a` with `h`/`K`, cross-checked.
    fn hour_of_day(&self) -> Result<Option<i64>, String> {
        let mut hour = self.get(Field::HourOfDay);
        let mut merge = |value: i64, from: Field| -> Result<(), String> {
            match hour {
                Some(h) if h != value => Err(format!(
                    "Conflict found: HourOfDay {h} differs from HourOfDay {value} while resolving {}",
                    from.java_name()
                )),
                _ => {
                    hour = Some(value);
                    Ok(())
                }
            }
        };
        if let Some(k) = self.get(Field::ClockHourOfDay) {
            merge(if k == 24 { 0 } else { k }, Field::ClockHourOfDay)?;
        }
        let hour_of_ampm = match (self.get(Field::HourOfAmPm), self.get(Field::ClockHourOfAmPm)) {
            (Some(k), Some(c)) if k != c % 12 => {
                return Err(format!(
                    "Conflict found: HourOfAmPm {k} differs from HourOfAmPm {} while resolving ClockHourOfAmPm",
                    c % 12
                ))
            }
            (Some(k), _) => Some(k),
            (None, c) => c.map(|c| c % 12),
        };
        if let (Some(ampm), Some(k)) = (self.get(Field::AmPm), hour_of_ampm) {
            merge(ampm * 12 + k, Field::AmPm)?;
        }
        Ok(hour)
    }

    /// The time of day when Java's resolver finds one (an hour, with minute before second
    /// before fraction, or a milli/nano-of-day), and whether it was 24:00.
    pub(crate) fn resolved_time(&self) -> Result<Option<ResolvedTime>, String> {
        let nano_of_day = match (self.get(Field::NanoOfDay), self.get(Field::MilliOfDay)) {
            (Some(n), Some(m)) if n != m * 1_000_000 => {
                return Err(format!(
                    "Conflict found: NanoOfDay {n} differs from NanoOfDay {} while resolving MilliOfDay",
                    m * 1_000_000
                ))
            }
            (Some(n), _) => Some(n),
            (None, m) => m.map(|m| m * 1_000_000),
        };
        if let Some(nod) = nano_of_day {
            let time = NaiveTime::from_num_seconds_from_midnight_opt(
                (nod / 1_000_000_000) as u32,
                (nod % 1_000_000_000) as u32,
            )
            .ok_or_else(|| format!("Invalid value for NanoOfDay: {nod}"))?;
            return Ok(Some((time, false)));
        }
        let Some(hour) = self.hour_of_day()? else {
            return Ok(None);
        };
        let minute = self.get(Field::MinuteOfHour);
        let second = self.get(Field::SecondOfMinute);
        let nano = self.get(Field::NanoOfSecond);
        if (minute.is_none() && (second.is_some() || nano.is_some()))
            || (minute.is_some() && second.is_none() && nano.is_some())
        {
            return Ok(None);
        }
        let (m, s, n) = (minute.unwrap_or(0), second.unwrap_or(0), nano.unwrap_or(0));
        if hour == 24 {
            if m == 0 && s == 0 && n == 0 {
                return Ok(Some((NaiveTime::MIN, true)));
            }
            return Err("Invalid value for HourOfDay (valid values 0 - 23): 24".into());
        }
        let time = NaiveTime::from_hms_nano_opt(hour as u32, m as u32, s as u32, n as u32)
            .ok_or_else(|| format!("Invalid time {hour}:{m}:{s}.{n}"))?;
        Ok(Some((time, false)))
    }

    /// The time as ksqlDB finds it: Java's resolved time, else 00:00 with each parsed field
    /// set in turn.
    fn time_with_defaults(&self) -> Result<ResolvedTime, String> {
        if let Some(resolved) = self.resolved_time()? {
            return Ok(resolved);
        }
        let mut hour = self.hour_of_day()?.unwrap_or_else(|| {
            let half = self.get(Field::AmPm).unwrap_or(0) * 12;
            let k = self
                .get(Field::HourOfAmPm)
                .or(self.get(Field::ClockHourOfAmPm).map(|c| c % 12))
                .unwrap_or(0);
            half + k
        });
        if hour == 24 {
            hour = 0;
        }
        let time = NaiveTime::from_hms_nano_opt(
            hour as u32,
            self.get(Field::MinuteOfHour).unwrap_or(0) as u32,
            self.get(Field::SecondOfMinute).unwrap_or(0) as u32,
            self.get(Field::NanoOfSecond).unwrap_or(0) as u32,
        )
        .ok_or_else(|| "Invalid time".to_string())?;
        Ok((time, false))
    }

    /// The local date-time with ksqlDB's defaults.
    pub(crate) fn date_time_with_defaults(&self) -> Result<NaiveDateTime, String> {
        let date = self.date_with_defaults()?;
        let (time, next_day) = self.time_with_defaults()?;
        let date = if next_day {
            date.succ_opt().ok_or("date out of range")?
        } else {
            date
        };
        Ok(date.and_time(time))
    }
}

fn month_length(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).map_or(31, |d| d.day())
}

fn month_name_upper(month: u32) -> String {
    names::text_of(Field::Month, TextStyle::Full, i64::from(month))
        .unwrap_or_default()
        .to_uppercase()
}
