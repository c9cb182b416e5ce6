//! Runs every `sql-tests/*.slt` file against a live playground server over pgwire, each file on
//! a fresh server, with sqllogictest-rs's PostgreSQL engines (simple protocol).

mod common;

use std::path::PathBuf;

use sqllogictest_engines::postgres::{PostgresConfig, PostgresSimple};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_tests() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sql-tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("sql-tests folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    for file in files {
        let server = common::start_playground().await;
        let mut config = PostgresConfig::new();
        config
            .host(server.pg_addr.ip().to_string())
            .port(server.pg_addr.port())
            .user("test")
            .dbname("sluice");
        let mut runner = sqllogictest::Runner::new(|| {
            let config = config.clone();
            async move { PostgresSimple::connect(config).await }
        });
        if let Err(e) = runner.run_file_async(&file).await {
            panic!("{}: {}", file.display(), e.display(true));
        }
        server.shutdown().await;
    }
}
