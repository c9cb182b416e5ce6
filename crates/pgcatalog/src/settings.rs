//! Session configuration parameters (PostgreSQL "GUCs"): what `SET`, `RESET`, `SHOW`,
//! `current_setting()` and `set_config()` read and write.
//!
//! Each [`crate::PgSession`] owns one [`Settings`]. Values are strings, as in PostgreSQL. Known
//! parameters have a canonical spelling (`TimeZone`, `DateStyle`, ...) used as the `SHOW` column
//! name; unknown names may be `SET` (drivers send all sorts) and are then remembered, but `SHOW`ing
//! a name that was never set and is not known fails with `42704`, as in PostgreSQL.

use std::collections::BTreeMap;

use crate::error::PgCatalogError;

/// The PostgreSQL version Sluice claims to be, as `SHOW server_version` reports it. The wire layer
/// should send the same value in its `server_version` ParameterStatus.
pub const PG_SERVER_VERSION: &str = "15.0";
/// [`PG_SERVER_VERSION`] as `server_version_num` reports it.
pub const PG_SERVER_VERSION_NUM: &str = "150000";

/// How a parameter may be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// `SET` works.
    User,
    /// Fixed for the server (`server_version`, ...): `SET` fails with 55P02.
    ReadOnly,
}

/// One known parameter.
struct Known {
    /// Canonical spelling (the `SHOW` column name).
    name: &'static str,
    default: &'static str,
    access: Access,
    /// PostgreSQL reports changes of these to the client with a ParameterStatus message.
    reported: bool,
    description: &'static str,
}

const fn known(
    name: &'static str,
    default: &'static str,
    access: Access,
    reported: bool,
    description: &'static str,
) -> Known {
    Known {
        name,
        default,
        access,
        reported,
        description,
    }
}

use Access::{ReadOnly, User};

/// The parameters Sluice knows, with PostgreSQL's defaults for a UTF-8, UTC server. Sorted by
/// lower-cased name (SHOW ALL order).
const KNOWN: &[Known] = &[
    known(
        "application_name",
        "",
        User,
        true,
        "Sets the application name to be reported in statistics and logs.",
    ),
    known(
        "bytea_output",
        "hex",
        User,
        false,
        "Sets the output format for bytea.",
    ),
    known(
        "client_encoding",
        "UTF8",
        User,
        true,
        "Sets the client's character set encoding.",
    ),
    known(
        "client_min_messages",
        "notice",
        User,
        false,
        "Sets the message levels that are sent to the client.",
    ),
    known(
        "DateStyle",
        "ISO, MDY",
        User,
        true,
        "Sets the display format for date and time values.",
    ),
    known(
        "default_transaction_isolation",
        "read committed",
        User,
        false,
        "Sets the transaction isolation level of each new transaction.",
    ),
    known(
        "default_transaction_read_only",
        "off",
        User,
        true,
        "Sets the default read-only status of new transactions.",
    ),
    known(
        "extra_float_digits",
        "1",
        User,
        false,
        "Sets the number of digits displayed for floating-point values.",
    ),
    known(
        "idle_in_transaction_session_timeout",
        "0",
        User,
        false,
        "Sets the maximum allowed idle time between queries, when in a transaction.",
    ),
    known(
        "in_hot_standby",
        "off",
        ReadOnly,
        true,
        "Shows whether hot standby is currently active.",
    ),
    known(
        "integer_datetimes",
        "on",
        ReadOnly,
        true,
        "Shows whether datetimes are integer based.",
    ),
    known(
        "IntervalStyle",
        "postgres",
        User,
        true,
        "Sets the display format for interval values.",
    ),
    known(
        "is_superuser",
        "off",
        ReadOnly,
        true,
        "Shows whether the current user is a superuser.",
    ),
    known(
        "lc_collate",
        "C.UTF-8",
        ReadOnly,
        false,
        "Shows the collation order locale.",
    ),
    known(
        "lc_ctype",
        "C.UTF-8",
        ReadOnly,
        false,
        "Shows the character classification and case conversion locale.",
    ),
    known(
        "lc_messages",
        "C.UTF-8",
        User,
        false,
        "Sets the language in which messages are displayed.",
    ),
    known(
        "lc_monetary",
        "C.UTF-8",
        User,
        false,
        "Sets the locale for formatting monetary amounts.",
    ),
    known(
        "lc_numeric",
        "C.UTF-8",
        User,
        false,
        "Sets the locale for formatting numbers.",
    ),
    known(
        "lc_time",
        "C.UTF-8",
        User,
        false,
        "Sets the locale for formatting date and time values.",
    ),
    known(
        "lock_timeout",
        "0",
        User,
        false,
        "Sets the maximum allowed duration of any wait for a lock.",
    ),
    known(
        "max_identifier_length",
        "63",
        ReadOnly,
        false,
        "Shows the maximum identifier length.",
    ),
    known("row_security", "on", User, false, "Enable row security."),
    known(
        "search_path",
        "\"$user\", public",
        User,
        true,
        "Sets the schema search order for names that are not schema-qualified.",
    ),
    known(
        "server_encoding",
        "UTF8",
        ReadOnly,
        true,
        "Shows the server (database) character set encoding.",
    ),
    known(
        "server_version",
        PG_SERVER_VERSION,
        ReadOnly,
        true,
        "Shows the server version.",
    ),
    known(
        "server_version_num",
        PG_SERVER_VERSION_NUM,
        ReadOnly,
        false,
        "Shows the server version as an integer.",
    ),
    known(
        "session_authorization",
        "",
        User,
        true,
        "Sets the session user name.",
    ),
    known(
        "standard_conforming_strings",
        "on",
        User,
        true,
        "Causes '...' strings to treat backslashes literally.",
    ),
    known(
        "statement_timeout",
        "0",
        User,
        false,
        "Sets the maximum allowed duration of any statement.",
    ),
    known(
        "TimeZone",
        "UTC",
        User,
        true,
        "Sets the time zone for displaying and interpreting time stamps.",
    ),
    known(
        "transaction_isolation",
        "read committed",
        User,
        false,
        "Sets the current transaction's isolation level.",
    ),
    known(
        "transaction_read_only",
        "off",
        User,
        false,
        "Sets the current transaction's read-only status.",
    ),
];

fn lookup(name: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.name.eq_ignore_ascii_case(name))
}

/// The canonical spelling of a parameter name: the known spelling, else the lower-cased name.
pub(crate) fn canonical_name(name: &str) -> String {
    lookup(name)
        .map(|k| k.name.to_string())
        .unwrap_or_else(|| name.to_ascii_lowercase())
}

/// One row of `SHOW ALL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingRow {
    pub name: String,
    pub setting: String,
    pub description: String,
}

/// One connection's configuration parameters.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Values that differ from the defaults, keyed by lower-cased name.
    values: BTreeMap<String, (String, String)>,
    /// Reported parameters changed since the last [`Settings::take_reported_changes`].
    pending_reports: Vec<(String, String)>,
}

impl Settings {
    /// Settings for a connection of `user` (reported by `session_authorization`).
    pub fn for_user(user: &str) -> Self {
        let mut s = Settings::default();
        if !user.is_empty() {
            s.values.insert(
                "session_authorization".into(),
                ("session_authorization".into(), user.into()),
            );
        }
        s
    }

    /// The current value of `name`, or `None` when it is neither known nor set.
    pub fn get(&self, name: &str) -> Option<String> {
        let key = name.to_ascii_lowercase();
        if let Some((_, v)) = self.values.get(&key) {
            return Some(v.clone());
        }
        lookup(name).map(|k| k.default.to_string())
    }

    /// `SHOW name`: the value, or 42704 for an unknown name.
    pub fn show(&self, name: &str) -> Result<String, PgCatalogError> {
        self.get(name)
            .ok_or_else(|| PgCatalogError::UnknownParameter(name.to_ascii_lowercase()))
    }

    /// `SET name = value`. Read-only known parameters refuse (55P02); unknown names are accepted
    /// and remembered (PostgreSQL refuses those without a dot; drivers rarely send them and a
    /// refusal would break their start-up for nothing).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), PgCatalogError> {
        let canonical = canonical_name(name);
        if let Some(k) = lookup(name) {
            if k.access == Access::ReadOnly {
                // PostgreSQL lets clients "set" a read-only parameter to its current value.
                if self.get(name).as_deref() == Some(value) {
                    return Ok(());
                }
                return Err(PgCatalogError::ReadOnlyParameter(canonical));
            }
            if k.reported && self.get(name).as_deref() != Some(value) {
                self.pending_reports
                    .push((canonical.clone(), value.to_string()));
            }
        }
        tracing::debug!(parameter = %canonical, value, "session parameter set");
        self.values
            .insert(name.to_ascii_lowercase(), (canonical, value.to_string()));
        Ok(())
    }

    /// `RESET name` / `SET name TO DEFAULT`.
    pub fn reset(&mut self, name: &str) -> Result<(), PgCatalogError> {
        let key = name.to_ascii_lowercase();
        match lookup(name) {
            Some(k) if k.access == Access::ReadOnly => {
                Err(PgCatalogError::ReadOnlyParameter(k.name.to_string()))
            }
            Some(k) => {
                if let Some((_, old)) = self.values.remove(&key) {
                    if k.reported && old != k.default {
                        self.pending_reports
                            .push((k.name.to_string(), k.default.to_string()));
                    }
                }
                Ok(())
            }
            None => {
                self.values.remove(&key);
                Ok(())
            }
        }
    }

    /// `RESET ALL` / `DISCARD ALL`: every changeable parameter back to its default
    /// (`session_authorization` stays, as in PostgreSQL).
    pub fn reset_all(&mut self) {
        let keys: Vec<String> = self
            .values
            .keys()
            .filter(|k| k.as_str() != "session_authorization")
            .filter(|k| lookup(k).is_none_or(|known| known.access == Access::User))
            .cloned()
            .collect();
        for key in keys {
            let _ = self.reset(&key);
        }
    }

    /// `SHOW ALL`: known parameters and any others that were set, sorted by name.
    pub fn all(&self) -> Vec<SettingRow> {
        let mut rows: Vec<SettingRow> = KNOWN
            .iter()
            .map(|k| SettingRow {
                name: k.name.to_string(),
                setting: self.get(k.name).unwrap_or_default(),
                description: k.description.to_string(),
            })
            .collect();
        for (key, (name, value)) in &self.values {
            if lookup(key).is_none() {
                rows.push(SettingRow {
                    name: name.clone(),
                    setting: value.clone(),
                    description: String::new(),
                });
            }
        }
        rows.sort_by_key(|r| r.name.to_ascii_lowercase());
        rows
    }

    /// Changes to parameters that PostgreSQL reports to clients (ParameterStatus), oldest first,
    /// since the previous call.
    pub fn take_reported_changes(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.pending_reports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_defaults_and_case_insensitive_names() {
        let s = Settings::for_user("alice");
        assert_eq!(s.get("timezone").as_deref(), Some("UTC"));
        assert_eq!(s.get("TIMEZONE").as_deref(), Some("UTC"));
        assert_eq!(s.get("server_version").as_deref(), Some(PG_SERVER_VERSION));
        assert_eq!(s.get("session_authorization").as_deref(), Some("alice"));
        assert_eq!(canonical_name("datestyle"), "DateStyle");
        assert_eq!(canonical_name("My.Custom"), "my.custom");
    }

    #[test]
    fn set_reset_and_reports() {
        let mut s = Settings::default();
        s.set("application_name", "psql").unwrap();
        s.set("extra_float_digits", "3").unwrap();
        assert_eq!(s.get("APPLICATION_NAME").as_deref(), Some("psql"));
        assert_eq!(s.get("extra_float_digits").as_deref(), Some("3"));
        // extra_float_digits is not a reported parameter, application_name is.
        assert_eq!(
            s.take_reported_changes(),
            vec![("application_name".to_string(), "psql".to_string())]
        );
        assert!(s.take_reported_changes().is_empty());

        s.reset("application_name").unwrap();
        assert_eq!(s.get("application_name").as_deref(), Some(""));
        assert_eq!(
            s.take_reported_changes(),
            vec![("application_name".to_string(), String::new())]
        );

        s.reset_all();
        assert_eq!(s.get("extra_float_digits").as_deref(), Some("1"));
    }

    #[test]
    fn read_only_and_unknown_parameters() {
        let mut s = Settings::default();
        let e = s.set("server_version", "9.6").unwrap_err();
        assert_eq!(e.sqlstate(), "55P02");
        // Setting it to its own value is allowed.
        s.set("server_version", PG_SERVER_VERSION).unwrap();

        assert_eq!(s.show("no_such_thing").unwrap_err().sqlstate(), "42704");
        s.set("no_such_thing", "x").unwrap();
        assert_eq!(s.show("no_such_thing").unwrap(), "x");
        assert!(s.all().iter().any(|r| r.name == "no_such_thing"));
    }

    #[test]
    fn show_all_is_sorted_and_complete() {
        let s = Settings::default();
        let rows = s.all();
        assert_eq!(rows.len(), KNOWN.len());
        let names: Vec<String> = rows.iter().map(|r| r.name.to_ascii_lowercase()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }
}
