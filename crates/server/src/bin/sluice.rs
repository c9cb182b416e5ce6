//! `sluice`: the Sluice server.
//!
//! `sluice` alone starts the zero-config playground (an embedded Kafka-protocol broker, state in
//! a temporary directory); `sluice --kafka HOST:PORT --data-dir DIR` runs against a real cluster.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use sluice_server::{KafkaMode, ServerConfig};
use tracing_subscriber::EnvFilter;

/// Sluice: streaming SQL over Kafka, spoken through the PostgreSQL protocol.
#[derive(Debug, Parser)]
#[command(name = "sluice", version)]
struct Args {
    /// Kafka bootstrap servers. Without it, an embedded broker is started (nothing survives exit).
    #[arg(long, value_name = "BOOTSTRAP")]
    kafka: Option<String>,
    /// Directory for state. Without it, a temporary directory removed at exit.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL-protocol address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:6875")]
    listen: SocketAddr,
    /// ksql.service.id: names the command topic and consumer groups.
    #[arg(long, default_value = "default_")]
    service_id: String,
    /// An external Confluent-compatible Schema Registry for AVRO. Without it, Sluice keeps its
    /// own registry (in the data directory) and serves its REST API on --schema-registry-listen.
    #[arg(long, value_name = "URL")]
    schema_registry: Option<String>,
    /// Address of Sluice's own Schema Registry REST API; `off` to not serve it.
    #[arg(long, value_name = "HOST:PORT|off", default_value = "127.0.0.1:8081")]
    schema_registry_listen: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,librdkafka=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = ServerConfig {
        kafka: match &args.kafka {
            Some(b) => KafkaMode::External(b.clone()),
            None => KafkaMode::Embedded,
        },
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        service_id: args.service_id.clone(),
        schema_registry: args.schema_registry.clone(),
        schema_registry_listen: match args.schema_registry_listen.as_str() {
            "off" => None,
            a => match a.parse() {
                Ok(a) => Some(a),
                Err(e) => {
                    eprintln!("sluice: --schema-registry-listen {a}: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            },
        },
    };
    let server = match sluice_server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sluice: failed to start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let addr = server.pg_addr;
    println!("Sluice is ready.");
    println!(
        "  PostgreSQL protocol: {addr}   (psql -h {} -p {})",
        addr.ip(),
        addr.port()
    );
    println!("  Kafka bootstrap:     {}", server.kafka_bootstrap);
    match (&args.schema_registry, server.registry_addr) {
        (Some(url), _) => println!("  Schema Registry:     {url}"),
        (None, Some(a)) => println!("  Schema Registry:     http://{a}   (Sluice's own)"),
        (None, None) => {}
    }
    if args.kafka.is_none() {
        println!(
            "  Playground mode: the Kafka broker is embedded and state lives in {}.",
            server.data_dir.display()
        );
        println!("  NOTHING SURVIVES EXIT. Use --kafka and --data-dir for durable mode.");
    } else {
        println!("  State: {}", server.data_dir.display());
    }
    wait_for_signal().await;
    println!("Shutting down...");
    server.shutdown().await;
    std::process::ExitCode::SUCCESS
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
