//! A DataFusion [`TableProvider`] over the extents of one table in one catalog snapshot.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column as DfColumn, DFSchema, ScalarValue, Statistics, project_schema};
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::{DataSourceExec, MemorySourceConfig};
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column as PhysicalColumn;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::union::UnionExec;
use kql_types::types::hidden::{EXTENT_ID, EXTENT_TAGS};
use object_store::ObjectStore;

use crate::catalog::{Catalog, ExtentMeta, Table};
use crate::error::Error;
use crate::hot::HotTable;
use crate::stats::ExtentStatistics;
use crate::store::Snapshot;

/// The columns each extent gives its rows, after the stored ones: `$ExtentId` and
/// `$ExtentTags` (per-file values of the Parquet scan).
fn extent_fields() -> [FieldRef; 2] {
    [
        Arc::new(Field::new(EXTENT_ID, DataType::FixedSizeBinary(16), true)),
        Arc::new(Field::new(EXTENT_TAGS, DataType::LargeUtf8, true)),
    ]
}

/// The values of [`extent_fields`] for extent `e`.
fn extent_values(e: &ExtentMeta) -> Vec<ScalarValue> {
    let id = uuid::Uuid::parse_str(&e.id).map_or([0; 16], |u| *u.as_bytes());
    let tags = serde_json::to_string(&e.tags).unwrap_or_else(|_| "[]".into());
    vec![
        ScalarValue::FixedSizeBinary(16, Some(id.to_vec())),
        ScalarValue::LargeUtf8(Some(tags)),
    ]
}

/// The extents and the hot rows (row store) of one table as a DataFusion table.
///
/// The schema is the table's columns with [`KqlType::to_arrow`](kql_types::KqlType::to_arrow)
/// types (`string` as `Utf8View` with `StorageOptions::string_views`), all nullable, then the hidden `$IngestionTime` (stored), `$ExtentId` and
/// `$ExtentTags` (of the extent; the row store's rows have none: null). A scan first drops the extents that the filters exclude by their
/// catalog statistics (min/max/null count), then reads the remaining files with
/// DataFusion's Parquet reader (which may skip row groups too). Columns an extent does
/// not have (added to the table after it was written) read as null. The hot rows of the
/// snapshot are read from memory, next to the extents.
pub struct ExtentTable {
    store: Arc<dyn ObjectStore>,
    url: ObjectStoreUrl,
    catalog: Arc<Catalog>,
    hot: Option<Arc<HotTable>>,
    database: String,
    table: String,
    schema: SchemaRef,
    counters: Arc<ScanCounters>,
}

/// What scans of an [`ExtentTable`] did, added up over all its scans.
#[derive(Debug, Default)]
pub struct ScanCounters {
    /// Extents handed to the Parquet reader.
    pub extents_scanned: AtomicU64,
    /// Extents skipped by their catalog statistics.
    pub extents_pruned: AtomicU64,
    /// Bytes read from the object store, by scans and everything else (merges, startup).
    pub bytes_read: AtomicU64,
}

impl ExtentTable {
    pub(crate) fn new(
        store: Arc<dyn ObjectStore>,
        url: ObjectStoreUrl,
        snapshot: &Snapshot,
        database: &str,
        table: &str,
        counters: Arc<ScanCounters>,
        string_views: bool,
    ) -> Result<ExtentTable, Error> {
        let t = snapshot.catalog.require_table(database, table)?;
        let mut fields: Vec<FieldRef> = t
            .stored_schema()
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                // The Parquet reader reads these as views of its pages and dictionaries.
                DataType::Utf8 if string_views => {
                    Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View))
                }
                _ => Arc::clone(f),
            })
            .collect();
        fields.extend(extent_fields());
        let schema = Arc::new(Schema::new(fields));
        let hot = snapshot.hot.table(&t.id).cloned();
        Ok(ExtentTable {
            store,
            url,
            catalog: Arc::clone(&snapshot.catalog),
            hot,
            database: database.to_string(),
            table: table.to_string(),
            schema,
            counters,
        })
    }

    /// The catalog snapshot this table reads.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The table's hot rows in this snapshot.
    pub fn hot_rows(&self) -> u64 {
        self.hot.as_ref().map_or(0, |h| h.rows())
    }

    /// The table's catalog entry.
    pub fn table(&self) -> Result<&Table, Error> {
        self.catalog.require_table(&self.database, &self.table)
    }

    /// The scan counters.
    pub fn counters(&self) -> &ScanCounters {
        &self.counters
    }

    /// The extents that may hold rows for which all `filters` are true.
    pub fn prune<'a>(
        &self,
        state: &dyn Session,
        table: &'a Table,
        filters: &[Expr],
    ) -> Vec<&'a ExtentMeta> {
        let all: Vec<&ExtentMeta> = table.extents.iter().map(|e| &**e).collect();
        let Some(predicate) = conjunction(filters.iter().cloned()) else {
            return all;
        };
        let keep = (|| -> DfResult<Vec<bool>> {
            // Filters name columns with the table's qualifier; the schema here has none.
            let predicate = predicate
                .transform(|e| {
                    Ok(match e {
                        Expr::Column(c) if c.relation.is_some() => {
                            Transformed::yes(Expr::Column(DfColumn::new_unqualified(c.name)))
                        }
                        e => Transformed::no(e),
                    })
                })?
                .data;
            let df_schema = DFSchema::try_from(Arc::clone(&self.schema))?;
            let physical = state.create_physical_expr(predicate, &df_schema)?;
            let pruning = PruningPredicateBuilder::new()
                .with_file_schema(Arc::clone(&self.schema))
                .with_max_in_list_size(state.config_options().execution.parquet.max_in_list_size)
                .try_build(physical)?;
            pruning.prune(&ExtentStatistics {
                columns: &table.columns,
                extents: all.clone(),
            })
        })();
        match keep {
            Ok(keep) if keep.len() == all.len() => all
                .into_iter()
                .zip(keep)
                .filter_map(|(e, k)| k.then_some(e))
                .collect(),
            // A filter the pruning cannot use: read everything.
            _ => all,
        }
    }
}

impl fmt::Debug for ExtentTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtentTable")
            .field("database", &self.database)
            .field("table", &self.table)
            .field("catalog_version", &self.catalog.version)
            .field("schema", &self.schema)
            .finish()
    }
}

fn external(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

#[async_trait]
impl TableProvider for ExtentTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Used to skip extents and row groups; DataFusion still filters the rows.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    fn statistics(&self) -> Option<Statistics> {
        let table = self.table().ok()?;
        let mut stats = Statistics::new_unknown(&self.schema);
        let rows = table.total_rows() + self.hot_rows();
        stats.num_rows = Precision::Exact(usize::try_from(rows).ok()?);
        Some(stats)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let table = self.table().map_err(external)?;
        let extents = self.prune(state, table, filters);
        let pruned = table.extents.len() - extents.len();
        self.counters
            .extents_pruned
            .fetch_add(pruned as u64, Ordering::Relaxed);
        self.counters
            .extents_scanned
            .fetch_add(extents.len() as u64, Ordering::Relaxed);
        let mut plans = Vec::new();
        if let Some(hot) = &self.hot {
            let batches = hot.batches(&self.schema).map_err(external)?;
            let source = MemorySourceConfig::try_new(
                &[batches],
                Arc::clone(&self.schema),
                projection.cloned(),
            )?
            .with_limit(limit);
            plans.push(DataSourceExec::from_data_source(source) as Arc<dyn ExecutionPlan>);
        }
        if extents.is_empty() {
            return Ok(match plans.pop() {
                Some(hot) => hot,
                None => Arc::new(EmptyExec::new(project_schema(&self.schema, projection)?)),
            });
        }

        let runtime = state.runtime_env();
        if runtime.object_store(&self.url).is_err() {
            runtime.register_object_store(self.url.as_ref(), Arc::clone(&self.store));
        }

        // Extents grouped by how their files name the table's columns: as the table does,
        // except in files written before a column was renamed, retyped or dropped.
        let mut layouts: Vec<(Vec<Option<&str>>, Vec<&ExtentMeta>)> = Vec::new();
        for e in extents {
            let names: Vec<Option<&str>> = self.schema.fields()[..self.stored_len()]
                .iter()
                .map(|f| e.file_column(f.name()))
                .collect();
            match layouts.iter_mut().find(|(n, _)| *n == names) {
                Some((_, group)) => group.push(e),
                None => layouts.push((names, vec![e])),
            }
        }
        for (names, group) in &layouts {
            plans.push(
                self.scan_files(state, names, group, projection, limit)
                    .await?,
            );
        }
        UnionExec::try_new(plans)
    }
}

impl ExtentTable {
    /// The number of stored columns (the table's and `$IngestionTime`), before the
    /// extents' own.
    fn stored_len(&self) -> usize {
        self.schema.fields().len() - extent_fields().len()
    }

    /// A Parquet scan of `extents`, whose files store table column `i` as `names[i]` (`None`:
    /// not at all, read as null), with the table's column names in its output.
    async fn scan_files(
        &self,
        state: &dyn Session,
        names: &[Option<&str>],
        extents: &[&ExtentMeta],
        projection: Option<&Vec<usize>>,
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let fields = &self.schema.fields()[..self.stored_len()];
        let as_table = names
            .iter()
            .zip(fields.iter())
            .all(|(n, f)| *n == Some(f.name().as_str()));
        let file_schema: SchemaRef = if as_table {
            Arc::new(Schema::new_with_metadata(
                fields.to_vec(),
                self.schema.metadata().clone(),
            ))
        } else {
            let renamed: Vec<Field> = fields
                .iter()
                .zip(names)
                .enumerate()
                .map(|(i, (f, n))| {
                    let name = n.map_or_else(|| format!("\u{0}calypso:absent:{i}"), str::to_string);
                    f.as_ref().clone().with_name(name)
                })
                .collect();
            Arc::new(Schema::new_with_metadata(
                renamed,
                self.schema.metadata().clone(),
            ))
        };

        let groups_count = state.config().target_partitions().clamp(1, extents.len());
        let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); groups_count];
        let mut rows = 0u64;
        for (i, e) in extents.iter().enumerate() {
            let mut file = PartitionedFile::new(e.path.clone(), e.size_bytes);
            file.partition_values = extent_values(e);
            groups[i % groups_count].push(file);
            rows += e.rows;
        }
        let mut whole: Vec<FieldRef> = file_schema.fields().iter().cloned().collect();
        whole.extend(extent_fields());
        let mut statistics = Statistics::new_unknown(&Schema::new(whole));
        if let Ok(rows) = usize::try_from(rows) {
            statistics.num_rows = Precision::Exact(rows);
        }

        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let source = format.file_source(
            TableSchema::builder(Arc::clone(&file_schema))
                .with_table_partition_cols(extent_fields().to_vec())
                .build(),
        );
        let config = FileScanConfigBuilder::new(self.url.clone(), source)
            .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
            .with_statistics(statistics)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        let scan = format.create_physical_plan(state, config).await?;
        if as_table {
            return Ok(scan);
        }
        // Back to the table's names.
        let wanted = project_schema(&self.schema, projection)?;
        let scanned = scan.schema();
        let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = wanted
            .fields()
            .iter()
            .zip(scanned.fields().iter())
            .enumerate()
            .map(|(i, (logical, file))| {
                let col: Arc<dyn PhysicalExpr> = Arc::new(PhysicalColumn::new(file.name(), i));
                (col, logical.name().clone())
            })
            .collect();
        Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
    }
}
