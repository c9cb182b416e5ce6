//! Java `DateTimeFormatter` patterns and ksqlDB's date/time functions (placeholder).

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

/// Every date/time scalar function.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    Vec::new()
}
