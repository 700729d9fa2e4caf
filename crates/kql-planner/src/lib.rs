//! KQL AST → DataFusion `LogicalPlan`.
//!
//! The planner sees the world only through [`KqlContext`]: tables, stored functions,
//! request parameters and options. It depends on `datafusion-expr`, never on DataFusion's
//! core, storage or the server.
//!
//! ```text
//! Query (AST) --plan_query--> PlannedQuery { results: [PlannedResult { LogicalPlan, render }], sets }
//! ```

mod aggregates;
mod call;
pub mod error;
mod expr;
mod functions;
mod hidden;
mod leaf;
mod literal;
mod naming;
mod ops;
mod planner;
mod plugins;
mod qualified;
mod scope;
mod subquery;
mod tabular;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion_common::ScalarValue;
use datafusion_expr::{LogicalPlan, TableSource};
use kql_functions::KqlType;
use kql_syntax::ast::{Query, StatementKind};

pub use error::{PlanError, PlanErrorKind, Probe, Result};
pub use literal::{literal_to_scalar, scalar_type};

/// The tabular operators the planner plans, by their KQL names (aliases included), for
/// `calypso coverage`. Every other operator parses and is refused as not implemented.
pub fn planned_operators() -> impl Iterator<Item = &'static str> {
    ops::PLANNED.iter().copied()
}

/// The sources of an `externaldata` operator, as the planner asks for them.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalData {
    /// The declared columns.
    pub columns: Vec<(String, KqlType)>,
    /// The source URLs (or local paths), in order.
    pub urls: Vec<String>,
    /// `format` (csv unless given).
    pub format: String,
    /// `ignoreFirstRecord`.
    pub ignore_first_record: bool,
}

/// A table the planner can read.
#[derive(Clone)]
pub struct TableRef {
    /// DataFusion's view of the table (the engine wraps its `TableProvider`).
    pub source: Arc<dyn TableSource>,
}

impl std::fmt::Debug for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableRef").finish_non_exhaustive()
    }
}

/// A stored function (`.create-or-alter function`).
#[derive(Debug, Clone)]
pub struct StoredFunction {
    /// The declaration as KQL text: `(params) { body }`.
    pub text: String,
}

/// The principal running a query, as `current_principal()` and
/// `current_principal_details()` show it. Plain text: the planner knows nothing of
/// authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalInfo {
    /// The fully qualified name, `aaduser=<object id>;<tenant>`; `""` without authentication.
    pub fqn: String,
    /// A JSON object's text (`{}` without authentication).
    pub details_json: String,
}

impl Default for PrincipalInfo {
    fn default() -> Self {
        PrincipalInfo {
            fqn: String::new(),
            details_json: "{}".into(),
        }
    }
}

/// What the planner may ask of its surroundings.
pub trait KqlContext {
    /// A table of the current database, by name: the planner reads it. Name resolution
    /// that only asks whether a name is a table calls [`KqlContext::has_table`].
    fn table(&self, name: &str) -> Option<TableRef>;
    /// The names of the current database's tables (`search` without `in`). None by default.
    fn table_names(&self) -> Vec<String> {
        Vec::new()
    }
    /// Whether `name` is a table of the current database (without reading it).
    fn has_table(&self, name: &str) -> bool {
        self.table(name).is_some()
    }
    /// A stored function of the current database, by name.
    fn function(&self, name: &str) -> Option<StoredFunction>;
    /// `database("name")`: the name of that database of this cluster (as the other
    /// `database_*` methods take it), or `None` when there is none. No other database by
    /// default.
    fn database(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }
    /// A table of `database` (a name [`KqlContext::database`] returned): the planner reads it.
    fn database_table(&self, database: &str, name: &str) -> Option<TableRef> {
        let _ = (database, name);
        None
    }
    /// Whether `name` is a table of `database` (without reading it).
    fn database_has_table(&self, database: &str, name: &str) -> bool {
        self.database_table(database, name).is_some()
    }
    /// A stored function of `database`.
    fn database_function(&self, database: &str, name: &str) -> Option<StoredFunction> {
        let _ = (database, name);
        None
    }
    /// `cluster("name")`: whether `name` (a host, `host:port` or URL, as a client writes
    /// it) is this cluster. Only this cluster's tables can be read; any other cluster is a
    /// cross-cluster query, which is not supported. No cluster is this one by default.
    fn is_this_cluster(&self, name: &str) -> bool {
        let _ = name;
        false
    }
    /// A request parameter's value as KQL literal text (bound by `declare query_parameters`).
    fn parameter(&self, name: &str) -> Option<String>;
    /// The time `now()` returns, in nanoseconds since the Unix epoch.
    fn now_nanos(&self) -> i64;
    /// A table of one `Int64` column `value` holding `start, start + step, ...` (`count`
    /// values), produced in batches as it is read and declared ordered (the `range`
    /// operator with constant bounds). `None`: `range` builds its rows in one array.
    fn series(&self, start: i64, step: i64, count: i64) -> Option<TableRef> {
        let _ = (start, step, count);
        None
    }
    /// `materialize(plan)`: a table that computes `plan` once per query and caches it.
    /// `None` means the plan is inlined (computed at every use).
    fn materialize(&self, plan: &LogicalPlan) -> Option<TableRef> {
        let _ = plan;
        None
    }
    /// The rows of `plan` when the caller computed them after planning asked for them
    /// ([`PlanErrorKind::NeedsProbe`]); plans are matched by their displayed text. `None`:
    /// not computed (planning then fails with `NeedsProbe` naming the plan).
    fn probed(&self, plan: &LogicalPlan) -> Option<Vec<arrow::array::RecordBatch>> {
        let _ = plan;
        None
    }
    /// The rows of `externaldata` sources when the caller read them after planning asked
    /// ([`Probe::External`]). `None`: not read (planning then fails with `NeedsProbe`).
    fn external_data(&self, data: &ExternalData) -> Option<TableRef> {
        let _ = data;
        None
    }
    /// The principal running the query (`current_principal()`,
    /// `current_principal_details()`); nobody by default.
    fn principal(&self) -> PrincipalInfo {
        PrincipalInfo::default()
    }
    /// `current_principal_is_member_of()`: whether the caller is the principal named
    /// `principal` (`aaduser=...`, `aadapp=...`) or a member of that group (`aadgroup=...`).
    /// `Err` carries the message for a malformed name. False by default.
    fn principal_is_member_of(&self, principal: &str) -> std::result::Result<bool, String> {
        let _ = principal;
        Ok(false)
    }
}

/// The visualization a `render` operator asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Render {
    /// Chart type (`timechart`, `table`, ...).
    pub visualization: String,
    /// Properties (`title`, `xcolumn`, ...), values as text.
    pub properties: Vec<(String, String)>,
}

/// One result of a query (a tabular expression statement).
#[derive(Debug, Clone)]
pub struct PlannedResult {
    /// The plan.
    pub plan: LogicalPlan,
    /// Column names and KQL types, in order.
    pub columns: Vec<(String, KqlType)>,
    /// `render` at the end of the pipeline.
    pub render: Option<Render>,
    /// The result table's name when the query gives one (`fork` legs: `name=` or `as`);
    /// `None`: the default (`PrimaryResult`).
    pub name: Option<String>,
}

/// A planned query: its results and the options its `set` statements gave.
#[derive(Debug, Clone, Default)]
pub struct PlannedQuery {
    /// One per result statement.
    pub results: Vec<PlannedResult>,
    /// `set name = value` statements, values as text (`true` when no value was given).
    pub options: HashMap<String, String>,
}

/// Plans every statement of a query.
pub fn plan_query(ctx: &dyn KqlContext, query: &Query) -> Result<PlannedQuery> {
    let mut planner = planner::Planner::new(ctx);
    let mut out = PlannedQuery::default();
    for st in &query.statements {
        match &st.kind {
            StatementKind::Set { name, value } => {
                let v = value.as_ref().map_or("true".to_string(), |v| v.to_string());
                if name == "query_now"
                    && let Some(v) = value
                {
                    planner.set_now(v)?;
                }
                out.options.insert(name.clone(), v);
            }
            StatementKind::Expr(e) => {
                for (plan, render, name) in planner.plan_result(e)? {
                    let plan = subquery::in_subqueries_outside_filters(plan)
                        .map_err(|e| error::internal(e.to_string()))?;
                    let columns = leaf::kql_columns(&plan)?;
                    out.results.push(PlannedResult {
                        plan,
                        columns,
                        render,
                        name,
                    });
                }
            }
            StatementKind::Command(_) => {
                return Err(error::semantic(
                    st.span.0,
                    "Control commands cannot be mixed with queries",
                ));
            }
            StatementKind::Let { .. }
            | StatementKind::DeclareQueryParameters(_)
            | StatementKind::Alias { .. }
            | StatementKind::Restrict(_) => planner.statement(st)?,
        }
    }
    if out.results.is_empty() {
        return Err(error::semantic(
            None,
            "The query has no tabular expression statement to return",
        ));
    }
    Ok(out)
}

/// Parses a KQL literal text (a request parameter value) as a value of `ty`.
pub fn parse_parameter_value(text: &str, ty: KqlType) -> Result<ScalarValue> {
    literal::parse_value_text(text, ty)
}
