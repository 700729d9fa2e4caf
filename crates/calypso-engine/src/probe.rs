//! Planning that needs data: a plugin whose output columns depend on the rows
//! (`bag_unpack`, `pivot` without an output schema) makes the planner fail with
//! `PlanErrorKind::NeedsProbe` and the plan whose rows it needs. [`Engine::plan_probing`]
//! runs that plan, hands its rows to the next planning through `KqlContext::probed`, and
//! plans again, until planning succeeds.
//!
//! Contract: at most [`MAX_PROBES`] probes per query and [`MAX_PROBE_ROWS`] rows per probe
//! (the planner's probes are aggregates of one row); each probe runs with the query's
//! memory limits, on behalf of the caller, after the reads it makes are authorized.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::logical_expr::LogicalPlan;
use futures::StreamExt;
use kql_planner::PlanErrorKind;
use kql_syntax::ast::Query;

use crate::error::{EngineError, Result};
use crate::security::{Caller, authorize_reads};
use crate::{Engine, RequestOptions, plan};

/// The most probes one query may ask for.
pub(crate) const MAX_PROBES: usize = 16;

/// The most rows a probe may give.
pub(crate) const MAX_PROBE_ROWS: usize = 100_000;

/// The key of a probe: its plan's text.
fn key(plan: &LogicalPlan) -> String {
    plan.display_indent().to_string()
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
            let rows = self.run_probe(&wanted, options).await?;
            probes.push((key(&wanted), rows));
        }
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
