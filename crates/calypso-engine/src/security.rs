//! Who runs a request, and what they may do: Azure Data Explorer's role-based access
//! control.
//!
//! Every request runs as a [`Caller`]. [`Engine::execute_as`] authorizes a control command
//! before running it (`classify::command_actions` says what it needs) and a query twice:
//! the database must be readable before planning, and every table the plan reads (through
//! stored functions too, which run with the caller's rights) must be readable after
//! planning — a table with the RestrictedViewAccess policy needs UnrestrictedViewer.
//! `access::authorize` is the one function that decides. Role assignments live in the
//! catalog (cluster, database, table and function level); `commands/principals.rs` has the
//! commands that change and show them.
//!
//! [`Caller::Unauthenticated`] (the server without authentication, as the ADX emulator)
//! may do everything; its `current_principal()` is `""`.

pub(crate) mod access;
mod classify;

use std::collections::HashMap;

use calypso_auth::PrincipalName;
use kql_syntax::ast::StatementKind;

use crate::commands::operations::{RecordKind, Start};
use crate::{
    Ctx, EngineError, IngestSummary, MappingSpec, QueryResult, QueryStream, RequestOptions, Result,
    ResultLimits,
};
use crate::{Engine, commands::now_rfc3339};
use access::{Action, Need, Role, authorize};

/// Whether a command runs in the request's database (which must then exist); commands about
/// the cluster or naming their own database do not.
fn needs_request_database(cmd: &kql_syntax::ast::Command) -> bool {
    use kql_syntax::ast::{
        CommandKind, ExtentsCommand, ExtentsScope, PolicyScope, SecurityCommand, SecurityScope,
    };
    match &cmd.kind {
        CommandKind::Database(_)
        | CommandKind::Operations(_)
        | CommandKind::Unsupported { .. }
        // The SDKs send them in `NetDefaultDB`, which need not exist.
        | CommandKind::DataManagement(_) => {
            false
        }
        CommandKind::Policy(p) => !matches!(p.scope, PolicyScope::Cluster),
        CommandKind::Extents(ExtentsCommand::Show { scope, .. }) => {
            !matches!(scope, ExtentsScope::Cluster)
        }
        CommandKind::Extents(_) => true,
        CommandKind::Security(SecurityCommand::ShowRoles { scope: None, .. }) => false,
        CommandKind::Security(
            SecurityCommand::ChangeRoles { scope, .. }
            | SecurityCommand::ShowPrincipals(scope)
            | SecurityCommand::ShowRoles {
                scope: Some(scope), ..
            },
        ) => !matches!(scope, SecurityScope::Cluster),
        CommandKind::Table(_)
        | CommandKind::Function(_)
        | CommandKind::Mapping(_)
        | CommandKind::Ingest(_)
        | CommandKind::Cache(_) => true,
    }
}

/// The caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No authentication (the server's `none` mode): every permission, as on the emulator.
    Unauthenticated,
    /// A principal authenticated by a bearer token.
    Principal(Box<calypso_auth::Identity>),
}

/// The unauthenticated caller, for the entry points without one.
pub(crate) static UNAUTHENTICATED: Caller = Caller::Unauthenticated;

impl Engine {
    /// [`Engine::execute`] on behalf of `caller`: refused with
    /// [`crate::EngineError::Forbidden`] unless the caller's roles allow it.
    pub async fn execute_as(
        &self,
        caller: &Caller,
        database: &str,
        text: &str,
        options: &RequestOptions,
    ) -> Result<QueryResult> {
        let query = Self::parse(text)?;
        let command = query.statements.iter().find_map(|s| match &s.kind {
            StatementKind::Command(c) => Some(c),
            _ => None,
        });
        if let Some(cmd) = command {
            if query.statements.len() != 1 {
                return Err(EngineError::BadRequest(
                    "A request may hold one control command, alone".into(),
                ));
            }
            {
                let cat = self.storage.catalog();
                for action in classify::command_actions(&cat, database, cmd) {
                    authorize(caller, &cat, &action)?;
                }
            }
            if needs_request_database(cmd)
                && !self.storage.catalog().databases.contains_key(database)
            {
                return Err(EngineError::UnknownDatabase(database.to_string()));
            }
            let (running, _cancel) = self.activity.start(Start::new(
                RecordKind::Command,
                cmd.name,
                text,
                database,
                caller,
                options,
            ));
            let r = self.command(caller, database, cmd, options).await;
            // An `async` command runs to completion before the reply (Calypso's commands are
            // quick), and answers, as ADX does, with its OperationId: `.show operations <id>`
            // tells its state and `.show operation <id> details` its result.
            let r = if cmd.is_async() {
                let id = running.id().to_string();
                running.finish_async(&r);
                r.and_then(|_| {
                    crate::table::table(
                        &[("OperationId", kql_functions::KqlType::Guid)],
                        vec![vec![crate::table::guid(&id)]],
                    )
                })
            } else {
                running.finish(&r);
                r
            };
            return Ok(QueryResult {
                tables: vec![r?],
                options: HashMap::new(),
                command: Some(cmd.name),
            });
        }
        self.start_query(caller, database, &query, text, options)
            .await?
            .collect()
            .await
    }

    /// Starts a query (not a command) on behalf of `caller` and returns its result tables
    /// as a stream: what a server writes to the wire as it is produced. The result limits
    /// of `options.truncation` (and the query's `set` statements) apply; see
    /// [`crate::ResultLimits::resolve`].
    pub async fn query_stream_as<'a>(
        &'a self,
        caller: &Caller,
        database: &str,
        text: &str,
        options: &RequestOptions,
    ) -> Result<QueryStream<'a>> {
        let query = Self::parse_query(text)?;
        self.start_query(caller, database, &query, text, options)
            .await
    }

    /// Authorizes, records (`.show queries`) and plans a query.
    async fn start_query<'a>(
        &'a self,
        caller: &Caller,
        database: &str,
        query: &kql_syntax::ast::Query,
        text: &str,
        options: &RequestOptions,
    ) -> Result<QueryStream<'a>> {
        authorize(
            caller,
            &self.storage.catalog(),
            &Action::new(
                "Query",
                Need::Query {
                    database: database.to_string(),
                },
            ),
        )?;
        let (running, cancel) = self.activity.start(Start::new(
            RecordKind::Query,
            "Query",
            text,
            database,
            caller,
            options,
        ));
        let started = async {
            let planned = self
                .plan_probing(caller, database, options, query, text)
                .await?;
            let limits = options.truncation.map_or(ResultLimits::NONE, |t| {
                ResultLimits::resolve(&t, &planned.options)
            });
            let session = self.query_session(options, &planned.options)?;
            QueryStream::new(planned, session, limits)
        }
        .await;
        match started {
            Ok(stream) => Ok(stream.with_activity(running, cancel)),
            Err(e) => {
                running.fail(&e);
                Err(e)
            }
        }
    }

    /// [`Engine::ingest_stream`] on behalf of `caller` (needs Ingestor on the table or
    /// database, or Admin).
    pub async fn ingest_stream_as(
        &self,
        caller: &Caller,
        database: &str,
        table: &str,
        format: &str,
        mapping: MappingSpec<'_>,
        body: &[u8],
    ) -> Result<IngestSummary> {
        self.authorize_streaming(caller, database, table)?;
        self.ingest_stream(database, table, format, mapping, body)
            .await
    }

    /// Streaming ingestion needs Ingestor (or Admin) on the table.
    fn authorize_streaming(&self, caller: &Caller, database: &str, table: &str) -> Result<()> {
        authorize(
            caller,
            &self.storage.catalog(),
            &Action::new(
                "StreamingIngest",
                Need::Ingest {
                    database: database.to_string(),
                    table: table.to_string(),
                },
            ),
        )
    }

    /// Streaming ingestion of the data at `uri` (`sourceKind=uri`, the SDKs'
    /// `ingest_from_blob` on the streaming client): a blob this server handed out, an
    /// http(s) URL or an allowed local file, as `.ingest into` reads them.
    pub async fn ingest_stream_from_uri_as(
        &self,
        caller: &Caller,
        database: &str,
        table: &str,
        format: &str,
        mapping: MappingSpec<'_>,
        uri: &str,
    ) -> Result<IngestSummary> {
        self.authorize_streaming(caller, database, table)?;
        let body = self.read_source(uri).await?;
        self.ingest_stream(database, table, format, mapping, &body)
            .await
    }

    /// Makes `principal` (e.g. `aaduser=alice@contoso.com;<tenant>`) an AllDatabasesAdmin
    /// unless it is one already: the first cluster admin given at start.
    pub async fn ensure_cluster_admin(&self, principal: &str) -> Result<()> {
        let name =
            PrincipalName::parse(principal).map_err(|e| EngineError::BadRequest(e.to_string()))?;
        let canonical = name.to_string();
        let role = Role::AllDatabasesAdmin.name();
        if self
            .storage
            .catalog()
            .cluster_roles
            .iter()
            .any(|a| a.is(role, &canonical))
        {
            return Ok(());
        }
        self.storage
            .commit(move |c| {
                if !c.cluster_roles.iter().any(|a| a.is(role, &canonical)) {
                    c.cluster_roles.push(calypso_storage::RoleAssignment {
                        role: role.into(),
                        principal: canonical,
                        display_name: name.id().to_string(),
                        notes: "Cluster admin given at start".into(),
                        added_on: now_rfc3339(),
                        id: crate::commands::new_id(),
                    });
                }
                Ok(())
            })
            .await?;
        Ok(())
    }
}

/// Checks that the caller may query every other database the query names
/// (`database("D")`) and read every table the plan read, in whichever database
/// (RestrictedViewAccess).
pub(crate) fn authorize_reads(caller: &Caller, ctx: &Ctx<'_>) -> Result<()> {
    for database in ctx.databases_named() {
        authorize(
            caller,
            &ctx.catalog,
            &Action::new("Query", Need::Query { database }),
        )?;
    }
    for (database, table) in ctx.tables_read() {
        authorize(
            caller,
            &ctx.catalog,
            &Action::new("Query", Need::ReadTable { database, table }),
        )?;
    }
    Ok(())
}
