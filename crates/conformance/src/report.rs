//! What the runner tells: the console report, the JSON report, the ratchet file of passing
//! ids, and the Markdown page of pass rates (`docs/conformance.md`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::ConformanceError;
use crate::run::{Outcome, Status};

/// Counts of a set of outcomes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Self {
        let mut c = Counts::default();
        for o in outcomes {
            match o.status {
                Status::Pass => c.passed += 1,
                Status::Fail => c.failed += 1,
                Status::Skip => c.skipped += 1,
            }
        }
        c
    }

    /// `N passed, M failed, K skipped`.
    pub fn line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }

    /// Passed among the variants that ran, in percent (one decimal).
    pub fn rate(&self) -> String {
        let ran = self.passed + self.failed;
        if ran == 0 {
            "-".into()
        } else {
            format!("{:.1}%", 100.0 * self.passed as f64 / ran as f64)
        }
    }
}

/// Outcomes grouped by file, files in the order they were run.
pub fn by_file(outcomes: &[Outcome]) -> Vec<(String, Vec<&Outcome>)> {
    let mut out: Vec<(String, Vec<&Outcome>)> = Vec::new();
    for o in outcomes {
        match out.iter_mut().find(|(f, _)| *f == o.file) {
            Some((_, list)) => list.push(o),
            None => out.push((o.file.clone(), vec![o])),
        }
    }
    out
}

/// The console report: one line per failing variant (with `verbose`, the expected and actual
/// records under it), a summary line per file, and last the total line.
pub fn console(outcomes: &[Outcome], verbose: bool) -> String {
    let mut s = String::new();
    for (file, list) in by_file(outcomes) {
        for o in &list {
            if o.status == Status::Fail {
                s.push_str(&format!("FAIL {}: {}\n", o.id(), o.reason));
                if verbose {
                    for d in &o.details {
                        s.push_str(&format!("    {d}\n"));
                    }
                }
            } else if verbose && o.status == Status::Skip {
                s.push_str(&format!("SKIP {}: {}\n", o.id(), o.reason));
            }
        }
        let c = Counts::of(list.iter().copied());
        s.push_str(&format!("{file}: {}\n", c.line()));
    }
    s.push_str(&format!("{}\n", Counts::of(outcomes).line()));
    s
}

/// The JSON report: one object per variant.
pub fn json(outcomes: &[Outcome]) -> String {
    let items: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            serde_json::json!({
                "file": o.file,
                "test": o.test,
                "format": o.format,
                "status": o.status.as_str(),
                "reason": o.reason,
            })
        })
        .collect();
    serde_json::to_string_pretty(&items).expect("JSON of strings") + "\n"
}

/// Writes `text` to `path`, creating parent folders.
pub fn write(path: &Path, text: &str) -> Result<(), ConformanceError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| ConformanceError::io(parent.display().to_string(), e))?;
    }
    std::fs::write(path, text).map_err(|e| ConformanceError::io(path.display().to_string(), e))
}

/// The ids of a ratchet file (blank lines and `#` comments ignored). A missing file is empty.
pub fn read_passing(path: &Path) -> Result<BTreeSet<String>, ConformanceError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(ConformanceError::io(path.display().to_string(), e)),
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// The ratchet file's text for these ids.
pub fn passing_text(ids: &BTreeSet<String>) -> String {
    let mut s = String::from(
        "# Conformance ratchet: ids (file / test / format) of ksqlDB corpus tests that Sluice passes.\n\
         # CI fails when a listed test stops passing. Rewrite with\n\
         # `scripts/conformance.sh --update` (sluice-conformance --update-passing); do not edit by hand.\n",
    );
    for id in ids {
        s.push_str(id);
        s.push('\n');
    }
    s
}

/// How a run compares with the ratchet file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ratchet {
    /// Listed ids that ran and did not pass: the run fails.
    pub regressions: Vec<(String, String)>,
    /// Passing ids that are not listed yet (add them with `--update-passing`).
    pub new_passes: Vec<String>,
    /// Listed ids that were not part of this run (filtered out, or gone from the corpus).
    pub not_run: Vec<String>,
}

/// Compares a run with the listed ids.
pub fn check_ratchet(listed: &BTreeSet<String>, outcomes: &[Outcome]) -> Ratchet {
    let ran: BTreeMap<String, &Outcome> = outcomes.iter().map(|o| (o.id(), o)).collect();
    let mut r = Ratchet::default();
    for id in listed {
        match ran.get(id) {
            Some(o) if o.status == Status::Pass => {}
            Some(o) => r
                .regressions
                .push((id.clone(), format!("{}: {}", o.status.as_str(), o.reason))),
            None => r.not_run.push(id.clone()),
        }
    }
    for (id, o) in &ran {
        if o.status == Status::Pass && !listed.contains(id) {
            r.new_passes.push(id.clone());
        }
    }
    r
}

/// The ids to list after this run: listed ids that did not run stay, ids that ran are listed
/// exactly when they passed.
pub fn updated_passing(listed: &BTreeSet<String>, outcomes: &[Outcome]) -> BTreeSet<String> {
    let ran: BTreeMap<String, &Outcome> = outcomes.iter().map(|o| (o.id(), o)).collect();
    let mut ids: BTreeSet<String> = listed
        .iter()
        .filter(|id| !ran.contains_key(*id))
        .cloned()
        .collect();
    ids.extend(
        ran.iter()
            .filter(|(_, o)| o.status == Status::Pass)
            .map(|(id, _)| id.clone()),
    );
    ids
}

/// A failure reason with its particulars (numbers, quoted names) blanked, to group failures
/// that have the same cause.
pub fn failure_cluster(reason: &str) -> String {
    let mut out = String::new();
    let mut chars = reason.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => {
                while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                    chars.next();
                }
                out.push('N');
            }
            '\'' | '`' => {
                let mut closed = false;
                for d in chars.by_ref() {
                    if d == c {
                        closed = true;
                        break;
                    }
                }
                out.push_str(if closed { "'…'" } else { "'…" });
            }
            _ => out.push(c),
        }
    }
    let trimmed: String = out.chars().take(110).collect();
    if trimmed.len() < out.len() {
        format!("{trimmed}…")
    } else {
        trimmed
    }
}

/// The Markdown page: total and per-file pass rates, skip reasons, the largest failure
/// clusters. Deterministic for a given set of outcomes.
/// Issue targets: a name, the corpus files (without `.json`) it counts, and whether variants
/// in schema-registry formats count.
const TARGETS: &[(&str, &[&str], bool)] = &[
    (
        "Issue 4: aggregation, tables, windows, suppression, pull queries",
        &[
            "group-by",
            "count",
            "count-distinct",
            "sum",
            "average-udaf",
            "min-group-by",
            "max-group-by",
            "topk-group-by",
            "collect-list",
            "latest-offset-udaf",
            "standarddeviation",
            "correlation-udaf",
            "udaf",
            "multi-arg-udaf",
            "generic-variadic-udaf",
            "middle-variadic-udaf",
            "variadic-udaf",
            "test-custom-udaf",
            "hopping-windows",
            "session-windows",
            "window-bounds",
            "windowed-source",
            "suppress",
            "table",
            "source-table",
            "pull-queries-against-cst-materialized",
            "pull-queries-against-streams",
            "pull-queries-complex-lambda",
            "pull-queries-protobuf",
            "pull-queries-with-headers",
            "pull-queries-with-limit-clause",
            "pull-queries-with-predicates",
            "pull-queries-with-struct-star",
        ],
        false,
    ),
    (
        "Issue 5: joins, foreign-key joins, n-way joins, table-table joins, PARTITION BY",
        &[
            "joins",
            "join-with-custom-timestamp",
            "fk-join",
            "fk-n-way-join",
            "table-table-join",
            "partition-by",
        ],
        false,
    ),
    (
        "Issue 6: types, formats, serialization, schema inference, functions",
        &[
            "avro",
            "protobuf",
            "json",
            "delimited",
            "kafka",
            "formats",
            "multi-col-keys",
            "as_value",
            "bytes",
            "bytes-and-strings",
            "cast",
            "literals",
            "null",
            "floating-point",
            "binary-arithmetic",
            "operators",
            "comparison-expression",
            "between",
            "in",
            "like",
            "case-expression",
            "simple-struct",
            "more-complex-struct",
            "create-struct",
            "create_array",
            "create_map",
            "create-type",
            "map",
            "array-set-functions",
            "arraycontains",
            "arrayindex",
            "attr",
            "bytes-lpad-rpad",
            "string-lpad-rpad",
            "complex-lambda",
            "concat",
            "convert-tz",
            "cube",
            "date",
            "dateadd",
            "datestring",
            "datesub",
            "elt-field",
            "explode",
            "filter",
            "format-date",
            "format-time",
            "from-days",
            "geodistance",
            "greatest",
            "least",
            "initcap",
            "is_json_string",
            "json_array_contains",
            "json_concat",
            "json_keys",
            "json_records",
            "md5",
            "parse-time",
            "reduce-array",
            "reduce-map",
            "replace",
            "split-to-map",
            "split",
            "string",
            "stringtimestamp",
            "substring",
            "time",
            "timeadd",
            "timestamp-to-string",
            "timestampadd",
            "timestampformat",
            "to_json_string",
            "transform-map",
            "udf-implicit-cast",
            "udf",
            "unix-date",
            "unix-timestamp",
            "url",
            "insert-values",
        ],
        true,
    ),
];

pub fn markdown(outcomes: &[Outcome], corpus: &str) -> String {
    let total = Counts::of(outcomes);
    let mut s = String::new();
    s.push_str("# Conformance with ksqlDB's functional tests\n\n");
    s.push_str(
        "Generated by `scripts/conformance.sh --update` (`sluice-conformance --markdown`); \
         do not edit by hand.\n\n",
    );
    s.push_str(&format!(
        "The runner (`crates/conformance`) replays ksqlDB's query-validation and \
         rest-query-validation tests ({corpus}) against the Sluice engine: each test variant \
         gets its own embedded broker and engine, its statements go through the engine's \
         `execute` (as pgwire's do), its input records are written to their topics and the \
         records on its output topics are compared with the expected ones. A variant is one \
         test, or one test × format for tests that run once per format. \"Rate\" is passed / \
         (passed + failed); skipped variants are not counted.\n\n"
    ));
    s.push_str(
        "Compared: output records per topic and in order (per partition when a topic has \
         several) — key, value (JSON structurally with ksqlDB's number rules, DELIMITED as \
         text, KAFKA as typed values), window, headers, and the timestamp when the test gives \
         one (except an expected timestamp of 0: librdkafka stamps a record produced with \
         timestamp 0 with the current time, so no Kafka client built on it can write 0); the text of expected errors (contained in Sluice's error); `post` conditions on \
         sources (kind, schema, formats, windowing) and topics (formats, partitions, names that \
         must not exist); for rest-query tests, each statement's response (admin status, the \
         header schema, rows — as a multiset, in order only when the test sets \
         `outputConditions.verifyOrder`, as ksqlDB's harness does — final message). Not compared: Kafka Streams internal topic names \
         and serde features, which describe ksqlDB's implementation, and `queryProto` \
         responses (the REST API's protobuf encoding of results; pgwire has its own). The header of a result \
         marks `KEY` / `HEADER` columns only when the engine tags its Arrow fields (metadata \
         `sluice.role`).\n\n",
    );
    s.push_str(&format!(
        "**Total: {} of {} variants pass ({}); {} fail; {} skipped.**\n\n",
        total.passed,
        total.passed + total.failed,
        total.rate(),
        total.failed,
        total.skipped
    ));
    s.push_str("| File | Variants | Passed | Failed | Skipped | Rate |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|\n");
    for (file, list) in by_file(outcomes) {
        let c = Counts::of(list.iter().copied());
        s.push_str(&format!(
            "| {file} | {} | {} | {} | {} | {} |\n",
            list.len(),
            c.passed,
            c.failed,
            c.skipped,
            c.rate()
        ));
    }
    s.push_str(&format!(
        "| **Total** | {} | {} | {} | {} | {} |\n\n",
        outcomes.len(),
        total.passed,
        total.failed,
        total.skipped,
        total.rate()
    ));

    s.push_str("## Targets of the open issues\n\n");
    s.push_str(
        "Rates over the corpus files an issue names. Issues 4 and 5 count only variants whose \
         formats are JSON, DELIMITED, KAFKA or NONE (variants using AVRO, PROTOBUF, \
         PROTOBUF_NOSR or JSON_SR, by `{FORMAT}` or in their statements, belong to issue 6, \
         which counts every variant of its files).\n\n\
         | Target | Files | Variants | Passed | Rate |\n|---|---|---:|---:|---:|\n",
    );
    for (name, files, with_sr) in TARGETS {
        let counted: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| *with_sr || !o.schema_registry)
            .filter(|o| {
                files
                    .iter()
                    .any(|f| o.file.ends_with(&format!("/{f}.json")))
            })
            .collect();
        let c = Counts::of(counted.iter().copied());
        s.push_str(&format!(
            "| {name} | {} | {} | {} | {} |\n",
            files.join(", "),
            c.passed + c.failed,
            c.passed,
            c.rate()
        ));
    }
    s.push('\n');

    s.push_str("## Skipped\n\n");
    s.push_str(
        "A variant is skipped only for a reason about the test itself, never for a missing \
         Sluice feature (those fail).\n\n",
    );
    let mut skips: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.status == Status::Skip) {
        skips.entry(o.reason.clone()).or_default().push(o.id());
    }
    if skips.is_empty() {
        s.push_str("None.\n\n");
    }
    for (reason, ids) in &skips {
        s.push_str(&format!("- {reason} ({}):\n", ids.len()));
        for id in ids {
            s.push_str(&format!("  - `{id}`\n"));
        }
    }
    if !skips.is_empty() {
        s.push('\n');
    }

    s.push_str("## Deliberate deviations\n\n");
    s.push_str(
        "Tests Sluice fails on purpose (`crates/conformance/src/deviations.rs`): mostly where \
         it accepts what ksqlDB refuses with the error the test expects, and once where the \
         runner's real topics differ from ksqlDB's test harness. They count as failures \
         above.\n\n",
    );
    for (id, reason) in crate::deviations::DEVIATIONS {
        let status = match outcomes.iter().find(|o| o.id() == *id).map(|o| o.status) {
            Some(Status::Pass) => "passes",
            Some(Status::Fail) => "fails",
            Some(Status::Skip) => "skipped",
            None => "not run",
        };
        s.push_str(&format!("- `{id}` ({status}): {reason}.\n"));
    }
    s.push('\n');

    s.push_str("## Largest failure causes\n\n");
    s.push_str(
        "Failure reasons with numbers and quoted names blanked, by number of variants \
         (the 25 largest groups; the JSON report has every reason).\n\n",
    );
    let mut clusters: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.status == Status::Fail) {
        *clusters.entry(failure_cluster(&o.reason)).or_default() += 1;
    }
    let mut clusters: Vec<(String, usize)> = clusters.into_iter().collect();
    clusters.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if clusters.is_empty() {
        s.push_str("None.\n");
    } else {
        s.push_str("| Variants | Reason |\n|---:|---|\n");
        for (reason, n) in clusters.iter().take(25) {
            s.push_str(&format!("| {n} | {} |\n", reason.replace('|', "\\|")));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn o(file: &str, test: &str, status: Status, reason: &str) -> Outcome {
        Outcome {
            file: file.into(),
            test: test.into(),
            format: None,
            status,
            reason: reason.into(),
            details: vec!["detail".into()],
            elapsed: Duration::ZERO,
            schema_registry: false,
        }
    }

    #[test]
    fn issue_targets_leave_out_schema_registry_variants() {
        let mut sr = o(
            "query-validation-tests/group-by.json",
            "avro",
            Status::Fail,
            "x",
        );
        sr.schema_registry = true;
        let outcomes = vec![
            o(
                "query-validation-tests/group-by.json",
                "a",
                Status::Pass,
                "",
            ),
            o(
                "query-validation-tests/group-by.json",
                "b",
                Status::Fail,
                "x",
            ),
            sr,
            o("query-validation-tests/joins.json", "j", Status::Fail, "x"),
            {
                let mut avro = o("query-validation-tests/avro.json", "a", Status::Fail, "x");
                avro.schema_registry = true;
                avro
            },
        ];
        let md = markdown(&outcomes, "corpus");
        let line = md
            .lines()
            .find(|l| l.starts_with("| Issue 4"))
            .expect("issue 4 line");
        assert!(line.ends_with("| 2 | 1 | 50.0% |"), "{line}");
        let line = md.lines().find(|l| l.starts_with("| Issue 5")).unwrap();
        assert!(line.ends_with("| 1 | 0 | 0.0% |"), "{line}");
        // Issue 6 counts schema-registry variants of its files.
        let line = md.lines().find(|l| l.starts_with("| Issue 6")).unwrap();
        assert!(line.ends_with("| 1 | 0 | 0.0% |"), "{line}");
    }

    #[test]
    fn console_and_json() {
        let outs = vec![
            o("a.json", "t1", Status::Pass, ""),
            o("a.json", "t2", Status::Fail, "boom"),
            o("b.json", "t3", Status::Skip, "why"),
        ];
        let c = console(&outs, false);
        assert!(c.contains("FAIL a.json / t2 / -: boom\n"));
        assert!(c.contains("a.json: 1 passed, 1 failed, 0 skipped\n"));
        assert!(c.ends_with("1 passed, 1 failed, 1 skipped\n"));
        assert!(!c.contains("detail"));
        assert!(console(&outs, true).contains("    detail\n"));
        let j: serde_json::Value = serde_json::from_str(&json(&outs)).unwrap();
        assert_eq!(j[1]["status"], "fail");
        assert_eq!(j[1]["reason"], "boom");
        assert!(j[0]["format"].is_null());
    }

    #[test]
    fn ratchet_finds_regressions_and_updates_keep_unrun_ids() {
        let outs = vec![
            o("a.json", "t1", Status::Pass, ""),
            o("a.json", "t2", Status::Fail, "boom"),
        ];
        let listed: BTreeSet<String> = ["a.json / t2 / -", "z.json / gone / -"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = check_ratchet(&listed, &outs);
        assert_eq!(r.regressions.len(), 1);
        assert_eq!(r.regressions[0].0, "a.json / t2 / -");
        assert_eq!(r.new_passes, vec!["a.json / t1 / -".to_string()]);
        assert_eq!(r.not_run, vec!["z.json / gone / -".to_string()]);
        let up = updated_passing(&listed, &outs);
        assert_eq!(
            up.into_iter().collect::<Vec<_>>(),
            vec![
                "a.json / t1 / -".to_string(),
                "z.json / gone / -".to_string()
            ]
        );
    }

    #[test]
    fn passing_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/passing.txt");
        assert!(read_passing(&p).unwrap().is_empty());
        let ids: BTreeSet<String> = ["x / y / JSON".to_string()].into_iter().collect();
        write(&p, &passing_text(&ids)).unwrap();
        assert_eq!(read_passing(&p).unwrap(), ids);
    }

    #[test]
    fn clusters_blank_particulars() {
        assert_eq!(
            failure_cluster("statement 2 failed: Source `FOO` does not exist, 'x'"),
            "statement N failed: Source '…' does not exist, '…'"
        );
    }

    #[test]
    fn markdown_has_rates_and_skips() {
        let outs = vec![
            o("a.json", "t1", Status::Pass, ""),
            o("a.json", "t2", Status::Fail, "statement 1 failed: nope"),
            o("b.json", "t3", Status::Skip, "calls TEST_UDF"),
        ];
        let m = markdown(&outs, "`corpus`");
        assert!(m.contains("| a.json | 2 | 1 | 1 | 0 | 50.0% |"), "{m}");
        assert!(m.contains("**Total: 1 of 2 variants pass (50.0%); 1 fail; 1 skipped.**"));
        assert!(m.contains("- calls TEST_UDF (1):\n  - `b.json / t3 / -`"));
        assert!(m.contains("| 1 | statement N failed: nope |"));
    }
}
