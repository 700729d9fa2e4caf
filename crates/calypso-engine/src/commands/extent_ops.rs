//! Commands that change extents: `.drop extent(s)` (by id, by age, by query),
//! `.drop-pretend extents`, `.alter[-merge] table T extent tags`, `.drop table T extent
//! tags`, `.move extents`, `.replace extents`. Each runs as one storage commit
//! (`calypso_storage::Storage::{drop_extents, retag_extents, move_extents}`); the row
//! store's rows are not extents yet and are left alone, as ADX leaves its row store.
//! Result columns follow shared/reference/kql-catalog/management-commands.txt.

use arrow::array::Array;
use calypso_storage::{Catalog, ExtentMeta, ExtentRef, Replaced, is_sealed};
use kql_functions::KqlType;
use kql_syntax::ast::{AgeUnit, ExtentSource, ExtentsCommand, Property, Trim, TrimBy, prop};

use super::ingest_props::datetime_prop;
use super::{db_of, table_of};
use crate::table::{Cell, guid, rfc3339_nanos, table};
use crate::{Caller, Engine, EngineError, RequestOptions, Result, ResultTable};

const DROP_COLS: &[(&str, KqlType)] = &[
    ("ExtentId", KqlType::Guid),
    ("TableName", KqlType::String),
    ("CreatedOn", KqlType::DateTime),
];

const TAGS_COLS: &[(&str, KqlType)] = &[
    ("OriginalExtentId", KqlType::String),
    ("ResultExtentId", KqlType::String),
    ("ResultExtentTags", KqlType::String),
    ("Details", KqlType::String),
];

const MOVE_COLS: &[(&str, KqlType)] = &[
    ("OriginalExtentId", KqlType::String),
    ("ResultExtentId", KqlType::String),
    ("Details", KqlType::String),
];

fn drop_rows(dropped: &[(String, ExtentMeta)]) -> Result<ResultTable> {
    let rows = dropped
        .iter()
        .map(|(t, e)| {
            vec![
                guid(&e.id),
                t.clone().into(),
                Cell::DateTime(rfc3339_nanos(&e.created_on)),
            ]
        })
        .collect();
    table(DROP_COLS, rows)
}

fn tag_rows(changed: &[Replaced]) -> Result<ResultTable> {
    let rows = changed
        .iter()
        .map(|r| {
            vec![
                r.original.clone().into(),
                r.result.id.clone().into(),
                r.result.tags.join(" ").into(),
                String::new().into(),
            ]
        })
        .collect();
    table(TAGS_COLS, rows)
}

/// The text of column `name` of a result, row by row (`None`: no such column).
fn column_texts(t: &ResultTable, name: &str) -> Option<Vec<Option<String>>> {
    let (i, kind) = t
        .columns
        .iter()
        .enumerate()
        .find_map(|(i, (n, k))| (n == name).then_some((i, *k)))?;
    let mut out = Vec::new();
    for b in &t.batches {
        let a = b.column(i);
        for r in 0..a.len() {
            out.push(crate::display::format_value(a.as_ref(), r, kind));
        }
    }
    Some(out)
}

/// The extent ids of a source's result (column `ExtentId`, guids or their text).
fn ids_of(t: &ResultTable) -> Result<Vec<String>> {
    let ids = column_texts(t, "ExtentId").ok_or_else(|| {
        EngineError::BadRequest("The query of the command must return a column 'ExtentId'".into())
    })?;
    Ok(ids
        .into_iter()
        .flatten()
        .map(|s| s.to_lowercase())
        .collect())
}

/// `(table, id)` of a source's result: columns `ExtentId` and `TableName` (without one,
/// each id is looked up in the database's tables).
fn refs_of(t: &ResultTable, cat: &Catalog, database: &str) -> Result<Vec<ExtentRef>> {
    let ids = column_texts(t, "ExtentId").ok_or_else(|| {
        EngineError::BadRequest("The query of the command must return a column 'ExtentId'".into())
    })?;
    let tables = column_texts(t, "TableName");
    let mut out = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let Some(id) = id.map(|s| s.to_lowercase()) else {
            continue;
        };
        let table = match tables.as_ref().and_then(|t| t.get(i).cloned().flatten()) {
            Some(t) => t,
            None => match table_holding(cat, database, &id) {
                Some(t) => t,
                None => continue,
            },
        };
        out.push(ExtentRef { table, id });
    }
    Ok(out)
}

/// The table of `database` that holds extent `id`.
fn table_holding(cat: &Catalog, database: &str, id: &str) -> Option<String> {
    let d = cat.databases.get(database)?;
    d.tables
        .values()
        .find(|t| t.extents.iter().any(|e| e.id == id && is_sealed(e)))
        .map(|t| t.name.clone())
}

/// The `extentCreatedOnFrom`/`extentCreatedOnTo` window of a command.
struct Window {
    from: Option<i64>,
    to: Option<i64>,
}

impl Window {
    fn of(with: &[Property]) -> Result<Window> {
        Ok(Window {
            from: datetime_prop(with, "extentCreatedOnFrom")?,
            to: datetime_prop(with, "extentCreatedOnTo")?,
        })
    }

    fn holds(&self, e: &ExtentMeta) -> bool {
        let at = rfc3339_nanos(&e.created_on);
        self.from.is_none_or(|f| at >= f) && self.to.is_none_or(|t| at <= t)
    }
}

/// `setNewIngestionTime = true`: the moved rows get a new ingestion time.
fn new_ingestion_time(with: &[Property]) -> bool {
    prop(with, "setNewIngestionTime").and_then(|v| v.as_bool()) == Some(true)
}

/// The tags of `text` (a source's `Tags` cell): a JSON array's strings, or one tag.
fn tags_in(text: &str) -> Vec<String> {
    if text.trim_start().starts_with('[')
        && let Ok(v) = serde_json::from_str::<Vec<String>>(text)
    {
        return v;
    }
    vec![text.to_string()]
}

impl Engine {
    /// What an extent source returns: its query's first result, or its command's result.
    async fn source_result(
        &self,
        caller: &Caller,
        database: &str,
        source: &ExtentSource,
        options: &RequestOptions,
    ) -> Result<ResultTable> {
        match source {
            ExtentSource::Query(q) => self
                .run_query_ast(caller, database, q, options)
                .await?
                .tables
                .into_iter()
                .next()
                .ok_or_else(|| EngineError::BadRequest("The query has no result".into())),
            ExtentSource::Command(c) => Box::pin(self.command(caller, database, c, options)).await,
        }
    }

    /// Seals the row store first, so that extent ids a source returns name sealed extents
    /// and "all extents" includes rows acknowledged before the command.
    async fn sealed_first(&self) -> Result<()> {
        self.storage.seal_all().await?;
        Ok(())
    }

    /// Runs one of the commands that change extents.
    pub(crate) async fn extent_change(
        &self,
        caller: &Caller,
        database: &str,
        cmd: &ExtentsCommand,
        options: &RequestOptions,
    ) -> Result<ResultTable> {
        match cmd {
            ExtentsCommand::Show { .. } => self.extents_command(database, cmd),
            ExtentsCommand::DropIds { ids, table: t } => {
                let cat = self.storage.catalog();
                let d = db_of(&cat, database)?;
                let mut refs = Vec::new();
                for id in ids {
                    let id = id.to_lowercase();
                    let table = match t {
                        Some(t) => table_of(d, &t.name)?.name.clone(),
                        None => table_holding(&cat, database, &id).ok_or_else(|| {
                            EngineError::NotFound(format!(
                                "Extent '{id}' was not found in database '{database}'"
                            ))
                        })?,
                    };
                    refs.push(ExtentRef { table, id });
                }
                let dropped = self.storage.drop_extents(database, refs, true).await?;
                drop_rows(&dropped)
            }
            ExtentsCommand::DropByAge {
                older,
                table: t,
                limit,
                trim,
                pretend,
            } => {
                let cat = self.storage.catalog();
                let d = db_of(&cat, database)?;
                let tables = match t {
                    Some(t) => vec![table_of(d, &t.name)?],
                    None => d.tables.values().map(|t| &**t).collect(),
                };
                let cutoff = older.map(|(n, unit)| {
                    let unit_ns: i64 = match unit {
                        AgeUnit::Days => 86_400_000_000_000,
                        AgeUnit::Hours => 3_600_000_000_000,
                    };
                    now_nanos().saturating_sub(n.saturating_mul(unit_ns))
                });
                let mut chosen: Vec<(String, ExtentMeta)> = tables
                    .iter()
                    .flat_map(|t| {
                        t.extents
                            .iter()
                            .filter(|e| is_sealed(e))
                            .filter(|e| cutoff.is_none_or(|c| rfc3339_nanos(&e.created_on) < c))
                            .map(|e| (t.name.clone(), ExtentMeta::clone(e)))
                    })
                    .collect();
                // `trim by` and `limit n`: the oldest first.
                chosen.sort_by_key(|(_, e)| rfc3339_nanos(&e.created_on));
                if let Some(trim) = trim {
                    chosen = trimmed(chosen, *trim);
                }
                if let Some(n) = limit {
                    chosen.truncate(usize::try_from(*n).unwrap_or(usize::MAX));
                }
                if *pretend {
                    return drop_rows(&chosen);
                }
                let refs = chosen
                    .into_iter()
                    .map(|(table, e)| ExtentRef { table, id: e.id })
                    .collect();
                let dropped = self.storage.drop_extents(database, refs, false).await?;
                drop_rows(&dropped)
            }
            ExtentsCommand::DropFrom { whatif, source } => {
                let result = self
                    .source_result(caller, database, source, options)
                    .await?;
                let cat = self.storage.catalog();
                let refs = refs_of(&result, &cat, database)?;
                for r in &refs {
                    // Each table named must be one the caller administers.
                    self.authorize_table_admin(caller, database, &r.table)?;
                }
                if *whatif {
                    let d = db_of(&cat, database)?;
                    let mut rows = Vec::new();
                    for r in refs {
                        let t = table_of(d, &r.table)?;
                        if let Some(e) = t.extents.iter().find(|e| e.id == r.id && is_sealed(e)) {
                            rows.push((r.table, ExtentMeta::clone(e)));
                        }
                    }
                    return drop_rows(&rows);
                }
                let dropped = self.storage.drop_extents(database, refs, false).await?;
                drop_rows(&dropped)
            }
            ExtentsCommand::AlterTags {
                merge,
                table: t,
                tags,
                with,
                source,
                ..
            } => {
                self.sealed_first().await?;
                let window = Window::of(with)?;
                let result = self
                    .source_result(caller, database, source, options)
                    .await?;
                let ids = self.in_window(database, &t.name, ids_of(&result)?, &window)?;
                let (merge, tags) = (*merge, tags.clone());
                let changed = self
                    .storage
                    .retag_extents(database, &t.name, ids, move |_, old| {
                        let mut out: Vec<String> = if merge { old.to_vec() } else { Vec::new() };
                        for tag in &tags {
                            if !out.contains(tag) {
                                out.push(tag.clone());
                            }
                        }
                        out
                    })
                    .await?;
                tag_rows(&changed)
            }
            ExtentsCommand::DropTags {
                table: t,
                tags,
                with,
                source,
                ..
            } => {
                self.sealed_first().await?;
                let window = Window::of(with)?;
                // Which tags go from which extents.
                let mut plan: Vec<(String, Vec<String>)> = Vec::new();
                match source {
                    None => {
                        let cat = self.storage.catalog();
                        let tb = table_of(db_of(&cat, database)?, &t.name)?;
                        for e in tb
                            .extents
                            .iter()
                            .filter(|e| is_sealed(e) && window.holds(e))
                        {
                            if e.tags.iter().any(|x| tags.contains(x)) {
                                plan.push((e.id.clone(), tags.clone()));
                            }
                        }
                    }
                    Some(source) => {
                        let result = self
                            .source_result(caller, database, source, options)
                            .await?;
                        let ids = ids_of(&result)?;
                        let texts = column_texts(&result, "Tags").ok_or_else(|| {
                            EngineError::BadRequest(
                                "The query of '.drop extent tags' must return the columns 'ExtentId' and 'Tags'"
                                    .into(),
                            )
                        })?;
                        let kept = self.in_window(database, &t.name, ids.clone(), &window)?;
                        for (id, text) in ids.into_iter().zip(texts) {
                            if !kept.contains(&id) {
                                continue;
                            }
                            let gone = text.map(|s| tags_in(&s)).unwrap_or_default();
                            match plan.iter_mut().find(|(i, _)| *i == id) {
                                Some((_, g)) => g.extend(gone),
                                None => plan.push((id, gone)),
                            }
                        }
                    }
                }
                let ids: Vec<String> = plan.iter().map(|(i, _)| i.clone()).collect();
                // The change runs on the extents' tags as the commit sees them.
                let changed = self
                    .storage
                    .retag_extents(database, &t.name, ids, move |id, old| {
                        let gone = plan
                            .iter()
                            .find(|(i, _)| i == id)
                            .map(|(_, g)| g.as_slice())
                            .unwrap_or_default();
                        old.iter().filter(|t| !gone.contains(t)).cloned().collect()
                    })
                    .await?;
                tag_rows(&changed)
            }
            ExtentsCommand::Move {
                from,
                to,
                ids,
                with,
                source,
                ..
            } => {
                self.sealed_first().await?;
                let window = Window::of(with)?;
                let refs = match (from, source) {
                    (Some(f), _) => {
                        let cat = self.storage.catalog();
                        let tb = table_of(db_of(&cat, database)?, &f.name)?;
                        let chosen: Vec<String> = if ids.is_empty() {
                            tb.extents
                                .iter()
                                .filter(|e| is_sealed(e))
                                .map(|e| e.id.clone())
                                .collect()
                        } else {
                            ids.iter().map(|i| i.to_lowercase()).collect()
                        };
                        self.in_window(database, &f.name, chosen, &window)?
                            .into_iter()
                            .map(|id| ExtentRef {
                                table: tb.name.clone(),
                                id,
                            })
                            .collect()
                    }
                    (None, Some(source)) => {
                        let result = self
                            .source_result(caller, database, source, options)
                            .await?;
                        let cat = self.storage.catalog();
                        let refs = refs_of(&result, &cat, database)?;
                        self.refs_in_window(caller, database, refs, &window)?
                    }
                    (None, None) => Vec::new(),
                };
                let (_, moved) = self
                    .storage
                    .move_extents(
                        database,
                        &to.name,
                        refs,
                        Vec::new(),
                        new_ingestion_time(with),
                    )
                    .await?;
                move_rows(&[], &moved)
            }
            ExtentsCommand::Replace {
                table: t,
                with,
                drop,
                moved,
                ..
            } => {
                self.sealed_first().await?;
                let window = Window::of(with)?;
                let dropping = self.source_result(caller, database, drop, options).await?;
                let drop_ids = ids_of(&dropping)?;
                let moving = self.source_result(caller, database, moved, options).await?;
                let cat = self.storage.catalog();
                let refs = refs_of(&moving, &cat, database)?;
                let refs = self.refs_in_window(caller, database, refs, &window)?;
                let (dropped, moved) = self
                    .storage
                    .move_extents(database, &t.name, refs, drop_ids, new_ingestion_time(with))
                    .await?;
                move_rows(&dropped, &moved)
            }
        }
    }

    /// Of `ids` (extents of `database.table`), those created in the window; an id that is
    /// not an extent of the table stays (the storage then reports it).
    fn in_window(
        &self,
        database: &str,
        table: &str,
        ids: Vec<String>,
        window: &Window,
    ) -> Result<Vec<String>> {
        let cat = self.storage.catalog();
        let t = table_of(db_of(&cat, database)?, table)?;
        Ok(ids
            .into_iter()
            .filter(|id| match t.extents.iter().find(|e| e.id == *id) {
                Some(e) => window.holds(e),
                None => true,
            })
            .collect())
    }

    /// [`Engine::in_window`] for extents of several tables, each of which the caller must
    /// administer.
    fn refs_in_window(
        &self,
        caller: &Caller,
        database: &str,
        refs: Vec<ExtentRef>,
        window: &Window,
    ) -> Result<Vec<ExtentRef>> {
        let mut out = Vec::new();
        for r in refs {
            self.authorize_table_admin(caller, database, &r.table)?;
            if !self
                .in_window(database, &r.table, vec![r.id.clone()], window)?
                .is_empty()
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Table Admin of `database.table`, for tables a command's query names.
    fn authorize_table_admin(&self, caller: &Caller, database: &str, table: &str) -> Result<()> {
        let cat = self.storage.catalog();
        crate::security::access::authorize(
            caller,
            &cat,
            &crate::security::access::Action::new(
                "ExtentsCommand",
                crate::security::access::Need::TableAdmin {
                    database: database.to_string(),
                    table: table.to_string(),
                },
            ),
        )
    }
}

/// `trim by`: of `chosen` (oldest first), the oldest to drop so that the size of those left
/// is at most the trim size (ADX: "trim the data until the sum of extents matches the
/// required size"). `extentsize` sums the files' sizes (ExtentSize), `datasize` their
/// data uncompressed (OriginalSize; the file's size for extents written before it was
/// kept).
fn trimmed(chosen: Vec<(String, ExtentMeta)>, trim: Trim) -> Vec<(String, ExtentMeta)> {
    let size = |e: &ExtentMeta| match trim.by {
        TrimBy::ExtentSize => e.size_bytes,
        TrimBy::DataSize if e.original_size > 0 => e.original_size,
        TrimBy::DataSize => e.size_bytes,
    };
    let mut left: u64 = chosen.iter().map(|(_, e)| size(e)).sum();
    chosen
        .into_iter()
        .take_while(|(_, e)| {
            let over = left > trim.bytes;
            left = left.saturating_sub(size(e));
            over
        })
        .collect()
}

fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn move_rows(dropped: &[ExtentMeta], moved: &[Replaced]) -> Result<ResultTable> {
    let mut rows: Vec<Vec<Cell>> = moved
        .iter()
        .map(|r| {
            vec![
                r.original.clone().into(),
                r.result.id.clone().into(),
                String::new().into(),
            ]
        })
        .collect();
    rows.extend(dropped.iter().map(|e| {
        vec![
            e.id.clone().into(),
            String::new().into(),
            String::new().into(),
        ]
    }));
    table(MOVE_COLS, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extent(id: &str, size_bytes: u64, original_size: u64) -> (String, ExtentMeta) {
        let e = ExtentMeta {
            id: id.into(),
            size_bytes,
            original_size,
            ..ExtentMeta::default()
        };
        ("T".into(), e)
    }

    fn ids(v: &[(String, ExtentMeta)]) -> Vec<&str> {
        v.iter().map(|(_, e)| e.id.as_str()).collect()
    }

    /// The oldest go until the sum of those left is at most the size: 10 + 20 + 30 = 60
    /// trimmed to 35 drops the first two (30 left); to 50, the first (50 left); to 60, none.
    #[test]
    fn trim_drops_the_oldest_until_the_rest_fits() {
        let all = vec![
            extent("a", 10, 100),
            extent("b", 20, 200),
            extent("c", 30, 0),
        ];
        let by = |by, bytes| trimmed(all.clone(), Trim { by, bytes });
        assert_eq!(ids(&by(TrimBy::ExtentSize, 35)), ["a", "b"]);
        assert_eq!(ids(&by(TrimBy::ExtentSize, 50)), ["a"]);
        assert!(by(TrimBy::ExtentSize, 60).is_empty());
        assert_eq!(ids(&by(TrimBy::ExtentSize, 0)), ["a", "b", "c"]);
        // datasize: 100 + 200 + 30 (no OriginalSize: the file's size) = 330.
        assert_eq!(ids(&by(TrimBy::DataSize, 230)), ["a"]);
        assert_eq!(ids(&by(TrimBy::DataSize, 229)), ["a", "b"]);
        assert!(by(TrimBy::DataSize, 330).is_empty());
    }
}
