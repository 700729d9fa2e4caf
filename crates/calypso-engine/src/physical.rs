//! Changes to DataFusion's physical optimizer rules.
//!
//! `aggregate_statistics` answers an aggregate without a GROUP BY from exact statistics
//! (`T | count` from the extents' row counts). Looking for the partial aggregate under a
//! final one, it walks past a partial aggregate that has a FILTER (`dcountif`,
//! `countif`, `sumif`, ...) down to another aggregate further below, and answers the top
//! aggregate with the lower one's value: a wrong result, or an internal error when the
//! column names differ (`T | take 0 | count | summarize dcountif(Count, true)`, found by
//! fuzzing). [`GuardedAggregateStatistics`] runs the rule only on plans without filtered
//! aggregates.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNode;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::aggregate_statistics::AggregateStatistics;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;

/// DataFusion's `aggregate_statistics`, skipped for plans with a filtered aggregate.
#[derive(Debug, Default)]
pub(crate) struct GuardedAggregateStatistics {
    inner: AggregateStatistics,
}

impl PhysicalOptimizerRule for GuardedAggregateStatistics {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if has_filtered_aggregate(&plan) {
            return Ok(plan);
        }
        self.inner.optimize(plan, config)
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn schema_check(&self) -> bool {
        self.inner.schema_check()
    }
}

/// Whether any aggregate of `plan` has a FILTER clause.
fn has_filtered_aggregate(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.exists(|p| {
        Ok(p.downcast_ref::<AggregateExec>()
            .is_some_and(|a| a.filter_expr().iter().any(Option::is_some)))
    })
    // The walk cannot fail; if it did, not optimizing is the safe answer.
    .unwrap_or(true)
}

/// DataFusion's default physical rules, with `aggregate_statistics` guarded.
pub(crate) fn rules(
    defaults: &[Arc<dyn PhysicalOptimizerRule + Send + Sync>],
) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    defaults
        .iter()
        .map(|r| {
            if r.name() == "aggregate_statistics" {
                Arc::new(GuardedAggregateStatistics::default()) as _
            } else {
                Arc::clone(r)
            }
        })
        .collect()
}
