//! Java `DateTimeFormatter` patterns, compiled once into a list of printer-parser items the way
//! `DateTimeFormatterBuilder.appendPattern` builds them (field widths and sign styles by letter
//! count, adjacent value parsing for runs like `yyyyMMdd`, optional sections), and the
//! [`JavaPattern`] API that parses and formats ksqlDB's timestamps, dates and times with them.
//!
//! Parsing is case-insensitive, as ksqlDB's parsers use `parseCaseInsensitive`; text is English
//! (`Locale.ROOT` / `en`). Supported letters: `G u y D M L d Q q E e c a h K k H m s S A n N V z O
//! X x Z`, quoted literals (`'T'`, `''`), optional sections `[...]`. Week-based fields (`Y w W`),
//! `F g B v` and padding (`p`) are valid Java but not supported: compiling them fails with
//! [`FunctionError::InvalidPattern`].

use chrono::{NaiveDate, NaiveTime, Timelike};
use chrono_tz::Tz;

use super::format::{format_items, Moment};
use super::parse::{parse_items, Parsed};
use super::zone::Zone;
use crate::FunctionError;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A date/time field a pattern letter reads or prints (Java's `ChronoField`s, plus quarter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    Era,
    YearOfEra,
    Year,
    Quarter,
    Month,
    DayOfYear,
    DayOfMonth,
    DayOfWeek,
    AmPm,
    HourOfAmPm,
    ClockHourOfAmPm,
    HourOfDay,
    ClockHourOfDay,
    MinuteOfHour,
    SecondOfMinute,
    NanoOfSecond,
    MilliOfDay,
    NanoOfDay,
}

impl Field {
    /// How many fields there are (for per-field arrays).
    pub(crate) const COUNT: usize = 18;

    /// Every field.
    pub(crate) const ALL: [Field; Field::COUNT] = [
        Field::Era,
        Field::YearOfEra,
        Field::Year,
        Field::Quarter,
        Field::Month,
        Field::DayOfYear,
        Field::DayOfMonth,
        Field::DayOfWeek,
        Field::AmPm,
        Field::HourOfAmPm,
        Field::ClockHourOfAmPm,
        Field::HourOfDay,
        Field::ClockHourOfDay,
        Field::MinuteOfHour,
        Field::SecondOfMinute,
        Field::NanoOfSecond,
        Field::MilliOfDay,
        Field::NanoOfDay,
    ];

    /// The field's name in Java's messages.
    pub(crate) fn java_name(self) -> &'static str {
        match self {
            Field::Era => "Era",
            Field::YearOfEra => "YearOfEra",
            Field::Year => "Year",
            Field::Quarter => "QuarterOfYear",
            Field::Month => "MonthOfYear",
            Field::DayOfYear => "DayOfYear",
            Field::DayOfMonth => "DayOfMonth",
            Field::DayOfWeek => "DayOfWeek",
            Field::AmPm => "AmPmOfDay",
            Field::HourOfAmPm => "HourOfAmPm",
            Field::ClockHourOfAmPm => "ClockHourOfAmPm",
            Field::HourOfDay => "HourOfDay",
            Field::ClockHourOfDay => "ClockHourOfDay",
            Field::MinuteOfHour => "MinuteOfHour",
            Field::SecondOfMinute => "SecondOfMinute",
            Field::NanoOfSecond => "NanoOfSecond",
            Field::MilliOfDay => "MilliOfDay",
            Field::NanoOfDay => "NanoOfDay",
        }
    }

    /// Whether the field belongs to the date (Java's `isDateBased`).
    pub(crate) fn is_date(self) -> bool {
        matches!(
            self,
            Field::Era
                | Field::YearOfEra
                | Field::Year
                | Field::Quarter
                | Field::Month
                | Field::DayOfYear
                | Field::DayOfMonth
                | Field::DayOfWeek
        )
    }
}

/// Width of a text field: `MMM` (short), `MMMM` (full), `MMMMM` (narrow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextStyle {
    Short,
    Full,
    Narrow,
}

/// Java's `SignStyle` for numbers, as patterns use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignStyle {
    /// `-` for negative values only.
    Normal,
    /// No sign; negative values cannot be printed.
    NotNegative,
    /// `+` when the value is wider than the minimum width (`yyyy` for year 10000).
    ExceedsPad,
}

/// How a number's digits map to its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumKind {
    /// The digits are the value.
    Plain,
    /// Two digits of a year within 2000..2099 (`yy`).
    Reduced,
    /// The leading digits of a fraction of a second (`S`..`SSSSSSSSS`) into nanos.
    Fraction,
    /// Day of week counted from Sunday = 1 (`e`, `c`, as the `en` locale counts).
    LocalDayOfWeek,
}

/// A number's part in adjacent value parsing (`yyyyMMdd`): a variable-width value followed
/// directly by fixed-width values leaves them their digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Adjacency {
    /// Not followed by fixed-width values.
    Alone,
    /// Followed by fixed-width values that need this many digits.
    Base(usize),
    /// A fixed-width value following a base.
    Subsequent,
}

/// A number printer-parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NumberSpec {
    pub field: Field,
    pub kind: NumKind,
    pub min: usize,
    pub max: usize,
    pub sign: SignStyle,
    pub adjacency: Adjacency,
}

/// One printer-parser of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Literal(String),
    Number(NumberSpec),
    Text {
        field: Field,
        style: TextStyle,
    },
    /// An ISO offset in one of Java's `OffsetIdPrinterParser` patterns, by index: 0 `+HH`,
    /// 1 `+HHmm`, 2 `+HH:mm`, 3 `+HHMM`, 4 `+HH:MM`, 5 `+HHMMss`, 6 `+HH:MM:ss`; `zero` is the
    /// text for a zero offset.
    Offset {
        kind: u8,
        zero: &'static str,
    },
    /// `O` (`GMT+8`) or `OOOO` (`GMT+08:00`).
    LocalizedOffset {
        full: bool,
    },
    /// `VV`: a zone id.
    ZoneId,
    /// `z`..`zzz` (short) or `zzzz` (full) zone names.
    ZoneText {
        full: bool,
    },
    Optional(Vec<Item>),
}

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

/// One nesting level of the builder (the pattern, or an optional section).
#[derive(Default)]
struct Level {
    items: Vec<Item>,
    /// The index of the item adjacent values attach to (Java's `valueParserIndex`).
    value_index: Option<usize>,
}

impl Level {
    fn append(&mut self, item: Item) {
        self.items.push(item);
        self.value_index = None;
    }

    /// Java's `appendValue(NumberPrinterParser)`: fixed-width non-negative values following
    /// a value attach to it for adjacent parsing.
    fn append_value(&mut self, mut spec: NumberSpec) {
        if let Some(base_index) = self.value_index {
            let Item::Number(base) = &mut self.items[base_index] else {
                unreachable!("value_index points at a number");
            };
            if spec.min == spec.max && spec.sign == SignStyle::NotNegative {
                base.adjacency = match base.adjacency {
                    Adjacency::Base(w) => Adjacency::Base(w + spec.max),
                    _ => Adjacency::Base(spec.max),
                };
                spec.adjacency = Adjacency::Subsequent;
                self.items.push(Item::Number(spec));
            } else {
                base.adjacency = Adjacency::Alone;
                self.items.push(Item::Number(spec));
                self.value_index = Some(self.items.len() - 1);
            }
        } else {
            self.items.push(Item::Number(spec));
            self.value_index = Some(self.items.len() - 1);
        }
    }
}

fn invalid(pattern: &str, reason: impl Into<String>) -> FunctionError {
    FunctionError::InvalidPattern {
        pattern: pattern.to_string(),
        reason: reason.into(),
    }
}

fn number(field: Field, min: usize, max: usize, sign: SignStyle) -> NumberSpec {
    NumberSpec {
        field,
        kind: NumKind::Plain,
        min,
        max,
        sign,
        adjacency: Adjacency::Alone,
    }
}

/// Compiles `pattern` as `DateTimeFormatterBuilder.appendPattern` does.
fn compile(pattern: &str) -> Result<Vec<Item>, FunctionError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut stack: Vec<Level> = vec![Level::default()];
    let mut pos = 0;
    while pos < chars.len() {
        let cur = chars[pos];
        let level = stack.last_mut().expect("stack never empty");
        if cur.is_ascii_alphabetic() {
            let start = pos;
            while pos < chars.len() && chars[pos] == cur {
                pos += 1;
            }
            let count = pos - start;
            append_letter(pattern, level, cur, count)?;
            continue;
        }
        match cur {
            '\'' => {
                let start = pos;
                pos += 1;
                let mut literal = String::new();
                loop {
                    if pos >= chars.len() {
                        return Err(invalid(
                            pattern,
                            format!("Pattern ends with an incomplete string literal: {pattern}"),
                        ));
                    }
                    if chars[pos] == '\'' {
                        if pos + 1 < chars.len() && chars[pos + 1] == '\'' {
                            literal.push('\'');
                            pos += 2;
                            continue;
                        }
                        break;
                    }
                    literal.push(chars[pos]);
                    pos += 1;
                }
                if pos == start + 1 {
                    literal.push('\'');
                }
                pos += 1;
                level.append(Item::Literal(literal));
            }
            '[' => {
                stack.push(Level::default());
                pos += 1;
            }
            ']' => {
                if stack.len() == 1 {
                    return Err(invalid(
                        pattern,
                        "Pattern invalid as it contains ] without previous [",
                    ));
                }
                let section = stack.pop().expect("nested level");
                stack
                    .last_mut()
                    .expect("outer level")
                    .append(Item::Optional(section.items));
                pos += 1;
            }
            '{' | '}' | '#' => {
                return Err(invalid(
                    pattern,
                    format!("Pattern includes reserved character: '{cur}'"),
                ));
            }
            _ => {
                level.append(Item::Literal(cur.to_string()));
                pos += 1;
            }
        }
    }
    while stack.len() > 1 {
        let section = stack.pop().expect("nested level");
        stack
            .last_mut()
            .expect("outer level")
            .append(Item::Optional(section.items));
    }
    Ok(stack.pop().expect("outer level").items)
}

fn text_style(count: usize) -> TextStyle {
    match count {
        4 => TextStyle::Full,
        5 => TextStyle::Narrow,
        _ => TextStyle::Short,
    }
}

/// Appends the printer-parser for `count` repetitions of the pattern letter `cur`.
fn append_letter(
    pattern: &str,
    level: &mut Level,
    cur: char,
    count: usize,
) -> Result<(), FunctionError> {
    let too_many = || invalid(pattern, format!("Too many pattern letters: {cur}"));
    match cur {
        'G' => {
            if count > 5 {
                return Err(too_many());
            }
            level.append(Item::Text {
                field: Field::Era,
                style: text_style(count),
            });
        }
        'y' | 'u' => {
            let field = if cur == 'y' {
                Field::YearOfEra
            } else {
                Field::Year
            };
            let spec = match count {
                2 => NumberSpec {
                    kind: NumKind::Reduced,
                    ..number(field, 2, 2, SignStyle::NotNegative)
                },
                1 => number(field, 1, 19, SignStyle::Normal),
                3 => number(field, 3, 19, SignStyle::Normal),
                n => number(field, n, 19, SignStyle::ExceedsPad),
            };
            if spec.min > 19 {
                return Err(too_many());
            }
            level.append_value(spec);
        }
        'M' | 'L' | 'Q' | 'q' => {
            let field = if matches!(cur, 'M' | 'L') {
                Field::Month
            } else {
                Field::Quarter
            };
            match count {
                1 => level.append_value(number(field, 1, 19, SignStyle::Normal)),
                2 => level.append_value(number(field, 2, 2, SignStyle::NotNegative)),
                3..=5 => level.append(Item::Text {
                    field,
                    style: text_style(count),
                }),
                _ => return Err(too_many()),
            }
        }
        'E' => {
            if count > 5 {
                return Err(too_many());
            }
            level.append(Item::Text {
                field: Field::DayOfWeek,
                style: text_style(count),
            });
        }
        'e' | 'c' => match count {
            1 | 2 => {
                if cur == 'c' && count == 2 {
                    return Err(invalid(pattern, "Invalid pattern \"cc\""));
                }
                level.append(Item::Number(NumberSpec {
                    kind: NumKind::LocalDayOfWeek,
                    ..number(Field::DayOfWeek, count, count, SignStyle::NotNegative)
                }));
            }
            3..=5 => level.append(Item::Text {
                field: Field::DayOfWeek,
                style: text_style(count),
            }),
            _ => return Err(too_many()),
        },
        'a' => {
            if count > 1 {
                return Err(too_many());
            }
            level.append(Item::Text {
                field: Field::AmPm,
                style: TextStyle::Short,
            });
        }
        'd' | 'h' | 'H' | 'k' | 'K' | 'm' | 's' => {
            let field = match cur {
                'd' => Field::DayOfMonth,
                'h' => Field::ClockHourOfAmPm,
                'H' => Field::HourOfDay,
                'k' => Field::ClockHourOfDay,
                'K' => Field::HourOfAmPm,
                'm' => Field::MinuteOfHour,
                _ => Field::SecondOfMinute,
            };
            match count {
                1 => level.append_value(number(field, 1, 19, SignStyle::Normal)),
                2 => level.append_value(number(field, 2, 2, SignStyle::NotNegative)),
                _ => return Err(too_many()),
            }
        }
        'D' => match count {
            1 => level.append_value(number(Field::DayOfYear, 1, 19, SignStyle::Normal)),
            2 | 3 => level.append_value(number(Field::DayOfYear, count, 3, SignStyle::NotNegative)),
            _ => return Err(too_many()),
        },
        'S' => {
            if count > 9 {
                return Err(invalid(
                    pattern,
                    format!("Maximum width must be from 1 to 9 inclusive but was {count}"),
                ));
            }
            level.append_value(NumberSpec {
                kind: NumKind::Fraction,
                ..number(Field::NanoOfSecond, count, count, SignStyle::NotNegative)
            });
        }
        'n' | 'N' | 'A' => {
            let field = match cur {
                'n' => Field::NanoOfSecond,
                'N' => Field::NanoOfDay,
                _ => Field::MilliOfDay,
            };
            if count > 19 {
                return Err(too_many());
            }
            if count == 1 {
                level.append_value(number(field, 1, 19, SignStyle::Normal));
            } else {
                level.append_value(number(field, count, count, SignStyle::NotNegative));
            }
        }
        'V' => {
            if count != 2 {
                return Err(invalid(pattern, "Pattern letter count must be 2: V"));
            }
            level.append(Item::ZoneId);
        }
        'z' => {
            if count > 4 {
                return Err(too_many());
            }
            level.append(Item::ZoneText { full: count == 4 });
        }
        'O' => match count {
            1 | 4 => level.append(Item::LocalizedOffset { full: count == 4 }),
            _ => return Err(invalid(pattern, "Pattern letter count must be 1 or 4: O")),
        },
        'X' | 'x' => {
            if count > 5 {
                return Err(too_many());
            }
            let kind = if count == 1 { 1 } else { count as u8 + 1 };
            let zero = if cur == 'X' {
                "Z"
            } else if count == 1 {
                "+00"
            } else if count % 2 == 0 {
                "+0000"
            } else {
                "+00:00"
            };
            level.append(Item::Offset { kind, zero });
        }
        'Z' => match count {
            1..=3 => level.append(Item::Offset {
                kind: 3,
                zero: "+0000",
            }),
            4 => level.append(Item::LocalizedOffset { full: true }),
            5 => level.append(Item::Offset { kind: 6, zero: "Z" }),
            _ => return Err(too_many()),
        },
        'Y' | 'w' | 'W' | 'F' | 'g' | 'B' | 'v' | 'p' => {
            return Err(invalid(
                pattern,
                format!("Pattern letter '{cur}' is not supported by Sluice"),
            ));
        }
        _ => return Err(invalid(pattern, format!("Unknown pattern letter: {cur}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(p: &str) -> Vec<Item> {
        compile(p).unwrap()
    }

    #[test]
    fn letters_compile_by_count() {
        let it = items("yyyy-MM-dd'T'HH:mm:ss.SSSX");
        assert_eq!(it.len(), 14);
        assert_eq!(
            it[0],
            Item::Number(number(Field::YearOfEra, 4, 19, SignStyle::ExceedsPad))
        );
        assert_eq!(it[1], Item::Literal("-".into()));
        assert_eq!(it[5], Item::Literal("T".into()));
        assert_eq!(it[13], Item::Offset { kind: 1, zero: "Z" });
        assert_eq!(
            items("MMM")[0],
            Item::Text {
                field: Field::Month,
                style: TextStyle::Short
            }
        );
        assert_eq!(
            items("xxx")[0],
            Item::Offset {
                kind: 4,
                zero: "+00:00"
            }
        );
        assert_eq!(
            items("Z")[0],
            Item::Offset {
                kind: 3,
                zero: "+0000"
            }
        );
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(items("''")[0], Item::Literal("'".into()));
        assert_eq!(items("'it''s'")[0], Item::Literal("it's".into()));
        assert_eq!(items("HH'h'")[1], Item::Literal("h".into()));
    }

    #[test]
    fn adjacent_values_reserve_digits() {
        let it = items("yyyyMMddHHmmssSSS");
        let Item::Number(base) = &it[0] else { panic!() };
        assert_eq!(base.adjacency, Adjacency::Base(13));
        let Item::Number(ms) = &it[6] else { panic!() };
        assert_eq!(ms.adjacency, Adjacency::Subsequent);
        // A literal breaks the run.
        let it = items("yyyy-MMdd");
        let Item::Number(base) = &it[0] else { panic!() };
        assert_eq!(base.adjacency, Adjacency::Alone);
        let Item::Number(mm) = &it[2] else { panic!() };
        assert_eq!(mm.adjacency, Adjacency::Base(2));
    }

    #[test]
    fn optional_sections_nest() {
        let it = items("HH[:mm[:ss]]");
        assert_eq!(it.len(), 2);
        let Item::Optional(inner) = &it[1] else {
            panic!()
        };
        assert_eq!(inner.len(), 3);
        assert!(matches!(inner[2], Item::Optional(_)));
        // An unclosed section closes at the end, as in Java.
        assert_eq!(items("HH[:mm").len(), 2);
    }

    #[test]
    fn invalid_patterns_are_rejected_with_java_reasons() {
        let reason = |p: &str| match JavaPattern::new(p) {
            Err(FunctionError::InvalidPattern { reason, .. }) => reason,
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(reason("yyyy-MM-ddTHH"), "Unknown pattern letter: T");
        assert_eq!(reason("HHH"), "Too many pattern letters: H");
        assert_eq!(reason("aa"), "Too many pattern letters: a");
        assert!(reason("'abc").starts_with("Pattern ends with an incomplete string literal"));
        assert_eq!(
            reason("HH]"),
            "Pattern invalid as it contains ] without previous ["
        );
        assert_eq!(reason("#"), "Pattern includes reserved character: '#'");
        assert_eq!(reason("V"), "Pattern letter count must be 2: V");
        assert!(reason("YYYY").contains("not supported"));
    }
}
