//! `materialize()`: a table that computes its plan once per query and serves the cached
//! batches to every use.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::datasource::TableProvider;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, TableType};
use datafusion::physical_plan::{ExecutionPlan, collect};
use tokio::sync::OnceCell;

/// A plan evaluated at most once; scans share the result.
#[derive(Debug)]
pub(crate) struct MaterializedPlan {
    plan: LogicalPlan,
    schema: SchemaRef,
    cache: OnceCell<Vec<RecordBatch>>,
}

impl MaterializedPlan {
    pub(crate) fn new(plan: LogicalPlan) -> MaterializedPlan {
        let schema = Arc::new(plan.schema().as_arrow().clone());
        MaterializedPlan {
            plan,
            schema,
            cache: OnceCell::new(),
        }
    }
}

#[async_trait]
impl TableProvider for MaterializedPlan {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batches = self
            .cache
            .get_or_try_init(|| async {
                let physical = state.create_physical_plan(&self.plan).await?;
                collect(physical, state.task_ctx()).await
            })
            .await?;
        let exec = MemorySourceConfig::try_new_exec(
            std::slice::from_ref(batches),
            self.schema(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}
