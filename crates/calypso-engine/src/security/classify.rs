//! What each control command needs ([`command_actions`]), from the typed command: the
//! documented permission of its page, with the name ADX gives the operation in its "not
//! authorized to perform operation" messages.
//!
//! Table and function commands on an entity that does not exist need only what creating
//! it would (User or Admin), so that such callers get the command's "not found" error.
//! Commands that list entities (`.show databases`, `.show queries`, `.show journal`) need
//! only authentication: their results hold what the caller may see.

use calypso_storage::Catalog;
use kql_syntax::ast::{
    CacheCommand, ColumnDecl, Command, CommandKind, DatabaseCommand, DatabaseSet, DmCommand,
    ExtentSource, ExtentsCommand, ExtentsScope, FunctionCommand, FunctionVerb, IngestCommand,
    MappingCommand, MappingScope, OperationsCommand, PolicyCommand, PolicyScope, PolicyVerb, QName,
    SchemaVerb, SecurityCommand, SecurityScope, SetVerb, TableCommand,
};

use super::access::{Action, Need};

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

fn metadata(op: &'static str, database: &str) -> Action {
    Action::new(
        op,
        Need::DatabaseMetadata {
            database: database.to_string(),
        },
    )
}

fn table_metadata(op: &'static str, database: &str, table: &str) -> Action {
    Action::new(
        op,
        Need::TableMetadata {
            database: database.to_string(),
            table: table.to_string(),
        },
    )
}

/// `.create`/`.create-merge`/`.alter`/`.alter-merge table T (...)`: creating needs User;
/// extending an existing table (create-merge with new columns) and altering need its Admin.
fn table_schema_action(
    cat: &Catalog,
    database: &str,
    verb: SchemaVerb,
    name: &str,
    columns: &[ColumnDecl],
    plural: bool,
) -> Action {
    let create = Need::CreateEntities {
        database: database.to_string(),
    };
    match verb {
        SchemaVerb::Create => Action::new(
            if plural {
                "TablesCreateCommand"
            } else {
                "TableCreateCommand"
            },
            create,
        ),
        SchemaVerb::CreateMerge => {
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
        SchemaVerb::AlterMerge => table_admin("TableAlterMergeCommand", cat, database, name),
        SchemaVerb::Alter => table_admin("TableAlterCommand", cat, database, name),
    }
}

/// The database and table of `T` or `D.T`.
fn qualified<'a>(database: &'a str, q: &'a QName) -> (&'a str, &'a str) {
    (
        q.parent().map_or(database, |d| d.name.as_str()),
        q.last().name.as_str(),
    )
}

/// The actions a command needs, all of which must be allowed.
pub(crate) fn command_actions(cat: &Catalog, database: &str, cmd: &Command) -> Vec<Action> {
    match &cmd.kind {
        CommandKind::Database(c) => database_actions(database, c),
        CommandKind::Table(c) => table_actions(cat, database, c),
        CommandKind::Function(c) => function_actions(cat, database, c),
        CommandKind::Policy(c) => policy_actions(cat, database, c),
        CommandKind::Mapping(c) => mapping_actions(database, c),
        CommandKind::Security(c) => vec![security_action(cat, database, c)],
        CommandKind::Ingest(c) => ingest_actions(cat, database, c),
        CommandKind::Operations(c) => vec![operations_action(database, c)],
        CommandKind::Extents(c) => extents_actions(cat, database, c),
        CommandKind::DataManagement(c) => vec![match c {
            DmCommand::GetIngestionResources { .. } => {
                Action::new("GetIngestionResources", Need::SomeIngestor)
            }
            DmCommand::GetKustoIdentityToken => {
                Action::new("GetKustoIdentityToken", Need::SomeIngestor)
            }
            // What is exported there is read back by whoever may read a database: any role.
            DmCommand::ShowExportContainers => Action::new("ShowExportContainers", Need::AnyRole),
        }],
        CommandKind::Cache(c) => vec![match c {
            CacheCommand::Other { scope, .. } if scope == "cluster" => {
                Action::new("ClusterCacheClearCommand", Need::ClusterAdmin)
            }
            CacheCommand::StreamingIngestionSchema { table: Some(t) } => {
                table_admin("TableCacheClearCommand", cat, database, &t.name)
            }
            CacheCommand::StreamingIngestionSchema { table: None }
            | CacheCommand::QueryResults
            | CacheCommand::Other { .. } => Action::new(
                "DatabaseCacheClearCommand",
                Need::DatabaseAdmin {
                    database: database.to_string(),
                },
            ),
        }],
        // The caller learns that the command is not implemented.
        CommandKind::Unsupported { .. } => vec![Action::new(cmd.name, Need::Authenticated)],
    }
}

fn database_actions(database: &str, c: &DatabaseCommand) -> Vec<Action> {
    match c {
        DatabaseCommand::Create { .. } => {
            vec![Action::new("DatabaseCreateCommand", Need::ClusterAdmin)]
        }
        DatabaseCommand::Drop { .. } => {
            vec![Action::new("DatabaseDropCommand", Need::ClusterAdmin)]
        }
        DatabaseCommand::PrettyName { name, .. } => vec![Action::new(
            "DatabaseSetPrettyNameCommand",
            Need::DatabaseAdmin {
                database: name
                    .as_ref()
                    .map_or_else(|| database.to_string(), |n| n.name.clone()),
            },
        )],
        DatabaseCommand::Show { name, .. } => vec![metadata(
            "DatabaseShowCommand",
            name.as_ref().map_or(database, |n| n.name.as_str()),
        )],
        // Anyone may ask; the result lists only what the caller may see.
        DatabaseCommand::ShowAll { .. } | DatabaseCommand::ShowEntities { .. } => {
            vec![Action::new("DatabasesShowCommand", Need::Authenticated)]
        }
        DatabaseCommand::ShowSchema { databases, .. } => match databases {
            DatabaseSet::One(d, _) => vec![metadata("DatabaseSchemaShowCommand", &d.name)],
            DatabaseSet::Some(list) => list
                .iter()
                .map(|(d, _)| metadata("DatabaseSchemaShowCommand", &d.name))
                .collect(),
            DatabaseSet::All => vec![Action::new("SchemaShowCommand", Need::Authenticated)],
            DatabaseSet::Current => vec![metadata("DatabaseSchemaShowCommand", database)],
        },
    }
}

fn table_actions(cat: &Catalog, database: &str, c: &TableCommand) -> Vec<Action> {
    match c {
        TableCommand::Schema {
            verb,
            table,
            columns,
            ..
        } => vec![table_schema_action(
            cat,
            database,
            *verb,
            &table.name,
            columns,
            false,
        )],
        TableCommand::CreateTables { merge, tables, .. } => {
            let verb = if *merge {
                SchemaVerb::CreateMerge
            } else {
                SchemaVerb::Create
            };
            tables
                .iter()
                .map(|(n, cols)| table_schema_action(cat, database, verb, &n.name, cols, true))
                .collect()
        }
        TableCommand::CreateBasedOn { source, .. } => vec![
            Action::new(
                "TableCreateBasedOnCommand",
                Need::CreateEntities {
                    database: database.to_string(),
                },
            ),
            table_metadata("TableCreateBasedOnCommand", database, &source.name),
        ],
        TableCommand::Drop { tables, .. } => tables
            .iter()
            .map(|t| table_admin("TableDropCommand", cat, database, &t.name))
            .collect(),
        TableCommand::Rename { pairs, .. } => pairs
            .iter()
            .map(|(from, _)| table_admin("TableRenameCommand", cat, database, &from.name))
            .collect(),
        TableCommand::AlterDocString { table, .. }
        | TableCommand::AlterFolder { table, .. }
        | TableCommand::ColumnDocStrings { table, .. } => {
            vec![table_admin("TableAlterCommand", cat, database, &table.name)]
        }
        TableCommand::AlterColumnType { columns, .. } => columns
            .iter()
            .filter_map(|c| c.parent())
            .map(|t| table_admin("ColumnAlterTypeCommand", cat, database, &t.name))
            .collect(),
        TableCommand::RenameColumns { pairs } => pairs
            .iter()
            .filter_map(|(c, _)| c.parent())
            .map(|t| table_admin("ColumnRenameCommand", cat, database, &t.name))
            .collect(),
        TableCommand::DropColumns { table, .. } => {
            vec![table_admin("ColumnDropCommand", cat, database, &table.name)]
        }
        TableCommand::ShowAll { .. } => vec![metadata("TablesShowCommand", database)],
        TableCommand::Show { table, .. } => {
            vec![table_metadata("TableShowCommand", database, &table.name)]
        }
        TableCommand::ClearData { table, .. } => {
            vec![table_admin(
                "TableDataClearCommand",
                cat,
                database,
                &table.name,
            )]
        }
    }
}

fn function_actions(cat: &Catalog, database: &str, c: &FunctionCommand) -> Vec<Action> {
    match c {
        FunctionCommand::Define { verb, name, .. } => vec![match verb {
            FunctionVerb::Create => Action::new(
                "FunctionCreateCommand",
                Need::CreateEntities {
                    database: database.to_string(),
                },
            ),
            FunctionVerb::Alter => {
                function_admin("FunctionAlterCommand", cat, database, &name.name)
            }
            FunctionVerb::CreateOrAlter => {
                function_admin("FunctionCreateOrAlterCommand", cat, database, &name.name)
            }
        }],
        FunctionCommand::AlterDocString { name, .. }
        | FunctionCommand::AlterFolder { name, .. } => {
            vec![function_admin(
                "FunctionAlterCommand",
                cat,
                database,
                &name.name,
            )]
        }
        FunctionCommand::Drop { names, .. } => names
            .iter()
            .map(|n| function_admin("FunctionDropCommand", cat, database, &n.name))
            .collect(),
        FunctionCommand::Show { .. } => vec![metadata("FunctionsShowCommand", database)],
    }
}

fn policy_actions(cat: &Catalog, database: &str, c: &PolicyCommand) -> Vec<Action> {
    let show = c.verb == PolicyVerb::Show;
    let (show_op, change_op) = match &c.scope {
        PolicyScope::Cluster => ("ClusterPolicyShowCommand", "ClusterPolicyAlterCommand"),
        PolicyScope::Database(_) => ("DatabasePolicyShowCommand", "DatabasePolicyAlterCommand"),
        _ => ("TablePolicyShowCommand", "TablePolicyAlterCommand"),
    };
    let table = |db: &str, t: &str| {
        if show {
            table_metadata(show_op, db, t)
        } else {
            table_admin(change_op, cat, db, t)
        }
    };
    match &c.scope {
        PolicyScope::Cluster => vec![Action::new(
            if show { show_op } else { change_op },
            if show {
                Need::ClusterRole
            } else {
                Need::ClusterAdmin
            },
        )],
        PolicyScope::Database(d) => {
            let database = d.as_ref().map_or(database, |d| d.name.as_str()).to_string();
            vec![if show {
                metadata(show_op, &database)
            } else {
                Action::new(change_op, Need::DatabaseAdmin { database })
            }]
        }
        PolicyScope::Table(q) => {
            let (d, t) = qualified(database, q);
            vec![table(d, t)]
        }
        PolicyScope::Tables(qs) => qs
            .iter()
            .map(|q| {
                let (d, t) = qualified(database, q);
                table(d, t)
            })
            .collect(),
        PolicyScope::AllTables => vec![metadata(show_op, database)],
        // Filtered to the databases the caller may read when shown.
        PolicyScope::AllDatabases => vec![Action::new(show_op, Need::Authenticated)],
        PolicyScope::Column(q) => {
            let t = q.parent().map_or("", |t| t.name.as_str());
            let d = q.grandparent().map_or(database, |d| d.name.as_str());
            vec![table(d, t)]
        }
        PolicyScope::MaterializedView(_) => vec![metadata(show_op, database)],
    }
}

fn mapping_actions(database: &str, c: &MappingCommand) -> Vec<Action> {
    let (scope, show) = match c {
        MappingCommand::Show { scope, .. } => (scope, true),
        MappingCommand::Change { scope, .. } => (scope, false),
    };
    vec![match (scope, show) {
        (MappingScope::Table(t), true) => {
            table_metadata("TableIngestionMappingShowCommand", database, &t.name)
        }
        (MappingScope::Database(d), true) => {
            metadata("DatabaseIngestionMappingShowCommand", &d.name)
        }
        (MappingScope::CurrentDatabase, true) => {
            metadata("DatabaseIngestionMappingShowCommand", database)
        }
        (MappingScope::CurrentDatabase, false) => Action::new(
            "DatabaseIngestionMappingCommand",
            Need::Ingest {
                database: database.to_string(),
                table: String::new(),
            },
        ),
        // "at least Table Ingestor permissions are required to create a table ingestion
        // mapping" (and Database Ingestor for a database mapping).
        (MappingScope::Table(t), false) => Action::new(
            "TableIngestionMappingCommand",
            Need::Ingest {
                database: database.to_string(),
                table: t.name.clone(),
            },
        ),
        (MappingScope::Database(d), false) => Action::new(
            "DatabaseIngestionMappingCommand",
            Need::Ingest {
                database: d.name.clone(),
                table: String::new(),
            },
        ),
    }]
}

fn security_action(cat: &Catalog, database: &str, c: &SecurityCommand) -> Action {
    let db_or = |d: &Option<kql_syntax::ast::Ident>| {
        d.as_ref()
            .map_or_else(|| database.to_string(), |d| d.name.clone())
    };
    match c {
        SecurityCommand::ChangeRoles { verb, scope, .. } => {
            use kql_syntax::ast::RoleVerb;
            let (cluster, db_op, table_op, function_op) = match verb {
                RoleVerb::Add => (
                    "ClusterPrincipalsAddCommand",
                    "DatabasePrincipalsAddCommand",
                    "TablePrincipalsAddCommand",
                    "FunctionPrincipalsAddCommand",
                ),
                RoleVerb::Drop => (
                    "ClusterPrincipalsDropCommand",
                    "DatabasePrincipalsDropCommand",
                    "TablePrincipalsDropCommand",
                    "FunctionPrincipalsDropCommand",
                ),
                RoleVerb::Set => (
                    "ClusterPrincipalsSetCommand",
                    "DatabasePrincipalsSetCommand",
                    "TablePrincipalsSetCommand",
                    "FunctionPrincipalsSetCommand",
                ),
            };
            match scope {
                SecurityScope::Cluster => Action::new(cluster, Need::ClusterAdmin),
                SecurityScope::Database(d) => {
                    Action::new(db_op, Need::DatabaseAdmin { database: db_or(d) })
                }
                SecurityScope::Table(t) => table_admin(table_op, cat, database, &t.name),
                SecurityScope::Function(f) => function_admin(function_op, cat, database, &f.name),
                SecurityScope::MaterializedView(_) => Action::new(
                    db_op,
                    Need::DatabaseAdmin {
                        database: database.to_string(),
                    },
                ),
            }
        }
        SecurityCommand::ShowPrincipals(scope) => match scope {
            SecurityScope::Cluster => {
                Action::new("ClusterPrincipalsShowCommand", Need::ClusterRole)
            }
            SecurityScope::Database(d) => metadata("DatabasePrincipalsShowCommand", &db_or(d)),
            SecurityScope::Table(t) => {
                table_metadata("TablePrincipalsShowCommand", database, &t.name)
            }
            SecurityScope::Function(_) | SecurityScope::MaterializedView(_) => {
                metadata("FunctionPrincipalsShowCommand", database)
            }
        },
        SecurityCommand::ShowRoles {
            principal: None, ..
        } => Action::new("PrincipalRolesShowCommand", Need::Authenticated),
        // Another principal's roles: its database's Admins and Monitors, or cluster roles.
        SecurityCommand::ShowRoles {
            scope: Some(SecurityScope::Database(d)),
            principal: Some(_),
        } => Action::new(
            "PrincipalRolesShowCommand",
            Need::DatabaseMonitor { database: db_or(d) },
        ),
        SecurityCommand::ShowRoles {
            scope:
                Some(
                    SecurityScope::Table(_)
                    | SecurityScope::Function(_)
                    | SecurityScope::MaterializedView(_),
                ),
            principal: Some(_),
        } => Action::new(
            "PrincipalRolesShowCommand",
            Need::DatabaseMonitor {
                database: database.to_string(),
            },
        ),
        SecurityCommand::ShowRoles {
            scope: None | Some(SecurityScope::Cluster),
            principal: Some(_),
        } => Action::new("PrincipalRolesShowCommand", Need::ClusterRole),
    }
}

fn ingest_actions(cat: &Catalog, database: &str, c: &IngestCommand) -> Vec<Action> {
    let db = || database.to_string();
    match c {
        IngestCommand::Inline { table, .. } => vec![Action::new(
            "DataIngestInlineCommand",
            Need::Ingest {
                database: db(),
                table: table.name.clone(),
            },
        )],
        // ingest-from-storage.md: "at least Table Ingestor permissions".
        IngestCommand::FromStorage { table, .. } => vec![Action::new(
            "DataIngestPullCommand",
            Need::Ingest {
                database: db(),
                table: table.name.clone(),
            },
        )],
        // The query's reads are authorized table by table when it is planned (a query that
        // reads no table, `print ...`, needs no read right).
        IngestCommand::FromQuery { verb, table, .. } => {
            let op = match verb {
                SetVerb::Set => "TableSetCommand",
                SetVerb::Append => "TableAppendCommand",
                SetVerb::SetOrReplace => "TableSetOrReplaceCommand",
                SetVerb::SetOrAppend => "TableSetOrAppendCommand",
            };
            let exists = cat.table(database, &table.name).is_some();
            vec![match (verb, exists) {
                // "To replace rows ... you need a minimum of Table Admin permissions."
                (SetVerb::SetOrReplace, true) => table_admin(op, cat, database, &table.name),
                (_, true) => Action::new(
                    op,
                    Need::Ingest {
                        database: db(),
                        table: table.name.clone(),
                    },
                ),
                (_, false) => Action::new(op, Need::WriteDatabase { database: db() }),
            }]
        }
    }
}

fn table_admin_of(op: &'static str, database: &str, table: &str) -> Action {
    Action::new(
        op,
        Need::TableAdmin {
            database: database.to_string(),
            table: table.to_string(),
        },
    )
}

fn database_admin(op: &'static str, database: &str) -> Action {
    Action::new(
        op,
        Need::DatabaseAdmin {
            database: database.to_string(),
        },
    )
}

/// What a command source after `<|` needs: a command's own actions (a query's reads are
/// authorized when it is planned).
fn source_actions(cat: &Catalog, database: &str, s: &ExtentSource) -> Vec<Action> {
    match s {
        ExtentSource::Command(c) => command_actions(cat, database, c),
        ExtentSource::Query(_) => Vec::new(),
    }
}

/// "If the TableName is specified, you must have at least Table Admin permissions ... If
/// the TableName isn't specified, ... Database Admin" (drop-extents.md); the tags, move
/// and replace commands need Table Admin of every table involved (the tables a query
/// returns are checked when the command runs).
fn extents_actions(cat: &Catalog, database: &str, c: &ExtentsCommand) -> Vec<Action> {
    match c {
        ExtentsCommand::Show { scope, .. } => match scope {
            ExtentsScope::Cluster => {
                vec![Action::new("ClusterExtentsShowCommand", Need::ClusterRole)]
            }
            ExtentsScope::Database(d) => vec![metadata(
                "DatabaseExtentsShowCommand",
                d.as_ref().map_or(database, |d| d.name.as_str()),
            )],
            ExtentsScope::Databases(ds) => ds
                .iter()
                .map(|d| metadata("DatabaseExtentsShowCommand", &d.name))
                .collect(),
            ExtentsScope::Tables(ts) => ts
                .iter()
                .map(|t| table_metadata("TableExtentsShowCommand", database, &t.name))
                .collect(),
        },
        ExtentsCommand::DropIds { table, .. } | ExtentsCommand::DropByAge { table, .. } => {
            vec![match table {
                Some(t) => table_admin_of("ExtentsDropCommand", database, &t.name),
                None => database_admin("ExtentsDropCommand", database),
            }]
        }
        ExtentsCommand::DropFrom { source, .. } => source_actions(cat, database, source),
        ExtentsCommand::AlterTags { table, source, .. } => {
            let mut v = vec![table_admin_of(
                "ExtentsAlterTagsCommand",
                database,
                &table.name,
            )];
            v.extend(source_actions(cat, database, source));
            v
        }
        ExtentsCommand::DropTags { table, source, .. } => {
            let mut v = vec![table_admin_of(
                "ExtentsDropTagsCommand",
                database,
                &table.name,
            )];
            if let Some(s) = source {
                v.extend(source_actions(cat, database, s));
            }
            v
        }
        ExtentsCommand::Move {
            from, to, source, ..
        } => {
            let mut v = vec![table_admin_of("ExtentsMoveCommand", database, &to.name)];
            if let Some(f) = from {
                v.push(table_admin_of("ExtentsMoveCommand", database, &f.name));
            }
            if let Some(s) = source {
                v.extend(source_actions(cat, database, s));
            }
            v
        }
        ExtentsCommand::Replace {
            table, drop, moved, ..
        } => {
            let mut v = vec![table_admin_of(
                "ExtentsReplaceCommand",
                database,
                &table.name,
            )];
            v.extend(source_actions(cat, database, drop));
            v.extend(source_actions(cat, database, moved));
            v
        }
    }
}

fn operations_action(database: &str, c: &OperationsCommand) -> Action {
    match c {
        // Everyone sees their own; Admins and Monitors see everybody's (filtered).
        OperationsCommand::ShowQueries { .. }
        | OperationsCommand::CancelQuery { .. }
        | OperationsCommand::ShowCommands
        | OperationsCommand::ShowCommandsAndQueries
        | OperationsCommand::ShowOperations { .. }
        | OperationsCommand::ShowOperationDetails { .. }
        | OperationsCommand::ShowJournal { database: None } => {
            Action::new("OperationsShowCommand", Need::Authenticated)
        }
        OperationsCommand::ShowJournal { database: Some(d) } => {
            metadata("DatabaseJournalShowCommand", &d.name)
        }
        OperationsCommand::ShowVersion => Action::new("VersionShowCommand", Need::AnyRole),
        // Its rows are those of the databases the caller may see.
        OperationsCommand::ShowIngestionFailures { .. } => {
            Action::new("IngestionFailuresShowCommand", Need::AnyRole)
        }
        OperationsCommand::ShowCluster
        | OperationsCommand::ShowDiagnostics
        | OperationsCommand::ShowCapacity => Action::new("ClusterShowCommand", Need::AnyRole),
        OperationsCommand::ShowMaterializedViews
        | OperationsCommand::ShowEntityGroups
        | OperationsCommand::ShowExternalTables => metadata("EntitiesShowCommand", database),
    }
}
