//! Writing data: `.ingest inline`, `.set`/`.append`/`.set-or-append`/`.set-or-replace`,
//! streaming ingestion, and KQL operators piped after a command.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use calypso_storage::{Column, Error as SErr, ExtentMeta, Table};
use datafusion::datasource::MemTable;
use kql_functions::KqlType;
use kql_syntax::ast::{IngestCommand, Operator, Query, SetVerb, prop};

use super::ingest_props::ExtentProps;
use super::{EXTENT_RESULT_COLS, new_id};
use crate::table::{Cell, guid, table};
use crate::{Engine, EngineError, RequestOptions, Result, ResultTable};

/// What a streaming ingestion wrote.
#[derive(Debug, Clone)]
pub struct IngestSummary {
    /// The new extent; `None` when the body had no records, or when the rows went to the
    /// row store (they become part of an extent when it is sealed).
    pub extent_id: Option<String>,
    /// Rows ingested.
    pub rows: u64,
}

/// Where `.set`/`.append`/`.set-or-append`/`.set-or-replace` write: the verb, the table and
/// the extent's properties.
pub(crate) struct Target<'a> {
    pub(crate) verb: &'a str,
    pub(crate) table: &'a str,
    pub(crate) props: &'a ExtentProps,
}

/// An extent file written for a table (its name, the columns the rows were shaped for),
/// not yet committed.
type Written = (String, Vec<(String, KqlType)>, ExtentMeta);

/// How an ingestion's data is read besides its format and mapping.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParseOptions {
    /// `ignoreFirstRecord`: the first record of each file of the CSV family is skipped.
    pub(crate) ignore_first_record: bool,
    /// `zipPattern`: the files of a zip archive read (a regular expression).
    pub(crate) zip_pattern: Option<String>,
    /// What the mapping transform `SourceLocation` yields: the blob or file read.
    pub(crate) location: String,
    /// `validationPolicy` `{"ValidationOptions": 0}` (`DoNotValidate`): CSV records with
    /// another number of fields than the table's columns are taken (see
    /// [`calypso_ingest::ReadOptions::skip_field_count_validation`]).
    pub(crate) skip_field_count_validation: bool,
}

impl ParseOptions {
    /// Whether a `validationPolicy` property (`ingestion-properties.md`: a JSON object with
    /// `ValidationOptions` 0 `DoNotValidate`, 1 `ValidateCsvInputConstantColumns` — the
    /// default —, 2 `ValidateCsvInputColumnLevelOnly`, and `ValidationImplications` 0 `Fail`
    /// or 1 `BestEffort`) turns the field count check off. A malformed policy is refused.
    pub(crate) fn skips_validation(policy: Option<&str>) -> Result<bool> {
        let Some(text) = policy.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(false);
        };
        let malformed = |why: &str| {
            EngineError::Ingest(calypso_ingest::IngestError::new(
                calypso_ingest::codes::MALFORMED_PROPERTY,
                format!("The validationPolicy '{text}' is not valid: {why}"),
            ))
        };
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| malformed(&e.to_string()))?;
        let obj = v
            .as_object()
            .ok_or_else(|| malformed("not a JSON object"))?;
        let mut skip = false;
        for (k, val) in obj {
            let word = |names: &[&str]| -> Result<usize> {
                match val {
                    serde_json::Value::Number(n) => n
                        .as_u64()
                        .map(|n| n as usize)
                        .filter(|n| *n < names.len())
                        .ok_or_else(|| malformed(&format!("{k} is out of range"))),
                    serde_json::Value::String(s) => names
                        .iter()
                        .position(|n| n.eq_ignore_ascii_case(s))
                        .ok_or_else(|| malformed(&format!("{k} '{s}' is unknown"))),
                    _ => Err(malformed(&format!("{k} must be a number or a name"))),
                }
            };
            if k.eq_ignore_ascii_case("ValidationOptions") {
                skip = word(&[
                    "DoNotValidate",
                    "ValidateCsvInputConstantColumns",
                    "ValidateCsvInputColumnLevelOnly",
                ])? == 0;
            } else if k.eq_ignore_ascii_case("ValidationImplications") {
                word(&["Fail", "BestEffort"])?;
            } else {
                return Err(malformed(&format!("unknown property '{k}'")));
            }
        }
        Ok(skip)
    }
}

/// The mapping an ingestion names: none (identity), a stored one by name
/// (`mappingName`, `ingestionMappingReference`), or one given inline (`ingestionMapping`).
#[derive(Debug, Clone, Copy, Default)]
pub enum MappingSpec<'a> {
    /// The identity mapping.
    #[default]
    Identity,
    /// A mapping of the table, by name.
    Reference(&'a str),
    /// A mapping's JSON text.
    Inline(&'a str),
}

impl<'a> MappingSpec<'a> {
    /// The mapping of a reference or an inline mapping (at most one of them: see
    /// [`format_and_mapping`]).
    pub(crate) fn of(reference: Option<&'a str>, inline: Option<&'a str>) -> MappingSpec<'a> {
        match (reference, inline) {
            (Some(r), _) => MappingSpec::Reference(r),
            (None, Some(m)) => MappingSpec::Inline(m),
            (None, None) => MappingSpec::Identity,
        }
    }
}

/// The `format` (default csv), `ingestionMappingReference` and `ingestionMapping` of an
/// ingestion's properties; both mappings at once are refused.
pub(crate) fn format_and_mapping(
    with: &[kql_syntax::ast::Property],
) -> Result<(calypso_ingest::Format, Option<String>, Option<String>)> {
    let format_name = prop(with, "format")
        .map(|v| v.text())
        .unwrap_or_else(|| "csv".into());
    let format = calypso_ingest::Format::parse(&format_name).ok_or_else(|| {
        EngineError::BadRequest(format!("Unsupported ingestion format '{format_name}'"))
    })?;
    let reference = prop(with, "ingestionMappingReference").map(|v| v.text());
    let inline = prop(with, "ingestionMapping").map(|v| v.text());
    if reference.is_some() && inline.is_some() {
        return Err(EngineError::Ingest(calypso_ingest::IngestError::new(
            calypso_ingest::codes::DUPLICATE_MAPPING,
            "The ingestion properties give both ingestionMapping and ingestionMappingReference",
        )));
    }
    Ok((format, reference, inline))
}

fn mapping_error(code: &'static str, message: String) -> EngineError {
    EngineError::Ingest(calypso_ingest::IngestError {
        code,
        message,
        record: None,
        permanent: true,
    })
}

/// The parsed mapping of `spec` for `format` on table `t`.
/// A mapping named by reference is the table's, or else the database's of that name.
fn resolve_mapping(
    db: &calypso_storage::Database,
    t: &Table,
    format: calypso_ingest::Format,
    spec: MappingSpec<'_>,
) -> Result<Option<calypso_ingest::Mapping>> {
    let kind = calypso_ingest::MappingKind::of_format(format);
    let text = match spec {
        MappingSpec::Identity => return Ok(None),
        MappingSpec::Inline(text) => text,
        MappingSpec::Reference(name) => match t.ingestion_mapping(kind.name(), name).or_else(|| {
            db.ingestion_mappings
                .iter()
                .find(|m| m.name == name && m.kind.eq_ignore_ascii_case(kind.name()))
        }) {
            Some(m) => m.mapping.as_str(),
            None => {
                return Err(mapping_error(
                    calypso_ingest::codes::MAPPING_NOT_FOUND,
                    format!(
                        "The {kind} ingestion mapping '{name}' was not found on table '{}' (the {format} format needs a {kind} mapping)",
                        t.name
                    ),
                ));
            }
        },
    };
    calypso_ingest::Mapping::parse(kind, text)
        .map(Some)
        .map_err(EngineError::Ingest)
}

fn policy_enabled(p: Option<&serde_json::Value>) -> Option<bool> {
    p.map(|v| {
        v.get("IsEnabled")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    })
}

/// Casts/aligns batches to a table's columns by name (missing columns are null).
fn align(batches: Vec<RecordBatch>, columns: &[(String, KqlType)]) -> Result<Vec<RecordBatch>> {
    let schema = kql_functions::types::schema(columns);
    let mut out = Vec::with_capacity(batches.len());
    for b in batches {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
        for (name, t) in columns {
            let target = t.to_arrow();
            let a = match b.schema().index_of(name) {
                Ok(i) => {
                    let a = b.column(i);
                    if a.data_type() == &target {
                        Arc::clone(a)
                    } else {
                        arrow::compute::cast(a, &target)
                            .map_err(|e| EngineError::BadRequest(format!("Column '{name}': {e}")))?
                    }
                }
                Err(_) => new_null_array(&target, b.num_rows()),
            };
            arrays.push(a);
        }
        out.push(
            RecordBatch::try_new(Arc::clone(&schema), arrays)
                .map_err(|e| EngineError::Execution(e.to_string()))?,
        );
    }
    Ok(out)
}

fn table_columns(t: &Table) -> Vec<(String, KqlType)> {
    t.columns
        .iter()
        .map(|c| (c.name.clone(), c.kql_type))
        .collect()
}

impl Engine {
    /// Streaming ingestion into `database.table`: requires the streaming ingestion policy on the
    /// table or its database, parses `body` (gzip detected by its magic bytes) and appends the
    /// rows to the row store (durable in its write-ahead log, sealed into an extent later),
    /// or commits them as one extent when the storage has no row store or it is full.
    /// Nothing is visible unless everything succeeded.
    pub async fn ingest_stream(
        &self,
        database: &str,
        table: &str,
        format: &str,
        mapping: MappingSpec<'_>,
        body: &[u8],
    ) -> Result<IngestSummary> {
        let format = calypso_ingest::Format::parse(format).ok_or_else(|| {
            EngineError::Ingest(calypso_ingest::IngestError {
                code: "BadRequest_InvalidFormat",
                message: format!("The streamFormat '{format}' is not supported"),
                record: None,
                permanent: true,
            })
        })?;
        let (columns, batches) = self
            .parse_body(database, table, format, mapping, body, true)
            .await?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        // Rows that trigger update policies go straight to an extent, with what the
        // policies derive from them, in one commit.
        let triggers = {
            let cat = self.storage.catalog();
            super::db_of(&cat, database)
                .is_ok_and(|db| !super::update_policy::triggered_by(db, table).is_empty())
        };
        if rows > 0
            && !triggers
            && let Some(appended) = self.storage.append_rows(database, table, &batches).await?
        {
            return Ok(IngestSummary {
                extent_id: None,
                rows: appended.rows,
            });
        }
        let extent = self
            .append_batches(
                database,
                table,
                &columns,
                batches,
                false,
                &ExtentProps::default(),
            )
            .await?;
        Ok(IngestSummary {
            rows: extent.as_ref().map_or(0, |e| e.rows),
            extent_id: extent.map(|e| e.id),
        })
    }

    /// Parses `data` for the table and commits it as one extent with `props` (`None`: no
    /// records, or an `ingestIfNotExists` repeat).
    pub(crate) async fn ingest_bytes(
        &self,
        database: &str,
        table_name: &str,
        format: calypso_ingest::Format,
        mapping: MappingSpec<'_>,
        data: &[u8],
        props: &ExtentProps,
    ) -> Result<Option<ExtentMeta>> {
        if self.is_repeat(database, table_name, props) {
            return Ok(None);
        }
        let (columns, batches) = self
            .parse_body(database, table_name, format, mapping, data, false)
            .await?;
        self.append_batches(database, table_name, &columns, batches, false, props)
            .await
    }

    /// Whether an extent of the table already carries one of the `ingestIfNotExists` tags.
    pub(crate) fn is_repeat(&self, database: &str, table: &str, props: &ExtentProps) -> bool {
        let cat = self.storage.catalog();
        cat.table(database, table)
            .is_some_and(|t| props.already_ingested(t.extents.iter().flat_map(|e| e.tags.iter())))
    }

    /// Parses `data` into batches of the table's columns.
    pub(crate) async fn parse_body(
        &self,
        database: &str,
        table_name: &str,
        format: calypso_ingest::Format,
        mapping: MappingSpec<'_>,
        data: &[u8],
        require_streaming_policy: bool,
    ) -> Result<(Vec<(String, KqlType)>, Vec<RecordBatch>)> {
        if require_streaming_policy {
            self.require_streaming_policy(database, table_name)?;
        }
        self.parse_with(
            database,
            table_name,
            format,
            mapping,
            data,
            &ParseOptions::default(),
        )
        .await
    }

    /// Refuses streaming ingestion into a table without the streaming ingestion policy
    /// (on the table or its database).
    fn require_streaming_policy(&self, database: &str, table_name: &str) -> Result<()> {
        let cat = self.storage.catalog();
        let db = super::db_of(&cat, database)?;
        let t = super::table_of(db, table_name)?;
        let enabled = policy_enabled(t.streaming_ingestion_policy.as_ref())
            .or_else(|| policy_enabled(db.streaming_ingestion_policy.as_ref()))
            .unwrap_or(false);
        if enabled {
            return Ok(());
        }
        Err(EngineError::Ingest(calypso_ingest::IngestError {
            code: "StreamingIngestionFunctionalityDisabled",
            message: format!(
                "Streaming ingestion is disabled for table '{table_name}' in database '{database}': enable it with `.alter table {table_name} policy streamingingestion enable`"
            ),
            record: None,
            permanent: true,
        }))
    }

    /// Parses `data` (gzip or zip recognized) into batches of the table's columns, with the
    /// ingestion's `ignoreFirstRecord`, `zipPattern` and source location.
    pub(crate) async fn parse_with(
        &self,
        database: &str,
        table_name: &str,
        format: calypso_ingest::Format,
        mapping: MappingSpec<'_>,
        data: &[u8],
        options: &ParseOptions,
    ) -> Result<(Vec<(String, KqlType)>, Vec<RecordBatch>)> {
        let (columns, mapping) = {
            let cat = self.storage.catalog();
            let db = super::db_of(&cat, database)?;
            let t = super::table_of(db, table_name)?;
            (table_columns(t), resolve_mapping(db, t, format, mapping)?)
        };
        let owned = data.to_vec();
        let cols = columns.clone();
        let read = calypso_ingest::ReadOptions {
            zip_pattern: options.zip_pattern.clone(),
            source_location: options.location.clone(),
            ignore_first_record: options.ignore_first_record,
            skip_field_count_validation: options.skip_field_count_validation,
        };
        // Parsing is CPU work: keep it off the async workers.
        let batches = tokio::task::spawn_blocking(move || -> Result<Vec<RecordBatch>> {
            calypso_ingest::read_input(format, &owned, &cols, mapping.as_ref(), &read)
                .map_err(EngineError::Ingest)
        })
        .await
        .map_err(|e| EngineError::Execution(e.to_string()))??;
        Ok((columns, batches))
    }

    /// Writes batches as one extent with `props` and commits it to the table (replacing
    /// its extents when asked), with what the update policies it triggers derive from
    /// them (`update_policy.rs`), all in one commit. `None`: no rows, or an
    /// `ingestIfNotExists` repeat (checked again in the commit, so two concurrent
    /// ingestions with the same tag land once).
    pub(crate) async fn append_batches(
        &self,
        database: &str,
        table_name: &str,
        columns: &[(String, KqlType)],
        batches: Vec<RecordBatch>,
        replace: bool,
        props: &ExtentProps,
    ) -> Result<Option<ExtentMeta>> {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows == 0 && !replace {
            return Ok(None);
        }
        let derived = if rows > 0 {
            self.derive_update_rows(database, table_name, &batches, props)
                .await?
        } else {
            Vec::new()
        };
        let mut written: Vec<Written> = Vec::new();
        let outcome = self
            .commit_with_derived(
                database,
                table_name,
                columns,
                batches,
                replace,
                props,
                derived,
                &mut written,
            )
            .await;
        match outcome {
            Ok(true) => Ok(written
                .into_iter()
                .find(|(t, _, _)| t == table_name)
                .map(|(_, _, e)| e)),
            Ok(false) | Err(_) => {
                for (_, _, e) in &written {
                    self.storage.forget_extent_file(e).await;
                }
                outcome.map(|_| None)
            }
        }
    }

    /// Writes the extents of the source table and of the derived rows (recording each in
    /// `written`, for the caller to delete when they are not committed) and commits them.
    /// `false`: an `ingestIfNotExists` repeat, nothing committed.
    #[allow(clippy::too_many_arguments)]
    async fn commit_with_derived(
        &self,
        database: &str,
        table_name: &str,
        columns: &[(String, KqlType)],
        batches: Vec<RecordBatch>,
        replace: bool,
        props: &ExtentProps,
        derived: Vec<super::update_policy::Derived>,
        written: &mut Vec<Written>,
    ) -> Result<bool> {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows > 0 {
            let e = self
                .extent_of(database, table_name, &batches, props)
                .await?;
            written.push((table_name.to_string(), columns.to_vec(), e));
        }
        // Tables the commit replaces: the source's and (`.set-or-replace`) its derived ones.
        let mut replaced: Vec<String> = Vec::new();
        if replace {
            replaced.push(table_name.to_string());
        }
        for d in derived {
            if replace {
                replaced.push(d.table.clone());
            }
            if d.batches.iter().any(|b| b.num_rows() > 0) {
                let e = self
                    .extent_of(database, &d.table, &d.batches, &d.props)
                    .await?;
                written.push((d.table, d.columns, e));
            }
        }
        let repeat = props.clone();
        let (db, tn) = (database.to_string(), table_name.to_string());
        let extents = written.clone();
        let committed = self
            .storage
            .commit(move |c| {
                let source = c.require_table_mut(&db, &tn)?;
                if repeat.already_ingested(source.extents.iter().flat_map(|e| e.tags.iter())) {
                    return Ok(false);
                }
                if let Some(again) = repeat
                    .source_ids
                    .iter()
                    .find(|s| source.extents.iter().any(|e| e.sources.contains(s)))
                {
                    return Err(SErr::invalid(format!(
                        "The queued ingestion '{again}' was ingested already"
                    )));
                }
                for name in &replaced {
                    // With the stand-in of the row store's rows: those go too.
                    c.require_table_mut(&db, name)?.extents.clear();
                }
                for (name, expected, e) in &extents {
                    let t = c.require_table_mut(&db, name)?;
                    let now: Vec<(String, KqlType)> = t
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), c.kql_type))
                        .collect();
                    // The schema may only have grown (alter-merge) since the data was shaped.
                    if !expected.iter().zip(&now).all(|(a, b)| a == b) || expected.len() > now.len()
                    {
                        return Err(SErr::invalid(format!(
                            "The schema of table '{name}' changed during the ingestion; retry"
                        )));
                    }
                    t.extents.push(e.clone().into());
                }
                Ok(true)
            })
            .await?;
        Ok(committed)
    }

    /// Writes `batches` as an extent file of the table with `props`' tags, message ids and
    /// creation time (not committed).
    async fn extent_of(
        &self,
        database: &str,
        table_name: &str,
        batches: &[RecordBatch],
        props: &ExtentProps,
    ) -> Result<ExtentMeta> {
        let mut e = self
            .storage
            .write_extent(database, table_name, batches)
            .await?;
        e.tags.clone_from(&props.tags);
        e.sources.extend(props.source_ids.iter().cloned());
        if let Some(at) = &props.creation_time {
            e.created_on.clone_from(at);
        }
        Ok(e)
    }

    /// `.ingest inline` and the `.set*`/`.append` commands.
    pub(crate) async fn ingest_command(
        &self,
        caller: &crate::Caller,
        database: &str,
        cmd: &IngestCommand,
        options: &RequestOptions,
    ) -> Result<ResultTable> {
        match cmd {
            IngestCommand::Inline {
                table: name,
                with,
                data,
            } => {
                let (format, reference, inline) = format_and_mapping(with)?;
                let mapping = MappingSpec::of(reference.as_deref(), inline.as_deref());
                let props = ExtentProps::from_with(with)?;
                let extent = self
                    .ingest_bytes(
                        database,
                        &name.name,
                        format,
                        mapping,
                        data.as_bytes(),
                        &props,
                    )
                    .await?;
                let rows = extent.map(|e| vec![guid(&e.id)]).into_iter().collect();
                table(&[("ExtentId", KqlType::Guid)], rows)
            }
            IngestCommand::FromStorage {
                table: name,
                sources,
                with,
                ..
            } => {
                self.ingest_from_storage(database, &name.name, sources, with)
                    .await
            }
            IngestCommand::FromQuery {
                verb,
                table: name,
                query,
                with,
                ..
            } => {
                let props = ExtentProps::from_with(with)?;
                let verb = match verb {
                    SetVerb::Set => "set",
                    SetVerb::Append => "append",
                    SetVerb::SetOrAppend => "set-or-append",
                    SetVerb::SetOrReplace => "set-or-replace",
                };
                let target = Target {
                    verb,
                    table: &name.name,
                    props: &props,
                };
                self.set_or_append(caller, database, target, query, options)
                    .await
            }
        }
    }

    pub(crate) async fn set_or_append(
        &self,
        caller: &crate::Caller,
        database: &str,
        target: Target<'_>,
        query: &Query,
        options: &RequestOptions,
    ) -> Result<ResultTable> {
        let Target {
            verb,
            table: table_name,
            props,
        } = target;
        if self.is_repeat(database, table_name, props) {
            return table(EXTENT_RESULT_COLS, Vec::new());
        }
        let result = self.run_query_ast(caller, database, query, options).await?;
        let Some(primary) = result.tables.into_iter().next() else {
            return Err(EngineError::BadRequest("The query has no result".into()));
        };
        let exists = {
            let cat = self.storage.catalog();
            super::db_of(&cat, database)?
                .tables
                .contains_key(table_name)
        };
        match (verb, exists) {
            ("set", true) => {
                return Err(EngineError::Conflict(format!(
                    "Table '{table_name}' already exists; use .append or .set-or-append"
                )));
            }
            ("append", false) => {
                return Err(EngineError::NotFound(format!(
                    "Table '{table_name}' was not found in database '{database}'"
                )));
            }
            (_, false) => {
                let cols = primary.columns.clone();
                let (db, tn) = (database.to_string(), table_name.to_string());
                let owner = crate::security::access::creator_assignment(caller);
                let policies: std::collections::BTreeMap<String, serde_json::Value> =
                    if props.policy_ingestiontime {
                        Default::default()
                    } else {
                        [(
                            "ingestiontime".to_string(),
                            serde_json::json!({"IsEnabled": false}),
                        )]
                        .into_iter()
                        .collect()
                    };
                self.storage
                    .commit(move |c| {
                        let d = c.require_database_mut(&db)?;
                        if let std::collections::btree_map::Entry::Vacant(slot) =
                            d.tables.entry(tn.clone())
                        {
                            slot.insert(
                                Table {
                                    name: tn.clone(),
                                    id: new_id(),
                                    columns: cols
                                        .into_iter()
                                        .map(|(name, kql_type)| Column::new(&name, kql_type))
                                        .collect(),
                                    roles: owner.into_iter().collect(),
                                    policies,
                                    ..Default::default()
                                }
                                .into(),
                            );
                        }
                        Ok(())
                    })
                    .await?;
            }
            _ => {}
        }
        let columns = {
            let cat = self.storage.catalog();
            table_columns(super::table_of(super::db_of(&cat, database)?, table_name)?)
        };
        for (name, _) in &primary.columns {
            if !columns.iter().any(|(c, _)| c == name) {
                return Err(EngineError::BadRequest(format!(
                    "Column '{name}' of the query does not exist in table '{table_name}'"
                )));
            }
        }
        let batches = align(primary.batches, &columns)?;
        let replace = verb == "set-or-replace";
        let extent = self
            .append_batches(database, table_name, &columns, batches, replace, props)
            .await?;
        let rows = match &extent {
            Some(e) => vec![vec![
                guid(&e.id),
                Cell::Long(e.size_bytes as i64),
                Cell::Long(e.size_bytes as i64),
                Cell::Long(e.size_bytes as i64),
                Cell::Long(0),
                Cell::Long(e.rows as i64),
            ]],
            None => Vec::new(),
        };
        table(EXTENT_RESULT_COLS, rows)
    }

    /// `.show tables | where ...`: runs the operators over the command's result.
    pub(crate) async fn pipe_command_result(
        &self,
        caller: &crate::Caller,
        result: ResultTable,
        ops: &[Operator],
    ) -> Result<ResultTable> {
        let schema = kql_functions::types::schema(&result.columns);
        let mem = MemTable::try_new(schema, vec![result.batches])
            .map_err(|e| EngineError::Execution(e.to_string()))?;
        let mut query_text = String::from("__command_result");
        for op in ops {
            query_text.push_str("\n| ");
            query_text.push_str(&op.to_string());
        }
        let out = self
            .execute_with_extra_table(caller, &query_text, "__command_result", Arc::new(mem))
            .await?;
        let mut t = out
            .tables
            .into_iter()
            .next()
            .ok_or_else(|| EngineError::Execution("no result".into()))?;
        t.name = "Table_0".into();
        Ok(t)
    }
}
