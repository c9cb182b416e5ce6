//! Joins: which shapes are supported, how the result's key is chosen, and how the join
//! operator is planned.
//!
//! Supported: stream–stream (`WITHIN`, optional `GRACE PERIOD`; INNER, LEFT, RIGHT, FULL
//! OUTER), stream–table on the table's primary key (INNER, LEFT), table–table on both primary
//! keys (INNER, LEFT, RIGHT, FULL OUTER), foreign-key table–table (INNER, LEFT) and n-way joins
//! of these, left to right, with ksqlDB's errors for the shapes it refuses.
//!
//! The ON clause is one equality, as in ksqlDB, or (beyond ksqlDB, which refuses it) several
//! equalities joined by AND ([`on_pairs`]): rows meet when all hold, a primary-key join must
//! pair every key column of the table, and the result has one key column per equality
//! ([`choose_keys`]). Foreign-key joins take one equality.
//!
//! Naming (ksqlDB's): in a join, `SELECT *` and unaliased qualified columns (`o.id`) are
//! named `<source or alias>_<column>` (`O_ID`); unqualified columns keep their name.
//!
//! The result is keyed by the join key ([`key_column`]): the projected column that is the
//! left side's join column (else the right side's); for FULL OUTER joins, and joins whose two
//! sides are expressions, a synthetic column `ROWKEY` the projection must select (and `*`
//! includes). The key column's value is the join key of the row even where its own side is
//! null-padded (a RIGHT join's left column, say).

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::logical_expr::{Expr as LExpr, JoinType as DfJoinType, LogicalPlan, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CaseWhen, Expr, Ident, JoinConstraint, JoinOperator, Select, SelectItem,
};
use sluice_catalog::{Catalog, SourceDef, SourceKind, WINDOWEND, WINDOWSTART};
use sluice_dataflow::ops::{join_output_schema, JoinKind, JoinSpec, JoinType, JoinWindow};
use sluice_parser::ast::WithinSpec;

use crate::rewrite::FromSource;
use crate::PlanError;

/// A planned join of the query's source (the left side) with another source.
#[derive(Debug, Clone)]
pub struct PlannedJoin {
    /// The source the left side of the ON clause refers to (the query's source for the
    /// first join).
    pub left_source: String,
    /// The source joined to the query's source.
    pub right: Arc<SourceDef>,
    pub spec: JoinSpec,
    /// How the left side's ON expression relates to its source's key (for partitioning).
    pub left_side: SideKey,
    /// The same for the right side.
    pub right_side: SideKey,
}

/// One side of a single-equality join, as far as partitioning goes: rows that meet must be in
/// the same partition, so each side must be partitioned by its ON expression.
#[derive(Debug, Clone)]
pub struct SideKey {
    /// The source the side's ON expression reads (for the left side of a later join, the
    /// joined source that column belongs to).
    pub source: String,
    /// The ON expression is this plain column of that source (`None`: an expression, or a
    /// join on several equalities).
    pub column: Option<String>,
    /// ... and that column is the source's only key column: its topic is partitioned by it.
    pub on_key: bool,
    /// The source is a stream (a stream may be repartitioned; a table never is).
    pub stream: bool,
    /// The source's key format (the bytes its partitioner hashed).
    pub key_format: sluice_formats::Format,
    /// The source is windowed (its keys carry window bounds).
    pub windowed: bool,
    /// A foreign-key join (never partitioned: the right table is read whole).
    pub foreign_key: bool,
}

fn kind_name(d: &SourceDef) -> &'static str {
    match d.kind {
        SourceKind::Stream => "stream",
        SourceKind::Table => "table",
    }
}

/// The join's type as written.
fn join_type(op: &JoinOperator) -> Result<(JoinType, &JoinConstraint), PlanError> {
    Ok(match op {
        JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinType::Inner, c),
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinType::Left, c),
        JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (JoinType::Right, c),
        JoinOperator::FullOuter(c) => (JoinType::Full, c),
        other => {
            return Err(PlanError::Unsupported(format!(
                "unsupported join: {other:?}"
            )))
        }
    })
}

/// Checks that the FROM clause is a join Sluice runs (see the module docs), with ksqlDB's
/// errors for the joins it refuses. Joins are taken left to right: join `k` joins the result of
/// the ones before it with source `k + 1`.
pub fn check(
    select: &Select,
    sources: &[FromSource],
    within: &[Option<WithinSpec>],
    catalog: &Catalog,
) -> Result<(), PlanError> {
    if select.from.len() != 1 || select.from[0].joins.len() + 1 != sources.len() {
        return Err(PlanError::Unsupported(
            "a FROM clause with a comma-separated list of sources is not supported".into(),
        ));
    }
    let defs: Vec<&SourceDef> = sources
        .iter()
        .map(|s| catalog.require(&s.source).map(|d| d.as_ref()))
        .collect::<Result<_, _>>()?;
    for (i, a) in defs.iter().enumerate() {
        if defs[..i].iter().any(|b| b.name == a.name) {
            return Err(PlanError::Invalid(format!(
                "Can not join '{0}' to '{0}': self joins are not yet supported.",
                a.name
            )));
        }
    }
    let kafka: Vec<&str> = defs
        .iter()
        .filter(|d| d.value_format.kind == sluice_formats::FormatKind::Kafka)
        .map(|d| d.name.as_str())
        .collect();
    if !kafka.is_empty() {
        return Err(PlanError::Invalid(format!(
            "Source(s) {} are using the 'KAFKA' value format. This format does not yet support JOIN.",
            kafka.join(", ")
        )));
    }
    // The kind of the result so far: a table only while every source is a table.
    let mut left_kind = defs[0].kind;
    for (k, join) in select.from[0].joins.iter().enumerate() {
        let right = defs[k + 1];
        let (ty, constraint) = join_type(&join.join_operator)?;
        let on = match constraint {
            JoinConstraint::On(e) => e,
            _ => return Err(PlanError::Invalid("a join needs an ON clause".into())),
        };
        let pairs = on_pairs(on, sources, catalog, k + 1)?;
        let (l, r, l_source) = &pairs[0];
        let left = defs[*l_source];
        check_windows(left, right, &pairs, sources, catalog, k + 1)?;
        if k > 0
            && pairs.len() == 1
            && left_kind == SourceKind::Table
            && right.kind == SourceKind::Table
        {
            let lcol = plain_column(l, sources, catalog).map(|c| c.1);
            let rcol = plain_column(r, sources, catalog).map(|c| c.1);
            if is_foreign_key(left, right, lcol.as_deref(), rcol.as_deref()) {
                return Err(PlanError::Invalid(format!(
                    "Invalid join condition: foreign-key table-table joins are not supported as part of n-way joins. Got {} = {}.",
                    crate::ksql_text::expr_text_in(l, &left.name),
                    crate::ksql_text::expr_text_in(r, &right.name)
                )));
            }
        }
        let within = within.get(k).cloned().flatten();
        match (left_kind, right.kind) {
            (SourceKind::Stream, SourceKind::Stream) => {
                if within.is_none() {
                    return Err(PlanError::Invalid(
                        "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn about how to specify a WITHIN clause with a stream-stream join, please visit: https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select".into(),
                    ));
                }
            }
            (SourceKind::Stream, SourceKind::Table) => {
                if within.is_some() {
                    return Err(PlanError::Invalid(
                        "A window definition was provided for a Stream-Table join. These joins are not windowed. Please drop the window definition (ie. the WITHIN clause) and try to execute your join again.".into(),
                    ));
                }
                match ty {
                    JoinType::Right => return Err(PlanError::Invalid(
                        "Invalid join type: RIGHT OUTER JOIN is not supported for stream-table joins.".into(),
                    )),
                    JoinType::Full => return Err(PlanError::Invalid(
                        "Invalid join type: full-outer join not supported for Stream-Table join. Got STREAM [FULL] OUTER JOIN TABLE.".into(),
                    )),
                    _ => {}
                }
            }
            (SourceKind::Table, SourceKind::Table) => {
                if within.is_some() {
                    return Err(PlanError::Invalid(
                        "A window definition was provided for a Table-Table join. These joins are not windowed. Please drop the window definition (i.e. the WITHIN clause) and try to execute your Table-Table join again.".into(),
                    ));
                }
            }
            (SourceKind::Table, SourceKind::Stream) => {
                return Err(PlanError::Invalid(format!(
                    "Invalid join order: table-stream joins are not supported; only stream-table joins. Got {} {} JOIN {}.",
                    left.name,
                    ty.sql(),
                    right.name
                )));
            }
        }
        if right.kind == SourceKind::Stream {
            left_kind = SourceKind::Stream;
        }
    }
    Ok(())
}

/// ksqlDB's rules for windowed sources: both or neither windowed, session with session only,
/// and joined on their key with the same windows (they are never repartitioned). `pairs`: the
/// ON clause's equalities (see [`on_pairs`]); with several, together they must pair every key
/// column of one side with the same key column of the other.
fn check_windows(
    left: &SourceDef,
    right: &SourceDef,
    pairs: &[(Expr, Expr, usize)],
    sources: &[FromSource],
    catalog: &Catalog,
    r_source: usize,
) -> Result<(), PlanError> {
    let describe = |d: &SourceDef| match &d.window {
        Some(w) => format!("`{}` is {} windowed", d.name, w.kind.to_uppercase()),
        None => format!("`{}` is not windowed", d.name),
    };
    match (&left.window, &right.window) {
        (None, None) => Ok(()),
        (Some(_), None) | (None, Some(_)) => Err(PlanError::Invalid(format!(
            "Can not join windowed source to non-windowed source.\n{}\n{}",
            describe(left),
            describe(right)
        ))),
        (Some(a), Some(b)) => {
            if a.is_session() != b.is_session() {
                return Err(PlanError::Invalid(format!(
                    "Incompatible windowed sources.\nLeft source: {}\nRight source: {}\nSession windowed sources can only be joined to other session windowed sources, and may still not result in expected behaviour as session bounds must be an exact match for the join to work\nHopping and tumbling windowed sources can only be joined to other hopping and tumbling windowed sources",
                    a.kind.to_uppercase(),
                    b.kind.to_uppercase()
                )));
            }
            // Each key column of the left source paired with the same-named key of the right.
            let keys = |d: &SourceDef| -> Vec<String> {
                let mut k: Vec<String> = d.key_columns().map(|c| c.name.clone()).collect();
                k.sort();
                k
            };
            // (left column, right column) of each equality, when both are plain columns.
            let columns: Option<(Vec<String>, Vec<String>)> = pairs
                .iter()
                .map(|(l, r, l_source)| {
                    let lc = plain_column(l, sources, catalog).filter(|(s, _)| s == l_source)?;
                    let rc = plain_column(r, sources, catalog).filter(|(s, _)| *s == r_source)?;
                    Some((lc.1, rc.1))
                })
                .collect::<Option<Vec<_>>>()
                .map(|cols| cols.into_iter().unzip());
            let on_keys = columns.is_some_and(|(mut lcols, mut rcols)| {
                lcols.sort();
                rcols.sort();
                lcols == keys(left) && rcols == keys(right)
            });
            // Windows of another kind or size make another key format, which ksqlDB reaches
            // only by a repartition: refused, unless the key format uses the schema registry
            // (ksqlDB then repartitions both sides anyway; time windows meet on their start).
            let same_windows = a.kind.eq_ignore_ascii_case(&b.kind) && a.size_ms == b.size_ms;
            let forced = left.key_format.kind.uses_schema_registry();
            if !(same_windows || forced) || !on_keys {
                return Err(PlanError::Invalid(
                    "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.".into(),
                ));
            }
            Ok(())
        }
    }
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => strip(inner),
        other => other,
    }
}

/// Which FROM source a qualifier (alias or name) names.
fn source_named(sources: &[FromSource], q: &str) -> Option<usize> {
    sources
        .iter()
        .position(|s| s.alias.as_deref() == Some(q) || (s.alias.is_none() && s.source == q))
        .or_else(|| sources.iter().position(|s| s.source == q))
}

fn has_column(def: &SourceDef, name: &str) -> bool {
    def.column(name).is_some() || sluice_catalog::PSEUDO_COLUMNS.contains(&name)
}

/// The FROM sources that have a column named `name`.
fn owners(name: &str, sources: &[FromSource], catalog: &Catalog) -> Vec<usize> {
    (0..sources.len())
        .filter(|i| {
            catalog
                .require(&sources[*i].source)
                .is_ok_and(|d| has_column(d, name))
        })
        .collect()
}

/// `e` with every access that starts with a source's qualifier and a column (`tt.id[1]`,
/// parsed as the field access `tt` → `.id` → `[1]`) rooted at the qualified column
/// (`tt.id` → `[1]`), so the column is not mistaken for an unqualified one.
fn qualified_roots(e: &Expr, sources: &[FromSource]) -> Expr {
    use datafusion::sql::sqlparser::ast::AccessExpr;
    let mut e = e.clone();
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(&mut e, |x| {
        if let Expr::CompoundFieldAccess { root, access_chain } = x {
            if let (Expr::Identifier(q), Some(AccessExpr::Dot(Expr::Identifier(c)))) =
                (root.as_ref(), access_chain.first())
            {
                if source_named(sources, &q.value).is_some() {
                    **root = Expr::CompoundIdentifier(vec![q.clone(), c.clone()]);
                    access_chain.remove(0);
                }
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    e
}

/// Resolves the column references of `e`: the sources they belong to.
fn sources_of(
    e: &Expr,
    sources: &[FromSource],
    catalog: &Catalog,
) -> Result<Vec<usize>, PlanError> {
    let e = &qualified_roots(e, sources);
    // Unknown qualifiers are reported before ambiguous names.
    let mut bad_qualifier = None;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(e, |x| {
        if let Expr::CompoundIdentifier(parts) = x {
            if parts.len() >= 2 && source_named(sources, &parts[0].value).is_none() {
                bad_qualifier = Some(parts[0].value.clone());
                return std::ops::ControlFlow::Break(());
            }
        }
        std::ops::ControlFlow::Continue(())
    });
    if let Some(q) = bad_qualifier {
        return Err(PlanError::Invalid(format!(
            "Failed to prepare statement: '{q}' is not a valid stream/table name or alias."
        )));
    }
    let mut found: Vec<usize> = Vec::new();
    let mut error = None;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(e, |x| {
        let r = match x {
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let q = &parts[0].value;
                match source_named(sources, q) {
                    None => Err(PlanError::Invalid(format!(
                        "'{q}' is not a valid stream/table name or alias."
                    ))),
                    Some(i) => match catalog.require(&sources[i].source) {
                        Ok(def) if has_column(def, &parts[1].value) => Ok(Some(i)),
                        Ok(_) => Err(PlanError::UnknownColumn(format!(
                            "JOIN ON column '{q}.{}' cannot be resolved.",
                            parts[1].value
                        ))),
                        Err(e) => Err(e.into()),
                    },
                }
            }
            Expr::Identifier(id) => {
                let owners = owners(&id.value, sources, catalog);
                match owners.as_slice() {
                    [one] => Ok(Some(*one)),
                    [] => Ok(None),
                    many => {
                        let names: Vec<String> = many
                            .iter()
                            .map(|i| {
                                let s = &sources[*i];
                                format!("{}.{}", s.alias.as_deref().unwrap_or(&s.source), id.value)
                            })
                            .collect();
                        Err(PlanError::Invalid(format!(
                            "Column '{}' is ambiguous. Could be {}.",
                            id.value,
                            names.join(" or ")
                        )))
                    }
                }
            }
            _ => Ok(None),
        };
        match r {
            Ok(Some(i)) => {
                if !found.contains(&i) {
                    found.push(i);
                }
                std::ops::ControlFlow::Continue(())
            }
            Ok(None) => std::ops::ControlFlow::Continue(()),
            Err(e) => {
                error = Some(e);
                std::ops::ControlFlow::Break(())
            }
        }
    });
    match error {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// The equalities of the ON clause of the join with source `k`: one, or several joined by AND
/// (beyond ksqlDB, which refuses more than one), each as [`on_sides`] gives it.
fn on_pairs(
    on: &Expr,
    sources: &[FromSource],
    catalog: &Catalog,
    k: usize,
) -> Result<Vec<(Expr, Expr, usize)>, PlanError> {
    fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
        match strip(e) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                conjuncts(left, out);
                conjuncts(right, out);
            }
            other => out.push(other),
        }
    }
    let mut parts = Vec::new();
    conjuncts(on, &mut parts);
    if parts.len() == 1 {
        return Ok(vec![on_sides(on, sources, catalog, k)?]);
    }
    // Every name in the whole condition resolves (ksqlDB's errors come first).
    sources_of(on, sources, catalog)?;
    let pairs = parts
        .into_iter()
        .map(|p| {
            if matches!(
                p,
                Expr::BinaryOp {
                    op: BinaryOperator::Eq,
                    ..
                }
            ) {
                on_sides(p, sources, catalog, k)
            } else {
                Err(PlanError::Unsupported(format!(
                    "join condition {} is not an equality: a join's ON clause must be one equality, or several joined by AND",
                    crate::ksql_text::expr_text_in(p, &sources[0].source)
                )))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(pairs)
}

/// The two sides of the ON equality of the join with source `k`, as (expression over the
/// sources before it, expression over source `k`, the source the first refers to), with
/// ksqlDB's errors for sides that refer to no source, or to more than one.
fn on_sides(
    on: &Expr,
    sources: &[FromSource],
    catalog: &Catalog,
    k: usize,
) -> Result<(Expr, Expr, usize), PlanError> {
    let on = strip(on).clone();
    sources_of(&on, sources, catalog)?;
    let (a, b) = match &on {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => (left.as_ref().clone(), right.as_ref().clone()),
        _ => {
            return Err(PlanError::Unsupported(
                "join conditions other than one equality are not supported yet".into(),
            ))
        }
    };
    let left_name = &sources[0].source;
    let invalid = |e: &Expr| {
        PlanError::Invalid(format!(
            "Invalid comparison expression '{}' in join '{}'. Each side of the join comparision must contain references from exactly one source.",
            crate::ksql_text::expr_text_in(e, left_name),
            crate::ksql_text::expr_text_in(&on, left_name)
        ))
    };
    let side = |e: &Expr| -> Result<usize, PlanError> {
        match sources_of(e, sources, catalog)?.as_slice() {
            [one] => Ok(*one),
            _ => Err(invalid(e)),
        }
    };
    let (sa, sb) = (side(&a)?, side(&b)?);
    if sb == k && sa < k {
        Ok((a, b, sa))
    } else if sa == k && sb < k {
        Ok((b, a, sb))
    } else {
        Err(invalid(&b))
    }
}

/// A projection item's expression and output name.
fn item_expr(item: &SelectItem) -> Option<(Expr, String)> {
    match item {
        SelectItem::ExprWithAlias { expr, alias } => Some((expr.clone(), alias.value.clone())),
        SelectItem::UnnamedExpr(e) => crate::rewrite::implicit_name(e).map(|n| (e.clone(), n)),
        _ => None,
    }
}

/// The projection items whose expression satisfies `matches`: (index, output name).
fn items_where(select: &Select, matches: impl Fn(&Expr) -> bool) -> Vec<(usize, String)> {
    select
        .projection
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let (e, out) = item_expr(item)?;
            matches(&e).then_some((i, out))
        })
        .collect()
}

/// A plain column reference: (source index, column name).
fn plain_column(e: &Expr, sources: &[FromSource], catalog: &Catalog) -> Option<(usize, String)> {
    match strip(e) {
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            let i = source_named(sources, &parts[0].value)?;
            Some((i, parts[1].value.clone()))
        }
        Expr::Identifier(id) => match owners(&id.value, sources, catalog).as_slice() {
            [one] => Some((*one, id.value.clone())),
            _ => None,
        },
        _ => None,
    }
}

/// The join's key column in the projection, once [`choose_key`] has picked and rewritten it.
#[derive(Debug, Clone)]
pub struct JoinKey {
    /// Indexes of the projection items (and output columns) that are the result's key, in key
    /// order.
    pub items: Vec<usize>,
    /// Why there is none (or it is ambiguous): the error a persistent query gets, with
    /// [`SINK_NAME`] standing for the sink's name (push queries need no key).
    pub error: Option<String>,
}

/// Placeholder of the sink's name in [`JoinKey::error`].
pub const SINK_NAME: &str = "\u{0}SINK\u{0}";

impl JoinKey {
    fn found(item: usize) -> Self {
        JoinKey {
            items: vec![item],
            error: None,
        }
    }

    fn missing(e: PlanError) -> Self {
        JoinKey {
            items: Vec::new(),
            error: Some(match e {
                PlanError::Invalid(m) => m,
                other => other.to_string(),
            }),
        }
    }

    /// The key columns' indexes, or the error for a sink named `sink_name`.
    pub fn for_sink(&self, sink_name: &str) -> Result<&[usize], PlanError> {
        match &self.error {
            None => Ok(&self.items),
            Some(e) => Err(PlanError::Invalid(e.replace(SINK_NAME, sink_name))),
        }
    }
}

/// Picks the projection item that is the join result's key (see the module docs), with
/// ksqlDB's errors when it is missing or selected twice, and rewrites it to compute the join
/// key. Runs on the projection once KSQL's projection rules have expanded it; `star` says
/// whether it had an unqualified `*` (which includes a synthetic key column).
pub fn choose_key(
    select: &mut Select,
    sources: &[FromSource],
    catalog: &Catalog,
    star: bool,
) -> Result<JoinKey, PlanError> {
    let sink_name = SINK_NAME;
    // The result is keyed by the last join's key.
    let k = select.from[0].joins.len();
    let join = &select.from[0].joins[k - 1];
    let (ty, constraint) = join_type(&join.join_operator)?;
    let JoinConstraint::On(on) = constraint else {
        return Err(PlanError::Invalid("a join needs an ON clause".into()));
    };
    let on = strip(on).clone();
    let pairs = on_pairs(&on, sources, catalog, k)?;
    if pairs.len() > 1 {
        return choose_keys(select, sources, catalog, ty, &pairs, k);
    }
    let (l, r, l_source) = pairs.into_iter().next().expect("one pair");
    let qualifier = |i: usize| {
        sources[i]
            .alias
            .clone()
            .unwrap_or_else(|| sources[i].source.clone())
    };
    let lcol = plain_column(&l, sources, catalog).filter(|(i, _)| *i == l_source);
    let rcol = plain_column(&r, sources, catalog).filter(|(i, _)| *i == k);
    let defs = (
        catalog.require(&sources[l_source].source)?,
        catalog.require(&sources[k].source)?,
    );
    if k == 1
        && is_foreign_key(
            defs.0,
            defs.1,
            lcol.as_ref().map(|c| c.1.as_str()),
            rcol.as_ref().map(|c| c.1.as_str()),
        )
    {
        // The result is keyed by the left table's primary key: every column of it.
        let mut items = Vec::new();
        let mut missing = Vec::new();
        for pk in defs.0.key_columns() {
            let found = items_where(select, |e| {
                plain_column(e, sources, catalog) == Some((0, pk.name.clone()))
            });
            match found.as_slice() {
                [] => missing.push(format!("`{}`", pk.name)),
                [(i, _)] => items.push(*i),
                many => {
                    return Ok(JoinKey::missing(duplicate_key(
                        &format!("{}_{}", qualifier(0), pk.name),
                        many,
                    )))
                }
            }
        }
        if !missing.is_empty() {
            let (what, col) = if missing.len() == 1 {
                ("column", "column")
            } else {
                ("columns", "columns")
            };
            return Ok(JoinKey::missing(PlanError::Invalid(format!(
                "Primary key {what} missing in projection. For foreign-key table-table joins, the projection must include all primary key columns from the left input table (`{}`). Missing {col}: {}.",
                defs.0.name,
                missing.join(", ")
            ))));
        }
        return Ok(JoinKey { items, error: None });
    }
    let synthetic = ty == JoinType::Full || (lcol.is_none() && rcol.is_none());
    if synthetic {
        // ksqlDB names it ROWKEY, or ROWKEY_n when a source has a column of that name.
        let taken = |name: &str| {
            sources.iter().any(|s| {
                catalog
                    .require(&s.source)
                    .is_ok_and(|d| d.column(name).is_some())
            })
        };
        let mut name = "ROWKEY".to_string();
        let mut n = 0;
        while taken(&name) {
            n += 1;
            name = format!("ROWKEY_{n}");
        }
        if star {
            select.projection.insert(
                0,
                SelectItem::UnnamedExpr(Expr::Identifier(Ident::new(&name))),
            );
        }
        let found = items_where(
            select,
            |e| matches!(strip(e), Expr::Identifier(id) if id.value == name),
        );
        return Ok(match found.as_slice() {
            [] => JoinKey::missing(PlanError::Invalid(format!(
                "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\nThe query used to build `{sink_name}` must include the join expression {name} in its projection (eg, SELECT {name}...).\n{name} was added as a synthetic key column because the join criteria did not match any source column. This expression must be included in the projection and may be aliased."
            ))),
            [(i, out)] => {
                select.projection[*i] = SelectItem::ExprWithAlias {
                    expr: coalesce(&l, &r),
                    alias: Ident::with_quote('"', out),
                };
                JoinKey::found(*i)
            }
            many => JoinKey::missing(duplicate_key(&name, many)),
        });
    }
    // The left join column if selected, else the right one.
    Ok(
        match pick_key_column(select, sources, catalog, ty, (&l, &r, l_source), k) {
            KeyPick::Found(i) => JoinKey::found(i),
            KeyPick::Missing(missing) => missing_key(&missing),
            KeyPick::Failed(key) => key,
        },
    )
}

/// What [`pick_key_column`] found.
enum KeyPick {
    /// The projection item that is the key.
    Found(usize),
    /// Neither side's column is projected: the columns (`Q.COL`) that could be.
    Missing(Vec<String>),
    /// The key column is projected more than once: the error.
    Failed(JoinKey),
}

/// The projection item that keys the result for the equality `l = r` of the join with source
/// `k` (`l` over source `l_source`): its left column if projected, else its right column.
/// Where that column's side may be null-padded, the item is rewritten to take the other
/// side's value.
fn pick_key_column(
    select: &mut Select,
    sources: &[FromSource],
    catalog: &Catalog,
    ty: JoinType,
    (l, r, l_source): (&Expr, &Expr, usize),
    k: usize,
) -> KeyPick {
    let qualifier = |i: usize| {
        sources[i]
            .alias
            .clone()
            .unwrap_or_else(|| sources[i].source.clone())
    };
    let mut missing = Vec::new();
    for (own, other, side) in [(l, r, l_source), (r, l, k)] {
        let Some((_, col)) = plain_column(own, sources, catalog).filter(|(i, _)| *i == side) else {
            continue;
        };
        let found = items_where(select, |e| {
            plain_column(e, sources, catalog) == Some((side, col.clone()))
        });
        match found.as_slice() {
            [] => missing.push(format!("{}.{}", qualifier(side), col)),
            [(i, out)] => {
                let padded = !matches!(
                    (ty, side == k),
                    (JoinType::Inner, _) | (JoinType::Left, false) | (JoinType::Right, true)
                );
                if padded {
                    select.projection[*i] = SelectItem::ExprWithAlias {
                        expr: coalesce(own, other),
                        alias: Ident::with_quote('"', out),
                    };
                }
                return KeyPick::Found(*i);
            }
            many => {
                return KeyPick::Failed(JoinKey::missing(duplicate_key(
                    &format!("{}_{}", qualifier(side), col),
                    many,
                )))
            }
        }
    }
    KeyPick::Missing(missing)
}

/// ksqlDB's error for a join key missing from the projection; `missing`: the columns that
/// could be it.
fn missing_key(missing: &[String]) -> JoinKey {
    let (what, list) = match missing {
        [one] => ("expression", one.clone()),
        _ => ("expressions", missing.join(" or ")),
    };
    JoinKey::missing(PlanError::Invalid(format!(
        "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\nThe query used to build `{SINK_NAME}` must include the join {what} {list} in its projection (eg, SELECT {}...).",
        missing.first().cloned().unwrap_or_default()
    )))
}

/// COALESCE(first, second), as DataFusion's physical planner takes it (a CASE).
fn coalesce(first: &Expr, second: &Expr) -> Expr {
    Expr::Case {
        case_token: AttachedToken::empty(),
        end_token: AttachedToken::empty(),
        operand: None,
        conditions: vec![CaseWhen {
            condition: Expr::IsNotNull(Box::new(first.clone())),
            result: first.clone(),
        }],
        else_result: Some(Box::new(second.clone())),
    }
}

/// [`choose_key`] for an ON clause of several equalities (Sluice's extension): the result has
/// one key column per equality, in ON order (in the table's key order when the right side is
/// a table joined on its primary key): the equality's left column if it is projected,
/// else its right column, taking the other side's value where its own side may be
/// null-padded. There is no synthetic key: an equality whose sides are not projected columns
/// is an error naming it.
fn choose_keys(
    select: &mut Select,
    sources: &[FromSource],
    catalog: &Catalog,
    ty: JoinType,
    pairs: &[(Expr, Expr, usize)],
    k: usize,
) -> Result<JoinKey, PlanError> {
    // Joined with a table on its primary key: the key columns come in the table's key order
    // (so the result is keyed as the table is), else in ON order.
    let mut pairs: Vec<&(Expr, Expr, usize)> = pairs.iter().collect();
    if let Ok(right) = catalog.require(&sources[k].source) {
        if right.kind == SourceKind::Table {
            let keys: Vec<&str> = right.key_columns().map(|c| c.name.as_str()).collect();
            pairs.sort_by_key(|(_, r, _)| {
                plain_column(r, sources, catalog)
                    .and_then(|(_, c)| keys.iter().position(|k| *k == c))
                    .unwrap_or(usize::MAX)
            });
        }
    }
    let mut items = Vec::new();
    for (l, r, l_source) in pairs {
        match pick_key_column(select, sources, catalog, ty, (l, r, *l_source), k) {
            KeyPick::Found(i) => {
                if !items.contains(&i) {
                    items.push(i);
                }
            }
            KeyPick::Missing(missing) if missing.is_empty() => {
                return Ok(JoinKey::missing(PlanError::Invalid(format!(
                    "Key missing from projection (ie, SELECT). The query used to build `{SINK_NAME}` joins on {} = {}, which is not a column on either side: a join on several conditions is keyed by one column of each equality, so each must compare columns.",
                    crate::ksql_text::expr_text_in(l, &sources[0].source),
                    crate::ksql_text::expr_text_in(r, &sources[0].source)
                ))))
            }
            KeyPick::Missing(missing) => return Ok(missing_key(&missing)),
            KeyPick::Failed(key) => return Ok(key),
        }
    }
    Ok(JoinKey { items, error: None })
}

fn duplicate_key(name: &str, found: &[(usize, String)]) -> PlanError {
    let mut names: Vec<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
    names.sort();
    let list = match names.as_slice() {
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => String::new(),
    };
    PlanError::Invalid(format!(
        "The projection contains a key column (`{name}`) more than once, aliased as: {list}."
    ))
}

/// Whether a join of two tables is a foreign-key join: on the right table's (one) primary key
/// column and, on the left, anything but the left table's (one) primary key column.
/// `left_col` / `right_col`: the columns each side of the ON equality is, when plain columns.
pub(crate) fn is_foreign_key(
    left: &SourceDef,
    right: &SourceDef,
    left_col: Option<&str>,
    right_col: Option<&str>,
) -> bool {
    if left.kind != SourceKind::Table || right.kind != SourceKind::Table {
        return false;
    }
    let single = |d: &SourceDef| -> Option<String> {
        let keys: Vec<&str> = d.key_columns().map(|c| c.name.as_str()).collect();
        match keys.as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        }
    };
    let right_pk = single(right).is_some_and(|k| Some(k.as_str()) == right_col);
    let left_pk = single(left).is_some_and(|k| Some(k.as_str()) == left_col);
    right_pk && !left_pk
}

/// `schema` without its WINDOWSTART and WINDOWEND columns.
pub(crate) fn without_window_bounds(
    schema: &datafusion::common::DFSchema,
) -> Result<datafusion::common::DFSchema, PlanError> {
    let fields = schema
        .iter()
        .filter(|(_, f)| f.name() != WINDOWSTART && f.name() != WINDOWEND)
        .map(|(q, f)| (q.cloned(), Arc::clone(f)))
        .collect();
    Ok(datafusion::common::DFSchema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    )?)
}

/// The source scanned under `alias` somewhere in `plan`.
fn alias_source(plan: &LogicalPlan, alias: &str) -> Option<String> {
    match plan {
        LogicalPlan::TableScan(s) => (s.table_name.table() == alias).then(|| alias.to_string()),
        LogicalPlan::SubqueryAlias(a) if a.alias.table() == alias => scanned(&a.input),
        other => other.inputs().iter().find_map(|p| alias_source(p, alias)),
    }
}

/// The source a side of a join scans (through aliases).
fn scanned(plan: &LogicalPlan) -> Option<String> {
    match plan {
        LogicalPlan::TableScan(s) => Some(s.table_name.table().to_string()),
        LogicalPlan::SubqueryAlias(a) => scanned(&a.input),
        _ => None,
    }
}

/// The join's equalities, each as (expression over the left side, expression over the right),
/// and their text for errors (`A.X = B.X AND ...`). The SQL planner leaves `ON a = b` as the
/// join's filter (only the optimizer, which Sluice does not run on continuous queries, moves
/// it to `on`); several equalities joined by AND are split.
fn equalities(
    join: &datafusion::logical_expr::Join,
) -> Result<(Vec<(LExpr, LExpr)>, String), PlanError> {
    let unsupported = || {
        PlanError::Unsupported(
            "join conditions other than equalities joined by AND are not supported".into(),
        )
    };
    let mut raw: Vec<(LExpr, LExpr)> = join.on.clone();
    if let Some(f) = &join.filter {
        for part in datafusion::logical_expr::utils::split_conjunction(f) {
            match crate::expr_planner::comparison(part) {
                Some(e) if e.op == Operator::Eq => {
                    raw.push((e.left.as_ref().clone(), e.right.as_ref().clone()))
                }
                _ => return Err(unsupported()),
            }
        }
    }
    if raw.is_empty() {
        return Err(unsupported());
    }
    let on = |e: &LExpr, side: &LogicalPlan| {
        let refs = e.column_refs();
        !refs.is_empty() && refs.iter().all(|c| side.schema().has_column(c))
    };
    let mut pairs = Vec::with_capacity(raw.len());
    let mut texts = Vec::with_capacity(raw.len());
    for (a, b) in raw {
        texts.push(format!("{} = {}", ksql_name(&a), ksql_name(&b)));
        if on(&a, &join.left) && on(&b, &join.right) {
            pairs.push((a, b));
        } else if on(&b, &join.left) && on(&a, &join.right) {
            pairs.push((b, a));
        } else {
            return Err(PlanError::Invalid(format!(
                "Invalid join condition: {a} = {b}: each side must refer to one source."
            )));
        }
    }
    Ok((pairs, texts.join(" AND ")))
}

/// Whether the right-hand expressions of `pairs` are exactly the key columns of `d`, each once.
fn on_primary_key(d: &SourceDef, exprs: &[&LExpr]) -> bool {
    let keys: Vec<&str> = d.key_columns().map(|c| c.name.as_str()).collect();
    keys.len() == exprs.len()
        && keys
            .iter()
            .all(|k| exprs.iter().filter(|e| is_column(e, k)).count() == 1)
}

/// `T.ID` for a column expression, else DataFusion's text.
fn ksql_name(e: &LExpr) -> String {
    match e {
        LExpr::Column(c) => match &c.relation {
            Some(r) => format!("{}.{}", r.table(), c.name),
            None => c.name.clone(),
        },
        LExpr::Cast(c) => format!(
            "CAST({} AS {})",
            ksql_name(&c.expr),
            sluice_catalog::types::display_name(c.field.data_type())
        ),
        other => other.to_string(),
    }
}

/// Whether `e` is the plain column `key`.
fn is_column(e: &LExpr, key: &str) -> bool {
    matches!(e, LExpr::Column(c) if c.name == key)
}

/// Plans a DataFusion join node. `left_kind`: what its left input is (a source, or the result
/// of the joins before it: a table only when all their sources are tables).
pub fn plan(
    join: &datafusion::logical_expr::Join,
    catalog: &Catalog,
    within: Option<&WithinSpec>,
    left_kind: SourceKind,
    hide_window: bool,
    physical: &dyn Fn(
        &LExpr,
        &datafusion::common::DFSchema,
    ) -> Result<Arc<dyn PhysicalExpr>, PlanError>,
) -> Result<PlannedJoin, PlanError> {
    // The left rows as the join gets them: with `hide_window`, without the window bounds the
    // planner gave the leftmost source (a windowed aggregation assigns them after the joins).
    let left_df = if hide_window {
        Arc::new(without_window_bounds(join.left.schema())?)
    } else {
        Arc::clone(join.left.schema())
    };
    let join_type = match join.join_type {
        DfJoinType::Inner => JoinType::Inner,
        DfJoinType::Left => JoinType::Left,
        DfJoinType::Right => JoinType::Right,
        DfJoinType::Full => JoinType::Full,
        other => {
            return Err(PlanError::Unsupported(format!(
                "{other} joins are not supported yet"
            )))
        }
    };
    let (pairs, got) = equalities(join)?;
    let l = pairs[0].0.clone();
    let lefts: Vec<&LExpr> = pairs.iter().map(|p| &p.0).collect();
    let rights: Vec<&LExpr> = pairs.iter().map(|p| &p.1).collect();
    let Some(right_name) = scanned(&join.right) else {
        return Err(PlanError::Unsupported(
            "a join's right side must be a source".into(),
        ));
    };
    // The source the left join expression comes from (the left input itself, or for the
    // result of earlier joins, the source its column belongs to).
    let left_name = scanned(&join.left).or_else(|| match &l {
        LExpr::Column(c) => c
            .relation
            .as_ref()
            .and_then(|r| {
                join.left
                    .schema()
                    .qualified_field_with_name(Some(r), &c.name)
                    .ok()
            })
            .and_then(|_| c.relation.as_ref())
            .map(|r| r.table().to_string())
            .and_then(|alias| alias_source(&join.left, &alias)),
        _ => None,
    });
    let mut left = match &left_name {
        Some(n) => catalog.require(n)?.as_ref().clone(),
        None => catalog.require(&right_name)?.as_ref().clone(),
    };
    left.kind = left_kind;
    let right = catalog.require(&right_name)?.clone();
    let single_key = |d: &SourceDef| -> Option<String> {
        let keys: Vec<&str> = d.key_columns().map(|c| c.name.as_str()).collect();
        match keys.as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        }
    };
    let kind = match (left.kind, right.kind) {
        (SourceKind::Stream, SourceKind::Table) => {
            if !on_primary_key(&right, &rights) {
                return Err(PlanError::Invalid(format!(
                    "Invalid join condition: stream-table joins require to join on the table's primary key. Got {got}."
                )));
            }
            JoinKind::StreamTable
        }
        (SourceKind::Table, SourceKind::Table) => {
            if !on_primary_key(&right, &rights) {
                return Err(PlanError::Invalid(format!(
                    "Invalid join condition: table-table joins require to join on the primary key of the right input table. Got {got}."
                )));
            }
            if on_primary_key(&left, &lefts) {
                JoinKind::TableTable
            } else if pairs.len() > 1 || single_key(&right).is_none() {
                return Err(PlanError::Unsupported(format!(
                    "foreign-key table-table joins on several columns are not supported. Got {got}."
                )));
            } else {
                match join_type {
                    JoinType::Right => {
                        return Err(PlanError::Invalid(
                            "RIGHT OUTER JOIN on a foreign key is not supported".into(),
                        ))
                    }
                    JoinType::Full => {
                        return Err(PlanError::Invalid(
                            "FULL OUTER JOIN on a foreign key is not supported".into(),
                        ))
                    }
                    _ => {}
                }
                let schema = left_df.as_arrow();
                let left_pk = left
                    .key_columns()
                    .map(|c| schema.index_of(&c.name))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| PlanError::Invalid(e.to_string()))?;
                JoinKind::ForeignKey { left_pk }
            }
        }
        (SourceKind::Stream, SourceKind::Stream) => {
            let w = within.ok_or_else(|| {
                PlanError::Invalid(
                    "Stream-Stream joins must have a WITHIN clause specified.".into(),
                )
            })?;
            JoinKind::StreamStream(JoinWindow {
                before_ms: w.before.as_millis() as i64,
                after_ms: w.after.as_millis() as i64,
                grace_ms: w.grace.as_ref().map(|g| g.as_millis() as i64),
            })
        }
        _ => {
            return Err(PlanError::Unsupported(format!(
                "{}-{} joins are not supported",
                kind_name(&left),
                kind_name(&right)
            )))
        }
    };
    let left_schema: SchemaRef = Arc::new(left_df.as_arrow().clone());
    let right_schema: SchemaRef = Arc::new(join.right.schema().as_arrow().clone());
    let (mut left_keys, mut right_keys, mut key_types) = (Vec::new(), Vec::new(), Vec::new());
    for (l, r) in &pairs {
        let left_key = physical(l, &left_df)?;
        let right_key = physical(r, join.right.schema())?;
        let lt = left_key.data_type(&left_schema)?;
        let rt = right_key.data_type(&right_schema)?;
        if lt != rt {
            return Err(PlanError::Invalid(format!(
                "Invalid join condition: types don't match. Got {}{{{}}} = {}{{{}}}.",
                ksql_name(l),
                sluice_catalog::types::display_name(&lt),
                ksql_name(r),
                sluice_catalog::types::display_name(&rt)
            )));
        }
        left_keys.push(left_key);
        right_keys.push(right_key);
        key_types.push(lt);
    }
    let windowed = left.window.is_some() && right.window.is_some();
    let window_end_keyed = windowed && left.window.as_ref().is_some_and(|w| w.is_session());
    let side = |d: &SourceDef, exprs: &[&LExpr], stream: bool| {
        let column = match exprs {
            [LExpr::Column(c)] => Some(c.name.clone()),
            _ => None,
        };
        SideKey {
            source: d.name.clone(),
            // One equality on the only key column.
            on_key: exprs.len() == 1 && on_primary_key(d, exprs),
            column,
            stream,
            key_format: d.key_format.clone(),
            windowed: d.window.is_some(),
            foreign_key: matches!(kind, JoinKind::ForeignKey { .. }),
        }
    };
    let left_stream = catalog
        .require(&left.name)
        .map(|d| d.kind == SourceKind::Stream)
        .unwrap_or(false);
    let left_side = side(&left, &lefts, left_stream);
    let right_side = side(&right, &rights, right.kind == SourceKind::Stream);
    // A stream joined on a value column is re-keyed by it, and ksqlDB refuses a key that holds
    // a map there, naming the re-keyed column `<alias>_<column>` (left side first).
    for (s, exprs) in [(&left_side, &lefts), (&right_side, &rights)] {
        if let ([LExpr::Column(c)], true, false, Some(ty)) =
            (&exprs[..], s.stream, s.on_key, key_types.first())
        {
            let name = match &c.relation {
                Some(r) => format!("{}_{}", r.table(), c.name),
                None => c.name.clone(),
            };
            crate::sink::check_no_map_key(&name, ty)?;
        }
    }
    Ok(PlannedJoin {
        left_source: left.name.clone(),
        left_side,
        right_side,
        right,
        spec: JoinSpec {
            kind,
            join_type,
            left_keys,
            right_keys,
            key_types,
            windowed,
            window_end_keyed,
            output: join_output_schema(&left_schema, &right_schema),
            left_schema,
            right_schema,
        },
    })
}

/// A join input re-keyed through a repartition topic before the join, as ksqlDB re-keys a
/// stream that is not joined on its key (`-Join-left-repartition` / `-Join-right-repartition`).
#[derive(Debug, Clone)]
pub struct JoinRepartition {
    /// The input: 0 the query's source, `i` the `i`-th join's right side.
    pub input: usize,
    /// Its ON expression, over its decoded rows.
    pub key: Arc<dyn PhysicalExpr>,
    pub key_type: datafusion::arrow::datatypes::DataType,
    /// The step in the topic's name: `Join-left`, `Join-right`, `Join-right-<i>` for the
    /// right side of a later join.
    pub name: String,
}

/// A later join whose left ON expression is not what the rows so far are partitioned by: the
/// joins before it run as a stage of their own, whose rows are re-keyed by that expression
/// through a repartition topic (`<query>-Join-left-<k + 1>-repartition`), as ksqlDB re-keys
/// an intermediate join result.
#[derive(Debug, Clone)]
pub struct JoinStage {
    /// The join whose left input is re-keyed (the stage runs joins from here).
    pub at: usize,
    /// Its left ON expression, over its left input (the rows joined so far).
    pub key: Arc<dyn PhysicalExpr>,
    pub key_type: datafusion::arrow::datatypes::DataType,
    /// The step in the topic's name: `Join-left-<at + 1>`.
    pub name: String,
}

impl JoinPartitioning {
    /// The joins stage `s` runs (the stages are split at each [`JoinStage::at`]).
    pub fn stage_range(&self, s: usize, joins: usize) -> std::ops::Range<usize> {
        let start = match s {
            0 => 0,
            s => self.stages[s - 1].at,
        };
        let end = self.stages.get(s).map_or(joins, |st| st.at);
        start..end
    }
}

/// How a query over joins runs as tasks per partition: the inputs re-keyed first, and how
/// their rows are placed. Rows that meet must be in the same partition of every input, so a
/// re-keyed row goes to the partition Kafka's default partitioner gives its join key written
/// in `key_format` (the key format of the inputs read as they are: their topics were placed
/// that way), as a value of its join's key type.
#[derive(Debug, Clone)]
pub struct JoinPartitioning {
    pub repartitions: Vec<JoinRepartition>,
    /// Where the joined rows so far are re-keyed before a later join, in join order (see
    /// [`JoinStage`]); empty when every join meets the rows where they are.
    pub stages: Vec<JoinStage>,
    pub key_format: sluice_formats::Format,
}

/// The partitioning of `joins` (left to right), or `None` when they must run as one task over
/// all partitions: a foreign-key join (the right table is read whole), windowed sources, ON
/// clauses with several equalities or of different key types, a table not joined on its key,
/// tables with different key formats, a table's rows that a later join would need re-keyed,
/// or schema-registry key formats (whose keys carry their schema's id). A later join whose
/// left ON expression is not what the stream rows so far are partitioned by starts a new
/// stage (see [`JoinStage`]). A stream re-keyed
/// to meet a table reaches the join in time order (the re-keying task merges its input's
/// partitions by time), so it still meets the table row of its time.
pub fn partitioning(joins: &[PlannedJoin]) -> Option<JoinPartitioning> {
    use std::collections::HashMap;
    let first = joins.first()?;
    if joins.iter().any(|j| {
        j.spec.left_keys.len() != 1
            || j.left_side.foreign_key
            || j.left_side.windowed
            || j.right_side.windowed
    }) {
        return None;
    }
    // Every input with its side of the ON clause: 0 the first join's left, k + 1 join k's right.
    let mut inputs: Vec<(usize, &SideKey, &Arc<dyn PhysicalExpr>)> =
        vec![(0, &first.left_side, &first.spec.left_keys[0])];
    for (k, j) in joins.iter().enumerate() {
        inputs.push((k + 1, &j.right_side, &j.spec.right_keys[0]));
    }
    // The key format placing the rows: a table's (tables are never re-keyed; all tables must
    // agree), else the first input's joined on its key, else KAFKA where it can write the key.
    let tables: Vec<&SideKey> = inputs
        .iter()
        .map(|(_, side, _)| *side)
        .filter(|side| !side.stream)
        .collect();
    let key_format = match (
        tables.first(),
        inputs.iter().find(|(_, side, _)| side.on_key),
    ) {
        (Some(t), _) => {
            if tables.iter().any(|u| u.key_format != t.key_format) {
                return None;
            }
            t.key_format.clone()
        }
        (None, Some((_, side, _))) => side.key_format.clone(),
        (None, None) => {
            let kafka = sluice_formats::Format::new(sluice_formats::FormatKind::Kafka);
            let writes = |j: &PlannedJoin| {
                let field = Arc::new(datafusion::arrow::datatypes::Field::new(
                    "K",
                    j.spec.key_types[0].clone(),
                    true,
                ));
                kafka.validate(&[field], sluice_formats::Part::Key).is_ok()
            };
            if joins.iter().all(writes) {
                kafka
            } else {
                sluice_formats::Format::new(sluice_formats::FormatKind::Json)
            }
        }
    };
    // Schema-registry keys carry their schema's id: equal keys of two topics need not be the
    // same bytes, and a re-keyed row cannot be written like them without the registry.
    if key_format.kind.uses_schema_registry() {
        return None;
    }
    // An input is read as it is when it is joined on its key written in that format; a stream
    // is re-keyed otherwise (also on its key, when its key format differs, as ksqlDB does).
    // `by`: the column each source's rows are partitioned by once read.
    let mut by: HashMap<String, Option<String>> = HashMap::new();
    let mut repartitions = Vec::new();
    for (input, side, key) in inputs {
        if side.on_key && side.key_format == key_format {
            // read as it is
        } else if side.stream {
            repartitions.push(JoinRepartition {
                input,
                key: key.clone(),
                key_type: joins[input.saturating_sub(1)].spec.key_types[0].clone(),
                name: match input {
                    0 => "Join-left".to_string(),
                    1 => "Join-right".to_string(),
                    i => format!("Join-right-{i}"),
                },
            });
        } else {
            return None;
        }
        by.insert(side.source.clone(), side.column.clone());
    }
    // A later join's left side is the joins before it, partitioned by the column its rows
    // came by. When its ON column is another, the rows so far (a stream's, else the join
    // fails to partition: tables are never re-keyed) are re-keyed by it in a new stage, and
    // are partitioned by that column from then on.
    let mut stages = Vec::new();
    for (k, j) in joins.iter().enumerate().skip(1) {
        let left = &j.left_side;
        if left.column.is_none() || by.get(&left.source) != Some(&left.column) {
            if !first.left_side.stream {
                return None;
            }
            stages.push(JoinStage {
                at: k,
                key: j.spec.left_keys[0].clone(),
                key_type: j.spec.key_types[0].clone(),
                name: format!("Join-left-{}", k + 1),
            });
            by.retain(|source, _| joins[k..].iter().any(|l| l.right_side.source == *source));
            by.insert(left.source.clone(), left.column.clone());
        }
    }
    // The joins of a stage meet rows placed by one key: of one type.
    let partitioning = JoinPartitioning {
        repartitions,
        stages,
        key_format,
    };
    for s in 0..=partitioning.stages.len() {
        let stage = &joins[partitioning.stage_range(s, joins.len())];
        if stage
            .iter()
            .any(|j| j.spec.key_types[0] != stage[0].spec.key_types[0])
        {
            return None;
        }
    }
    Some(partitioning)
}
