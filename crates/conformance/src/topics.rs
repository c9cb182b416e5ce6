//! Which topics a test needs before its statements run, as ksqlDB's test driver creates them:
//! the `topics` list, the topics that `CREATE STREAM|TABLE` statements read (with their
//! `PARTITIONS`), and the topics of input and output records. Topics that a
//! `CREATE ... AS SELECT` writes are left to the engine, which creates them.

use std::collections::BTreeMap;

use sluice_parser::{ParsedStatement, Statement};

use crate::corpus::Variant;
use crate::json::Json;

/// Topic name → partition count, in creation order by name.
pub fn topics_to_create(v: &Variant) -> BTreeMap<String, i32> {
    let mut out: BTreeMap<String, i32> = BTreeMap::new();
    for t in &v.topics {
        out.insert(t.name.clone(), t.partitions.unwrap_or(1).max(1));
    }
    let mut sinks: Vec<String> = Vec::new();
    for text in &v.statements {
        match statement_topic(text) {
            // A statement's PARTITIONS counts unless the `topics` list gives one (that list
            // often only carries the topic's schemas).
            StatementTopic::Reads {
                topic,
                partitions: Some(p),
            } if !v
                .topics
                .iter()
                .any(|t| t.name == topic && t.partitions.is_some()) =>
            {
                out.insert(topic, p.max(1));
            }
            StatementTopic::Reads { topic, partitions } => {
                out.entry(topic).or_insert(partitions.unwrap_or(1).max(1));
            }
            StatementTopic::Writes(topic) => sinks.push(topic),
            StatementTopic::None => {}
        }
    }
    for r in &v.inputs {
        out.entry(r.topic.clone()).or_insert(1);
    }
    for r in &v.outputs {
        if !sinks.contains(&r.topic) {
            out.entry(r.topic.clone()).or_insert(1);
        }
    }
    out
}

#[derive(Debug, PartialEq)]
enum StatementTopic {
    /// `CREATE STREAM|TABLE` over this topic.
    Reads {
        topic: String,
        partitions: Option<i32>,
    },
    /// `CREATE ... AS SELECT` into this topic.
    Writes(String),
    None,
}

/// The topic a statement declares, from Sluice's parser or, when it cannot parse the
/// statement, from the text (`KAFKA_TOPIC='x'`, `PARTITIONS=n`).
fn statement_topic(text: &str) -> StatementTopic {
    if let Ok(parsed) = sluice_parser::parse(text) {
        if let Some(ParsedStatement { statement, .. }) = parsed.into_iter().next() {
            return match statement {
                Statement::CreateSource(cs) => StatementTopic::Reads {
                    topic: cs
                        .properties
                        .get_str("KAFKA_TOPIC")
                        .map(str::to_string)
                        .unwrap_or_else(|| cs.name.value.clone()),
                    partitions: cs.properties.get_int("PARTITIONS").map(|p| p as i32),
                },
                Statement::CreateAsSelect(c) => StatementTopic::Writes(
                    c.properties
                        .get_str("KAFKA_TOPIC")
                        .map(str::to_string)
                        .unwrap_or_else(|| c.name.value.clone()),
                ),
                _ => StatementTopic::None,
            };
        }
    }
    let upper = text.to_uppercase();
    let Some(topic) = property_text(text, &upper, "KAFKA_TOPIC") else {
        return StatementTopic::None;
    };
    let creates = upper.trim_start().starts_with("CREATE");
    let selects = upper.contains(" AS SELECT") || upper.contains("\nAS SELECT");
    if creates && selects {
        StatementTopic::Writes(topic)
    } else if creates {
        StatementTopic::Reads {
            topic,
            partitions: property_text(text, &upper, "PARTITIONS").and_then(|p| p.parse().ok()),
        }
    } else {
        StatementTopic::None
    }
}

/// The value of `NAME = 'text'` or `NAME = 123` in a WITH clause, found textually.
fn property_text(text: &str, upper: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(i) = upper[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok =
            at == 0 || !upper[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let rest = text[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let rest = rest[1..].trim_start();
        if let Some(quoted) = rest.strip_prefix('\'') {
            return quoted.find('\'').map(|end| quoted[..end].to_string());
        }
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        return Some(rest[..end].to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::{Record, TopicSpec};

    fn variant(statements: &[&str]) -> Variant {
        Variant {
            file: "f".into(),
            test: "t".into(),
            format: None,
            rest: false,
            statements: statements.iter().map(|s| s.to_string()).collect(),
            inputs: vec![],
            outputs: vec![],
            topics: vec![],
            properties: vec![],
            expected_error: None,
            post: None,
            responses: None,
            wait_for_push_query: false,
            verify_order: false,
            skip: None,
        }
    }

    fn rec(topic: &str) -> Record {
        Record {
            topic: topic.into(),
            key: Json::Null,
            value: Json::Null,
            timestamp: None,
            partition: None,
            window: None,
            headers: None,
        }
    }

    #[test]
    fn sources_inputs_and_foreign_outputs_are_created_sinks_are_not() {
        let mut v = variant(&[
            "CREATE STREAM S (ID INT KEY, V INT) WITH (kafka_topic='in', value_format='JSON', partitions=3);",
            "CREATE STREAM OUT WITH (kafka_topic='out_topic') AS SELECT * FROM S;",
            "CREATE STREAM X (V INT) WITH (kafka_topic='x', value_format='NOT_A_FORMAT');",
        ]);
        v.inputs = vec![rec("in"), rec("other")];
        v.outputs = vec![rec("out_topic"), rec("elsewhere")];
        v.topics = vec![TopicSpec {
            key_schema: None,
            value_schema: None,
            name: "listed".into(),
            partitions: Some(4),
            has_schema: false,
        }];
        let t = topics_to_create(&v);
        assert_eq!(t.get("in"), Some(&3));
        assert_eq!(t.get("listed"), Some(&4));
        assert_eq!(t.get("other"), Some(&1));
        assert_eq!(t.get("elsewhere"), Some(&1));
        assert_eq!(t.get("x"), Some(&1));
        assert!(!t.contains_key("out_topic"), "{t:?}");
    }

    #[test]
    fn textual_fallback_reads_with_clause() {
        let s = "CREATE STREAM S (A ???) WITH (KAFKA_TOPIC = 'abc', PARTITIONS = 2);";
        assert_eq!(
            statement_topic(s),
            StatementTopic::Reads {
                topic: "abc".into(),
                partitions: Some(2)
            }
        );
        let s = "CREATE TABLE T ??? WITH (kafka_topic='t2') AS SELECT ???";
        assert_eq!(statement_topic(s), StatementTopic::Writes("t2".into()));
        assert_eq!(statement_topic("SELECT 1;"), StatementTopic::None);
    }
}

/// Registers the test's AVRO registry schemas (`topics[].keySchema` / `valueSchema`) under
/// `<topic>-key` / `<topic>-value`, with the test's ids when it gives them (AVRO, PROTOBUF and
/// JSON_SR schemas).
pub fn register_schemas(
    v: &Variant,
    registry: &sluice_registry::LocalRegistry,
) -> Result<(), String> {
    let mut referenced = Vec::new();
    for t in &v.topics {
        for (spec, key) in [(&t.key_schema, true), (&t.value_schema, false)] {
            let Some(spec) = spec else { continue };
            let schema = match spec.format.as_deref() {
                None | Some("AVRO") => {
                    let text = spec.schema.to_string();
                    if sluice_formats::avro::parse(&text).is_err() {
                        continue;
                    }
                    sluice_registry::Schema::avro(text)
                }
                Some("PROTOBUF") => match &spec.schema {
                    Json::String(text) => sluice_registry::Schema::new(
                        sluice_registry::SchemaType::Protobuf,
                        text.clone(),
                    ),
                    _ => continue,
                },
                Some("JSON_SR" | "JSON") => sluice_registry::Schema::new(
                    sluice_registry::SchemaType::Json,
                    match &spec.schema {
                        Json::String(text) => text.clone(),
                        other => other.to_string(),
                    },
                ),
                Some(_) => continue,
            };
            // Referenced schemas under their import names as subjects (version 1 of a new
            // subject), registered after the test's own schemas, as ksqlDB's harness numbers
            // them: its own schemas get the first ids.
            let references: Vec<sluice_registry::SchemaReference> = spec
                .references
                .iter()
                .map(|(name, _)| sluice_registry::SchemaReference {
                    name: name.clone(),
                    subject: name.clone(),
                    version: 1,
                })
                .collect();
            let schema = schema.with_references(references);
            let subject = sluice_registry::subject_name(&t.name, key);
            match spec.id {
                Some(id) => registry.register_with_id(&subject, &schema, id),
                None => sluice_registry::SchemaRegistry::register(registry, &subject, &schema),
            }
            .map_err(|e| format!("cannot register the schema of {subject}: {e}"))?;
            for (name, text) in &spec.references {
                referenced.push((
                    name.clone(),
                    sluice_registry::Schema::new(schema.schema_type, text.clone()),
                ));
            }
        }
    }
    // Referenced schemas last, so that the ids the test gives its own schemas stay free.
    for (name, schema) in referenced {
        sluice_registry::SchemaRegistry::register(registry, &name, &schema)
            .map_err(|e| format!("cannot register the referenced schema {name}: {e}"))?;
    }
    Ok(())
}
