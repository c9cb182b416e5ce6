//! The real psql binary against `sluice-pgwire` serving [`PgSession`]s: what a user sees for
//! `\dt`, `\d`, `\d pageviews`, `\d PAGEVIEWS` and a few session statements.

mod common;

use std::process::Command;
use std::sync::Arc;

use sluice_pgcatalog::PgCatalog;
use sluice_pgwire::backend::{Backend, Session};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A backend whose every statement goes to the PostgreSQL catalog.
struct CatalogOnly(Arc<PgCatalog>);

impl Backend for CatalogOnly {
    fn open_session(&self, user: &str, _database: &str) -> Arc<dyn Session> {
        Arc::new(self.0.session(user))
    }
}

fn psql_available() -> bool {
    Command::new("psql").arg("--version").output().is_ok()
}

/// Run `psql -c command` against the server; stdout on success, panic with stderr otherwise.
async fn psql(port: u16, command: &str) -> String {
    let shown = command.to_string();
    let command = command.to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("psql")
            .args([
                "-X",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "alice",
            ])
            .args(["-p", &port.to_string(), "-d", "sluice", "-c", &command])
            .env("PGCONNECT_TIMEOUT", "10")
            .env_remove("PGPASSWORD")
            .output()
            .expect("run psql")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "psql -c {:?} failed:\n{}\n{}",
        shown,
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describes_sluice_relations() {
    assert!(
        psql_available(),
        "psql is required (scripts/install-test-deps.sh installs it)"
    );
    let catalog = Arc::new(common::catalog().await);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(sluice_pgwire::serve(
        listener,
        Arc::new(CatalogOnly(catalog)),
        async move {
            let _ = stopped.await;
        },
    ));

    let dt = psql(port, "\\dt").await;
    assert!(dt.contains("List of relations"), "{dt}");
    assert!(dt.contains(" public | PAGEVIEWS | table |"), "{dt}");
    assert!(dt.contains(" public | USERS     | table |"), "{dt}");
    assert!(dt.contains("(2 rows)"), "{dt}");

    let d = psql(port, "\\d").await;
    assert!(d.contains("PAGEVIEWS") && d.contains("USERS"), "{d}");

    for name in ["pageviews", "PAGEVIEWS", "\"PAGEVIEWS\""] {
        let out = psql(port, &format!("\\d {name}")).await;
        assert!(
            out.contains("Table \"public.PAGEVIEWS\""),
            "\\d {name}:\n{out}"
        );
        assert!(out.contains(" USER_ID | text   |"), "\\d {name}:\n{out}");
        assert!(out.contains(" PAGE    | text   |"), "\\d {name}:\n{out}");
        assert!(out.contains(" MS      | bigint |"), "\\d {name}:\n{out}");
    }

    let users = psql(port, "\\d users").await;
    let line = |col: &str| {
        users
            .lines()
            .find(|l| l.starts_with(&format!(" {col} ")))
            .unwrap_or_else(|| panic!("no line for {col}:\n{users}"))
            .to_string()
    };
    assert!(
        line("USERID").contains("| text ") && line("USERID").contains("| not null |"),
        "{users}"
    );
    assert!(line("SCORE").contains("| double precision "), "{users}");
    assert!(
        line("REGISTERED").contains("| timestamp without time zone "),
        "{users}"
    );

    let dtplus = psql(port, "\\dt+").await;
    assert!(
        dtplus.contains("STREAM") && dtplus.contains("TABLE"),
        "{dtplus}"
    );

    let show = psql(port, "SHOW transaction_isolation").await;
    assert!(show.contains("read committed"), "{show}");
    let version = psql(port, "SELECT version()").await;
    assert!(version.contains("PostgreSQL 15.0 (Sluice"), "{version}");

    let _ = stop.send(());
    let _ = server.await;
}
