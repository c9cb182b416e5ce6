//! `COPY ... TO STDOUT` output formats: PostgreSQL's text format (tab separated, `\N` for NULL,
//! backslash escapes), CSV, and binary (`PGCOPY`). Values arrive already rendered in the
//! PostgreSQL text (or binary) representation of their type; this module only frames them.

use bytes::{BufMut, Bytes, BytesMut};

/// Which COPY format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyFormat {
    Text,
    Csv,
    Binary,
}

/// The options of one `COPY (query) TO STDOUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyOptions {
    pub format: CopyFormat,
    pub header: bool,
    pub delimiter: u8,
    pub null: String,
    pub quote: u8,
    pub escape: u8,
    pub force_quote_all: bool,
    /// Column names whose non-null values are always quoted (CSV).
    pub force_quote: Vec<String>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            format: CopyFormat::Text,
            header: false,
            delimiter: b'\t',
            null: "\\N".to_owned(),
            quote: b'"',
            escape: b'"',
            force_quote_all: false,
            force_quote: Vec::new(),
        }
    }
}

/// Append `value` in COPY text format: backslash, the delimiter and the control characters
/// `\b \f \n \r \t \v` are backslash-escaped (exactly what PostgreSQL's COPY TO writes).
pub(crate) fn escape_text(value: &[u8], delimiter: u8, out: &mut BytesMut) {
    for &b in value {
        match b {
            b'\\' => out.put_slice(b"\\\\"),
            0x08 => out.put_slice(b"\\b"),
            0x0c => out.put_slice(b"\\f"),
            b'\n' => out.put_slice(b"\\n"),
            b'\r' => out.put_slice(b"\\r"),
            b'\t' => out.put_slice(b"\\t"),
            0x0b => out.put_slice(b"\\v"),
            b if b == delimiter => {
                out.put_u8(b'\\');
                out.put_u8(b);
            }
            b => out.put_u8(b),
        }
    }
}

/// Append `value` as a CSV field. It is quoted when forced, when it contains the delimiter, the
/// quote character, a carriage return or a newline, when it equals the NULL string (so that it
/// reads back as a value, not NULL), or when it is `\.` (the end-of-data marker). Inside quotes
/// the quote and escape characters are preceded by the escape character.
pub(crate) fn write_csv(value: &[u8], options: &CopyOptions, force: bool, out: &mut BytesMut) {
    let needs_quote = force
        || value == options.null.as_bytes()
        || value == b"\\."
        || value
            .iter()
            .any(|&b| b == options.delimiter || b == options.quote || b == b'\n' || b == b'\r');
    if !needs_quote {
        out.put_slice(value);
        return;
    }
    out.put_u8(options.quote);
    for &b in value {
        if b == options.quote || b == options.escape {
            out.put_u8(options.escape);
        }
        out.put_u8(b);
    }
    out.put_u8(options.quote);
}

/// Frames rows for one COPY.
pub(crate) struct CopyFramer {
    options: CopyOptions,
    forced: Vec<bool>,
}

/// The 19-byte header of the binary COPY format: signature, flags, header extension length.
const BINARY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

impl CopyFramer {
    /// A framer for rows with the given column names.
    pub fn new(options: CopyOptions, columns: &[String]) -> Self {
        let forced = columns
            .iter()
            .map(|c| options.force_quote_all || options.force_quote.iter().any(|f| f == c))
            .collect();
        CopyFramer { options, forced }
    }

    pub fn options(&self) -> &CopyOptions {
        &self.options
    }

    /// What goes before the first row: the header line (text/CSV with HEADER) or the binary
    /// signature. `None` when nothing does.
    pub fn preamble(&self, columns: &[String]) -> Option<Bytes> {
        match self.options.format {
            CopyFormat::Binary => {
                let mut out = BytesMut::with_capacity(19);
                out.put_slice(BINARY_SIGNATURE);
                out.put_i32(0);
                out.put_i32(0);
                Some(out.freeze())
            }
            _ if !self.options.header => None,
            format => {
                let mut out = BytesMut::new();
                for (i, name) in columns.iter().enumerate() {
                    if i > 0 {
                        out.put_u8(self.options.delimiter);
                    }
                    if format == CopyFormat::Csv {
                        write_csv(name.as_bytes(), &self.options, false, &mut out);
                    } else {
                        escape_text(name.as_bytes(), self.options.delimiter, &mut out);
                    }
                }
                out.put_u8(b'\n');
                Some(out.freeze())
            }
        }
    }

    /// One row. `fields` are the column values in the format's representation (text for text and
    /// CSV, binary for binary), `None` for NULL.
    pub fn row(&self, fields: &[Option<&[u8]>]) -> Bytes {
        let mut out = BytesMut::new();
        match self.options.format {
            CopyFormat::Binary => {
                out.put_i16(fields.len() as i16);
                for field in fields {
                    match field {
                        None => out.put_i32(-1),
                        Some(v) => {
                            out.put_i32(v.len() as i32);
                            out.put_slice(v);
                        }
                    }
                }
            }
            format => {
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        out.put_u8(self.options.delimiter);
                    }
                    match field {
                        None => out.put_slice(self.options.null.as_bytes()),
                        Some(v) if format == CopyFormat::Csv => {
                            let forced = self.forced.get(i).copied().unwrap_or(false);
                            write_csv(v, &self.options, forced, &mut out)
                        }
                        Some(v) => escape_text(v, self.options.delimiter, &mut out),
                    }
                }
                out.put_u8(b'\n');
            }
        }
        out.freeze()
    }

    /// What goes after the last row (the binary trailer), if anything.
    pub fn trailer(&self) -> Option<Bytes> {
        (self.options.format == CopyFormat::Binary).then(|| Bytes::from_static(&[0xff, 0xff]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> String {
        let mut out = BytesMut::new();
        escape_text(value.as_bytes(), b'\t', &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn text_escapes_like_postgres() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a\tb"), "a\\tb");
        assert_eq!(text("line1\nline2\r"), "line1\\nline2\\r");
        assert_eq!(text("back\\slash"), "back\\\\slash");
        assert_eq!(text("\u{8}\u{c}\u{b}"), "\\b\\f\\v");
        assert_eq!(text("\\N"), "\\\\N");
        assert_eq!(text("é"), "é");
    }

    #[test]
    fn text_escapes_custom_delimiter() {
        let mut out = BytesMut::new();
        escape_text(b"a|b\tc", b'|', &mut out);
        assert_eq!(&out[..], b"a\\|b\\tc");
    }

    #[test]
    fn text_rows_use_tabs_and_null_marker() {
        let framer = CopyFramer::new(CopyOptions::default(), &["a".into(), "b".into()]);
        let row = framer.row(&[Some(b"x\ty"), None]);
        assert_eq!(&row[..], b"x\\ty\t\\N\n");
        assert!(framer.preamble(&["a".into()]).is_none());
        assert!(framer.trailer().is_none());
    }

    fn csv_options() -> CopyOptions {
        CopyOptions {
            format: CopyFormat::Csv,
            delimiter: b',',
            null: String::new(),
            ..CopyOptions::default()
        }
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        let cols = vec!["id".to_owned(), "na,me".to_owned()];
        let framer = CopyFramer::new(
            CopyOptions {
                header: true,
                ..csv_options()
            },
            &cols,
        );
        assert_eq!(&framer.preamble(&cols).unwrap()[..], b"id,\"na,me\"\n");
        let row = framer.row(&[Some(b"1"), Some(b"say \"hi\"")]);
        assert_eq!(&row[..], b"1,\"say \"\"hi\"\"\"\n");
        // NULL is the empty string; an empty value is quoted to stay distinct.
        let row = framer.row(&[None, Some(b"")]);
        assert_eq!(&row[..], b",\"\"\n");
        let row = framer.row(&[Some(b"a\nb"), Some(b"\\.")]);
        assert_eq!(&row[..], b"\"a\nb\",\"\\.\"\n");
    }

    #[test]
    fn csv_force_quote_and_escape() {
        let cols = vec!["a".to_owned(), "b".to_owned()];
        let framer = CopyFramer::new(
            CopyOptions {
                force_quote: vec!["b".into()],
                escape: b'\\',
                ..csv_options()
            },
            &cols,
        );
        let row = framer.row(&[Some(b"x"), Some(b"q\"\\")]);
        assert_eq!(&row[..], b"x,\"q\\\"\\\\\"\n");
    }

    #[test]
    fn binary_framing() {
        let framer = CopyFramer::new(
            CopyOptions {
                format: CopyFormat::Binary,
                ..CopyOptions::default()
            },
            &["a".into(), "b".into()],
        );
        let pre = framer.preamble(&[]).unwrap();
        assert_eq!(pre.len(), 19);
        assert!(pre.starts_with(b"PGCOPY\n\xff\r\n\0"));
        let row = framer.row(&[Some(&[0, 0, 0, 7]), None]);
        assert_eq!(
            &row[..],
            &[0, 2, 0, 0, 0, 4, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(&framer.trailer().unwrap()[..], &[0xff, 0xff]);
    }
}
