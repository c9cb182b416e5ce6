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

/// `cache.max.bytes.buffering`: above 0 (ksqlDB's default is 10 MB), aggregations coalesce the
/// changes to a key within a batch; 0 emits every change, in order.
pub const CACHE_MAX_BYTES_BUFFERING: &str = "cache.max.bytes.buffering";

/// Whether aggregations of a query with these properties coalesce changes per key and batch.
pub fn coalesces(props: &BTreeMap<String, String>) -> bool {
    props
        .get(CACHE_MAX_BYTES_BUFFERING)
        .map(|v| v.trim().parse::<i64>().map(|n| n > 0).unwrap_or(true))
        .unwrap_or(true)
}

/// `processing.guarantee` (also accepted with ksqlDB's `ksql.streams.` prefix).
pub const PROCESSING_GUARANTEE: &str = "processing.guarantee";

/// The processing guarantee of a persistent query started with these properties.
pub fn guarantee(
    props: &BTreeMap<String, String>,
) -> crate::error::Result<crate::transaction::Guarantee> {
    let value = props
        .get(PROCESSING_GUARANTEE)
        .or_else(|| props.get(&format!("ksql.streams.{PROCESSING_GUARANTEE}")));
    match value {
        Some(v) => crate::transaction::Guarantee::parse(v),
        None => Ok(crate::transaction::Guarantee::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffering_is_on_unless_set_to_zero() {
        let mut p = BTreeMap::new();
        assert!(coalesces(&p));
        p.insert(CACHE_MAX_BYTES_BUFFERING.to_string(), "0".to_string());
        assert!(!coalesces(&p));
        p.insert(
            CACHE_MAX_BYTES_BUFFERING.to_string(),
            "10000000".to_string(),
        );
        assert!(coalesces(&p));
    }
}
