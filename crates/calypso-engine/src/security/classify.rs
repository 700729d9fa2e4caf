//! What each control command needs ([`command_actions`]): the documented permission of
//! its page, with the name ADX gives the operation in its "not authorized to perform
//! operation" messages.
//!
//! Table and function commands on an entity that does not exist need only what creating
//! it would (User or Admin), so that such callers get the command's "not found" error.

use calypso_storage::Catalog;
use kql_syntax::ast::{ColumnDecl, Command, CommandKind};

use super::access::{Action, Need};
use crate::commands::principals::{self, Scope, SecurityCommand, Verb};
use crate::commands::{W, is, name_at, words};

/// Admin of the table, or — when it does not exist — what creating it needs.
fn table_admin(op: &'static str, cat: &Catalog, database: &str, table: &str) -> Action {
    let (database, table) = (database.to_string(), table.to_string());
    if cat.table(&database, &table).is_some() {
        Action::new(op, Need::TableAdmin { database, table })
    } else {
        Action::new(op, Need::CreateEntities { database })
    }
}

/// Admin of the function, or — when it does not exist — what creating it needs.
fn function_admin(op: &'static str, cat: &Catalog, database: &str, function: &str) -> Action {
    let exists = cat
        .database(database)
        .is_some_and(|d| d.functions.contains_key(function));
    let database = database.to_string();
    if exists {
        Action::new(
            op,
            Need::FunctionAdmin {
                database,
                function: function.to_string(),
            },
        )
    } else {
        Action::new(op, Need::CreateEntities { database })
    }
}

/// `.create`/`.create-merge`/`.alter`/`.alter-merge table T (...)`: creating needs User;
/// extending an existing table (create-merge with new columns) and altering need its Admin.
fn table_schema_action(
    cat: &Catalog,
    database: &str,
    verb: &str,
    name: &str,
    columns: &[ColumnDecl],
    plural: bool,
) -> Action {
    let create = Need::CreateEntities {
        database: database.to_string(),
    };
    match verb {
        "create" => Action::new(
            if plural {
                "TablesCreateCommand"
            } else {
                "TableCreateCommand"
            },
            create,
        ),
        "create-merge" => {
            let op = if plural {
                "TablesCreateMergeCommand"
            } else {
                "TableCreateMergeCommand"
            };
            match cat.table(database, name) {
                Some(t) if columns.iter().any(|c| t.column(&c.name.name).is_none()) => {
                    table_admin(op, cat, database, name)
                }
                Some(_) | None => Action::new(op, create),
            }
        }
        "alter-merge" => table_admin("TableAlterMergeCommand", cat, database, name),
        _ => table_admin("TableAlterCommand", cat, database, name),
    }
}

/// The actions a command needs, all of which must be allowed.
pub(crate) fn command_actions(cat: &Catalog, database: &str, cmd: &Command) -> Vec<Action> {
    let db = || database.to_string();
    match &cmd.kind {
        CommandKind::TableSchema {
            verb,
            table,
            columns,
            ..
        } => vec![table_schema_action(
            cat,
            database,
            verb,
            &table.name,
            columns,
            false,
        )],
        CommandKind::CreateTables { verb, tables } => tables
            .iter()
            .map(|(name, cols)| table_schema_action(cat, database, verb, &name.name, cols, true))
            .collect(),
        CommandKind::DropTable { table, .. } => {
            vec![table_admin("TableDropCommand", cat, database, &table.name)]
        }
        CommandKind::RenameTable { from, .. } => {
            vec![table_admin("TableRenameCommand", cat, database, &from.name)]
        }
        CommandKind::IngestInline { table, .. } => vec![Action::new(
            "DataIngestInlineCommand",
            Need::Ingest {
                database: db(),
                table: table.name.clone(),
            },
        )],
        CommandKind::SetOrAppend { verb, table, .. } => {
            let op = match verb.as_str() {
                "set" => "TableSetCommand",
                "append" => "TableAppendCommand",
                "set-or-replace" => "TableSetOrReplaceCommand",
                _ => "TableSetOrAppendCommand",
            };
            let exists = cat.table(database, &table.name).is_some();
            let write = match (verb.as_str(), exists) {
                // "To replace rows ... you need a minimum of Table Admin permissions."
                ("set-or-replace", true) => table_admin(op, cat, database, &table.name),
                (_, true) => Action::new(
                    op,
                    Need::Ingest {
                        database: db(),
                        table: table.name.clone(),
                    },
                ),
                (_, false) => Action::new(op, Need::WriteDatabase { database: db() }),
            };
            // The query part reads the database.
            vec![Action::new(op, Need::Query { database: db() }), write]
        }
        CommandKind::Function { verb, name, .. } => {
            let op = match verb.as_str() {
                "create" => "FunctionCreateCommand",
                "alter" => "FunctionAlterCommand",
                _ => "FunctionCreateOrAlterCommand",
            };
            if verb == "create" {
                vec![Action::new(op, Need::CreateEntities { database: db() })]
            } else {
                vec![function_admin(op, cat, database, &name.name)]
            }
        }
        CommandKind::Other { text, .. } => other_actions(cat, database, &words(text)),
    }
}

/// What a security command (`.add database D viewers ...`, `.show table T principals`)
/// needs (one action per table for `.alter tables (...) policy`).
fn security_actions(cat: &Catalog, database: &str, sc: &SecurityCommand) -> Vec<Action> {
    let db_or = |d: &Option<String>| d.clone().unwrap_or_else(|| database.to_string());
    let action = match sc {
        SecurityCommand::ChangeRoles { verb, scope, .. } => {
            let (cluster, db_op, table_op, function_op) = match verb {
                Verb::Add => (
                    "ClusterPrincipalsAddCommand",
                    "DatabasePrincipalsAddCommand",
                    "TablePrincipalsAddCommand",
                    "FunctionPrincipalsAddCommand",
                ),
                Verb::Drop => (
                    "ClusterPrincipalsDropCommand",
                    "DatabasePrincipalsDropCommand",
                    "TablePrincipalsDropCommand",
                    "FunctionPrincipalsDropCommand",
                ),
                Verb::Set => (
                    "ClusterPrincipalsSetCommand",
                    "DatabasePrincipalsSetCommand",
                    "TablePrincipalsSetCommand",
                    "FunctionPrincipalsSetCommand",
                ),
            };
            match scope {
                Scope::Cluster => Action::new(cluster, Need::ClusterAdmin),
                Scope::Database(d) => {
                    Action::new(db_op, Need::DatabaseAdmin { database: db_or(d) })
                }
                Scope::Table(t) => table_admin(table_op, cat, database, t),
                Scope::Function(f) => function_admin(function_op, cat, database, f),
            }
        }
        SecurityCommand::ShowPrincipals(scope) => match scope {
            Scope::Cluster => Action::new("ClusterPrincipalsShowCommand", Need::ClusterRole),
            Scope::Database(d) => Action::new(
                "DatabasePrincipalsShowCommand",
                Need::DatabaseMetadata { database: db_or(d) },
            ),
            Scope::Table(t) => Action::new(
                "TablePrincipalsShowCommand",
                Need::TableMetadata {
                    database: database.to_string(),
                    table: t.clone(),
                },
            ),
            Scope::Function(_) => Action::new(
                "FunctionPrincipalsShowCommand",
                Need::DatabaseMetadata {
                    database: database.to_string(),
                },
            ),
        },
        SecurityCommand::ShowOwnRoles(_) => {
            Action::new("PrincipalRolesShowCommand", Need::Authenticated)
        }
        SecurityCommand::AlterRestrictedView { tables, value } => {
            let op = if value.is_some() {
                "TablePolicyAlterCommand"
            } else {
                "TablePolicyDeleteCommand"
            };
            return tables
                .iter()
                .map(|t| table_admin(op, cat, database, t))
                .collect();
        }
        SecurityCommand::ShowRestrictedView(t) => Action::new(
            "TablePolicyShowCommand",
            match t {
                Some(t) => Need::TableMetadata {
                    database: database.to_string(),
                    table: t.clone(),
                },
                None => Need::DatabaseMetadata {
                    database: database.to_string(),
                },
            },
        ),
    };
    vec![action]
}

/// Commands kept as text: `.show ...`, databases, policies, mappings, roles.
fn other_actions(cat: &Catalog, database: &str, ws: &[W]) -> Vec<Action> {
    if let Some(sc) = principals::parse(ws) {
        return security_actions(cat, database, &sc);
    }
    let w = |i: usize| ws.get(i + 1);
    let name = |i: usize| name_at(ws, i + 1).unwrap_or_default();
    let db = || database.to_string();
    let verb = match w(0) {
        Some(W::Word(v)) => v.to_ascii_lowercase(),
        _ => String::new(),
    };
    if crate::commands::mappings::is_mapping_command(ws) {
        let table = name(2);
        return vec![if verb == "show" {
            Action::new(
                "TableIngestionMappingShowCommand",
                Need::TableMetadata {
                    database: db(),
                    table,
                },
            )
        } else {
            // "at least Table Ingestor permissions are required to create a table
            // ingestion mapping" (and to alter or drop one).
            Action::new(
                "TableIngestionMappingCommand",
                Need::Ingest {
                    database: db(),
                    table,
                },
            )
        }];
    }
    let rest_is = |kws: &[&str]| {
        ws.len() == 2 + kws.len() && kws.iter().enumerate().all(|(i, k)| is(w(i + 1), k))
    };
    let metadata =
        |op: &'static str, database: String| Action::new(op, Need::DatabaseMetadata { database });
    let action = match verb.as_str() {
        "show" => {
            if rest_is(&["databases"])
                || rest_is(&["databases", "entities"])
                || rest_is(&["schema", "as", "json"])
            {
                // Anyone may ask; the result lists only what the caller may see.
                Action::new("DatabasesShowCommand", Need::Authenticated)
            } else if rest_is(&["version"]) {
                Action::new("VersionShowCommand", Need::AnyRole)
            } else if rest_is(&["cluster"]) {
                Action::new("ClusterShowCommand", Need::AnyRole)
            } else if rest_is(&["cluster", "extents"]) {
                Action::new("ClusterExtentsShowCommand", Need::ClusterRole)
            } else if rest_is(&["database", "extents"]) {
                metadata("ExtentsShowCommand", db())
            } else if is(w(1), "database") {
                metadata("DatabaseShowCommand", name(2))
            } else if is(w(1), "table") {
                Action::new(
                    "TableShowCommand",
                    Need::TableMetadata {
                        database: db(),
                        table: name(2),
                    },
                )
            } else if rest_is(&["tables"]) {
                metadata("TablesShowCommand", db())
            } else if rest_is(&["functions"]) || is(w(1), "function") {
                metadata("FunctionsShowCommand", db())
            } else if rest_is(&["extents"]) {
                metadata("ExtentsShowCommand", db())
            } else {
                metadata("ShowCommand", db())
            }
        }
        "create" if is(w(1), "database") => {
            Action::new("DatabaseCreateCommand", Need::ClusterAdmin)
        }
        "drop" if is(w(1), "database") => Action::new("DatabaseDropCommand", Need::ClusterAdmin),
        "drop" if is(w(1), "function") => {
            function_admin("FunctionDropCommand", cat, database, &name(2))
        }
        "clear" if is(w(1), "table") => {
            table_admin("TableDataClearCommand", cat, database, &name(2))
        }
        "alter" | "alter-merge" | "delete" if is(w(3), "policy") && is(w(1), "database") => {
            Action::new(
                "DatabasePolicyAlterCommand",
                Need::DatabaseAdmin { database: name(2) },
            )
        }
        "alter" | "alter-merge" | "delete" if is(w(3), "policy") && is(w(1), "table") => {
            table_admin("TablePolicyAlterCommand", cat, database, &name(2))
        }
        // Anything else (unsupported commands included) is for database Admins.
        _ => Action::new("ControlCommand", Need::DatabaseAdmin { database: db() }),
    };
    vec![action]
}
