//! The Sluice planner: from a parsed KSQL query to the operators that run it.
//!
//! How a query is planned:
//! 1. [`rewrite`] adjusts the sqlparser AST to KSQL rules that DataFusion does not know
//!    (`SELECT *` means the key and value columns but not the pseudo-columns; unnamed expressions
//!    are called `KSQL_COL_n`).
//!    [`aggregate_check`] applies ksqlDB's GROUP BY rules with ksqlDB's error texts
//!    ([`ksql_text`] prints expressions as ksqlDB does).
//! 2. DataFusion's `SqlToRel` turns it into a `LogicalPlan` against a [`context::KsqlContext`]
//!    that exposes the catalog's sources (with their pseudo-columns) and DataFusion's functions
//!    under their KSQL names.
//! 3. [`query::plan_query`] lowers the logical plan into dataflow operators with physical
//!    expressions (type-coerced by DataFusion) and works out the output schema.
//! 4. [`sink::plan_sink`] decides which output columns go to the record key and which to the
//!    value of a persistent query's sink, with ksqlDB's rules and error texts.
//!
//! Entry points: [`Planner`], [`QueryPlan`], [`sink::SinkLayout`], [`values::evaluate_row`].
//!
//! Not for: running anything (the server does), nor parsing (the parser crate does).

pub mod aggregate_check;
pub mod context;
pub mod error;
pub mod expr_planner;
mod in_list;
pub mod join;
pub mod ksql_text;
pub mod partition;
pub mod query;
pub mod rewrite;
mod simplify;
pub mod sink;
pub mod values;

use datafusion::execution::session_state::{SessionState, SessionStateBuilder};

pub use error::PlanError;
pub use expr_planner::comparison;
pub use query::{OpSpec, PlanPart, QueryPlan, Repartition, EVENT_TIME, GROUP_BY_REPARTITION};
pub use sink::SinkLayout;

/// Plans statements against a catalog. Holds the DataFusion session state whose functions and
/// configuration planning uses; create it once and share it.
pub struct Planner {
    state: SessionState,
}

impl Default for Planner {
    fn default() -> Self {
        Self::new()
    }
}

impl Planner {
    /// A planner with DataFusion's default functions and KSQL's planning options.
    pub fn new() -> Self {
        let mut state = SessionStateBuilder::new().with_default_features().build();
        // KSQL: `1.5` is a DECIMAL literal.
        state
            .config_mut()
            .options_mut()
            .sql_parser
            .parse_float_as_decimal = true;
        state
            .config_mut()
            .options_mut()
            .sql_parser
            .enable_ident_normalization = false;
        // KSQL operators: `'a' + 'b'` concatenates.
        {
            use datafusion::execution::FunctionRegistry;
            if let Err(e) =
                state.register_expr_planner(std::sync::Arc::new(expr_planner::KsqlExprPlanner))
            {
                tracing::error!(error = %e, "could not register KSQL's operator planner");
            }
        }
        // ksqlDB's functions, replacing DataFusion's where the names clash.
        if let Err(e) = sluice_functions::register_all(&mut state) {
            tracing::error!(error = %e, "could not register Sluice's functions");
        }
        Self { state }
    }

    /// The DataFusion session state used for planning.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// Whether KSQL function `name` (any case) can be called: a registered scalar, lambda or
    /// aggregate function, or one of the table functions the planner rewrites.
    pub fn supports_function(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        matches!(lower.as_str(), "explode" | "cube_explode")
            || self.state.scalar_functions().contains_key(&lower)
            || self.state.higher_order_functions().contains_key(&lower)
            || self.state.aggregate_functions().contains_key(&lower)
    }
}
