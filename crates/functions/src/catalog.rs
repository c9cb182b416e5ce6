//! What `SHOW FUNCTIONS` and `DESCRIBE FUNCTION` say: ksqlDB's built-in functions with their
//! type (scalar, aggregate, table), category, a one-line description and their signatures.
//!
//! The entries are data (`catalog.json`, written from ksqlDB's function annotations, with our own
//! descriptions); which of them Sluice runs is decided by the caller against the functions
//! registered in its session ([`crate::register_all`]).

use std::sync::OnceLock;

use serde_json::Value;

/// One function's documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDoc {
    /// Upper-case name, e.g. `SUBSTRING`.
    pub name: String,
    /// `SCALAR`, `AGGREGATE` or `TABLE`.
    pub kind: String,
    /// ksqlDB's category, e.g. `STRING`, `MATHEMATICAL`, `DATE / TIME`.
    pub category: String,
    pub description: String,
    /// Each overload as (arguments, return type), e.g. (`str STRING, pos INT`, `STRING`).
    pub variations: Vec<(String, String)>,
}

/// Every documented function, sorted by name.
pub fn functions() -> &'static [FunctionDoc] {
    static DOCS: OnceLock<Vec<FunctionDoc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let parsed: Value =
            serde_json::from_str(include_str!("catalog.json")).expect("catalog.json is JSON");
        let text = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut docs: Vec<FunctionDoc> = parsed
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|e| FunctionDoc {
                name: text(e, "name"),
                kind: text(e, "type"),
                category: text(e, "category"),
                description: text(e, "description"),
                variations: e
                    .get("variations")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|v| (text(v, "args"), text(v, "returns")))
                    .collect(),
            })
            .collect();
        docs.sort_by(|a, b| a.name.cmp(&b.name));
        docs
    })
}

/// The documentation of `name` (any case).
pub fn describe(name: &str) -> Option<&'static FunctionDoc> {
    let upper = name.to_ascii_uppercase();
    functions().iter().find(|f| f.name == upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_parses_and_is_complete() {
        let all = functions();
        assert!(all.len() > 140, "{}", all.len());
        for f in all {
            assert!(!f.name.is_empty() && !f.category.is_empty(), "{f:?}");
            assert!(
                matches!(f.kind.as_str(), "SCALAR" | "AGGREGATE" | "TABLE"),
                "{f:?}"
            );
            assert!(!f.variations.is_empty(), "{f:?}");
        }
        let sub = describe("substring").unwrap();
        assert_eq!(sub.kind, "SCALAR");
        assert_eq!(describe("explode").unwrap().kind, "TABLE");
        assert_eq!(describe("count").unwrap().kind, "AGGREGATE");
        assert!(describe("no_such_function").is_none());
    }
}
