//! Feature unification only; see Cargo.toml. Nothing to use here.
