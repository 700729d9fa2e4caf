//! KQL conformance tests on sqllogictest-rs.
//!
//! * One fresh [`Engine`] per `.slt` file.
//! * `statement ok` records whose text is `let ...;` define file-level bindings: they are
//!   prepended to every later record of the file.
//! * Column types are Kusto's: `B` bool, `I` int, `L` long, `R` real, `M` decimal,
//!   `T` string, `D` datetime, `S` timespan, `G` guid, `Y` dynamic.
//! * Values are Kusto's text forms (see [`format_cell`]): `NULL` for null, `(empty)` for "".

use std::fmt;

use async_trait::async_trait;
use calypso_engine::{Engine, RequestOptions, display};
use kql_functions::KqlType;
use sqllogictest::{ColumnType, DBOutput};

/// A Kusto column type letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KqlColumn(pub KqlType);

impl ColumnType for KqlColumn {
    fn from_char(value: char) -> Option<Self> {
        let t = match value {
            'B' => KqlType::Bool,
            'I' => KqlType::Int,
            'L' => KqlType::Long,
            'R' => KqlType::Real,
            'M' => KqlType::Decimal,
            'T' => KqlType::String,
            'D' => KqlType::DateTime,
            'S' => KqlType::TimeSpan,
            'G' => KqlType::Guid,
            'Y' => KqlType::Dynamic,
            _ => return None,
        };
        Some(KqlColumn(t))
    }

    fn to_char(&self) -> char {
        match self.0 {
            KqlType::Bool => 'B',
            KqlType::Int => 'I',
            KqlType::Long => 'L',
            KqlType::Real => 'R',
            KqlType::Decimal => 'M',
            KqlType::String => 'T',
            KqlType::DateTime => 'D',
            KqlType::TimeSpan => 'S',
            KqlType::Guid => 'G',
            KqlType::Dynamic => 'Y',
        }
    }
}

/// An engine error as the runner reports it.
#[derive(Debug)]
pub struct SltError(pub String);

impl fmt::Display for SltError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

/// A real rounded to 12 significant digits, in Kusto's text form.
pub fn format_real_rounded(v: f64) -> String {
    if !v.is_finite() {
        return display::format_real(v);
    }
    let rounded: f64 = format!("{v:.11e}").parse().unwrap_or(v);
    display::format_real(rounded)
}

/// A result cell: `NULL`, `(empty)`, or the value's Kusto text.
pub fn format_cell(a: &dyn arrow::array::Array, i: usize, t: KqlType) -> String {
    if t == KqlType::Real && !a.is_null(i) {
        use arrow::array::AsArray;
        return format_real_rounded(a.as_primitive::<arrow::datatypes::Float64Type>().value(i));
    }
    match display::format_value(a, i, t) {
        None => "NULL".into(),
        Some(s) if s.is_empty() => "(empty)".into(),
        Some(s) => s,
    }
}

/// The database under test: one engine, plus the file's `let` prelude.
#[derive(Debug)]
pub struct KqlDb {
    engine: Engine,
    prelude: String,
}

impl KqlDb {
    /// A fresh engine.
    pub fn new() -> KqlDb {
        KqlDb {
            engine: Engine::new(),
            prelude: String::new(),
        }
    }
}

impl Default for KqlDb {
    fn default() -> Self {
        Self::new()
    }
}

fn is_prelude(text: &str) -> bool {
    let t = text.trim();
    t.starts_with("let ") && t.ends_with(';')
}

#[async_trait]
impl sqllogictest::AsyncDB for KqlDb {
    type Error = SltError;
    type ColumnType = KqlColumn;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<KqlColumn>, SltError> {
        if is_prelude(sql) {
            // Check it plans (with a trivial result) before keeping it.
            let probe = format!("{}{}\nprint 1", self.prelude, sql.trim());
            self.engine
                .plan(
                    calypso_engine::DEFAULT_DATABASE,
                    &probe,
                    &RequestOptions::default(),
                )
                .map_err(|e| SltError(e.to_string()))?;
            self.prelude.push_str(sql.trim());
            self.prelude.push('\n');
            return Ok(DBOutput::StatementComplete(0));
        }
        let text = format!("{}{}", self.prelude, sql);
        let result = self
            .engine
            .execute(
                calypso_engine::DEFAULT_DATABASE,
                &text,
                &RequestOptions::default(),
            )
            .await
            .map_err(|e| SltError(e.to_string()))?;
        let Some(table) = result.tables.last() else {
            return Ok(DBOutput::StatementComplete(0));
        };
        let types = table.columns.iter().map(|(_, t)| KqlColumn(*t)).collect();
        let mut rows = Vec::new();
        for b in &table.batches {
            for i in 0..b.num_rows() {
                let row = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(c, (_, t))| format_cell(b.column(c).as_ref(), i, *t))
                    .collect();
                rows.push(row);
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "calypso"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}
