//! Which output columns a persistent query writes to the record key, and which to the value.

use datafusion::arrow::datatypes::{Field, Fields};

use crate::{PlanError, QueryPlan};

/// The split of a query's output columns between record key and record value.
#[derive(Debug, Clone)]
pub struct SinkLayout {
    pub key_fields: Fields,
    pub value_fields: Fields,
}

/// Work out the sink layout of `plan` writing into `sink_name`, with ksqlDB's rules: every key
/// column of the source must be selected exactly once (it may be renamed), and at least one
/// value column must remain.
pub fn plan_sink(plan: &QueryPlan, sink_name: &str) -> Result<SinkLayout, PlanError> {
    if let Some(g) = &plan.grouping {
        return plan_grouped_sink(plan, g, sink_name);
    }
    let source_keys: Vec<&str> = plan.source.key_columns().map(|c| c.name.as_str()).collect();
    let mut key_fields: Vec<Field> = Vec::new();
    let mut value_fields: Vec<Field> = Vec::new();
    let mut missing = Vec::new();
    for key in &source_keys {
        let aliases: Vec<&Field> = plan
            .output
            .fields()
            .iter()
            .zip(&plan.origins)
            .filter(|(_, o)| o.as_deref() == Some(*key))
            .map(|(f, _)| f.as_ref())
            .collect();
        match aliases.len() {
            0 => missing.push(*key),
            1 => key_fields.push(aliases[0].clone()),
            _ => {
                let names: Vec<&str> = aliases.iter().map(|f| f.name().as_str()).collect();
                return Err(PlanError::Invalid(format!(
                    "The projection contains a key column (`{key}`) more than once, aliased as: {}.",
                    join_and(&names)
                )));
            }
        }
    }
    if !missing.is_empty() {
        return Err(PlanError::Invalid(missing_keys(
            "",
            sink_name,
            "key column",
            &missing,
        )));
    }
    for f in plan.output.fields() {
        if !key_fields.iter().any(|k| k.name() == f.name()) {
            value_fields.push(f.as_ref().clone());
        }
    }
    layout(key_fields, value_fields)
}

/// The layout, once ksqlDB's rule that a sink has at least one value column holds.
fn layout(key_fields: Vec<Field>, value_fields: Vec<Field>) -> Result<SinkLayout, PlanError> {
    if value_fields.is_empty() {
        return Err(PlanError::Invalid(
            "The projection contains no value columns.".into(),
        ));
    }
    Ok(SinkLayout {
        key_fields: key_fields.into(),
        value_fields: value_fields.into(),
    })
}

/// An aggregation's sink: the GROUP BY expressions are the key (ksqlDB requires each of them
/// in the projection), everything else the value; window bounds go into the windowed key.
fn plan_grouped_sink(
    plan: &QueryPlan,
    g: &crate::query::Grouping,
    sink_name: &str,
) -> Result<SinkLayout, PlanError> {
    // Key columns come in GROUP BY order, whatever the projection's order.
    let mut keys: Vec<Option<Field>> = vec![None; g.exprs.len()];
    let mut value_fields: Vec<Field> = Vec::new();
    for (f, group) in plan.output.fields().iter().zip(&g.output_groups) {
        match group {
            Some(i) if *i < g.exprs.len() && keys[*i].is_none() => {
                keys[*i] = Some(f.as_ref().clone());
            }
            _ => value_fields.push(f.as_ref().clone()),
        }
    }
    let found: Vec<bool> = keys.iter().map(Option::is_some).collect();
    let key_fields: Vec<Field> = keys.into_iter().flatten().collect();
    let missing: Vec<&str> = g
        .exprs
        .iter()
        .zip(&found)
        .filter(|(_, f)| !**f)
        .map(|(e, _)| e.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(PlanError::Invalid(missing_keys(
            "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\n",
            sink_name,
            "grouping expression",
            &missing,
        )));
    }
    layout(key_fields, value_fields)
}

/// ksqlDB's error for key columns or grouping expressions missing from a projection.
fn missing_keys(prefix: &str, sink_name: &str, what: &str, missing: &[&str]) -> String {
    let (plural, list) = if missing.len() == 1 {
        ("", missing[0].to_string())
    } else {
        ("s", join_and(missing))
    };
    format!(
        "{prefix}The query used to build `{sink_name}` must include the {what}{plural} {list} in its projection (eg, SELECT {}...).",
        missing.join(", ")
    )
}

/// `A`, `A and B`, `A, B and C`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
