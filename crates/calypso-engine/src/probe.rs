//! Planning that needs data: a plugin whose output columns depend on the rows
//! (`bag_unpack`, `pivot` without an output schema) makes the planner fail with
//! `PlanErrorKind::NeedsProbe` and the plan whose rows it needs. [`Engine::plan_probing`]
//! runs that plan, hands its rows to the next planning through `KqlContext::probed`, and
//! plans again, until planning succeeds.
//!
//! `externaldata` works the same way: planning asks for its sources' rows
//! (`Probe::External`), [`Engine::plan_probing`] reads them (only what the server's settings
//! allow) and hands them back through `KqlContext::external_data`.
//!
//! Contract: at most [`MAX_PROBES`] probes per query and [`MAX_PROBE_ROWS`] rows per probe
//! (the planner's probes are aggregates of one row); each probe runs with the query's
//! memory limits, on behalf of the caller, after the reads it makes are authorized.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::logical_expr::LogicalPlan;
use futures::StreamExt;
use kql_planner::{ExternalData, PlanErrorKind, Probe};
use kql_syntax::ast::Query;

use crate::error::{EngineError, Result};
use crate::security::{Caller, authorize_reads};
use crate::{Engine, RequestOptions, plan};

/// The most probes one query may ask for.
pub(crate) const MAX_PROBES: usize = 16;

/// The most bytes `externaldata` reads for one query.
pub(crate) const MAX_EXTERNAL_BYTES: usize = 1 << 30;

/// The most rows a probe may give.
pub(crate) const MAX_PROBE_ROWS: usize = 100_000;

/// The key of a probe: its plan's text.
fn key(plan: &LogicalPlan) -> String {
    plan.display_indent().to_string()
}

/// The key of an `externaldata` read.
fn external_key(data: &ExternalData) -> String {
    format!("externaldata {data:?}")
}

/// The rows of `data`'s sources among `probes`.
pub(crate) fn find_external(
    probes: &[(String, Vec<RecordBatch>)],
    data: &ExternalData,
) -> Option<Vec<RecordBatch>> {
    let k = external_key(data);
    probes
        .iter()
        .find(|(p, _)| *p == k)
        .map(|(_, rows)| rows.clone())
}

/// The rows of `plan` among `probes`.
pub(crate) fn find(
    probes: &[(String, Vec<RecordBatch>)],
    plan: &LogicalPlan,
) -> Option<Vec<RecordBatch>> {
    let k = key(plan);
    probes
        .iter()
        .find(|(p, _)| *p == k)
        .map(|(_, rows)| rows.clone())
}

impl Engine {
    /// Plans `query` for `caller` (reads authorized), computing the probes planning asks for.
    pub(crate) async fn plan_probing(
        &self,
        caller: &Caller,
        database: &str,
        options: &RequestOptions,
        query: &Query,
        text: &str,
    ) -> Result<kql_planner::PlannedQuery> {
        let mut probes: Vec<(String, Vec<RecordBatch>)> = Vec::new();
        loop {
            let wanted = {
                let mut ctx = self.context(caller, database, options)?;
                ctx.probes = Arc::new(probes.clone());
                match plan(&ctx, query, text) {
                    Ok(planned) => {
                        authorize_reads(caller, &ctx)?;
                        return Ok(planned);
                    }
                    Err(EngineError::Plan { error, message })
                        if error.kind == PlanErrorKind::NeedsProbe =>
                    {
                        let Some(p) = error.probe.clone().filter(|_| probes.len() < MAX_PROBES)
                        else {
                            return Err(EngineError::Plan { error, message });
                        };
                        authorize_reads(caller, &ctx)?;
                        p
                    }
                    Err(e) => return Err(e),
                }
            };
            match wanted.as_ref() {
                Probe::Rows(plan) => {
                    let rows = self.run_probe(plan, options).await?;
                    probes.push((key(plan), rows));
                }
                Probe::External(data) => {
                    let rows = self.read_external(data).await?;
                    probes.push((external_key(data), rows));
                }
            }
        }
    }

    /// The rows of `externaldata` sources: a handed-out blob, an http(s) URL when the
    /// server allows it (`--allow-externaldata-http`), a local file below an
    /// `--ingest-from-dir`; parsed as the declared columns (at most 1 GiB in all).
    async fn read_external(&self, data: &ExternalData) -> Result<Vec<RecordBatch>> {
        use crate::commands::ingest_from::{Source, source_of};
        let format = calypso_ingest::Format::parse(&data.format).ok_or_else(|| {
            EngineError::BadRequest(format!("externaldata: unknown format '{}'", data.format))
        })?;
        let mut out = Vec::new();
        let mut total = 0usize;
        for url in &data.urls {
            if matches!(source_of(url)?, Source::Http(_))
                && !self
                    .dm
                    .external_http
                    .load(std::sync::atomic::Ordering::Relaxed)
            {
                return Err(EngineError::BadRequest(
                    "externaldata from http(s) URLs is disabled on this server: start it with --allow-externaldata-http".into(),
                ));
            }
            let body = self.read_source(url).await?;
            total += body.len();
            if total > MAX_EXTERNAL_BYTES {
                return Err(EngineError::BadRequest(format!(
                    "externaldata: the sources are larger than {MAX_EXTERNAL_BYTES} bytes"
                )));
            }
            let opts = calypso_ingest::ReadOptions {
                source_location: url.clone(),
                ignore_first_record: data.ignore_first_record,
                ..Default::default()
            };
            let columns = data.columns.clone();
            let batches = tokio::task::spawn_blocking(move || {
                calypso_ingest::read_input(format, &body, &columns, None, &opts)
            })
            .await
            .map_err(|e| EngineError::Execution(e.to_string()))?
            .map_err(|e| EngineError::BadRequest(format!("externaldata: {e}")))?;
            out.extend(batches);
        }
        Ok(out)
    }

    async fn run_probe(
        &self,
        plan: &LogicalPlan,
        options: &RequestOptions,
    ) -> Result<Vec<RecordBatch>> {
        let session = self.query_session(options, &HashMap::new())?;
        let df = session
            .execute_logical_plan(plan.clone())
            .await
            .map_err(|e| EngineError::from_datafusion(&e))?;
        let mut stream = df
            .execute_stream()
            .await
            .map_err(|e| EngineError::from_datafusion(&e))?;
        let mut out = Vec::new();
        let mut rows = 0usize;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| EngineError::from_datafusion(&e))?;
            rows += batch.num_rows();
            if rows > MAX_PROBE_ROWS {
                return Err(EngineError::BadRequest(format!(
                    "The data a plugin reads to find its output columns has more than {MAX_PROBE_ROWS} rows"
                )));
            }
            out.push(batch);
        }
        Ok(out)
    }
}
