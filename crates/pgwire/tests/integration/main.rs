//! Integration tests: the server on 127.0.0.1:0 with an in-test backend, driven by
//! tokio-postgres, a hand-written protocol client, and the real psql.

mod common;
mod driver;
mod psql;
mod raw;
