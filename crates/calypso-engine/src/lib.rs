//! The engine facade: `execute(database, text, options) → result tables`.
//!
//! ```text
//! text --kql_syntax::parse--> AST --kql_planner::plan_query--> LogicalPlan(s)
//!      --DataFusion (optimize, execute)--> RecordBatches --normalize--> ResultTable(s)
//! ```
//!
//! The engine owns the DataFusion `SessionContext` and the databases. Result types are
//! plain Rust/Arrow values; only the server knows the Kusto wire format.

pub mod display;
pub mod error;
mod materialize;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Schema};
use datafusion::datasource::{MemTable, TableProvider, provider_as_source};
use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;
use kql_functions::KqlType;
use kql_planner::{KqlContext, PlannedQuery, Render, StoredFunction, TableRef};
use kql_syntax::ast::StatementKind;

pub use error::{EngineError, Result};

/// The database every Calypso instance has (as on the ADX emulator).
pub const DEFAULT_DATABASE: &str = "NetDefaultDB";

/// Request options (client request properties and `set` statements).
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// Query parameters: name → KQL literal text.
    pub parameters: HashMap<String, String>,
    /// Override of `now()` (nanoseconds since the epoch), from `query_now`.
    pub query_now: Option<i64>,
}

/// One result table.
#[derive(Debug, Clone)]
pub struct ResultTable {
    /// `PrimaryResult` for query results.
    pub name: String,
    /// Column names and KQL types.
    pub columns: Vec<(String, KqlType)>,
    /// Rows, in Arrow batches whose types are the canonical ones of [`KqlType::to_arrow`].
    pub batches: Vec<RecordBatch>,
    /// The render request of this result, if any.
    pub render: Option<Render>,
}

impl ResultTable {
    /// Number of rows.
    pub fn row_count(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// The outcome of a query.
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    /// One table per result statement.
    pub tables: Vec<ResultTable>,
    /// Options from `set` statements.
    pub options: HashMap<String, String>,
}

/// A database: tables and stored functions.
#[derive(Debug, Default)]
pub struct Database {
    tables: BTreeMap<String, Arc<dyn TableProvider>>,
    functions: BTreeMap<String, String>,
}

/// The in-process KQL engine.
pub struct Engine {
    session: SessionContext,
    databases: RwLock<BTreeMap<String, Database>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

struct Ctx<'a> {
    db: &'a Database,
    options: &'a RequestOptions,
}

impl KqlContext for Ctx<'_> {
    fn table(&self, name: &str) -> Option<TableRef> {
        self.db.tables.get(name).map(|t| TableRef {
            source: provider_as_source(Arc::clone(t)),
        })
    }
    fn function(&self, name: &str) -> Option<StoredFunction> {
        self.db
            .functions
            .get(name)
            .map(|t| StoredFunction { text: t.clone() })
    }
    fn parameter(&self, name: &str) -> Option<String> {
        self.options.parameters.get(name).cloned()
    }
    fn now_nanos(&self) -> i64 {
        self.options
            .query_now
            .unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0))
    }
    fn materialize(&self, plan: &datafusion::logical_expr::LogicalPlan) -> Option<TableRef> {
        let table: Arc<dyn TableProvider> =
            Arc::new(materialize::MaterializedPlan::new(plan.clone()));
        Some(TableRef {
            source: provider_as_source(table),
        })
    }
}

impl Engine {
    /// An engine with the default database and no tables.
    pub fn new() -> Engine {
        let config = SessionConfig::new()
            .with_information_schema(false)
            .set_bool(
                "datafusion.execution.parquet.schema_force_view_types",
                false,
            )
            .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false);
        let mut dbs = BTreeMap::new();
        dbs.insert(DEFAULT_DATABASE.to_string(), Database::default());
        Engine {
            session: SessionContext::new_with_config(config),
            databases: RwLock::new(dbs),
        }
    }

    /// Adds (or replaces) an in-memory table from record batches.
    pub fn register_table(
        &self,
        database: &str,
        name: &str,
        columns: &[(String, KqlType)],
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        let schema = kql_functions::types::schema(columns);
        let table = MemTable::try_new(schema, vec![batches])
            .map_err(|e| EngineError::Execution(e.to_string()))?;
        let mut dbs = self
            .databases
            .write()
            .map_err(|_| EngineError::Execution("catalog lock poisoned".into()))?;
        let db = dbs.entry(database.to_string()).or_default();
        db.tables.insert(name.to_string(), Arc::new(table));
        Ok(())
    }

    /// Adds (or replaces) a stored function: `text` is `(params) { body }`.
    pub fn register_function(&self, database: &str, name: &str, text: &str) -> Result<()> {
        let mut dbs = self
            .databases
            .write()
            .map_err(|_| EngineError::Execution("catalog lock poisoned".into()))?;
        dbs.entry(database.to_string())
            .or_default()
            .functions
            .insert(name.to_string(), text.to_string());
        Ok(())
    }

    /// Parses and plans a query without running it.
    pub fn plan(
        &self,
        database: &str,
        text: &str,
        options: &RequestOptions,
    ) -> Result<PlannedQuery> {
        let parsed = kql_syntax::parse(text);
        if let Some(d) = parsed.diagnostics.first() {
            return Err(EngineError::Syntax(d.render(text)));
        }
        if parsed
            .query
            .statements
            .iter()
            .any(|s| matches!(s.kind, StatementKind::Command(_)))
        {
            return Err(EngineError::NotImplemented(
                "control commands (they are served by `calypso serve`, see the server issue)"
                    .into(),
            ));
        }
        let dbs = self
            .databases
            .read()
            .map_err(|_| EngineError::Execution("catalog lock poisoned".into()))?;
        let db = dbs
            .get(database)
            .ok_or_else(|| EngineError::UnknownDatabase(database.to_string()))?;
        let ctx = Ctx { db, options };
        kql_planner::plan_query(&ctx, &parsed.query).map_err(|error| EngineError::Plan {
            message: error.render(text),
            error,
        })
    }

    /// Runs a query and returns its result tables.
    pub async fn execute(
        &self,
        database: &str,
        text: &str,
        options: &RequestOptions,
    ) -> Result<QueryResult> {
        let planned = self.plan(database, text, options)?;
        let mut out = QueryResult {
            tables: Vec::new(),
            options: planned.options.clone(),
        };
        for r in planned.results {
            let df = self
                .session
                .execute_logical_plan(r.plan)
                .await
                .map_err(|e| EngineError::Execution(e.strip_backtrace()))?;
            let batches = df
                .collect()
                .await
                .map_err(|e| EngineError::Execution(e.strip_backtrace()))?;
            let batches = batches
                .into_iter()
                .map(|b| normalize_batch(&b, &r.columns))
                .collect::<Result<Vec<_>>>()?;
            out.tables.push(ResultTable {
                name: "PrimaryResult".into(),
                columns: r.columns,
                batches,
                render: r.render,
            });
        }
        Ok(out)
    }
}

/// Casts every column to its canonical Arrow type and replaces null strings by "".
fn normalize_batch(b: &RecordBatch, columns: &[(String, KqlType)]) -> Result<RecordBatch> {
    let schema = kql_functions::types::schema(columns);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, (_, t)) in columns.iter().enumerate() {
        let a = b.column(i);
        let target = t.to_arrow();
        let a = if a.data_type() == &target {
            Arc::clone(a)
        } else {
            arrow::compute::cast(a, &target).map_err(|e| EngineError::Execution(e.to_string()))?
        };
        let a = if *t == KqlType::String && a.null_count() > 0 {
            let s = a.as_any().downcast_ref::<StringArray>();
            match s {
                Some(s) => Arc::new(
                    s.iter()
                        .map(|v| Some(v.unwrap_or("")))
                        .collect::<StringArray>(),
                ) as ArrayRef,
                None => a,
            }
        } else {
            a
        };
        arrays.push(a);
    }
    let _ = DataType::Null;
    RecordBatch::try_new(Arc::new(Schema::new(schema.fields().clone())), arrays)
        .map_err(|e| EngineError::Execution(e.to_string()))
}
