//! ksqlDB's String, URL, bytes and geo functions, as DataFusion scalar UDFs over Arrow arrays.

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

/// Every function of this module, for registration.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    Vec::new()
}
