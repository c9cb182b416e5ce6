//! Tokenizing: sqlparser's tokenizer with the KSQL dialect, then a pass that applies
//! ksqlDB's identifier rule (unquoted words upper-cased), drops whitespace and comments,
//! and splits `>>` into two `>` (so `ARRAY<MAP<STRING, INT>>` closes properly).

use crate::dialect::KsqlDialect;
use crate::sql::dialect::Dialect;
use crate::sql::tokenizer::{Location, Span, Token, TokenWithSpan, Tokenizer, TokenizerError};

/// Tokenizes `text` with `dialect`, keeping locations, dropping whitespace and comments.
pub(crate) fn tokens_with(
    dialect: &dyn Dialect,
    text: &str,
) -> Result<Vec<TokenWithSpan>, TokenizerError> {
    let tokens = Tokenizer::new(dialect, text).tokenize_with_location()?;
    Ok(tokens
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect())
}

/// KSQL tokens of `text`: unquoted words upper-cased (their `keyword` is kept), `>>` split.
pub(crate) fn ksql_tokens(text: &str) -> Result<Vec<TokenWithSpan>, TokenizerError> {
    let raw = tokens_with(&KsqlDialect, text)?;
    let mut out = Vec::with_capacity(raw.len());
    for mut t in raw {
        match &mut t.token {
            Token::Word(w) if w.quote_style.is_none() => {
                w.value = w.value.to_uppercase();
                out.push(t);
            }
            Token::ShiftRight => {
                let start = t.span.start;
                let mid = Location {
                    line: start.line,
                    column: start.column + 1,
                };
                out.push(TokenWithSpan::new(Token::Gt, Span::new(start, mid)));
                out.push(TokenWithSpan::new(Token::Gt, Span::new(mid, t.span.end)));
            }
            _ => out.push(t),
        }
    }
    Ok(out)
}

/// PostgreSQL tokens: unquoted words lower-cased (PostgreSQL's identifier rule).
pub(crate) fn lowercase_words(tokens: &mut [TokenWithSpan]) {
    for t in tokens {
        if let Token::Word(w) = &mut t.token {
            if w.quote_style.is_none() {
                w.value = w.value.to_lowercase();
            }
        }
    }
}

/// Splits a token list at top-level `;` tokens. Each range excludes the `;`; the bool says
/// whether the statement was terminated by one. Empty statements are skipped.
pub(crate) fn split_statements(tokens: &[TokenWithSpan]) -> Vec<(std::ops::Range<usize>, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.token == Token::SemiColon {
            if i > start {
                out.push((start..i, true));
            }
            start = i + 1;
        }
    }
    if start < tokens.len() {
        out.push((start..tokens.len(), false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_upper_cased_unless_quoted() {
        let toks = ksql_tokens("select `MiXed`, \"Dq\", plain -- comment\n").unwrap();
        let words: Vec<(String, Option<char>)> = toks
            .iter()
            .filter_map(|t| match &t.token {
                Token::Word(w) => Some((w.value.clone(), w.quote_style)),
                _ => None,
            })
            .collect();
        assert_eq!(
            words,
            vec![
                ("SELECT".to_string(), None),
                ("MiXed".to_string(), Some('`')),
                ("Dq".to_string(), Some('"')),
                ("PLAIN".to_string(), None),
            ]
        );
    }

    #[test]
    fn shift_right_is_split() {
        let toks = ksql_tokens("ARRAY<ARRAY<INT>>").unwrap();
        let gts = toks.iter().filter(|t| t.token == Token::Gt).count();
        assert_eq!(gts, 2);
        assert!(!toks.iter().any(|t| t.token == Token::ShiftRight));
    }

    #[test]
    fn statements_split_at_semicolons_outside_strings() {
        let toks = ksql_tokens("SET 'a'='x;y'; ; SHOW STREAMS").unwrap();
        let parts = split_statements(&toks);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].1);
        assert!(!parts[1].1);
        assert_eq!(parts[1].0.len(), 2);
    }
}
