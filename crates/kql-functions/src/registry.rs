//! The function catalog: every KQL function by name, and every DataFusion function a plan
//! can hold by its DataFusion name (so that a plan can be rebuilt from names alone).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, LazyLock};

use datafusion_common::{DataFusionError, Result as DfResult};
use datafusion_expr::planner::ExprPlanner;
use datafusion_expr::registry::FunctionRegistry;
use datafusion_expr::{HigherOrderUDF, WindowUDF};

use crate::catalog::{
    AggregateImpl, Arity, Function, FunctionKind, Naming, Plugin, ScalarImpl, Typing, WindowImpl,
};
use crate::{AggregateUDF, ScalarUDF};

/// KQL functions by their KQL name (lower case as in KQL), and the DataFusion functions
/// behind them by their DataFusion name.
///
/// The planner resolves every call through [`Registry::function`]; `calypso coverage`
/// counts [`Registry::functions`]. Through [`FunctionRegistry`] the registry also
/// answers for DataFusion's own functions the planner uses (`count`, `lag`,
/// `regexp_match`, ...), so every function a plan holds is found by name (ARCHITECTURE.md
/// invariant 8).
#[derive(Debug, Default)]
pub struct Registry {
    functions: BTreeMap<String, Function>,
    udfs: BTreeMap<String, Arc<ScalarUDF>>,
    udafs: BTreeMap<String, Arc<AggregateUDF>>,
    udwfs: BTreeMap<String, Arc<WindowUDF>>,
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
    crate::window::register(&mut r);
    crate::series::register(&mut r);
    crate::builtins::register(&mut r);
    r
});

impl Registry {
    /// The registry with every function Calypso implements.
    pub fn global() -> &'static Registry {
        &GLOBAL
    }

    /// Adds a function under its KQL name (replacing one of that name).
    pub fn add(&mut self, f: Function) {
        match &f.kind {
            FunctionKind::Scalar(ScalarImpl::Udf(u)) => {
                self.udfs.insert(u.name().to_string(), Arc::clone(u));
            }
            FunctionKind::Aggregate {
                imp: AggregateImpl::Udaf(u),
                ..
            } => {
                self.udafs.insert(u.name().to_string(), Arc::clone(u));
            }
            FunctionKind::Window(WindowImpl::Udwf(u)) => {
                self.udwfs.insert(u.name().to_string(), Arc::clone(u));
            }
            FunctionKind::Scalar(ScalarImpl::Special(_))
            | FunctionKind::Aggregate {
                imp: AggregateImpl::Builtin(_),
                ..
            }
            | FunctionKind::Window(WindowImpl::Builtin(_))
            | FunctionKind::Plugin(_) => {}
        }
        self.functions.insert(f.name.clone(), f);
    }

    /// Adds a scalar function implemented by a UDF that checks its own arguments (an alias
    /// may be added under a second name). Names starting with `__` are internal: the
    /// planner calls them, users do not.
    pub fn add_scalar(&mut self, kql_name: &str, udf: ScalarUDF) {
        self.add(Function {
            name: kql_name.to_string(),
            arity: Arity::at_least(0),
            typing: Typing::Implementation,
            kind: FunctionKind::Scalar(ScalarImpl::Udf(Arc::new(udf))),
        });
    }

    /// Adds an aggregate implemented by a UDAF, with its arity and default result name.
    pub fn add_aggregate(
        &mut self,
        kql_name: &str,
        udaf: AggregateUDF,
        arity: Arity,
        naming: Naming,
    ) {
        self.add(Function {
            name: kql_name.to_string(),
            arity,
            typing: Typing::Implementation,
            kind: FunctionKind::Aggregate {
                imp: AggregateImpl::Udaf(Arc::new(udaf)),
                naming,
            },
        });
    }

    /// Adds a window function implemented by a UDWF.
    pub fn add_window(&mut self, kql_name: &str, udwf: Arc<WindowUDF>, arity: Arity) {
        self.add(Function {
            name: kql_name.to_string(),
            arity,
            typing: Typing::Implementation,
            kind: FunctionKind::Window(WindowImpl::Udwf(udwf)),
        });
    }

    /// Adds an `evaluate` plugin.
    pub fn add_plugin(&mut self, kql_name: &str, plugin: Plugin, arity: Arity) {
        self.add(Function {
            name: kql_name.to_string(),
            arity,
            typing: Typing::Tabular,
            kind: FunctionKind::Plugin(plugin),
        });
    }

    /// A function by KQL name.
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.get(name)
    }

    /// A scalar function implemented by a UDF, by KQL name (internal `__` names included).
    pub fn scalar(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        match &self.functions.get(name)?.kind {
            FunctionKind::Scalar(ScalarImpl::Udf(u)) => Some(Arc::clone(u)),
            _ => None,
        }
    }

    /// An aggregate implemented by a UDAF, by KQL name.
    pub fn aggregate_udaf(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        match &self.functions.get(name)?.kind {
            FunctionKind::Aggregate {
                imp: AggregateImpl::Udaf(u),
                ..
            } => Some(Arc::clone(u)),
            _ => None,
        }
    }

    /// Whether `name` is an aggregate.
    pub fn is_aggregate(&self, name: &str) -> bool {
        self.functions.get(name).is_some_and(Function::is_aggregate)
    }

    /// Every function, internal ones included, by name.
    pub fn functions(&self) -> impl Iterator<Item = &Function> {
        self.functions.values()
    }
}

fn not_found(what: &str, name: &str) -> DataFusionError {
    DataFusionError::Plan(format!("There is no {what} named '{name}'"))
}

/// DataFusion's own functions, by name (the planner uses some of them directly).
struct Defaults {
    udfs: BTreeMap<String, Arc<ScalarUDF>>,
    udafs: BTreeMap<String, Arc<AggregateUDF>>,
    udwfs: BTreeMap<String, Arc<WindowUDF>>,
}

static DEFAULTS: LazyLock<Defaults> = LazyLock::new(|| {
    let mut udfs: BTreeMap<String, Arc<ScalarUDF>> = BTreeMap::new();
    for f in datafusion_functions::all_default_functions()
        .into_iter()
        .chain(datafusion_functions_nested::all_default_nested_functions())
    {
        for a in f.aliases() {
            udfs.insert(a.clone(), Arc::clone(&f));
        }
        udfs.insert(f.name().to_string(), f);
    }
    let mut udafs: BTreeMap<String, Arc<AggregateUDF>> = BTreeMap::new();
    for f in datafusion_functions_aggregate::all_default_aggregate_functions() {
        for a in f.aliases() {
            udafs.insert(a.clone(), Arc::clone(&f));
        }
        udafs.insert(f.name().to_string(), f);
    }
    let mut udwfs: BTreeMap<String, Arc<WindowUDF>> = BTreeMap::new();
    for f in datafusion_functions_window::all_default_window_functions() {
        for a in f.aliases() {
            udwfs.insert(a.clone(), Arc::clone(&f));
        }
        udwfs.insert(f.name().to_string(), f);
    }
    Defaults { udfs, udafs, udwfs }
});

/// Rebuilds a plan's functions from their DataFusion names: Calypso's UDFs first, then
/// DataFusion's own.
impl FunctionRegistry for Registry {
    fn udfs(&self) -> HashSet<String> {
        self.udfs
            .keys()
            .chain(DEFAULTS.udfs.keys())
            .cloned()
            .collect()
    }

    fn higher_order_function_names(&self) -> HashSet<String> {
        HashSet::new()
    }

    fn udafs(&self) -> HashSet<String> {
        self.udafs
            .keys()
            .chain(DEFAULTS.udafs.keys())
            .cloned()
            .collect()
    }

    fn udwfs(&self) -> HashSet<String> {
        self.udwfs
            .keys()
            .chain(DEFAULTS.udwfs.keys())
            .cloned()
            .collect()
    }

    fn udf(&self, name: &str) -> DfResult<Arc<ScalarUDF>> {
        self.udfs
            .get(name)
            .or_else(|| DEFAULTS.udfs.get(name))
            .cloned()
            .ok_or_else(|| not_found("scalar function", name))
    }

    fn higher_order_function(&self, name: &str) -> DfResult<Arc<HigherOrderUDF>> {
        Err(not_found("higher-order function", name))
    }

    fn udaf(&self, name: &str) -> DfResult<Arc<AggregateUDF>> {
        self.udafs
            .get(name)
            .or_else(|| DEFAULTS.udafs.get(name))
            .cloned()
            .ok_or_else(|| not_found("aggregate function", name))
    }

    fn udwf(&self, name: &str) -> DfResult<Arc<WindowUDF>> {
        self.udwfs
            .get(name)
            .or_else(|| DEFAULTS.udwfs.get(name))
            .cloned()
            .ok_or_else(|| not_found("window function", name))
    }

    fn expr_planners(&self) -> Vec<Arc<dyn ExprPlanner>> {
        Vec::new()
    }
}
