//! Operations and monitoring: the record of queries and commands behind `.show queries`,
//! `.show running queries`, `.show commands`, `.show commands-and-queries`, `.show
//! operations [id]` and `.show operation id details`; `.cancel query` (which really stops
//! the query); `.show journal` (the catalog's DDL history); `.show diagnostics`, `.show
//! capacity`, `.show cluster`, `.show version`, and the empty lists of entities Calypso does
//! not have yet (materialized views, entity groups, external tables).
//!
//! Records live in memory for a bounded window: the newest [`KEEP`] requests.

use std::collections::VecDeque;
use std::sync::Mutex;

use kql_functions::KqlType;
use kql_syntax::ast::OperationsCommand;

use crate::security::access::{self, Action, Need};
use crate::table::{Cell, guid, rfc3339_nanos, table};
use crate::{Caller, Engine, EngineError, Result, ResultTable};

/// How many finished requests are kept (running ones are always kept).
pub(crate) const KEEP: usize = 2000;

/// Whether a record is a query or a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKind {
    Query,
    Command,
    /// Work the server does on its own: a queued ingestion (`.show operations` lists it,
    /// `.show commands` does not).
    Background,
}

/// A request's state, as ADX names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    InProgress,
    Completed,
    Failed(String),
    Cancelled(String),
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::InProgress => "InProgress",
            State::Completed => "Completed",
            State::Failed(_) => "Failed",
            State::Cancelled(_) => "Cancelled",
        }
    }

    fn reason(&self) -> String {
        match self {
            State::Failed(r) | State::Cancelled(r) => r.clone(),
            _ => String::new(),
        }
    }
}

/// One query or command.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) id: String,
    pub(crate) kind: RecordKind,
    /// The official command kind (`TableCreate`-style names are ADX's; Calypso uses the
    /// command's kind, `CreateTable`), or `Query`.
    pub(crate) command_type: String,
    pub(crate) client_activity_id: String,
    pub(crate) text: String,
    pub(crate) database: String,
    pub(crate) started: i64,
    pub(crate) updated: i64,
    pub(crate) state: State,
    pub(crate) principal: String,
    pub(crate) user: String,
    pub(crate) application: String,
    pub(crate) cancel: Option<tokio::sync::watch::Sender<Option<String>>>,
    /// The result of an `async` command, for `.show operation <id> details`.
    pub(crate) details: Option<ResultTable>,
}

/// A running request's record: [`Running::finish`] records its outcome; dropped unfinished
/// (a server timeout, a client that went away), it is recorded as cancelled.
pub(crate) struct Running<'a> {
    activity: &'a Activity,
    id: String,
    done: bool,
}

impl Running<'_> {
    /// Records the outcome.
    pub(crate) fn finish<T>(mut self, outcome: &Result<T>) {
        self.done = true;
        let o = match outcome {
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        self.activity.finish(&self.id, o);
    }

    /// Records that the request failed with `error`.
    pub(crate) fn fail(mut self, error: &EngineError) {
        self.done = true;
        self.activity.finish(&self.id, Err(error.to_string()));
    }

    /// The record's id (an `async` command's OperationId).
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Records the outcome of an `async` command, keeping its result for `.show operation
    /// <id> details`.
    pub(crate) fn finish_async(self, outcome: &Result<ResultTable>) {
        if let Ok(t) = outcome {
            let mut records = self.activity.lock();
            if let Some(r) = records.iter_mut().find(|r| r.id == self.id) {
                r.details = Some(t.clone());
            }
        }
        self.finish(outcome);
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.activity.cancel_id(
                &self.id,
                "The request was abandoned (server timeout or client disconnect)",
            );
        }
    }
}

/// The request log.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    records: Mutex<VecDeque<Record>>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// What the caller passes in to be recorded.
pub(crate) struct Start<'a> {
    pub(crate) kind: RecordKind,
    pub(crate) command_type: &'a str,
    pub(crate) text: &'a str,
    pub(crate) database: &'a str,
    pub(crate) caller: &'a Caller,
    pub(crate) client_activity_id: Option<&'a str>,
    pub(crate) user: Option<&'a str>,
    pub(crate) application: Option<&'a str>,
}

impl<'a> Start<'a> {
    /// What a request of `caller` records, with the client's ids from its options.
    pub(crate) fn new(
        kind: RecordKind,
        command_type: &'a str,
        text: &'a str,
        database: &'a str,
        caller: &'a Caller,
        options: &'a crate::RequestOptions,
    ) -> Start<'a> {
        Start {
            kind,
            command_type,
            text,
            database,
            caller,
            client_activity_id: options.client_request_id.as_deref(),
            user: options.user.as_deref(),
            application: options.application.as_deref(),
        }
    }
}

impl Activity {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a request that starts now. The receiver tells it when `.cancel query` asks it
    /// to stop (with the reason); the guard records how it ended.
    pub(crate) fn start(
        &self,
        s: Start<'_>,
    ) -> (Running<'_>, tokio::sync::watch::Receiver<Option<String>>) {
        let (tx, rx) = tokio::sync::watch::channel(None);
        let id = uuid::Uuid::new_v4().to_string();
        let t = now();
        let text: String = s.text.chars().take(64 * 1024).collect();
        let r = Record {
            id: id.clone(),
            kind: s.kind,
            command_type: s.command_type.to_string(),
            client_activity_id: s
                .client_activity_id
                .map_or_else(|| format!("Calypso;{id}"), str::to_string),
            text,
            database: s.database.to_string(),
            started: t,
            updated: t,
            state: State::InProgress,
            principal: s.caller.fqn(),
            user: s.user.unwrap_or_default().to_string(),
            application: s.application.unwrap_or_default().to_string(),
            cancel: Some(tx),
            details: None,
        };
        self.push(r);
        (
            Running {
                activity: self,
                id,
                done: false,
            },
            rx,
        )
    }

    /// Records how a request ended.
    fn finish(&self, id: &str, outcome: std::result::Result<(), String>) {
        let mut records = self.lock();
        if let Some(r) = records.iter_mut().find(|r| r.id == id) {
            r.updated = now();
            r.cancel = None;
            r.state = match (outcome, &r.state) {
                (_, State::Cancelled(reason)) => State::Cancelled(reason.clone()),
                (Ok(()), _) => State::Completed,
                (Err(e), _) => State::Failed(e),
            };
        }
    }

    /// Asks the running query with this ClientActivityId to stop; `Ok(false)` when none runs.
    /// Only the queries `may` allows are cancelled (the caller's own, or all for Admins).
    pub(crate) fn cancel(
        &self,
        client_activity_id: &str,
        reason: &str,
        may: impl Fn(&Record) -> bool,
    ) -> bool {
        let mut records = self.lock();
        let mut found = false;
        for r in records.iter_mut().filter(|r| {
            r.kind == RecordKind::Query
                && r.state == State::InProgress
                && r.client_activity_id == client_activity_id
                && may(r)
        }) {
            if let Some(tx) = &r.cancel {
                let _ = tx.send(Some(reason.to_string()));
            }
            r.state = State::Cancelled(reason.to_string());
            r.updated = now();
            found = true;
        }
        found
    }

    fn cancel_id(&self, id: &str, reason: &str) {
        let mut records = self.lock();
        if let Some(r) = records.iter_mut().find(|r| r.id == id) {
            r.state = State::Cancelled(reason.to_string());
            r.updated = now();
            r.cancel = None;
        }
    }

    /// Records work that has already ended (a queued ingestion, as the worker reports it).
    pub(crate) fn record_finished(&self, r: Record) {
        self.push(r);
    }

    /// Adds a record, forgetting the oldest finished ones beyond the window.
    fn push(&self, r: Record) {
        let mut records = self.lock();
        records.push_back(r);
        while records.len() > KEEP {
            match records.iter().position(|r| r.state != State::InProgress) {
                Some(i) => {
                    records.remove(i);
                }
                None => break,
            }
        }
    }

    fn snapshot(&self) -> Vec<Record> {
        self.lock().iter().cloned().collect()
    }
}

/// Which records a caller sees: its own, or all of them for a database Admin or Monitor of
/// the record's database (and cluster roles), as `.show queries` documents.
fn visible(caller: &Caller, cat: &calypso_storage::Catalog, r: &Record) -> bool {
    if matches!(caller, Caller::Unauthenticated) || r.principal == caller.fqn() {
        return true;
    }
    access::allowed(
        caller,
        cat,
        &Action::new(
            "QueriesShowCommand",
            Need::DatabaseMonitor {
                database: r.database.clone(),
            },
        ),
    )
}

fn duration(r: &Record) -> Cell {
    let end = if r.state == State::InProgress {
        now()
    } else {
        r.updated
    };
    Cell::TimeSpan(end - r.started)
}

const QUERY_COLS: &[(&str, KqlType)] = &[
    ("ClientActivityId", KqlType::String),
    ("Text", KqlType::String),
    ("Database", KqlType::String),
    ("StartedOn", KqlType::DateTime),
    ("LastUpdatedOn", KqlType::DateTime),
    ("Duration", KqlType::TimeSpan),
    ("State", KqlType::String),
    ("RootActivityId", KqlType::Guid),
    ("User", KqlType::String),
    ("FailureReason", KqlType::String),
    ("TotalCpu", KqlType::TimeSpan),
    ("CacheStatistics", KqlType::Dynamic),
    ("Application", KqlType::String),
    ("MemoryPeak", KqlType::Long),
    ("ScannedExtentsStatistics", KqlType::Dynamic),
    ("Principal", KqlType::String),
    ("ClientRequestProperties", KqlType::Dynamic),
    ("ResultSetStatistics", KqlType::Dynamic),
    ("WorkloadGroup", KqlType::String),
    ("OverallQueryStats", KqlType::String),
    ("VirtualCluster", KqlType::String),
];

fn query_row(r: &Record) -> Vec<Cell> {
    vec![
        r.client_activity_id.clone().into(),
        r.text.clone().into(),
        r.database.clone().into(),
        Cell::DateTime(r.started),
        Cell::DateTime(r.updated),
        duration(r),
        r.state.name().into(),
        guid(&r.id),
        r.user.clone().into(),
        r.state.reason().into(),
        Cell::TimeSpan(0),
        Cell::Dynamic("{}".into()),
        r.application.clone().into(),
        Cell::Long(0),
        Cell::Dynamic("{}".into()),
        r.principal.clone().into(),
        Cell::Dynamic("{}".into()),
        Cell::Dynamic("{}".into()),
        "default".into(),
        String::new().into(),
        String::new().into(),
    ]
}

const COMMAND_COLS: &[(&str, KqlType)] = &[
    ("ClientActivityId", KqlType::String),
    ("CommandType", KqlType::String),
    ("Text", KqlType::String),
    ("Database", KqlType::String),
    ("StartedOn", KqlType::DateTime),
    ("LastUpdatedOn", KqlType::DateTime),
    ("Duration", KqlType::TimeSpan),
    ("State", KqlType::String),
    ("RootActivityId", KqlType::Guid),
    ("User", KqlType::String),
    ("FailureReason", KqlType::String),
    ("Application", KqlType::String),
    ("Principal", KqlType::String),
    ("TotalCpu", KqlType::TimeSpan),
    ("ResourcesUtilization", KqlType::Dynamic),
    ("ClientRequestProperties", KqlType::Dynamic),
    ("WorkloadGroup", KqlType::String),
    ("VirtualCluster", KqlType::String),
];

fn command_row(r: &Record) -> Vec<Cell> {
    vec![
        r.client_activity_id.clone().into(),
        r.command_type.clone().into(),
        r.text.clone().into(),
        r.database.clone().into(),
        Cell::DateTime(r.started),
        Cell::DateTime(r.updated),
        duration(r),
        r.state.name().into(),
        guid(&r.id),
        r.user.clone().into(),
        r.state.reason().into(),
        r.application.clone().into(),
        r.principal.clone().into(),
        Cell::TimeSpan(0),
        Cell::Dynamic("{}".into()),
        Cell::Dynamic("{}".into()),
        "default".into(),
        String::new().into(),
    ]
}

const BOTH_COLS: &[(&str, KqlType)] = &[
    ("ClientActivityId", KqlType::String),
    ("CommandType", KqlType::String),
    ("Text", KqlType::String),
    ("Database", KqlType::String),
    ("StartedOn", KqlType::DateTime),
    ("LastUpdatedOn", KqlType::DateTime),
    ("Duration", KqlType::TimeSpan),
    ("State", KqlType::String),
    ("FailureReason", KqlType::String),
    ("RootActivityId", KqlType::Guid),
    ("User", KqlType::String),
    ("Application", KqlType::String),
    ("Principal", KqlType::String),
    ("ClientRequestProperties", KqlType::Dynamic),
    ("TotalCpu", KqlType::TimeSpan),
    ("MemoryPeak", KqlType::Long),
    ("CacheStatistics", KqlType::Dynamic),
    ("ScannedExtentsStatistics", KqlType::Dynamic),
    ("ResultSetStatistics", KqlType::Dynamic),
    ("WorkloadGroup", KqlType::String),
    ("VirtualCluster", KqlType::String),
];

fn both_row(r: &Record) -> Vec<Cell> {
    vec![
        r.client_activity_id.clone().into(),
        r.command_type.clone().into(),
        r.text.clone().into(),
        r.database.clone().into(),
        Cell::DateTime(r.started),
        Cell::DateTime(r.updated),
        duration(r),
        r.state.name().into(),
        r.state.reason().into(),
        guid(&r.id),
        r.user.clone().into(),
        r.application.clone().into(),
        r.principal.clone().into(),
        Cell::Dynamic("{}".into()),
        Cell::TimeSpan(0),
        Cell::Long(0),
        Cell::Dynamic("{}".into()),
        Cell::Dynamic("{}".into()),
        Cell::Dynamic("{}".into()),
        "default".into(),
        String::new().into(),
    ]
}

const OPERATION_COLS: &[(&str, KqlType)] = &[
    ("OperationId", KqlType::Guid),
    ("Operation", KqlType::String),
    ("NodeId", KqlType::String),
    ("StartedOn", KqlType::DateTime),
    ("LastUpdatedOn", KqlType::DateTime),
    ("Duration", KqlType::TimeSpan),
    ("State", KqlType::String),
    ("Status", KqlType::String),
    ("RootActivityId", KqlType::Guid),
    ("ShouldRetry", KqlType::Bool),
    ("Database", KqlType::String),
    ("Principal", KqlType::String),
    ("User", KqlType::String),
    ("AdminEpochStartTime", KqlType::DateTime),
    ("VirtualCluster", KqlType::String),
];

fn operation_row(r: &Record, started: i64) -> Vec<Cell> {
    vec![
        guid(&r.id),
        r.command_type.clone().into(),
        "calypso-0".into(),
        Cell::DateTime(r.started),
        Cell::DateTime(r.updated),
        duration(r),
        r.state.name().into(),
        r.state.reason().into(),
        guid(&r.id),
        Cell::Bool(false),
        r.database.clone().into(),
        r.principal.clone().into(),
        r.user.clone().into(),
        Cell::DateTime(started),
        String::new().into(),
    ]
}

const JOURNAL_COLS: &[(&str, KqlType)] = &[
    ("Event", KqlType::String),
    ("EventTimestamp", KqlType::DateTime),
    ("Database", KqlType::String),
    ("EntityName", KqlType::String),
    ("UpdatedEntityName", KqlType::String),
    ("EntityVersion", KqlType::String),
    ("EntityContainerName", KqlType::String),
    ("OriginalEntityState", KqlType::String),
    ("UpdatedEntityState", KqlType::String),
    ("ChangeCommand", KqlType::String),
    ("Principal", KqlType::String),
    ("RootActivityId", KqlType::Guid),
    ("ClientRequestId", KqlType::String),
    ("User", KqlType::String),
    ("OriginalEntityVersion", KqlType::String),
];

impl Engine {
    pub(crate) async fn operations_command(
        &self,
        caller: &Caller,
        database: &str,
        cmd: &OperationsCommand,
    ) -> Result<ResultTable> {
        let cat = self.storage.catalog();
        let records = || -> Vec<Record> {
            self.activity
                .snapshot()
                .into_iter()
                .filter(|r| visible(caller, &cat, r))
                .collect()
        };
        match cmd {
            OperationsCommand::ShowQueries { running } => {
                let rows = records()
                    .iter()
                    .filter(|r| r.kind == RecordKind::Query)
                    .filter(|r| !*running || r.state == State::InProgress)
                    .map(query_row)
                    .collect();
                if *running {
                    // `.show running queries` spells two columns its own way.
                    let mut cols = QUERY_COLS[..19].to_vec();
                    cols[14].0 = "ScannedEventStatistics";
                    cols[15].0 = "Pricipal";
                    let rows = records()
                        .iter()
                        .filter(|r| r.kind == RecordKind::Query && r.state == State::InProgress)
                        .map(|r| query_row(r)[..19].to_vec())
                        .collect();
                    return table(&cols, rows);
                }
                table(QUERY_COLS, rows)
            }
            OperationsCommand::CancelQuery {
                client_activity_id,
                reason,
            } => {
                let reason = reason
                    .clone()
                    .unwrap_or_else(|| "Cancelled by .cancel query".into());
                if !self
                    .activity
                    .cancel(client_activity_id, &reason, |r| visible(caller, &cat, r))
                {
                    return Err(EngineError::NotFound(format!(
                        "No running query has the ClientActivityId '{client_activity_id}'"
                    )));
                }
                table(
                    &[
                        ("RunningQueryCanceled", KqlType::Bool),
                        ("ReasonPhrase", KqlType::String),
                    ],
                    vec![vec![Cell::Bool(true), reason.into()]],
                )
            }
            OperationsCommand::ShowCommands => table(
                COMMAND_COLS,
                records()
                    .iter()
                    .filter(|r| r.kind == RecordKind::Command)
                    .map(command_row)
                    .collect(),
            ),
            OperationsCommand::ShowCommandsAndQueries => {
                table(BOTH_COLS, records().iter().map(both_row).collect())
            }
            OperationsCommand::ShowOperations { ids } => {
                let wanted = |r: &Record| {
                    ids.is_empty() || ids.iter().any(|i| i.eq_ignore_ascii_case(&r.id))
                };
                table(
                    OPERATION_COLS,
                    records()
                        .iter()
                        .filter(|r| r.kind != RecordKind::Query && wanted(r))
                        .map(|r| operation_row(r, self.started_nanos))
                        .collect(),
                )
            }
            OperationsCommand::ShowOperationDetails { id } => {
                let found = records()
                    .into_iter()
                    .find(|r| r.id.eq_ignore_ascii_case(id))
                    .ok_or_else(|| {
                        EngineError::NotFound(format!("Operation '{id}' was not found"))
                    })?;
                // operations.md: the result of the operation as it would have been when run
                // synchronously. Calypso keeps that for `async` commands; for the others, the
                // details are the operation's record.
                if let Some(details) = found.details.clone() {
                    return Ok(details);
                }
                if found.state == State::InProgress {
                    return Err(EngineError::BadRequest(format!(
                        "Operation '{id}' is still in progress: its details are known when it completes"
                    )));
                }
                table(
                    &[
                        ("OperationId", KqlType::Guid),
                        ("Operation", KqlType::String),
                        ("State", KqlType::String),
                        ("Status", KqlType::String),
                    ],
                    vec![vec![
                        guid(&found.id),
                        found.command_type.clone().into(),
                        found.state.name().into(),
                        found.state.reason().into(),
                    ]],
                )
            }
            OperationsCommand::ShowJournal { database: db } => {
                let rows = cat
                    .journal
                    .iter()
                    .filter(|e| db.as_ref().is_none_or(|d| e.database == d.name))
                    .filter(|e| {
                        e.database.is_empty()
                            || access::allowed(
                                caller,
                                &cat,
                                &Action::new(
                                    "JournalShowCommand",
                                    Need::DatabaseMetadata {
                                        database: e.database.clone(),
                                    },
                                ),
                            )
                    })
                    .map(|e| {
                        vec![
                            e.event.clone().into(),
                            Cell::DateTime(rfc3339_nanos(&e.timestamp)),
                            e.database.clone().into(),
                            e.entity_name.clone().into(),
                            e.updated_entity_name.clone().into(),
                            e.entity_version.clone().into(),
                            String::new().into(),
                            e.original_state.clone().into(),
                            e.updated_state.clone().into(),
                            e.command.clone().into(),
                            e.principal.clone().into(),
                            guid(""),
                            e.client_request_id.clone().into(),
                            String::new().into(),
                            String::new().into(),
                        ]
                    })
                    .collect();
                let _ = database;
                table(JOURNAL_COLS, rows)
            }
            OperationsCommand::ShowIngestionFailures { operation_id } => {
                self.ingestion_failures(caller, operation_id.as_deref())
                    .await
            }
            OperationsCommand::ShowDiagnostics => super::extents::diagnostics(self, &cat),
            OperationsCommand::ShowCapacity => super::extents::capacity(self),
            OperationsCommand::ShowCluster => super::extents::cluster(self),
            OperationsCommand::ShowVersion => super::extents::version(self),
            OperationsCommand::ShowMaterializedViews => table(
                &[
                    ("Name", KqlType::String),
                    ("SourceTable", KqlType::String),
                    ("Query", KqlType::String),
                    ("MaterializedTo", KqlType::DateTime),
                    ("LastRun", KqlType::DateTime),
                    ("LastRunResult", KqlType::String),
                    ("IsHealthy", KqlType::Bool),
                    ("IsEnabled", KqlType::Bool),
                    ("Folder", KqlType::String),
                    ("DocString", KqlType::String),
                    ("AutoUpdateSchema", KqlType::Bool),
                    ("EffectiveDateTime", KqlType::DateTime),
                    ("Lookback", KqlType::TimeSpan),
                    ("LookbackColumn", KqlType::String),
                ],
                Vec::new(),
            ),
            OperationsCommand::ShowEntityGroups => table(
                &[("Name", KqlType::String), ("Entities", KqlType::String)],
                Vec::new(),
            ),
            OperationsCommand::ShowExternalTables => table(
                &[
                    ("TableName", KqlType::String),
                    ("TableType", KqlType::String),
                    ("Folder", KqlType::String),
                    ("DocString", KqlType::String),
                    ("Properties", KqlType::String),
                    ("ConnectionStrings", KqlType::Dynamic),
                    ("Partitions", KqlType::Dynamic),
                    ("PathFormat", KqlType::String),
                ],
                Vec::new(),
            ),
        }
    }
}
