//! The fixed world the targets run in: a tokio runtime, in-memory engines with the tables
//! `T` (one column of every type, edge values and nulls) and `U`, and the calibrated
//! function catalog.

use std::sync::{Arc, OnceLock};

use calypso_engine::{DEFAULT_DATABASE, Engine, RequestOptions};
use kql_functions::KqlType;

use crate::generator::{Catalog, Schema};

/// `T`: one column of every KQL type.
const T_COLUMNS: &[(&str, KqlType)] = &[
    ("b", KqlType::Bool),
    ("i", KqlType::Int),
    ("l", KqlType::Long),
    ("r", KqlType::Real),
    ("m", KqlType::Decimal),
    ("s", KqlType::String),
    ("d", KqlType::DateTime),
    ("t", KqlType::TimeSpan),
    ("g", KqlType::Guid),
    ("y", KqlType::Dynamic),
];

/// `U`: a small table sharing `l` and `s` with `T`, for joins.
const U_COLUMNS: &[(&str, KqlType)] = &[
    ("l", KqlType::Long),
    ("s", KqlType::String),
    ("v", KqlType::Dynamic),
];

/// The commands that make the fixture's tables.
const SETUP: &[&str] = &[
    r#".set-or-append T <| datatable(b:bool, i:int, l:long, r:real, m:decimal, s:string,
        d:datetime, t:timespan, g:guid, y:dynamic) [
    true, int(1), 1, 1.5, decimal(1.5), "a b,c", datetime(2020-01-01), 1h,
        guid(6f3b9a2e-0c1d-4e5f-8a9b-0c1d2e3f4a5b), dynamic({"a": 1, "b": "x"}),
    false, int(-2147483648), 9223372036854775807, real(nan), decimal(-99999999999999999999), "",
        datetime(2262-04-11), time(106751.23:47:16.8547758),
        guid(00000000-0000-0000-0000-000000000000), dynamic([1, 2, 3]),
    bool(null), int(null), long(null), real(null), decimal(null), "Hello World",
        datetime(null), timespan(null), guid(null), dynamic(null),
    true, int(2147483647), -9223372036854775807, real(-inf), decimal(0), "é𝄞",
        datetime(1677-09-22), time(-1.00:00:00), guid(ffffffff-ffff-ffff-ffff-ffffffffffff),
        dynamic([{"a": [1, {"b": null}]}, "x"]),
    false, int(0), 0, -0.0, decimal(0.000000000000000001), "2020-01-01T00:00:00Z",
        datetime(2021-06-07 08:09:10.1234567), 0s, guid(11111111-2222-3333-4444-555555555555),
        dynamic("s")
]"#,
    r#".set-or-append U <| datatable(l:long, s:string, v:dynamic) [
    1, "a b,c", dynamic([1]),
    0, "", dynamic({"k": "v"}),
    long(null), "x", dynamic(null),
    1, "dup", dynamic([])
]"#,
    ".alter table T policy streamingingestion enable",
    r#".create table T ingestion csv mapping "m" '[{"column": "l", "Properties": {"Ordinal": "0"}}, {"column": "s", "Properties": {"Ordinal": "1"}}]'"#,
    r#".create table T ingestion json mapping "j" '[{"column": "l", "Properties": {"Path": "$.a"}}, {"column": "y", "Properties": {"Path": "$"}}]'"#,
];

/// The columns of a fixture table.
pub(crate) fn table_columns(table: &str) -> Schema {
    let cols = if table == "U" { U_COLUMNS } else { T_COLUMNS };
    cols.iter().map(|(n, t)| (n.to_string(), *t)).collect()
}

/// The options every fuzzed query runs with: a fixed `now()` and a memory limit.
pub(crate) fn options() -> RequestOptions {
    RequestOptions {
        query_now: Some(1_623_053_350_000_000_000),
        max_memory_per_query: Some(512 << 20),
        ..Default::default()
    }
}

/// What the targets share.
pub(crate) struct Fixture {
    pub(crate) runtime: tokio::runtime::Runtime,
    /// An engine with the fixture tables, for queries (which change nothing).
    pub(crate) engine: Arc<Engine>,
    /// The functions the generator calls.
    pub(crate) catalog: Catalog,
}

impl Fixture {
    /// The planner as the generator's oracle: the columns of the last result.
    pub(crate) fn schema(&self, text: &str) -> Option<Schema> {
        schema_of(&self.engine, text)
    }

    /// A new engine with the fixture tables (for targets whose requests change things).
    pub(crate) fn new_engine(&self) -> Arc<Engine> {
        Arc::new(make_engine(&self.runtime))
    }
}

fn schema_of(engine: &Engine, text: &str) -> Option<Schema> {
    let planned = engine.plan(DEFAULT_DATABASE, text, &options()).ok()?;
    Some(planned.results.last()?.columns.clone())
}

fn make_engine(runtime: &tokio::runtime::Runtime) -> Engine {
    let engine = Engine::new();
    runtime.block_on(async {
        if let Err(e) = engine.ensure_default_database().await {
            panic!("fixture: default database: {e}");
        }
        for cmd in SETUP {
            if let Err(e) = engine
                .execute(DEFAULT_DATABASE, cmd, &RequestOptions::default())
                .await
            {
                panic!("fixture: {cmd}: {e}");
            }
        }
    });
    engine
}

/// The fixture, made on first use.
pub(crate) fn shared() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => panic!("fixture: tokio runtime: {e}"),
        };
        let engine = Arc::new(make_engine(&runtime));
        let catalog = Catalog::calibrate(&|text| schema_of(&engine, text));
        Fixture {
            runtime,
            engine,
            catalog,
        }
    })
}
