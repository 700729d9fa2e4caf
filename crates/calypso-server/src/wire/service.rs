//! Contents shared by v1 and v2 replies: the `Visualization` property of each result
//! (`@ExtendedProperties`) and the `QueryResourceConsumption` statistics.

use arrow::array::Array;
use calypso_engine::{QueryResult, ResultTable};
use kql_functions::KqlType;
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
pub fn visualization(table: &ResultTable) -> Value {
    let mut m = Map::new();
    for k in VISUALIZATION_KEYS {
        let v = match k {
            "Accumulate" | "IsQuerySorted" => Value::Bool(false),
            "Ymin" | "Ymax" => Value::String("NaN".into()),
            _ => Value::Null,
        };
        m.insert(k.to_string(), v);
    }
    if let Some(render) = &table.render {
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
pub fn visualization_text(table: &ResultTable) -> String {
    visualization(table).to_string()
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

/// An estimate of the bytes of a result (`dataset_statistics.table_size`): fixed widths
/// per type plus the bytes of string and dynamic values.
pub fn table_size(table: &ResultTable) -> u64 {
    let mut size = 0u64;
    for b in &table.batches {
        for (i, (_, t)) in table.columns.iter().enumerate() {
            let Some(a) = b.columns().get(i) else {
                continue;
            };
            let rows = a.len() as u64;
            size += match t {
                KqlType::Bool => rows,
                KqlType::Int => 4 * rows,
                KqlType::Long | KqlType::Real | KqlType::DateTime | KqlType::TimeSpan => 8 * rows,
                KqlType::Decimal | KqlType::Guid => 16 * rows,
                KqlType::String => string_bytes(a.as_ref()),
                KqlType::Dynamic => string_bytes(a.as_ref()),
            };
        }
    }
    size
}

fn string_bytes(a: &dyn Array) -> u64 {
    use arrow::array::AsArray;
    if let Some(s) = a.as_string_opt::<i32>() {
        return s.value_data().len() as u64;
    }
    if let Some(s) = a.as_string_opt::<i64>() {
        return s.value_data().len() as u64;
    }
    0
}

/// The `QueryResourceConsumption` payload (the 2023 shape of `go/v2/twoTables.json`).
/// Calypso has no cache, shards or extents: those counters are 0.
pub fn resource_consumption(result: &QueryResult, ctx: &ResponseContext) -> Value {
    let zero_hits = json!({"hits": 0, "misses": 0, "total": 0});
    let zero_shard = json!({"hitbytes": 0, "missbytes": 0, "retrievebytes": 0});
    let epoch = "0001-01-01T00:00:00.0000000Z";
    let cpu = kql_functions::convert::format_timespan_kusto(
        i64::try_from(ctx.execution_time.as_nanos()).unwrap_or(i64::MAX),
    );
    let datasets: Vec<Value> = result
        .tables
        .iter()
        .map(|t| json!({"table_row_count": t.row_count(), "table_size": table_size(t)}))
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
