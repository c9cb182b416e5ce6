//! Catalog errors.

/// Why a catalog change or lookup failed. Each variant maps to one SQLSTATE at the pgwire edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// `42P01`: no stream or table of that name.
    #[error("{0} does not exist.")]
    UnknownSource(String),
    /// `42710`: the name is taken.
    #[error("Cannot add {kind} '{name}': A {existing} with the same name already exists")]
    AlreadyExists {
        kind: String,
        name: String,
        existing: String,
    },
    /// `42704`: a custom type name that was never created.
    #[error("Unknown type: {0}")]
    UnknownType(String),
    /// `42804`: a type with no Arrow mapping, or an Arrow type with no KSQL one.
    #[error("{0}")]
    UnsupportedType(String),
    /// `2BP01`: something depends on the object being dropped.
    #[error("{0}")]
    InUse(String),
}
