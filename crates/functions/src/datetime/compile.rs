//! Compiling Java `DateTimeFormatter` patterns into printer-parser items the way
//! `DateTimeFormatterBuilder.appendPattern` builds them: field widths and sign styles by letter
//! count, adjacent value parsing for runs like `yyyyMMdd`, quoted literals, optional sections.

use crate::FunctionError;

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
pub(crate) fn compile(pattern: &str) -> Result<Vec<Item>, FunctionError> {
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
            } else if count.is_multiple_of(2) {
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
        let reason = |p: &str| match compile(p) {
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
