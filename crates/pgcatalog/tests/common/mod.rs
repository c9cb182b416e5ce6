//! Shared test fixtures: a catalog with two ksqlDB relations and helpers to read results.
#![allow(dead_code)]

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::util::display::array_value_to_string;
use sluice_pgcatalog::{outcome_rows, PgCatalog, Relation, RelationKind};
use sluice_pgwire::backend::Outcome;

/// `PAGEVIEWS` (stream: USER_ID STRING, PAGE STRING, MS BIGINT) and
/// `USERS` (table: USERID STRING, REGIONID STRING, SCORE DOUBLE, ACTIVE BOOLEAN,
/// REGISTERED TIMESTAMP, VISITS INT).
pub fn relations() -> Vec<Relation> {
    let pageviews = Schema::new(vec![
        Field::new("USER_ID", DataType::Utf8, true),
        Field::new("PAGE", DataType::Utf8, true),
        Field::new("MS", DataType::Int64, true),
    ]);
    let users = Schema::new(vec![
        Field::new("USERID", DataType::Utf8, false),
        Field::new("REGIONID", DataType::Utf8, true),
        Field::new("SCORE", DataType::Float64, true),
        Field::new("ACTIVE", DataType::Boolean, true),
        Field::new(
            "REGISTERED",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        ),
        Field::new("VISITS", DataType::Int32, true),
    ]);
    vec![
        Relation::new("PAGEVIEWS", Arc::new(pageviews), RelationKind::Stream),
        Relation::new("USERS", Arc::new(users), RelationKind::Table),
    ]
}

pub async fn catalog() -> PgCatalog {
    let catalog = PgCatalog::new("sluice").await.expect("catalog");
    catalog.set_relations(relations()).expect("relations");
    catalog
}

/// All rows of a Rows outcome as display strings (NULL → "").
pub fn rows(outcome: &Outcome) -> Vec<Vec<String>> {
    let (_, batches) = outcome_rows(outcome).expect("a row result");
    let mut out = Vec::new();
    for batch in batches {
        for i in 0..batch.num_rows() {
            out.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| array_value_to_string(c, i).expect("displayable"))
                    .collect(),
            );
        }
    }
    out
}

/// Column names of a Rows outcome.
pub fn columns(outcome: &Outcome) -> Vec<String> {
    let (schema, _) = outcome_rows(outcome).expect("a row result");
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

/// The tag of a Command outcome or of a Rows outcome.
pub fn tag(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Command { tag, .. } => Some(tag.clone()),
        Outcome::Rows { tag, .. } => tag.clone(),
        Outcome::Push { .. } => None,
    }
}
