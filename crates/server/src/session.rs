//! Per-connection state: KSQL session properties (`SET 'x'='y'`).

use std::collections::BTreeMap;
use std::sync::Mutex;

/// `auto.offset.reset`: where a new query starts reading when it has no committed position.
pub const AUTO_OFFSET_RESET: &str = "auto.offset.reset";

/// Session properties that KSQL statements read. Cheap to snapshot per statement.
#[derive(Debug, Default)]
pub struct SessionProps {
    props: Mutex<BTreeMap<String, String>>,
}

impl SessionProps {
    /// Set a property (`SET 'name'='value'`).
    pub fn set(&self, name: &str, value: &str) {
        self.props
            .lock()
            .expect("session lock")
            .insert(name.to_string(), value.to_string());
    }

    /// Remove a property (`UNSET 'name'`); true if it was set.
    pub fn unset(&self, name: &str) -> bool {
        self.props
            .lock()
            .expect("session lock")
            .remove(name)
            .is_some()
    }

    /// A copy of all properties.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.props.lock().expect("session lock").clone()
    }
}

/// Whether a query with these properties starts at the earliest offset.
pub fn starts_earliest(props: &BTreeMap<String, String>) -> bool {
    props
        .get(AUTO_OFFSET_RESET)
        .map(|v| v.eq_ignore_ascii_case("earliest"))
        .unwrap_or(false)
}
