//! A small, quote-aware SQL lexer: enough to split a query string into statements, to find `$n`
//! placeholders outside literals, and to recognise the connection-level statements this crate
//! handles itself. It never fails: an unterminated literal or comment runs to the end of the text
//! (the engine reports the real syntax error).
//!
//! Understood: `'..'` (with `''`), `E'..'` (backslash escapes), `".."` and `` `..` `` identifiers
//! (doubled quote escapes), `$$..$$` / `$tag$..$tag$` dollar quoting, `--` line comments and
//! nested `/* */` block comments.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// An unquoted identifier or keyword.
    Word,
    /// A `"double quoted"` identifier.
    QuotedIdent,
    /// A `` `backtick quoted` `` identifier (KSQL style).
    BacktickIdent,
    /// A string literal: `'..'`, `E'..'` or dollar quoted.
    String,
    /// A numeric literal.
    Number,
    /// A `$n` placeholder (1-based).
    Param(usize),
    /// `;`
    Semicolon,
    /// Any other character (operators, parentheses, commas ...), one per token.
    Punct,
}

/// One token: its kind and its byte range in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token's text.
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }

    /// Whether this is the unquoted word `kw` (case-insensitive).
    pub fn is_word(&self, sql: &str, kw: &str) -> bool {
        self.kind == TokenKind::Word && self.text(sql).eq_ignore_ascii_case(kw)
    }

    /// Whether this is the single punctuation character `c`.
    pub fn is_punct(&self, sql: &str, c: char) -> bool {
        self.kind == TokenKind::Punct && self.text(sql).starts_with(c)
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

/// Tokenize `sql`, skipping whitespace and comments.
pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let n = bytes.len();
    while i < n {
        let c = sql[i..].chars().next().expect("in bounds");
        let start = i;
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        if c == '-' && bytes.get(i + 1) == Some(&b'-') {
            i = sql[i..].find('\n').map(|p| i + p + 1).unwrap_or(n);
            continue;
        }
        if c == '/' && bytes.get(i + 1) == Some(&b'*') {
            i = skip_block_comment(bytes, i);
            continue;
        }
        let kind = match c {
            '\'' => {
                i = skip_quoted(bytes, i, b'\'', false);
                TokenKind::String
            }
            '"' => {
                i = skip_quoted(bytes, i, b'"', false);
                TokenKind::QuotedIdent
            }
            '`' => {
                i = skip_quoted(bytes, i, b'`', false);
                TokenKind::BacktickIdent
            }
            ';' => {
                i += 1;
                TokenKind::Semicolon
            }
            '$' => {
                if let Some((end, index)) = scan_param(bytes, i) {
                    i = end;
                    TokenKind::Param(index)
                } else if let Some(end) = scan_dollar_quoted(sql, i) {
                    i = end;
                    TokenKind::String
                } else {
                    i += 1;
                    TokenKind::Punct
                }
            }
            c if c.is_ascii_digit()
                || (c == '.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                i = scan_number(bytes, i);
                TokenKind::Number
            }
            c if is_ident_start(c) => {
                // E'...' : a string with backslash escapes.
                if (c == 'E' || c == 'e') && bytes.get(i + 1) == Some(&b'\'') {
                    i = skip_quoted(bytes, i + 1, b'\'', true);
                    TokenKind::String
                } else {
                    i += c.len_utf8();
                    while let Some(c) = sql[i..].chars().next() {
                        if !is_ident_char(c) {
                            break;
                        }
                        i += c.len_utf8();
                    }
                    TokenKind::Word
                }
            }
            other => {
                i += other.len_utf8();
                TokenKind::Punct
            }
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
        });
    }
    tokens
}

/// Skip a quoted run starting at the opening quote `bytes[i]`; a doubled quote is an escaped
/// quote; with `backslash`, `\x` escapes any byte. Returns the index after the closing quote.
fn skip_quoted(bytes: &[u8], mut i: usize, quote: u8, backslash: bool) -> usize {
    i += 1;
    while i < bytes.len() {
        let b = bytes[i];
        if backslash && b == b'\\' {
            i += 2;
            continue;
        }
        if b == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Skip a (nested) block comment starting at `/*`.
fn skip_block_comment(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// `$123` → (end, 123).
fn scan_param(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    let mut j = i + 1;
    while j < bytes.len() && bytes[j].is_ascii_digit() {
        j += 1;
    }
    if j == i + 1 {
        return None;
    }
    let index = std::str::from_utf8(&bytes[i + 1..j]).ok()?.parse().ok()?;
    Some((j, index))
}

/// `$tag$ ... $tag$` → end (or the end of the text when unterminated).
fn scan_dollar_quoted(sql: &str, i: usize) -> Option<usize> {
    let rest = &sql[i + 1..];
    let mut tag_len = 0;
    for (k, c) in rest.char_indices() {
        if c == '$' {
            tag_len = k;
            break;
        }
        let ok = if k == 0 {
            is_ident_start(c)
        } else {
            is_ident_char(c) && c != '$'
        };
        if !ok {
            return None;
        }
        tag_len = k + c.len_utf8();
    }
    if !rest[tag_len..].starts_with('$') {
        return None;
    }
    let delimiter = &sql[i..i + tag_len + 2];
    let body_start = i + delimiter.len();
    Some(
        sql[body_start..]
            .find(delimiter)
            .map(|p| body_start + p + delimiter.len())
            .unwrap_or(sql.len()),
    )
}

fn scan_number(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        if j < bytes.len() && bytes[j].is_ascii_digit() {
            i = j;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// One statement of a query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    /// Byte range of the statement text (trimmed, without the `;`).
    pub start: usize,
    pub end: usize,
    /// Character offset of `start` in the whole string (for error positions).
    pub char_offset: usize,
}

impl Piece {
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }
}

/// Split a query string into its non-empty statements, in order. Statements that contain only
/// whitespace and comments are dropped (a string of only those yields no pieces at all).
pub(crate) fn split_statements(sql: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut segment_start = 0;
    let mut has_tokens = false;
    let push = |from: usize, to: usize, has_tokens: bool, pieces: &mut Vec<Piece>| {
        if !has_tokens {
            return;
        }
        let raw = &sql[from..to];
        let lead = raw.len() - raw.trim_start().len();
        let start = from + lead;
        let end = from + raw.trim_end().len();
        pieces.push(Piece {
            start,
            end,
            char_offset: sql[..start].chars().count(),
        });
    };
    for token in tokenize(sql) {
        if token.kind == TokenKind::Semicolon {
            push(segment_start, token.start, has_tokens, &mut pieces);
            segment_start = token.end;
            has_tokens = false;
        } else {
            has_tokens = true;
        }
    }
    push(segment_start, sql.len(), has_tokens, &mut pieces);
    pieces
}

/// The highest `$n` placeholder index in `sql` (0 when there is none).
pub(crate) fn max_placeholder(sql: &str) -> usize {
    tokenize(sql)
        .iter()
        .filter_map(|t| match t.kind {
            TokenKind::Param(n) => Some(n),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The identifier a token names: unquoted words fold to lower case (PostgreSQL rules), quoted
/// identifiers are taken verbatim without their quotes.
pub(crate) fn identifier(sql: &str, token: &Token) -> Option<String> {
    let text = token.text(sql);
    match token.kind {
        TokenKind::Word => Some(text.to_lowercase()),
        TokenKind::QuotedIdent if text.len() >= 2 && text.ends_with('"') => {
            Some(text[1..text.len() - 1].replace("\"\"", "\""))
        }
        TokenKind::BacktickIdent if text.len() >= 2 && text.ends_with('`') => {
            Some(text[1..text.len() - 1].replace("``", "`"))
        }
        _ => None,
    }
}

/// The value of a plain `'..'` string literal token, or `None` for other tokens.
pub(crate) fn string_value(sql: &str, token: &Token) -> Option<String> {
    let text = token.text(sql);
    if token.kind != TokenKind::String || !text.starts_with('\'') || text.len() < 2 {
        return None;
    }
    if !text.ends_with('\'') {
        return None;
    }
    Some(text[1..text.len() - 1].replace("''", "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split_statements(sql).iter().map(|p| p.text(sql)).collect()
    }

    #[test]
    fn splits_on_semicolons_outside_quotes() {
        assert_eq!(texts("SELECT 1; SELECT 2"), vec!["SELECT 1", "SELECT 2"]);
        assert_eq!(
            texts("SELECT 'a;b'; SELECT \"x;y\" FROM `t;u`;"),
            vec!["SELECT 'a;b'", "SELECT \"x;y\" FROM `t;u`"]
        );
        assert_eq!(
            texts("SELECT 'it''s; here'; SELECT 2"),
            vec!["SELECT 'it''s; here'", "SELECT 2"]
        );
        assert_eq!(
            texts(r"SELECT E'a\';b'; SELECT 2"),
            vec![r"SELECT E'a\';b'", "SELECT 2"]
        );
    }

    #[test]
    fn dollar_quotes_and_comments_hide_semicolons() {
        assert_eq!(
            texts("SELECT $$a;b$$; SELECT $tag$ x;$$; $tag$"),
            vec!["SELECT $$a;b$$", "SELECT $tag$ x;$$; $tag$"]
        );
        assert_eq!(
            texts("SELECT 1 -- one; two\n; SELECT /* a; /* nested; */ b; */ 2"),
            vec!["SELECT 1 -- one; two", "SELECT /* a; /* nested; */ b; */ 2"]
        );
    }

    #[test]
    fn empty_statements_are_dropped() {
        assert!(split_statements("").is_empty());
        assert!(split_statements(" ; ;; ").is_empty());
        assert!(split_statements("-- only a comment").is_empty());
        assert!(split_statements("/* c */ ;").is_empty());
        assert_eq!(texts(";;SELECT 1;;"), vec!["SELECT 1"]);
    }

    #[test]
    fn unterminated_literal_runs_to_end() {
        assert_eq!(
            texts("SELECT 'abc; SELECT 2"),
            vec!["SELECT 'abc; SELECT 2"]
        );
        assert_eq!(texts("SELECT 1; /* open"), vec!["SELECT 1"]);
    }

    #[test]
    fn char_offsets_count_characters() {
        let sql = "SELECT 'é';  SELECT 2";
        let pieces = split_statements(sql);
        assert_eq!(pieces[0].char_offset, 0);
        // 'SELECT 'é';' is 11 characters, then two spaces.
        assert_eq!(pieces[1].char_offset, 13);
        assert_eq!(pieces[1].text(sql), "SELECT 2");
    }

    #[test]
    fn placeholders_outside_literals() {
        assert_eq!(max_placeholder("SELECT $1, '$5', $$ $9 $$, $2"), 2);
        assert_eq!(max_placeholder("SELECT a$1 FROM t"), 0);
        assert_eq!(max_placeholder("SELECT 1"), 0);
        let toks = tokenize("x=$12");
        assert_eq!(toks[2].kind, TokenKind::Param(12));
    }

    #[test]
    fn identifiers_fold_case_unless_quoted() {
        let sql = r#"Foo "Bar""x" `b``q`"#;
        let toks = tokenize(sql);
        assert_eq!(identifier(sql, &toks[0]).as_deref(), Some("foo"));
        assert_eq!(identifier(sql, &toks[1]).as_deref(), Some("Bar\"x"));
        assert_eq!(identifier(sql, &toks[2]).as_deref(), Some("b`q"));
    }

    #[test]
    fn numbers_and_strings() {
        let sql = "1.5e-3 .5 'a''b'";
        let toks = tokenize(sql);
        assert_eq!(toks.len(), 3);
        assert_eq!(toks[0].text(sql), "1.5e-3");
        assert_eq!(toks[1].text(sql), ".5");
        assert_eq!(string_value(sql, &toks[2]).as_deref(), Some("a'b"));
    }
}
