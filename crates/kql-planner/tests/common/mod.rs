//! What the planner's integration tests share: a context without tables.

use kql_planner::{KqlContext, StoredFunction, TableRef};

/// A context with no tables, functions or parameters, at a fixed `now`.
pub struct NoTables;

impl KqlContext for NoTables {
    fn table(&self, _name: &str) -> Option<TableRef> {
        None
    }
    fn function(&self, _name: &str) -> Option<StoredFunction> {
        None
    }
    fn parameter(&self, _name: &str) -> Option<String> {
        None
    }
    fn now_nanos(&self) -> i64 {
        1_700_000_000_000_000_000
    }
}
