//! Java's English text for date/time fields (month, day-of-week, AM/PM, era, quarter) in its
//! three widths, as `DateTimeFormatter` prints and parses them for `Locale.ROOT` / `en`.

use super::compile::{Field, TextStyle};

type Texts = &'static [(&'static str, i64)];

#[rustfmt::skip]
const MONTHS_FULL: Texts = &[
    ("January", 1), ("February", 2), ("March", 3), ("April", 4), ("May", 5), ("June", 6),
    ("July", 7), ("August", 8), ("September", 9), ("October", 10), ("November", 11),
    ("December", 12),
];
#[rustfmt::skip]
const MONTHS_SHORT: Texts = &[
    ("Jan", 1), ("Feb", 2), ("Mar", 3), ("Apr", 4), ("May", 5), ("Jun", 6), ("Jul", 7),
    ("Aug", 8), ("Sep", 9), ("Oct", 10), ("Nov", 11), ("Dec", 12),
];
#[rustfmt::skip]
const MONTHS_NARROW: Texts = &[
    ("J", 1), ("F", 2), ("M", 3), ("A", 4), ("M", 5), ("J", 6), ("J", 7), ("A", 8), ("S", 9),
    ("O", 10), ("N", 11), ("D", 12),
];
#[rustfmt::skip]
const DAYS_FULL: Texts = &[
    ("Monday", 1), ("Tuesday", 2), ("Wednesday", 3), ("Thursday", 4), ("Friday", 5),
    ("Saturday", 6), ("Sunday", 7),
];
#[rustfmt::skip]
const DAYS_SHORT: Texts = &[
    ("Mon", 1), ("Tue", 2), ("Wed", 3), ("Thu", 4), ("Fri", 5), ("Sat", 6), ("Sun", 7),
];
#[rustfmt::skip]
const DAYS_NARROW: Texts = &[
    ("M", 1), ("T", 2), ("W", 3), ("T", 4), ("F", 5), ("S", 6), ("S", 7),
];
const AM_PM: Texts = &[("AM", 0), ("PM", 1)];
const ERAS_FULL: Texts = &[("Before Christ", 0), ("Anno Domini", 1)];
const ERAS_SHORT: Texts = &[("BC", 0), ("AD", 1)];
const ERAS_NARROW: Texts = &[("B", 0), ("A", 1)];
const QUARTERS_FULL: Texts = &[
    ("1st quarter", 1),
    ("2nd quarter", 2),
    ("3rd quarter", 3),
    ("4th quarter", 4),
];
const QUARTERS_SHORT: Texts = &[("Q1", 1), ("Q2", 2), ("Q3", 3), ("Q4", 4)];
const QUARTERS_NARROW: Texts = &[("1", 1), ("2", 2), ("3", 3), ("4", 4)];

/// The texts of `field` in `style` with the value each stands for. Fields without text
/// (numbers only) have none.
pub(crate) fn texts(field: Field, style: TextStyle) -> Texts {
    match (field, style) {
        (Field::Month, TextStyle::Full) => MONTHS_FULL,
        (Field::Month, TextStyle::Short) => MONTHS_SHORT,
        (Field::Month, TextStyle::Narrow) => MONTHS_NARROW,
        (Field::DayOfWeek, TextStyle::Full) => DAYS_FULL,
        (Field::DayOfWeek, TextStyle::Short) => DAYS_SHORT,
        (Field::DayOfWeek, TextStyle::Narrow) => DAYS_NARROW,
        (Field::AmPm, _) => AM_PM,
        (Field::Era, TextStyle::Full) => ERAS_FULL,
        (Field::Era, TextStyle::Short) => ERAS_SHORT,
        (Field::Era, TextStyle::Narrow) => ERAS_NARROW,
        (Field::Quarter, TextStyle::Full) => QUARTERS_FULL,
        (Field::Quarter, TextStyle::Short) => QUARTERS_SHORT,
        (Field::Quarter, TextStyle::Narrow) => QUARTERS_NARROW,
        _ => &[],
    }
}

/// The text of `value` for `field` in `style`, if it has one.
pub(crate) fn text_of(field: Field, style: TextStyle, value: i64) -> Option<&'static str> {
    texts(field, style)
        .iter()
        .find(|(_, v)| *v == value)
        .map(|(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_by_style() {
        assert_eq!(text_of(Field::Month, TextStyle::Short, 1), Some("Jan"));
        assert_eq!(text_of(Field::Month, TextStyle::Full, 9), Some("September"));
        assert_eq!(text_of(Field::Month, TextStyle::Narrow, 6), Some("J"));
        assert_eq!(text_of(Field::DayOfWeek, TextStyle::Short, 7), Some("Sun"));
        assert_eq!(text_of(Field::AmPm, TextStyle::Short, 1), Some("PM"));
        assert_eq!(
            text_of(Field::Quarter, TextStyle::Full, 2),
            Some("2nd quarter")
        );
        assert_eq!(text_of(Field::HourOfDay, TextStyle::Short, 1), None);
    }
}
