//! `post` conditions: what must hold after a test ran — the sources it created (kind, schema,
//! key/value formats, windowing, read-only flag) and its topics (formats, partitions, and names
//! that must not exist).
//!
//! Not checked, because they describe ksqlDB's implementation rather than KSQL semantics:
//! Kafka Streams internal topics (`_confluent-ksql-*` changelog/repartition topics) and serde
//! `features`/`properties`. Registry schemas (`keySchema`/`valueSchema`, AVRO and PROTOBUF) are
//! compared by what they mean to KSQL: the subject's latest schema must give the same columns
//! (names ignoring case, and types, as inference reads them) as the expected one; record and
//! message names and Connect annotations are not compared. Schemas of other formats cannot be
//! checked and fail.

use sluice_catalog::{Catalog, ColumnRole, SourceDef};
use sluice_kafka::TopicAdmin;
use sluice_parser::{ColumnConstraint, Statement};

use sluice_formats::Part;
use sluice_registry::SchemaRegistry;

use crate::json::Json;

/// The subject's latest schema must mean the same columns as `want`.
fn check_registered(
    topic: &str,
    key: bool,
    want: &Json,
    registry: &dyn SchemaRegistry,
) -> Result<(), String> {
    let subject = sluice_registry::subject_name(topic, key);
    let part = if key { Part::Key } else { Part::Value };
    let columns =
        |schema: &sluice_registry::Schema, protobuf: bool| -> Result<Vec<String>, String> {
            let text = schema.text.as_str();
            let fields = if protobuf {
                let refs = sluice_formats::protobuf::schema::referenced_files(registry, schema)?;
                sluice_formats::protobuf::schema::infer_columns(text, &refs, None, false)?
            } else {
                sluice_formats::avro::schema::infer_columns(text, part, false)?
            };
            Ok(fields
                .iter()
                .map(|f| format!("{} {}", f.name(), f.data_type()))
                .collect())
        };
    let got = registry
        .latest(&subject)
        .map_err(|e| format!("post: {e}"))?
        .ok_or_else(|| format!("post: no schema registered for {subject}"))?;
    let protobuf = got.schema.schema_type == sluice_registry::SchemaType::Protobuf;
    let want_text = match want {
        Json::String(text) if protobuf => text.clone(),
        other => other.to_string(),
    };
    // The expected schema may import what the registered one references.
    let want_schema = sluice_registry::Schema::new(got.schema.schema_type, want_text)
        .with_references(got.schema.references.clone());
    let want = columns(&want_schema, protobuf).map_err(|e| {
        format!(
            "post: the expected {subject} schema is not {}: {e}",
            got.schema.schema_type.name()
        )
    })?;
    let got = columns(&got.schema, protobuf).map_err(|e| format!("post: {subject}: {e}"))?;
    if got != want {
        return Err(format!(
            "post: {subject} has columns {got:?} but the test expects {want:?}"
        ));
    }
    Ok(())
}

/// Checks the `post` block; the first violation as the error.
///
/// `harness_partitions`: no statement or topic of the test chose a partition count, so the
/// counts ksqlDB's harness expects are its own default (4), not KSQL semantics, and are not
/// compared.
pub async fn check(
    post: &Json,
    catalog: &Catalog,
    admin: &dyn TopicAdmin,
    registry: &dyn SchemaRegistry,
    harness_partitions: bool,
) -> Result<(), String> {
    for s in post.get("sources").and_then(Json::as_array).unwrap_or(&[]) {
        check_source(s, catalog)?;
    }
    if let Some(topics) = post.get("topics") {
        for t in topics.get("topics").and_then(Json::as_array).unwrap_or(&[]) {
            check_topic(t, catalog, admin, registry, harness_partitions).await?;
        }
        if let Some(pattern) = topics.get("blacklist").and_then(Json::as_str) {
            let existing = admin
                .list_topics()
                .await
                .map_err(|e| format!("post: cannot list topics: {e}"))?;
            if let Some(t) = existing.iter().find(|t| regex_match(pattern, &t.name)) {
                return Err(format!(
                    "post: topic '{}' exists but matches the forbidden pattern '{pattern}'",
                    t.name
                ));
            }
        }
    }
    Ok(())
}

fn check_source(s: &Json, catalog: &Catalog) -> Result<(), String> {
    let name = s.get("name").and_then(Json::as_str).unwrap_or_default();
    let def = catalog
        .source(name)
        .ok_or_else(|| format!("post: source {name} does not exist"))?;
    if let Some(kind) = s.get("type").and_then(Json::as_str) {
        if !kind.eq_ignore_ascii_case(def.kind.as_str()) {
            return Err(format!(
                "post: {name} is a {} but the test expects a {}",
                def.kind.lower(),
                kind.to_lowercase()
            ));
        }
    }
    if let Some(schema) = s.get("schema").and_then(Json::as_str) {
        check_schema(name, schema, def)?;
    }
    if let Some(kf) = s.get("keyFormat") {
        let want = format_name(kf);
        if let Some(want) = want {
            if !want.eq_ignore_ascii_case(def.key_format.kind.name()) {
                return Err(format!(
                    "post: {name} has key format {} but the test expects {want}",
                    def.key_format.kind
                ));
            }
        }
        let want_window = kf.get("windowType").and_then(Json::as_str);
        let have_window = def.window.as_ref().map(|w| w.kind.to_uppercase());
        if want_window.map(str::to_uppercase) != have_window {
            return Err(format!(
                "post: {name} has window type {} but the test expects {}",
                have_window.as_deref().unwrap_or("none"),
                want_window.unwrap_or("none")
            ));
        }
        if let Some(size) = kf.get("windowSize").and_then(Json::as_i64) {
            let have = def.window.as_ref().and_then(|w| w.size_ms);
            if have != Some(size) {
                return Err(format!(
                    "post: {name} has window size {have:?} but the test expects {size} ms"
                ));
            }
        }
    }
    if let Some(vf) = s.get("valueFormat") {
        if let Some(want) = format_name(vf) {
            if !want.eq_ignore_ascii_case(def.value_format.kind.name()) {
                return Err(format!(
                    "post: {name} has value format {} but the test expects {want}",
                    def.value_format.kind
                ));
            }
        }
    }
    if let Some(is_source) = s.get("isSource").and_then(Json::as_bool) {
        if is_source != def.is_source {
            return Err(format!(
                "post: {name} is_source is {} but the test expects {is_source}",
                def.is_source
            ));
        }
    }
    Ok(())
}

/// `"JSON"` or `{"format": "JSON", ...}`.
fn format_name(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        other => other
            .get("format")
            .and_then(Json::as_str)
            .map(str::to_string),
    }
}

/// A column as the runner compares it: name, type text, whether it is part of the key.
type Column = (String, String, bool);

fn check_schema(name: &str, expected: &str, def: &SourceDef) -> Result<(), String> {
    let have: Vec<Column> = def
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.ty.to_string(), c.role == ColumnRole::Key))
        .collect();
    let want = parse_schema(expected)?;
    if have != want {
        let show = |cols: &[Column]| {
            cols.iter()
                .map(|(n, t, k)| format!("`{n}` {t}{}", if *k { " KEY" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "post: {name} has schema {} but the test expects {}",
            show(&have),
            show(&want)
        ));
    }
    Ok(())
}

/// Parses an expected schema (`ID INT KEY, V STRUCT<A STRING>`) with Sluice's own parser.
fn parse_schema(text: &str) -> Result<Vec<Column>, String> {
    let sql = format!(
        "CREATE STREAM POST_CONDITION ({text}) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');"
    );
    let parsed = sluice_parser::parse_one(&sql)
        .map_err(|e| format!("post: cannot parse the expected schema '{text}': {e}"))?;
    let Statement::CreateSource(cs) = parsed.statement else {
        return Err(format!("post: cannot parse the expected schema '{text}'"));
    };
    let mut cols: Vec<Column> = cs
        .columns
        .into_iter()
        .map(|c| {
            let key = matches!(
                c.constraint,
                ColumnConstraint::Key | ColumnConstraint::PrimaryKey
            );
            (c.name.value, c.ty.to_string(), key)
        })
        .collect();
    // The catalog keeps key columns first, as ksqlDB's logical schema does.
    cols.sort_by_key(|c| !c.2);
    Ok(cols)
}

/// Topic conditions: existence, formats of the source over it, partitions.
async fn check_topic(
    t: &Json,
    catalog: &Catalog,
    admin: &dyn TopicAdmin,
    registry: &dyn SchemaRegistry,
    harness_partitions: bool,
) -> Result<(), String> {
    let Some(name) = t.get("name").and_then(Json::as_str) else {
        return Ok(());
    };
    if name.starts_with("_confluent-ksql-") {
        return Ok(());
    }
    let info = admin
        .describe_topic(name)
        .await
        .map_err(|e| format!("post: cannot describe topic {name}: {e}"))?
        .ok_or_else(|| format!("post: topic {name} does not exist"))?;
    if let Some(p) = t
        .get("partitions")
        .and_then(Json::as_i64)
        .filter(|_| !harness_partitions)
    {
        if p != info.partitions as i64 {
            return Err(format!(
                "post: topic {name} has {} partitions but the test expects {p}",
                info.partitions
            ));
        }
    }
    for (schema, key) in [("keySchema", true), ("valueSchema", false)] {
        if let Some(want) = t.get(schema).filter(|s| !s.is_null()) {
            check_registered(name, key, want, registry)?;
        }
    }
    let over: Vec<&SourceDef> = catalog
        .sources()
        .map(|s| s.as_ref())
        .filter(|s| s.topic == name)
        .collect();
    let source = over
        .iter()
        .find(|s| s.written_by.is_some())
        .or(over.first());
    for (what, part) in [("keyFormat", true), ("valueFormat", false)] {
        let Some(want) = t.get(what).and_then(format_name) else {
            continue;
        };
        let Some(s) = source else {
            return Err(format!(
                "post: no source over topic {name} to give it a {what} {want}"
            ));
        };
        let have = if part {
            s.key_format.kind
        } else {
            s.value_format.kind
        };
        if !want.eq_ignore_ascii_case(have.name()) {
            return Err(format!(
                "post: topic {name} has {what} {have} but the test expects {want}"
            ));
        }
    }
    Ok(())
}

/// A small regular-expression matcher for blacklist patterns: literals, `.`, `*`, `+`, `?`,
/// and `\` escapes; the whole name must match.
pub fn regex_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    match_here(&p, &t)
}

fn match_here(p: &[char], t: &[char]) -> bool {
    if p.is_empty() {
        return t.is_empty();
    }
    let (atom, rest) = if p[0] == '\\' && p.len() > 1 {
        (Some(p[1]), &p[2..])
    } else if p[0] == '.' {
        (None, &p[1..])
    } else {
        (Some(p[0]), &p[1..])
    };
    let one = |c: char| atom.is_none_or(|a| a == c);
    match rest.first() {
        Some('*') | Some('+') | Some('?') => {
            let op = rest[0];
            let rest = &rest[1..];
            let min = usize::from(op == '+');
            let max = if op == '?' { 1 } else { usize::MAX };
            let mut n = 0;
            while n < t.len() && n < max && one(t[n]) {
                n += 1;
            }
            (min..=n).rev().any(|k| match_here(rest, &t[k..]))
        }
        _ => !t.is_empty() && one(t[0]) && match_here(rest, &t[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blacklist_patterns() {
        assert!(regex_match(".*-repartition", "abc-Agg-repartition"));
        assert!(!regex_match(".*-repartition", "abc-repartition-x"));
        assert!(regex_match("a\\.b+c?", "a.bb"));
        assert!(!regex_match("a\\.b", "axb"));
    }

    #[test]
    fn expected_schemas_parse_with_keys_first() {
        let cols = parse_schema("V1 INT, ID STRUCT<F1 VARCHAR> KEY, `low` STRING").unwrap();
        assert_eq!(
            cols,
            vec![
                ("ID".into(), "STRUCT<`F1` STRING>".into(), true),
                ("V1".into(), "INTEGER".into(), false),
                ("low".into(), "STRING".into(), false),
            ]
        );
        assert!(parse_schema("ID INT PRIMARY KEY").unwrap()[0].2);
        assert!(parse_schema("ID ???").is_err());
    }
}
