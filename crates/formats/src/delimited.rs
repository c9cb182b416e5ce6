//! The DELIMITED format: one line of delimiter-separated values, read and written the way ksqlDB
//! does with Apache commons-csv 1.4 (`CSVFormat.DEFAULT` with the chosen delimiter).
//!
//! Reading: `"` quotes a field (`""` inside is a quote), blanks after a closing quote are skipped,
//! an empty field is null, only the first line counts, and the field count must match the
//! columns. Values parse as Java does (`Integer.parseInt`, `Boolean.parseBoolean`, ...); BYTES are
//! base64, DATE epoch days, TIME ms of the day, TIMESTAMP epoch ms.
//!
//! Writing: nulls are empty fields, and a field is quoted when commons-csv 1.4 would quote it:
//! empty first field, a first field not starting with a letter or digit (so `"-10"`), any field
//! starting with a character up to `#` or ending with one up to space, or holding a quote, the
//! delimiter or a line break.

use std::borrow::Cow;

use crate::builder::{ColumnBuilder, Values};
use crate::decimal::DecimalText;
use crate::text::{base64_decode, parse_java_double};
use crate::view::View;

const MS_PER_DAY: i64 = 86_400_000;

/// One field of a record: a byte range of the text; quoted fields still have `""` doubled.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    quoted: bool,
}

/// Split the first record of `text` into fields.
fn split_record(text: &str, delim: &[u8], spans: &mut Vec<Span>) -> Result<(), String> {
    spans.clear();
    let b = text.as_bytes();
    let n = b.len();
    let at_eol = |i: usize| i < n && (b[i] == b'\r' || b[i] == b'\n');
    let at_delim = |i: usize| b[i.min(n)..].starts_with(delim);
    let mut i = 0;
    // Empty lines before the record are skipped.
    while at_eol(i) {
        i += 1;
    }
    if i == n {
        return Err("No fields in record".to_string());
    }
    loop {
        if at_delim(i) {
            spans.push(Span {
                start: i,
                end: i,
                quoted: false,
            });
            i += delim.len();
            continue;
        }
        if i >= n || at_eol(i) {
            spans.push(Span {
                start: i,
                end: i,
                quoted: false,
            });
            return Ok(());
        }
        if b[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            loop {
                match b[j..].iter().position(|&c| c == b'"') {
                    None => {
                        return Err("EOF reached before encapsulated token finished".to_string())
                    }
                    Some(k) => {
                        j += k;
                        if b.get(j + 1) == Some(&b'"') {
                            j += 2;
                        } else {
                            break;
                        }
                    }
                }
            }
            spans.push(Span {
                start,
                end: j,
                quoted: true,
            });
            i = j + 1;
            loop {
                if i >= n || at_eol(i) {
                    return Ok(());
                }
                if at_delim(i) {
                    i += delim.len();
                    break;
                }
                if matches!(b[i], b' ' | b'\t' | 0x0b | 0x0c | 0x1c..=0x1f) {
                    i += 1;
                    continue;
                }
                return Err("invalid char between encapsulated token and delimiter".to_string());
            }
            continue;
        }
        let start = i;
        while i < n && !at_eol(i) && !at_delim(i) {
            i += 1;
        }
        spans.push(Span {
            start,
            end: i,
            quoted: false,
        });
        if i < n && at_delim(i) {
            i += delim.len();
        } else {
            return Ok(());
        }
    }
}

fn field_text<'t>(text: &'t str, span: Span) -> Cow<'t, str> {
    let raw = &text[span.start..span.end];
    if span.quoted && raw.contains("\"\"") {
        Cow::Owned(raw.replace("\"\"", "\""))
    } else {
        Cow::Borrowed(raw)
    }
}

fn input_error(v: &str) -> String {
    format!("For input string: \"{v}\"")
}

/// Parse one non-empty field into its column.
fn parse_field(col: &mut ColumnBuilder, v: &str) -> Result<(), String> {
    match &mut col.values {
        Values::Boolean(b) => b.append(v.eq_ignore_ascii_case("true")),
        Values::Int32(x) => x.push(v.parse::<i32>().map_err(|_| input_error(v))?),
        Values::Int64(x) | Values::TimestampMs(x) => {
            x.push(v.parse::<i64>().map_err(|_| input_error(v))?)
        }
        Values::Float64(x) => x.push(parse_java_double(v).ok_or_else(|| input_error(v))?),
        Values::Decimal128 {
            values,
            precision,
            scale,
        } => {
            let d =
                DecimalText::parse(v).ok_or_else(|| format!("invalid DECIMAL value \"{v}\""))?;
            values.push(d.fit(*precision, *scale)?);
        }
        Values::Utf8(b) => {
            b.data.extend_from_slice(v.as_bytes());
            b.close()?;
        }
        Values::Binary(b) => {
            base64_decode(&mut b.data, v)?;
            b.close()?;
        }
        Values::Date32(x) => x.push(v.parse::<i32>().map_err(|_| input_error(v))?),
        Values::Time32Ms(x) => {
            let ms = v.parse::<i64>().map_err(|_| input_error(v))?;
            if !(0..=MS_PER_DAY).contains(&ms) {
                return Err(format!(
                    "Time values must use number of milliseconds greater than 0 and less than \
                     {MS_PER_DAY}."
                ));
            }
            x.push(ms as i32);
        }
        Values::List { .. } | Values::Map { .. } | Values::Struct { .. } => {
            return Err(format!(
                "The 'DELIMITED' format does not support type '{}'",
                col.ksql_type()
            ))
        }
    }
    col.set_valid();
    Ok(())
}

/// Decodes DELIMITED records into column builders.
#[derive(Debug)]
pub(crate) struct DelimitedDecoder {
    delim: [u8; 4],
    delim_len: usize,
    names: Vec<String>,
    spans: Vec<Span>,
}

impl DelimitedDecoder {
    pub(crate) fn new(delimiter: char, names: Vec<String>) -> Self {
        let mut delim = [0u8; 4];
        let delim_len = delimiter.encode_utf8(&mut delim).len();
        DelimitedDecoder {
            delim,
            delim_len,
            names,
            spans: Vec::new(),
        }
    }

    /// Decode one record into `columns`. On error the columns may hold part of the row: the
    /// caller truncates them.
    pub(crate) fn decode(
        &mut self,
        bytes: &[u8],
        columns: &mut [ColumnBuilder],
    ) -> Result<(), String> {
        // Like Java's `new String(bytes, UTF_8)`: malformed input becomes U+FFFD.
        let text = String::from_utf8_lossy(bytes);
        split_record(&text, &self.delim[..self.delim_len], &mut self.spans)
            .map_err(|e| format!("Error deserializing delimited: {e}"))?;
        if self.spans.len() != columns.len() {
            return Err(format!(
                "Column count mismatch on deserialization. expected: {}, got: {}",
                columns.len(),
                self.spans.len()
            ));
        }
        for ((col, span), name) in columns.iter_mut().zip(&self.spans).zip(&self.names) {
            if span.start == span.end {
                col.append_null_masked();
                continue;
            }
            let v = field_text(&text, *span);
            parse_field(col, &v)
                .map_err(|e| format!("Error deserializing delimited field `{name}`: {e}"))?;
        }
        Ok(())
    }
}

/// Write one field, quoted if commons-csv 1.4 (QuoteMode.MINIMAL) would quote it.
fn write_field(out: &mut Vec<u8>, value: &[u8], first: bool, delim: &[u8]) {
    let quote = match (value.first(), value.last()) {
        (None, _) | (_, None) => first,
        (Some(&c), Some(&last)) => {
            (first && !c.is_ascii_alphanumeric())
                || c <= b'#'
                || value.iter().any(|&b| b == b'"' || b == b'\n' || b == b'\r')
                || (if delim.len() == 1 {
                    value.contains(&delim[0])
                } else {
                    value.windows(delim.len()).any(|w| w == delim)
                })
                || last <= b' '
        }
    };
    if !quote {
        out.extend_from_slice(value);
        return;
    }
    out.push(b'"');
    let mut run = 0;
    for (i, &b) in value.iter().enumerate() {
        if b == b'"' {
            out.extend_from_slice(&value[run..=i]);
            out.push(b'"');
            run = i + 1;
        }
    }
    out.extend_from_slice(&value[run..]);
    out.push(b'"');
}

/// Write row `i` of `views` as one DELIMITED record (without a line break).
pub(crate) fn write_row(
    out: &mut Vec<u8>,
    views: &[View<'_>],
    i: usize,
    delim: &[u8],
    scratch: &mut Vec<u8>,
) {
    for (k, v) in views.iter().enumerate() {
        if k > 0 {
            out.extend_from_slice(delim);
        }
        if v.is_null(i) {
            continue;
        }
        scratch.clear();
        v.write_text(scratch, i);
        write_field(out, scratch, k == 0, delim);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{FormatKind, Part};
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{
        DataType, Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type,
        Time32MillisecondType, TimestampMillisecondType,
    };

    fn split(text: &str, delim: &str) -> Result<Vec<String>, String> {
        let mut spans = Vec::new();
        split_record(text, delim.as_bytes(), &mut spans)?;
        Ok(spans
            .iter()
            .map(|s| field_text(text, *s).into_owned())
            .collect())
    }

    fn field(v: &str, first: bool) -> String {
        let mut out = Vec::new();
        write_field(&mut out, v.as_bytes(), first, b",");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn splits_like_commons_csv() {
        assert_eq!(
            split("a,b,c", ","),
            Ok(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            split("a,,", ","),
            Ok(vec!["a".into(), "".into(), "".into()])
        );
        assert_eq!(
            split("\"foo\",\"bar\"", ","),
            Ok(vec!["foo".into(), "bar".into()])
        );
        assert_eq!(
            split("\"a\"\"b\",c", ","),
            Ok(vec!["a\"b".into(), "c".into()])
        );
        assert_eq!(split("\"a,b\";c", ";"), Ok(vec!["a,b".into(), "c".into()]));
        assert_eq!(split("\"a\"  ,b", ","), Ok(vec!["a".into(), "b".into()]));
        // Quotes inside an unquoted field are literal, leading blanks are kept.
        assert_eq!(
            split("a\"b, \"c\"", ","),
            Ok(vec!["a\"b".into(), " \"c\"".into()])
        );
        // Only the first line counts; empty lines before it are skipped.
        assert_eq!(split("\n\r\nx,y\nz", ","), Ok(vec!["x".into(), "y".into()]));
        assert_eq!(split("a\t b", "\t"), Ok(vec!["a".into(), " b".into()]));
        assert_eq!(split("1€2", "€"), Ok(vec!["1".into(), "2".into()]));
        assert_eq!(split("", ",").unwrap_err(), "No fields in record");
        assert!(split("\"abc", ",").unwrap_err().contains("EOF reached"));
        assert!(split("\"a\"x,b", ",").unwrap_err().contains("invalid char"));
    }

    #[test]
    fn quotes_like_commons_csv_1_4() {
        assert_eq!(field("abc", true), "abc");
        assert_eq!(field("-10", true), "\"-10\"");
        assert_eq!(field("-10", false), "-10");
        assert_eq!(field("!", false), "\"!\"");
        assert_eq!(field("#", true), "\"#\"");
        assert_eq!(field("IQ==", false), "IQ==");
        assert_eq!(field("", true), "\"\"");
        assert_eq!(field("", false), "");
        assert_eq!(field("a,b", false), "\"a,b\"");
        assert_eq!(field("say \"hi\"", false), "\"say \"\"hi\"\"\"");
        assert_eq!(field("trailing ", false), "\"trailing \"");
        assert_eq!(field("line\nbreak", false), "\"line\nbreak\"");
        assert_eq!(field("with white space", false), "with white space");
        assert_eq!(field("élan", true), "\"élan\"");
        assert_eq!(field("élan", false), "élan");
        assert_eq!(field("0.5", true), "0.5");
    }

    fn delimited() -> crate::Format {
        fmt(FormatKind::Delimited)
    }

    #[test]
    fn decodes_every_primitive_type() {
        let f = fields(&[
            ("B", DataType::Boolean),
            ("I", DataType::Int32),
            ("L", DataType::Int64),
            ("D", DataType::Float64),
            ("DEC", DataType::Decimal128(6, 4)),
            ("S", DataType::Utf8),
            ("BY", DataType::Binary),
            ("DT", DataType::Date32),
            ("TM", time()),
            ("T", ts()),
        ]);
        let cols = decode_ok(
            &delimited(),
            f,
            Part::Value,
            &[
                "true,1,998877665544332211,654.321,12.3650,zero,IQ==,18000,5000,1600000000000",
                "TRUE,\"22\",-1,\"1e2\",12,\"a,b\",,-3,0,-1",
                "yes,,,,,,,,,",
            ],
        );
        let b = cols[0].as_boolean();
        // Boolean.parseBoolean: "true" in any case, anything else false.
        assert!(b.value(0) && b.value(1) && !b.value(2));
        let i = cols[1].as_primitive::<Int32Type>();
        assert_eq!((i.value(0), i.value(1)), (1, 22));
        assert!(i.is_null(2));
        assert_eq!(
            cols[2].as_primitive::<Int64Type>().value(0),
            998877665544332211
        );
        let d = cols[3].as_primitive::<Float64Type>();
        assert_eq!((d.value(0), d.value(1)), (654.321, 100.0));
        let dec = cols[4].as_primitive::<Decimal128Type>();
        assert_eq!((dec.value(0), dec.value(1)), (123650, 120000));
        let s = cols[5].as_string::<i32>();
        assert_eq!((s.value(0), s.value(1)), ("zero", "a,b"));
        let by = cols[6].as_binary::<i32>();
        assert_eq!(by.value(0), b"!");
        assert!(by.is_null(1));
        assert_eq!(cols[7].as_primitive::<Date32Type>().value(1), -3);
        assert_eq!(
            cols[8].as_primitive::<Time32MillisecondType>().value(0),
            5000
        );
        assert_eq!(
            cols[9].as_primitive::<TimestampMillisecondType>().value(0),
            1600000000000
        );
        for c in &cols[1..] {
            assert!(c.is_null(2));
        }
    }

    #[test]
    fn custom_delimiters_and_keys() {
        let f = fields(&[("K1", DataType::Utf8), ("K2", DataType::Utf8)]);
        let semi = fmt_with(FormatKind::Delimited, Some(";"), None);
        let cols = decode_ok(&semi, f.clone(), Part::Key, &["foo,bar;baz"]);
        assert_eq!(cols[0].as_string::<i32>().value(0), "foo,bar");
        assert_eq!(cols[1].as_string::<i32>().value(0), "baz");
        let tab = fmt_with(FormatKind::Delimited, Some("TAB"), None);
        let cols = decode_ok(&tab, f.clone(), Part::Value, &["0\tzero"]);
        assert_eq!(cols[1].as_string::<i32>().value(0), "zero");
        let space = fmt_with(FormatKind::Delimited, Some("SPACE"), None);
        assert_eq!(
            encode(&space, f, Part::Value, &cols),
            vec![Some("0 zero".to_string())]
        );
    }

    #[test]
    fn bad_records_are_refused() {
        let f = fields(&[("A", DataType::Int32), ("B", DataType::Utf8)]);
        assert_eq!(
            decode_err(&delimited(), f.clone(), Part::Value, "1,x,y"),
            "Column count mismatch on deserialization. expected: 2, got: 3"
        );
        assert_eq!(
            decode_err(&delimited(), f.clone(), Part::Value, "1"),
            "Column count mismatch on deserialization. expected: 2, got: 1"
        );
        assert_eq!(
            decode_err(&delimited(), f.clone(), Part::Value, "abc,x"),
            "Error deserializing delimited field `A`: For input string: \"abc\""
        );
        assert_eq!(
            decode_err(&delimited(), f.clone(), Part::Value, ""),
            "Error deserializing delimited: No fields in record"
        );
        let e = decode_err(&delimited(), f, Part::Value, "1,\"open");
        assert!(e.contains("EOF reached"), "{e}");
        let dec = fields(&[("D", DataType::Decimal128(4, 2))]);
        let e = decode_err(&delimited(), dec.clone(), Part::Value, "123.45");
        assert!(e.contains("Numeric field overflow"), "{e}");
        let e = decode_err(&delimited(), dec, Part::Value, "1.x");
        assert!(e.contains("invalid DECIMAL"), "{e}");
        let t = fields(&[("T", time())]);
        let e = decode_err(&delimited(), t, Part::Value, "86400001");
        assert!(e.contains("Time values must use"), "{e}");
        let b = fields(&[("B", DataType::Binary)]);
        let e = decode_err(&delimited(), b, Part::Value, "%%%");
        assert!(e.contains("not a valid Base64"), "{e}");
    }

    #[test]
    fn encodes_like_ksqldb() {
        let f = fields(&[
            ("ID", DataType::Int64),
            ("NAME", DataType::Utf8),
            ("V", DataType::Int32),
        ]);
        let cols = decode_ok(
            &delimited(),
            f.clone(),
            Part::Value,
            &["0,zero,0", "-10,\"with, comma\",", ",\" sp \",7"],
        );
        assert_eq!(
            encode(&delimited(), f.clone(), Part::Value, &cols),
            vec![
                Some("0,zero,0".to_string()),
                Some("\"-10\",\"with, comma\",".to_string()),
                Some(",\" sp \",7".to_string()),
            ]
        );
        let pipe = fmt_with(FormatKind::Delimited, Some("$"), None);
        assert_eq!(
            encode(&pipe, f, Part::Value, &cols)[0].as_deref(),
            Some("0$zero$0")
        );

        // Decimals keep their scale; a leading '-' in the first field is quoted.
        let d = fields(&[("V", DataType::Decimal128(33, 16))]);
        let cols = decode_ok(
            &delimited(),
            d.clone(),
            Part::Value,
            &[".12", "\"-12345.12\"", "0"],
        );
        assert_eq!(
            encode(&delimited(), d, Part::Value, &cols),
            vec![
                Some("0.1200000000000000".to_string()),
                Some("\"-12345.1200000000000000\"".to_string()),
                Some("0.0000000000000000".to_string()),
            ]
        );

        // One column: a null is no bytes at all; an empty string is a quoted empty field.
        let s = fields(&[("S", DataType::Utf8)]);
        let cols = vec![
            std::sync::Arc::new(datafusion::arrow::array::StringArray::from(vec![
                None,
                Some(""),
                Some("x"),
            ])) as datafusion::arrow::array::ArrayRef,
        ];
        assert_eq!(
            encode(&delimited(), s, Part::Value, &cols),
            vec![None, Some("\"\"".to_string()), Some("x".to_string())]
        );

        let dbl = fields(&[
            ("D", DataType::Float64),
            ("B", DataType::Boolean),
            ("BY", DataType::Binary),
        ]);
        let cols = decode_ok(
            &delimited(),
            dbl.clone(),
            Part::Value,
            &["2,false,IQ==", "1e7,true,"],
        );
        assert_eq!(
            encode(&delimited(), dbl, Part::Value, &cols),
            vec![
                Some("2.0,false,IQ==".to_string()),
                Some("1.0E7,true,".to_string())
            ]
        );
    }
}
