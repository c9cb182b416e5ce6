//! Behaviour of [`JavaPattern`] as ksqlDB documents it: the expectations of ksqlDB's
//! timestamp-format, string-to-timestamp, timestamp-to-string, date and time tests, and Java's
//! `DateTimeFormatter` rules (widths, text, offsets, zones, defaults).

use chrono_tz::Tz;

use super::pattern::JavaPattern;
use super::zone::Zone;
use crate::FunctionError;

fn p(pattern: &str) -> JavaPattern {
    JavaPattern::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
}

fn ts(pattern: &str, text: &str) -> i64 {
    p(pattern)
        .parse_timestamp_millis(text, None)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn ts_err(pattern: &str, text: &str) -> String {
    match p(pattern).parse_timestamp_millis(text, None) {
        Err(e @ FunctionError::Parse { .. }) => e.to_string(),
        other => panic!("{text} with {pattern}: expected a parse error, got {other:?}"),
    }
}

const ISO_X: &str = "yyyy-MM-dd'T'HH:mm:ssX";

#[test]
fn iso_timestamps_with_zulu_offsets() {
    assert_eq!(ts(ISO_X, "2018-05-11T21:58:33Z"), 1_526_075_913_000);
    assert_eq!(ts(ISO_X, "2019-05-11T21:58:33Z"), 1_557_611_913_000);
    assert_eq!(ts(ISO_X, "2020-05-11T21:58:33Z"), 1_589_234_313_000);
    // Parsing is case-insensitive: a lower-case zulu is accepted.
    assert_eq!(ts(ISO_X, "2020-05-11T21:58:33z"), 1_589_234_313_000);
}

#[test]
fn single_digit_fraction_and_numeric_offset() {
    assert_eq!(
        ts("yyyy-MM-dd'T'HH:mm:ss.SX", "2019-08-27T13:31:09.2+0000"),
        1_566_912_669_200
    );
    // The fraction has exactly as many digits as letters.
    ts_err("yyyy-MM-dd'T'HH:mm:ss.SSSX", "2019-08-27T13:31:09.2+0000");
    assert_eq!(
        ts("yyyy-MM-dd'T'HH:mm:ss.SSSX", "2019-08-27T13:31:09.250+02"),
        1_566_912_669_250 - 2 * 3_600_000
    );
}

#[test]
fn offsets_in_the_text_win_over_the_given_zone() {
    let la = Tz::America__Los_Angeles;
    let pattern = p(ISO_X);
    assert_eq!(
        pattern
            .parse_timestamp_millis("2018-05-11T21:58:33Z", Some(&la))
            .ok(),
        Some(1_526_075_913_000)
    );
    assert_eq!(
        pattern
            .parse_timestamp_millis("2018-05-11T21:58:33+0530", None)
            .ok(),
        Some(1_526_075_913_000 - 5 * 3_600_000 - 30 * 60_000)
    );
    assert_eq!(
        pattern
            .parse_timestamp_millis("2018-05-11T21:58:33-07", None)
            .ok(),
        Some(1_526_075_913_000 + 7 * 3_600_000)
    );
}

#[test]
fn offset_zero_texts_are_tried_first_as_in_java() {
    assert_eq!(ts("HH:mmxx", "01:00+0000"), 3_600_000);
    assert_eq!(ts("HH:mmx", "01:00+00"), 3_600_000);
    assert_eq!(ts("HH:mmx", "01:00+0130"), 3_600_000 - 90 * 60_000);
    // Java reads the zero text "+00" and leaves "00" unparsed.
    ts_err("HH:mmx", "01:00+0000");
    // Minutes are required from four letters' worth of pattern on.
    ts_err("HH:mmXX", "01:00+01");
    assert_eq!(ts("HH:mmXXX", "01:00-01:30"), 3_600_000 + 90 * 60_000);
}

#[test]
fn no_zone_in_text_means_the_given_zone_or_utc() {
    let pattern = p("yyyy-MM-dd'T'HH:mm:ss");
    assert_eq!(
        pattern
            .parse_timestamp_millis("2018-05-11T21:58:33", None)
            .ok(),
        Some(1_526_075_913_000)
    );
    assert_eq!(
        pattern
            .parse_timestamp_millis("2018-05-11T21:58:33", Some(&Tz::America__Los_Angeles))
            .ok(),
        Some(1_526_075_913_000 + 7 * 3_600_000)
    );
    let plus_two = Zone::of("+02:00").unwrap();
    assert_eq!(
        pattern
            .parse_timestamp_millis_in("2018-05-11T21:58:33", &plus_two)
            .ok(),
        Some(1_526_075_913_000 - 2 * 3_600_000)
    );
}

#[test]
fn zone_names_in_the_text_follow_daylight_saving() {
    // "PST" names the Los Angeles zone, which is on daylight time in May.
    let pattern = "yyyy-MM-dd'T'HH:mm:ss zzz";
    assert_eq!(ts(pattern, "2018-05-11T21:58:33 PST"), 1_526_101_113_000);
    assert_eq!(ts(pattern, "2019-05-11T21:58:33 PST"), 1_557_637_113_000);
    assert_eq!(ts(pattern, "2020-05-11T21:58:33 PST"), 1_589_259_513_000);
    assert_eq!(
        ts(pattern, "2020-01-11T21:58:33 America/New_York"),
        ts("yyyy-MM-dd'T'HH:mm:ssX", "2020-01-11T21:58:33-05")
    );
    assert_eq!(
        ts("yyyy-MM-dd HH:mm VV", "2020-01-01 00:00 UTC"),
        1_577_836_800_000
    );
}

#[test]
fn missing_fields_default_to_the_epoch() {
    assert_eq!(ts("HH:mm", "01:30"), 90 * 60_000);
    assert_eq!(ts("yyyy", "2020"), 1_577_836_800_000);
    assert_eq!(ts("yyyy-MM", "2020-02"), 1_580_515_200_000);
    assert_eq!(ts("MM-dd", "02-01"), 31 * 86_400_000);
    assert_eq!(ts("dd HH", "02 01"), 86_400_000 + 3_600_000);
    // Day-of-year 366 needs a year to know it exists.
    let e = ts_err("D", "366");
    assert!(e.contains("Leap day cannot be parsed"), "{e}");
    assert_eq!(ts("yyyy D", "2020 366"), 1_609_372_800_000);
    // Without a year, February 30 does not exist in 1970.
    ts_err("MM-dd", "02-30");
}

#[test]
fn days_past_the_month_end_are_clamped_when_the_date_is_complete() {
    // Java's SMART resolver turns 2019-02-30 into 2019-02-28; day 32 is out of range.
    assert_eq!(
        ts("yyyy-MM-dd", "2019-02-30"),
        ts("yyyy-MM-dd", "2019-02-28")
    );
    let e = ts_err("yyyy-MM-dd", "2019-02-32");
    assert!(
        e.contains("Invalid value for DayOfMonth (valid values 1 - 31): 32"),
        "{e}"
    );
    let e = ts_err("yyyy-MM-dd", "2019-13-01");
    assert!(e.contains("Invalid value for MonthOfYear"), "{e}");
}

#[test]
fn bad_text_names_the_value_pattern_and_index() {
    let e = ts_err(ISO_X, "not a timestamp");
    assert_eq!(
        e,
        "Failed to parse 'not a timestamp' with pattern 'yyyy-MM-dd'T'HH:mm:ssX': could not be parsed at index 0"
    );
    let e = ts_err("yyyy-MM-dd", "2019-05-11 trailing");
    assert!(e.contains("unparsed text found at index 10"), "{e}");
    let e = ts_err(ISO_X, "2018-05-11T21:58:33");
    assert!(e.contains("index 19"), "{e}");
}

#[test]
fn widths_follow_letter_counts() {
    // Two letters need two digits; one letter takes any number.
    ts_err("yyyy-MM-dd", "2019-5-11");
    assert_eq!(ts("yyyy-M-d", "2019-5-1"), ts("yyyy-MM-dd", "2019-05-01"));
    assert_eq!(ts("yyyy-M-d", "2019-12-31"), ts("yyyy-MM-dd", "2019-12-31"));
    // Four-letter years take more digits only with a sign.
    ts_err("yyyy-MM-dd", "20190-05-11");
    // yy is a year in 2000..2099.
    assert_eq!(ts("yy-MM-dd", "19-05-11"), ts("yyyy-MM-dd", "2019-05-11"));
}

#[test]
fn adjacent_numbers_split_by_width() {
    assert_eq!(ts("yyyyMMdd", "20190511"), ts("yyyy-MM-dd", "2019-05-11"));
    assert_eq!(
        ts("yyyyMMddHHmmssSSS", "20190511215833123"),
        ts("yyyy-MM-dd HH:mm:ss.SSS", "2019-05-11 21:58:33.123")
    );
    ts_err("yyyyMMdd", "2019051");
}

#[test]
fn text_fields_in_each_width() {
    let expected = ts("yyyy-MM-dd", "2022-01-01");
    assert_eq!(ts("dd-MMM-yyyy", "01-Jan-2022"), expected);
    assert_eq!(ts("dd-MMM-yyyy", "01-JAN-2022"), expected);
    assert_eq!(ts("dd MMMM yyyy", "01 January 2022"), expected);
    ts_err("dd-MMM-yyyy", "01-January-2022");
    assert_eq!(ts("EEE, dd MMM yyyy", "Sat, 01 Jan 2022"), expected);
    assert_eq!(ts("EEEE dd MMM yyyy", "saturday 01 Jan 2022"), expected);
    // A day of week that contradicts the date is a conflict.
    let e = ts_err("EEE, dd MMM yyyy", "Mon, 01 Jan 2022");
    assert!(e.contains("Conflict found"), "{e}");
}

#[test]
fn twelve_hour_clocks() {
    let hms = |h: i64| h * 3_600_000;
    assert_eq!(ts("hh:mm a", "01:00 PM"), hms(13));
    assert_eq!(ts("hh:mm a", "12:00 AM"), 0);
    assert_eq!(ts("hh:mm a", "12:00 pm"), hms(12));
    assert_eq!(ts("K:mm a", "11:00 PM"), hms(23));
    // Without a marker, ksqlDB's parser takes the morning.
    assert_eq!(ts("hh:mm", "01:00"), hms(1));
    assert_eq!(ts("kk:mm", "24:00"), 0);
    ts_err("hh:mm a", "13:00 PM");
}

#[test]
fn optional_sections_may_be_absent() {
    let pattern = "yyyy-MM-dd['T'HH:mm[:ss]][X]";
    assert_eq!(ts(pattern, "2019-05-11"), ts("yyyy-MM-dd", "2019-05-11"));
    assert_eq!(
        ts(pattern, "2019-05-11T10:15"),
        ts("yyyy-MM-dd HH:mm", "2019-05-11 10:15")
    );
    assert_eq!(
        ts(pattern, "2019-05-11T10:15:30+01"),
        ts("yyyy-MM-dd HH:mm:ss", "2019-05-11 09:15:30")
    );
}

#[test]
fn twenty_four_hundred_is_the_next_midnight() {
    assert_eq!(
        ts("yyyy-MM-dd HH:mm", "2019-05-11 24:00"),
        ts("yyyy-MM-dd", "2019-05-12")
    );
    ts_err("yyyy-MM-dd HH:mm", "2019-05-11 24:01");
}

#[test]
fn daylight_gaps_and_overlaps_resolve_like_java() {
    let pattern = p("yyyy-MM-dd HH:mm");
    let la = Tz::America__Los_Angeles;
    // 02:30 does not exist on 2019-03-10 in Los Angeles: it becomes 03:30 PDT.
    assert_eq!(
        pattern
            .parse_timestamp_millis("2019-03-10 02:30", Some(&la))
            .ok(),
        pattern
            .parse_timestamp_millis("2019-03-10 10:30", None)
            .ok()
    );
    // 01:30 happens twice on 2019-11-03: the first (PDT) is taken.
    assert_eq!(
        pattern
            .parse_timestamp_millis("2019-11-03 01:30", Some(&la))
            .ok(),
        pattern
            .parse_timestamp_millis("2019-11-03 08:30", None)
            .ok()
    );
}

#[test]
fn format_timestamps_with_zone_names_and_offsets() {
    let la = Tz::America__Los_Angeles;
    let london = Tz::Europe__London;
    let utc = Tz::UTC;
    let zzz = p("yyyy-MM-dd HH:mm:ss zzz");
    assert_eq!(
        zzz.format_timestamp_millis(1_526_075_913_000, Some(&la))
            .unwrap(),
        "2018-05-11 14:58:33 PDT"
    );
    assert_eq!(
        zzz.format_timestamp_millis(1_526_075_913_000, Some(&london))
            .unwrap(),
        "2018-05-11 22:58:33 BST"
    );
    assert_eq!(
        p("yyyy-MM-dd HH:mm:ss")
            .format_timestamp_millis(1_526_075_913_000, None)
            .unwrap(),
        "2018-05-11 21:58:33"
    );
    let with_z = p("yyyy-MM-dd HH:mm:ss Z");
    assert_eq!(
        with_z
            .format_timestamp_millis(1_580_223_282_123, Some(&utc))
            .unwrap(),
        "2020-01-28 14:54:42 +0000"
    );
    assert_eq!(
        with_z
            .format_timestamp_millis(1_580_223_282_123, Some(&la))
            .unwrap(),
        "2020-01-28 06:54:42 -0800"
    );
    assert_eq!(
        p("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
            .format_timestamp_millis(1_580_223_282_123, None)
            .unwrap(),
        "2020-01-28T14:54:42.123Z"
    );
    let plus_two = Zone::of("+02:00").unwrap();
    assert_eq!(
        p("HH:mm xxx VV z")
            .format_timestamp_millis_in(0, &plus_two)
            .unwrap(),
        "02:00 +02:00 +02:00 +02:00"
    );
    assert_eq!(
        p("EEEE, MMMM d, yyyy h:mm a zzzz")
            .format_timestamp_millis(1_526_075_913_000, Some(&la))
            .unwrap(),
        "Friday, May 11, 2018 2:58 PM Pacific Daylight Time"
    );
    assert_eq!(
        p("G yyy QQQ qq D e")
            .format_timestamp_millis(0, None)
            .unwrap(),
        "AD 1970 Q1 01 1 5"
    );
}

#[test]
fn format_dates() {
    let f = |pattern: &str, days: i32| p(pattern).format_date_days(days).unwrap();
    assert_eq!(f("yyyy-MM-dd", 17662), "2018-05-11");
    assert_eq!(f("dd/MM/yyyy", 18027), "11/05/2019");
    assert_eq!(f("dd-MMM-yyyy", 18993), "01-Jan-2022");
    assert_eq!(f("dd-MM-yyyy", 0), "01-01-1970");
    assert_eq!(f("dd-MM-yyyy'Sophia'", -1), "31-12-1969Sophia");
    // A date has no time and no zone.
    let e = p("yyyy-MM-dd HH")
        .format_date_days(0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("Unsupported field: HourOfDay"), "{e}");
    let e = p("yyyy z").format_date_days(0).unwrap_err().to_string();
    assert!(e.contains("Unable to extract ZoneId"), "{e}");
    // Optional sections skip what a date does not have.
    assert_eq!(f("yyyy-MM-dd[ HH:mm]", 0), "1970-01-01");
}

#[test]
fn format_times() {
    let f = |pattern: &str, ms: i32| p(pattern).format_time_millis(ms).unwrap();
    assert_eq!(f("HH_mm_ss_SSS", 65000), "00_01_05_000");
    assert_eq!(f("HHmmss'AAAAA'", 1_234_567), "002034AAAAA");
    assert_eq!(f("HH:mm:ss", 0), "00:00:00");
    assert_eq!(f("hh:mm a", 46_800_000), "01:00 PM");
    assert_eq!(f("h:mm a", 0), "12:00 AM");
    assert_eq!(f("k:mm", 0), "24:00");
    assert_eq!(f("A n N", 1_001), "1001 1000000 1001000000");
    let e = p("yyyy HH").format_time_millis(0).unwrap_err().to_string();
    assert!(e.contains("Unsupported field: YearOfEra"), "{e}");
}

#[test]
fn parse_times() {
    let t = |pattern: &str, text: &str| p(pattern).parse_time_millis(text).unwrap();
    assert_eq!(t("HH:mm:ss'Lit'", "00:01:05Lit"), 65000);
    assert_eq!(t("HH/mm/ss", "11/05/19"), 39_919_000);
    assert_eq!(t("hh:mm:ss a", "01:00:00 PM"), 46_800_000);
    assert_eq!(t("hh:mm:ss a", "01:00:00 Pm"), 46_800_000);
    assert_eq!(t("HH:mm:ss.SSS", "23:59:59.999"), 86_399_999);
    let e = p("yyyy HH")
        .parse_time_millis("2020 10")
        .unwrap_err()
        .to_string();
    assert!(e.contains("Time format contains date field."), "{e}");
    // A twelve-hour clock without AM/PM gives no time of day.
    assert!(p("hh:mm").parse_time_millis("01:00").is_err());
}

#[test]
fn parse_dates_like_parse_date() {
    let d = |pattern: &str, text: &str| {
        JavaPattern::new_simple_date_format(pattern)
            .unwrap()
            .parse_date_days(text)
            .ok()
    };
    assert_eq!(d("yyyy-MM-dd", "2003-12-24"), Some(12410));
    assert_eq!(d("yyyy-MM-dd", "2008-08-13"), Some(14104));
    assert_eq!(d("yyyy-MM-dd", "2004-01-01"), Some(12418));
    assert_eq!(d("yyyy-MM-dd", "2012-01-01"), Some(15340));
    assert_eq!(d("yyyy-MM-dd", "2022-02-02"), Some(19025));
    assert!(d("yyyy-MM-dd", "2004").is_none());
    assert!(d("yyyy-MM-dd", "abcd").is_none());
    // SimpleDateFormat rules: any width, trailing text ignored.
    assert_eq!(d("yyyy-MM-dd", "2003-1-5"), d("yyyy-MM-dd", "2003-01-05"));
    assert_eq!(d("yyyy-MM-dd", "2003-12-24T10:00"), Some(12410));
    let e = JavaPattern::new_simple_date_format("yyyy-MM-dd HH")
        .unwrap()
        .parse_date_days("2003-12-24 10")
        .unwrap_err()
        .to_string();
    assert!(e.contains("Date format contains time field."), "{e}");
    assert_eq!(d("yyyy-MM-dd HH", "2003-12-24 00"), Some(12410));
}

#[test]
fn parse_local_dates_like_stringtodate() {
    let d = |pattern: &str, text: &str| p(pattern).parse_local_date_days(text).ok();
    assert_eq!(d("yyyyMMdd", "20180511"), Some(17662));
    assert_eq!(d("yyyy-DDD", "2018-131"), Some(17662));
    assert!(d("yyyyMMdd", "foo").is_none());
    // A partial date is not a date.
    assert!(d("yyyy-MM", "2018-05").is_none());
}

#[test]
fn round_trips() {
    for pattern in [
        "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
        "EEE, d MMM yyyy HH:mm:ss Z",
        "yyyyMMddHHmmssSSS",
        "dd/MM/yyyy hh:mm:ss.SSS a O",
        "uuuu-DDD'T'HH:mm:ss.nnnnnnnnn VV",
        "yyyy-MM-dd HH:mm:ss.SSS zzzz",
    ] {
        let compiled = p(pattern);
        let has_fraction = pattern.contains('S') || pattern.contains('n');
        for ms in [0_i64, 1_526_075_913_123, 1_589_234_313_999, 951_782_400_000] {
            for tz in [Tz::UTC, Tz::America__Los_Angeles, Tz::Asia__Kolkata] {
                let text = compiled.format_timestamp_millis(ms, Some(&tz)).unwrap();
                assert_eq!(
                    compiled.parse_timestamp_millis(&text, Some(&tz)).ok(),
                    Some(if has_fraction { ms } else { ms - ms % 1000 }),
                    "{pattern}: {text}"
                );
            }
        }
    }
}
