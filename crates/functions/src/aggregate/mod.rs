//! ksqlDB's aggregate functions (placeholder: filled in by the aggregate work).

use std::sync::Arc;

use datafusion::logical_expr::AggregateUDF;

/// Every ksqlDB aggregate function.
pub fn all() -> Vec<Arc<AggregateUDF>> {
    Vec::new()
}
