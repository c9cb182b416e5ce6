//! The bridge between a ksqlDB aggregate (described by [`AggregateSpec`]) and DataFusion's
//! `AggregateUDFImpl`.
//!
//! Every function of this crate is a small `AggregateSpec`: its names, how it checks and
//! coerces argument types (ksqlDB's overloads and error texts), its return and state types,
//! and how it makes an accumulator. [`KsqlUdaf`] does the DataFusion plumbing once.

use std::fmt::Debug;
use std::hash::Hash;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{not_impl_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::{format_state_name, AggregateOrderSensitivity};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

/// What one ksqlDB aggregate function is. Implementations are plain data (their configuration,
/// such as COLLECT_LIST's limit), compared and hashed by value.
pub(crate) trait AggregateSpec:
    Debug + Send + Sync + PartialEq + Eq + Hash + 'static
{
    /// The name DataFusion registers (lower case).
    fn name(&self) -> &'static str;

    /// Other names of the same function (lower case).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }

    /// The types to cast the arguments to, or ksqlDB's error for a call no overload accepts.
    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>>;

    /// The result type for (coerced) argument types.
    fn return_type(&self, args: &[DataType]) -> Result<DataType>;

    /// Names (suffixes) and types of the state values [`Accumulator::state`] returns, in order.
    fn state(&self, args: &[DataType], ret: &DataType) -> Result<Vec<(&'static str, DataType)>>;

    /// A fresh accumulator for a call with these (coerced) argument types.
    fn accumulator(&self, args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>>;

    /// Whether the result can be null (COUNT's cannot).
    fn nullable(&self) -> bool {
        true
    }

    /// The result over no rows at all (DataFusion's `default_value`).
    fn default_value(&self, ret: &DataType) -> Result<ScalarValue> {
        ScalarValue::try_from(ret)
    }

    /// Whether the result depends on the order rows arrive in.
    fn order_sensitive(&self) -> bool {
        false
    }
}

/// A ksqlDB aggregate as a DataFusion `AggregateUDFImpl`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct KsqlUdaf<S: AggregateSpec> {
    spec: S,
    signature: Signature,
    aliases: Vec<String>,
}

impl<S: AggregateSpec> KsqlUdaf<S> {
    pub(crate) fn new(spec: S) -> Self {
        let aliases = spec.aliases().iter().map(|a| a.to_string()).collect();
        Self {
            spec,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases,
        }
    }
}

impl<S: AggregateSpec> AggregateUDFImpl for KsqlUdaf<S> {
    fn name(&self) -> &str {
        self.spec.name()
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.spec.coerce(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.spec.return_type(arg_types)
    }

    fn is_nullable(&self) -> bool {
        self.spec.nullable()
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        // ksqlDB has no DISTINCT inside aggregate calls; the accumulators would ignore it.
        if acc_args.is_distinct {
            return not_impl_err!(
                "{}(DISTINCT ...) is not supported; use COUNT_DISTINCT or COLLECT_SET",
                self.spec.name().to_uppercase()
            );
        }
        self.spec.accumulator(&acc_args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let types: Vec<DataType> = args
            .input_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let state = self.spec.state(&types, args.return_field.data_type())?;
        Ok(state
            .into_iter()
            .map(|(suffix, dt)| {
                std::sync::Arc::new(Field::new(format_state_name(args.name, suffix), dt, true))
            })
            .collect())
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        self.spec.default_value(data_type)
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        if self.spec.order_sensitive() {
            AggregateOrderSensitivity::HardRequirement
        } else {
            AggregateOrderSensitivity::Insensitive
        }
    }
}

/// The (coerced) argument types of an accumulator call.
pub(crate) fn arg_types(args: &AccumulatorArgs) -> Vec<DataType> {
    args.expr_fields
        .iter()
        .map(|f| f.data_type().clone())
        .collect()
}
