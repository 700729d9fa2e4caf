//! Stopping a query's work when its result is dropped.
//!
//! Dropping a DataFusion stream aborts the tasks it spawned, but an abort takes effect only
//! when the task yields, and a task fed by a CPU-bound source (the `range` generator, a
//! decoded extent in memory) yields only when its cooperative budget runs out: after 128
//! batches, up to a second of work in a debug build. Every leaf of a query's physical plan
//! is therefore wrapped in a [`StopExec`] that fails its next batch once the query's
//! [`StopFlag`] is raised: by `.cancel query` (a watcher task of the engine), by the
//! server when the client goes away or `servertimeout` passes (a watcher task of the
//! server), and when the query's stream is dropped.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::StreamExt;

/// Raised once: the plan's leaves produce nothing more. Clones share the flag, so that
/// a watcher on another thread can stop a query whose own task is busy computing (it
/// notices a cancellation or a closed connection only when it yields).
#[derive(Debug, Default, Clone)]
pub struct StopFlag(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    raised: AtomicBool,
    notify: tokio::sync::Notify,
}

impl StopFlag {
    /// Stops the query: each leaf of its plan fails its next batch.
    pub fn raise(&self) {
        self.0.raised.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Whether [`StopFlag::raise`] was called.
    pub fn is_raised(&self) -> bool {
        self.0.raised.load(Ordering::SeqCst)
    }

    /// Waits until the flag is raised (the query was dropped or stopped), so that a
    /// watcher ends with the query.
    pub async fn raised(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }
}

/// `plan` with each leaf (and each `range` generator) wrapped in a [`StopExec`] watching
/// `flag`.
pub(crate) fn stoppable(
    plan: Arc<dyn ExecutionPlan>,
    flag: &StopFlag,
) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|p| {
        // A range generator makes its rows from one input row: it is a source too.
        if p.children().is_empty() || p.downcast_ref::<crate::range::RangeExec>().is_some() {
            let wrapped: Arc<dyn ExecutionPlan> = Arc::new(StopExec {
                input: p,
                flag: flag.clone(),
            });
            Ok(Transformed::yes(wrapped))
        } else {
            Ok(Transformed::no(p))
        }
    })
    .map(|t| t.data)
}

/// A leaf's batches until the flag is raised, then an error (nobody reads it: the
/// consumer is gone; it ends the tasks that still pull from the leaf).
#[derive(Debug)]
pub(crate) struct StopExec {
    input: Arc<dyn ExecutionPlan>,
    flag: StopFlag,
}

impl DisplayAs for StopExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StopExec")
    }
}

impl ExecutionPlan for StopExec {
    fn name(&self) -> &str {
        "StopExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(StopExec {
                input,
                flag: self.flag.clone(),
            })),
            _ => Err(DataFusionError::Internal(
                "StopExec takes exactly one child".into(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let inner = self.input.execute(partition, context)?;
        let schema = inner.schema();
        let flag = self.flag.clone();
        let stream = inner.map(move |batch| {
            if flag.is_raised() {
                Err(DataFusionError::Execution("The query was stopped".into()))
            } else {
                batch
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
