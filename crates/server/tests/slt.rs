//! Runs every `sql-tests/*.slt` file against a live playground server over pgwire (simple query
//! protocol), each file on a fresh server, with sqllogictest-rs.
//!
//! The client is a thin `AsyncDB` over tokio-postgres rather than sqllogictest-engines' postgres
//! engine, because that engine reports errors as "db error" without the server's message, so
//! `statement error <regex>` could not check what the server said.

mod common;

use std::path::PathBuf;

use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use tokio_postgres::SimpleQueryMessage;

/// The server's error as `SQLSTATE: message`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct DbError(String);

struct Sluice {
    client: tokio_postgres::Client,
}

#[async_trait::async_trait]
impl AsyncDB for Sluice {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let messages = self.client.simple_query(sql).await.map_err(|e| {
            DbError(match e.as_db_error() {
                Some(db) => format!("{}: {}", db.code().code(), db.message()),
                None => e.to_string(),
            })
        })?;
        let mut columns = None;
        let mut rows = Vec::new();
        let mut count = 0;
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(cols) => columns = Some(cols.len()),
                SimpleQueryMessage::Row(r) => {
                    columns = Some(r.len());
                    rows.push(
                        (0..r.len())
                            .map(|i| r.get(i).unwrap_or("NULL").to_string())
                            .collect(),
                    );
                }
                SimpleQueryMessage::CommandComplete(n) => count = n,
                _ => {}
            }
        }
        Ok(match columns {
            Some(n) => DBOutput::Rows {
                types: vec![DefaultColumnType::Any; n],
                rows,
            },
            None => DBOutput::StatementComplete(count),
        })
    }

    async fn shutdown(&mut self) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_tests() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sql-tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("sql-tests folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        // SLUICE_SLT=joins runs only the files whose name contains it (while developing).
        .filter(|p| {
            std::env::var("SLUICE_SLT").map_or(true, |f| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(&f))
            })
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    for file in files {
        let server = common::start_playground().await;
        let addr = server.pg_addr;
        let mut runner = sqllogictest::Runner::new(move || async move {
            let (client, conn) = tokio_postgres::connect(
                &format!(
                    "host={} port={} user=test dbname=sluice",
                    addr.ip(),
                    addr.port()
                ),
                tokio_postgres::NoTls,
            )
            .await
            .map_err(|e| DbError(e.to_string()))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok::<_, DbError>(Sluice { client })
        });
        if let Err(e) = runner.run_file_async(&file).await {
            panic!("{}: {}", file.display(), e.display(true));
        }
        server.shutdown().await;
    }
}
