//! Compatibility between a new schema and a subject's earlier versions, at Confluent's levels.
//!
//! AVRO schemas are checked structurally with apache-avro's schema resolution rules: BACKWARD
//! means the new schema can read data written with the earlier one, FORWARD the reverse, FULL
//! both; the `_TRANSITIVE` levels check every earlier version, the others only the latest. A
//! change of schema type is incompatible at every level but NONE. PROTOBUF and JSON schemas are
//! not checked structurally (any new version of the same type is accepted).

use apache_avro::schema_compatibility::SchemaCompatibility;

use crate::{Schema, SchemaType};

/// Confluent's compatibility levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Level {
    /// Every level, in Confluent's order.
    pub const ALL: [Level; 7] = [
        Level::None,
        Level::Backward,
        Level::BackwardTransitive,
        Level::Forward,
        Level::ForwardTransitive,
        Level::Full,
        Level::FullTransitive,
    ];

    /// The level's name, e.g. `BACKWARD_TRANSITIVE`.
    pub fn name(self) -> &'static str {
        match self {
            Level::None => "NONE",
            Level::Backward => "BACKWARD",
            Level::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Level::Forward => "FORWARD",
            Level::ForwardTransitive => "FORWARD_TRANSITIVE",
            Level::Full => "FULL",
            Level::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Parses a level name (any case).
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s.trim()))
    }

    fn transitive(self) -> bool {
        matches!(
            self,
            Level::BackwardTransitive | Level::ForwardTransitive | Level::FullTransitive
        )
    }

    fn backward(self) -> bool {
        matches!(
            self,
            Level::Backward | Level::BackwardTransitive | Level::Full | Level::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            Level::Forward | Level::ForwardTransitive | Level::Full | Level::FullTransitive
        )
    }
}

/// Why `new` may not follow `earlier` (oldest first) under `level`; empty when it may.
pub fn incompatibilities(level: Level, new: &Schema, earlier: &[Schema]) -> Vec<String> {
    if level == Level::None {
        return Vec::new();
    }
    let against = if level.transitive() {
        earlier
    } else {
        earlier.last().map(std::slice::from_ref).unwrap_or(&[])
    };
    let mut problems = Vec::new();
    for old in against {
        if old.schema_type != new.schema_type {
            problems.push(format!(
                "the schema type changes from {} to {}",
                old.schema_type.name(),
                new.schema_type.name()
            ));
            continue;
        }
        if new.schema_type != SchemaType::Avro {
            continue;
        }
        let (old_avro, new_avro) = match (
            apache_avro::Schema::parse_str(&old.text),
            apache_avro::Schema::parse_str(&new.text),
        ) {
            (Ok(o), Ok(n)) => (o, n),
            (_, Err(e)) | (Err(e), _) => {
                problems.push(format!("not a valid Avro schema: {e}"));
                continue;
            }
        };
        if level.backward() {
            if let Err(e) = SchemaCompatibility::can_read(&old_avro, &new_avro) {
                problems.push(format!(
                    "the new schema cannot read data written with an earlier one: {e}"
                ));
            }
        }
        if level.forward() {
            if let Err(e) = SchemaCompatibility::can_read(&new_avro, &old_avro) {
                problems.push(format!(
                    "an earlier schema cannot read data written with the new one: {e}"
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avro(fields: &str) -> Schema {
        Schema::avro(format!(
            r#"{{"type": "record", "name": "R", "fields": [{fields}]}}"#
        ))
    }

    #[test]
    fn avro_levels() {
        let v1 = avro(r#"{"name": "a", "type": "long"}"#);
        // A new field with a default: readable both ways.
        let v2 = avro(
            r#"{"name": "a", "type": "long"}, {"name": "b", "type": "string", "default": ""}"#,
        );
        // A new field without a default: the new schema cannot read old data.
        let v3 = avro(r#"{"name": "a", "type": "long"}, {"name": "c", "type": "string"}"#);
        assert!(incompatibilities(Level::Full, &v2, std::slice::from_ref(&v1)).is_empty());
        assert!(!incompatibilities(Level::Backward, &v3, std::slice::from_ref(&v1)).is_empty());
        assert!(incompatibilities(Level::Forward, &v3, std::slice::from_ref(&v1)).is_empty());
        assert!(incompatibilities(Level::None, &v3, std::slice::from_ref(&v1)).is_empty());
        // Only the latest, unless transitive.
        let v4 = avro(r#"{"name": "c", "type": "string"}"#);
        assert!(incompatibilities(Level::Backward, &v4, &[v1.clone(), v3.clone()]).is_empty());
        assert!(!incompatibilities(Level::BackwardTransitive, &v4, &[v1, v3]).is_empty());
    }

    #[test]
    fn other_types_only_keep_their_type() {
        let p = Schema::new(
            SchemaType::Protobuf,
            "syntax = \"proto3\"; message M { int64 a = 1; }",
        );
        let j = Schema::new(SchemaType::Json, r#"{"type": "object"}"#);
        assert!(incompatibilities(Level::Backward, &p, std::slice::from_ref(&p)).is_empty());
        assert_eq!(incompatibilities(Level::Backward, &j, &[p]).len(), 1);
        assert_eq!(Level::parse("full_transitive"), Some(Level::FullTransitive));
    }
}
