//! The `sluice-conformance` binary over a tiny corpus written here: one test that passes, one
//! that fails, one that is skipped. Checks the console summary, the JSON report, the ratchet
//! file it writes and the ratchet check that fails when a listed test does not pass.

use std::path::Path;
use std::process::{Command, Output};

const CORPUS: &str = r#"{
  // comments and trailing commas, as in ksqlDB's files
  "tests": [
    {
      "name": "filter passes",
      "statements": [
        "CREATE STREAM INPUT (ID INT KEY, V INT) WITH (kafka_topic='in', value_format='JSON');",
        "CREATE STREAM OUTPUT AS SELECT ID, V FROM INPUT WHERE V > 1;",
      ],
      "inputs": [
        {"topic": "in", "key": 1, "value": {"V": 1}},
        {"topic": "in", "key": 2, "value": {"V": 2}},
        {"topic": "in", "key": 3, "value": {"V": 3}},
      ],
      "outputs": [
        {"topic": "OUTPUT", "key": 2, "value": {"V": 2}},
        {"topic": "OUTPUT", "key": 3, "value": {"V": 3}},
      ],
    },
    {
      "name": "wrong expectation fails",
      "statements": [
        "CREATE STREAM INPUT (ID INT KEY, V INT) WITH (kafka_topic='in', value_format='JSON');",
        "CREATE STREAM OUTPUT AS SELECT ID, V FROM INPUT;"
      ],
      "inputs": [{"topic": "in", "key": 1, "value": {"V": 1}}],
      "outputs": [{"topic": "OUTPUT", "key": 1, "value": {"V": 42}}]
    },
    {
      "name": "disabled is skipped",
      "enabled": false,
      "statements": ["CREATE STREAM X (V INT) WITH (kafka_topic='x', value_format='JSON');"],
      "inputs": [{"topic": "x", "value": {"V": 1}}],
      "outputs": []
    }
  ]
}
"#;

const PASS_ID: &str = "tiny.json / filter passes / -";
const FAIL_ID: &str = "tiny.json / wrong expectation fails / -";

fn runner(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice-conformance"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "error,librdkafka=off")
        .output()
        .expect("run sluice-conformance")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn pass_fail_skip_report_and_ratchet() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    std::fs::write(corpus.join("tiny.json"), CORPUS).unwrap();

    // 1. A full run that writes the JSON report and creates the ratchet file.
    let out = runner(
        &[
            "--json",
            "report.json",
            "--passing",
            "ratchet/passing.txt",
            "--update-passing",
            "--markdown",
            "conformance.md",
            "corpus",
        ],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.ends_with("1 passed, 1 failed, 1 skipped\n"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("tiny.json: 1 passed, 1 failed, 1 skipped\n"),
        "{stdout}"
    );
    let fail_line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("FAIL {FAIL_ID}: ")))
        .unwrap_or_else(|| panic!("no FAIL line for the failing test:\n{stdout}"));
    assert!(fail_line.contains("value differs"), "{fail_line}");
    assert!(!stdout.contains(&format!("FAIL {PASS_ID}")), "{stdout}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let items = report.as_array().unwrap();
    assert_eq!(items.len(), 3);
    let status_of = |name: &str| {
        items
            .iter()
            .find(|o| o["test"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {report}"))
    };
    assert_eq!(status_of("filter passes")["status"], "pass");
    assert_eq!(status_of("filter passes")["file"], "tiny.json");
    assert!(status_of("filter passes")["format"].is_null());
    assert_eq!(status_of("wrong expectation fails")["status"], "fail");
    assert!(status_of("wrong expectation fails")["reason"]
        .as_str()
        .unwrap()
        .contains("topic OUTPUT"));
    assert_eq!(status_of("disabled is skipped")["status"], "skip");
    assert!(status_of("disabled is skipped")["reason"]
        .as_str()
        .unwrap()
        .contains("enabled"));

    let listed = std::fs::read_to_string(dir.path().join("ratchet/passing.txt")).unwrap();
    let ids: Vec<&str> = listed.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(ids, vec![PASS_ID]);

    let md = std::fs::read_to_string(dir.path().join("conformance.md")).unwrap();
    assert!(md.contains("| tiny.json | 3 | 1 | 1 | 1 | 50.0% |"), "{md}");

    // 2. The ratchet check fails when a listed test does not pass, and names it.
    std::fs::write(
        dir.path().join("ratchet/passing.txt"),
        format!("{listed}{FAIL_ID}\n"),
    )
    .unwrap();
    let out = runner(&["--passing", "ratchet/passing.txt", "corpus"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("1 listed ids no longer pass"), "{stderr}");
    assert!(stderr.contains(&format!("- {FAIL_ID}: fail:")), "{stderr}");
    assert!(!stderr.contains(&format!("- {PASS_ID}")), "{stderr}");

    // 3. Filtered to the passing test, the ratchet holds (the other listed id did not run).
    let out = runner(
        &[
            "--passing",
            "ratchet/passing.txt",
            "--filter",
            "filter passes",
            "corpus",
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "stderr:\n{stderr}");
    assert!(text(&out.stdout).ends_with("1 passed, 0 failed, 0 skipped\n"));
    assert!(
        stderr.contains("1 listed ids were not part of this run"),
        "{stderr}"
    );
}
