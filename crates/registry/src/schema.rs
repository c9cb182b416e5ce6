//! What a registry stores: a schema's type and text, and where it was registered.

use serde::{Deserialize, Serialize};

/// The kinds of schema Confluent's registry knows (`schemaType`; AVRO when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    Avro,
    Protobuf,
    Json,
}

impl SchemaType {
    /// The name used in the REST API's `schemaType`.
    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        }
    }

    /// Parses a REST API `schemaType` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "AVRO" => Some(SchemaType::Avro),
            "PROTOBUF" => Some(SchemaType::Protobuf),
            "JSON" => Some(SchemaType::Json),
            _ => None,
        }
    }
}

/// Another registered schema a schema imports (a `.proto` `import`): the name it is imported
/// by, and the subject and version it is registered under (Confluent's `references`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SchemaReference {
    pub name: String,
    pub subject: String,
    pub version: u32,
}

/// A schema document: its type, its text (Avro / JSON Schema JSON, or a `.proto` file) and the
/// registered schemas it references.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Schema {
    pub schema_type: SchemaType,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

impl Schema {
    pub fn new(schema_type: SchemaType, text: impl Into<String>) -> Self {
        Schema {
            schema_type,
            text: text.into(),
            references: Vec::new(),
        }
    }

    /// The same schema referencing `references`.
    pub fn with_references(mut self, references: Vec<SchemaReference>) -> Self {
        self.references = references;
        self
    }

    pub fn avro(text: impl Into<String>) -> Self {
        Self::new(SchemaType::Avro, text)
    }

    /// The text two schemas are compared by: JSON documents re-serialized compactly (so
    /// whitespace does not matter), `.proto` files with surrounding whitespace trimmed.
    pub fn normalized(&self) -> String {
        let text = match self.schema_type {
            SchemaType::Avro | SchemaType::Json => {
                match serde_json::from_str::<serde_json::Value>(&self.text) {
                    Ok(v) => v.to_string(),
                    Err(_) => self.text.trim().to_string(),
                }
            }
            SchemaType::Protobuf => self.text.trim().to_string(),
        };
        if self.references.is_empty() {
            return text;
        }
        let refs: Vec<String> = self
            .references
            .iter()
            .map(|r| format!("{}={}/{}", r.name, r.subject, r.version))
            .collect();
        format!("{text}\nreferences: {}", refs.join(", "))
    }
}

/// A schema as registered: its global id, and the subject and version it was found under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub id: u32,
    pub subject: String,
    pub version: u32,
    pub schema: Schema,
}
