//! One client connection after the startup handshake: the simple and extended query protocols,
//! transaction status, cursors, COPY, cancellation and disconnect detection.
//!
//! Everything that can wait (an engine call, the next batch of a push query, a flush to a slow
//! client) goes through [`Connection::watch`], which races it against the connection's cancel
//! signal and keeps reading the socket: messages the client pipelines meanwhile are queued, and
//! a closed socket ends the statement at once, so a push query's stream is dropped (freeing the
//! engine's consumer) whether the client cancels, disconnects, or just goes away.

use std::collections::{HashMap, VecDeque};
use std::future::{pending, Future};
use std::io;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use futures::channel::oneshot;
use futures::{Sink, SinkExt, Stream, StreamExt};
use pgwire::api::portal::Format;
use pgwire::api::{ConnectionHandle, Type};
use pgwire::error::PgWireError;
use pgwire::messages::copy::{CopyData, CopyDone, CopyOutResponse};
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete,
    PortalSuspended, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ErrorResponse, NoticeResponse, ReadyForQuery,
    TransactionStatus,
};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::time::Instant;
use tracing::debug;

use crate::backend::{BackendError, Outcome, Session};
use crate::command::{classify, Command, Fetch, FetchCount};
use crate::copy::{CopyFormat, CopyFramer, CopyOptions};
use crate::encode::{data_row_fields, result_format, RowEncoding};
use crate::error::{canceled, Failure, WireError};
use crate::lexer::{max_placeholder, split_statements, Piece};
use crate::literal::{param_literal, substitute, Substituted};
use crate::source::RowSource;
use crate::ServerConfig;

/// At most this many messages are read ahead while a statement runs; beyond that the socket is
/// left alone until the statement is done.
const MAX_PENDING: usize = 1024;

/// What the connection needs from its socket: pgwire's framed codec, or anything like it.
pub(crate) trait Wire:
    Stream<Item = Result<PgWireFrontendMessage, PgWireError>>
    + Sink<PgWireBackendMessage, Error = io::Error>
    + Unpin
    + Send
{
}

impl<T> Wire for T where
    T: Stream<Item = Result<PgWireFrontendMessage, PgWireError>>
        + Sink<PgWireBackendMessage, Error = io::Error>
        + Unpin
        + Send
{
}

/// The cancel signal of the statement in progress (one per statement; a cancel that arrives
/// while idle goes to a receiver nobody waits on).
struct CancelWatch {
    rx: Option<oneshot::Receiver<()>>,
}

impl CancelWatch {
    /// Resolves when a CancelRequest arrives for this statement; never otherwise.
    async fn fired(&mut self) {
        match self.rx.as_mut() {
            Some(rx) => match rx.await {
                Ok(()) => {
                    self.rx = None;
                }
                Err(_) => {
                    self.rx = None;
                    pending::<()>().await
                }
            },
            None => pending::<()>().await,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tx {
    Idle,
    Block,
    Failed,
}

/// A NoticeResponse to send.
struct Notice {
    severity: &'static str,
    code: &'static str,
    message: String,
    hint: Option<String>,
}

impl Notice {
    fn plain(message: String) -> Self {
        Notice {
            severity: "NOTICE",
            code: "00000",
            message,
            hint: None,
        }
    }

    fn warning(code: &'static str, message: &str) -> Self {
        Notice {
            severity: "WARNING",
            code,
            message: message.to_owned(),
            hint: None,
        }
    }
}

/// How the command tag of a row result is made.
#[derive(Debug, Clone)]
enum TagKind {
    Select,
    Fetch,
    Fixed(String),
}

impl TagKind {
    fn render(&self, rows: usize) -> String {
        match self {
            TagKind::Select => format!("SELECT {rows}"),
            TagKind::Fetch => format!("FETCH {rows}"),
            TagKind::Fixed(tag) => tag.clone(),
        }
    }
}

/// What running one statement produced, before it is written in the protocol at hand.
enum Produced {
    Command {
        tag: String,
        notice: Option<Notice>,
    },
    Rows {
        source: RowSource,
        binary: bool,
        tag: TagKind,
        /// A plain push query: worth the "psql buffers this" notice in the simple protocol.
        push_notice: bool,
    },
    Copy {
        source: RowSource,
        options: CopyOptions,
    },
}

/// The result of waiting for the next batch.
enum Pulled {
    Batch(RecordBatch),
    End,
    Timeout,
}

/// What `Describe` reports for a prepared statement.
struct StatementInfo {
    /// (oid reported, type used to make literals)
    params: Vec<(u32, Type)>,
    columns: Option<SchemaRef>,
}

struct Prepared {
    query: String,
    /// `None` for an empty statement.
    piece: Option<Piece>,
    client_types: Vec<u32>,
    nparams: usize,
    info: Option<Arc<StatementInfo>>,
}

struct RowsState {
    source: RowSource,
    encoding: RowEncoding,
    tag: TagKind,
}

enum PortalState {
    New,
    Rows(RowsState),
    Done { tag: String },
}

struct Portal {
    bound: Substituted,
    /// Character offset of the statement in the Parse text.
    offset: usize,
    empty: bool,
    result_codes: Vec<i16>,
    /// The columns the client was told about, if it was told.
    promised: Option<SchemaRef>,
    state: PortalState,
}

impl Portal {
    /// Map an error position in the bound text back to the client's Parse text.
    fn client_position(&self, position: usize) -> usize {
        self.bound.original_position(position) + self.offset
    }
}

struct Cursor {
    source: RowSource,
    binary: bool,
    hold: bool,
    in_block: bool,
}

pub(crate) struct Connection<T> {
    socket: T,
    session: Arc<dyn Session>,
    config: Arc<ServerConfig>,
    handle: Arc<ConnectionHandle>,
    cancel: CancelWatch,
    statements: HashMap<String, Prepared>,
    portals: HashMap<String, Portal>,
    cursors: HashMap<String, Cursor>,
    tx: Tx,
    savepoints: Vec<String>,
    pending: VecDeque<PgWireFrontendMessage>,
    skip_until_sync: bool,
}

fn not_found(code: &str, what: &str, name: &str) -> BackendError {
    BackendError::new(code, format!("{what} \"{name}\" does not exist"))
}

fn error_response(e: &BackendError) -> ErrorResponse {
    let mut fields = vec![
        (b'S', "ERROR".to_owned()),
        (b'V', "ERROR".to_owned()),
        (b'C', e.sqlstate.clone()),
        (b'M', e.message.clone()),
    ];
    if let Some(detail) = &e.detail {
        fields.push((b'D', detail.clone()));
    }
    if let Some(hint) = &e.hint {
        fields.push((b'H', hint.clone()));
    }
    if let Some(position) = e.position {
        fields.push((b'P', position.to_string()));
    }
    ErrorResponse::new(fields)
}

fn notice_response(n: &Notice) -> NoticeResponse {
    let mut fields = vec![
        (b'S', n.severity.to_owned()),
        (b'V', n.severity.to_owned()),
        (b'C', n.code.to_owned()),
        (b'M', n.message.clone()),
    ];
    if let Some(hint) = &n.hint {
        fields.push((b'H', hint.clone()));
    }
    NoticeResponse::new(fields)
}

fn push_notice() -> Notice {
    Notice {
        severity: "NOTICE",
        code: "00000",
        message: "push query rows are sent as they arrive, but psql shows nothing until the query ends"
            .to_owned(),
        hint: Some(
            "Use COPY (SELECT ... EMIT CHANGES) TO STDOUT, or \\set FETCH_COUNT 1 in psql, to see rows as they arrive."
                .to_owned(),
        ),
    }
}

fn pg_type_of(dt: &datafusion::arrow::datatypes::DataType) -> Type {
    arrow_pg::datatypes::into_pg_type(dt).unwrap_or(Type::TEXT)
}

impl<T: Wire> Connection<T> {
    pub fn new(
        socket: T,
        session: Arc<dyn Session>,
        config: Arc<ServerConfig>,
        handle: Arc<ConnectionHandle>,
    ) -> Self {
        Connection {
            socket,
            session,
            config,
            handle,
            cancel: CancelWatch { rx: None },
            statements: HashMap::new(),
            portals: HashMap::new(),
            cursors: HashMap::new(),
            tx: Tx::Idle,
            savepoints: Vec::new(),
            pending: VecDeque::new(),
            skip_until_sync: false,
        }
    }

    /// Serve the connection until the client leaves.
    pub async fn run(mut self) -> Result<(), WireError> {
        loop {
            let msg = match self.pending.pop_front() {
                Some(msg) => msg,
                None => match self.socket.next().await {
                    None => return Ok(()),
                    Some(Ok(msg)) => msg,
                    Some(Err(e)) => {
                        let _ = self
                            .socket
                            .send(PgWireBackendMessage::ErrorResponse(ErrorResponse::new(
                                vec![
                                    (b'S', "FATAL".to_owned()),
                                    (b'V', "FATAL".to_owned()),
                                    (b'C', "08P01".to_owned()),
                                    (b'M', format!("invalid frontend message: {e}")),
                                ],
                            )))
                            .await;
                        return Err(WireError::Message(e));
                    }
                },
            };
            if self.skip_until_sync
                && !matches!(
                    msg,
                    PgWireFrontendMessage::Sync(_) | PgWireFrontendMessage::Terminate(_)
                )
            {
                continue;
            }
            match msg {
                PgWireFrontendMessage::Terminate(_) => return Ok(()),
                PgWireFrontendMessage::Query(q) => self.simple_query(&q.query).await?,
                PgWireFrontendMessage::Parse(m) => {
                    let r = self.on_parse(m).await;
                    self.extended_result(r).await?
                }
                PgWireFrontendMessage::Bind(m) => {
                    let r = self.on_bind(m).await;
                    self.extended_result(r).await?
                }
                PgWireFrontendMessage::Describe(m) => {
                    let r = self.on_describe(m).await;
                    self.extended_result(r).await?
                }
                PgWireFrontendMessage::Execute(m) => {
                    let r = self.on_execute(m).await;
                    self.extended_result(r).await?
                }
                PgWireFrontendMessage::Close(m) => {
                    let r = self.on_close(m).await;
                    self.extended_result(r).await?
                }
                PgWireFrontendMessage::Flush(_) => self.socket.flush().await?,
                PgWireFrontendMessage::Sync(_) => self.on_sync().await?,
                // Copy-in is never started, so stray copy messages are ignored like PostgreSQL does
                // outside COPY.
                PgWireFrontendMessage::CopyData(_)
                | PgWireFrontendMessage::CopyDone(_)
                | PgWireFrontendMessage::CopyFail(_) => {}
                other => {
                    return Err(WireError::Protocol(format!(
                        "unexpected message after startup: {other:?}"
                    )))
                }
            }
        }
    }

    // ----- plumbing -------------------------------------------------------------------------

    async fn send(&mut self, msg: PgWireBackendMessage) -> Result<(), Failure> {
        self.socket.feed(msg).await.map_err(Failure::from)
    }

    /// Flush, giving up early if the statement is cancelled meanwhile.
    async fn flush(&mut self) -> Result<(), Failure> {
        tokio::select! {
            biased;
            r = self.socket.flush() => r.map_err(Failure::from),
            _ = self.cancel.fired() => Err(Failure::Statement(canceled())),
        }
    }

    /// A fresh cancel signal for the request about to run.
    async fn begin_request(&mut self) {
        self.cancel = CancelWatch {
            rx: Some(self.handle.start_query().await),
        };
    }

    /// Await `fut` while watching for a cancel and for the client going away. Messages that
    /// arrive meanwhile are queued for later.
    async fn watch<F: Future>(&mut self, fut: F) -> Result<F::Output, Failure> {
        tokio::pin!(fut);
        loop {
            let reading = self.pending.len() < MAX_PENDING;
            tokio::select! {
                biased;
                _ = self.cancel.fired() => return Err(Failure::Statement(canceled())),
                out = &mut fut => return Ok(out),
                msg = self.socket.next(), if reading => match msg {
                    None | Some(Ok(PgWireFrontendMessage::Terminate(_))) => {
                        return Err(Failure::Connection(WireError::ClientGone))
                    }
                    Some(Err(e)) => return Err(Failure::Connection(WireError::Message(e))),
                    Some(Ok(msg)) => self.pending.push_back(msg),
                },
            }
        }
    }

    fn status(&self) -> TransactionStatus {
        match self.tx {
            Tx::Idle => TransactionStatus::Idle,
            Tx::Block => TransactionStatus::Transaction,
            Tx::Failed => TransactionStatus::Error,
        }
    }

    async fn ready_for_query(&mut self) -> Result<(), WireError> {
        let status = self.status();
        self.socket
            .feed(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))
            .await?;
        self.socket.flush().await?;
        Ok(())
    }

    /// Send an ErrorResponse; an error inside a transaction block fails the block.
    async fn report_error(&mut self, e: BackendError) -> Result<(), WireError> {
        debug!(sqlstate = %e.sqlstate, message = %e.message, "statement failed");
        if self.tx == Tx::Block {
            self.tx = Tx::Failed;
        }
        self.socket
            .feed(PgWireBackendMessage::ErrorResponse(error_response(&e)))
            .await?;
        self.socket.flush().await?;
        Ok(())
    }

    async fn send_notice(&mut self, notice: &Notice) -> Result<(), Failure> {
        self.send(PgWireBackendMessage::NoticeResponse(notice_response(
            notice,
        )))
        .await
    }

    async fn command_complete(&mut self, tag: String) -> Result<(), Failure> {
        self.send(PgWireBackendMessage::CommandComplete(CommandComplete::new(
            tag,
        )))
        .await
    }

    async fn extended_result(&mut self, r: Result<(), Failure>) -> Result<(), WireError> {
        match r {
            Ok(()) => Ok(()),
            Err(Failure::Statement(e)) => {
                self.skip_until_sync = true;
                self.report_error(e).await
            }
            Err(Failure::Connection(e)) => Err(e),
        }
    }

    // ----- rows -----------------------------------------------------------------------------

    /// The next batch of `source` (at most `max` rows), waiting for a push query's stream up to
    /// `deadline` (forever when `None`).
    async fn next_batch(
        &mut self,
        source: &mut RowSource,
        max: Option<usize>,
        deadline: Option<Instant>,
    ) -> Result<Pulled, Failure> {
        if let Some(batch) = source.take_ready(max) {
            return Ok(Pulled::Batch(batch));
        }
        if source.stream.is_some() {
            // About to wait for a push query: whatever is buffered (BindComplete, a
            // RowDescription, earlier rows) must reach the client now, not with the next batch.
            self.flush().await?;
        }
        loop {
            let Some(stream) = source.stream.as_mut() else {
                return Ok(Pulled::End);
            };
            let item = match deadline {
                None => self.watch(stream.next()).await?,
                Some(deadline) => {
                    match self
                        .watch(tokio::time::timeout_at(deadline, stream.next()))
                        .await?
                    {
                        Ok(item) => item,
                        Err(_) => return Ok(Pulled::Timeout),
                    }
                }
            };
            match item {
                None => {
                    source.stream = None;
                    return Ok(Pulled::End);
                }
                Some(Err(e)) => {
                    source.stream = None;
                    return Err(Failure::Statement(e));
                }
                Some(Ok(batch)) => {
                    source.push_ready(batch);
                    if let Some(batch) = source.take_ready(max) {
                        return Ok(Pulled::Batch(batch));
                    }
                }
            }
        }
    }

    /// Write rows of `source` (as DataRows, or as COPY data with `copy`) until `limit` rows or
    /// the end, flushing after every batch of a push query. (A finite result is flushed with
    /// what follows it, at ReadyForQuery at the latest, as PostgreSQL does: one write per
    /// request instead of two for a small result.) Returns the rows written and whether the
    /// source is known to be exhausted.
    async fn pump(
        &mut self,
        source: &mut RowSource,
        encoding: &RowEncoding,
        limit: Option<usize>,
        copy: Option<&CopyFramer>,
    ) -> Result<(usize, bool), Failure> {
        let mut sent = 0;
        loop {
            let remaining = limit.map(|l| l - sent);
            if remaining == Some(0) {
                return Ok((sent, source.exhausted()));
            }
            match self.next_batch(source, remaining, None).await? {
                Pulled::Batch(batch) => {
                    let rows = encoding.encode(&batch)?;
                    sent += rows.len();
                    for row in rows {
                        let msg = match copy {
                            None => PgWireBackendMessage::DataRow(row),
                            Some(framer) => PgWireBackendMessage::CopyData(CopyData::new(
                                framer.row(&data_row_fields(&row)),
                            )),
                        };
                        self.send(msg).await?;
                    }
                    if source.push {
                        self.flush().await?;
                    }
                }
                Pulled::End | Pulled::Timeout => return Ok((sent, true)),
            }
        }
    }

    /// Collect the rows a FETCH returns: for a push query, what arrives within
    /// `fetch_first_row_timeout`, and after the first row only for `fetch_linger` more.
    async fn collect_fetch(
        &mut self,
        source: &mut RowSource,
        count: FetchCount,
    ) -> Result<Vec<RecordBatch>, Failure> {
        let limit = match count {
            FetchCount::Count(n) => Some(n),
            FetchCount::All => None,
        };
        let mut deadline = source
            .push
            .then(|| Instant::now() + self.config.fetch_first_row_timeout);
        let mut lingering = false;
        let mut got = 0;
        let mut batches = Vec::new();
        loop {
            let remaining = limit.map(|l| l - got);
            if remaining == Some(0) {
                break;
            }
            match self.next_batch(source, remaining, deadline).await? {
                Pulled::Batch(batch) => {
                    got += batch.num_rows();
                    batches.push(batch);
                    if source.push && !lingering {
                        lingering = true;
                        let linger = Instant::now() + self.config.fetch_linger;
                        deadline = deadline.map(|d| d.min(linger));
                    }
                }
                Pulled::End | Pulled::Timeout => break,
            }
        }
        Ok(batches)
    }

    /// `COPY ... TO STDOUT`: CopyOutResponse, one CopyData per row (flushed per batch),
    /// CopyDone and `COPY n`.
    async fn copy_out(
        &mut self,
        mut source: RowSource,
        options: CopyOptions,
    ) -> Result<String, Failure> {
        let binary = options.format == CopyFormat::Binary;
        let format = if binary {
            Format::UnifiedBinary
        } else {
            Format::UnifiedText
        };
        let encoding = RowEncoding::new(&source.schema, &format)?;
        let names = encoding.column_names();
        let framer = CopyFramer::new(options, &names);
        let code = i16::from(binary);
        let columns = encoding.column_count();
        self.send(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
            code as i8,
            columns as i16,
            vec![code; columns],
        )))
        .await?;
        if let Some(preamble) = framer.preamble(&names) {
            self.send(PgWireBackendMessage::CopyData(CopyData::new(preamble)))
                .await?;
        }
        self.flush().await?;
        let (rows, _) = self
            .pump(&mut source, &encoding, None, Some(&framer))
            .await?;
        if let Some(trailer) = framer.trailer() {
            self.send(PgWireBackendMessage::CopyData(CopyData::new(trailer)))
                .await?;
        }
        self.send(PgWireBackendMessage::CopyDone(CopyDone::new()))
            .await?;
        let tag = format!("COPY {rows}");
        debug!(options = ?framer.options().format, rows, "copy out finished");
        Ok(tag)
    }

    // ----- statements -----------------------------------------------------------------------

    async fn execute_engine(&mut self, sql: &str) -> Result<Outcome, Failure> {
        let session = self.session.clone();
        let sql = sql.to_owned();
        debug!(sql = %sql, "execute");
        let outcome = self
            .watch(async move { session.execute(&sql).await })
            .await??;
        Ok(outcome)
    }

    fn check_transaction(&self, cmd: &Command) -> Result<(), BackendError> {
        if self.tx == Tx::Failed && !cmd.allowed_in_failed_transaction() {
            return Err(BackendError::new(
                "25P02",
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        Ok(())
    }

    /// End the transaction block: cursors declared in it (without HOLD) and portals go.
    fn end_transaction(&mut self) {
        self.tx = Tx::Idle;
        self.savepoints.clear();
        self.cursors.retain(|_, c| c.hold || !c.in_block);
        self.portals.clear();
    }

    /// Run one statement (its text is exactly one statement).
    async fn run_statement(&mut self, text: &str) -> Result<Produced, Failure> {
        let cmd = classify(text)?;
        self.check_transaction(&cmd)?;
        let command = |tag: &str| Produced::Command {
            tag: tag.to_owned(),
            notice: None,
        };
        let warn = |tag: &str, code: &'static str, message: &str| Produced::Command {
            tag: tag.to_owned(),
            notice: Some(Notice::warning(code, message)),
        };
        const NO_TX: &str = "there is no transaction in progress";
        let is_release = matches!(cmd, Command::Release(_));
        Ok(match cmd {
            Command::Engine => match self.execute_engine(text).await? {
                Outcome::Command { tag, notice } => Produced::Command {
                    tag,
                    notice: notice.map(Notice::plain),
                },
                Outcome::Rows {
                    schema,
                    batches,
                    tag,
                } => Produced::Rows {
                    source: RowSource::finite(schema, batches),
                    binary: false,
                    tag: tag.map_or(TagKind::Select, TagKind::Fixed),
                    push_notice: false,
                },
                Outcome::Push { schema, stream } => Produced::Rows {
                    source: RowSource::push(schema, stream),
                    binary: false,
                    tag: TagKind::Select,
                    push_notice: true,
                },
            },
            Command::Begin { tag } => match self.tx {
                Tx::Idle => {
                    self.tx = Tx::Block;
                    self.savepoints.clear();
                    command(tag)
                }
                _ => warn(tag, "25001", "there is already a transaction in progress"),
            },
            Command::Commit => match self.tx {
                Tx::Idle => warn("COMMIT", "25P01", NO_TX),
                Tx::Block => {
                    self.end_transaction();
                    command("COMMIT")
                }
                Tx::Failed => {
                    self.end_transaction();
                    command("ROLLBACK")
                }
            },
            Command::Rollback => match self.tx {
                Tx::Idle => warn("ROLLBACK", "25P01", NO_TX),
                _ => {
                    self.end_transaction();
                    command("ROLLBACK")
                }
            },
            Command::Savepoint(name) => {
                if self.tx == Tx::Idle {
                    return Err(BackendError::new(
                        "25P01",
                        "SAVEPOINT can only be used in transaction blocks",
                    )
                    .into());
                }
                self.savepoints.push(name);
                command("SAVEPOINT")
            }
            Command::Release(name) | Command::RollbackTo(name) => {
                let release = is_release;
                if self.tx == Tx::Idle {
                    let what = if release {
                        "RELEASE SAVEPOINT"
                    } else {
                        "ROLLBACK TO SAVEPOINT"
                    };
                    return Err(BackendError::new(
                        "25P01",
                        format!("{what} can only be used in transaction blocks"),
                    )
                    .into());
                }
                let Some(index) = self.savepoints.iter().rposition(|s| *s == name) else {
                    return Err(not_found("3B001", "savepoint", &name).into());
                };
                if release {
                    self.savepoints.truncate(index);
                    command("RELEASE")
                } else {
                    self.savepoints.truncate(index + 1);
                    self.tx = Tx::Block;
                    command("ROLLBACK")
                }
            }
            Command::Declare(d) => {
                if self.cursors.contains_key(&d.name) {
                    return Err(BackendError::new(
                        "42P03",
                        format!("cursor \"{}\" already exists", d.name),
                    )
                    .into());
                }
                let inner = &text[d.query_start..d.query_end];
                let offset = text[..d.query_start].chars().count();
                let outcome = self
                    .execute_engine(inner)
                    .await
                    .map_err(|f| f.shift(offset))?;
                let source = match outcome {
                    Outcome::Rows {
                        schema, batches, ..
                    } => RowSource::finite(schema, batches),
                    Outcome::Push { schema, stream } => RowSource::push(schema, stream),
                    Outcome::Command { .. } => {
                        return Err(BackendError::new(
                            "42P11",
                            "DECLARE CURSOR can only be used with a query that returns rows",
                        )
                        .into())
                    }
                };
                let in_block = self.tx != Tx::Idle;
                self.cursors.insert(
                    d.name,
                    Cursor {
                        source,
                        binary: d.binary,
                        hold: d.hold,
                        in_block,
                    },
                );
                command("DECLARE CURSOR")
            }
            Command::Fetch(Fetch {
                name,
                count,
                is_move,
            }) => {
                let Some(mut cursor) = self.cursors.remove(&name) else {
                    return Err(not_found("34000", "cursor", &name).into());
                };
                // On failure the cursor (and its stream) is dropped.
                let batches = self.collect_fetch(&mut cursor.source, count).await?;
                let schema = cursor.source.schema.clone();
                let binary = cursor.binary;
                self.cursors.insert(name, cursor);
                if is_move {
                    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                    command(&format!("MOVE {rows}"))
                } else {
                    Produced::Rows {
                        source: RowSource::finite(schema, batches),
                        binary,
                        tag: TagKind::Fetch,
                        push_notice: false,
                    }
                }
            }
            Command::Close(None) => {
                self.cursors.clear();
                command("CLOSE CURSOR ALL")
            }
            Command::Close(Some(name)) => {
                if self.cursors.remove(&name).is_none() {
                    return Err(not_found("34000", "cursor", &name).into());
                }
                command("CLOSE CURSOR")
            }
            Command::Copy(c) => {
                let inner = &text[c.query_start..c.query_end];
                let offset = text[..c.query_start].chars().count();
                let source = match self
                    .execute_engine(inner)
                    .await
                    .map_err(|f| f.shift(offset))?
                {
                    Outcome::Rows {
                        schema, batches, ..
                    } => RowSource::finite(schema, batches),
                    Outcome::Push { schema, stream } => RowSource::push(schema, stream),
                    Outcome::Command { .. } => {
                        return Err(BackendError::new(
                            "0A000",
                            "COPY (query) TO STDOUT needs a query that returns rows",
                        )
                        .into())
                    }
                };
                Produced::Copy {
                    source,
                    options: c.options,
                }
            }
        })
    }

    // ----- simple query protocol ------------------------------------------------------------

    async fn simple_query(&mut self, sql: &str) -> Result<(), WireError> {
        let pieces = split_statements(sql);
        if pieces.is_empty() {
            self.socket
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
        }
        for piece in pieces {
            self.begin_request().await;
            let result = self
                .simple_statement(piece.text(sql))
                .await
                .map_err(|f| f.shift(piece.char_offset));
            match result {
                Ok(()) => {}
                Err(Failure::Statement(e)) => {
                    self.report_error(e).await?;
                    break;
                }
                Err(Failure::Connection(e)) => return Err(e),
            }
        }
        self.ready_for_query().await
    }

    async fn simple_statement(&mut self, text: &str) -> Result<(), Failure> {
        match self.run_statement(text).await? {
            Produced::Command { tag, notice } => {
                if let Some(notice) = notice {
                    self.send_notice(&notice).await?;
                }
                self.command_complete(tag).await
            }
            Produced::Rows {
                mut source,
                binary,
                tag,
                push_notice: notice,
            } => {
                let format = if binary {
                    Format::UnifiedBinary
                } else {
                    Format::UnifiedText
                };
                let encoding = RowEncoding::new(&source.schema, &format)?;
                if notice {
                    self.send_notice(&push_notice()).await?;
                }
                self.send(PgWireBackendMessage::RowDescription(
                    encoding.row_description(),
                ))
                .await?;
                if source.push {
                    self.flush().await?;
                }
                let (rows, _) = self.pump(&mut source, &encoding, None, None).await?;
                self.command_complete(tag.render(rows)).await
            }
            Produced::Copy { source, options } => {
                let tag = self.copy_out(source, options).await?;
                self.command_complete(tag).await
            }
        }
    }

    // ----- extended query protocol ----------------------------------------------------------

    async fn on_parse(&mut self, parse: Parse) -> Result<(), Failure> {
        let name = parse.name.unwrap_or_default();
        if !name.is_empty() && self.statements.contains_key(&name) {
            return Err(BackendError::new(
                "42P05",
                format!("prepared statement \"{name}\" already exists"),
            )
            .into());
        }
        let pieces = split_statements(&parse.query);
        if pieces.len() > 1 {
            return Err(BackendError::new(
                "42601",
                "cannot insert multiple commands into a prepared statement",
            )
            .into());
        }
        let piece = pieces.first().copied();
        let mut nparams = parse.type_oids.len();
        if let Some(piece) = piece {
            let text = piece.text(&parse.query);
            // Syntax errors in the statements handled here surface at Parse, like PostgreSQL.
            classify(text).map_err(|e| Failure::from(e).shift(piece.char_offset))?;
            nparams = nparams.max(max_placeholder(text));
        }
        self.statements.insert(
            name,
            Prepared {
                query: parse.query,
                piece,
                client_types: parse.type_oids,
                nparams,
                info: None,
            },
        );
        self.send(PgWireBackendMessage::ParseComplete(ParseComplete::new()))
            .await
    }

    /// Parameter types and result columns of a prepared statement (cached when stable).
    async fn statement_info(&mut self, name: &str) -> Result<Arc<StatementInfo>, Failure> {
        let Some(stmt) = self.statements.get(name) else {
            return Err(not_found("26000", "prepared statement", name).into());
        };
        if let Some(info) = &stmt.info {
            return Ok(info.clone());
        }
        let client_types = stmt.client_types.clone();
        let nparams = stmt.nparams;
        let piece = stmt.piece;
        let text = piece.map(|p| p.text(&stmt.query).to_owned());
        let mut described = Vec::new();
        let mut columns = None;
        let mut cacheable = true;
        if let (Some(text), Some(piece)) = (&text, piece) {
            let shift = |f: Failure| f.shift(piece.char_offset);
            match classify(text).map_err(|e| shift(e.into()))? {
                Command::Engine => {
                    let desc = self.describe_engine(text).await.map_err(shift)?;
                    described = desc.params;
                    columns = desc.columns;
                }
                Command::Declare(d) => {
                    described = self
                        .describe_engine(&text[d.query_start..d.query_end])
                        .await
                        .map(|d| d.params)
                        .unwrap_or_default();
                }
                Command::Copy(c) => {
                    described = self
                        .describe_engine(&text[c.query_start..c.query_end])
                        .await
                        .map(|d| d.params)
                        .unwrap_or_default();
                }
                Command::Fetch(f) if !f.is_move => {
                    cacheable = false;
                    match self.cursors.get(&f.name) {
                        Some(cursor) => columns = Some(cursor.source.schema.clone()),
                        None => return Err(not_found("34000", "cursor", &f.name).into()),
                    }
                }
                _ => {}
            }
        }
        let count = nparams.max(described.len());
        let params = (0..count)
            .map(
                |i| match client_types.get(i).copied().filter(|oid| *oid != 0) {
                    Some(oid) => (oid, Type::from_oid(oid).unwrap_or(Type::TEXT)),
                    None => {
                        let ty = described.get(i).map(pg_type_of).unwrap_or(Type::TEXT);
                        (ty.oid(), ty)
                    }
                },
            )
            .collect();
        let info = Arc::new(StatementInfo { params, columns });
        if cacheable {
            if let Some(stmt) = self.statements.get_mut(name) {
                stmt.info = Some(info.clone());
            }
        }
        Ok(info)
    }

    async fn describe_engine(&mut self, sql: &str) -> Result<crate::backend::Description, Failure> {
        let session = self.session.clone();
        let sql = sql.to_owned();
        Ok(self
            .watch(async move { session.describe(&sql).await })
            .await??)
    }

    async fn on_bind(&mut self, bind: Bind) -> Result<(), Failure> {
        let statement_name = bind.statement_name.unwrap_or_default();
        let portal_name = bind.portal_name.unwrap_or_default();
        let Some(stmt) = self.statements.get(&statement_name) else {
            return Err(not_found("26000", "prepared statement", &statement_name).into());
        };
        if !portal_name.is_empty() && self.portals.contains_key(&portal_name) {
            return Err(BackendError::new(
                "42P03",
                format!("portal \"{portal_name}\" already exists"),
            )
            .into());
        }
        let nparams = stmt.nparams;
        if bind.parameters.len() != nparams {
            return Err(BackendError::new(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but prepared statement \"{}\" requires {}",
                    bind.parameters.len(),
                    statement_name,
                    nparams
                ),
            )
            .into());
        }
        let codes = &bind.parameter_format_codes;
        if codes.len() > 1 && codes.len() != nparams {
            return Err(BackendError::new(
                "08P01",
                format!(
                    "bind message has {} parameter formats but {} parameters",
                    codes.len(),
                    nparams
                ),
            )
            .into());
        }
        // Types: the client's where given; otherwise ask the engine (once per statement).
        let needs_types = bind
            .parameters
            .iter()
            .enumerate()
            .any(|(i, v)| v.is_some() && stmt.client_types.get(i).copied().unwrap_or(0) == 0);
        let known = stmt.info.clone();
        let info = match known {
            Some(info) => Some(info),
            None if needs_types => {
                self.begin_request().await;
                match self.statement_info(&statement_name).await {
                    Ok(info) => Some(info),
                    Err(Failure::Statement(e)) => {
                        debug!(message = %e.message, "describe failed; parameters taken as text");
                        None
                    }
                    Err(f) => return Err(f),
                }
            }
            None => None,
        };
        let stmt = self
            .statements
            .get(&statement_name)
            .expect("statement checked above");
        let mut literals = Vec::with_capacity(nparams);
        for (i, value) in bind.parameters.iter().enumerate() {
            let code = match codes.len() {
                0 => 0,
                1 => codes[0],
                _ => codes[i],
            };
            let ty = match stmt.client_types.get(i).copied().filter(|o| *o != 0) {
                Some(oid) => Type::from_oid(oid).unwrap_or(Type::TEXT),
                None => info
                    .as_ref()
                    .and_then(|info| info.params.get(i))
                    .map(|(_, ty)| ty.clone())
                    .unwrap_or(Type::TEXT),
            };
            literals.push(param_literal(value.as_deref(), code == 1, &ty)?);
        }
        let (bound, offset, empty) = match stmt.piece {
            Some(piece) => (
                substitute(piece.text(&stmt.query), &literals)
                    .map_err(|e| Failure::from(e).shift(piece.char_offset))?,
                piece.char_offset,
                false,
            ),
            None => (Substituted::unchanged(""), 0, true),
        };
        let promised = stmt.info.as_ref().and_then(|i| i.columns.clone());
        self.portals.insert(
            portal_name,
            Portal {
                bound,
                offset,
                empty,
                result_codes: bind.result_column_format_codes,
                promised,
                state: PortalState::New,
            },
        );
        self.send(PgWireBackendMessage::BindComplete(BindComplete::new()))
            .await
    }

    async fn on_describe(&mut self, describe: Describe) -> Result<(), Failure> {
        let name = describe.name.unwrap_or_default();
        match describe.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                self.begin_request().await;
                let info = self.statement_info(&name).await?;
                let oids = info.params.iter().map(|(oid, _)| *oid).collect();
                self.send(PgWireBackendMessage::ParameterDescription(
                    ParameterDescription::new(oids),
                ))
                .await?;
                match &info.columns {
                    Some(schema) => {
                        let encoding = RowEncoding::text(schema)?;
                        self.send(PgWireBackendMessage::RowDescription(
                            encoding.row_description(),
                        ))
                        .await
                    }
                    None => self.send(PgWireBackendMessage::NoData(NoData::new())).await,
                }
            }
            TARGET_TYPE_BYTE_PORTAL => {
                let Some(mut portal) = self.portals.remove(&name) else {
                    return Err(not_found("34000", "portal", &name).into());
                };
                self.begin_request().await;
                let result = self.describe_portal(&mut portal).await;
                let result = result.map_err(|f| f.map_position(|p| portal.client_position(p)));
                self.portals.insert(name, portal);
                let columns = result?;
                match columns {
                    Some((schema, codes)) => {
                        let format = result_format(&codes, schema.fields().len())?;
                        let encoding = RowEncoding::new(&schema, &format)?;
                        self.send(PgWireBackendMessage::RowDescription(
                            encoding.row_description(),
                        ))
                        .await
                    }
                    None => self.send(PgWireBackendMessage::NoData(NoData::new())).await,
                }
            }
            other => Err(BackendError::new(
                "08P01",
                format!("invalid DESCRIBE message subtype {other}"),
            )
            .into()),
        }
    }

    /// The columns a portal returns (and its result format codes), without running it.
    async fn describe_portal(
        &mut self,
        portal: &mut Portal,
    ) -> Result<Option<(SchemaRef, Vec<i16>)>, Failure> {
        if portal.empty {
            return Ok(None);
        }
        let codes = portal.result_codes.clone();
        match &portal.state {
            PortalState::Rows(rows) => return Ok(Some((rows.encoding.schema().clone(), codes))),
            PortalState::Done { .. } => return Ok(None),
            PortalState::New => {}
        }
        if let Some(schema) = &portal.promised {
            return Ok(Some((schema.clone(), codes)));
        }
        let sql = portal.bound.sql.clone();
        let columns = match classify(&sql)? {
            Command::Engine => self.describe_engine(&sql).await?.columns,
            Command::Fetch(f) if !f.is_move => match self.cursors.get(&f.name) {
                Some(cursor) => Some(cursor.source.schema.clone()),
                None => return Err(not_found("34000", "cursor", &f.name).into()),
            },
            _ => None,
        };
        portal.promised = columns.clone();
        Ok(columns.map(|s| (s, codes)))
    }

    async fn on_execute(&mut self, execute: Execute) -> Result<(), Failure> {
        let name = execute.name.unwrap_or_default();
        let Some(mut portal) = self.portals.remove(&name) else {
            return Err(not_found("34000", "portal", &name).into());
        };
        self.begin_request().await;
        let max_rows = usize::try_from(execute.max_rows).unwrap_or(0);
        match self.execute_portal(&mut portal, max_rows).await {
            Ok(()) => {
                self.portals.insert(name, portal);
                Ok(())
            }
            // A failed portal is dropped, and with it any stream it held.
            Err(f) => Err(f.map_position(|p| portal.client_position(p))),
        }
    }

    async fn execute_portal(
        &mut self,
        portal: &mut Portal,
        max_rows: usize,
    ) -> Result<(), Failure> {
        if portal.empty {
            return self
                .send(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await;
        }
        match std::mem::replace(&mut portal.state, PortalState::New) {
            PortalState::New => {
                let sql = portal.bound.sql.clone();
                match self.run_statement(&sql).await? {
                    Produced::Command { tag, notice } => {
                        if let Some(notice) = notice {
                            self.send_notice(&notice).await?;
                        }
                        portal.state = PortalState::Done { tag: tag.clone() };
                        self.command_complete(tag).await
                    }
                    Produced::Rows { source, tag, .. } => {
                        let schema = portal
                            .promised
                            .clone()
                            .unwrap_or_else(|| source.schema.clone());
                        let format = result_format(&portal.result_codes, schema.fields().len())?;
                        let encoding = RowEncoding::new(&schema, &format)?;
                        let rows = RowsState {
                            source,
                            encoding,
                            tag,
                        };
                        self.deliver_portal(portal, rows, max_rows).await
                    }
                    Produced::Copy { source, options } => {
                        let tag = self.copy_out(source, options).await?;
                        portal.state = PortalState::Done { tag: tag.clone() };
                        self.command_complete(tag).await
                    }
                }
            }
            PortalState::Rows(rows) => self.deliver_portal(portal, rows, max_rows).await,
            PortalState::Done { tag } => {
                portal.state = PortalState::Done { tag: tag.clone() };
                self.command_complete(tag).await
            }
        }
    }

    async fn deliver_portal(
        &mut self,
        portal: &mut Portal,
        mut rows: RowsState,
        max_rows: usize,
    ) -> Result<(), Failure> {
        let limit = (max_rows > 0).then_some(max_rows);
        let (sent, exhausted) = self
            .pump(&mut rows.source, &rows.encoding, limit, None)
            .await?;
        if limit == Some(sent) && !exhausted {
            portal.state = PortalState::Rows(rows);
            self.send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))
                .await
        } else {
            portal.state = PortalState::Done {
                tag: rows.tag.render(0),
            };
            self.command_complete(rows.tag.render(sent)).await
        }
    }

    async fn on_close(&mut self, close: Close) -> Result<(), Failure> {
        let name = close.name.unwrap_or_default();
        match close.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                self.statements.remove(&name);
            }
            TARGET_TYPE_BYTE_PORTAL => {
                self.portals.remove(&name);
            }
            other => {
                return Err(BackendError::new(
                    "08P01",
                    format!("invalid CLOSE message subtype {other}"),
                )
                .into())
            }
        }
        self.send(PgWireBackendMessage::CloseComplete(CloseComplete::new()))
            .await
    }

    async fn on_sync(&mut self) -> Result<(), WireError> {
        self.skip_until_sync = false;
        if self.tx == Tx::Idle {
            // Outside a transaction block, Sync ends the implicit transaction and its portals.
            self.portals.clear();
        }
        self.ready_for_query().await
    }
}
