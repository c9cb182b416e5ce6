//! The real psql binary against the server: COPY and FETCH_COUNT print rows as they arrive, and
//! Ctrl-C (a CancelRequest) ends a push query with 57014 while the server keeps serving.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

fn psql(server: &sluice_server::RunningServer) -> Command {
    // psql writes COPY output with fwrite; on a pipe it needs line buffering to show rows live.
    let mut c = Command::new("stdbuf");
    c.arg("-oL")
        .arg("psql")
        .arg("-h")
        .arg(server.pg_addr.ip().to_string())
        .arg("-p")
        .arg(server.pg_addr.port().to_string())
        .args([
            "-U",
            "test",
            "-d",
            "sluice",
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

async fn setup(server: &sluice_server::RunningServer) {
    let client = connect(server).await;
    client
        .simple_query("CREATE STREAM events (id INT KEY, msg STRING) WITH (kafka_topic='events', value_format='JSON', partitions=1)")
        .await
        .unwrap();
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("a line arrives in time")
        .expect("read")
        .expect("not EOF")
}

fn interrupt(child: &tokio::process::Child) {
    let pid = child.id().expect("running") as i32;
    // psql turns SIGINT into a CancelRequest.
    unsafe_kill(pid);
}

fn unsafe_kill(pid: i32) {
    std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_to_stdout_streams_rows_and_ctrl_c_cancels() {
    if which("psql").is_none() {
        panic!("psql is required (scripts/install-test-deps.sh installs it)");
    }
    let server = start_playground().await;
    setup(&server).await;
    let mut child = psql(&server)
        .arg("-c")
        .arg("COPY (SELECT id, msg FROM events EMIT CHANGES) TO STDOUT")
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let p = producer(&server.kafka_bootstrap);
    // The query starts at latest: keep producing until the first row shows.
    let first = tokio::spawn({
        let p = p.clone();
        async move {
            for i in 0..100 {
                produce(
                    &p,
                    "events",
                    Some("\0\0\0\u{1}"),
                    &format!(r#"{{"MSG": "hello {i}"}}"#),
                )
                .await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    let line = next_line(&mut lines).await;
    assert!(line.starts_with("1\thello"), "{line}");
    first.abort();
    interrupt(&child);
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("psql exits after cancel")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("canceling statement due to user request"),
        "{stderr}"
    );

    // The server still serves.
    let client = connect(&server).await;
    assert_eq!(rows(&client, "SHOW STREAMS").await.len(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_count_prints_rows_as_they_arrive() {
    let server = start_playground().await;
    setup(&server).await;
    let mut child = psql(&server).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"\\set FETCH_COUNT 1\nSELECT msg FROM events EMIT CHANGES;\n")
        .await
        .unwrap();
    stdin.flush().await.unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let p = producer(&server.kafka_bootstrap);
    let feeder = tokio::spawn({
        let p = p.clone();
        async move {
            for i in 0..100 {
                produce(&p, "events", None, &format!(r#"{{"MSG": "row {i}"}}"#)).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    let line = next_line(&mut lines).await;
    assert!(line.starts_with("row "), "{line}");
    let line = next_line(&mut lines).await;
    assert!(line.starts_with("row "), "{line}");
    feeder.abort();
    interrupt(&child);
    drop(stdin);
    // Between two FETCHes psql stops on its own cancel flag; during one, the server answers the
    // CancelRequest with 57014. Either way psql ends the query and, with stdin closed, exits.
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("psql exits")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("server closed the connection"), "{stderr}");
    let client = connect(&server).await;
    assert_eq!(rows(&client, "SHOW STREAMS").await.len(), 1);
    server.shutdown().await;
}

fn which(bin: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(bin))
            .find(|p| p.exists())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describes_streams_with_backslash_d() {
    let server = start_playground().await;
    setup(&server).await;
    let out = psql(&server).arg("-c").arg("\\dt").output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("EVENTS"), "{stdout}");
    let out = psql(&server)
        .arg("-c")
        .arg("\\d events")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ID") && stdout.contains("MSG") && stdout.contains("text"),
        "{stdout}"
    );
    server.shutdown().await;
}
