//! JSON bytes → Arrow builders, in one pass guided by the column types (no intermediate tree).
//!
//! Coercions are ksqlDB's (`KsqlJsonDeserializer`): numbers and numeric strings for INT, BIGINT,
//! DOUBLE, DECIMAL, DATE (epoch days), TIME (ms of day), TIMESTAMP (epoch ms); any scalar, object
//! or array for STRING; base64 text for BYTES; only `true`/`false` for BOOLEAN. Object keys match
//! columns exactly, else upper-cased. Errors read like ksqlDB's: `Can't convert type. sourceType:
//! TextNode, requiredType: BOOLEAN, path: $.FLAG`.

use std::collections::{HashMap, HashSet};

use crate::builder::{ColumnBuilder, FieldIndex, Values};
use crate::decimal::DecimalText;
use crate::text::{base64_decode, parse_java_double, write_json_string};

/// Nesting deeper than this is refused (Jackson's default limit is 1000 too).
const MAX_DEPTH: usize = 1000;

const MS_PER_DAY: i64 = 86_400_000;

/// A decode failure: bad JSON, or a value that does not fit its column.
#[derive(Debug)]
enum JsonError {
    Syntax(String),
    Coerce { msg: String, path: String },
}

impl JsonError {
    fn coerce(msg: impl Into<String>) -> Self {
        JsonError::Coerce {
            msg: msg.into(),
            path: String::new(),
        }
    }

    /// Prefix the path with one more step outwards.
    fn at(mut self, step: &str) -> Self {
        if let JsonError::Coerce { path, .. } = &mut self {
            path.insert_str(0, step);
        }
        self
    }

    fn into_message(self) -> String {
        match self {
            JsonError::Syntax(msg) => msg,
            JsonError::Coerce { msg, path } => format!("{msg}, path: {path}"),
        }
    }
}

type Result<T, E = JsonError> = std::result::Result<T, E>;

/// One JSON token. Strings are the raw text between the quotes; numbers their text.
#[derive(Debug, Clone, Copy)]
enum Tok<'a> {
    Null,
    Bool(bool),
    Num { text: &'a str, float: bool },
    Str { raw: &'a str, escaped: bool },
    Obj,
    Arr,
}

/// Jackson's node class for a token, as ksqlDB names it in errors.
fn node_type(tok: &Tok<'_>) -> &'static str {
    match tok {
        Tok::Null => "NullNode",
        Tok::Bool(_) => "BooleanNode",
        Tok::Str { .. } => "TextNode",
        Tok::Obj => "ObjectNode",
        Tok::Arr => "ArrayNode",
        Tok::Num { float: true, .. } => "DecimalNode",
        Tok::Num { text, .. } => {
            if text.parse::<i32>().is_ok() {
                "IntNode"
            } else if text.parse::<i64>().is_ok() {
                "LongNode"
            } else {
                "BigIntegerNode"
            }
        }
    }
}

fn cannot_convert(tok: &Tok<'_>, required: &str) -> JsonError {
    JsonError::coerce(format!(
        "Can't convert type. sourceType: {}, requiredType: {required}",
        node_type(tok)
    ))
}

fn cannot_coerce_string(target: &str) -> JsonError {
    JsonError::coerce(format!("Can't coerce string to type. targetType: {target}"))
}

/// The text of a string token, unescaped into `scratch` when it has escapes.
fn str_of<'x>(raw: &'x str, escaped: bool, scratch: &'x mut Vec<u8>) -> &'x str {
    if !escaped {
        return raw;
    }
    scratch.clear();
    unescape_into(raw, scratch);
    // Unescaping valid UTF-8 yields valid UTF-8 (lone surrogates become U+FFFD).
    std::str::from_utf8(scratch).unwrap_or("\u{FFFD}")
}

fn hex4(b: &[u8]) -> u32 {
    b.iter().fold(0, |acc, &c| {
        acc << 4
            | match c {
                b'0'..=b'9' => u32::from(c - b'0'),
                b'a'..=b'f' => u32::from(c - b'a' + 10),
                _ => u32::from(c - b'A' + 10),
            }
    })
}

/// Append the unescaped text of a raw JSON string (already checked by the scanner).
fn unescape_into(raw: &str, out: &mut Vec<u8>) {
    let b = raw.as_bytes();
    let mut i = 0;
    let mut run = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        out.extend_from_slice(&b[run..i]);
        let simple = match b[i + 1] {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
        } else {
            let mut cp = hex4(&b[i + 2..i + 6]);
            i += 6;
            if (0xD800..0xDC00).contains(&cp)
                && b.len() >= i + 6
                && b[i] == b'\\'
                && b[i + 1] == b'u'
            {
                let low = hex4(&b[i + 2..i + 6]);
                if (0xDC00..0xE000).contains(&low) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                }
            }
            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        run = i;
    }
    out.extend_from_slice(&b[run..]);
}

/// Text of a number as Jackson's `asText()` gives it: integers as written (`-0` is `0`), floats
/// as `BigDecimal.toString()`.
fn number_text(text: &str, float: bool, out: &mut Vec<u8>) {
    if float {
        match DecimalText::parse(text) {
            Some(d) => out.extend_from_slice(d.to_java_string().as_bytes()),
            None => out.extend_from_slice(text.as_bytes()),
        }
    } else if text == "-0" {
        out.push(b'0');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// `JsonNode.asLong()` of a number token: exact for integers, truncated with Java's wrap-around
/// for floats and huge integers.
fn number_as_i64(text: &str, float: bool) -> i64 {
    if !float {
        if let Ok(v) = text.parse::<i64>() {
            return v;
        }
    }
    DecimalText::parse(text).map_or(0, |d| d.wrapping_i64())
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: usize,
    /// Unescaped string text.
    scratch: Vec<u8>,
    /// Upper-cased object keys.
    upper: String,
}

impl<'a> Parser<'a> {
    fn syntax<T>(&self, msg: impl std::fmt::Display) -> Result<T> {
        Err(JsonError::Syntax(format!(
            "Invalid JSON at position {}: {msg}",
            self.pos
        )))
    }

    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn token(&mut self) -> Result<Tok<'a>> {
        self.ws();
        match self.b.get(self.pos) {
            None => self.syntax("unexpected end of input"),
            Some(b'{') | Some(b'[') => {
                let tok = if self.b[self.pos] == b'{' {
                    Tok::Obj
                } else {
                    Tok::Arr
                };
                self.pos += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return self.syntax(format!("nesting deeper than {MAX_DEPTH}"));
                }
                Ok(tok)
            }
            Some(b'"') => self.string(),
            Some(b't') => self.literal("true", Tok::Bool(true)),
            Some(b'f') => self.literal("false", Tok::Bool(false)),
            Some(b'n') => self.literal("null", Tok::Null),
            Some(c) if *c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => {
                let c = self.s[self.pos..].chars().next().unwrap_or('?');
                self.syntax(format!("unexpected character '{c}'"))
            }
        }
    }

    fn literal(&mut self, word: &str, tok: Tok<'a>) -> Result<Tok<'a>> {
        let rest = &self.b[self.pos..];
        let after = rest.get(word.len());
        if !rest.starts_with(word.as_bytes())
            || after.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            let end = rest
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                .unwrap_or(rest.len())
                .max(1);
            let shown = String::from_utf8_lossy(&rest[..end.min(32)]).into_owned();
            return self.syntax(format!("unrecognized token '{shown}'"));
        }
        self.pos += word.len();
        Ok(tok)
    }

    fn string(&mut self) -> Result<Tok<'a>> {
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            match self.b.get(i) {
                None => {
                    self.pos = i;
                    return self.syntax("unterminated string");
                }
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    match self.b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u')
                            if self.b.len() >= i + 6
                                && self.b[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit) =>
                        {
                            i += 6
                        }
                        _ => {
                            self.pos = i;
                            return self.syntax("invalid escape in string");
                        }
                    }
                }
                Some(&c) if c < 0x20 => {
                    self.pos = i;
                    return self
                        .syntax(format!("unescaped control character (code {c}) in string"));
                }
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        Ok(Tok::Str {
            raw: &self.s[start..i],
            escaped,
        })
    }

    fn number(&mut self) -> Result<Tok<'a>> {
        let b = self.b;
        let start = self.pos;
        let mut i = start;
        let digits = |mut i: usize| {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            i
        };
        if b[i] == b'-' {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => {
                i += 1;
                if b.get(i).is_some_and(u8::is_ascii_digit) {
                    self.pos = i;
                    return self.syntax("leading zeroes are not allowed");
                }
            }
            Some(c) if c.is_ascii_digit() => i = digits(i),
            _ => {
                self.pos = i;
                return self.syntax("invalid number");
            }
        }
        let mut float = false;
        if b.get(i) == Some(&b'.') {
            float = true;
            i += 1;
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                self.pos = i;
                return self.syntax("invalid number: digits expected after '.'");
            }
            i = digits(i);
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            float = true;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                self.pos = i;
                return self.syntax("invalid number: digits expected in exponent");
            }
            i = digits(i);
        }
        match b.get(i) {
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}') => {}
            Some(_) => {
                self.pos = i;
                return self.syntax("unexpected character after number");
            }
        }
        self.pos = i;
        Ok(Tok::Num {
            text: &self.s[start..i],
            float,
        })
    }

    /// Inside an object: the next key (after its `:`), or `None` after the closing `}`.
    fn next_key(&mut self, first: &mut bool) -> Result<Option<Tok<'a>>> {
        self.ws();
        match self.b.get(self.pos) {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(None);
            }
            Some(b',') if !*first => {
                self.pos += 1;
                self.ws();
            }
            _ if *first => {}
            _ => return self.syntax("expected ',' or '}' in object"),
        }
        *first = false;
        if self.b.get(self.pos) != Some(&b'"') {
            return self.syntax("expected a string key in object");
        }
        let key = self.string()?;
        self.ws();
        if self.b.get(self.pos) != Some(&b':') {
            return self.syntax("expected ':' after object key");
        }
        self.pos += 1;
        Ok(Some(key))
    }

    /// Inside an array: whether another element follows (`false` after the closing `]`).
    fn next_elem(&mut self, first: &mut bool) -> Result<bool> {
        self.ws();
        match self.b.get(self.pos) {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(false);
            }
            Some(b',') if !*first => self.pos += 1,
            _ if *first => {}
            _ => return self.syntax("expected ',' or ']' in array"),
        }
        *first = false;
        Ok(true)
    }

    fn skip_value(&mut self) -> Result<()> {
        match self.token()? {
            Tok::Obj => {
                let mut first = true;
                while self.next_key(&mut first)?.is_some() {
                    self.skip_value()?;
                }
            }
            Tok::Arr => {
                let mut first = true;
                while self.next_elem(&mut first)? {
                    self.skip_value()?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn key_text(&mut self, key: Tok<'a>) -> &str {
        match key {
            Tok::Str { raw, escaped } => str_of(raw, escaped, &mut self.scratch),
            _ => "",
        }
    }

    /// The field a key fills, if any.
    fn lookup(&mut self, key: Tok<'a>, index: &FieldIndex, hint: usize) -> Option<(usize, bool)> {
        let Tok::Str { raw, escaped } = key else {
            return None;
        };
        let text = str_of(raw, escaped, &mut self.scratch);
        index.lookup(text, hint, &mut self.upper)
    }

    // ---- values into builders -------------------------------------------------------------

    fn value_into(&mut self, col: &mut ColumnBuilder) -> Result<()> {
        let tok = self.token()?;
        self.tok_into(tok, col)
    }

    fn tok_into(&mut self, tok: Tok<'a>, col: &mut ColumnBuilder) -> Result<()> {
        if let Tok::Null = tok {
            return col.append_null().map_err(JsonError::coerce);
        }
        let len = col.len();
        // `Err(())` from the match: the token's kind cannot become this column's type.
        let fits: std::result::Result<(), ()> = match &mut col.values {
            Values::Boolean(v) => match tok {
                Tok::Bool(x) => {
                    v.append(x);
                    Ok(())
                }
                _ => Err(()),
            },
            Values::Int32(v) => {
                let x = match tok {
                    Tok::Num { text, float } => number_as_i64(text, float) as i32,
                    Tok::Str { raw, escaped } => str_of(raw, escaped, &mut self.scratch)
                        .parse::<i32>()
                        .map_err(|_| cannot_coerce_string("INTEGER"))?,
                    _ => return Err(cannot_convert(&tok, "INTEGER")),
                };
                v.push(x);
                Ok(())
            }
            Values::Int64(v) => {
                v.push(self.long(tok, "BIGINT")?);
                Ok(())
            }
            Values::TimestampMs(v) => {
                v.push(self.long(tok, "TIMESTAMP")?);
                Ok(())
            }
            Values::Time32Ms(v) => {
                let ms = self.long(tok, "TIME")?;
                if !(0..=MS_PER_DAY).contains(&ms) {
                    return Err(JsonError::coerce(format!(
                        "Time values must use number of milliseconds greater than 0 and less \
                         than {MS_PER_DAY}."
                    )));
                }
                v.push(ms as i32);
                Ok(())
            }
            Values::Date32(v) => {
                let days = self.long(tok, "DATE")?;
                let days = i32::try_from(days).map_err(|_| {
                    JsonError::coerce(format!("DATE value out of range: {days} days"))
                })?;
                v.push(days);
                Ok(())
            }
            Values::Float64(v) => {
                let x = match tok {
                    Tok::Num { text, .. } => text.parse::<f64>().unwrap_or(f64::NAN),
                    Tok::Str { raw, escaped } => {
                        parse_java_double(str_of(raw, escaped, &mut self.scratch))
                            .ok_or_else(|| cannot_coerce_string("DOUBLE"))?
                    }
                    _ => return Err(cannot_convert(&tok, "DOUBLE")),
                };
                v.push(x);
                Ok(())
            }
            Values::Decimal128 {
                values,
                precision,
                scale,
            } => {
                let parsed = match tok {
                    Tok::Num { text, .. } => DecimalText::parse(text),
                    Tok::Str { raw, escaped } => {
                        let text = str_of(raw, escaped, &mut self.scratch);
                        Some(DecimalText::parse(text).ok_or_else(|| {
                            JsonError::coerce(format!(
                                "Can't coerce string to type. targetType: DECIMAL, value: '{text}'"
                            ))
                        })?)
                    }
                    _ => None,
                };
                match parsed {
                    Some(d) => {
                        values.push(d.fit(*precision, *scale).map_err(JsonError::coerce)?);
                        Ok(())
                    }
                    None => Err(()),
                }
            }
            Values::Utf8(bytes) => {
                match tok {
                    Tok::Str { raw, escaped } => {
                        if escaped {
                            unescape_into(raw, &mut bytes.data);
                        } else {
                            bytes.data.extend_from_slice(raw.as_bytes());
                        }
                    }
                    Tok::Num { text, float } => number_text(text, float, &mut bytes.data),
                    Tok::Bool(x) => {
                        bytes
                            .data
                            .extend_from_slice(if x { b"true" } else { b"false" })
                    }
                    Tok::Obj => self.compact_object(&mut bytes.data)?,
                    Tok::Arr => self.array_text(&mut bytes.data)?,
                    Tok::Null => {}
                }
                bytes.close().map_err(JsonError::coerce)?;
                Ok(())
            }
            Values::Binary(bytes) => match tok {
                Tok::Str { raw, escaped } => {
                    let text = str_of(raw, escaped, &mut self.scratch);
                    base64_decode(&mut bytes.data, text).map_err(JsonError::coerce)?;
                    bytes.close().map_err(JsonError::coerce)?;
                    Ok(())
                }
                _ => Err(()),
            },
            Values::List { offsets, child } => match tok {
                Tok::Arr => {
                    let mut first = true;
                    let mut idx = 0usize;
                    while self.next_elem(&mut first)? {
                        self.value_into(child)
                            .map_err(|e| e.at(&format!("[{idx}]")))?;
                        idx += 1;
                    }
                    offsets.push(offset(child.len())?);
                    Ok(())
                }
                _ => Err(()),
            },
            Values::Map {
                offsets,
                keys,
                values,
            } => match tok {
                Tok::Obj => {
                    self.map_into(keys, values)?;
                    offsets.push(offset(keys.len())?);
                    Ok(())
                }
                _ => Err(()),
            },
            Values::Struct { children, index } => match tok {
                Tok::Obj => {
                    self.members_into(index, children, len)?;
                    Ok(())
                }
                _ => Err(()),
            },
        };
        match fits {
            Ok(()) => {
                col.set_valid();
                Ok(())
            }
            Err(()) => Err(cannot_convert(&tok, &col.ksql_type())),
        }
    }

    /// BIGINT-like values: numbers (`asLong`) or strings (`Long.parseLong`).
    fn long(&mut self, tok: Tok<'a>, target: &str) -> Result<i64> {
        match tok {
            Tok::Num { text, float } => Ok(number_as_i64(text, float)),
            Tok::Str { raw, escaped } => str_of(raw, escaped, &mut self.scratch)
                .parse::<i64>()
                .map_err(|_| cannot_coerce_string(target)),
            _ => Err(cannot_convert(&tok, target)),
        }
    }

    /// An object's members (the `{` already read) into struct children, each `base` long
    /// before. Missing fields become null; unknown keys are skipped.
    fn members_into(
        &mut self,
        index: &FieldIndex,
        children: &mut [ColumnBuilder],
        base: usize,
    ) -> Result<()> {
        let start = self.pos;
        let depth = self.depth;
        let mut first = true;
        let mut hint = 0;
        while let Some(key) = self.next_key(&mut first)? {
            match self.lookup(key, index, hint) {
                Some((i, _)) => {
                    if children[i].len() > base {
                        // A second key for the same field: resolve the way Jackson does.
                        for c in children.iter_mut() {
                            c.truncate(base);
                        }
                        self.pos = start;
                        self.depth = depth;
                        return self.members_resolving_duplicates(index, children, base);
                    }
                    hint = i + 1;
                    self.value_into(&mut children[i])
                        .map_err(|e| e.at(&format!(".{}", index.name(i))))?;
                }
                None => self.skip_value()?,
            }
        }
        fill_missing(index, children, base)
    }

    /// Slow path for objects naming a field twice (`{"a":1,"A":2}`, `{"A":1,"A":2}`): the last
    /// exact match wins, else the last case-insensitive one, as in ksqlDB.
    fn members_resolving_duplicates(
        &mut self,
        index: &FieldIndex,
        children: &mut [ColumnBuilder],
        base: usize,
    ) -> Result<()> {
        let start = self.pos;
        let depth = self.depth;
        let mut winners: Vec<Option<(usize, bool)>> = vec![None; children.len()];
        let mut first = true;
        let mut ordinal = 0usize;
        while let Some(key) = self.next_key(&mut first)? {
            if let Some((i, exact)) = self.lookup(key, index, 0) {
                let keep_old = matches!(winners[i], Some((_, true))) && !exact;
                if !keep_old {
                    winners[i] = Some((ordinal, exact));
                }
            }
            self.skip_value()?;
            ordinal += 1;
        }
        self.pos = start;
        self.depth = depth;
        let mut first = true;
        let mut ordinal = 0usize;
        while let Some(key) = self.next_key(&mut first)? {
            match self.lookup(key, index, 0) {
                Some((i, _)) if winners[i].is_some_and(|(o, _)| o == ordinal) => {
                    self.value_into(&mut children[i])
                        .map_err(|e| e.at(&format!(".{}", index.name(i))))?;
                }
                _ => self.skip_value()?,
            }
            ordinal += 1;
        }
        fill_missing(index, children, base)
    }

    /// An object's members (the `{` already read) as MAP entries. A repeated key keeps its last
    /// value, as Java's HashMap does.
    fn map_into(&mut self, keys: &mut ColumnBuilder, values: &mut ColumnBuilder) -> Result<()> {
        let start = self.pos;
        let depth = self.depth;
        let base = keys.len();
        let mut first = true;
        let mut big: Option<HashSet<Vec<u8>>> = None;
        while let Some(key) = self.next_key(&mut first)? {
            let Values::Utf8(kb) = &mut keys.values else {
                return Err(JsonError::coerce(
                    "JSON only supports MAP types with STRING keys",
                ));
            };
            let Tok::Str { raw, escaped } = key else {
                unreachable!("object keys are strings")
            };
            if escaped {
                unescape_into(raw, &mut kb.data);
            } else {
                kb.data.extend_from_slice(raw.as_bytes());
            }
            kb.close().map_err(JsonError::coerce)?;
            let n = kb.offsets.len() - 1;
            let this = kb.value(n - 1);
            let seen = n - 1 - base;
            let repeated = if seen < 32 {
                (base..n - 1).any(|j| kb.value(j) == this)
            } else {
                let set = big
                    .get_or_insert_with(|| (base..n - 1).map(|j| kb.value(j).to_vec()).collect());
                !set.insert(this.to_vec())
            };
            keys.set_valid();
            if repeated {
                keys.truncate(base);
                values.truncate(base);
                self.pos = start;
                self.depth = depth;
                return self.map_resolving_duplicates(keys, values);
            }
            if let Err(e) = self.value_into(values) {
                let Values::Utf8(kb) = &keys.values else {
                    unreachable!()
                };
                let key = String::from_utf8_lossy(kb.value(n - 1)).into_owned();
                return Err(e.at(&format!(".{key}.value")));
            }
        }
        Ok(())
    }

    fn map_resolving_duplicates(
        &mut self,
        keys: &mut ColumnBuilder,
        values: &mut ColumnBuilder,
    ) -> Result<()> {
        let start = self.pos;
        let depth = self.depth;
        let mut last: HashMap<String, usize> = HashMap::new();
        let mut first = true;
        let mut ordinal = 0usize;
        while let Some(key) = self.next_key(&mut first)? {
            last.insert(self.key_text(key).to_string(), ordinal);
            self.skip_value()?;
            ordinal += 1;
        }
        self.pos = start;
        self.depth = depth;
        let mut first = true;
        let mut ordinal = 0usize;
        while let Some(key) = self.next_key(&mut first)? {
            let text = self.key_text(key).to_string();
            if last.get(&text) == Some(&ordinal) {
                if let Values::Utf8(kb) = &mut keys.values {
                    kb.data.extend_from_slice(text.as_bytes());
                    kb.close().map_err(JsonError::coerce)?;
                }
                keys.set_valid();
                self.value_into(values)
                    .map_err(|e| e.at(&format!(".{text}.value")))?;
            } else {
                self.skip_value()?;
            }
            ordinal += 1;
        }
        Ok(())
    }

    // ---- values as text (STRING columns) ----------------------------------------------------

    /// An object (the `{` already read) as compact JSON text, the way ksqlDB re-serializes it.
    fn compact_object(&mut self, out: &mut Vec<u8>) -> Result<()> {
        out.push(b'{');
        let mut first = true;
        let mut n = 0;
        while let Some(key) = self.next_key(&mut first)? {
            if n > 0 {
                out.push(b',');
            }
            write_json_string(out, self.key_text(key));
            out.push(b':');
            let tok = self.token()?;
            self.compact(tok, out)?;
            n += 1;
        }
        out.push(b'}');
        Ok(())
    }

    fn compact(&mut self, tok: Tok<'a>, out: &mut Vec<u8>) -> Result<()> {
        match tok {
            Tok::Null => out.extend_from_slice(b"null"),
            Tok::Bool(x) => out.extend_from_slice(if x { b"true" } else { b"false" }),
            Tok::Num { text, float } => number_text(text, float, out),
            Tok::Str { raw, escaped } => {
                write_json_string(out, str_of(raw, escaped, &mut self.scratch))
            }
            Tok::Obj => self.compact_object(out)?,
            Tok::Arr => {
                out.push(b'[');
                let mut first = true;
                let mut n = 0;
                while self.next_elem(&mut first)? {
                    if n > 0 {
                        out.push(b',');
                    }
                    let t = self.token()?;
                    self.compact(t, out)?;
                    n += 1;
                }
                out.push(b']');
            }
        }
        Ok(())
    }

    /// An array (the `[` already read) as ksqlDB shows it in a STRING: `[a, 1, null]`, each
    /// element itself turned into a string.
    fn array_text(&mut self, out: &mut Vec<u8>) -> Result<()> {
        out.push(b'[');
        let mut first = true;
        let mut n = 0;
        while self.next_elem(&mut first)? {
            if n > 0 {
                out.extend_from_slice(b", ");
            }
            let tok = self.token()?;
            match tok {
                Tok::Null => out.extend_from_slice(b"null"),
                Tok::Bool(x) => out.extend_from_slice(if x { b"true" } else { b"false" }),
                Tok::Num { text, float } => number_text(text, float, out),
                Tok::Str { raw, escaped } => {
                    if escaped {
                        unescape_into(raw, out);
                    } else {
                        out.extend_from_slice(raw.as_bytes());
                    }
                }
                Tok::Obj => self.compact_object(out)?,
                Tok::Arr => self.array_text(out)?,
            }
            n += 1;
        }
        out.push(b']');
        Ok(())
    }
}

fn offset(len: usize) -> Result<i32> {
    i32::try_from(len).map_err(|_| JsonError::coerce("too many nested values in one batch"))
}

fn fill_missing(index: &FieldIndex, children: &mut [ColumnBuilder], base: usize) -> Result<()> {
    for (i, c) in children.iter_mut().enumerate() {
        if c.len() == base {
            c.append_null()
                .map_err(|e| JsonError::coerce(e).at(&format!(".{}", index.name(i))))?;
        }
    }
    Ok(())
}

/// How a record's JSON maps onto the columns.
#[derive(Debug)]
pub(crate) enum Shape {
    /// One column, the document is its bare value.
    Unwrapped,
    /// The document is an object, one member per column. `row_type` names it in errors.
    Wrapped { index: FieldIndex, row_type: String },
}

/// Decodes JSON documents into column builders.
#[derive(Debug)]
pub(crate) struct JsonDecoder {
    shape: Shape,
    scratch: Vec<u8>,
    upper: String,
}

impl JsonDecoder {
    pub(crate) fn new(shape: Shape) -> Self {
        JsonDecoder {
            shape,
            scratch: Vec::new(),
            upper: String::new(),
        }
    }

    /// Decode one document into `columns`, each `rows` long before. On error the columns may
    /// hold part of the row: the caller truncates them back to `rows`.
    pub(crate) fn decode(
        &mut self,
        bytes: &[u8],
        columns: &mut [ColumnBuilder],
        rows: usize,
    ) -> std::result::Result<(), String> {
        let s = std::str::from_utf8(bytes)
            .map_err(|e| format!("Invalid JSON: the bytes are not UTF-8 ({e})"))?;
        let mut p = Parser {
            s,
            b: s.as_bytes(),
            pos: 0,
            depth: 0,
            scratch: std::mem::take(&mut self.scratch),
            upper: std::mem::take(&mut self.upper),
        };
        let result = decode_root(&mut p, &self.shape, columns, rows);
        self.scratch = p.scratch;
        self.upper = p.upper;
        // Content after the root value is ignored, as Jackson's readTree does.
        result.map_err(JsonError::into_message)
    }
}

fn decode_root(
    p: &mut Parser<'_>,
    shape: &Shape,
    columns: &mut [ColumnBuilder],
    rows: usize,
) -> Result<()> {
    p.ws();
    if p.pos == p.b.len() {
        return p.syntax("no content");
    }
    match shape {
        Shape::Unwrapped => p.value_into(&mut columns[0]).map_err(|e| e.at("$")),
        Shape::Wrapped { index, row_type } => match p.token()? {
            Tok::Null => {
                for c in columns.iter_mut() {
                    c.append_null_masked();
                }
                Ok(())
            }
            Tok::Obj => p.members_into(index, columns, rows).map_err(|e| e.at("$")),
            other => Err(cannot_convert(&other, row_type).at("$")),
        },
    }
}
