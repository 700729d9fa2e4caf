//! Extents (`.show cluster|database|table(s) ... extents`) and the cluster's own
//! information (`.show cluster`, `.show version`, `.show diagnostics`, `.show capacity`).

use calypso_storage::{Catalog, Database, Table};
use kql_functions::KqlType;
use kql_syntax::ast::{ExtentsCommand, ExtentsScope, TagFilter, TagTest};

use super::{db_of, table_of};
use crate::table::{Cell, guid, rfc3339_nanos, table};
use crate::{Engine, Result, ResultTable};

const EXTENTS_COLS: &[(&str, KqlType)] = &[
    ("ExtentId", KqlType::Guid),
    ("DatabaseName", KqlType::String),
    ("TableName", KqlType::String),
    ("MaxCreatedOn", KqlType::DateTime),
    ("OriginalSize", KqlType::Real),
    ("ExtentSize", KqlType::Real),
    ("CompressedSize", KqlType::Real),
    ("IndexSize", KqlType::Real),
    ("Blocks", KqlType::Long),
    ("Segments", KqlType::Long),
    ("ExtentContainerId", KqlType::String),
    ("RowCount", KqlType::Long),
    ("MinCreatedOn", KqlType::DateTime),
    ("Tags", KqlType::String),
    ("Kind", KqlType::String),
    ("DeletedRowCount", KqlType::Long),
];

/// Whether tags `tags` pass every filter of `.show extents ... where tags ...`: `has` is
/// equality, `contains` a case-insensitive substring.
fn tags_pass(tags: &[String], filters: &[TagFilter]) -> bool {
    filters.iter().all(|f| {
        let needle = f.tag.to_lowercase();
        let has = || tags.contains(&f.tag);
        let contains = || tags.iter().any(|t| t.to_lowercase().contains(&needle));
        match f.test {
            TagTest::Has => has(),
            TagTest::NotHas => !has(),
            TagTest::Contains => contains(),
            TagTest::NotContains => !contains(),
        }
    })
}

/// Which extents `.show extents` lists: its ids (none: all) and tag filters.
struct Pick<'a> {
    ids: &'a [String],
    tags: &'a [TagFilter],
}

fn extent_rows(db: &Database, tables: &[&Table], pick: &Pick<'_>, out: &mut Vec<Vec<Cell>>) {
    for t in tables {
        for e in &t.extents {
            if !pick.ids.is_empty() && !pick.ids.iter().any(|i| i.eq_ignore_ascii_case(&e.id)) {
                continue;
            }
            if !tags_pass(&e.tags, pick.tags) {
                continue;
            }
            let created = Cell::DateTime(rfc3339_nanos(&e.created_on));
            let min_created = if e.min_created_on.is_empty() {
                created.clone()
            } else {
                Cell::DateTime(rfc3339_nanos(&e.min_created_on))
            };
            // The file holds the data, its statistics and page indexes: no separate index.
            let original = if e.original_size > 0 {
                e.original_size
            } else {
                e.size_bytes
            };
            out.push(vec![
                guid(&e.id),
                db.name.clone().into(),
                t.name.clone().into(),
                created,
                Cell::Real(original as f64),
                Cell::Real(e.size_bytes as f64),
                Cell::Real(e.size_bytes as f64),
                Cell::Real(0.0),
                Cell::Long(1),
                Cell::Long(1),
                e.path.clone().into(),
                Cell::Long(e.rows as i64),
                min_created,
                e.tags.join("\r\n").into(),
                "StorageExtent".into(),
                Cell::Long(0),
            ]);
        }
    }
}

impl Engine {
    pub(crate) fn extents_command(
        &self,
        database: &str,
        cmd: &ExtentsCommand,
    ) -> Result<ResultTable> {
        let ExtentsCommand::Show { scope, ids, tags } = cmd else {
            return Err(crate::EngineError::Execution(
                "not a .show extents command".into(),
            ));
        };
        let pick = Pick { ids, tags };
        let cat = self.storage.catalog();
        let mut rows = Vec::new();
        match scope {
            ExtentsScope::Cluster => {
                for d in cat.databases.values() {
                    let tables: Vec<&Table> = d.tables.values().map(|t| &**t).collect();
                    extent_rows(d, &tables, &pick, &mut rows);
                }
            }
            ExtentsScope::Database(name) => {
                let d = db_of(&cat, name.as_ref().map_or(database, |n| n.name.as_str()))?;
                let tables: Vec<&Table> = d.tables.values().map(|t| &**t).collect();
                extent_rows(d, &tables, &pick, &mut rows);
            }
            ExtentsScope::Databases(names) => {
                for n in names {
                    let d = db_of(&cat, &n.name)?;
                    let tables: Vec<&Table> = d.tables.values().map(|t| &**t).collect();
                    extent_rows(d, &tables, &pick, &mut rows);
                }
            }
            ExtentsScope::Tables(names) => {
                let d = db_of(&cat, database)?;
                let mut tables = Vec::new();
                for n in names {
                    tables.push(table_of(d, &n.name)?);
                }
                extent_rows(d, &tables, &pick, &mut rows);
            }
        }
        table(EXTENTS_COLS, rows)
    }
}

fn cpus() -> i32 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as i32
}

/// `.show cluster`: the one node.
pub(crate) fn cluster(e: &Engine) -> Result<ResultTable> {
    table(
        &[
            ("NodeId", KqlType::String),
            ("Address", KqlType::String),
            ("Name", KqlType::String),
            ("StartTime", KqlType::DateTime),
            ("IsAdmin", KqlType::Bool),
            ("MachineTotalMemory", KqlType::Long),
            ("MachineAvailableMemory", KqlType::Long),
            ("ProcessorCount", KqlType::Int),
            ("EnvironmentDescription", KqlType::String),
        ],
        vec![vec![
            "calypso-0".into(),
            "127.0.0.1".into(),
            "calypso".into(),
            Cell::DateTime(e.started_nanos),
            Cell::Bool(true),
            Cell::Null,
            Cell::Null,
            Cell::Int(cpus()),
            "{\"Product\":\"Calypso\"}".into(),
        ]],
    )
}

/// `.show version`.
pub(crate) fn version(e: &Engine) -> Result<ResultTable> {
    table(
        &[
            ("BuildVersion", KqlType::String),
            ("BuildTime", KqlType::DateTime),
            ("ServiceType", KqlType::String),
            ("ProductVersion", KqlType::String),
        ],
        vec![vec![
            env!("CARGO_PKG_VERSION").into(),
            Cell::DateTime(e.started_nanos),
            "Engine".into(),
            format!("Calypso {}", env!("CARGO_PKG_VERSION")).into(),
        ]],
    )
}

/// `.show capacity`: the concurrency each kind of work may use on this node.
pub(crate) fn capacity(_e: &Engine) -> Result<ResultTable> {
    let n = i64::from(cpus());
    let rows = [
        ("ingestions", n * 10),
        ("queries", n * 10),
        ("merges", 1),
        ("extents-purge-rebuild", 1),
        ("export", n),
        ("materialized-view", 1),
        ("stored-query-results", n),
        ("streaming-ingestion-post-processing", n),
    ]
    .into_iter()
    .map(|(name, total)| {
        vec![
            name.into(),
            Cell::Long(total),
            Cell::Long(0),
            Cell::Long(total),
        ]
    })
    .collect();
    table(
        &[
            ("Resource", KqlType::String),
            ("Total", KqlType::Long),
            ("Consumed", KqlType::Long),
            ("Remaining", KqlType::Long),
        ],
        rows,
    )
}

/// The columns of `.show diagnostics`, as Kusto's result schema has them (its list names
/// `DataPartitioningOperationsInProgress` twice; the binder keeps the first).
const DIAGNOSTICS_COLS: &[(&str, KqlType)] = {
    use KqlType::*;
    &[
        ("IsHealthy", Bool),
        ("EnvironmentDescription", String),
        ("IsScaleOutRequired", Bool),
        ("MachinesTotal", Int),
        ("MachinesOffline", Int),
        ("NodeLastRestartedOn", DateTime),
        ("AdminLastElectedOn", DateTime),
        ("ExtentsTotal", Int),
        ("DiskColdAllocationPercentage", Int),
        ("InstancesTargetBasedOnDataCapacity", Int),
        ("TotalOriginalDataSize", Real),
        ("TotalExtentSize", Real),
        ("IngestionsLoadFactor", Real),
        ("IngestionsInProgress", Long),
        ("IngestionsSuccessRate", Real),
        ("MergesInProgress", Long),
        ("BuildVersion", String),
        ("BuildTime", DateTime),
        ("ClusterDataCapacityFactor", Real),
        ("IsDataWarmingRequired", Bool),
        ("DataWarmingLastRunOn", DateTime),
        ("MergesSuccessRate", Real),
        ("NotHealthyReason", String),
        ("IsAttentionRequired", Bool),
        ("AttentionRequiredReason", String),
        ("ProductVersion", String),
        ("FailedIngestOperations", Int),
        ("FailedMergeOperations", Int),
        ("MaxExtentsInSingleTable", Int),
        ("TableWithMaxExtents", String),
        ("MergesLoadFactor", Real),
        ("WarmExtentSize", Real),
        ("NumberOfDatabases", Int),
        ("PurgeExtentsRebuildLoadFactor", Real),
        ("PurgeExtentsRebuildInProgress", Long),
        ("PurgesInProgress", Long),
        ("RowStoreLocalStorageCapacityFactor", Real),
        ("ExportsLoadFactor", Real),
        ("ExportsInProgress", Long),
        ("PendingContinuousExports", Long),
        ("MaxContinuousExportLatenessMinutes", Long),
        ("RowStoreSealsInProgress", Long),
        ("IsRowStoreUnhealthy", Bool),
        ("MachinesSuspended", Int),
        ("DataPartitioningLoadFactor", Real),
        ("DataPartitioningOperationsInProgress", Long),
        ("MinPartitioningPercentageInSingleTable", Real),
        ("TableWithMinPartitioningPercentage", String),
        ("V3DataCapacityFactor", Real),
        ("MaterializedViewsInProgress", Long),
        ("IngestionCapacityUtilization", Real),
        ("ShardsWarmingStatus", String),
        ("ShardsWarmingTemperature", Real),
        ("ShardsWarmingDetails", String),
        ("StoredQueryResultsInProgress", Long),
        ("HotDataDiskSpaceUsage", Real),
        ("MirroringOperationsLoadFactor", Real),
        ("MirroringOperationsInProgress", Long),
        ("QueryAccelerationLoadFactor", Real),
        ("QueryAccelerationInProgress", Long),
        ("QueryAccelerationCapacityUtilization", Real),
        ("GraphSnapshotsLoadFactor", Real),
        ("GraphSnapshotsInProgress", Long),
    ]
};

/// `.show diagnostics`: the node's health, with real database, extent and size totals;
/// the load and warming figures of ADX's machinery that Calypso does not have are 0.
pub(crate) fn diagnostics(e: &Engine, cat: &Catalog) -> Result<ResultTable> {
    let mut extents = 0i64;
    let mut size = 0f64;
    let mut max_extents = 0i64;
    let mut max_table = String::new();
    for d in cat.databases.values() {
        for t in d.tables.values() {
            let n = t.extents.len() as i64;
            extents += n;
            size += t.extents.iter().map(|x| x.size_bytes as f64).sum::<f64>();
            if n > max_extents {
                max_extents = n;
                max_table = format!("[{}].[{}]", d.name, t.name);
            }
        }
    }
    let row = DIAGNOSTICS_COLS
        .iter()
        .map(|(name, ty)| match *name {
            "IsHealthy" => Cell::Bool(true),
            "EnvironmentDescription" => "{\"Product\":\"Calypso\"}".into(),
            "MachinesTotal" | "InstancesTargetBasedOnDataCapacity" => Cell::Int(1),
            "NodeLastRestartedOn" | "AdminLastElectedOn" | "BuildTime" => {
                Cell::DateTime(e.started_nanos)
            }
            "ExtentsTotal" => Cell::Int(extents as i32),
            "TotalOriginalDataSize" | "TotalExtentSize" => Cell::Real(size),
            "IngestionsSuccessRate" | "MergesSuccessRate" => Cell::Real(100.0),
            "BuildVersion" => env!("CARGO_PKG_VERSION").into(),
            "ProductVersion" => format!("Calypso {}", env!("CARGO_PKG_VERSION")).into(),
            "MaxExtentsInSingleTable" => Cell::Int(max_extents as i32),
            "TableWithMaxExtents" => max_table.clone().into(),
            "NumberOfDatabases" => Cell::Int(cat.databases.len() as i32),
            _ => match ty {
                KqlType::Bool => Cell::Bool(false),
                KqlType::Int => Cell::Int(0),
                KqlType::Long => Cell::Long(0),
                KqlType::Real => Cell::Real(0.0),
                KqlType::String => String::new().into(),
                _ => Cell::Null,
            },
        })
        .collect();
    table(DIAGNOSTICS_COLS, vec![row])
}
