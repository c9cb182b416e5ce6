//! What DataFusion's SQL planner sees of Sluice: sources as tables, functions by KSQL name.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::TableReference;
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::planner::{ExprPlanner, TypePlanner};
use datafusion::logical_expr::{
    AggregateUDF, HigherOrderUDF, LogicalTableSource, ScalarUDF, TableSource, WindowUDF,
};
use datafusion::sql::planner::ContextProvider;
use sluice_catalog::Catalog;

use sluice_functions::KSQL_ALIASES as ALIASES;

/// Resolves source names against the catalog and function names (case-insensitively, KSQL
/// aliases first) against the DataFusion session state.
pub struct KsqlContext<'a> {
    state: &'a SessionState,
    catalog: &'a Catalog,
    tables: HashMap<String, Arc<dyn TableSource>>,
    /// Windowed aggregation: sources get WINDOWSTART / WINDOWEND columns (filled in by the
    /// window assignment operator) unless they are windowed already.
    window_columns: bool,
    /// Over a join, only this source (the leftmost) gets them, so that the window bounds are
    /// not ambiguous; the window is assigned to the joined rows.
    window_source: Option<String>,
}

impl<'a> KsqlContext<'a> {
    /// A context over `catalog`'s sources.
    pub fn new(state: &'a SessionState, catalog: &'a Catalog) -> Self {
        Self {
            state,
            catalog,
            tables: HashMap::new(),
            window_columns: false,
            window_source: None,
        }
    }

    /// Sources seen through this context carry window bound columns.
    pub fn with_window_columns(mut self) -> Self {
        self.window_columns = true;
        self
    }

    /// Only `source` carries window bound columns (a windowed aggregation over a join, whose
    /// leftmost source is `source`).
    pub fn with_window_columns_on(mut self, source: &str) -> Self {
        self.window_columns = true;
        self.window_source = Some(source.to_string());
        self
    }

    /// Whether `name` (any case, KSQL aliases included) is a known scalar, higher-order,
    /// aggregate or window function.
    pub fn knows_function(&self, name: &str) -> bool {
        // The table functions EXPLODE and CUBE_EXPLODE are planned as DataFusion's UNNEST.
        name.eq_ignore_ascii_case("explode")
            || name.eq_ignore_ascii_case("cube_explode")
            || self.get_function_meta(name).is_some()
            || self.get_higher_order_meta(name).is_some()
            || self.get_aggregate_meta(name).is_some()
            || self.get_window_meta(name).is_some()
    }

    fn function_name(name: &str) -> String {
        let lower = name.to_ascii_lowercase();
        ALIASES
            .iter()
            .find(|(k, _)| *k == lower)
            .map(|(_, v)| v.to_string())
            .unwrap_or(lower)
    }
}

impl ContextProvider for KsqlContext<'_> {
    fn get_table_source(&self, name: TableReference) -> Result<Arc<dyn TableSource>> {
        let table = name.table();
        if let Some(t) = self.tables.get(table) {
            return Ok(t.clone());
        }
        let source = self
            .catalog
            .source(table)
            .ok_or_else(|| DataFusionError::Plan(format!("{table} does not exist.")))?;
        let mut schema = source
            .batch_schema()
            .map_err(|e| DataFusionError::Plan(e.to_string()))?;
        let windowed_here = self
            .window_source
            .as_ref()
            .is_none_or(|s| s.as_str() == source.name);
        if self.window_columns && windowed_here && source.window.is_none() {
            schema = sluice_dataflow::ops::WindowAssign::output_schema(&schema);
        }
        Ok(Arc::new(LogicalTableSource::new(schema)))
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        self.state.expr_planners()
    }

    fn get_type_planner(&self) -> Option<Arc<dyn TypePlanner>> {
        Some(Arc::new(KsqlTypePlanner {
            catalog: self.catalog.clone(),
        }))
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        self.state
            .scalar_functions()
            .get(&Self::function_name(name))
            .cloned()
    }

    fn get_higher_order_meta(&self, name: &str) -> Option<Arc<HigherOrderUDF>> {
        self.state
            .higher_order_functions()
            .get(&Self::function_name(name))
            .cloned()
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        self.state
            .aggregate_functions()
            .get(&Self::function_name(name))
            .cloned()
    }

    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.state
            .window_functions()
            .get(&Self::function_name(name))
            .cloned()
    }

    fn get_variable_type(&self, _variable_names: &[String]) -> Option<DataType> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        self.state.config_options()
    }

    fn udf_names(&self) -> Vec<String> {
        self.state.scalar_functions().keys().cloned().collect()
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        self.state
            .higher_order_functions()
            .keys()
            .cloned()
            .collect()
    }

    fn udaf_names(&self) -> Vec<String> {
        self.state.aggregate_functions().keys().cloned().collect()
    }

    fn udwf_names(&self) -> Vec<String> {
        self.state.window_functions().keys().cloned().collect()
    }
}

/// CAST targets DataFusion's SQL planner does not know: `MAP<K, V>` and named types
/// (`CREATE TYPE`), anywhere inside the target type. Other types stay DataFusion's.
#[derive(Debug)]
struct KsqlTypePlanner {
    catalog: Catalog,
}

impl TypePlanner for KsqlTypePlanner {
    fn plan_type_field(
        &self,
        sql_type: &datafusion::sql::sqlparser::ast::DataType,
    ) -> Result<Option<datafusion::arrow::datatypes::FieldRef>> {
        use sluice_parser::SqlType;
        fn needs_us(t: &SqlType) -> bool {
            match t {
                SqlType::Map(..) | SqlType::Custom(_) => true,
                SqlType::Array(t) => needs_us(t),
                SqlType::Struct(fields) => fields.iter().any(|(_, t)| needs_us(t)),
                _ => false,
            }
        }
        let Some(ty) = SqlType::from_data_type(sql_type) else {
            return Ok(None);
        };
        if !needs_us(&ty) {
            return Ok(None);
        }
        let resolved = self
            .catalog
            .resolve_type(&ty)
            .map_err(|e| DataFusionError::Plan(e.to_string()))?;
        let arrow = sluice_catalog::types::to_arrow(&resolved)
            .map_err(|e| DataFusionError::Plan(e.to_string()))?;
        Ok(Some(Arc::new(datafusion::arrow::datatypes::Field::new(
            "", arrow, true,
        ))))
    }
}
