//! The DataFusion side of the date/time functions: one [`DateTimeUdf`] type for all of them,
//! with ksqlDB's overloads as the signature (and ksqlDB's "does not accept parameters" error),
//! argument access that broadcasts literals without copying them, per-batch caches of compiled
//! patterns and zones, and ksqlDB's error behaviour: a row whose value cannot be converted is
//! null, and the error is logged on the `sluice::processing_log` target.

use crate::ksql_type::ksql_type_name;
use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray, StringArray};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Int32Type, Int64Type, Time32MillisecondType,
    TimeUnit, TimestampMillisecondType,
};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::pattern::JavaPattern;
use super::zone::Zone;
use super::{arithmetic, conversion, epoch};
use crate::FunctionError;

/// A ksqlDB parameter or return type of the date/time functions, as Sluice maps it to Arrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Param {
    Int,
    BigInt,
    String,
    Date,
    Time,
    Timestamp,
    /// A time unit keyword (`DAYS`, `MILLISECONDS`, ...), passed as a string literal.
    Unit,
}

impl Param {
    /// The Arrow type of values of this parameter.
    pub(crate) fn arrow(self) -> DataType {
        match self {
            Param::Int => DataType::Int32,
            Param::BigInt => DataType::Int64,
            Param::String | Param::Unit => DataType::Utf8,
            Param::Date => DataType::Date32,
            Param::Time => DataType::Time32(TimeUnit::Millisecond),
            Param::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
        }
    }

    /// Whether an argument of type `dt` can be passed (after an implicit widening cast).
    fn accepts(self, dt: &DataType) -> bool {
        use DataType::*;
        if *dt == Null {
            return true;
        }
        match self {
            Param::Int => matches!(dt, Int8 | Int16 | Int32 | UInt8 | UInt16),
            Param::BigInt => matches!(dt, Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32),
            Param::String | Param::Unit => matches!(dt, Utf8 | LargeUtf8 | Utf8View),
            Param::Date => matches!(dt, Date32),
            Param::Time => matches!(dt, Time32(_) | Time64(_)),
            Param::Timestamp => matches!(dt, Timestamp(_, _)),
        }
    }

    fn ksql_name(self) -> &'static str {
        match self {
            Param::Int => "INT",
            Param::BigInt => "BIGINT",
            Param::String => "STRING",
            Param::Date => "DATE",
            Param::Time => "TIME",
            Param::Timestamp => "TIMESTAMP",
            Param::Unit => "INTERVALUNIT",
        }
    }
}

/// Which function a [`DateTimeUdf`] computes, by family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Func {
    Conversion(conversion::ConversionFn),
    Arithmetic(arithmetic::ArithmeticFn),
    Epoch(epoch::EpochFn),
}

/// One ksqlDB date/time function as a DataFusion scalar UDF.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct DateTimeUdf {
    name: &'static str,
    func: Func,
    overloads: Vec<Vec<Param>>,
    returns: Param,
    signature: Signature,
}

impl DateTimeUdf {
    /// A function `name` with ksqlDB's `overloads` (tried in order) returning `returns`;
    /// `volatile` for functions that read the clock.
    pub(crate) fn new(
        name: &'static str,
        func: Func,
        overloads: Vec<Vec<Param>>,
        returns: Param,
        volatile: bool,
    ) -> Self {
        let volatility = if volatile {
            Volatility::Volatile
        } else {
            Volatility::Immutable
        };
        DateTimeUdf {
            name,
            func,
            overloads,
            returns,
            signature: Signature::user_defined(volatility),
        }
    }

    /// Wraps the function for registration.
    pub(crate) fn into_udf(self) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(self))
    }
}

impl ScalarUDFImpl for DateTimeUdf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.returns.arrow())
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let chosen = self.overloads.iter().find(|params| {
            params.len() == arg_types.len()
                && params.iter().zip(arg_types).all(|(p, t)| p.accepts(t))
        });
        match chosen {
            Some(params) => Ok(params.iter().map(|p| p.arrow()).collect()),
            None => {
                let given = arg_types
                    .iter()
                    .map(ksql_type_name)
                    .collect::<Vec<_>>()
                    .join(", ");
                let alternatives = self
                    .overloads
                    .iter()
                    .map(|params| {
                        let list = params
                            .iter()
                            .map(|p| p.ksql_name())
                            .collect::<Vec<_>>()
                            .join(", ");
                        format!("{}({list})", self.name)
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                plan_err!(
                    "Function '{}' does not accept parameters ({given}).\nValid alternatives are:\n{alternatives}",
                    self.name
                )
            }
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = !args.args.is_empty()
            && args
                .args
                .iter()
                .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let mut columns = Vec::with_capacity(args.args.len());
        let mut broadcast = Vec::with_capacity(args.args.len());
        for arg in &args.args {
            match arg {
                ColumnarValue::Array(a) => {
                    columns.push(Arc::clone(a));
                    broadcast.push(false);
                }
                ColumnarValue::Scalar(s) => {
                    columns.push(s.to_array_of_size(1)?);
                    broadcast.push(true);
                }
            }
        }
        let inputs = Inputs {
            columns,
            broadcast,
            rows,
        };
        let mut report = Reporter::new(self.name);
        let out = match self.func {
            Func::Conversion(f) => conversion::evaluate(f, &inputs, &mut report)?,
            Func::Arithmetic(f) => arithmetic::evaluate(f, &inputs, &mut report)?,
            Func::Epoch(f) => epoch::evaluate(f, &inputs, &mut report)?,
        };
        report.flush();
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// A function's arguments for one batch: scalars are one-row columns read at index 0.
pub(crate) struct Inputs {
    columns: Vec<ArrayRef>,
    broadcast: Vec<bool>,
    /// How many rows to produce.
    pub rows: usize,
}

/// A typed view of one argument column.
pub(crate) struct Column<'a, A> {
    array: &'a A,
    broadcast: bool,
}

impl<'a, T: ArrowPrimitiveType> Column<'a, PrimitiveArray<T>> {
    /// The value at `row`, or `None` when null.
    pub(crate) fn get(&self, row: usize) -> Option<T::Native> {
        let i = if self.broadcast { 0 } else { row };
        self.array.is_valid(i).then(|| self.array.value(i))
    }
}

impl<'a> Column<'a, StringArray> {
    /// The value at `row`, or `None` when null.
    pub(crate) fn get(&self, row: usize) -> Option<&'a str> {
        let i = if self.broadcast { 0 } else { row };
        self.array.is_valid(i).then(|| self.array.value(i))
    }
}

impl Inputs {
    /// How many arguments were passed.
    pub(crate) fn len(&self) -> usize {
        self.columns.len()
    }

    fn primitive<T: ArrowPrimitiveType>(&self, i: usize) -> Result<Column<'_, PrimitiveArray<T>>> {
        let array = self.columns[i].as_primitive_opt::<T>().ok_or_else(|| {
            datafusion::error::DataFusionError::Internal(format!(
                "argument {i} is {}, expected {}",
                self.columns[i].data_type(),
                T::DATA_TYPE
            ))
        })?;
        Ok(Column {
            array,
            broadcast: self.broadcast[i],
        })
    }

    /// Argument `i` as a STRING column.
    pub(crate) fn strings(&self, i: usize) -> Result<Column<'_, StringArray>> {
        let array = self.columns[i].as_string_opt::<i32>().ok_or_else(|| {
            datafusion::error::DataFusionError::Internal(format!(
                "argument {i} is {}, expected Utf8",
                self.columns[i].data_type()
            ))
        })?;
        Ok(Column {
            array,
            broadcast: self.broadcast[i],
        })
    }

    /// Argument `i` as an INT column.
    pub(crate) fn ints(&self, i: usize) -> Result<Column<'_, PrimitiveArray<Int32Type>>> {
        self.primitive::<Int32Type>(i)
    }

    /// Argument `i` as a BIGINT column.
    pub(crate) fn bigints(&self, i: usize) -> Result<Column<'_, PrimitiveArray<Int64Type>>> {
        self.primitive::<Int64Type>(i)
    }

    /// Argument `i` as a DATE column (days since the epoch).
    pub(crate) fn dates(&self, i: usize) -> Result<Column<'_, PrimitiveArray<Date32Type>>> {
        self.primitive::<Date32Type>(i)
    }

    /// Argument `i` as a TIME column (milliseconds of the day).
    pub(crate) fn times(
        &self,
        i: usize,
    ) -> Result<Column<'_, PrimitiveArray<Time32MillisecondType>>> {
        self.primitive::<Time32MillisecondType>(i)
    }

    /// Argument `i` as a TIMESTAMP column (epoch milliseconds).
    pub(crate) fn timestamps(
        &self,
        i: usize,
    ) -> Result<Column<'_, PrimitiveArray<TimestampMillisecondType>>> {
        self.primitive::<TimestampMillisecondType>(i)
    }
}

/// Collects a batch's row errors and logs them as ksqlDB's processing log would, once per
/// distinct message with the number of rows it affected.
pub(crate) struct Reporter {
    function: &'static str,
    errors: Vec<(String, usize)>,
}

impl Reporter {
    fn new(function: &'static str) -> Self {
        Reporter {
            function,
            errors: Vec::new(),
        }
    }

    /// The value of `result`, or `None` (a null result) after recording its error.
    pub(crate) fn ok<T>(&mut self, result: Result<T, FunctionError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                let message = e.to_string();
                match self.errors.iter_mut().find(|(m, _)| *m == message) {
                    Some((_, n)) => *n += 1,
                    None => self.errors.push((message, 1)),
                }
                None
            }
        }
    }

    fn flush(&mut self) {
        for (message, rows) in self.errors.drain(..) {
            tracing::warn!(
                target: "sluice::processing_log",
                function = self.function,
                rows,
                "{message}; the result is null"
            );
        }
    }
}

/// Compiled patterns of one batch, by pattern text: a literal pattern is compiled once.
pub(crate) struct Patterns {
    simple_date_format: bool,
    compiled: HashMap<String, Option<Arc<JavaPattern>>>,
}

impl Patterns {
    /// Patterns for `DateTimeFormatter` rules, or `SimpleDateFormat` rules (PARSE_DATE).
    pub(crate) fn new(simple_date_format: bool) -> Self {
        Patterns {
            simple_date_format,
            compiled: HashMap::new(),
        }
    }

    /// The compiled `pattern`.
    pub(crate) fn get(&mut self, pattern: &str) -> Result<Arc<JavaPattern>, FunctionError> {
        let compile = |p: &str| {
            if self.simple_date_format {
                JavaPattern::new_simple_date_format(p)
            } else {
                JavaPattern::new(p)
            }
        };
        if let Some(cached) = self.compiled.get(pattern) {
            return match cached {
                Some(p) => Ok(Arc::clone(p)),
                None => compile(pattern).map(Arc::new),
            };
        }
        let result = compile(pattern).map(Arc::new);
        self.compiled
            .insert(pattern.to_string(), result.as_ref().ok().cloned());
        result
    }
}

/// Zones of one batch, by id.
#[derive(Default)]
pub(crate) struct Zones {
    known: HashMap<String, Option<Zone>>,
}

impl Zones {
    /// The zone `id` names (`ZoneId.of` rules).
    pub(crate) fn get(&mut self, id: &str) -> Result<Zone, FunctionError> {
        if let Some(cached) = self.known.get(id) {
            return match cached {
                Some(z) => Ok(z.clone()),
                None => Zone::of(id),
            };
        }
        let result = Zone::of(id);
        self.known
            .insert(id.to_string(), result.as_ref().ok().cloned());
        result
    }
}
