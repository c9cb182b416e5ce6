//! Errors of the function library.

/// What can go wrong building or evaluating a function outside DataFusion's own error paths.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// A date/time pattern that is not a valid Java `DateTimeFormatter` pattern.
    #[error("Invalid date/time pattern '{pattern}': {reason}")]
    InvalidPattern { pattern: String, reason: String },
    /// A value that does not match its pattern.
    #[error("Failed to parse '{text}' with pattern '{pattern}': {reason}")]
    Parse {
        text: String,
        pattern: String,
        reason: String,
    },
    /// A value that cannot be printed with its pattern (a time field for a date, a zone for a
    /// time, a value too wide for its field).
    #[error("Failed to format {value} with pattern '{pattern}': {reason}")]
    Format {
        value: String,
        pattern: String,
        reason: String,
    },
    /// An argument a function cannot use (an unknown time unit, for example).
    #[error("Invalid argument to {function}: {reason}")]
    InvalidArgument { function: String, reason: String },
    /// A time zone name that is not known.
    #[error("Invalid time zone '{0}'")]
    InvalidTimeZone(String),
    /// State bytes that cannot be decoded.
    #[error("corrupt aggregate state: {0}")]
    CorruptState(String),
}
