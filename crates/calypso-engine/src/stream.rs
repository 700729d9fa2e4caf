//! Query results as streams: a query's result tables are run one after the other and read
//! batch by batch, so that a server writes rows to the wire while DataFusion produces
//! them and no result sits in memory whole.
//!
//! Kusto's result truncation (`concepts/query-limits.md`, "Limit on result set size") is
//! resolved here once, from the request's properties and the query's `set` statements
//! ([`ResultLimits::resolve`]); its record limit goes into the plan (a `Limit` above each
//! result, so DataFusion stops producing rows), the reader applies the size limit and
//! reports which limit cut a table.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::Schema;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use futures::StreamExt;
use kql_functions::KqlType;
use kql_planner::{PlannedQuery, Render};

use crate::commands::operations::Running;
use crate::stop::{StopFlag, stoppable};
use crate::{EngineError, QueryResult, Result, ResultTable};

/// Kusto's default `truncationmaxrecords`.
pub const DEFAULT_MAX_RECORDS: u64 = 500_000;
/// Kusto's default `truncationmaxsize` (64 MB).
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The truncation request properties of a request (`notruncation`, `truncationmaxrecords`,
/// `truncationmaxsize`, `query_take_max_records`), as the client sent them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Truncation {
    /// `notruncation`.
    pub notruncation: bool,
    /// `truncationmaxrecords`.
    pub max_records: Option<u64>,
    /// `truncationmaxsize` (bytes).
    pub max_bytes: Option<u64>,
    /// `query_take_max_records`.
    pub take_max_records: Option<u64>,
}

/// The limits one query's results obey.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResultLimits {
    /// More records than this in one table: the table is cut there with a partial failure
    /// (`E_QUERY_RESULT_SET_TOO_LARGE`).
    pub max_records: Option<u64>,
    /// More value bytes than this in one table: cut, with the same partial failure.
    pub max_bytes: Option<u64>,
    /// `query_take_max_records`: tables are cut to this many records without an error.
    pub take_max_records: Option<u64>,
}

impl ResultLimits {
    /// No limits (results read by the engine itself, `Engine::execute`).
    pub const NONE: ResultLimits = ResultLimits {
        max_records: None,
        max_bytes: None,
        take_max_records: None,
    };

    /// The limits of a query from its request properties and `set` statements, as
    /// query-limits.md says: 500,000 records and 64 MB by default; `notruncation` (either
    /// way) lifts them unless `truncationmaxsize`, `truncationmaxrecords` or
    /// `query_take_max_records` is also set; a property set both ways takes the lower value.
    pub fn resolve(request: &Truncation, set: &HashMap<String, String>) -> ResultLimits {
        let set_u64 = |name: &str| set.get(name).and_then(|v| v.trim().parse::<u64>().ok());
        let lower = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let max_records = lower(request.max_records, set_u64("truncationmaxrecords"));
        let max_bytes = lower(request.max_bytes, set_u64("truncationmaxsize"));
        let take_max_records = lower(request.take_max_records, set_u64("query_take_max_records"));
        let notruncation = request.notruncation
            || set
                .get("notruncation")
                .is_some_and(|v| !v.trim().eq_ignore_ascii_case("false"));
        let any_set = max_records.is_some() || max_bytes.is_some() || take_max_records.is_some();
        if notruncation && !any_set {
            return ResultLimits::NONE;
        }
        ResultLimits {
            max_records: Some(max_records.unwrap_or(DEFAULT_MAX_RECORDS)),
            max_bytes: Some(max_bytes.unwrap_or(DEFAULT_MAX_BYTES)),
            take_max_records,
        }
    }

    /// The most rows a plan needs to produce: one past the record limit (to tell that it
    /// was exceeded), or the take limit when that is lower.
    fn plan_fetch(&self) -> Option<usize> {
        let over = self.max_records.map(|m| m.saturating_add(1));
        let n = match (over, self.take_max_records) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }?;
        Some(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

/// What a result table is, known before it runs.
#[derive(Debug, Clone)]
pub struct ResultSchema {
    /// `PrimaryResult`.
    pub name: String,
    /// Column names and KQL types.
    pub columns: Vec<(String, KqlType)>,
    /// The render request of this result, if any.
    pub render: Option<Render>,
}

/// The result plans of a query, run one at a time in their own session.
pub(crate) struct Batches {
    session: SessionContext,
    plans: VecDeque<(LogicalPlan, Vec<(String, KqlType)>)>,
    current: Option<(SendableRecordBatchStream, Vec<(String, KqlType)>)>,
    /// Stops the leaves of the current table's plan (see `stop.rs`).
    stop: StopFlag,
}

impl Drop for Batches {
    fn drop(&mut self) {
        self.stop.raise();
    }
}

impl Batches {
    /// The plans of `planned` (each under a limit of `fetch` rows when given) in `session`;
    /// also returns what each table is.
    pub(crate) fn new(
        session: SessionContext,
        planned: PlannedQuery,
        fetch: Option<usize>,
    ) -> Result<(Batches, Vec<ResultSchema>)> {
        let mut plans = VecDeque::with_capacity(planned.results.len());
        let mut tables = Vec::with_capacity(planned.results.len());
        for r in planned.results {
            let plan = match fetch {
                Some(n) => LogicalPlanBuilder::from(r.plan)
                    .limit(0, Some(n))
                    .and_then(LogicalPlanBuilder::build)
                    .map_err(|e| EngineError::from_datafusion(&e))?,
                None => r.plan,
            };
            tables.push(ResultSchema {
                name: r.name.clone().unwrap_or_else(|| "PrimaryResult".into()),
                columns: r.columns.clone(),
                render: r.render,
            });
            plans.push_back((plan, r.columns));
        }
        let batches = Batches {
            session,
            plans,
            current: None,
            stop: StopFlag::default(),
        };
        Ok((batches, tables))
    }

    /// Starts the next table (dropping what is left of the current one); false when every
    /// table was started.
    pub(crate) async fn next_table(&mut self) -> Result<bool> {
        self.current = None;
        let Some((plan, columns)) = self.plans.pop_front() else {
            return Ok(false);
        };
        let df = self
            .session
            .execute_logical_plan(plan)
            .await
            .map_err(|e| EngineError::from_datafusion(&e))?;
        let task = Arc::new(df.task_ctx());
        let physical = df
            .create_physical_plan()
            .await
            .and_then(|p| stoppable(p, &self.stop))
            .map_err(|e| EngineError::from_datafusion(&e))?;
        let stream = datafusion::physical_plan::execute_stream(physical, task)
            .map_err(|e| EngineError::from_datafusion(&e))?;
        self.current = Some((stream, columns));
        Ok(true)
    }

    /// The next batch of the current table, in canonical types; `None` at its end.
    pub(crate) async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let Some((stream, columns)) = &mut self.current else {
            return Ok(None);
        };
        loop {
            match stream.next().await {
                None => {
                    self.current = None;
                    return Ok(None);
                }
                Some(Err(e)) => {
                    self.current = None;
                    if self.stop.is_raised() {
                        return Err(EngineError::Cancelled("The query was stopped".into()));
                    }
                    return Err(EngineError::from_datafusion(&e));
                }
                Some(Ok(b)) if b.num_rows() == 0 => continue,
                Some(Ok(b)) => return normalize_batch(&b, columns).map(Some),
            }
        }
    }
}

/// A running query whose result tables are read one batch at a time
/// ([`crate::Engine::query_stream_as`]). `.cancel query` stops it (the next read fails
/// with `Cancelled`); [`QueryStream::finish`] records how it ended in `.show queries`, and
/// a stream dropped unfinished (a client that went away, a server timeout) is recorded
/// as cancelled. Dropping it stops the plan's work.
pub struct QueryStream<'a> {
    tables: Vec<ResultSchema>,
    options: HashMap<String, String>,
    limits: ResultLimits,
    batches: Batches,
    cancel: Option<tokio::sync::watch::Receiver<Option<String>>>,
    running: Option<Running<'a>>,
}

impl std::fmt::Debug for QueryStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryStream")
            .field("tables", &self.tables)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<'a> QueryStream<'a> {
    pub(crate) fn new(
        planned: PlannedQuery,
        session: SessionContext,
        limits: ResultLimits,
    ) -> Result<QueryStream<'a>> {
        let options = planned.options.clone();
        let (batches, tables) = Batches::new(session, planned, limits.plan_fetch())?;
        Ok(QueryStream {
            tables,
            options,
            limits,
            batches,
            cancel: None,
            running: None,
        })
    }

    /// The same stream, recorded in `.show queries` by `running` and stopped by `.cancel
    /// query` through `cancel`.
    pub(crate) fn with_activity(
        mut self,
        running: Running<'a>,
        cancel: tokio::sync::watch::Receiver<Option<String>>,
    ) -> QueryStream<'a> {
        // The query's own task sees the cancellation only when it yields; this watcher
        // stops the plan's leaves at once (and ends with the query).
        let stop = self.batches.stop.clone();
        let mut watch = cancel.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::select! {
                    r = watch.wait_for(Option::is_some) => {
                        if r.is_ok() {
                            stop.raise();
                        }
                    }
                    () = stop.raised() => {}
                }
            });
        }
        self.running = Some(running);
        self.cancel = Some(cancel);
        self
    }

    /// The flag that stops this query's work from another task (see `stop.rs`).
    pub fn stop_flag(&self) -> StopFlag {
        self.batches.stop.clone()
    }

    /// A failure of a query that `.cancel query` stopped is its cancellation.
    fn or_cancelled<T>(&self, r: Result<T>) -> Result<T> {
        if r.is_err()
            && let Some(reason) = self.cancel.as_ref().and_then(|c| c.borrow().clone())
        {
            return Err(EngineError::Cancelled(format!(
                "The query was cancelled: {reason}"
            )));
        }
        r
    }

    /// What the result tables are, in order.
    pub fn tables(&self) -> &[ResultSchema] {
        &self.tables
    }

    /// The query's `set` statements (name → value text).
    pub fn options(&self) -> &HashMap<String, String> {
        &self.options
    }

    /// The result limits the query obeys (see [`ResultLimits::resolve`]); the record limit
    /// is already in the plans (they produce at most one row more than it).
    pub fn limits(&self) -> ResultLimits {
        self.limits
    }

    /// Starts the next result table; false when all were started.
    pub async fn next_table(&mut self) -> Result<bool> {
        let Some(cancel) = &mut self.cancel else {
            return self.batches.next_table().await;
        };
        let r = tokio::select! {
            r = self.batches.next_table() => r,
            reason = cancel.wait_for(Option::is_some) => Err(cancelled(reason)),
        };
        self.or_cancelled(r)
    }

    /// The next batch of the current table, `None` at its end (or before any table was
    /// started). Fails with `Cancelled` once `.cancel query` asked the query to stop.
    pub async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let Some(cancel) = &mut self.cancel else {
            return self.batches.next_batch().await;
        };
        let r = tokio::select! {
            r = self.batches.next_batch() => r,
            reason = cancel.wait_for(Option::is_some) => Err(cancelled(reason)),
        };
        self.or_cancelled(r)
    }

    /// Records the query's outcome (`.show queries`).
    pub fn finish<T>(mut self, outcome: &Result<T>) {
        if let Some(r) = self.running.take() {
            r.finish(outcome);
        }
    }

    /// Reads every table whole, without limits, and records the outcome.
    pub async fn collect(mut self) -> Result<QueryResult> {
        let mut tables = Vec::with_capacity(self.tables.len());
        let schemas = self.tables.clone();
        let r: Result<()> = async {
            for t in &schemas {
                if !self.next_table().await? {
                    break;
                }
                let mut batches = Vec::new();
                while let Some(b) = self.next_batch().await? {
                    batches.push(b);
                }
                tables.push(ResultTable {
                    name: t.name.clone(),
                    columns: t.columns.clone(),
                    batches,
                    render: t.render.clone(),
                });
            }
            Ok(())
        }
        .await;
        let options = std::mem::take(&mut self.options);
        self.finish(&r);
        r.map(|()| QueryResult {
            tables,
            options,
            command: None,
        })
    }
}

fn cancelled<E>(
    reason: std::result::Result<tokio::sync::watch::Ref<'_, Option<String>>, E>,
) -> EngineError {
    let reason = reason.ok().and_then(|r| r.clone()).unwrap_or_default();
    EngineError::Cancelled(format!("The query was cancelled: {reason}"))
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
    // A result may have rows and no columns (`union kind=inner` of tables with none in
    // common): the row count is given.
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new(schema.fields().clone())),
        arrays,
        &options,
    )
    .map_err(|e| EngineError::Execution(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_kustos() {
        let l = ResultLimits::resolve(&Truncation::default(), &HashMap::new());
        assert_eq!(l.max_records, Some(500_000));
        assert_eq!(l.max_bytes, Some(67_108_864));
        assert_eq!(l.take_max_records, None);
        assert_eq!(l.plan_fetch(), Some(500_001));
    }

    #[test]
    fn notruncation_lifts_the_limits_unless_a_limit_is_also_set() {
        let none = ResultLimits::resolve(&Truncation::default(), &set(&[("notruncation", "true")]));
        assert_eq!(none, ResultLimits::NONE);
        assert_eq!(none.plan_fetch(), None);
        let request = Truncation {
            notruncation: true,
            ..Default::default()
        };
        assert_eq!(
            ResultLimits::resolve(&request, &HashMap::new()),
            ResultLimits::NONE
        );
        // query-limits.md: notruncation is ignored when a limit is set too.
        let l = ResultLimits::resolve(&request, &set(&[("truncationmaxrecords", "10")]));
        assert_eq!(l.max_records, Some(10));
        assert_eq!(l.max_bytes, Some(DEFAULT_MAX_BYTES));
        let l = ResultLimits::resolve(&request, &set(&[("query_take_max_records", "7")]));
        assert_eq!(l.take_max_records, Some(7));
        assert_eq!(l.plan_fetch(), Some(7));
        // `set notruncation=false;` does not lift them.
        let l = ResultLimits::resolve(&Truncation::default(), &set(&[("notruncation", "false")]));
        assert_eq!(l.max_records, Some(DEFAULT_MAX_RECORDS));
    }

    #[test]
    fn a_limit_set_twice_takes_the_lower_value() {
        let request = Truncation {
            max_records: Some(100),
            max_bytes: Some(1000),
            ..Default::default()
        };
        let l = ResultLimits::resolve(
            &request,
            &set(&[
                ("truncationmaxrecords", "1105"),
                ("truncationmaxsize", "10"),
            ]),
        );
        assert_eq!(l.max_records, Some(100));
        assert_eq!(l.max_bytes, Some(10));
    }
}
