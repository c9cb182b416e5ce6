//! KSQL SQL types: parsing (`INT`, `DECIMAL(4, 2)`, `ARRAY<T>`, `MAP<K, V>`,
//! `STRUCT<A T, ...>`, custom type names), ksqlDB's printed form, and conversion to and
//! from sqlparser's `DataType` (used inside `CAST` expressions).

use std::fmt;

use crate::error::{expected, semantic_error, syntax_error};
use crate::sql::ast::{
    ArrayElemTypeDef, DataType, ExactNumberInfo, Ident, ObjectName, StructBracketKind, StructField,
    TimezoneInfo,
};
use crate::sql::parser::{Parser, ParserError};
use crate::sql::tokenizer::Token;

/// A KSQL column / expression type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SqlType {
    Boolean,
    /// `INT` / `INTEGER` (32 bit)
    Int,
    /// `BIGINT` (64 bit)
    Bigint,
    Double,
    Decimal {
        precision: u8,
        scale: i8,
    },
    /// `STRING` / `VARCHAR`
    String,
    Bytes,
    Date,
    Time,
    Timestamp,
    Array(Box<SqlType>),
    Map(Box<SqlType>, Box<SqlType>),
    /// Fields in declaration order; names canonical (upper-cased unless quoted).
    Struct(Vec<(String, SqlType)>),
    /// A name registered with `CREATE TYPE` (canonical); the catalog resolves it.
    Custom(String),
}

impl fmt::Display for SqlType {
    /// ksqlDB's printed form: `INTEGER`, `DECIMAL(4, 2)`, `MAP<STRING, BIGINT>`,
    /// ``STRUCT<`A` INTEGER, `B` STRING>``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Boolean => f.write_str("BOOLEAN"),
            SqlType::Int => f.write_str("INTEGER"),
            SqlType::Bigint => f.write_str("BIGINT"),
            SqlType::Double => f.write_str("DOUBLE"),
            SqlType::Decimal { precision, scale } => write!(f, "DECIMAL({precision}, {scale})"),
            SqlType::String => f.write_str("STRING"),
            SqlType::Bytes => f.write_str("BYTES"),
            SqlType::Date => f.write_str("DATE"),
            SqlType::Time => f.write_str("TIME"),
            SqlType::Timestamp => f.write_str("TIMESTAMP"),
            SqlType::Array(t) => write!(f, "ARRAY<{t}>"),
            SqlType::Map(k, v) => write!(f, "MAP<{k}, {v}>"),
            SqlType::Struct(fields) => {
                f.write_str("STRUCT<")?;
                for (i, (name, ty)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{}` {ty}", name.replace('`', "``"))?;
                }
                f.write_str(">")
            }
            SqlType::Custom(name) => f.write_str(name),
        }
    }
}

/// Words that can never name a custom type (KSQL reserved words that could follow a
/// column name). `NULL` in particular: `COL0 NULL` is a syntax error in ksqlDB.
const RESERVED_TYPE_WORDS: &[&str] = &[
    "NULL", "TRUE", "FALSE", "SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "KEY", "PRIMARY",
    "WITH", "CASE", "WHEN", "THEN", "ELSE", "END", "IN", "IS", "LIKE", "BETWEEN", "CAST", "JOIN",
    "ON", "GROUP", "BY", "HAVING", "LIMIT", "WINDOW", "EMIT", "HEADERS", "HEADER",
];

impl SqlType {
    /// Parses a KSQL type at the parser's current position.
    ///
    /// Unquoted names are expected upper-cased already (the crate's token pass does it).
    /// `>>` must have been split into two `>` tokens (also done by the token pass).
    pub(crate) fn parse(p: &mut Parser) -> Result<SqlType, ParserError> {
        let tok = p.next_token();
        let w = match &tok.token {
            Token::Word(w) => w.clone(),
            _ => return expected("a type", &tok),
        };
        if w.quote_style.is_some() {
            return Ok(SqlType::Custom(w.value));
        }
        let ty = match w.value.as_str() {
            "BOOLEAN" => SqlType::Boolean,
            "INT" | "INTEGER" => SqlType::Int,
            "BIGINT" => SqlType::Bigint,
            "DOUBLE" => SqlType::Double,
            "STRING" | "VARCHAR" => {
                // ksqlDB accepts and ignores type parameters on base types.
                if p.consume_token(&Token::LParen) {
                    loop {
                        let t = p.next_token();
                        match t.token {
                            Token::RParen => break,
                            Token::EOF => return expected(")", &t),
                            _ => {}
                        }
                    }
                }
                SqlType::String
            }
            "BYTES" => SqlType::Bytes,
            "DATE" => SqlType::Date,
            "TIME" => SqlType::Time,
            "TIMESTAMP" => SqlType::Timestamp,
            "DECIMAL" => {
                p.expect_token(&Token::LParen)?;
                let ptok = p.peek_token();
                let precision = parse_int(p)?;
                p.expect_token(&Token::Comma)?;
                let stok = p.peek_token();
                let scale = parse_int(p)?;
                p.expect_token(&Token::RParen)?;
                if precision < 1 {
                    return Err(semantic_error(
                        ptok.span.start,
                        "DECIMAL precision must be >= 1",
                    ));
                }
                if precision > 127 {
                    return Err(semantic_error(
                        ptok.span.start,
                        format!("DECIMAL precision must be <= 127: {precision}"),
                    ));
                }
                if scale < 0 {
                    return Err(semantic_error(
                        stok.span.start,
                        "DECIMAL scale must be >= 0",
                    ));
                }
                if scale > precision {
                    return Err(semantic_error(
                        stok.span.start,
                        format!(
                            "DECIMAL precision must be >= scale: precision={precision}, scale={scale}"
                        ),
                    ));
                }
                SqlType::Decimal {
                    precision: precision as u8,
                    scale: scale as i8,
                }
            }
            "ARRAY" => {
                p.expect_token(&Token::Lt)?;
                let elem = SqlType::parse(p)?;
                p.expect_token(&Token::Gt)?;
                SqlType::Array(Box::new(elem))
            }
            "MAP" => {
                p.expect_token(&Token::Lt)?;
                let k = SqlType::parse(p)?;
                p.expect_token(&Token::Comma)?;
                let v = SqlType::parse(p)?;
                p.expect_token(&Token::Gt)?;
                SqlType::Map(Box::new(k), Box::new(v))
            }
            "STRUCT" => {
                if p.consume_token(&Token::Neq) {
                    return Ok(SqlType::Struct(vec![])); // `STRUCT<>` lexes as `<>`
                }
                p.expect_token(&Token::Lt)?;
                let mut fields = Vec::new();
                if !p.consume_token(&Token::Gt) {
                    loop {
                        let ft = p.next_token();
                        let name = match ft.token {
                            Token::Word(fw) => fw.value,
                            _ => return expected("a field name", &ft),
                        };
                        let ty = SqlType::parse(p)?;
                        fields.push((name, ty));
                        if p.consume_token(&Token::Comma) {
                            continue;
                        }
                        p.expect_token(&Token::Gt)?;
                        break;
                    }
                }
                SqlType::Struct(fields)
            }
            other if RESERVED_TYPE_WORDS.contains(&other) => {
                return Err(syntax_error(
                    tok.span.start,
                    format!("Expected: a type, found: {}", tok.token),
                ));
            }
            other => SqlType::Custom(other.to_string()),
        };
        Ok(ty)
    }

    /// The sqlparser `DataType` for this type (used as a `CAST` target). `MAP` becomes
    /// `DataType::Map` and custom types `DataType::Custom`, which DataFusion's SQL planner
    /// does not convert by itself: use [`SqlType::from_data_type`] to get back the KSQL type.
    pub fn to_data_type(&self) -> DataType {
        match self {
            SqlType::Boolean => DataType::Boolean,
            SqlType::Int => DataType::Int(None),
            SqlType::Bigint => DataType::BigInt(None),
            SqlType::Double => DataType::Double(ExactNumberInfo::None),
            SqlType::Decimal { precision, scale } => DataType::Decimal(
                ExactNumberInfo::PrecisionAndScale(*precision as u64, *scale as i64),
            ),
            SqlType::String => DataType::String(None),
            SqlType::Bytes => DataType::Bytea,
            SqlType::Date => DataType::Date,
            SqlType::Time => DataType::Time(None, TimezoneInfo::None),
            SqlType::Timestamp => DataType::Timestamp(None, TimezoneInfo::None),
            SqlType::Array(t) => {
                DataType::Array(ArrayElemTypeDef::AngleBracket(Box::new(t.to_data_type())))
            }
            SqlType::Map(k, v) => {
                DataType::Map(Box::new(k.to_data_type()), Box::new(v.to_data_type()))
            }
            SqlType::Struct(fields) => DataType::Struct(
                fields
                    .iter()
                    .map(|(name, ty)| StructField {
                        field_name: Some(Ident::with_quote('"', name.clone())),
                        field_type: ty.to_data_type(),
                        options: None,
                    })
                    .collect(),
                StructBracketKind::AngleBrackets,
            ),
            SqlType::Custom(name) => DataType::Custom(
                ObjectName::from(vec![Ident::with_quote('"', name.clone())]),
                vec![],
            ),
        }
    }

    /// The KSQL type of a sqlparser `DataType` produced by this crate (inverse of
    /// [`SqlType::to_data_type`]; also accepts a few synonyms). `None` for anything else.
    pub fn from_data_type(dt: &DataType) -> Option<SqlType> {
        Some(match dt {
            DataType::Boolean | DataType::Bool => SqlType::Boolean,
            DataType::Int(_) | DataType::Integer(_) => SqlType::Int,
            DataType::BigInt(_) => SqlType::Bigint,
            DataType::Double(_) | DataType::DoublePrecision => SqlType::Double,
            DataType::Decimal(ExactNumberInfo::PrecisionAndScale(p, s)) => SqlType::Decimal {
                precision: u8::try_from(*p).ok()?,
                scale: i8::try_from(*s).ok()?,
            },
            DataType::String(_) | DataType::Varchar(_) | DataType::Text => SqlType::String,
            DataType::Bytea => SqlType::Bytes,
            DataType::Date => SqlType::Date,
            DataType::Time(None, TimezoneInfo::None) => SqlType::Time,
            DataType::Timestamp(None, TimezoneInfo::None) => SqlType::Timestamp,
            DataType::Array(ArrayElemTypeDef::AngleBracket(t)) => {
                SqlType::Array(Box::new(SqlType::from_data_type(t)?))
            }
            DataType::Map(k, v) => SqlType::Map(
                Box::new(SqlType::from_data_type(k)?),
                Box::new(SqlType::from_data_type(v)?),
            ),
            DataType::Struct(fields, _) => SqlType::Struct(
                fields
                    .iter()
                    .map(|f| {
                        Some((
                            f.field_name.as_ref()?.value.clone(),
                            SqlType::from_data_type(&f.field_type)?,
                        ))
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
            DataType::Custom(name, args) if args.is_empty() && name.0.len() == 1 => {
                SqlType::Custom(name.0[0].as_ident()?.value.clone())
            }
            _ => return None,
        })
    }
}

/// An integer literal, optionally negative.
fn parse_int(p: &mut Parser) -> Result<i64, ParserError> {
    let negative = p.consume_token(&Token::Minus);
    let tok = p.next_token();
    match &tok.token {
        Token::Number(n, _) => match n.parse::<i64>() {
            Ok(v) => Ok(if negative { -v } else { v }),
            Err(_) => expected("an integer", &tok),
        },
        _ => expected("an integer", &tok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::KsqlDialect;
    use crate::lexer::ksql_tokens;

    fn parse_type(text: &str) -> Result<SqlType, ParserError> {
        let dialect = KsqlDialect;
        let tokens = ksql_tokens(text).unwrap();
        let mut p = Parser::new(&dialect).with_tokens_with_locations(tokens);
        let ty = SqlType::parse(&mut p)?;
        assert_eq!(p.peek_token().token, Token::EOF, "left over in {text}");
        Ok(ty)
    }

    #[test]
    fn primitive_types_and_display() {
        for (text, shown) in [
            ("int", "INTEGER"),
            ("INTEGER", "INTEGER"),
            ("bigint", "BIGINT"),
            ("double", "DOUBLE"),
            ("boolean", "BOOLEAN"),
            ("varchar", "STRING"),
            ("STRING", "STRING"),
            ("bytes", "BYTES"),
            ("date", "DATE"),
            ("time", "TIME"),
            ("timestamp", "TIMESTAMP"),
            ("decimal(4,2)", "DECIMAL(4, 2)"),
        ] {
            assert_eq!(parse_type(text).unwrap().to_string(), shown, "{text}");
        }
    }

    #[test]
    fn nested_types_with_closing_shift() {
        let t = parse_type("ARRAY<MAP<STRING, STRUCT<a INT, `b` ARRAY<BIGINT>>>>").unwrap();
        assert_eq!(
            t.to_string(),
            "ARRAY<MAP<STRING, STRUCT<`A` INTEGER, `b` ARRAY<BIGINT>>>>"
        );
        assert_eq!(parse_type("STRUCT<>").unwrap(), SqlType::Struct(vec![]));
    }

    #[test]
    fn custom_and_invalid_types() {
        assert_eq!(
            parse_type("address").unwrap(),
            SqlType::Custom("ADDRESS".into())
        );
        assert!(parse_type("NULL").is_err());
        assert!(parse_type("ARRAY<NULL>").is_err());
        assert!(parse_type("MAP<STRING>").is_err());
        assert!(parse_type("DECIMAL(2, 3)").is_err());
        assert!(parse_type("DECIMAL(0, 0)").is_err());
    }

    #[test]
    fn data_type_round_trip() {
        for text in [
            "INT",
            "BIGINT",
            "DOUBLE",
            "DECIMAL(10, 3)",
            "STRING",
            "BYTES",
            "DATE",
            "TIME",
            "TIMESTAMP",
            "BOOLEAN",
            "ARRAY<STRUCT<A INT, B MAP<STRING, DOUBLE>>>",
            "ADDRESS",
        ] {
            let t = parse_type(text).unwrap();
            assert_eq!(
                SqlType::from_data_type(&t.to_data_type()),
                Some(t),
                "{text}"
            );
        }
    }
}
