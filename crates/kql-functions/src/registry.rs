//! Lookup of KQL functions by name.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use crate::{AggregateUDF, ScalarUDF};

/// KQL scalar functions and aggregates, by their KQL name (lower case as in KQL).
#[derive(Debug, Default)]
pub struct Registry {
    scalars: BTreeMap<String, Arc<ScalarUDF>>,
    aggregates: BTreeMap<String, Arc<AggregateUDF>>,
}

static GLOBAL: LazyLock<Registry> = LazyLock::new(|| {
    let mut r = Registry::default();
    crate::string::register(&mut r);
    crate::datetime::register(&mut r);
    crate::convert::register(&mut r);
    crate::math::register(&mut r);
    crate::dynamic::register(&mut r);
    crate::hash::register(&mut r);
    crate::aggregate::register(&mut r);
    crate::operators::register(&mut r);
    crate::integer::register(&mut r);
    crate::operators::register_list(&mut r);
    r
});

impl Registry {
    /// The registry with every function Calypso implements.
    pub fn global() -> &'static Registry {
        &GLOBAL
    }

    /// Adds a scalar function under its KQL name (an alias may be added under a second name).
    pub fn add_scalar(&mut self, kql_name: &str, udf: ScalarUDF) {
        self.scalars.insert(kql_name.to_string(), Arc::new(udf));
    }

    /// Adds an aggregate under its KQL name.
    pub fn add_aggregate(&mut self, kql_name: &str, udaf: AggregateUDF) {
        self.aggregates.insert(kql_name.to_string(), Arc::new(udaf));
    }

    /// A scalar function by KQL name.
    pub fn scalar(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        self.scalars.get(name).cloned()
    }

    /// An aggregate by KQL name.
    pub fn aggregate(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        self.aggregates.get(name).cloned()
    }

    /// Names of all scalar functions (for the coverage report).
    pub fn scalar_names(&self) -> impl Iterator<Item = &str> {
        self.scalars.keys().map(String::as_str)
    }

    /// Names of all aggregates (for the coverage report).
    pub fn aggregate_names(&self) -> impl Iterator<Item = &str> {
        self.aggregates.keys().map(String::as_str)
    }
}
