//! Which format a key or value uses, its options, and the CREATE-time check that the format can
//! carry a set of columns.

use std::fmt;
use std::str::FromStr;

use datafusion::arrow::datatypes::{DataType, FieldRef};

use crate::types::{
    base_type_name, contains_map, has_non_string_map_key, ksql_type_name, unsupported_part,
};
use crate::FormatError;

/// The serialization formats Sluice implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatKind {
    /// JSON documents (ksqlDB `JSON`), with ksqlDB's lenient coercions on read.
    Json,
    /// One line of delimiter-separated values with CSV quoting (ksqlDB `DELIMITED`).
    Delimited,
    /// Kafka's own primitive serializers (ksqlDB `KAFKA`): one INT, BIGINT, DOUBLE, STRING or BYTES.
    Kafka,
    /// No data at all (ksqlDB `NONE`): zero columns, the bytes are ignored.
    None,
    /// Avro datums in Confluent's schema-registry framing (ksqlDB `AVRO`).
    Avro,
    /// Protobuf messages in Confluent's schema-registry framing (ksqlDB `PROTOBUF`).
    Protobuf,
    /// Bare Protobuf messages of the schema generated from the columns (ksqlDB `PROTOBUF_NOSR`).
    ProtobufNoSr,
    /// JSON documents in Confluent's schema-registry framing (ksqlDB `JSON_SR`).
    JsonSr,
}

/// How PROTOBUF represents a nullable primitive (`KEY_/VALUE_PROTOBUF_NULLABLE_REPRESENTATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NullableRepresentation {
    /// Plain proto3 fields: a null is written as absent and read back as the type's default.
    #[default]
    Default,
    /// `optional` fields: absent reads as null.
    Optional,
    /// `google.protobuf.*Value` wrapper messages: absent reads as null.
    Wrapper,
}

impl FromStr for NullableRepresentation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "OPTIONAL" => Ok(NullableRepresentation::Optional),
            "WRAPPER" => Ok(NullableRepresentation::Wrapper),
            other => Err(format!(
                "Invalid value {other} for nullable representation: expected OPTIONAL or WRAPPER"
            )),
        }
    }
}

impl FormatKind {
    /// The format's name as ksqlDB spells it (`JSON`, `DELIMITED`, `KAFKA`, `NONE`).
    pub fn name(self) -> &'static str {
        match self {
            FormatKind::Json => "JSON",
            FormatKind::Delimited => "DELIMITED",
            FormatKind::Kafka => "KAFKA",
            FormatKind::None => "NONE",
            FormatKind::Avro => "AVRO",
            FormatKind::Protobuf => "PROTOBUF",
            FormatKind::ProtobufNoSr => "PROTOBUF_NOSR",
            FormatKind::JsonSr => "JSON_SR",
        }
    }

    /// Whether records carry a schema registry id (AVRO, PROTOBUF, JSON_SR).
    pub fn uses_schema_registry(self) -> bool {
        matches!(
            self,
            FormatKind::Avro | FormatKind::Protobuf | FormatKind::JsonSr
        )
    }

    /// Whether `WRAP_SINGLE_VALUE` may be set to `wrap` for this format (ksqlDB's WRAP_SINGLES /
    /// UNWRAP_SINGLES serde features).
    pub fn supports_wrap_setting(self, wrap: bool) -> bool {
        match self {
            FormatKind::Json | FormatKind::JsonSr | FormatKind::Avro => true,
            FormatKind::Delimited | FormatKind::Kafka => !wrap,
            FormatKind::Protobuf | FormatKind::ProtobufNoSr => wrap,
            FormatKind::None => false,
        }
    }
}

impl fmt::Display for FormatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FormatKind {
    type Err = FormatError;

    /// Case-insensitive: `json`, `Json` and `JSON` are all [`FormatKind::Json`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        match upper.as_str() {
            "JSON" => Ok(FormatKind::Json),
            "DELIMITED" => Ok(FormatKind::Delimited),
            "KAFKA" => Ok(FormatKind::Kafka),
            "NONE" => Ok(FormatKind::None),
            "AVRO" => Ok(FormatKind::Avro),
            "PROTOBUF" => Ok(FormatKind::Protobuf),
            "PROTOBUF_NOSR" => Ok(FormatKind::ProtobufNoSr),
            "JSON_SR" => Ok(FormatKind::JsonSr),
            _ => Err(FormatError::UnknownFormat(upper)),
        }
    }
}

/// Options of a format as given in the WITH clause of a statement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FormatOptions {
    /// `KEY_DELIMITER` / `VALUE_DELIMITER` as written: one character, or `TAB` or `SPACE`.
    /// Only DELIMITED accepts it; DELIMITED defaults to `,`.
    pub delimiter: Option<String>,
    /// `WRAP_SINGLE_VALUE`, for values only (ignored for keys). `None` means the format's
    /// default: JSON wraps a single value column in an object, DELIMITED and KAFKA never wrap.
    pub wrap_single_value: Option<bool>,
    /// `KEY_SCHEMA_ID` / `VALUE_SCHEMA_ID`: the registered schema records are written with.
    /// For schema-registry formats the engine sets it when it registers a generated schema.
    pub schema_id: Option<u32>,
    /// `KEY_SCHEMA_FULL_NAME` / `VALUE_SCHEMA_FULL_NAME` (`VALUE_AVRO_SCHEMA_FULL_NAME`): the
    /// name of the record schema generated for the part.
    pub full_schema_name: Option<String>,
    /// `KEY_/VALUE_PROTOBUF_NULLABLE_REPRESENTATION` (PROTOBUF and PROTOBUF_NOSR only).
    pub nullable_representation: Option<NullableRepresentation>,
}

/// A format and its options, for one part (key or value) of a source's records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Format {
    pub kind: FormatKind,
    pub options: FormatOptions,
}

/// Which part of a Kafka record a format applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Key,
    Value,
}

impl Part {
    fn delimiter_option(self) -> &'static str {
        match self {
            Part::Key => "KEY_DELIMITER",
            Part::Value => "VALUE_DELIMITER",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Key => "key",
            Part::Value => "value",
        })
    }
}

impl From<FormatKind> for Format {
    fn from(kind: FormatKind) -> Self {
        Format::new(kind)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())
    }
}

/// The delimiter DELIMITED uses when none is given.
pub const DEFAULT_DELIMITER: char = ',';

/// Parse a `KEY_DELIMITER` / `VALUE_DELIMITER` value the way ksqlDB does: a single character, or
/// the words `TAB` or `SPACE` (upper case). Blank values are refused, a literal space or tab too.
/// The error is ksqlDB's reason text.
pub fn parse_delimiter(text: &str) -> Result<char, String> {
    // Java's String.trim() drops everything up to and including ' '.
    if text.chars().all(|c| c <= ' ') {
        return Err(
            "Delimiter cannot be empty, if you meant to have a tab or space for delimiter, \
             please use the special values 'TAB' or 'SPACE'\nExample valid value: ';'"
                .to_string(),
        );
    }
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Ok(c);
    }
    match text {
        "TAB" => Ok('\t'),
        "SPACE" => Ok(' '),
        _ => Err(format!(
            "Invalid delimiter value: '{text}'. Delimiter must be a single character or TAB,SPACE\n\
             Example valid value: ';'"
        )),
    }
}

impl Format {
    /// A format with default options.
    pub fn new(kind: FormatKind) -> Self {
        Format {
            kind,
            options: FormatOptions::default(),
        }
    }

    /// The same format with these options.
    pub fn with_options(mut self, options: FormatOptions) -> Self {
        self.options = options;
        self
    }

    /// The DELIMITED delimiter for `part` (the default `,` when none is set).
    pub fn delimiter(&self, part: Part) -> Result<char, FormatError> {
        match &self.options.delimiter {
            None => Ok(DEFAULT_DELIMITER),
            Some(text) => parse_delimiter(text).map_err(|reason| FormatError::InvalidOption {
                option: part.delimiter_option().to_string(),
                reason,
            }),
        }
    }

    /// Whether a single column in `part` is written as an object/record around the bare value.
    /// Several columns are always wrapped; keys with one column never are (ksqlDB does not wrap
    /// single keys); values follow `WRAP_SINGLE_VALUE`, JSON's default being to wrap.
    pub(crate) fn wraps_single(&self, part: Part) -> bool {
        match (self.kind, part) {
            (FormatKind::Json | FormatKind::JsonSr | FormatKind::Avro, Part::Value) => {
                self.options.wrap_single_value.unwrap_or(true)
            }
            _ => false,
        }
    }

    /// Check, at CREATE time, that this format can carry `fields` in `part` of the record.
    ///
    /// The texts are ksqlDB's: e.g. `The 'KAFKA' format does not support type 'STRUCT'`,
    /// `The 'DELIMITED' format does not support type 'ARRAY', column: `K``,
    /// `Format 'KAFKA' does not support 'WRAP_SINGLE_VALUE' set to 'true'.`,
    /// `JSON only supports MAP types with STRING keys`. Key columns that are or contain a MAP are
    /// refused for every format, as ksqlDB does.
    pub fn validate(&self, fields: &[FieldRef], part: Part) -> Result<(), FormatError> {
        let kind = self.kind;
        self.validate_options(part)?;
        if part == Part::Value && self.options.wrap_single_value.is_some() && fields.len() != 1 {
            return Err(FormatError::Unsupported(
                "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas".to_string(),
            ));
        }
        match self.validate_fields(kind, fields, part) {
            // ksqlDB names the key schema it refuses.
            Err(FormatError::Unsupported(reason))
                if part == Part::Key && !reason.starts_with("Map keys") =>
            {
                let columns: Vec<String> = fields
                    .iter()
                    .map(|f| format!("`{}` {} KEY", f.name(), ksql_type_name(f.data_type())))
                    .collect();
                Err(FormatError::Unsupported(format!(
                    "Key format does not support schema.\nformat: {}\nschema: \
                     Persistence{{columns=[{}], features=[]}}\nreason: {reason}",
                    kind.name(),
                    columns.join(", ")
                )))
            }
            other => other,
        }
    }

    /// Check this format's WITH options for `part` on their own (before any columns are
    /// known): delimiters, schema names and ids, nullable representation, wrapping.
    pub fn validate_options(&self, part: Part) -> Result<(), FormatError> {
        let kind = self.kind;
        if self.options.delimiter.is_some() {
            self.delimiter(part)?;
            if kind != FormatKind::Delimited {
                return Err(FormatError::Unsupported(format!(
                    "{} does not support the following configs: [delimiter]",
                    kind.name()
                )));
            }
        }
        if let Some(name) = &self.options.full_schema_name {
            if !matches!(kind, FormatKind::Avro | FormatKind::Protobuf) {
                return Err(FormatError::Unsupported(format!(
                    "{} does not support the following configs: [fullSchemaName]",
                    kind.name()
                )));
            }
            if name.trim().is_empty() {
                return Err(FormatError::Unsupported(format!(
                    "fullSchemaName cannot be empty. Format configuration: {{fullSchemaName={}}}",
                    name.trim()
                )));
            }
        }
        if self.options.nullable_representation.is_some()
            && !matches!(kind, FormatKind::Protobuf | FormatKind::ProtobufNoSr)
        {
            return Err(FormatError::Unsupported(format!(
                "{} does not support the following configs: [nullableRepresentation]",
                kind.name()
            )));
        }
        if self.options.schema_id.is_some() && !kind.uses_schema_registry() {
            return Err(FormatError::Unsupported(format!(
                "{} does not support the following configs: [schemaId]",
                kind.name()
            )));
        }
        if part == Part::Value {
            if let Some(wrap) = self.options.wrap_single_value {
                if !kind.supports_wrap_setting(wrap) {
                    return Err(FormatError::Unsupported(format!(
                        "Format '{}' does not support 'WRAP_SINGLE_VALUE' set to '{wrap}'.",
                        kind.name()
                    )));
                }
            }
        }
        Ok(())
    }

    fn validate_fields(
        &self,
        kind: FormatKind,
        fields: &[FieldRef],
        part: Part,
    ) -> Result<(), FormatError> {
        for f in fields {
            if let Some(bad) = unsupported_part(f.data_type()) {
                return Err(FormatError::Unsupported(format!(
                    "Column `{}` has type {bad}, which has no KSQL equivalent",
                    f.name()
                )));
            }
            if part == Part::Key && contains_map(f.data_type()) {
                return Err(FormatError::Unsupported(format!(
                    "Map keys, including types that contain maps, are not supported as they may \
                     lead to unexpected behavior due to inconsistent serialization. Key column \
                     name: `{}`. Column type: {}. See \
                     https://github.com/confluentinc/ksql/issues/6621 for more.",
                    f.name(),
                    ksql_type_name(f.data_type())
                )));
            }
        }
        match kind {
            FormatKind::Json | FormatKind::JsonSr => {
                if fields.iter().any(|f| has_non_string_map_key(f.data_type())) {
                    return Err(FormatError::Unsupported(format!(
                        "{} only supports MAP types with STRING keys",
                        kind.name()
                    )));
                }
            }
            FormatKind::Delimited => {
                for f in fields {
                    if let DataType::List(_) | DataType::Map(_, _) | DataType::Struct(_) =
                        f.data_type()
                    {
                        return Err(FormatError::Unsupported(format!(
                            "The 'DELIMITED' format does not support type '{}', column: `{}`",
                            base_type_name(f.data_type()).unwrap_or("?"),
                            f.name()
                        )));
                    }
                }
            }
            FormatKind::Kafka => {
                if fields.len() > 1 {
                    // ksqlDB lists key columns as `K` TYPE KEY.
                    let suffix = if part == Part::Key { " KEY" } else { "" };
                    let columns = fields
                        .iter()
                        .map(|f| {
                            format!("`{}` {}{suffix}", f.name(), ksql_type_name(f.data_type()))
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(FormatError::Unsupported(format!(
                        "The 'KAFKA' format only supports a single field. Got: [{columns}]"
                    )));
                }
                for f in fields {
                    if !matches!(
                        f.data_type(),
                        DataType::Int32
                            | DataType::Int64
                            | DataType::Float64
                            | DataType::Utf8
                            | DataType::Binary
                    ) {
                        return Err(FormatError::Unsupported(format!(
                            "The 'KAFKA' format does not support type '{}'",
                            base_type_name(f.data_type()).unwrap_or("?")
                        )));
                    }
                }
            }
            FormatKind::Avro => {
                crate::avro::schema::validate(fields).map_err(FormatError::Unsupported)?;
            }
            FormatKind::Protobuf | FormatKind::ProtobufNoSr => {
                crate::protobuf::schema::validate(fields).map_err(FormatError::Unsupported)?;
            }
            FormatKind::None => {
                if !fields.is_empty() {
                    return Err(FormatError::Unsupported(format!(
                        "The 'NONE' format can only be used when no columns are defined. Got: [{}]",
                        columns_text(fields)
                    )));
                }
            }
        }
        Ok(())
    }
}

fn columns_text(fields: &[FieldRef]) -> String {
    fields
        .iter()
        .map(|f| format!("`{}` {}", f.name(), ksql_type_name(f.data_type())))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{Field, Fields};
    use std::sync::Arc;

    fn f(name: &str, dt: DataType) -> FieldRef {
        Arc::new(Field::new(name, dt, true))
    }

    fn map_of(k: DataType, v: DataType) -> DataType {
        DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", k, false),
                    Field::new("value", v, true),
                ])),
                false,
            )),
            false,
        )
    }

    fn err(r: Result<(), FormatError>) -> String {
        r.expect_err("expected an error").to_string()
    }

    #[test]
    fn names_parse_case_insensitively() {
        assert_eq!("json".parse::<FormatKind>(), Ok(FormatKind::Json));
        assert_eq!("Delimited".parse::<FormatKind>(), Ok(FormatKind::Delimited));
        assert_eq!("KAFKA".parse::<FormatKind>(), Ok(FormatKind::Kafka));
        assert_eq!("none".parse::<FormatKind>(), Ok(FormatKind::None));
        assert_eq!(
            "foo".parse::<FormatKind>().unwrap_err().to_string(),
            "Unknown format: FOO"
        );
        assert_eq!("avro".parse::<FormatKind>(), Ok(FormatKind::Avro));
        assert_eq!("protobuf".parse::<FormatKind>(), Ok(FormatKind::Protobuf));
        assert_eq!("json_sr".parse::<FormatKind>(), Ok(FormatKind::JsonSr));
    }

    #[test]
    fn delimiters_follow_ksqldb() {
        assert_eq!(parse_delimiter("|"), Ok('|'));
        assert_eq!(parse_delimiter("TAB"), Ok('\t'));
        assert_eq!(parse_delimiter("SPACE"), Ok(' '));
        assert_eq!(parse_delimiter("é"), Ok('é'));
        let e = parse_delimiter("<~>").unwrap_err();
        assert!(e.starts_with("Invalid delimiter value: '<~>'. Delimiter must be a single"));
        for blank in ["", " ", "\t"] {
            assert!(parse_delimiter(blank)
                .unwrap_err()
                .starts_with("Delimiter cannot be empty"));
        }
        let fmt = Format::new(FormatKind::Delimited).with_options(FormatOptions {
            delimiter: Some("<~>".into()),
            ..FormatOptions::default()
        });
        let e = err(fmt.validate(&[], Part::Value));
        assert!(e.starts_with("Configuration VALUE_DELIMITER is invalid: Invalid delimiter"));
        let e = err(fmt.validate(&[], Part::Key));
        assert!(e.starts_with("Configuration KEY_DELIMITER is invalid"));
    }

    #[test]
    fn delimiter_only_for_delimited() {
        let fmt = Format::new(FormatKind::Json).with_options(FormatOptions {
            delimiter: Some("|".into()),
            ..FormatOptions::default()
        });
        assert_eq!(
            err(fmt.validate(&[f("A", DataType::Int32)], Part::Value)),
            "JSON does not support the following configs: [delimiter]"
        );
    }

    #[test]
    fn wrap_single_value_rules() {
        let wrap = |kind, w| {
            Format::new(kind).with_options(FormatOptions {
                delimiter: None,
                wrap_single_value: Some(w),
                ..FormatOptions::default()
            })
        };
        let one = [f("FOO", DataType::Int32)];
        assert_eq!(
            err(wrap(FormatKind::Kafka, true).validate(&one, Part::Value)),
            "Format 'KAFKA' does not support 'WRAP_SINGLE_VALUE' set to 'true'."
        );
        assert_eq!(
            err(wrap(FormatKind::Delimited, true).validate(&one, Part::Value)),
            "Format 'DELIMITED' does not support 'WRAP_SINGLE_VALUE' set to 'true'."
        );
        assert!(wrap(FormatKind::Kafka, false)
            .validate(&one, Part::Value)
            .is_ok());
        assert!(wrap(FormatKind::Json, false)
            .validate(&one, Part::Value)
            .is_ok());
        let two = [f("A", DataType::Int32), f("B", DataType::Int32)];
        assert_eq!(
            err(wrap(FormatKind::Json, true).validate(&two, Part::Value)),
            "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"
        );
        // Keys ignore the value-only option.
        assert!(wrap(FormatKind::Json, true)
            .validate(&two, Part::Key)
            .is_ok());
        assert!(!wrap(FormatKind::Json, false).wraps_single(Part::Value));
        assert!(Format::new(FormatKind::Json).wraps_single(Part::Value));
        assert!(!Format::new(FormatKind::Json).wraps_single(Part::Key));
    }

    #[test]
    fn kafka_supports_one_primitive_column() {
        let kafka = Format::new(FormatKind::Kafka);
        for dt in [
            DataType::Int32,
            DataType::Int64,
            DataType::Float64,
            DataType::Utf8,
            DataType::Binary,
        ] {
            assert!(kafka.validate(&[f("K", dt)], Part::Key).is_ok());
        }
        assert!(kafka.validate(&[], Part::Key).is_ok());
        let st = DataType::Struct(Fields::from(vec![Field::new(
            "F1",
            DataType::Float64,
            true,
        )]));
        assert_eq!(
            err(kafka.validate(&[f("FOO", st)], Part::Value)),
            "The 'KAFKA' format does not support type 'STRUCT'"
        );
        assert_eq!(
            err(kafka.validate(&[f("K", DataType::Boolean)], Part::Key)),
            "Key format does not support schema.\nformat: KAFKA\nschema: \
             Persistence{columns=[`K` BOOLEAN KEY], features=[]}\nreason: \
             The 'KAFKA' format does not support type 'BOOLEAN'"
        );
        assert_eq!(
            err(kafka.validate(&[f("V", DataType::Decimal128(4, 2))], Part::Value)),
            "The 'KAFKA' format does not support type 'DECIMAL'"
        );
        assert_eq!(
            err(kafka.validate(
                &[f("A", DataType::Int32), f("B", DataType::Utf8)],
                Part::Value
            )),
            "The 'KAFKA' format only supports a single field. Got: [`A` INTEGER, `B` STRING]"
        );
    }

    #[test]
    fn delimited_refuses_complex_types() {
        let d = Format::new(FormatKind::Delimited);
        let arr = DataType::List(Arc::new(Field::new("item", DataType::Float64, true)));
        assert!(err(d.validate(&[f("K", arr)], Part::Key)).ends_with(
            "reason: The 'DELIMITED' format does not support type 'ARRAY', column: `K`"
        ));
        let e = err(d.validate(
            &[f("FOO", map_of(DataType::Int32, DataType::Float64))],
            Part::Value,
        ));
        assert!(e.starts_with("The 'DELIMITED' format does not support type 'MAP'"));
        assert!(d
            .validate(
                &[
                    f("A", DataType::Decimal128(33, 16)),
                    f("B", DataType::Binary),
                    f("C", DataType::Date32)
                ],
                Part::Value
            )
            .is_ok());
    }

    #[test]
    fn map_keys_are_refused_everywhere() {
        let m = map_of(DataType::Int32, DataType::Float64);
        for kind in [FormatKind::Json, FormatKind::Delimited, FormatKind::Kafka] {
            let e = err(Format::new(kind).validate(&[f("K", m.clone())], Part::Key));
            assert!(e.starts_with("Map keys, including types that contain maps, are not supported"));
            assert!(e.contains("Key column name: `K`. Column type: MAP<INTEGER, DOUBLE>."));
        }
    }

    #[test]
    fn json_maps_need_string_keys() {
        let j = Format::new(FormatKind::Json);
        assert_eq!(
            err(j.validate(
                &[f("FOO", map_of(DataType::Int32, DataType::Float64))],
                Part::Value
            )),
            "JSON only supports MAP types with STRING keys"
        );
        assert!(j
            .validate(
                &[f("FOO", map_of(DataType::Utf8, DataType::Float64))],
                Part::Value
            )
            .is_ok());
    }

    #[test]
    fn none_carries_no_columns() {
        let n = Format::new(FormatKind::None);
        assert!(n.validate(&[], Part::Key).is_ok());
        let e = err(n.validate(&[f("A", DataType::Int32)], Part::Key));
        assert!(e.contains("The 'NONE' format can only be used when no columns are defined"));
    }

    #[test]
    fn types_outside_the_mapping_are_refused() {
        let j = Format::new(FormatKind::Json);
        let e = err(j.validate(&[f("A", DataType::Int16)], Part::Value));
        assert!(e.contains("`A`"), "{e}");
    }
}
