//! Protocol corners no driver exercises on purpose: a hand-written client built from pgwire's
//! message types.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::BytesMut;
use pgwire::messages::extendedquery::{Bind, Describe, Execute, Parse, Sync};
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::Startup;
use pgwire::messages::{
    DecodeContext, PgWireBackendMessage, PgWireFrontendMessage, ProtocolVersion,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::start;

struct RawClient {
    socket: TcpStream,
    buf: BytesMut,
}

impl RawClient {
    async fn connect(port: u16) -> Self {
        let socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut client = RawClient {
            socket,
            buf: BytesMut::new(),
        };
        let mut startup = Startup::new();
        startup.parameters = BTreeMap::from([("user".to_owned(), "raw".to_owned())]);
        client
            .send(&[PgWireFrontendMessage::Startup(startup)])
            .await;
        let greeting = client.until_ready().await;
        assert!(matches!(
            greeting[0],
            PgWireBackendMessage::Authentication(_)
        ));
        let params: BTreeMap<String, String> = greeting
            .iter()
            .filter_map(|m| match m {
                PgWireBackendMessage::ParameterStatus(p) => Some((p.name.clone(), p.value.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(params["server_encoding"], "UTF8");
        assert_eq!(params["client_encoding"], "UTF8");
        assert_eq!(params["integer_datetimes"], "on");
        assert_eq!(params["standard_conforming_strings"], "on");
        assert!(params["DateStyle"].starts_with("ISO"));
        assert!(params["server_version"].starts_with("15."));
        assert!(greeting
            .iter()
            .any(|m| matches!(m, PgWireBackendMessage::BackendKeyData(_))));
        client
    }

    async fn send(&mut self, messages: &[PgWireFrontendMessage]) {
        let mut out = BytesMut::new();
        for m in messages {
            m.encode(&mut out).unwrap();
        }
        self.socket.write_all(&out).await.unwrap();
    }

    async fn next(&mut self) -> PgWireBackendMessage {
        let ctx = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
        loop {
            if let Some(m) = PgWireBackendMessage::decode(&mut self.buf, &ctx).unwrap() {
                return m;
            }
            let n =
                tokio::time::timeout(Duration::from_secs(10), self.socket.read_buf(&mut self.buf))
                    .await
                    .expect("server answered")
                    .unwrap();
            assert!(n > 0, "server closed the connection");
        }
    }

    /// Everything up to and including the next ReadyForQuery.
    async fn until_ready(&mut self) -> Vec<PgWireBackendMessage> {
        let mut out = Vec::new();
        loop {
            let m = self.next().await;
            let done = matches!(m, PgWireBackendMessage::ReadyForQuery(_));
            out.push(m);
            if done {
                return out;
            }
        }
    }
}

fn error_codes(messages: &[PgWireBackendMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            PgWireBackendMessage::ErrorResponse(e) => e
                .fields
                .iter()
                .find(|(k, _)| *k == b'C')
                .map(|(_, v)| v.clone()),
            _ => None,
        })
        .collect()
}

fn status(messages: &[PgWireBackendMessage]) -> u8 {
    match messages.last() {
        Some(PgWireBackendMessage::ReadyForQuery(r)) => r.status as u8,
        other => panic!("expected ReadyForQuery, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_statements_and_portals_get_postgres_codes() {
    let server = start().await;
    let mut c = RawClient::connect(server.port).await;
    c.send(&[
        PgWireFrontendMessage::Describe(Describe::new(b'P', Some("nope".into()))),
        PgWireFrontendMessage::Sync(Sync::new()),
    ])
    .await;
    assert_eq!(error_codes(&c.until_ready().await), vec!["34000"]);

    c.send(&[
        PgWireFrontendMessage::Bind(Bind::new(None, Some("nope".into()), vec![], vec![], vec![])),
        PgWireFrontendMessage::Sync(Sync::new()),
    ])
    .await;
    assert_eq!(error_codes(&c.until_ready().await), vec!["26000"]);

    c.send(&[
        PgWireFrontendMessage::Execute(Execute::new(Some("gone".into()), 0)),
        PgWireFrontendMessage::Sync(Sync::new()),
    ])
    .await;
    assert_eq!(error_codes(&c.until_ready().await), vec!["34000"]);

    // Two statements cannot be prepared at once.
    c.send(&[
        PgWireFrontendMessage::Parse(Parse::new(None, "SELECT 1; SELECT 2".into(), vec![])),
        PgWireFrontendMessage::Sync(Sync::new()),
    ])
    .await;
    assert_eq!(error_codes(&c.until_ready().await), vec!["42601"]);

    // A wrong parameter count is a protocol violation.
    c.send(&[
        PgWireFrontendMessage::Parse(Parse::new(None, "SELECT $1".into(), vec![])),
        PgWireFrontendMessage::Bind(Bind::new(None, None, vec![], vec![], vec![])),
        PgWireFrontendMessage::Sync(Sync::new()),
    ])
    .await;
    assert_eq!(error_codes(&c.until_ready().await), vec!["08P01"]);
}

#[tokio::test]
async fn after_an_error_messages_are_skipped_until_sync() {
    let server = start().await;
    let mut c = RawClient::connect(server.port).await;
    c.send(&[
        PgWireFrontendMessage::Execute(Execute::new(Some("gone".into()), 0)),
        // Skipped: this would otherwise answer ParseComplete.
        PgWireFrontendMessage::Parse(Parse::new(None, "SELECT 1".into(), vec![])),
        PgWireFrontendMessage::Sync(Sync::new()),
        PgWireFrontendMessage::Query(Query::new("SELECT 3 AS x".into())),
    ])
    .await;
    let first = c.until_ready().await;
    assert_eq!(first.len(), 2, "{first:?}");
    let second = c.until_ready().await;
    assert!(matches!(second[0], PgWireBackendMessage::RowDescription(_)));
    assert!(matches!(second[1], PgWireBackendMessage::DataRow(_)));
    match &second[2] {
        PgWireBackendMessage::CommandComplete(cc) => assert_eq!(cc.tag, "SELECT 1"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn ready_for_query_tracks_transaction_status() {
    let server = start().await;
    let mut c = RawClient::connect(server.port).await;
    let q = |sql: &str| PgWireFrontendMessage::Query(Query::new(sql.into()));
    c.send(&[q("BEGIN")]).await;
    assert_eq!(status(&c.until_ready().await), b'T');
    c.send(&[q("SELECT bogus")]).await;
    let failed = c.until_ready().await;
    assert_eq!(error_codes(&failed), vec!["42703"]);
    assert_eq!(status(&failed), b'E');
    c.send(&[q("COMMIT")]).await;
    let rolled_back = c.until_ready().await;
    match &rolled_back[0] {
        PgWireBackendMessage::CommandComplete(cc) => assert_eq!(cc.tag, "ROLLBACK"),
        other => panic!("{other:?}"),
    }
    assert_eq!(status(&rolled_back), b'I');
    // COMMIT outside a block warns but succeeds.
    c.send(&[q("COMMIT")]).await;
    let warned = c.until_ready().await;
    assert!(matches!(warned[0], PgWireBackendMessage::NoticeResponse(_)));
    assert_eq!(status(&warned), b'I');
    // An empty query string.
    c.send(&[q("  ")]).await;
    let empty = c.until_ready().await;
    assert!(matches!(
        empty[0],
        PgWireBackendMessage::EmptyQueryResponse(_)
    ));
}

#[tokio::test]
async fn simple_push_query_sends_a_notice_before_its_rows() {
    let server = start().await;
    let mut c = RawClient::connect(server.port).await;
    c.send(&[PgWireFrontendMessage::Query(Query::new(
        "SELECT * FROM ticks EMIT CHANGES LIMIT 1".into(),
    ))])
    .await;
    let messages = c.until_ready().await;
    match &messages[0] {
        PgWireBackendMessage::NoticeResponse(n) => {
            let hint = n.fields.iter().find(|(k, _)| *k == b'H').unwrap();
            assert!(hint.1.contains("COPY"), "{hint:?}");
            assert!(hint.1.contains("FETCH_COUNT"), "{hint:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        messages[1],
        PgWireBackendMessage::RowDescription(_)
    ));
    assert!(matches!(messages[2], PgWireBackendMessage::DataRow(_)));
    // Pull queries get no notice.
    c.send(&[PgWireFrontendMessage::Query(Query::new("SELECT 1".into()))])
        .await;
    let messages = c.until_ready().await;
    assert!(matches!(
        messages[0],
        PgWireBackendMessage::RowDescription(_)
    ));
}
