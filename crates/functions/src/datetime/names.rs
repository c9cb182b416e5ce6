//! Java's English text for date/time fields (month, day-of-week, AM/PM, era, quarter) in its
//! three widths, as `DateTimeFormatter` prints and parses them for `Locale.ROOT` / `en`.

use super::pattern::{Field, TextStyle};

const MONTHS_FULL: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_SHORT: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS_FULL: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const DAYS_SHORT: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const QUARTERS_FULL: [&str; 4] = ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"];
const QUARTERS_SHORT: [&str; 4] = ["Q1", "Q2", "Q3", "Q4"];

/// The texts of `field` in `style` with the value each stands for. Fields without text
/// (numbers only) have none.
pub(crate) fn texts(field: Field, style: TextStyle) -> Vec<(String, i64)> {
    let from = |names: &[&str], first: i64| -> Vec<(String, i64)> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), first + i as i64))
            .collect()
    };
    let narrow = |names: &[&str], first: i64| -> Vec<(String, i64)> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n[..1].to_string(), first + i as i64))
            .collect()
    };
    match (field, style) {
        (Field::Month, TextStyle::Full) => from(&MONTHS_FULL, 1),
        (Field::Month, TextStyle::Short) => from(&MONTHS_SHORT, 1),
        (Field::Month, TextStyle::Narrow) => narrow(&MONTHS_FULL, 1),
        (Field::DayOfWeek, TextStyle::Full) => from(&DAYS_FULL, 1),
        (Field::DayOfWeek, TextStyle::Short) => from(&DAYS_SHORT, 1),
        (Field::DayOfWeek, TextStyle::Narrow) => narrow(&DAYS_FULL, 1),
        (Field::AmPm, _) => from(&["AM", "PM"], 0),
        (Field::Era, TextStyle::Full) => from(&["Before Christ", "Anno Domini"], 0),
        (Field::Era, TextStyle::Short) => from(&["BC", "AD"], 0),
        (Field::Era, TextStyle::Narrow) => from(&["B", "A"], 0),
        (Field::Quarter, TextStyle::Full) => from(&QUARTERS_FULL, 1),
        (Field::Quarter, TextStyle::Short) => from(&QUARTERS_SHORT, 1),
        (Field::Quarter, TextStyle::Narrow) => from(&["1", "2", "3", "4"], 1),
        _ => Vec::new(),
    }
}

/// The text of `value` for `field` in `style`, if it has one.
pub(crate) fn text_of(field: Field, style: TextStyle, value: i64) -> Option<String> {
    texts(field, style)
        .into_iter()
        .find(|(_, v)| *v == value)
        .map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_by_style() {
        assert_eq!(
            text_of(Field::Month, TextStyle::Short, 1).as_deref(),
            Some("Jan")
        );
        assert_eq!(
            text_of(Field::Month, TextStyle::Full, 9).as_deref(),
            Some("September")
        );
        assert_eq!(
            text_of(Field::Month, TextStyle::Narrow, 6).as_deref(),
            Some("J")
        );
        assert_eq!(
            text_of(Field::DayOfWeek, TextStyle::Short, 7).as_deref(),
            Some("Sun")
        );
        assert_eq!(
            text_of(Field::AmPm, TextStyle::Short, 1).as_deref(),
            Some("PM")
        );
        assert_eq!(
            text_of(Field::Quarter, TextStyle::Full, 2).as_deref(),
            Some("2nd quarter")
        );
        assert_eq!(text_of(Field::HourOfDay, TextStyle::Short, 1), None);
    }
}
