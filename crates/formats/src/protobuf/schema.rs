//! Protobuf schemas: `.proto` text (and the files it imports) compiled into descriptors, the
//! KSQL columns a message gives (ksqlDB's schema inference), and the `.proto` text ksqlDB
//! generates for a set of columns.
//!
//! The type mapping is Kafka Connect's `ProtobufData` as ksqlDB uses it: `int32`, `sint32`,
//! `sfixed32` → INT; `int64`, `sint64`, `sfixed64`, `uint32`, `fixed32`, `uint64`, `fixed64` →
//! BIGINT; `float`, `double` → DOUBLE; `bool` → BOOLEAN; `string` and enums → STRING; `bytes` →
//! BYTES; `repeated` → ARRAY; `map<string, V>` → MAP; messages → STRUCT; the wrappers
//! (`google.protobuf.Int32Value`, ...) → their nullable primitive; `google.protobuf.Timestamp`
//! → TIMESTAMP; `google.type.Date` → DATE; `google.type.TimeOfDay` → TIME;
//! `confluent.type.Decimal` → DECIMAL with the precision and scale of its `confluent.field_meta`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, TimeUnit};
use prost_reflect::{DescriptorPool, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use crate::format::NullableRepresentation;
use crate::types::{ksql_type_name, map_key_value, map_type};
use crate::Part;

/// The name the root schema text is compiled under.
const ROOT: &str = "__sluice_root.proto";

/// Files every schema may import besides Google's well-known types: Confluent's decimal type
/// and field metadata, and the `google.type` date and time of day. The decimal file imports the
/// metadata publicly: schemas in the wild annotate decimals with `confluent.field_meta` after
/// importing only `confluent/type/decimal.proto`, which Confluent's registry accepts.
const BUILTIN: &[(&str, &str)] = &[
    (
        "confluent/meta.proto",
        "syntax = \"proto3\";\npackage confluent;\nimport \"google/protobuf/descriptor.proto\";\n\
         message Meta { string doc = 1; map<string, string> params = 2; }\n\
         extend google.protobuf.FileOptions { Meta file_meta = 1088; }\n\
         extend google.protobuf.MessageOptions { Meta message_meta = 1088; }\n\
         extend google.protobuf.FieldOptions { Meta field_meta = 1088; }\n\
         extend google.protobuf.EnumOptions { Meta enum_meta = 1088; }\n\
         extend google.protobuf.EnumValueOptions { Meta enum_value_meta = 1088; }\n",
    ),
    (
        "confluent/type/decimal.proto",
        "syntax = \"proto3\";\npackage confluent.type;\n\
         import public \"confluent/meta.proto\";\n\
         message Decimal { bytes value = 1; uint32 precision = 2; int32 scale = 3; }\n",
    ),
    (
        "google/type/date.proto",
        "syntax = \"proto3\";\npackage google.type;\n\
         message Date { int32 year = 1; int32 month = 2; int32 day = 3; }\n",
    ),
    (
        "google/type/timeofday.proto",
        "syntax = \"proto3\";\npackage google.type;\n\
         message TimeOfDay { int32 hours = 1; int32 minutes = 2; int32 seconds = 3; int32 nanos = 4; }\n",
    ),
];

struct MemoryFiles(HashMap<String, String>);

impl FileResolver for MemoryFiles {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.0.get(name) {
            Some(source) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// `text` as a base64-encoded `FileDescriptorProto`, when it is one (`.proto` source always
/// has spaces, `;` or `{`, which base64 never has).
fn binary_descriptor(text: &str) -> Option<prost_reflect::prost_types::FileDescriptorProto> {
    use prost_reflect::prost::Message as _;
    let t = text.trim();
    if t.is_empty() || t.contains(|c: char| c.is_whitespace() || c == ';' || c == '{') {
        return None;
    }
    let mut bytes = Vec::with_capacity(t.len() * 3 / 4);
    crate::text::base64_decode(&mut bytes, t).ok()?;
    prost_reflect::prost_types::FileDescriptorProto::decode(bytes.as_slice()).ok()
}

/// The files `schema` imports through registry references, by import name: each reference's
/// text, and those of its own references.
pub fn referenced_files(
    registry: &dyn sluice_registry::SchemaRegistry,
    schema: &sluice_registry::Schema,
) -> Result<Vec<(String, String)>, String> {
    const MAX_FILES: usize = 256;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut pending = schema.references.clone();
    while let Some(r) = pending.pop() {
        if out.iter().any(|(name, _)| *name == r.name) {
            continue;
        }
        if out.len() >= MAX_FILES {
            return Err(format!(
                "Invalid Protobuf schema: more than {MAX_FILES} referenced schemas"
            ));
        }
        let found = registry
            .version(&r.subject, r.version)
            .map_err(|e| format!("Failed to fetch the referenced schema {}: {e}", r.name))?
            .ok_or_else(|| {
                format!(
                    "Invalid Protobuf schema: reference '{}' (subject '{}', version {}) is not registered",
                    r.name, r.subject, r.version
                )
            })?;
        pending.extend(found.schema.references.iter().cloned());
        out.push((r.name, found.schema.text));
    }
    Ok(out)
}

/// A compiled schema: its root file and everything it imports.
#[derive(Debug, Clone)]
pub struct ProtoSchema {
    file: FileDescriptor,
}

impl ProtoSchema {
    /// Compile schema `text`; `references` are the files it imports, by import name.
    ///
    /// `text` is `.proto` source, or a base64-encoded `FileDescriptorProto` (the form Confluent's
    /// Python and Go serializers register).
    pub fn compile(text: &str, references: &[(String, String)]) -> Result<Self, String> {
        let compiler = |files: HashMap<String, String>| {
            let mut all: HashMap<String, String> = BUILTIN
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect();
            all.extend(references.iter().cloned());
            all.extend(files);
            let mut chain = ChainFileResolver::new();
            chain.add(MemoryFiles(all));
            chain.add(GoogleFileResolver::new());
            let mut compiler = protox::Compiler::with_file_resolver(chain);
            compiler.include_imports(true);
            compiler
        };
        if let Some(descriptor) = binary_descriptor(text) {
            // Its imports are compiled from source, then the descriptor joins their pool.
            let mut c = compiler(HashMap::new());
            for dep in &descriptor.dependency {
                c.open_file(dep)
                    .map_err(|e| format!("Invalid Protobuf schema: {e}"))?;
            }
            let mut pool: DescriptorPool = c.descriptor_pool();
            let name = descriptor.name().to_string();
            pool.add_file_descriptor_proto(descriptor)
                .map_err(|e| format!("Invalid Protobuf schema: {e}"))?;
            let file = pool
                .get_file_by_name(&name)
                .ok_or("Invalid Protobuf schema: the descriptor did not load")?;
            return Ok(ProtoSchema { file });
        }
        let mut c = compiler(HashMap::from([(ROOT.to_string(), text.to_string())]));
        c.open_file(ROOT)
            .map_err(|e| format!("Invalid Protobuf schema: {e}"))?;
        let pool: DescriptorPool = c.descriptor_pool();
        let file = pool
            .get_file_by_name(ROOT)
            .ok_or("Invalid Protobuf schema: the schema did not compile")?;
        Ok(ProtoSchema { file })
    }

    /// Compile a registered schema, with the files its registry references name (followed
    /// recursively: a referenced schema's own references too).
    pub fn from_registry(
        registry: &dyn sluice_registry::SchemaRegistry,
        schema: &sluice_registry::Schema,
    ) -> Result<Self, String> {
        Self::compile(&schema.text, &referenced_files(registry, schema)?)
    }

    /// The message records are written as: `full_name` (with or without its package) when
    /// given, else the schema's first message.
    pub fn message(&self, full_name: Option<&str>) -> Result<MessageDescriptor, String> {
        match full_name {
            Some(name) => {
                let pool = self.file.parent_pool();
                let package = self.file.package_name();
                pool.get_message_by_name(name)
                    .or_else(|| {
                        (!package.is_empty())
                            .then(|| pool.get_message_by_name(&format!("{package}.{name}")))
                            .flatten()
                    })
                    .ok_or_else(|| format!("Schema does not contain the message {name}"))
            }
            None => self
                .file
                .messages()
                .next()
                .ok_or_else(|| "The Protobuf schema defines no message".to_string()),
        }
    }

    /// The message at Confluent's message-index path (`[0]` is the first top-level message).
    pub fn message_at(&self, path: &[usize]) -> Result<MessageDescriptor, String> {
        let bad = || format!("No Protobuf message at index path {path:?}");
        let (first, rest) = path.split_first().ok_or_else(bad)?;
        let mut m = self.file.messages().nth(*first).ok_or_else(bad)?;
        for i in rest {
            let next = m.child_messages().nth(*i).ok_or_else(bad)?;
            m = next;
        }
        Ok(m)
    }
}

/// Confluent's message-index path of `m`: its position among its siblings, from the top.
pub fn message_path(m: &MessageDescriptor) -> Vec<usize> {
    let mut path = Vec::new();
    let mut cur = m.clone();
    loop {
        match cur.parent_message() {
            Some(p) => {
                path.push(
                    p.child_messages()
                        .position(|c| c.full_name() == cur.full_name())
                        .unwrap_or(0),
                );
                cur = p;
            }
            None => {
                path.push(
                    cur.parent_file()
                        .messages()
                        .position(|c| c.full_name() == cur.full_name())
                        .unwrap_or(0),
                );
                break;
            }
        }
    }
    path.reverse();
    path
}

const MAX_DEPTH: usize = 32;

/// The well-known messages that read as one KSQL value rather than a STRUCT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    /// `google.protobuf.*Value`: field 1 of the given kind, absent message = null.
    Wrapper,
    Timestamp,
    Date,
    TimeOfDay,
    Decimal,
}

pub(crate) fn special(m: &MessageDescriptor) -> Option<Special> {
    Some(match m.full_name() {
        "google.protobuf.BoolValue"
        | "google.protobuf.Int32Value"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.UInt64Value"
        | "google.protobuf.FloatValue"
        | "google.protobuf.DoubleValue"
        | "google.protobuf.StringValue"
        | "google.protobuf.BytesValue" => Special::Wrapper,
        "google.protobuf.Timestamp" => Special::Timestamp,
        "google.type.Date" => Special::Date,
        "google.type.TimeOfDay" => Special::TimeOfDay,
        "confluent.type.Decimal" => Special::Decimal,
        _ => return None,
    })
}

/// Precision and scale of a `confluent.type.Decimal` field, from its `confluent.field_meta`
/// parameters (ksqlDB's defaults when absent: precision 64 capped to 38, scale 0).
pub(crate) fn decimal_params(f: &FieldDescriptor) -> (u8, i8) {
    let mut precision = 38u8;
    let mut scale = 0i8;
    let pool = f.parent_pool();
    if let Some(ext) = pool.get_extension_by_name("confluent.field_meta") {
        let options = f.options();
        if options.has_extension(&ext) {
            if let prost_reflect::Value::Message(meta) = options.get_extension(&ext).as_ref() {
                if let Some(prost_reflect::Value::Map(params)) =
                    meta.get_field_by_name("params").as_deref()
                {
                    for (k, v) in params {
                        if let (prost_reflect::MapKey::String(k), prost_reflect::Value::String(v)) =
                            (k, v)
                        {
                            match k.as_str() {
                                "precision" => precision = v.parse().unwrap_or(precision),
                                "scale" => scale = v.parse().unwrap_or(scale),
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
    }
    (precision.min(38), scale)
}

/// The KSQL type of a message's field.
pub(crate) fn field_type(
    f: &FieldDescriptor,
    upper: bool,
    depth: usize,
) -> Result<DataType, String> {
    if depth > MAX_DEPTH {
        return Err(
            "Protobuf schema nests too deeply (recursive messages are not supported)".into(),
        );
    }
    if f.is_map() {
        let Kind::Message(entry) = f.kind() else {
            return Err(format!("malformed map field {}", f.name()));
        };
        let k = kind_type(&entry.map_entry_key_field(), upper, depth + 1)?;
        let v = kind_type(&entry.map_entry_value_field(), upper, depth + 1)?;
        return Ok(map_type(k, v));
    }
    let t = kind_type(f, upper, depth)?;
    Ok(if f.is_list() {
        DataType::List(Arc::new(Field::new("item", t, true)))
    } else {
        t
    })
}

/// The KSQL type of one value of a field's kind (ignoring `repeated`).
fn kind_type(f: &FieldDescriptor, upper: bool, depth: usize) -> Result<DataType, String> {
    Ok(match f.kind() {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => DataType::Int32,
        Kind::Int64
        | Kind::Sint64
        | Kind::Sfixed64
        | Kind::Uint32
        | Kind::Fixed32
        | Kind::Uint64
        | Kind::Fixed64 => DataType::Int64,
        Kind::Float | Kind::Double => DataType::Float64,
        Kind::Bool => DataType::Boolean,
        Kind::String | Kind::Enum(_) => DataType::Utf8,
        Kind::Bytes => DataType::Binary,
        Kind::Message(m) => match special(&m) {
            Some(Special::Wrapper) => {
                let inner = m
                    .get_field(1)
                    .ok_or_else(|| format!("malformed wrapper {}", m.full_name()))?;
                kind_type(&inner, upper, depth + 1)?
            }
            Some(Special::Timestamp) => DataType::Timestamp(TimeUnit::Millisecond, None),
            Some(Special::Date) => DataType::Date32,
            Some(Special::TimeOfDay) => DataType::Time32(TimeUnit::Millisecond),
            Some(Special::Decimal) => {
                let (p, s) = decimal_params(f);
                DataType::Decimal128(p, s)
            }
            None => DataType::Struct(message_fields(&m, upper, depth + 1)?),
        },
    })
}

/// A message's fields as KSQL columns (names upper-cased when `upper`).
pub(crate) fn message_fields(
    m: &MessageDescriptor,
    upper: bool,
    depth: usize,
) -> Result<Fields, String> {
    if depth > MAX_DEPTH {
        return Err(
            "Protobuf schema nests too deeply (recursive messages are not supported)".into(),
        );
    }
    m.fields()
        .map(|f| {
            let name = if upper {
                f.name().to_uppercase()
            } else {
                f.name().to_string()
            };
            Ok(Field::new(name, field_type(&f, upper, depth)?, true))
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Fields::from)
}

/// The columns a schema gives a part of the record (ksqlDB's schema inference): the fields of
/// the message (`full_name`, else the first). ksqlDB upper-cases the names unless the schema was
/// pinned by id (`keep_names`). `references` are the files the schema imports (see
/// [`referenced_files`]).
pub fn infer_columns(
    text: &str,
    references: &[(String, String)],
    full_name: Option<&str>,
    keep_names: bool,
) -> Result<Vec<Field>, String> {
    let schema = ProtoSchema::compile(text, references)?;
    let m = schema.message(full_name)?;
    Ok(message_fields(&m, !keep_names, 0)?
        .iter()
        .map(|f| f.as_ref().clone())
        .collect())
}

/// Check, at CREATE time, that PROTOBUF can carry `fields`: maps need STRING keys, and protobuf
/// has no list of lists or list of maps.
pub fn validate(fields: &[FieldRef]) -> Result<(), String> {
    fn check(dt: &DataType) -> Result<(), String> {
        match dt {
            DataType::Map(entries, _) => {
                let (k, v) = map_key_value(entries).ok_or("malformed MAP")?;
                if k.data_type() != &DataType::Utf8 {
                    return Err("PROTOBUF format only supports MAP types with STRING keys".into());
                }
                if matches!(v.data_type(), DataType::List(_) | DataType::Map(..)) {
                    return Err(format!(
                        "PROTOBUF format does not support {}: map values cannot be arrays or maps",
                        ksql_type_name(dt)
                    ));
                }
                check(v.data_type())
            }
            DataType::List(item) => {
                if matches!(item.data_type(), DataType::List(_) | DataType::Map(..)) {
                    return Err(format!(
                        "PROTOBUF format does not support {}: array elements cannot be arrays or maps",
                        ksql_type_name(dt)
                    ));
                }
                check(item.data_type())
            }
            DataType::Struct(fs) => fs.iter().try_for_each(|f| check(f.data_type())),
            _ => Ok(()),
        }
    }
    for f in fields {
        check(f.data_type())?;
    }
    Ok(())
}

/// The `.proto` text ksqlDB generates for columns `fields` of `part`: one message
/// (`ConnectDefault1`, or `full_name`) with a field per column numbered from 1, nested messages
/// `ConnectDefault2`, ... for structs, and nullable primitives represented as `nullable` says.
pub fn schema_for_columns(
    fields: &[FieldRef],
    _part: Part,
    full_name: Option<&str>,
    nullable: NullableRepresentation,
) -> Result<String, String> {
    validate(fields)?;
    let mut g = Gen {
        next: 1,
        imports: Vec::new(),
        nullable,
    };
    let (package, name) = match full_name {
        Some(n) => match n.rsplit_once('.') {
            Some((p, n)) => (Some(p.to_string()), n.to_string()),
            None => (None, n.to_string()),
        },
        None => (None, g.fresh()),
    };
    let body = g.message(&name, fields.iter().map(|f| f.as_ref()), 0)?;
    let mut out = String::from("syntax = \"proto3\";\n");
    if let Some(p) = package {
        let _ = writeln!(out, "package {p};");
    }
    out.push('\n');
    for i in &g.imports {
        let _ = writeln!(out, "import \"{i}\";");
    }
    if !g.imports.is_empty() {
        out.push('\n');
    }
    out.push_str(&body);
    Ok(out)
}

struct Gen {
    next: usize,
    imports: Vec<&'static str>,
    nullable: NullableRepresentation,
}

impl Gen {
    fn fresh(&mut self) -> String {
        let n = format!("ConnectDefault{}", self.next);
        self.next += 1;
        n
    }

    fn import(&mut self, file: &'static str) {
        if !self.imports.contains(&file) {
            self.imports.push(file);
        }
    }

    fn message<'a>(
        &mut self,
        name: &str,
        fields: impl Iterator<Item = &'a Field>,
        depth: usize,
    ) -> Result<String, String> {
        let indent = "  ".repeat(depth);
        let mut body = String::new();
        let mut nested = String::new();
        for (i, f) in fields.enumerate() {
            let number = i + 1;
            let fname = f.name();
            if fname.is_empty()
                || !fname.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || fname.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(format!(
                    "Column `{fname}` cannot be a PROTOBUF field: names are letters, digits and _"
                ));
            }
            let (label, ty, options) = self.field(f.data_type(), &mut nested, depth, true)?;
            let _ = writeln!(body, "{indent}  {label}{ty} {fname} = {number}{options};");
        }
        Ok(format!(
            "{indent}message {name} {{\n{body}{nested}{indent}}}\n"
        ))
    }

    /// (label, type, options) of a field of type `dt`; nested messages go into `nested`.
    fn field(
        &mut self,
        dt: &DataType,
        nested: &mut String,
        depth: usize,
        top: bool,
    ) -> Result<(String, String, String), String> {
        let scalar = |s: &str, wrapper: &str, g: &mut Gen| {
            if !top {
                return (String::new(), s.to_string());
            }
            match g.nullable {
                NullableRepresentation::Default => (String::new(), s.to_string()),
                NullableRepresentation::Optional => ("optional ".to_string(), s.to_string()),
                NullableRepresentation::Wrapper => {
                    g.import("google/protobuf/wrappers.proto");
                    (String::new(), format!("google.protobuf.{wrapper}"))
                }
            }
        };
        let (label, ty) = match dt {
            DataType::Boolean => scalar("bool", "BoolValue", self),
            DataType::Int32 => scalar("int32", "Int32Value", self),
            DataType::Int64 => scalar("int64", "Int64Value", self),
            DataType::Float64 => scalar("double", "DoubleValue", self),
            DataType::Utf8 => scalar("string", "StringValue", self),
            DataType::Binary => scalar("bytes", "BytesValue", self),
            DataType::Decimal128(p, s) => {
                self.import("confluent/meta.proto");
                self.import("confluent/type/decimal.proto");
                return Ok((
                    String::new(),
                    "confluent.type.Decimal".into(),
                    format!(
                        " [(confluent.field_meta) = {{ params: [{{ key: \"precision\", value: \"{p}\" }}, {{ key: \"scale\", value: \"{s}\" }}] }}]"
                    ),
                ));
            }
            DataType::Date32 => {
                self.import("google/type/date.proto");
                (String::new(), "google.type.Date".into())
            }
            DataType::Time32(_) => {
                self.import("google/type/timeofday.proto");
                (String::new(), "google.type.TimeOfDay".into())
            }
            DataType::Timestamp(..) => {
                self.import("google/protobuf/timestamp.proto");
                (String::new(), "google.protobuf.Timestamp".into())
            }
            DataType::List(item) => {
                let (_, ty, options) = self.field(item.data_type(), nested, depth, false)?;
                return Ok(("repeated ".into(), ty, options));
            }
            DataType::Map(entries, _) => {
                let (_, v) = map_key_value(entries).ok_or("malformed MAP")?;
                let (_, vt, _) = self.field(v.data_type(), nested, depth, false)?;
                (String::new(), format!("map<string, {vt}>"))
            }
            DataType::Struct(fs) => {
                let name = self.fresh();
                let text = self.message(&name, fs.iter().map(|f| f.as_ref()), depth + 1)?;
                nested.push_str(&text);
                (String::new(), name)
            }
            other => {
                return Err(format!(
                    "PROTOBUF cannot carry {}",
                    crate::types::ksql_type_name(other)
                ))
            }
        };
        Ok((label, ty, String::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_file_descriptors_compile_like_their_source() {
        use prost_reflect::prost::Message as _;
        let source = "syntax = \"proto3\"; package com.example; \
                      import \"google/protobuf/timestamp.proto\"; \
                      message Order { int64 id = 1; repeated string tags = 2; \
                      google.protobuf.Timestamp at = 3; }";
        let from_source = ProtoSchema::compile(source, &[]).unwrap();
        let bytes = from_source.file.file_descriptor_proto().encode_to_vec();
        let mut b64 = Vec::new();
        crate::text::base64_encode(&mut b64, &bytes);
        let b64 = String::from_utf8(b64).unwrap();
        let from_binary = ProtoSchema::compile(&b64, &[]).unwrap();
        let m = from_binary.message(Some("Order")).unwrap();
        let fields: Vec<String> = m.fields().map(|f| f.name().to_string()).collect();
        assert_eq!(fields, ["id", "tags", "at"]);
        let cols = infer_columns(&b64, &[], None, false).unwrap();
        assert_eq!(cols[2].name(), "AT");
        // Not base64 of a descriptor: compiled as source, with the compiler's error.
        assert!(ProtoSchema::compile("bm90IGEgZGVzY3JpcHRvcg", &[]).is_err());
    }

    #[test]
    fn infers_columns_with_ksqldb_types() {
        let cols = infer_columns(
            "syntax = \"proto3\"; import \"confluent/type/decimal.proto\"; import \"google/protobuf/wrappers.proto\"; \
             message M { bool c1 = 1; int32 c2 = 2; uint32 c3 = 3; float c4 = 4; string c5 = 5; \
             confluent.type.Decimal c6 = 6 [(confluent.field_meta) = { params: [{ value: \"4\", key: \"precision\" }, { value: \"2\", key: \"scale\" }]}]; \
             google.protobuf.Int32Value c7 = 7; repeated string c8 = 8; map<string, double> c9 = 9; \
             message N { sint64 f = 1; } N c10 = 10; enum E { A = 0; } E c11 = 11; }",
            &[],
            None,
            false,
        )
        .unwrap();
        let names: Vec<_> = cols.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10", "C11"]
        );
        let types: Vec<_> = cols.iter().map(|f| ksql_type_name(f.data_type())).collect();
        assert_eq!(
            types,
            [
                "BOOLEAN",
                "INTEGER",
                "BIGINT",
                "DOUBLE",
                "STRING",
                "DECIMAL(4, 2)",
                "INTEGER",
                "ARRAY<STRING>",
                "MAP<STRING, DOUBLE>",
                "STRUCT<`F` BIGINT>",
                "STRING"
            ]
        );
        let kept = infer_columns(
            "syntax = \"proto3\"; message M { int32 c1 = 1; }",
            &[],
            None,
            true,
        )
        .unwrap();
        assert_eq!(kept[0].name(), "c1");
    }

    #[test]
    fn picks_messages_by_name_and_path() {
        let s = ProtoSchema::compile(
            "syntax = \"proto3\"; package p; message A { message B { int32 x = 1; } } message C { string y = 1; }",
            &[],
        )
        .unwrap();
        assert_eq!(s.message(None).unwrap().full_name(), "p.A");
        assert_eq!(s.message(Some("C")).unwrap().full_name(), "p.C");
        assert_eq!(s.message(Some("p.A.B")).unwrap().full_name(), "p.A.B");
        assert!(s.message(Some("Nope")).is_err());
        let b = s.message(Some("p.A.B")).unwrap();
        assert_eq!(message_path(&b), vec![0, 0]);
        assert_eq!(s.message_at(&[0, 0]).unwrap().full_name(), "p.A.B");
        assert_eq!(message_path(&s.message(Some("C")).unwrap()), vec![1]);
    }

    #[test]
    fn generated_schemas_compile_and_infer_back() {
        let st = DataType::Struct(Fields::from(vec![Field::new("F0", DataType::Int32, true)]));
        let fields: Vec<FieldRef> = vec![
            Arc::new(Field::new("I", DataType::Int32, true)),
            Arc::new(Field::new("D", DataType::Decimal128(10, 3), true)),
            Arc::new(Field::new("S", st, true)),
            Arc::new(Field::new(
                "A",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            )),
            Arc::new(Field::new(
                "M",
                map_type(DataType::Utf8, DataType::Float64),
                true,
            )),
            Arc::new(Field::new(
                "T",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            )),
            Arc::new(Field::new("DT", DataType::Date32, true)),
            Arc::new(Field::new(
                "TM",
                DataType::Time32(TimeUnit::Millisecond),
                true,
            )),
        ];
        for nullable in [
            NullableRepresentation::Default,
            NullableRepresentation::Optional,
            NullableRepresentation::Wrapper,
        ] {
            let text = schema_for_columns(&fields, Part::Value, None, nullable).unwrap();
            assert!(text.contains("message ConnectDefault1 {"), "{text}");
            let back = infer_columns(&text, &[], None, true).unwrap();
            let want: Vec<_> = fields
                .iter()
                .map(|f| ksql_type_name(f.data_type()))
                .collect();
            let got: Vec<_> = back.iter().map(|f| ksql_type_name(f.data_type())).collect();
            assert_eq!(got, want, "{text}");
        }
        let text = schema_for_columns(
            &fields[..1],
            Part::Key,
            Some("a.b.Key"),
            NullableRepresentation::Default,
        )
        .unwrap();
        assert!(
            text.contains("package a.b;") && text.contains("message Key {"),
            "{text}"
        );
        let bad = vec![Arc::new(Field::new(
            "M",
            map_type(DataType::Int32, DataType::Int32),
            true,
        ))];
        assert_eq!(
            schema_for_columns(&bad, Part::Value, None, NullableRepresentation::Default)
                .unwrap_err(),
            "PROTOBUF format only supports MAP types with STRING keys"
        );
    }
}
