//! Parses every statement of ksqlDB's query-validation-tests corpus (read in place from
//! `shared/ksql-tests`, or `$SLUICE_KSQL_TESTS`) and checks the fraction that parses.

use std::path::{Path, PathBuf};

/// Strips `//` and `/* */` comments (outside strings) and trailing commas.
fn lenient_json(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_str = false;
    while i < chars.len() {
        let c = chars[i];
        if in_str {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            if c == '"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
                i += 1;
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            ',' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if !matches!(chars.get(j), Some(']') | Some('}')) {
                    out.push(c);
                }
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn corpus_dir(sub: &str) -> Option<PathBuf> {
    let candidates = [
        std::env::var("SLUICE_KSQL_TESTS").ok().map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ksql-tests")),
        Some(PathBuf::from("/work/shared/ksql-tests")),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|d| d.join(sub))
        .find(|d| d.is_dir())
}

struct Case {
    file: String,
    test: String,
    statement: String,
    /// The test expects an error (the statement may legitimately not parse).
    expects_error: bool,
    /// The expected error message mentions a syntax error.
    expects_syntax_error: bool,
    last: bool,
}

fn load(dir: &Path) -> Vec<Case> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&lenient_json(&text))
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let file = f.file_name().unwrap().to_string_lossy().to_string();
        for t in doc["tests"].as_array().into_iter().flatten() {
            let format = t["format"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(|v| v.as_str())
                .unwrap_or("JSON")
                .to_string();
            let exc = t
                .get("expectedException")
                .or_else(|| t.get("expectedError"));
            let msg = exc
                .and_then(|e| e["message"].as_str())
                .unwrap_or_default()
                .to_lowercase();
            let stmts = t["statements"].as_array().cloned().unwrap_or_default();
            let n = stmts.len();
            for (i, s) in stmts.into_iter().enumerate() {
                cases.push(Case {
                    file: file.clone(),
                    test: t["name"].as_str().unwrap_or_default().to_string(),
                    statement: s.as_str().unwrap_or_default().replace("{FORMAT}", &format),
                    expects_error: exc.is_some(),
                    expects_syntax_error: msg.contains("syntax error")
                        || msg.contains("mismatched input"),
                    last: i + 1 == n,
                });
            }
        }
    }
    cases
}

/// Parses the statements of one corpus folder; returns (parsed fraction, statements routed
/// to PostgreSQL, expected syntax errors rejected, expected syntax errors).
fn check(sub: &str, min_cases: usize) -> Option<(f64, usize, usize, usize)> {
    let Some(dir) = corpus_dir(sub) else {
        eprintln!("ksql-tests corpus not found; set SLUICE_KSQL_TESTS to run this test");
        return None;
    };
    let cases = load(&dir);
    assert!(
        cases.len() >= min_cases,
        "corpus looks truncated: {}",
        cases.len()
    );

    let mut total = 0usize;
    let mut ok = 0usize;
    let mut postgres = 0usize;
    let mut failures = Vec::new();
    let mut syntax_total = 0usize;
    let mut syntax_rejected = 0usize;
    for c in &cases {
        let result = sluice_parser::parse(&c.statement);
        if c.expects_syntax_error && c.last {
            syntax_total += 1;
            if result.is_err() {
                syntax_rejected += 1;
            } else {
                eprintln!(
                    "ACCEPTED (expected syntax error) {} / {}: {}",
                    c.file, c.test, c.statement
                );
            }
            continue;
        }
        if c.expects_error && c.last {
            continue; // may fail for reasons of its own; not counted
        }
        total += 1;
        match result {
            Ok(stmts) => {
                ok += 1;
                if stmts
                    .iter()
                    .any(|s| matches!(s.statement, sluice_parser::Statement::Postgres(_)))
                {
                    postgres += 1;
                    eprintln!("POSTGRES {} / {}: {}", c.file, c.test, c.statement);
                }
            }
            Err(e) => failures.push(format!("{} / {}: {e}\n    {}", c.file, c.test, c.statement)),
        }
    }
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    let fraction = ok as f64 / total as f64;
    eprintln!(
        "{sub}: parsed {ok}/{total} = {fraction:.4}; {postgres} routed to PostgreSQL; \
         {syntax_rejected}/{syntax_total} expected syntax errors rejected"
    );
    Some((fraction, postgres, syntax_rejected, syntax_total))
}

#[test]
fn query_validation_tests_parse() {
    let Some((fraction, postgres, rejected, syntax_total)) = check("query-validation-tests", 2000)
    else {
        return;
    };
    assert!(
        fraction >= 0.99,
        "only {fraction:.4} of corpus statements parse"
    );
    assert_eq!(
        postgres, 0,
        "KSQL corpus statements must not fall back to PostgreSQL"
    );
    assert!(syntax_total > 0);
    assert!(
        rejected * 10 >= syntax_total * 8,
        "too few expected syntax errors rejected: {rejected}/{syntax_total}"
    );
}

#[test]
fn rest_query_validation_tests_parse() {
    let Some((fraction, postgres, _, _)) = check("rest-query-validation-tests", 300) else {
        return;
    };
    assert!(
        fraction >= 0.99,
        "only {fraction:.4} of corpus statements parse"
    );
    assert_eq!(
        postgres, 0,
        "KSQL corpus statements must not fall back to PostgreSQL"
    );
}
