//! Guards around some of DataFusion's physical optimizer rules (found by fuzzing).
//!
//! * `aggregate_statistics` answers an aggregate without a GROUP BY from exact statistics
//!   (`T | count` from the extents' row counts). Looking for the partial aggregate under
//!   a final one, it walks past a partial aggregate that has a FILTER (`dcountif`,
//!   `countif`, ...) down to another aggregate further below, and answers the top one
//!   with the lower one's value: a wrong result, or an internal error when the column
//!   names differ (`T | take 0 | count | summarize dcountif(Count, true)`). It runs only
//!   on plans without filtered aggregates.
//! * `LimitAggregation` (top-k of a grouped aggregation) allocates ten hash-table slots
//!   per requested row up front: `summarize by k | top 9223372036854775807 by k` asked for
//!   300 GB and aborted the process. `LimitedDistinctAggregation` is limited the same way.
//!   Their result is kept only when every limit they set is at most
//!   [`MAX_AGGREGATE_LIMIT`]; larger ones run as a sort with a limit.
//!
//! * `EnforceSorting` pushes a sort above a union into the union's inputs and merges their
//!   sorted outputs with a `SortPreservingMergeExec`, trusting the union's equivalence
//!   properties; with a column equal to another in one input and null constants in the
//!   others (`union (U | project a = l, a1 = l), T | order by b, a1`), those lose the
//!   ordering, and `SanityCheckPlan` refuses the plan. [`OrderingsThatHold`] runs just
//!   before the check: a merge whose input does not satisfy its ordering becomes a full
//!   sort of the coalesced input (the inputs' own sorts are then wasted work, never a
//!   wrong order).
//! * An order-sensitive aggregate (`sort by f(x) | summarize make_list(1) by k` over a
//!   one-row input whose columns went through common-subexpression projections) was left
//!   without the sort it requires: `EnforceSorting` took the input as ordered, the sanity
//!   check did not. [`OrderingsThatHold`] sorts such an input by the ordering its consumer
//!   requires.
//!
//! After them runs the engine's own [`crate::range::StreamRanges`], which streams a `range`
//! whose bounds are not constants.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::tree_node::TreeNode;
use datafusion::physical_expr::LexOrdering;
use datafusion::physical_expr::expressions::Literal;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::sanity_checker::check_plan_sanity;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

/// The largest row limit a grouped aggregation is given by DataFusion's limit rules.
pub(crate) const MAX_AGGREGATE_LIMIT: usize = 100_000;

type Rule = Arc<dyn PhysicalOptimizerRule + Send + Sync>;

/// When a guarded rule may run, and whether its result may be kept.
#[derive(Debug, Clone, Copy)]
enum Guard {
    /// Not on plans with a filtered aggregate.
    NoFilteredAggregate,
    /// Only if no aggregate gets a limit above [`MAX_AGGREGATE_LIMIT`].
    SmallAggregateLimits,
}

/// A DataFusion rule behind a [`Guard`].
#[derive(Debug)]
struct Guarded {
    inner: Rule,
    guard: Guard,
}

impl PhysicalOptimizerRule for Guarded {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match self.guard {
            Guard::NoFilteredAggregate => {
                if any_aggregate(&plan, |a| a.filter_expr().iter().any(Option::is_some)) {
                    return Ok(plan);
                }
                self.inner.optimize(plan, config)
            }
            Guard::SmallAggregateLimits => {
                let optimized = self.inner.optimize(Arc::clone(&plan), config)?;
                let too_large = any_aggregate(&optimized, |a| {
                    a.limit_options()
                        .is_some_and(|l| l.limit() > MAX_AGGREGATE_LIMIT)
                });
                Ok(if too_large { plan } else { optimized })
            }
        }
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn schema_check(&self) -> bool {
        self.inner.schema_check()
    }
}

/// Whether an aggregate of `plan` satisfies `f` (true, the safe answer, if the walk fails).
fn any_aggregate(plan: &Arc<dyn ExecutionPlan>, f: impl Fn(&AggregateExec) -> bool) -> bool {
    plan.exists(|p| Ok(p.downcast_ref::<AggregateExec>().is_some_and(&f)))
        .unwrap_or(true)
}

/// Makes every ordering a plan relies on hold, just before `SanityCheckPlan` checks it:
/// a `SortPreservingMergeExec` whose input is not ordered as it requires becomes a sort of
/// the whole (coalesced) input, and any other node whose input is not ordered as it
/// requires (an order-sensitive aggregate, `make_list` after `sort`, whose sort an earlier
/// rule dropped) gets a sort of that input by the ordering it requires.
#[derive(Debug)]
struct OrderingsThatHold;

impl PhysicalOptimizerRule for OrderingsThatHold {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|p| {
            if check_plan_sanity(&p, &config.optimizer).is_ok() {
                return Ok(Transformed::no(p));
            }
            if let Some(merge) = p.downcast_ref::<SortPreservingMergeExec>() {
                let input: Arc<dyn ExecutionPlan> =
                    Arc::new(CoalescePartitionsExec::new(Arc::clone(merge.input())));
                let sort = SortExec::new(merge.expr().clone(), input)
                    .with_preserve_partitioning(false)
                    .with_fetch(merge.fetch());
                return Ok(Transformed::yes(Arc::new(sort) as Arc<dyn ExecutionPlan>));
            }
            sort_unordered_inputs(p)
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "OrderingsThatHold"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `p` with each input that does not satisfy the ordering `p` requires of it sorted by
/// that ordering (each partition on its own, so the partitioning stays).
fn sort_unordered_inputs(p: Arc<dyn ExecutionPlan>) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    let mut changed = false;
    let mut children: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
    for (child, required) in p.children().into_iter().zip(p.required_input_ordering()) {
        let Some(required) = required else {
            children.push(Arc::clone(child));
            continue;
        };
        let required = required.into_single();
        if child
            .equivalence_properties()
            .ordering_satisfy_requirement(required.clone())?
        {
            children.push(Arc::clone(child));
            continue;
        }
        // Sorting by a literal changes nothing, and the equivalence properties keep it in
        // the sort's ordering, where the requirement's literal no longer matches.
        let ordering = LexOrdering::from(required)
            .into_iter()
            .filter(|e| e.expr.downcast_ref::<Literal>().is_none());
        let Some(ordering) = LexOrdering::new(ordering) else {
            children.push(Arc::clone(child));
            continue;
        };
        let partitions = child.output_partitioning().partition_count();
        let sort =
            SortExec::new(ordering, Arc::clone(child)).with_preserve_partitioning(partitions > 1);
        children.push(Arc::new(sort));
        changed = true;
    }
    if !changed {
        return Ok(Transformed::no(p));
    }
    Ok(Transformed::yes(replace_children_if_necessary(
        p, children,
    )?))
}

/// DataFusion's default physical rules, with the guards above, then the engine's own.
pub(crate) fn rules(defaults: &[Rule]) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::with_capacity(defaults.len() + 2);
    for r in defaults {
        if r.name() == "SanityCheckPlan" {
            rules.push(Arc::new(OrderingsThatHold));
        }
        rules.push(guarded(r));
    }
    rules.push(Arc::new(crate::range::StreamRanges));
    rules
}

/// `r`, behind its guard if it has one.
fn guarded(r: &Rule) -> Rule {
    let guard = match r.name() {
        "aggregate_statistics" => Some(Guard::NoFilteredAggregate),
        "LimitAggregation" | "LimitedDistinctAggregation" => Some(Guard::SmallAggregateLimits),
        _ => None,
    };
    match guard {
        Some(guard) => Arc::new(Guarded {
            inner: Arc::clone(r),
            guard,
        }) as Rule,
        None => Arc::clone(r),
    }
}
