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
    let layout = if let Some(g) = &plan.grouping {
        plan_grouped_sink(plan, g, sink_name)?
    } else if let Some(p) = &plan.partitioning {
        plan_partitioned_sink(plan, p, sink_name)?
    } else {
        plan_plain_sink(plan, sink_name)?
    };
    check_no_map_keys(&layout)?;
    Ok(layout)
}

/// ksqlDB refuses key columns whose type contains a map (their serialization is not stable).
fn check_no_map_keys(layout: &SinkLayout) -> Result<(), PlanError> {
    for f in layout.key_fields.iter() {
        check_no_map_key(f.name(), f.data_type())?;
    }
    Ok(())
}

/// ksqlDB's error for a key column `name` whose type contains a map.
pub(crate) fn check_no_map_key(
    name: &str,
    ty: &datafusion::arrow::datatypes::DataType,
) -> Result<(), PlanError> {
    use datafusion::arrow::datatypes::DataType;
    fn has_map(t: &DataType) -> bool {
        match t {
            DataType::Map(..) => true,
            DataType::List(f) | DataType::LargeList(f) => has_map(f.data_type()),
            DataType::Struct(fields) => fields.iter().any(|f| has_map(f.data_type())),
            _ => false,
        }
    }
    if has_map(ty) {
        let ty = sluice_catalog::types::display_name(ty);
        return Err(PlanError::Invalid(format!(
            "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{name}`. Column type: {ty}. See https://github.com/confluentinc/ksql/issues/6621 for more."
        )));
    }
    Ok(())
}

/// A PARTITION BY query's sink: the PARTITION BY expressions are the key, in their order.
fn plan_partitioned_sink(
    plan: &QueryPlan,
    p: &crate::partition::Partitioning,
    sink_name: &str,
) -> Result<SinkLayout, PlanError> {
    let mut keys: Vec<Option<Field>> = vec![None; p.exprs.len()];
    let mut value_fields: Vec<Field> = Vec::new();
    for (f, key) in plan.output.fields().iter().zip(&p.output_keys) {
        match key {
            Some(i) if *i < keys.len() => match &keys[*i] {
                None => keys[*i] = Some(f.as_ref().clone()),
                Some(first) => {
                    return Err(PlanError::Invalid(format!(
                        "The projection contains a key column (`{}`) more than once, aliased as: {} and {}.",
                        p.names[*i],
                        first.name(),
                        f.name()
                    )))
                }
            },
            _ => value_fields.push(f.as_ref().clone()),
        }
    }
    if keys.iter().any(Option::is_none) {
        // ksqlDB names every partitioning expression when one is missing.
        let all: Vec<&str> = p.exprs.iter().map(String::as_str).collect();
        return Err(PlanError::Invalid(missing_keys(
            "",
            sink_name,
            "partitioning expression",
            &all,
        )));
    }
    layout(keys.into_iter().flatten().collect(), value_fields)
}

/// A projection's sink: the source's key columns stay the key.
fn plan_plain_sink(plan: &QueryPlan, sink_name: &str) -> Result<SinkLayout, PlanError> {
    // A join's result is keyed by the join key: the output column chosen by the planner.
    if let Some(k) = &plan.join_key {
        let items = k.for_sink(sink_name)?;
        let fields = plan.output.fields();
        let key_fields: Vec<Field> = items.iter().map(|i| fields[*i].as_ref().clone()).collect();
        let value_fields: Vec<Field> = fields
            .iter()
            .enumerate()
            .filter(|(i, _)| !items.contains(i))
            .map(|(_, f)| f.as_ref().clone())
            .collect();
        return layout(key_fields, value_fields);
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
        // ksqlDB names every key column when one is missing.
        return Err(PlanError::Invalid(missing_keys(
            "",
            sink_name,
            "key column",
            &source_keys,
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
            Some(i) if *i < g.exprs.len() => match &keys[*i] {
                None => keys[*i] = Some(f.as_ref().clone()),
                // `AS_VALUE(k)` is a copy of the key into the value; a second plain `k` is not.
                Some(first) => {
                    return Err(PlanError::Invalid(format!(
                        "The projection contains a key column more than once: `{}` and `{}`.",
                        first.name(),
                        f.name()
                    )))
                }
            },
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
