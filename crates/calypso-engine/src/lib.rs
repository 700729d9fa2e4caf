//! The engine facade: `execute(database, text, options) → result tables`.
//!
//! ```text
//! text --kql_syntax::parse--> AST --kql_planner::plan_query--> LogicalPlan(s)
//!      --DataFusion (optimize, execute)--> RecordBatches --normalize--> ResultTable(s)
//! ```
//!
//! The engine owns the DataFusion `SessionContext` and the databases. Result types are
//! plain Rust/Arrow values; only the server knows the Kusto wire format.

mod cluster;
mod commands;
pub mod display;
pub mod error;
mod materialize;
mod memory;
mod physical;
mod probe;
pub mod queued;
mod range;
mod rls;
pub mod security;
mod stop;
mod stream;
mod table;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use calypso_storage::{Catalog, Storage};
use datafusion::datasource::{TableProvider, provider_as_source};
use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;
use kql_functions::KqlType;
use kql_planner::{KqlContext, PlannedQuery, PrincipalInfo, StoredFunction, TableRef};
use kql_syntax::ast::{Query, StatementKind};

pub use calypso_storage::StorageOptions;
pub use commands::ingest::{IngestSummary, MappingSpec};
pub use error::{EngineError, Result};
pub use kql_planner::Render;
pub use security::Caller;
pub use stop::StopFlag;
pub use stream::{
    DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS, QueryStream, ResultLimits, ResultSchema, Truncation,
};

/// The database every Calypso instance has (as on the ADX emulator).
pub const DEFAULT_DATABASE: &str = "NetDefaultDB";

/// Request options (client request properties and `set` statements).
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// Query parameters: name → KQL literal text.
    pub parameters: HashMap<String, String>,
    /// Override of `now()` (nanoseconds since the epoch), from `query_now`.
    pub query_now: Option<i64>,
    /// The request's ClientRequestId (`x-ms-client-request-id`): `.show queries` lists it
    /// as the ClientActivityId and `.cancel query` names queries by it.
    pub client_request_id: Option<String>,
    /// The client application (`x-ms-app`).
    pub application: Option<String>,
    /// The client's user name (`x-ms-user`).
    pub user: Option<String>,
    /// `max_memory_consumption_per_query_per_node`: the most memory the query may hold
    /// (default [`memory::DEFAULT_QUERY_LIMIT`], 8 GiB).
    pub max_memory_per_query: Option<u64>,
    /// `maxmemoryconsumptionperiterator`: the most memory one operator may hold (default
    /// [`memory::DEFAULT_ITERATOR_LIMIT`], 5 GiB; at most 30 GiB).
    pub max_memory_per_iterator: Option<u64>,
    /// The truncation properties of a client's request; `None` (the engine's own reads,
    /// `Engine::execute`): results are not truncated.
    pub truncation: Option<Truncation>,
    /// The server's address as clients reach it (`http://host:port`: the configured public
    /// address, else the request's `Host`), for the URLs of `.get ingestion resources`.
    pub public_url: Option<String>,
}

/// One result table.
#[derive(Debug, Clone)]
pub struct ResultTable {
    /// `PrimaryResult` for query results, `Table_0` for command results.
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

    /// What the table is, without its rows.
    pub fn schema(&self) -> ResultSchema {
        ResultSchema {
            name: self.name.clone(),
            columns: self.columns.clone(),
            render: self.render.clone(),
        }
    }
}

/// The outcome of a query or command.
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    /// One table per result statement (one table for a command).
    pub tables: Vec<ResultTable>,
    /// Options from `set` statements.
    pub options: HashMap<String, String>,
    /// For a control command, its official kind (`ShowVersion`): what the server needs to
    /// know to render it, without reading the command's text.
    pub command: Option<&'static str>,
}

/// The KQL engine: DataFusion for execution, [`Storage`] for tables and the catalog.
pub struct Engine {
    session: SessionContext,
    /// The memory all queries together may hold (see `memory.rs`).
    memory: Arc<dyn datafusion::execution::memory_pool::MemoryPool>,
    storage: Storage,
    started_nanos: i64,
    /// The record of recent queries and commands (`.show queries`, `.cancel query`).
    activity: commands::operations::Activity,
    /// What `cluster("...")` may say to mean this cluster.
    cluster_names: std::sync::RwLock<cluster::ClusterNames>,
    /// Queued ingestion's containers, queues and worker.
    dm: queued::Dm,
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

/// The planner's view of one database for one request, on behalf of one caller. It
/// records the databases the query names and the tables the plan reads (in the request's
/// database and through `database("D")`), to check them afterwards
/// ([`security::authorize_reads`]).
pub(crate) struct Ctx<'a> {
    storage: &'a Storage,
    pub(crate) catalog: Arc<Catalog>,
    /// The catalog and the row store the query reads (`catalog` is its catalog).
    snapshot: calypso_storage::Snapshot,
    pub(crate) database: String,
    options: &'a RequestOptions,
    /// Tables by name that the query sees before the catalog's (a command's result, an
    /// update policy's new rows).
    extra: Vec<(&'a str, Arc<dyn TableProvider>)>,
    caller: &'a Caller,
    cluster_names: cluster::ClusterNames,
    /// (database, table) pairs read so far.
    reads: std::sync::Mutex<Vec<(String, String)>>,
    /// Databases named by `database("D")` so far.
    databases: std::sync::Mutex<Vec<String>>,
    /// Tables read as stored although they have a row-level security policy: inside that
    /// policy's own query.
    rls_bypass: Vec<(String, String)>,
    /// Why a table's row-level security policy could not be applied, when one could not.
    failures: std::sync::Mutex<Vec<String>>,
    /// The rows of plans planning asked for (`probe.rs`), by the plan's displayed text.
    pub(crate) probes: Arc<Vec<(String, Vec<RecordBatch>)>>,
}

/// Appends `item` to a recording list unless it is there.
fn record<T: PartialEq>(list: &std::sync::Mutex<Vec<T>>, item: T) {
    let mut l = list
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !l.contains(&item) {
        l.push(item);
    }
}

impl<'a> Ctx<'a> {
    /// The catalog tables the planner read so far, as (database, table).
    pub(crate) fn tables_read(&self) -> Vec<(String, String)> {
        self.reads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The databases the query named with `database("D")`.
    pub(crate) fn databases_named(&self) -> Vec<String> {
        self.databases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn read_table(&self, database: &str, name: &str) -> Option<TableRef> {
        self.catalog.table(database, name)?;
        record(&self.reads, (database.to_string(), name.to_string()));
        if let Some(view) = rls::view(self, database, name) {
            return view;
        }
        let provider: Arc<dyn TableProvider> = self
            .storage
            .extent_table(&self.snapshot, database, name)
            .ok()?;
        Some(TableRef {
            source: provider_as_source(provider),
        })
    }

    /// A context for planning a row-level security query of `database`, with `bypass`.
    pub(crate) fn child(&self, database: &str, bypass: Vec<(String, String)>) -> Ctx<'a> {
        Ctx {
            storage: self.storage,
            catalog: Arc::clone(&self.catalog),
            snapshot: self.snapshot.clone(),
            database: database.to_string(),
            options: self.options,
            extra: Vec::new(),
            caller: self.caller,
            cluster_names: self.cluster_names.clone(),
            reads: std::sync::Mutex::new(Vec::new()),
            databases: std::sync::Mutex::new(Vec::new()),
            rls_bypass: bypass,
            failures: std::sync::Mutex::new(Vec::new()),
            probes: Arc::clone(&self.probes),
        }
    }

    /// Records why planning could not use something it needed (see [`plan`]).
    pub(crate) fn record_failure(&self, why: String) {
        record(&self.failures, why);
    }

    /// Takes over what a child context read, for authorization.
    pub(crate) fn absorb(&self, child: &Ctx<'_>) {
        let failures = child.failures.lock().map(|r| r.clone()).unwrap_or_default();
        for f in failures {
            record(&self.failures, f);
        }
        let reads = child.reads.lock().map(|r| r.clone()).unwrap_or_default();
        for r in reads {
            record(&self.reads, r);
        }
        let dbs = child
            .databases
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        for d in dbs {
            record(&self.databases, d);
        }
    }

    fn stored_function(&self, database: &str, name: &str) -> Option<StoredFunction> {
        let f = self.catalog.databases.get(database)?.functions.get(name)?;
        Some(StoredFunction {
            text: format!("{} {}", f.parameters, f.body),
        })
    }
}

impl KqlContext for Ctx<'_> {
    /// DataFusion's `range` table (a lazy generator of batches).
    fn series(&self, start: i64, step: i64, count: i64) -> Option<TableRef> {
        use datafusion::functions_table::generate_series::{GenSeriesArgs, GenerateSeriesTable};
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("value", arrow::datatypes::DataType::Int64, false),
        ]));
        // The last value; none when the series is empty (then `start..start` is).
        let (end, include_end) = match count.checked_sub(1) {
            Some(last) if last >= 0 => (start.checked_add(last.checked_mul(step)?)?, true),
            _ => (start, false),
        };
        let table = GenerateSeriesTable::new(
            schema,
            GenSeriesArgs::Int64Args {
                start,
                end,
                step: if step == 0 { 1 } else { step },
                include_end,
                name: "range",
            },
        );
        Some(TableRef {
            source: provider_as_source(Arc::new(table)),
        })
    }

    fn table(&self, name: &str) -> Option<TableRef> {
        if let Some((_, t)) = self.extra.iter().find(|(n, _)| *n == name) {
            return Some(TableRef {
                source: provider_as_source(Arc::clone(t)),
            });
        }
        self.read_table(&self.database, name)
    }
    fn has_table(&self, name: &str) -> bool {
        self.extra.iter().any(|(n, _)| *n == name) || self.database_has_table(&self.database, name)
    }
    fn table_names(&self) -> Vec<String> {
        self.catalog
            .databases
            .get(&self.database)
            .map(|d| d.tables.keys().cloned().collect())
            .unwrap_or_default()
    }
    fn database(&self, name: &str) -> Option<String> {
        self.catalog.databases.get(name)?;
        record(&self.databases, name.to_string());
        Some(name.to_string())
    }
    fn database_table(&self, database: &str, name: &str) -> Option<TableRef> {
        self.read_table(database, name)
    }
    fn database_has_table(&self, database: &str, name: &str) -> bool {
        self.catalog.table(database, name).is_some()
    }
    fn database_function(&self, database: &str, name: &str) -> Option<StoredFunction> {
        self.stored_function(database, name)
    }
    fn is_this_cluster(&self, name: &str) -> bool {
        self.cluster_names.is_this(name)
    }
    fn principal(&self) -> PrincipalInfo {
        match self.caller {
            Caller::Unauthenticated => PrincipalInfo::default(),
            Caller::Principal(id) => PrincipalInfo {
                fqn: id.fqn(),
                details_json: id.details_json().to_string(),
            },
        }
    }
    fn principal_is_member_of(&self, principal: &str) -> std::result::Result<bool, String> {
        let name = calypso_auth::PrincipalName::parse(principal).map_err(|e| e.to_string())?;
        Ok(match self.caller {
            Caller::Unauthenticated => false,
            Caller::Principal(id) => id.matches(&name, None),
        })
    }
    fn function(&self, name: &str) -> Option<StoredFunction> {
        self.stored_function(&self.database, name)
    }
    fn parameter(&self, name: &str) -> Option<String> {
        self.options.parameters.get(name).cloned()
    }
    fn now_nanos(&self) -> i64 {
        self.options
            .query_now
            .unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0))
    }
    fn probed(&self, plan: &datafusion::logical_expr::LogicalPlan) -> Option<Vec<RecordBatch>> {
        probe::find(&self.probes, plan)
    }

    fn external_data(&self, data: &kql_planner::ExternalData) -> Option<TableRef> {
        let rows = probe::find_external(&self.probes, data)?;
        let schema = Arc::new(arrow::datatypes::Schema::new(
            data.columns
                .iter()
                .map(|(n, t)| arrow::datatypes::Field::new(n, t.to_arrow(), true))
                .collect::<Vec<_>>(),
        ));
        let table = datafusion::datasource::MemTable::try_new(schema, vec![rows]).ok()?;
        Some(TableRef {
            source: provider_as_source(Arc::new(table)),
        })
    }

    fn materialize(&self, plan: &datafusion::logical_expr::LogicalPlan) -> Option<TableRef> {
        let table: Arc<dyn TableProvider> =
            Arc::new(materialize::MaterializedPlan::new(plan.clone()));
        Some(TableRef {
            source: provider_as_source(table),
        })
    }
}

/// True when the text is a control command (starts with `.` after blanks and comments).
pub fn is_command(text: &str) -> bool {
    kql_syntax::lexer::is_command_text(text)
}

impl Engine {
    /// An engine whose storage lives in memory (tests, `calypso query`).
    pub fn new() -> Engine {
        Self::with_storage(Storage::in_memory())
    }

    /// An engine over a data directory on local disk (created on first use).
    pub async fn open(data_dir: &Path) -> Result<Engine> {
        Engine::open_with(data_dir, StorageOptions::default()).await
    }

    /// [`Engine::open`] with storage options (row store sealing, merge period, ...).
    pub async fn open_with(data_dir: &Path, options: StorageOptions) -> Result<Engine> {
        let storage = Storage::open_local_with(data_dir, options).await?;
        let engine = Self::with_storage(storage);
        engine.ensure_default_database().await?;
        Ok(engine)
    }

    fn with_storage(storage: Storage) -> Engine {
        // Merges keep the queued-message ids of extents only while the messages wait.
        storage.keep_sources_while(queued::queues::LIVE_SOURCES);
        let config = SessionConfig::new()
            .with_information_schema(false)
            .set_bool(
                "datafusion.execution.parquet.schema_force_view_types",
                false,
            )
            .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false)
            // Round-robin repartitioning buffers without bound when the consumer (a
            // client reading a streamed result) is slower than the producer; scans of
            // stored tables are split into partitions anyway.
            .set_bool("datafusion.optimizer.enable_round_robin_repartition", false);
        let state = SessionContext::new_with_config(config).state();
        let rules = physical::rules(state.physical_optimizers());
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_physical_optimizer_rules(rules)
            .build();
        Engine {
            session: SessionContext::new_with_state(state),
            memory: memory::default_server_pool(),
            storage,
            started_nanos: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
            activity: Default::default(),
            cluster_names: std::sync::RwLock::new(cluster::ClusterNames::default()),
            dm: queued::Dm::new(),
        }
    }

    /// Tells the engine its own addresses, so that `cluster("...")` naming one of them reads
    /// this cluster: the listen address (`http://127.0.0.1:8080`, `127.0.0.1:8080`) and the
    /// public cluster URL (`https://calypso.contoso.com:8443`). A loopback or unspecified
    /// listen host also answers to `localhost`, `127.0.0.1` and `::1` on its port. Until
    /// this is called, `cluster()` naming any local host is this cluster.
    pub fn set_cluster_names<S: AsRef<str>>(&self, names: impl IntoIterator<Item = S>) {
        let names = cluster::ClusterNames::new(names);
        *self
            .cluster_names
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = names;
    }

    /// Creates `NetDefaultDB` when missing.
    pub async fn ensure_default_database(&self) -> Result<()> {
        if self
            .storage
            .catalog()
            .databases
            .contains_key(DEFAULT_DATABASE)
        {
            return Ok(());
        }
        self.storage
            .commit(|c| {
                c.databases
                    .entry(DEFAULT_DATABASE.to_string())
                    .or_insert_with(|| {
                        calypso_storage::Database {
                            name: DEFAULT_DATABASE.to_string(),
                            id: uuid::Uuid::new_v4().to_string(),
                            persistent: true,
                            created_on: chrono::Utc::now().to_rfc3339(),
                            ..Default::default()
                        }
                        .into()
                    });
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// The storage layer.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    fn context<'a>(
        &'a self,
        caller: &'a Caller,
        database: &str,
        options: &'a RequestOptions,
    ) -> Result<Ctx<'a>> {
        let snapshot = self.storage.snapshot();
        let catalog = Arc::clone(&snapshot.catalog);
        if !catalog.databases.contains_key(database) {
            return Err(EngineError::UnknownDatabase(database.to_string()));
        }
        Ok(Ctx {
            storage: &self.storage,
            catalog,
            snapshot,
            database: database.to_string(),
            options,
            extra: Vec::new(),
            caller,
            cluster_names: self
                .cluster_names
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            reads: std::sync::Mutex::new(Vec::new()),
            databases: std::sync::Mutex::new(Vec::new()),
            rls_bypass: Vec::new(),
            failures: std::sync::Mutex::new(Vec::new()),
            probes: Arc::new(Vec::new()),
        })
    }

    /// Parses a query, refusing control commands.
    fn parse_query(text: &str) -> Result<Query> {
        let query = Self::parse(text)?;
        if query
            .statements
            .iter()
            .any(|s| matches!(s.kind, StatementKind::Command(_)))
        {
            return Err(EngineError::BadRequest(
                "A control command cannot run as a query".into(),
            ));
        }
        Ok(query)
    }

    fn parse(text: &str) -> Result<Query> {
        let parsed = kql_syntax::parse(text);
        if let Some(d) = parsed.diagnostics.first() {
            return Err(EngineError::Syntax(d.render(text)));
        }
        Ok(parsed.query)
    }

    /// Parses and plans a query without running it.
    pub fn plan(
        &self,
        database: &str,
        text: &str,
        options: &RequestOptions,
    ) -> Result<PlannedQuery> {
        let query = Self::parse_query(text)?;
        let ctx = self.context(&security::UNAUTHENTICATED, database, options)?;
        plan(&ctx, &query, text)
    }

    /// Runs a query or a control command and returns its result tables, as the
    /// unauthenticated caller (every permission; see [`Engine::execute_as`]).
    pub async fn execute(
        &self,
        database: &str,
        text: &str,
        options: &RequestOptions,
    ) -> Result<QueryResult> {
        self.execute_as(&security::UNAUTHENTICATED, database, text, options)
            .await
    }

    /// Runs the query of a command (`.set-or-append T <| query`) on behalf of `caller`
    /// (whose right to query the database was checked with the command).
    pub(crate) async fn run_query_ast(
        &self,
        caller: &Caller,
        database: &str,
        query: &Query,
        options: &RequestOptions,
    ) -> Result<QueryResult> {
        let planned = self
            .plan_probing(caller, database, options, query, &query.to_string())
            .await?;
        self.run_planned(planned, options).await
    }

    /// Runs `text` over a command's result (`name`); tables it names besides are read
    /// from the default database, on behalf of `caller`.
    pub(crate) async fn execute_with_extra_table(
        &self,
        caller: &Caller,
        text: &str,
        name: &str,
        table: Arc<dyn TableProvider>,
    ) -> Result<QueryResult> {
        let query = Self::parse(text)?;
        let options = RequestOptions::default();
        let mut ctx = self.context(caller, DEFAULT_DATABASE, &options)?;
        ctx.extra = vec![(name, table)];
        let planned = plan(&ctx, &query, text)?;
        security::authorize_reads(caller, &ctx)?;
        self.run_planned(planned, &options).await
    }

    /// A session for one query: the engine's state with the query's own memory pool (see
    /// `memory.rs`) and no spilling to disk.
    fn query_session(
        &self,
        options: &RequestOptions,
        set: &HashMap<String, String>,
    ) -> Result<SessionContext> {
        use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
        use datafusion::execution::runtime_env::RuntimeEnvBuilder;
        let state = self.session.state();
        let (query, iterator) = memory::limits(options, set)?;
        let runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
            .with_memory_pool(Arc::new(memory::QueryPool::new(
                query,
                iterator,
                Arc::clone(&self.memory),
            )))
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()
            .map_err(|e| EngineError::Execution(e.strip_backtrace()))?;
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime)
            .build();
        Ok(SessionContext::new_with_state(state))
    }

    /// Runs a planned query to the end, without result limits (the query of a command).
    async fn run_planned(
        &self,
        planned: PlannedQuery,
        options: &RequestOptions,
    ) -> Result<QueryResult> {
        let session = self.query_session(options, &planned.options)?;
        QueryStream::new(planned, session, ResultLimits::NONE)?
            .collect()
            .await
    }
}

/// Plans a query; when planning failed because a table's row-level security policy could
/// not be applied, the error says so rather than calling the table unknown.
fn plan(ctx: &Ctx<'_>, query: &Query, text: &str) -> Result<PlannedQuery> {
    kql_planner::plan_query(ctx, query).map_err(|error| {
        let failures = ctx.failures.lock().map(|f| f.clone()).unwrap_or_default();
        match failures.into_iter().next() {
            Some(why) => EngineError::BadRequest(why),
            None => EngineError::Plan {
                message: error.render(text),
                error,
            },
        }
    })
}
