//! Reading the corpus: test files, their tests, and the variants a test expands to.
//!
//! A test with `format: [A, B]` becomes one variant per format (`{FORMAT}` substituted), one
//! with `config: [x, y]` one variant per value (`{CONFIG}` substituted). Every variant has a
//! stable id, `file / test / FORMAT-or-dash`, which the ratchet file lists.

use std::path::{Path, PathBuf};

use crate::error::ConformanceError;
use crate::json::{parse_lenient, Json};

/// Functions that exist only in ksqlDB's Java test sources (registered by its test harness,
/// not shipped with ksqlDB): a test calling one cannot run against any other engine.
pub const TEST_ONLY_FUNCTIONS: &[&str] = &[
    "TEST_UDF",
    "TEST_UDAF",
    "BAD_UDF",
    "VAR_ARG",
    "MID_VAR_ARG",
    "GENERIC_VAR_ARG",
    "MULTI_ARG",
];

/// A test file and where it was found.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: PathBuf,
    /// The file's name in ids and reports: its path relative to the folder given on the command
    /// line (`query-validation-tests/filter.json`), or its file name when a file was given.
    pub name: String,
    /// Whether the file is a rest-query-validation file (statement responses are compared).
    pub rest: bool,
}

/// Finds the `.json` test files under each path (a file or a folder, searched recursively),
/// sorted by name.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<TestFile>, ConformanceError> {
    let mut out = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root)
            .map_err(|e| ConformanceError::io(root.display().to_string(), e))?;
        if meta.is_file() {
            let name = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| root.display().to_string());
            out.push(TestFile {
                path: root.clone(),
                rest: is_rest_path(root),
                name,
            });
            continue;
        }
        let mut files = Vec::new();
        walk(root, &mut files)?;
        files.sort();
        for f in files {
            let rel = f.strip_prefix(root).unwrap_or(&f);
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push(TestFile {
                rest: is_rest_path(&f),
                path: f,
                name,
            });
        }
    }
    Ok(out)
}

fn is_rest_path(p: &Path) -> bool {
    p.components()
        .any(|c| c.as_os_str().to_string_lossy() == "rest-query-validation-tests")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ConformanceError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| ConformanceError::io(dir.display().to_string(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| ConformanceError::io(dir.display().to_string(), e))?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// A record of `inputs` or `outputs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub topic: String,
    /// `null` when absent.
    pub key: Json,
    pub value: Json,
    pub timestamp: Option<i64>,
    pub partition: Option<i32>,
    pub window: Option<Window>,
    /// `None`: not given (an expected record then expects no headers).
    pub headers: Option<Vec<(String, Option<Vec<u8>>)>>,
}

/// The window of a windowed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    /// `time` or `session`, lower-case.
    pub kind: String,
}

/// A topic of the test's `topics` list.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: Option<i32>,
    /// The test gives registry schemas for this topic's key or value.
    pub has_schema: bool,
    /// The key's and the value's registry schema, if given.
    pub key_schema: Option<SchemaSpec>,
    pub value_schema: Option<SchemaSpec>,
}

/// A registry schema of the test's `topics` list.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaSpec {
    /// The schema: a JSON document (Avro, JSON Schema) or a string (`.proto` text, or an Avro
    /// primitive type name).
    pub schema: Json,
    /// `keyFormat` / `valueFormat`, upper case, when given.
    pub format: Option<String>,
    /// `keySchemaId` / `valueSchemaId`, when given.
    pub id: Option<u32>,
    /// `keySchemaReferences` / `valueSchemaReferences`: the schemas this one imports, as (import
    /// name, schema text), registered under the import name as subject.
    pub references: Vec<(String, String)>,
}

/// One runnable variant of a test.
#[derive(Debug, Clone)]
pub struct Variant {
    /// [`TestFile::name`].
    pub file: String,
    /// The test's name; `name [CONFIG=x]` for config variants, ` (2)` appended to repeats.
    pub test: String,
    /// The format substituted for `{FORMAT}`.
    pub format: Option<String>,
    pub rest: bool,
    pub statements: Vec<String>,
    pub inputs: Vec<Record>,
    pub outputs: Vec<Record>,
    pub topics: Vec<TopicSpec>,
    /// Session properties, values as text.
    pub properties: Vec<(String, String)>,
    /// `expectedException.message` / `expectedError.message` (may be empty: any error).
    pub expected_error: Option<String>,
    pub post: Option<Json>,
    /// RQTT: one expected response per statement.
    pub responses: Option<Vec<Json>>,
    /// RQTT `inputConditions.waitForActivePushQuery`.
    pub wait_for_push_query: bool,
    /// RQTT `outputConditions.verifyOrder`: query rows must come in the expected order;
    /// otherwise they are compared as a multiset, as ksqlDB's harness does.
    pub verify_order: bool,
    /// Why the variant is not run, if it is not.
    pub skip: Option<String>,
}

impl Variant {
    /// Whether the variant uses a schema-registry format: its `{FORMAT}`, or a FORMAT /
    /// KEY_FORMAT / VALUE_FORMAT property in its statements.
    pub fn uses_schema_registry(&self) -> bool {
        const SR: [&str; 4] = ["AVRO", "PROTOBUF", "PROTOBUF_NOSR", "JSON_SR"];
        if let Some(f) = &self.format {
            return SR.contains(&f.to_ascii_uppercase().as_str());
        }
        self.statements.iter().any(|s| {
            let s = s.to_ascii_uppercase().replace(' ', "");
            SR.iter().any(|f| {
                ["FORMAT='", "FORMAT=\""]
                    .iter()
                    .any(|p| s.contains(&format!("{p}{f}'")) || s.contains(&format!("{p}{f}\"")))
            })
        })
    }

    /// `file / test / FORMAT-or-dash`: the id the ratchet file lists.
    pub fn id(&self) -> String {
        variant_id(&self.file, &self.test, self.format.as_deref())
    }
}

/// The id of a variant.
pub fn variant_id(file: &str, test: &str, format: Option<&str>) -> String {
    format!("{file} / {test} / {}", format.unwrap_or("-"))
}

/// Reads a test file and expands its tests into variants.
pub fn load(file: &TestFile) -> Result<Vec<Variant>, ConformanceError> {
    let text = std::fs::read_to_string(&file.path)
        .map_err(|e| ConformanceError::io(file.path.display().to_string(), e))?;
    let doc = parse_lenient(&text).map_err(|e| corpus_err(file, e.to_string()))?;
    let tests = doc
        .get("tests")
        .and_then(Json::as_array)
        .ok_or_else(|| corpus_err(file, "no \"tests\" array".into()))?;
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, test) in tests.iter().enumerate() {
        let base = test
            .get("name")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("test #{}", i + 1));
        let repeats = seen.iter().filter(|n| **n == base).count();
        seen.push(base.clone());
        let name = if repeats == 0 {
            base
        } else {
            format!("{base} ({})", repeats + 1)
        };
        out.extend(expand(file, &name, test)?);
    }
    Ok(out)
}

fn corpus_err(file: &TestFile, reason: String) -> ConformanceError {
    ConformanceError::Corpus {
        file: file.name.clone(),
        reason,
    }
}

fn string_list(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|items| items.iter().map(Json::to_plain_text).collect())
        .unwrap_or_default()
}

/// One variant per format × config value.
fn expand(file: &TestFile, name: &str, test: &Json) -> Result<Vec<Variant>, ConformanceError> {
    let formats = string_list(test.get("format"));
    let configs = string_list(test.get("config"));
    let formats: Vec<Option<String>> = if formats.is_empty() {
        vec![None]
    } else {
        formats.into_iter().map(Some).collect()
    };
    let configs: Vec<Option<String>> = if configs.is_empty() {
        vec![None]
    } else {
        configs.into_iter().map(Some).collect()
    };
    let mut out = Vec::new();
    for format in &formats {
        for config in &configs {
            let t = substitute(test, format.as_deref(), config.as_deref());
            let test_name = match config {
                Some(c) => format!("{name} [CONFIG={c}]"),
                None => name.to_string(),
            };
            let v = variant(file, test_name, format.clone(), &t)
                .map_err(|reason| corpus_err(file, format!("test '{name}': {reason}")))?;
            out.push(v);
        }
    }
    Ok(out)
}

/// Replaces `{FORMAT}` and `{CONFIG}` in every string of the test.
fn substitute(v: &Json, format: Option<&str>, config: Option<&str>) -> Json {
    match v {
        Json::String(s) => {
            let mut s = s.clone();
            if let Some(f) = format {
                s = s.replace("{FORMAT}", f);
            }
            if let Some(c) = config {
                s = s.replace("{CONFIG}", c);
            }
            Json::String(s)
        }
        Json::Array(items) => Json::Array(
            items
                .iter()
                .map(|i| substitute(i, format, config))
                .collect(),
        ),
        Json::Object(members) => Json::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), substitute(v, format, config)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn variant(
    file: &TestFile,
    test: String,
    format: Option<String>,
    t: &Json,
) -> Result<Variant, String> {
    let statements = string_list(t.get("statements"));
    let inputs = records(t.get("inputs"))?;
    let outputs = records(t.get("outputs"))?;
    let topics = t
        .get("topics")
        .and_then(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .filter_map(|tp| {
            let name = tp.get("name")?.as_str()?.to_string();
            Some(TopicSpec {
                name,
                partitions: tp
                    .get("partitions")
                    .and_then(Json::as_i64)
                    .map(|p| p as i32),
                has_schema: ["keySchema", "valueSchema"]
                    .iter()
                    .any(|k| tp.get(k).is_some_and(|s| !s.is_null())),
                key_schema: schema_spec(tp, "key"),
                value_schema: schema_spec(tp, "value"),
            })
        })
        .collect();
    let properties = match t.get("properties") {
        Some(Json::Object(members)) => members
            .iter()
            .map(|(k, v)| (k.clone(), v.to_plain_text()))
            .collect(),
        _ => Vec::new(),
    };
    let expected_error = t
        .get("expectedException")
        .or_else(|| t.get("expectedError"))
        .map(|e| {
            e.get("message")
                .map(Json::to_plain_text)
                .unwrap_or_default()
        });
    // `queryProto` responses check the REST API's protobuf encoding of query results (tests
    // with `testPullWithProtoFormat`); pgwire has its own encoding, so they are not compared.
    let responses = t.get("responses").and_then(Json::as_array).map(|r| {
        r.iter()
            .filter(|x| x.get("queryProto").is_none())
            .cloned()
            .collect::<Vec<_>>()
    });
    let wait_for_push_query = t
        .get("inputConditions")
        .and_then(|c| c.get("waitForActivePushQuery"))
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let verify_order = t
        .get("outputConditions")
        .and_then(|c| c.get("verifyOrder"))
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let rest = file.rest || responses.is_some() || t.get("expectedError").is_some();
    let skip = skip_reason(t, &statements);
    Ok(Variant {
        file: file.name.clone(),
        test,
        format,
        rest,
        statements,
        inputs,
        outputs,
        topics,
        properties,
        expected_error,
        post: t.get("post").cloned(),
        responses,
        wait_for_push_query,
        verify_order,
        skip,
    })
}

fn records(v: Option<&Json>) -> Result<Vec<Record>, String> {
    let Some(items) = v.and_then(Json::as_array) else {
        return Ok(Vec::new());
    };
    items.iter().map(record).collect()
}

fn record(r: &Json) -> Result<Record, String> {
    let topic = r
        .get("topic")
        .and_then(Json::as_str)
        .ok_or("a record without \"topic\"")?
        .to_string();
    let window = match r.get("window") {
        None | Some(Json::Null) => None,
        Some(w) => Some(Window {
            start: w
                .get("start")
                .and_then(Json::as_i64)
                .ok_or("window without start")?,
            end: w
                .get("end")
                .and_then(Json::as_i64)
                .ok_or("window without end")?,
            kind: w
                .get("type")
                .and_then(Json::as_str)
                .unwrap_or("time")
                .to_ascii_lowercase(),
        }),
    };
    let headers = match r.get("headers") {
        None | Some(Json::Null) => None,
        Some(Json::Array(hs)) => {
            let mut out = Vec::new();
            for h in hs {
                let k = h
                    .get("KEY")
                    .or_else(|| h.get("key"))
                    .and_then(Json::as_str)
                    .ok_or("a header without KEY")?
                    .to_string();
                let v = match h.get("VALUE").or_else(|| h.get("value")) {
                    None | Some(Json::Null) => None,
                    Some(Json::String(b64)) => Some(
                        crate::base64::decode(b64)
                            .ok_or_else(|| format!("header {k}: invalid base64"))?,
                    ),
                    Some(_) => return Err(format!("header {k}: VALUE is not a string")),
                };
                out.push((k, v));
            }
            Some(out)
        }
        Some(_) => return Err("\"headers\" is not an array".into()),
    };
    Ok(Record {
        topic,
        key: r.get("key").cloned().unwrap_or(Json::Null),
        value: r.get("value").cloned().unwrap_or(Json::Null),
        timestamp: r.get("timestamp").and_then(Json::as_i64),
        partition: r.get("partition").and_then(Json::as_i64).map(|p| p as i32),
        window,
        headers,
    })
}

/// Why a test cannot run against any engine but ksqlDB's own test harness, if it cannot.
/// Missing Sluice features are never a reason: such tests run and fail.
fn skip_reason(t: &Json, statements: &[String]) -> Option<String> {
    if t.get("enabled").and_then(Json::as_bool) == Some(false) {
        return Some("disabled in the corpus (\"enabled\": false)".into());
    }
    for s in statements {
        if let Some(f) = called_functions(s)
            .into_iter()
            .find(|f| TEST_ONLY_FUNCTIONS.contains(&f.as_str()))
        {
            return Some(format!(
                "calls {f}, a function that exists only in ksqlDB's Java test sources"
            ));
        }
    }
    None
}

/// Upper-cased identifiers directly followed by `(` outside string literals and quoted names.
fn called_functions(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '`' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if j < chars.len() && chars[j] == '(' {
                out.push(word.to_uppercase());
            }
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rest: bool) -> TestFile {
        TestFile {
            path: PathBuf::from("x.json"),
            name: "x.json".into(),
            rest,
        }
    }

    #[test]
    fn formats_and_configs_expand_with_substitution() {
        let t = parse_lenient(
            r#"{"name": "n", "format": ["JSON", "AVRO"], "config": ["true", "false"],
                "statements": ["CREATE STREAM S (A INT) WITH (value_format='{FORMAT}');"],
                "properties": {"p": "{CONFIG}", "q": 5},
                "inputs": [{"topic": "t", "value": {"A": 1}}], "outputs": []}"#,
        )
        .unwrap();
        let vs = expand(&file(false), "n", &t).unwrap();
        assert_eq!(vs.len(), 4);
        assert_eq!(vs[0].format.as_deref(), Some("JSON"));
        assert_eq!(vs[0].test, "n [CONFIG=true]");
        assert!(vs[0].statements[0].contains("value_format='JSON'"));
        assert!(vs[3].statements[0].contains("value_format='AVRO'"));
        assert_eq!(
            vs[3].properties,
            vec![("p".into(), "false".into()), ("q".into(), "5".into())]
        );
        assert_eq!(vs[1].id(), "x.json / n [CONFIG=false] / JSON");
        assert!(!vs[0].rest);
    }

    #[test]
    fn records_keep_keys_windows_and_headers() {
        let r = record(
            &parse_lenient(
                r#"{"topic": "t", "value": null, "timestamp": 5,
                    "window": {"start": 0, "end": 10, "type": "SESSION"},
                    "headers": [{"KEY": "k", "VALUE": "IQ=="}, {"KEY": "n", "VALUE": null}]}"#,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(r.key, Json::Null);
        assert_eq!(r.timestamp, Some(5));
        assert_eq!(
            r.window,
            Some(Window {
                start: 0,
                end: 10,
                kind: "session".into()
            })
        );
        assert_eq!(
            r.headers,
            Some(vec![("k".into(), Some(vec![0x21])), ("n".into(), None)])
        );
    }

    #[test]
    fn skips_only_for_test_harness_reasons() {
        let t = parse_lenient(r#"{"enabled": false}"#).unwrap();
        assert!(skip_reason(&t, &[]).unwrap().contains("enabled"));
        let t = parse_lenient("{}").unwrap();
        let s = vec!["SELECT test_udf(a, 'x(') FROM s;".to_string()];
        assert!(skip_reason(&t, &s).unwrap().contains("TEST_UDF"));
        // A function name inside a string literal is not a call.
        let s = vec!["SELECT concat('test_udf(', a) FROM s;".to_string()];
        assert_eq!(skip_reason(&t, &s), None);
        // Not supported by Sluice is not a reason to skip.
        let s = vec!["CREATE TABLE T AS SELECT K, COUNT(*) FROM S GROUP BY K;".to_string()];
        assert_eq!(skip_reason(&t, &s), None);
    }

    #[test]
    fn repeated_names_get_distinct_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        std::fs::write(
            &p,
            r#"{"tests": [
                {"name": "a", "statements": ["x"], "inputs": [], "outputs": []},
                {"name": "a", "statements": ["y"], "inputs": [], "outputs": []},
            ]}"#,
        )
        .unwrap();
        let files = discover(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].name, "f.json");
        let vs = load(&files[0]).unwrap();
        assert_eq!(vs[0].test, "a");
        assert_eq!(vs[1].test, "a (2)");
    }
}

fn schema_spec(tp: &Json, part: &str) -> Option<SchemaSpec> {
    let schema = tp.get(&format!("{part}Schema")).filter(|s| !s.is_null())?;
    Some(SchemaSpec {
        schema: schema.clone(),
        format: tp
            .get(&format!("{part}Format"))
            .and_then(Json::as_str)
            .map(str::to_uppercase),
        id: tp
            .get(&format!("{part}SchemaId"))
            .and_then(Json::as_i64)
            .and_then(|i| u32::try_from(i).ok()),
        references: tp
            .get(&format!("{part}SchemaReferences"))
            .and_then(Json::as_array)
            .map(|refs| {
                refs.iter()
                    .filter_map(|r| {
                        let name = r.get("name")?.as_str()?.to_string();
                        let text = match r.get("schema")? {
                            Json::String(t) => t.clone(),
                            other => other.to_string(),
                        };
                        Some((name, text))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}
