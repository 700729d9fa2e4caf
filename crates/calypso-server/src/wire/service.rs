//! Contents shared by v1 and v2 replies: the `Visualization` property of each result
//! (`@ExtendedProperties`) and the `QueryResourceConsumption` statistics.

use arrow::array::{Array, RecordBatch};
use calypso_engine::{Render, ResultTable};
use kql_types::KqlType;
use serde_json::{Map, Value, json};

use super::errors::ResponseContext;

/// The keys of the `Visualization` property, in the order ADX writes them (2023).
pub const VISUALIZATION_KEYS: [&str; 19] = [
    "Visualization",
    "Title",
    "XColumn",
    "Series",
    "YColumns",
    "AnomalyColumns",
    "XTitle",
    "YTitle",
    "XAxis",
    "YAxis",
    "Legend",
    "YSplit",
    "Accumulate",
    "IsQuerySorted",
    "Kind",
    "Ymin",
    "Ymax",
    "Xmin",
    "Xmax",
];

/// The `Visualization` object of a result: every key null except `Accumulate` and
/// `IsQuerySorted` (false) and `Ymin`/`Ymax` (`"NaN"`), then what `render` set.
pub fn visualization(render: Option<&Render>) -> Value {
    let mut m = Map::new();
    for k in VISUALIZATION_KEYS {
        let v = match k {
            "Accumulate" | "IsQuerySorted" => Value::Bool(false),
            "Ymin" | "Ymax" => Value::String("NaN".into()),
            _ => Value::Null,
        };
        m.insert(k.to_string(), v);
    }
    if let Some(render) = render {
        m.insert(
            "Visualization".into(),
            Value::String(render.visualization.clone()),
        );
        for (name, text) in &render.properties {
            let Some(key) = VISUALIZATION_KEYS
                .iter()
                .find(|k| k.eq_ignore_ascii_case(name) && **k != "Visualization")
            else {
                continue;
            };
            m.insert((*key).to_string(), property_value(key, text));
        }
    }
    Value::Object(m)
}

/// The `Visualization` object as the JSON text `@ExtendedProperties` carries.
pub fn visualization_text(render: Option<&Render>) -> String {
    visualization(render).to_string()
}

fn property_value(key: &str, text: &str) -> Value {
    let text = text.trim();
    match key {
        "Accumulate" => Value::Bool(text.eq_ignore_ascii_case("true")),
        "Ymin" | "Ymax" | "Xmin" | "Xmax" => match text.parse::<f64>() {
            Ok(f) => super::values::real_json(f),
            Err(_) if key.starts_with('Y') => Value::String("NaN".into()),
            Err(_) => Value::String(text.to_string()),
        },
        "Series" | "YColumns" | "AnomalyColumns" => {
            let inner = text
                .strip_prefix('(')
                .and_then(|t| t.strip_suffix(')'))
                .unwrap_or(text);
            let list: Vec<&str> = inner
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            Value::String(list.join(","))
        }
        _ => Value::String(text.to_string()),
    }
}

/// The rows and value bytes of one result table as written (`dataset_statistics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Rows written.
    pub rows: u64,
    /// Their value bytes ([`batch_size`]).
    pub bytes: u64,
}

impl TableStats {
    /// The statistics of a whole table.
    pub fn of(table: &ResultTable) -> TableStats {
        let mut s = TableStats::default();
        for b in &table.batches {
            s.add(b, &table.columns);
        }
        s
    }

    /// Counts `batch` in.
    pub fn add(&mut self, batch: &RecordBatch, columns: &[(String, KqlType)]) {
        self.rows += batch.num_rows() as u64;
        self.bytes += batch_size(batch, columns);
    }
}

/// An estimate of the bytes of a batch's values, as the result size limit
/// (`truncationmaxsize`) and `dataset_statistics.table_size` count them: fixed widths per
/// type plus the bytes of string and dynamic values.
pub fn batch_size(batch: &RecordBatch, columns: &[(String, KqlType)]) -> u64 {
    let rows = batch.num_rows() as u64;
    columns
        .iter()
        .zip(batch.columns())
        .map(|((_, t), a)| match t {
            KqlType::Bool => rows,
            KqlType::Int => 4 * rows,
            KqlType::Long | KqlType::Real | KqlType::DateTime | KqlType::TimeSpan => 8 * rows,
            KqlType::Decimal | KqlType::Guid => 16 * rows,
            KqlType::String | KqlType::Dynamic => string_bytes(a.as_ref()),
        })
        .sum()
}

/// The bytes of the values of a (possibly sliced) string array.
fn string_bytes(a: &dyn Array) -> u64 {
    use arrow::array::AsArray;
    let span = |first: i64, last: i64| u64::try_from(last - first).unwrap_or(0);
    if let Some(s) = a.as_string_opt::<i32>() {
        let o = s.value_offsets();
        return span(i64::from(o[0]), i64::from(o[o.len() - 1]));
    }
    if let Some(s) = a.as_string_opt::<i64>() {
        let o = s.value_offsets();
        return span(o[0], o[o.len() - 1]);
    }
    0
}

/// The `QueryResourceConsumption` payload (the 2023 shape of `go/v2/twoTables.json`).
/// Calypso has no cache, shards or extents: those counters are 0.
pub fn resource_consumption(tables: &[TableStats], ctx: &ResponseContext) -> Value {
    let zero_hits = json!({"hits": 0, "misses": 0, "total": 0});
    let zero_shard = json!({"hitbytes": 0, "missbytes": 0, "retrievebytes": 0});
    let epoch = "0001-01-01T00:00:00.0000000Z";
    let cpu = kql_types::format::format_timespan_kusto(
        i64::try_from(ctx.execution_time.as_nanos()).unwrap_or(i64::MAX),
    );
    let datasets: Vec<Value> = tables
        .iter()
        .map(|t| json!({"table_row_count": t.rows, "table_size": t.bytes}))
        .collect();
    json!({
        "ExecutionTime": ctx.execution_time.as_secs_f64(),
        "resource_usage": {
            "cache": {
                "memory": zero_hits,
                "disk": zero_hits,
                "shards": {"hot": zero_shard, "cold": zero_shard, "bypassbytes": 0}
            },
            "cpu": {"user": cpu, "kernel": "00:00:00", "total cpu": cpu},
            "memory": {"peak_per_node": 0},
            "network": {"inter_cluster_total_bytes": 0, "cross_cluster_total_bytes": 0}
        },
        "input_dataset_statistics": {
            "extents": {
                "total": 0, "scanned": 0,
                "scanned_min_datetime": epoch, "scanned_max_datetime": epoch
            },
            "rows": {"total": 0, "scanned": 0},
            "rowstores": {"scanned_rows": 0, "scanned_values_size": 0},
            "shards": {"queries_generic": 0, "queries_specialized": 0}
        },
        "dataset_statistics": datasets,
        "cross_cluster_resource_usage": {}
    })
}

/// The `EffectiveRequestOptions` text ADX reports (its defaults; Calypso has no such
/// limits yet).
pub fn effective_request_options() -> Value {
    json!({
        "DataScope": "All",
        "QueryConsistency": "strongconsistency",
        "MaxMemoryConsumptionPerIterator": 5_368_709_120u64,
        "MaxMemoryConsumptionPerQueryPerNode": 8_589_346_816u64,
        "QueryFanoutNodesPercent": 100,
        "QueryFanoutThreadsPercent": 100
    })
}
