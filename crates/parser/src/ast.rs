//! The KSQL statement AST.
//!
//! Relational parts of queries are kept as `sqlparser` AST (re-exported as
//! [`crate::sql`]) so the planner can hand them to DataFusion's `SqlToRel`; everything
//! KSQL-only (WINDOW, WITHIN, PARTITION BY, EMIT, LIMIT, DDL, SHOW, ...) lives here.
//!
//! Identifier canonicalisation (done by the parser, see [`crate::parse`]): unquoted
//! identifiers are upper-cased, quoted ones (`` `x` `` or `"x"`) keep their case, and every
//! `Ident` in the sqlparser AST carries `quote_style == Some('"')`.

use std::fmt;

use crate::sql::ast as sql;
pub use crate::types::SqlType;

/// One statement of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedStatement {
    /// The parsed statement.
    pub statement: Statement,
    /// The exact text of this statement, from its first token up to and including its
    /// terminating `;` (when there is one). Comments before the first token are not included.
    pub text: String,
    /// Byte offset of `text` in the whole input.
    pub offset: usize,
}

/// A KSQL statement, or a PostgreSQL statement to be run by DataFusion.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name [(elements)] [WITH (...)]`
    CreateSource(CreateSource),
    /// `CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (...)] AS <query>`
    CreateAsSelect(CreateAsSelect),
    /// `INSERT INTO target [WITH (QUERY_ID='q')] <query>`
    InsertInto {
        target: sql::Ident,
        query: Box<KsqlQuery>,
        with: Properties,
    },
    /// `INSERT INTO target [(c1, c2)] VALUES (e1, e2)`
    InsertValues {
        target: sql::Ident,
        columns: Option<Vec<sql::Ident>>,
        values: Vec<sql::Expr>,
    },
    /// A push or pull query: `SELECT ... FROM ... [EMIT CHANGES|FINAL] [LIMIT n]`.
    Query(Box<KsqlQuery>),
    /// `SHOW|LIST ...`
    Show(ShowWhat),
    /// `DESCRIBE [EXTENDED] name`, `DESCRIBE STREAMS|TABLES [EXTENDED]`, `DESCRIBE FUNCTION f`.
    Describe {
        target: DescribeTarget,
        extended: bool,
    },
    /// `DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]`
    Drop {
        kind: SourceKind,
        if_exists: bool,
        name: sql::Ident,
        delete_topic: bool,
    },
    /// `TERMINATE query_id | TERMINATE ALL`
    Terminate(TerminateTarget),
    /// `SET 'name' = 'value'` (KSQL session property; both sides are quoted strings).
    SetProperty { name: String, value: String },
    /// `UNSET 'name'`
    UnsetProperty { name: String },
    /// `PRINT topic|'topic' [FROM BEGINNING] [INTERVAL|SAMPLE n] [LIMIT n]`
    Print {
        /// Topic name: a quoted string's content, or an identifier exactly as written
        /// (topics are case sensitive, so unquoted names are NOT upper-cased here).
        topic: String,
        from_beginning: bool,
        interval: Option<u64>,
        limit: Option<u64>,
    },
    /// `EXPLAIN <statement>` or `EXPLAIN query_id`
    Explain(ExplainTarget),
    /// `CREATE TYPE [IF NOT EXISTS] name AS type`
    CreateType {
        name: sql::Ident,
        ty: SqlType,
        if_not_exists: bool,
    },
    /// `DROP TYPE [IF EXISTS] name`
    DropType { name: sql::Ident, if_exists: bool },
    /// `ALTER STREAM|TABLE name ADD [COLUMN] c type [, ADD [COLUMN] c type ...]`
    AlterSource {
        kind: SourceKind,
        name: sql::Ident,
        add_columns: Vec<(sql::Ident, SqlType)>,
    },
    /// Anything else that sqlparser's `PostgreSqlDialect` parses (catalog queries from psql
    /// and drivers, `SET x TO y`, `SHOW x`, `SELECT 1`, `BEGIN`, ...): run by DataFusion.
    /// PostgreSQL identifier rules apply: unquoted identifiers are lower-cased, and every
    /// identifier reached by the AST visitor carries `quote_style == Some('"')`.
    Postgres(Box<sql::Statement>),
}

/// STREAM or TABLE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Stream,
    Table,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Stream => "STREAM",
            SourceKind::Table => "TABLE",
        })
    }
}

/// `CREATE [OR REPLACE] [SOURCE] STREAM|TABLE ... (columns) WITH (...)`
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSource {
    pub kind: SourceKind,
    pub name: sql::Ident,
    pub or_replace: bool,
    pub if_not_exists: bool,
    /// `CREATE SOURCE STREAM|TABLE` (read-only source).
    pub source: bool,
    /// Declared columns; empty when omitted (schema inference from a schema registry).
    pub columns: Vec<ColumnDef>,
    pub properties: Properties,
}

/// A column of `CREATE STREAM|TABLE (...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: sql::Ident,
    pub ty: SqlType,
    pub constraint: ColumnConstraint,
}

/// What follows a column's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnConstraint {
    None,
    /// `KEY` (streams)
    Key,
    /// `PRIMARY KEY` (tables)
    PrimaryKey,
    /// `HEADERS`: all record headers, as `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`.
    Headers,
    /// `HEADER('key')`: the last header with that key, as BYTES.
    Header(String),
}

/// `CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (...)] AS <query>`
#[derive(Debug, Clone, PartialEq)]
pub struct CreateAsSelect {
    pub kind: SourceKind,
    pub name: sql::Ident,
    pub or_replace: bool,
    pub if_not_exists: bool,
    pub properties: Properties,
    pub query: Box<KsqlQuery>,
}

/// A literal value of a `WITH (...)` property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    String(String),
    /// Numeric literal, its text as written (with a leading `-` when negative).
    Number(String),
    Boolean(bool),
    Null,
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::Number(n) => f.write_str(n),
            Literal::Boolean(b) => f.write_str(if *b { "true" } else { "false" }),
            Literal::Null => f.write_str("null"),
        }
    }
}

/// `WITH (...)` properties: names upper-cased, values typed, in the order written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties(pub Vec<(String, Literal)>);

impl Properties {
    /// The literal of property `name` (case-insensitive); the last one wins if repeated.
    pub fn get(&self, name: &str) -> Option<&Literal> {
        let name = name.to_uppercase();
        self.0
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// A string property's value. Numbers and booleans are not strings here.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Literal::String(s) => Some(s),
            _ => None,
        }
    }

    /// An integer property: a numeric literal or a string holding an integer.
    pub fn get_int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Literal::Number(n) | Literal::String(n) => n.trim().parse().ok(),
            _ => None,
        }
    }

    /// A boolean property: `true`/`false` literal or a string `'true'`/`'false'`.
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            Literal::Boolean(b) => Some(*b),
            Literal::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Literal::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A KSQL query: the relational core as sqlparser AST plus the KSQL-only clauses.
#[derive(Debug, Clone, PartialEq)]
pub struct KsqlQuery {
    /// SELECT items, FROM (with JOINs), WHERE, GROUP BY, HAVING — with WINDOW, WITHIN,
    /// PARTITION BY, EMIT and LIMIT removed (they are the fields below). Always a plain
    /// `SetExpr::Select` with a non-empty FROM, no OFFSET / LIMIT / CTEs (ORDER BY is kept for
    /// pull queries).
    pub query: sql::Query,
    pub window: Option<WindowSpec>,
    /// `PARTITION BY e1, e2` (`PARTITION BY NULL` gives `[NULL]`).
    pub partition_by: Option<Vec<sql::Expr>>,
    /// One entry per JOIN, in FROM order: its `WITHIN` clause if it had one.
    pub joins_within: Vec<Option<WithinSpec>>,
    pub emit: Option<Emit>,
    pub limit: Option<u64>,
}

/// `EMIT CHANGES` | `EMIT FINAL`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    Changes,
    Final,
}

/// A KSQL time unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
}

impl TimeUnit {
    pub fn millis(self) -> u64 {
        match self {
            TimeUnit::Millisecond => 1,
            TimeUnit::Second => 1_000,
            TimeUnit::Minute => 60_000,
            TimeUnit::Hour => 3_600_000,
            TimeUnit::Day => 86_400_000,
        }
    }

    /// Parses MILLISECOND(S), SECOND(S), MINUTE(S), HOUR(S), DAY(S) (case-insensitive).
    pub fn parse(word: &str) -> Option<TimeUnit> {
        let w = word.to_uppercase();
        let w = w.strip_suffix('S').unwrap_or(&w);
        Some(match w {
            "MILLISECOND" => TimeUnit::Millisecond,
            "SECOND" => TimeUnit::Second,
            "MINUTE" => TimeUnit::Minute,
            "HOUR" => TimeUnit::Hour,
            "DAY" => TimeUnit::Day,
            _ => return None,
        })
    }
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeUnit::Millisecond => "MILLISECONDS",
            TimeUnit::Second => "SECONDS",
            TimeUnit::Minute => "MINUTES",
            TimeUnit::Hour => "HOURS",
            TimeUnit::Day => "DAYS",
        })
    }
}

/// A KSQL duration `n unit`, kept as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Duration {
    pub value: u64,
    pub unit: TimeUnit,
}

impl Duration {
    pub fn new(value: u64, unit: TimeUnit) -> Self {
        Duration { value, unit }
    }

    pub fn as_millis(&self) -> u64 {
        self.value.saturating_mul(self.unit.millis())
    }

    pub fn to_std(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.as_millis())
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.value, self.unit)
    }
}

/// `WINDOW [name] TUMBLING|HOPPING|SESSION (...)`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    pub kind: WindowKind,
    pub retention: Option<Duration>,
    pub grace: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowKind {
    Tumbling { size: Duration },
    Hopping { size: Duration, advance: Duration },
    Session { gap: Duration },
}

/// `WITHIN d [GRACE PERIOD g]` (before = after = d) or `WITHIN (before, after) [GRACE PERIOD g]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithinSpec {
    pub before: Duration,
    pub after: Duration,
    pub grace: Option<Duration>,
}

/// What `SHOW`/`LIST` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowWhat {
    Streams {
        extended: bool,
    },
    Tables {
        extended: bool,
    },
    Queries {
        extended: bool,
    },
    /// `SHOW [ALL] TOPICS [EXTENDED]`
    Topics {
        all: bool,
        extended: bool,
    },
    Properties,
    Functions,
    Types,
    Variables,
}

/// The object of `DESCRIBE`.
#[derive(Debug, Clone, PartialEq)]
pub enum DescribeTarget {
    Source(sql::Ident),
    Streams,
    Tables,
    Function(sql::Ident),
}

/// `TERMINATE query_id` (upper-cased unless quoted, like every identifier) or `TERMINATE ALL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminateTarget {
    Query(String),
    All,
}

/// `EXPLAIN <statement>` or `EXPLAIN query_id`.
#[derive(Debug, Clone, PartialEq)]
pub enum ExplainTarget {
    Statement(Box<ParsedStatement>),
    /// Canonical identifier (upper-cased unless quoted).
    QueryId(String),
}
