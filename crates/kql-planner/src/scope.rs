//! Names bound by `let`, function parameters and query parameters.

use std::collections::HashMap;

use datafusion_expr::{Expr, LogicalPlan};
use kql_syntax::ast::Lambda;

/// What a name stands for.
#[derive(Debug, Clone)]
pub(crate) enum Binding {
    /// A scalar value (an expression without column references).
    Scalar(Expr),
    /// A tabular value.
    Tabular(LogicalPlan),
    /// A user-defined function, with the scope it was defined in.
    Function(Box<Lambda>, Scope),
}

/// A lexical scope. Cloned when entering a function body (scopes are small).
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    vars: HashMap<String, Binding>,
}

impl Scope {
    pub(crate) fn get(&self, name: &str) -> Option<&Binding> {
        self.vars.get(name)
    }

    pub(crate) fn set(&mut self, name: &str, b: Binding) {
        self.vars.insert(name.to_string(), b);
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.vars.remove(name);
    }
}
