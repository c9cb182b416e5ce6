//! `INSERT ... VALUES`: evaluate literal expressions into one typed row.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::DFSchema;
use datafusion::sql::planner::{ParserOptions, PlannerContext, SqlToRel};
use datafusion::sql::sqlparser::ast::Expr;
use sluice_catalog::Catalog;

use crate::context::KsqlContext;
use crate::{PlanError, Planner};

impl Planner {
    /// Evaluate `values[i]` as a value of `fields[i]`'s type; one-row arrays, in order.
    /// A value that cannot be converted to its column's type is a `Type` error naming the column.
    pub fn evaluate_row(
        &self,
        values: &[Expr],
        fields: &[Field],
        catalog: &Catalog,
    ) -> Result<Vec<ArrayRef>, PlanError> {
        let ctx = KsqlContext::new(&self.state, catalog);
        let options = ParserOptions {
            parse_float_as_decimal: true,
            enable_ident_normalization: false,
            ..ParserOptions::new()
        };
        let sql_to_rel = SqlToRel::new_with_options(&ctx, options);
        let empty = DFSchema::empty();
        let row = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )
        .map_err(|e| PlanError::Invalid(e.to_string()))?;
        let strict = CastOptions {
            safe: false,
            ..Default::default()
        };
        let mut out = Vec::with_capacity(values.len());
        for (value, field) in values.iter().zip(fields) {
            let logical =
                sql_to_rel.sql_to_expr(value.clone(), &empty, &mut PlannerContext::new())?;
            let physical = self.state.create_physical_expr(logical, &empty)?;
            let array = physical.evaluate(&row)?.into_array(1)?;
            let array = if array.data_type() == field.data_type() {
                array
            } else {
                cast_with_options(&array, field.data_type(), &strict).map_err(|_| {
                    PlanError::Type(format!(
                        "Expected type {} for field {} but got {value} ({})",
                        sluice_catalog::types::display_name(field.data_type()),
                        field.name(),
                        sluice_catalog::types::display_name(array.data_type())
                    ))
                })?
            };
            out.push(array);
        }
        Ok(out)
    }
}
