//! Time zones as Java's `ZoneId` knows them: fixed offsets (`Z`, `+02:00`, `UTC+2`) and tz
//! database regions (`America/Los_Angeles`), with Java's rules for reading a zone id
//! (`ZoneId.of`), for converting local date-times to instants (gaps shift forward, overlaps take
//! the earlier offset), and for zone names (`PST`, `Pacific Standard Time`).
//!
//! Not for: patterns (see `pattern`); the names table covers the common zones only.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use super::zone_names::{lookup, zone_names};
use crate::FunctionError;

/// A zone: what a ksqlDB time-zone argument or a zone in parsed text denotes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Zone {
    /// A zone with one offset for all time, e.g. `Z`, `+02:00`, `UTC+02:00`; `id` is the name
    /// Java prints for it (`ZoneId#getId`).
    Fixed { offset_secs: i32, id: String },
    /// A tz database region.
    Region(Tz),
}

impl Zone {
    /// UTC, the zone ksqlDB uses when none is given (Sluice's system zone is UTC).
    pub fn utc() -> Zone {
        Zone::Region(Tz::UTC)
    }

    /// Reads a zone id as Java's `ZoneId.of` does: `Z`, `+h`, `+hh`, `+hh:mm`, `+hhmm`,
    /// `+hh:mm:ss`, `+hhmmss` (and `-`), `UTC`/`GMT`/`UT` optionally followed by such an
    /// offset, or a tz database region name (case-sensitive, as in Java).
    pub fn of(id: &str) -> Result<Zone, FunctionError> {
        let invalid = || FunctionError::InvalidTimeZone(id.to_string());
        if id == "Z" {
            return Ok(Zone::Fixed {
                offset_secs: 0,
                id: "Z".into(),
            });
        }
        if id.starts_with('+') || id.starts_with('-') {
            let secs = parse_zone_offset_id(id).ok_or_else(invalid)?;
            return Ok(Zone::Fixed {
                offset_secs: secs,
                id: offset_id(secs),
            });
        }
        for prefix in ["UTC", "GMT", "UT"] {
            if let Some(rest) = id.strip_prefix(prefix) {
                if rest.is_empty() {
                    return Ok(match prefix {
                        "UTC" => Zone::Region(Tz::UTC),
                        "GMT" => Zone::Region(Tz::GMT),
                        _ => Zone::Fixed {
                            offset_secs: 0,
                            id: "UT".into(),
                        },
                    });
                }
                if rest.starts_with('+') || rest.starts_with('-') {
                    let secs = parse_zone_offset_id(rest).ok_or_else(invalid)?;
                    return Ok(prefixed_offset(prefix, secs));
                }
            }
        }
        Tz::from_str(id).map(Zone::Region).map_err(|_| invalid())
    }

    /// The offset from UTC, in seconds, at the instant `utc_ms`.
    pub fn offset_at(&self, utc_ms: i64) -> i32 {
        match self {
            Zone::Fixed { offset_secs, .. } => *offset_secs,
            Zone::Region(tz) => match DateTime::from_timestamp_millis(utc_ms) {
                Some(dt) => tz
                    .offset_from_utc_datetime(&dt.naive_utc())
                    .fix()
                    .local_minus_utc(),
                None => 0,
            },
        }
    }

    /// The offset that applies to the local date-time `local` in this zone, as Java's
    /// `ZonedDateTime.of` chooses it: the only valid offset; in an overlap the earlier offset;
    /// in a gap the offset before the gap (so the local time moves forward by the gap).
    pub fn offset_for_local(&self, local: &NaiveDateTime) -> i32 {
        match self {
            Zone::Fixed { offset_secs, .. } => *offset_secs,
            Zone::Region(tz) => match tz.offset_from_local_datetime(local) {
                chrono::LocalResult::Single(o) => o.fix().local_minus_utc(),
                chrono::LocalResult::Ambiguous(a, b) => {
                    a.fix().local_minus_utc().max(b.fix().local_minus_utc())
                }
                chrono::LocalResult::None => {
                    let before = *local - chrono::Duration::days(1);
                    tz.offset_from_utc_datetime(&before).fix().local_minus_utc()
                }
            },
        }
    }

    /// The zone's id as Java prints it (`VV`).
    pub fn id(&self) -> String {
        match self {
            Zone::Fixed { id, .. } => id.clone(),
            Zone::Region(tz) => tz.name().to_string(),
        }
    }

    /// The zone's name at the instant `utc_ms`, short (`PDT`) or full (`Pacific Daylight
    /// Time`), as Java's `z`/`zzzz` print it; fixed zones print their id.
    pub fn display_name(&self, utc_ms: i64, full: bool) -> String {
        let tz = match self {
            Zone::Fixed { id, .. } => return id.clone(),
            Zone::Region(tz) => tz,
        };
        let Some(dt) = DateTime::from_timestamp_millis(utc_ms) else {
            return tz.name().to_string();
        };
        let offset = tz.offset_from_utc_datetime(&dt.naive_utc());
        let total = offset.fix().local_minus_utc();
        let abbr = offset.abbreviation().unwrap_or("");
        let alphabetic = !abbr.is_empty() && abbr.chars().all(|c| c.is_ascii_alphabetic());
        if !alphabetic {
            return gmt_offset(total, true);
        }
        if !full {
            return abbr.to_string();
        }
        let daylight = !offset.dst_offset().is_zero();
        zone_names()
            .iter()
            .find(|n| {
                n.abbr == abbr && n.daylight == daylight && tz.name().starts_with(n.region_prefix)
            })
            .map(|n| n.full.to_string())
            .unwrap_or_else(|| gmt_offset(total, true))
    }
}

/// `ZoneId.ofOffset(prefix, offset)`: a zero offset gives the bare prefix zone.
fn prefixed_offset(prefix: &str, secs: i32) -> Zone {
    if secs == 0 {
        return match prefix {
            "UTC" => Zone::Region(Tz::UTC),
            "GMT" => Zone::Region(Tz::GMT),
            _ => Zone::Fixed {
                offset_secs: 0,
                id: prefix.to_string(),
            },
        };
    }
    Zone::Fixed {
        offset_secs: secs,
        id: format!("{prefix}{}", offset_id(secs)),
    }
}

/// Java's `ZoneOffset#getId`: `Z`, `+hh:mm` or `+hh:mm:ss`.
pub fn offset_id(secs: i32) -> String {
    if secs == 0 {
        return "Z".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    if s == 0 {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    }
}

/// Java's localized offset (`O` / `OOOO`): `GMT`, `GMT+8`, `GMT+5:30` (short) or
/// `GMT+08:00` (full).
pub fn gmt_offset(secs: i32, full: bool) -> String {
    if secs == 0 {
        return "GMT".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    let mut out = if full {
        format!("GMT{sign}{h:02}:{m:02}")
    } else if m != 0 || s != 0 {
        format!("GMT{sign}{h}:{m:02}")
    } else {
        format!("GMT{sign}{h}")
    };
    if s != 0 {
        out.push_str(&format!(":{s:02}"));
    }
    out
}

/// Parses the offset part of `ZoneOffset.of`: `+h`, `+hh`, `+hh:mm`, `+hhmm`, `+hh:mm:ss`,
/// `+hhmmss`; at most ±18:00.
fn parse_zone_offset_id(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits = |t: &str| t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit());
    let num = |t: &str| t.parse::<i32>().ok();
    let (h, m, sec) = match rest.len() {
        1 if rest.as_bytes()[0].is_ascii_digit() => (num(rest)?, 0, 0),
        2 if digits(rest) => (num(rest)?, 0, 0),
        4 if rest.bytes().all(|b| b.is_ascii_digit()) => (num(&rest[..2])?, num(&rest[2..])?, 0),
        5 if &rest[2..3] == ":" && digits(&rest[..2]) && digits(&rest[3..]) => {
            (num(&rest[..2])?, num(&rest[3..])?, 0)
        }
        6 if rest.bytes().all(|b| b.is_ascii_digit()) => {
            (num(&rest[..2])?, num(&rest[2..4])?, num(&rest[4..])?)
        }
        8 if &rest[2..3] == ":"
            && &rest[5..6] == ":"
            && digits(&rest[..2])
            && digits(&rest[3..5])
            && digits(&rest[6..]) =>
        {
            (num(&rest[..2])?, num(&rest[3..5])?, num(&rest[6..])?)
        }
        _ => return None,
    };
    if h > 18 || m > 59 || sec > 59 || (h == 18 && (m != 0 || sec != 0)) {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + sec))
}

/// Parses a zone at `pos` in `text` as Java's zone-id (`VV`, `with_names = false`) or zone-text
/// (`z`, `with_names = true`) parsers do, case-insensitively: offsets (`+02:00`), `UTC`/`GMT`/`UT`
/// with an optional `+hh:mm[:ss]` offset, then the longest zone id or name, then `Z`.
/// Returns the zone and the position after it.
pub(crate) fn parse_zone_at(text: &str, pos: usize, with_names: bool) -> Option<(Zone, usize)> {
    let bytes = text.as_bytes();
    let first = *bytes.get(pos)?;
    if first == b'+' || first == b'-' {
        let (secs, end) = parse_colon_offset(bytes, pos)?;
        return Some((
            Zone::Fixed {
                offset_secs: secs,
                id: offset_id(secs),
            },
            end,
        ));
    }
    let starts = |p: &str| {
        bytes.len() >= pos + p.len() && bytes[pos..pos + p.len()].eq_ignore_ascii_case(p.as_bytes())
    };
    let prefix = if starts("UTC") {
        Some("UTC")
    } else if starts("GMT") {
        Some("GMT")
    } else if starts("UT") {
        Some("UT")
    } else {
        None
    };
    if let Some(prefix) = prefix {
        let after = pos + prefix.len();
        let bare = || prefixed_offset(prefix, 0);
        match bytes.get(after) {
            None => return Some((bare(), after)),
            Some(b'0') if prefix == "GMT" => return Some((bare(), after + 1)),
            Some(b'0') | Some(b'Z') | Some(b'z') => return Some((bare(), after)),
            Some(b'+') | Some(b'-') => {
                return Some(match parse_colon_offset(bytes, after) {
                    Some((secs, end)) => (prefixed_offset(prefix, secs), end),
                    None => (bare(), after),
                });
            }
            _ => {}
        }
    }
    let table = lookup(with_names);
    let mut end = pos;
    while end < bytes.len()
        && end - pos < table.longest
        && (bytes[end].is_ascii_alphanumeric()
            || matches!(bytes[end], b'/' | b'_' | b'-' | b'+' | b' '))
    {
        end += 1;
    }
    while end > pos {
        if let Ok(candidate) = std::str::from_utf8(&bytes[pos..end]) {
            if let Some(tz) = table.by_name.get(&candidate.to_ascii_lowercase()) {
                return Some((Zone::Region(*tz), end));
            }
        }
        end -= 1;
    }
    if first == b'Z' || first == b'z' {
        return Some((
            Zone::Fixed {
                offset_secs: 0,
                id: "Z".into(),
            },
            pos + 1,
        ));
    }
    None
}

/// Parses `+hh:mm[:ss]` (Java's `+HH:MM:ss`) at `pos`.
fn parse_colon_offset(bytes: &[u8], pos: usize) -> Option<(i32, usize)> {
    let sign = match bytes.get(pos)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let two = |p: usize| -> Option<i32> {
        let d = bytes.get(p..p + 2)?;
        if d.iter().all(|b| b.is_ascii_digit()) {
            Some(((d[0] - b'0') * 10 + (d[1] - b'0')) as i32)
        } else {
            None
        }
    };
    let h = two(pos + 1)?;
    if bytes.get(pos + 3) != Some(&b':') {
        return None;
    }
    let m = two(pos + 4)?;
    let mut end = pos + 6;
    let mut s = 0;
    if bytes.get(end) == Some(&b':') {
        if let Some(v) = two(end + 1) {
            s = v;
            end += 3;
        }
    }
    if h > 18 || m > 59 || s > 59 {
        return None;
    }
    Some((sign * (h * 3600 + m * 60 + s), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_reads_java_zone_ids() {
        assert_eq!(
            Zone::of("America/Los_Angeles").unwrap(),
            Zone::Region(Tz::America__Los_Angeles)
        );
        assert_eq!(Zone::of("UTC").unwrap(), Zone::Region(Tz::UTC));
        assert_eq!(
            Zone::of("+0200").unwrap(),
            Zone::Fixed {
                offset_secs: 7200,
                id: "+02:00".into()
            }
        );
        assert_eq!(Zone::of("-5").unwrap().offset_at(0), -5 * 3600);
        assert_eq!(Zone::of("+05:30").unwrap().id(), "+05:30");
        assert_eq!(Zone::of("GMT+2").unwrap().id(), "GMT+02:00");
        assert_eq!(Zone::of("Z").unwrap().id(), "Z");
        assert!(matches!(
            Zone::of("america/los_angeles"),
            Err(FunctionError::InvalidTimeZone(_))
        ));
        assert!(Zone::of("PST").is_err());
        assert!(Zone::of("+19:00").is_err());
        assert!(Zone::of("Not/AZone").is_err());
    }

    #[test]
    fn offsets_follow_daylight_saving() {
        let la = Zone::of("America/Los_Angeles").unwrap();
        // 2018-05-11T21:58:33Z is in PDT, 1970 in PST.
        assert_eq!(la.offset_at(1_526_075_913_000), -7 * 3600);
        assert_eq!(la.offset_at(0), -8 * 3600);
        assert_eq!(la.display_name(1_526_075_913_000, false), "PDT");
        assert_eq!(
            la.display_name(1_526_075_913_000, true),
            "Pacific Daylight Time"
        );
        let london = Zone::of("Europe/London").unwrap();
        assert_eq!(london.display_name(1_526_075_913_000, false), "BST");
        assert_eq!(Zone::utc().display_name(0, false), "UTC");
        assert_eq!(Zone::of("+02:00").unwrap().display_name(0, false), "+02:00");
    }

    #[test]
    fn local_times_in_gaps_and_overlaps_resolve_like_java() {
        let la = Zone::of("America/Los_Angeles").unwrap();
        let ndt = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        // 2019-03-10 02:30 does not exist: the offset before the gap (-8) applies.
        assert_eq!(la.offset_for_local(&ndt("2019-03-10 02:30")), -8 * 3600);
        // 2019-11-03 01:30 happens twice: the earlier offset (-7) wins.
        assert_eq!(la.offset_for_local(&ndt("2019-11-03 01:30")), -7 * 3600);
    }

    #[test]
    fn zone_text_parses_ids_names_and_offsets() {
        let p = |s: &str| parse_zone_at(s, 0, true).map(|(z, end)| (z.id(), end));
        assert_eq!(p("PST rest"), Some(("America/Los_Angeles".into(), 3)));
        assert_eq!(p("pst"), Some(("America/Los_Angeles".into(), 3)));
        assert_eq!(p("Europe/London"), Some(("Europe/London".into(), 13)));
        assert_eq!(p("UTC"), Some(("UTC".into(), 3)));
        assert_eq!(p("GMT+02:00"), Some(("GMT+02:00".into(), 9)));
        assert_eq!(p("+05:30"), Some(("+05:30".into(), 6)));
        assert_eq!(p("Z"), Some(("Z".into(), 1)));
        assert_eq!(
            p("Pacific Standard Time"),
            Some(("America/Los_Angeles".into(), 21))
        );
        assert_eq!(p("Nowhere"), None);
        // The zone-id parser knows no abbreviations.
        assert_eq!(parse_zone_at("PST", 0, false), None);
    }

    #[test]
    fn gmt_offsets_print_like_java() {
        assert_eq!(gmt_offset(0, false), "GMT");
        assert_eq!(gmt_offset(8 * 3600, false), "GMT+8");
        assert_eq!(gmt_offset(-(5 * 3600 + 1800), false), "GMT-5:30");
        assert_eq!(gmt_offset(8 * 3600, true), "GMT+08:00");
        assert_eq!(offset_id(-3600), "-01:00");
    }
}
