//! Zone names Java prints and parses (English): abbreviations (`PST`) and full names
//! (`Pacific Standard Time`) of the common zones, and case-insensitive lookup tables of zone ids
//! and names for parsing.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::OnceLock;

use chrono_tz::Tz;

/// One zone name Java knows (English): its abbreviation, full name, whether it names
/// daylight time, the zone a parsed name stands for, and the regions it names when printing.
pub(crate) struct ZoneName {
    pub abbr: &'static str,
    pub full: &'static str,
    pub daylight: bool,
    pub zone: &'static str,
    pub region_prefix: &'static str,
}

const fn zn(
    abbr: &'static str,
    full: &'static str,
    daylight: bool,
    zone: &'static str,
    region_prefix: &'static str,
) -> ZoneName {
    ZoneName {
        abbr,
        full,
        daylight,
        zone,
        region_prefix,
    }
}

/// Common zone names. A parsed abbreviation stands for the first entry's zone, as Java maps a
/// metazone name to its preferred region (PST → America/Los_Angeles).
pub(crate) fn zone_names() -> &'static [ZoneName] {
    #[rustfmt::skip]
    const NAMES: &[ZoneName] = &[
        zn("UTC", "Coordinated Universal Time", false, "UTC", ""),
        zn("GMT", "Greenwich Mean Time", false, "GMT", ""),
        zn("PST", "Pacific Standard Time", false, "America/Los_Angeles", "America/"),
        zn("PDT", "Pacific Daylight Time", true, "America/Los_Angeles", "America/"),
        zn("MST", "Mountain Standard Time", false, "America/Denver", "America/"),
        zn("MDT", "Mountain Daylight Time", true, "America/Denver", "America/"),
        zn("CST", "Central Standard Time", false, "America/Chicago", "America/"),
        zn("CDT", "Central Daylight Time", true, "America/Chicago", "America/"),
        zn("EST", "Eastern Standard Time", false, "America/New_York", "America/"),
        zn("EDT", "Eastern Daylight Time", true, "America/New_York", "America/"),
        zn("AKST", "Alaska Standard Time", false, "America/Anchorage", "America/"),
        zn("AKDT", "Alaska Daylight Time", true, "America/Anchorage", "America/"),
        zn("HST", "Hawaii-Aleutian Standard Time", false, "Pacific/Honolulu", ""),
        zn("AST", "Atlantic Standard Time", false, "America/Halifax", "America/"),
        zn("ADT", "Atlantic Daylight Time", true, "America/Halifax", "America/"),
        zn("NST", "Newfoundland Standard Time", false, "America/St_Johns", "America/"),
        zn("NDT", "Newfoundland Daylight Time", true, "America/St_Johns", "America/"),
        zn("BST", "British Summer Time", true, "Europe/London", "Europe/"),
        zn("IST", "India Standard Time", false, "Asia/Kolkata", "Asia/"),
        zn("IST", "Irish Standard Time", true, "Europe/Dublin", "Europe/"),
        zn("WET", "Western European Standard Time", false, "Europe/Lisbon", ""),
        zn("WEST", "Western European Summer Time", true, "Europe/Lisbon", ""),
        zn("CET", "Central European Standard Time", false, "Europe/Paris", ""),
        zn("CEST", "Central European Summer Time", true, "Europe/Paris", ""),
        zn("EET", "Eastern European Standard Time", false, "Europe/Bucharest", ""),
        zn("EEST", "Eastern European Summer Time", true, "Europe/Bucharest", ""),
        zn("MSK", "Moscow Standard Time", false, "Europe/Moscow", ""),
        zn("SAST", "South Africa Standard Time", false, "Africa/Johannesburg", ""),
        zn("CAT", "Central Africa Time", false, "Africa/Maputo", ""),
        zn("EAT", "East Africa Time", false, "Africa/Nairobi", ""),
        zn("WAT", "West Africa Standard Time", false, "Africa/Lagos", ""),
        zn("PKT", "Pakistan Standard Time", false, "Asia/Karachi", ""),
        zn("HKT", "Hong Kong Standard Time", false, "Asia/Hong_Kong", ""),
        zn("CST", "China Standard Time", false, "Asia/Shanghai", "Asia/"),
        zn("JST", "Japan Standard Time", false, "Asia/Tokyo", ""),
        zn("KST", "Korean Standard Time", false, "Asia/Seoul", ""),
        zn("AWST", "Australian Western Standard Time", false, "Australia/Perth", ""),
        zn("ACST", "Australian Central Standard Time", false, "Australia/Adelaide", ""),
        zn("ACDT", "Australian Central Daylight Time", true, "Australia/Adelaide", ""),
        zn("AEST", "Australian Eastern Standard Time", false, "Australia/Sydney", ""),
        zn("AEDT", "Australian Eastern Daylight Time", true, "Australia/Sydney", ""),
        zn("NZST", "New Zealand Standard Time", false, "Pacific/Auckland", ""),
        zn("NZDT", "New Zealand Daylight Time", true, "Pacific/Auckland", ""),
    ];
    NAMES
}

/// Lower-cased zone ids and (optionally) zone names, for case-insensitive longest-match
/// parsing.
pub(crate) struct ZoneLookup {
    pub by_name: HashMap<String, Tz>,
    pub longest: usize,
}

pub(crate) fn lookup(with_names: bool) -> &'static ZoneLookup {
    static IDS: OnceLock<ZoneLookup> = OnceLock::new();
    static NAMES: OnceLock<ZoneLookup> = OnceLock::new();
    let build = |with_names: bool| {
        let mut by_name = HashMap::new();
        for tz in chrono_tz::TZ_VARIANTS.iter() {
            by_name.insert(tz.name().to_ascii_lowercase(), *tz);
        }
        if with_names {
            // Names override zone ids of the same spelling (Java maps the name "EST" to
            // America/New_York); among names, the first entry wins.
            let mut names = HashMap::new();
            for n in zone_names() {
                if let Ok(tz) = Tz::from_str(n.zone) {
                    for key in [n.abbr, n.full] {
                        names.entry(key.to_ascii_lowercase()).or_insert(tz);
                    }
                }
            }
            by_name.extend(names);
        }
        let longest = by_name.keys().map(|k| k.len()).max().unwrap_or(0);
        ZoneLookup { by_name, longest }
    };
    if with_names {
        NAMES.get_or_init(|| build(true))
    } else {
        IDS.get_or_init(|| build(false))
    }
}
