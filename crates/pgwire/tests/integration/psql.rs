//! The real psql (15) against the server. Skipped, loudly, where /usr/bin/psql is missing.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::common::{eventually, start};

const PSQL: &str = "/usr/bin/psql";

fn have_psql() -> bool {
    if Path::new(PSQL).exists() {
        true
    } else {
        eprintln!("SKIPPED: {PSQL} not found");
        false
    }
}

fn psql(port: u16) -> Command {
    let mut cmd = Command::new(PSQL);
    cmd.args([
        "-X",
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "u",
        "-d",
        "d",
    ])
    .env("PGCONNECT_TIMEOUT", "5")
    .env_remove("PGPASSWORD")
    .kill_on_drop(true);
    cmd
}

async fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn psql");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(input);
    tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("psql finished")
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn psql_runs_a_query_with_c() {
    if !have_psql() {
        return;
    }
    let server = start().await;
    let mut cmd = psql(server.port);
    cmd.args(["-A", "-c", "SELECT 1 AS a, 'hello' AS b"]);
    let out = run(cmd, None).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "a|b\n1|hello\n(1 row)\n");
}

#[tokio::test]
async fn psql_shows_errors_with_a_caret() {
    if !have_psql() {
        return;
    }
    let server = start().await;
    let mut cmd = psql(server.port);
    cmd.args(["-c", "SELECT bogus FROM t"]);
    let out = run(cmd, None).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("ERROR:  column \"bogus\" does not exist"),
        "{err}"
    );
    assert!(err.contains("LINE 1: SELECT bogus FROM t"), "{err}");
    // The caret sits under "bogus".
    assert!(err.contains("\n               ^"), "{err}");
    assert!(err.contains("HINT:  Check the spelling."), "{err}");
}

#[tokio::test]
async fn psql_fetch_count_streams_a_push_query_through_a_cursor() {
    if !have_psql() {
        return;
    }
    let server = start().await;
    let mut cmd = psql(server.port);
    cmd.args(["-A", "-t"]);
    let out = run(
        cmd,
        Some("\\set FETCH_COUNT 1\nSELECT * FROM ticks EMIT CHANGES LIMIT 3;\nSELECT 'after';\n"),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "0|tick-0\n1|tick-1\n2|tick-2\nafter\n");
    let executed = server.backend.executed();
    assert_eq!(executed[0], "SELECT * FROM ticks EMIT CHANGES LIMIT 3");
    assert_eq!(server.backend.live(), 0);
    // Through the cursor there is no "psql buffers this" notice.
    assert!(
        !text(&out.stderr).contains("NOTICE"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn psql_prints_copy_output_as_it_arrives() {
    if !have_psql() || !Path::new("/usr/bin/stdbuf").exists() {
        return;
    }
    let server = start().await;
    // psql fwrite()s COPY rows and only fflush()es at the end, so on a pipe they would sit in
    // stdio's buffer; `stdbuf -oL` gives it the line buffering it has on a terminal.
    let mut cmd = Command::new("stdbuf");
    cmd.args([
        "-oL",
        PSQL,
        "-X",
        "-h",
        "127.0.0.1",
        "-p",
        &server.port.to_string(),
    ])
    .args(["-U", "u", "-d", "d"])
    .kill_on_drop(true);
    cmd.args(["-c", "COPY (SELECT * FROM ticks EMIT CHANGES) TO STDOUT"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Rows show up while the (endless) push query is still running.
    let mut got = Vec::new();
    while got.len() < 3 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("a COPY row arrives while the query runs")
            .unwrap()
            .expect("psql still running");
        got.push(line);
    }
    assert_eq!(got, vec!["0\ttick-0", "1\ttick-1", "2\ttick-2"]);
    assert_eq!(server.backend.live(), 1);
    // Ctrl-C: psql sends a CancelRequest.
    let pid = child.id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("psql exits after the cancel")
        .unwrap();
    let err = text(&out.stderr);
    assert!(
        err.contains("canceling statement due to user request"),
        "{err}"
    );
    eventually("the cancelled stream is dropped", || {
        server.backend.live() == 0
    })
    .await;
}

#[tokio::test]
async fn psql_simple_push_query_gets_the_notice_and_ends_with_limit() {
    if !have_psql() {
        return;
    }
    let server = start().await;
    let mut cmd = psql(server.port);
    cmd.args(["-A", "-t", "-c", "SELECT * FROM ticks EMIT CHANGES LIMIT 2"]);
    let started = Instant::now();
    let out = run(cmd, None).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(text(&out.stdout), "0|tick-0\n1|tick-1\n");
    let err = text(&out.stderr);
    assert!(err.contains("NOTICE:"), "{err}");
    assert!(
        err.contains("COPY (SELECT ... EMIT CHANGES) TO STDOUT"),
        "{err}"
    );
}

#[tokio::test]
async fn psql_transactions_and_csv_copy() {
    if !have_psql() {
        return;
    }
    let server = start().await;
    let mut cmd = psql(server.port);
    cmd.args(["-A", "-t", "-v", "ON_ERROR_STOP=1"]);
    let out = run(
        cmd,
        Some(
            "BEGIN;\nSELECT 1;\nCOMMIT;\n\
             COPY (SELECT 'a\"b' AS q, 2 AS n) TO STDOUT WITH (FORMAT csv, HEADER true);\n",
        ),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "BEGIN\n1\nCOMMIT\nq,n\n\"a\"\"b\",2\n");
}
