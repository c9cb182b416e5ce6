//! Every Nexmark query's KSQL is accepted by a live engine (embedded broker): the sources are
//! created, then each query's statements, which start persistent queries.

use sluice_bench::nexmark::queries::{sources, QUERIES};
use sluice_server::session::SessionProps;
use sluice_server::{KafkaMode, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_nexmark_query_is_accepted() {
    let server = sluice_server::start(ServerConfig {
        kafka: KafkaMode::Embedded,
        data_dir: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        service_id: "default_".into(),
        schema_registry: None,
        schema_registry_listen: None,
    })
    .await
    .expect("server starts");
    let props = SessionProps::default();
    for s in sources(2) {
        server
            .engine
            .execute(&props, &s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    let mut failures = Vec::new();
    for q in QUERIES {
        for s in q.statements {
            if let Err(e) = server.engine.execute(&props, s).await {
                failures.push(format!("{}: {e}", q.name));
                break;
            }
        }
    }
    server.shutdown().await;
    assert!(failures.is_empty(), "{failures:#?}");
}
