//! `range` with bounds that are not constants, streamed.
//!
//! The planner writes `range x from a to toscalar(...) step s` as an unnest of
//! `__range_indexes(__range_count(a, b, s))`: correct, but the list is built whole, and a
//! range of two billion rows would need 16 GB before the first row comes out. The
//! physical rule [`StreamRanges`] replaces that unnest with a [`RangeExec`], which evaluates
//! the count for each row of its input (the one row carrying the subqueries' values) and
//! produces the indexes `0..count` lazily, `batch_size` at a time. The logical plan keeps
//! the plain function, so it stays serialisable; a plan this rule did not see still runs,
//! up to `RANGE_INDEXES_MAX` rows.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::unnest::UnnestExec;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::StreamExt;
use kql_functions::operators::RANGE_INDEXES;

/// The physical optimizer rule that streams `__range_indexes` unnests.
#[derive(Debug, Default)]
pub(crate) struct StreamRanges;

impl PhysicalOptimizerRule for StreamRanges {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|p| {
            Ok(match range_of(&p) {
                Some(range) => Transformed::yes(Arc::new(range) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(p),
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "StreamRanges"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The [`RangeExec`] for `Unnest(Projection([__range_indexes(count)]))`, if `p` is one.
fn range_of(p: &Arc<dyn ExecutionPlan>) -> Option<RangeExec> {
    let unnest = p.downcast_ref::<UnnestExec>()?;
    let [list] = unnest.list_column_indices() else {
        return None;
    };
    if list.depth != 1 || !unnest.struct_column_indices().is_empty() {
        return None;
    }
    let schema = unnest.schema();
    if schema.fields().len() != 1 || schema.field(0).data_type() != &DataType::Int64 {
        return None;
    }
    let projection = unnest.input().downcast_ref::<ProjectionExec>()?;
    let [item] = projection.expr() else {
        return None;
    };
    let call = item.expr.downcast_ref::<ScalarFunctionExpr>()?;
    let [count] = call.args() else {
        return None;
    };
    if call.name() != RANGE_INDEXES {
        return None;
    }
    Some(RangeExec::new(
        Arc::clone(count),
        Arc::clone(projection.input()),
        schema,
    ))
}

/// For each input row, the indexes `0..count` (`count` evaluated on the row; null or
/// negative is none), in one Int64 column, at most `batch_size` per batch.
#[derive(Debug)]
pub(crate) struct RangeExec {
    count: Arc<dyn PhysicalExpr>,
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl RangeExec {
    fn new(count: Arc<dyn PhysicalExpr>, input: Arc<dyn ExecutionPlan>, schema: SchemaRef) -> Self {
        let partitions = input.properties().output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        RangeExec {
            count,
            input,
            schema,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for RangeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RangeExec: count={}", self.count)
    }
}

/// Where a [`RangeExec`] stream is: the counts of the input batch being read, the row,
/// and the next index of that row.
struct Cursor {
    input: SendableRecordBatchStream,
    count: Arc<dyn PhysicalExpr>,
    counts: Int64Array,
    row: usize,
    next: i64,
    batch_size: usize,
    schema: SchemaRef,
}

impl Cursor {
    /// The next batch of indexes, `None` at the end of the input.
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut values: Vec<i64> = Vec::with_capacity(self.batch_size);
        while values.len() < self.batch_size {
            if self.row < self.counts.len() {
                let count = if self.counts.is_null(self.row) {
                    0
                } else {
                    self.counts.value(self.row)
                };
                if self.next < count {
                    let room = i64::try_from(self.batch_size - values.len()).unwrap_or(i64::MAX);
                    let end = count.min(self.next.saturating_add(room));
                    values.extend(self.next..end);
                    self.next = end;
                } else {
                    self.row += 1;
                    self.next = 0;
                }
                continue;
            }
            match self.input.next().await {
                Some(batch) => {
                    let batch = batch?;
                    let counts = self.count.evaluate(&batch)?.into_array(batch.num_rows())?;
                    let counts = arrow::compute::cast(&counts, &DataType::Int64)?;
                    self.counts = counts.as_primitive::<Int64Type>().clone();
                    self.row = 0;
                    self.next = 0;
                }
                None => break,
            }
        }
        if values.is_empty() {
            return Ok(None);
        }
        let column = Arc::new(Int64Array::from(values));
        Ok(Some(RecordBatch::try_new(
            Arc::clone(&self.schema),
            vec![column],
        )?))
    }
}

impl ExecutionPlan for RangeExec {
    fn name(&self) -> &str {
        "RangeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        f(&self.count)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(RangeExec::new(
                Arc::clone(&self.count),
                input,
                Arc::clone(&self.schema),
            ))),
            _ => Err(DataFusionError::Internal(
                "RangeExec takes exactly one child".into(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let batch_size = context.session_config().batch_size().max(1);
        let cursor = Cursor {
            input: self.input.execute(partition, context)?,
            count: Arc::clone(&self.count),
            counts: Int64Array::from(Vec::<i64>::new()),
            row: 0,
            next: 0,
            batch_size,
            schema: Arc::clone(&self.schema),
        };
        let stream = futures::stream::try_unfold(cursor, |mut cursor| async move {
            Ok(cursor.next_batch().await?.map(|batch| (batch, cursor)))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_plan::test::TestMemoryExec;

    fn counts_input(counts: Vec<Option<i64>>) -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("c", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(counts))],
        )
        .expect("batch");
        TestMemoryExec::try_new_exec(&[vec![batch]], schema, None).expect("memory exec")
    }

    async fn run(counts: Vec<Option<i64>>, batch_size: usize) -> Vec<Vec<i64>> {
        let input = counts_input(counts);
        let count = col("c", &input.schema()).expect("column");
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("__i", DataType::Int64, true),
        ]));
        let exec = RangeExec::new(count, input, schema);
        let config = datafusion::prelude::SessionConfig::new().with_batch_size(batch_size);
        let ctx = Arc::new(TaskContext::default().with_session_config(config));
        let mut stream = exec.execute(0, ctx).expect("execute");
        let mut out = Vec::new();
        while let Some(batch) = stream.next().await {
            let batch = batch.expect("batch");
            out.push(
                batch
                    .column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec(),
            );
        }
        out
    }

    #[tokio::test]
    async fn indexes_come_in_batches_of_at_most_batch_size() {
        let batches = run(vec![Some(7)], 3).await;
        assert_eq!(batches, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
    }

    #[tokio::test]
    async fn rows_follow_each_other_and_empty_counts_give_nothing() {
        let batches = run(vec![Some(2), None, Some(0), Some(-5), Some(3)], 4).await;
        assert_eq!(batches, vec![vec![0, 1, 0, 1], vec![2]]);
        assert!(run(vec![None, Some(0)], 4).await.is_empty());
    }

    #[tokio::test]
    async fn a_huge_count_is_produced_lazily() {
        let input = counts_input(vec![Some(i64::MAX)]);
        let count = col("c", &input.schema()).expect("column");
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("__i", DataType::Int64, true),
        ]));
        let exec = RangeExec::new(count, input, schema);
        let mut stream = exec
            .execute(0, Arc::new(TaskContext::default()))
            .expect("execute");
        let mut rows = 0;
        for _ in 0..3 {
            rows += stream
                .next()
                .await
                .expect("a batch")
                .expect("ok")
                .num_rows();
        }
        assert_eq!(rows, 3 * 8192);
    }

    #[tokio::test]
    async fn a_raised_stop_flag_ends_the_generator() {
        let input = counts_input(vec![Some(i64::MAX)]);
        let count = col("c", &input.schema()).expect("column");
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("__i", DataType::Int64, true),
        ]));
        let exec: Arc<dyn ExecutionPlan> = Arc::new(RangeExec::new(count, input, schema));
        let flag = crate::stop::StopFlag::default();
        let plan = crate::stop::stoppable(exec, &flag).expect("stoppable");
        // The generator itself is wrapped, not only the leaf under it (which is done
        // after its one row).
        assert_eq!(plan.name(), "StopExec");
        let mut stream = plan
            .execute(0, Arc::new(TaskContext::default()))
            .expect("execute");
        assert!(stream.next().await.expect("a batch").is_ok());
        flag.raise();
        assert!(stream.next().await.expect("an item").is_err());
    }
}
