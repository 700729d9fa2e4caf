//! Azure Data Explorer's roles, the roles a caller holds, and [`authorize`]: the one
//! function that decides whether an action is allowed.
//!
//! A caller's roles for a database are the union of the assignments that match it (its
//! user or application name, or any of its groups) at the cluster, the database, and — for
//! table and function actions — that table or function. The rules are ADX's documented
//! permissions (`access-control/role-based-access-control.md` and the "Permissions"
//! section of each command's page); [`Need`] lists them.

use calypso_auth::PrincipalName;
use calypso_storage::{Catalog, Database, RoleAssignment};

use crate::{Caller, EngineError, Result};

/// A security role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Cluster: full permission on every database.
    AllDatabasesAdmin,
    /// Cluster: read all data and metadata of every database.
    AllDatabasesViewer,
    /// Cluster: `.show` commands in every database.
    AllDatabasesMonitor,
    /// Database, table or function `admins`.
    Admin,
    /// Database `users`: read, and create tables and functions.
    User,
    /// Database `viewers`: read, except RestrictedViewAccess tables.
    Viewer,
    /// Database `unrestrictedviewers`: read RestrictedViewAccess tables too (with another
    /// reading role).
    UnrestrictedViewer,
    /// Database or table `ingestors`: write rows, no reading.
    Ingestor,
    /// Database `monitors`: `.show` commands.
    Monitor,
}

/// Where a role assignment lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    /// `.add cluster alldatabasesadmins (...)`.
    Cluster,
    /// `.add database D viewers (...)`.
    Database,
    /// `.add table T ingestors (...)`.
    Table,
    /// `.add function F admins (...)`.
    Function,
}

impl Role {
    /// The name the role commands use and the catalog stores (`admins`, `AllDatabasesAdmin`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::AllDatabasesAdmin => "AllDatabasesAdmin",
            Role::AllDatabasesViewer => "AllDatabasesViewer",
            Role::AllDatabasesMonitor => "AllDatabasesMonitor",
            Role::Admin => "admins",
            Role::User => "users",
            Role::Viewer => "viewers",
            Role::UnrestrictedViewer => "unrestrictedviewers",
            Role::Ingestor => "ingestors",
            Role::Monitor => "monitors",
        }
    }

    /// The singular form `.show ... principals` prints (`Database D Admin`).
    pub(crate) fn display(self) -> &'static str {
        match self {
            Role::AllDatabasesAdmin => "AllDatabasesAdmin",
            Role::AllDatabasesViewer => "AllDatabasesViewer",
            Role::AllDatabasesMonitor => "AllDatabasesMonitor",
            Role::Admin => "Admin",
            Role::User => "User",
            Role::Viewer => "Viewer",
            Role::UnrestrictedViewer => "UnrestrictedViewer",
            Role::Ingestor => "Ingestor",
            Role::Monitor => "Monitor",
        }
    }

    /// A role word of a command, case-insensitively; cluster roles also in the plural
    /// (`alldatabasesadmins`, as Kusto's grammar spells them).
    pub(crate) fn parse(word: &str) -> Option<Role> {
        let w = word.to_ascii_lowercase();
        Some(match w.trim_end_matches('s') {
            "alldatabasesadmin" => Role::AllDatabasesAdmin,
            "alldatabasesviewer" => Role::AllDatabasesViewer,
            "alldatabasesmonitor" => Role::AllDatabasesMonitor,
            "admin" => Role::Admin,
            "user" => Role::User,
            "viewer" => Role::Viewer,
            "unrestrictedviewer" => Role::UnrestrictedViewer,
            "ingestor" => Role::Ingestor,
            "monitor" => Role::Monitor,
            _ => return None,
        })
    }

    /// Whether the role can be assigned on `scope`.
    pub(crate) fn fits(self, scope: ScopeKind) -> bool {
        match scope {
            ScopeKind::Cluster => matches!(
                self,
                Role::AllDatabasesAdmin | Role::AllDatabasesViewer | Role::AllDatabasesMonitor
            ),
            ScopeKind::Database => matches!(
                self,
                Role::Admin
                    | Role::User
                    | Role::Viewer
                    | Role::UnrestrictedViewer
                    | Role::Ingestor
                    | Role::Monitor
            ),
            ScopeKind::Table => matches!(self, Role::Admin | Role::Ingestor),
            ScopeKind::Function => matches!(self, Role::Admin),
        }
    }
}

impl Caller {
    /// The caller's fully qualified name (`aaduser=<oid>;<tenant>`), or `""` for
    /// [`Caller::Unauthenticated`] (which has no principal name; ADX's emulator shows an
    /// anonymous one).
    pub fn fqn(&self) -> String {
        match self {
            Caller::Unauthenticated => String::new(),
            Caller::Principal(id) => id.fqn(),
        }
    }

    /// Whether an assignment to `principal` (a principal name's text) applies to the caller:
    /// its user or application name, or one of its groups. Assignments without a tenant
    /// match any tenant.
    pub(crate) fn matches(&self, principal: &str) -> bool {
        match self {
            Caller::Unauthenticated => false,
            Caller::Principal(id) => {
                PrincipalName::parse(principal).is_ok_and(|p| id.matches(&p, None))
            }
        }
    }

    /// Whether the caller holds `role` through one of `assignments`.
    pub(crate) fn holds(&self, assignments: &[RoleAssignment], role: Role) -> bool {
        assignments
            .iter()
            .any(|a| Role::parse(&a.role) == Some(role) && self.matches(&a.principal))
    }
}

/// The roles a caller holds that apply to one database (cluster and database level).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rights {
    all_admin: bool,
    all_viewer: bool,
    all_monitor: bool,
    admin: bool,
    user: bool,
    viewer: bool,
    unrestricted: bool,
    ingestor: bool,
    monitor: bool,
}

impl Rights {
    /// The caller's roles on `database` (only the cluster's when it does not exist).
    fn of(caller: &Caller, cat: &Catalog, database: Option<&Database>) -> Rights {
        let c = &cat.cluster_roles;
        let d: &[RoleAssignment] = database.map_or(&[], |d| &d.roles);
        Rights {
            all_admin: caller.holds(c, Role::AllDatabasesAdmin),
            all_viewer: caller.holds(c, Role::AllDatabasesViewer),
            all_monitor: caller.holds(c, Role::AllDatabasesMonitor),
            admin: caller.holds(d, Role::Admin),
            user: caller.holds(d, Role::User),
            viewer: caller.holds(d, Role::Viewer),
            unrestricted: caller.holds(d, Role::UnrestrictedViewer),
            ingestor: caller.holds(d, Role::Ingestor),
            monitor: caller.holds(d, Role::Monitor),
        }
    }

    fn any_cluster(&self) -> bool {
        self.all_admin || self.all_viewer || self.all_monitor
    }

    /// Database Admin, directly or through AllDatabasesAdmin.
    fn db_admin(&self) -> bool {
        self.admin || self.all_admin
    }

    /// May run queries: Viewer, User or Admin (UnrestrictedViewer alone is not enough:
    /// "The UnrestrictedViewer role needs to be combined with another role").
    fn read(&self) -> bool {
        self.db_admin() || self.all_viewer || self.user || self.viewer
    }

    /// May read metadata (`.show` commands): the readers and the monitors.
    fn metadata(&self) -> bool {
        self.read() || self.all_monitor || self.monitor
    }
}

/// What an operation needs, and on what. [`authorize`] decides each one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Need {
    /// Only to be authenticated (`.show principal roles`, `.show databases`).
    Authenticated,
    /// Some role somewhere in the cluster (`.show version`, `.show cluster`).
    AnyRole,
    /// A cluster role (`.show cluster principals`).
    ClusterRole,
    /// AllDatabasesAdmin (`.create database`, `.drop database`, cluster roles).
    ClusterAdmin,
    /// Run a query in the database: Viewer, User or Admin.
    Query { database: String },
    /// Read a table's rows in a query: with RestrictedViewAccess on, UnrestrictedViewer
    /// as well (even for Admins, as ADX documents).
    ReadTable { database: String, table: String },
    /// Database metadata (`.show tables`): Viewer, User, Admin, Monitor (or cluster roles).
    DatabaseMetadata { database: String },
    /// Table metadata (`.show table T schema as json`): as database metadata, or Admin of
    /// the table.
    TableMetadata { database: String, table: String },
    /// Create tables and functions (`.create table`): User or Admin.
    CreateEntities { database: String },
    /// Create a table while writing into it (`.set`, `.set-or-append` of a new table):
    /// User or Admin, reported as "write database".
    WriteDatabase { database: String },
    /// Write rows and manage ingestion mappings: Ingestor or Admin of the table or the
    /// database.
    Ingest { database: String, table: String },
    /// Alter, drop, rename, clear, policies, table roles: Admin of the table or the
    /// database.
    TableAdmin { database: String, table: String },
    /// Alter or drop a function, function roles: Admin of the function or the database.
    FunctionAdmin { database: String, function: String },
    /// Database roles and policies: database Admin.
    DatabaseAdmin { database: String },
    /// Every user's queries and commands (`.show queries`): database Admin or Monitor,
    /// AllDatabasesAdmin or AllDatabasesMonitor.
    DatabaseMonitor { database: String },
    /// Queued ingestion's resources (`.get ingestion resources`, which names no table):
    /// Ingestor or Admin of some database or table, or AllDatabasesAdmin. Each message is
    /// authorized again on its own table ([`Need::Ingest`]) when it is ingested.
    SomeIngestor,
}

/// An operation to authorize: what it needs and its name in messages (`TableCreateCommand`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Action {
    pub(crate) need: Need,
    pub(crate) op: &'static str,
}

impl Action {
    pub(crate) fn new(op: &'static str, need: Need) -> Action {
        Action { need, op }
    }
}

/// Whether the caller holds any role anywhere: cluster, database, table or function.
fn any_role(caller: &Caller, cat: &Catalog) -> bool {
    let held = |roles: &[RoleAssignment]| roles.iter().any(|a| caller.matches(&a.principal));
    held(&cat.cluster_roles)
        || cat.databases.values().any(|d| {
            held(&d.roles)
                || d.tables.values().any(|t| held(&t.roles))
                || d.functions.values().any(|f| held(&f.roles))
        })
}

/// Whether `.show databases` lists `database` for the caller: it holds a role there (on
/// the database, one of its tables or functions) or a cluster role.
pub(crate) fn sees_database(caller: &Caller, cat: &Catalog, database: &Database) -> bool {
    let held = |roles: &[RoleAssignment]| roles.iter().any(|a| caller.matches(&a.principal));
    matches!(caller, Caller::Unauthenticated)
        || held(&cat.cluster_roles)
        || held(&database.roles)
        || database.tables.values().any(|t| held(&t.roles))
        || database.functions.values().any(|f| held(&f.roles))
}

/// Whether the caller is an UnrestrictedViewer of `database` (`.show database identity`).
pub(crate) fn is_unrestricted(caller: &Caller, cat: &Catalog, database: &Database) -> bool {
    matches!(caller, Caller::Unauthenticated)
        || Rights::of(caller, cat, Some(database)).unrestricted
}

/// Whether `action` is allowed, without the error.
pub(crate) fn allowed(caller: &Caller, cat: &Catalog, action: &Action) -> bool {
    authorize(caller, cat, action).is_ok()
}

/// Decides whether `caller` may do `action`: `Ok`, or [`EngineError::Forbidden`] with
/// ADX's message. The unauthenticated caller may do everything.
///
/// A database that does not exist has no assignments: callers with a cluster role pass
/// (and then get the usual "not found"), others are told they may not read it.
pub(crate) fn authorize(caller: &Caller, cat: &Catalog, action: &Action) -> Result<()> {
    let Caller::Principal(identity) = caller else {
        return Ok(());
    };
    let fqn = identity.fqn();
    let database_of = |name: &str| -> std::result::Result<Rights, EngineError> {
        let db = cat.database(name);
        let r = Rights::of(caller, cat, db);
        if db.is_none() && !r.any_cluster() {
            return Err(read_denied(&fqn, name));
        }
        Ok(r)
    };
    let table_holds = |database: &str, table: &str, role: Role| {
        cat.table(database, table)
            .is_some_and(|t| caller.holds(&t.roles, role))
    };
    let ok = match &action.need {
        Need::Authenticated => true,
        Need::AnyRole => any_role(caller, cat),
        Need::ClusterRole => Rights::of(caller, cat, None).any_cluster(),
        Need::ClusterAdmin => Rights::of(caller, cat, None).all_admin,
        Need::Query { database } => database_of(database)?.read(),
        Need::ReadTable { database, table } => {
            let r = database_of(database)?;
            let restricted = cat
                .table(database, table)
                .is_some_and(|t| t.restricted_view_access == Some(true));
            if r.read() && (!restricted || r.unrestricted) {
                true
            } else {
                return Err(EngineError::Forbidden(format!(
                    "Principal '{fqn}' is not authorized to read table '{database}.{table}'."
                )));
            }
        }
        Need::DatabaseMetadata { database } => database_of(database)?.metadata(),
        Need::TableMetadata { database, table } => {
            database_of(database)?.metadata() || table_holds(database, table, Role::Admin)
        }
        Need::CreateEntities { database } => {
            let r = database_of(database)?;
            r.db_admin() || r.user
        }
        Need::WriteDatabase { database } => {
            let r = database_of(database)?;
            if r.db_admin() || r.user {
                true
            } else {
                return Err(EngineError::Forbidden(format!(
                    "Principal '{fqn}' is not authorized to write database '{database}'."
                )));
            }
        }
        Need::SomeIngestor => {
            let writes = |roles: &[RoleAssignment]| {
                caller.holds(roles, Role::Ingestor) || caller.holds(roles, Role::Admin)
            };
            caller.holds(&cat.cluster_roles, Role::AllDatabasesAdmin)
                || cat
                    .databases
                    .values()
                    .any(|d| writes(&d.roles) || d.tables.values().any(|t| writes(&t.roles)))
        }
        Need::Ingest { database, table } => {
            let r = database_of(database)?;
            if r.db_admin()
                || r.ingestor
                || table_holds(database, table, Role::Admin)
                || table_holds(database, table, Role::Ingestor)
            {
                true
            } else {
                return Err(EngineError::Forbidden(format!(
                    "Principal '{fqn}' is not authorized to write table '{database}.{table}'."
                )));
            }
        }
        Need::TableAdmin { database, table } => {
            database_of(database)?.db_admin() || table_holds(database, table, Role::Admin)
        }
        Need::FunctionAdmin { database, function } => {
            database_of(database)?.db_admin()
                || cat
                    .databases
                    .get(database)
                    .and_then(|d| d.functions.get(function))
                    .is_some_and(|f| caller.holds(&f.roles, Role::Admin))
        }
        Need::DatabaseAdmin { database } => database_of(database)?.db_admin(),
        Need::DatabaseMonitor { database } => {
            let r = database_of(database)?;
            r.db_admin() || r.monitor || r.all_monitor
        }
    };
    if ok {
        return Ok(());
    }
    Err(match &action.need {
        Need::Query { database } => read_denied(&fqn, database),
        Need::Authenticated
        | Need::AnyRole
        | Need::ClusterRole
        | Need::ClusterAdmin
        | Need::SomeIngestor => EngineError::Forbidden(format!(
            "Principal '{fqn}' is not authorized to perform operation '{}' on the cluster.",
            action.op
        )),
        Need::ReadTable { database, .. }
        | Need::DatabaseMetadata { database }
        | Need::TableMetadata { database, .. }
        | Need::CreateEntities { database }
        | Need::WriteDatabase { database }
        | Need::Ingest { database, .. }
        | Need::TableAdmin { database, .. }
        | Need::FunctionAdmin { database, .. }
        | Need::DatabaseAdmin { database }
        | Need::DatabaseMonitor { database } => EngineError::Forbidden(format!(
            "Principal '{fqn}' is not authorized to perform operation '{}' on database '{database}'.",
            action.op
        )),
    })
}

fn read_denied(fqn: &str, database: &str) -> EngineError {
    EngineError::Forbidden(format!(
        "Principal '{fqn}' is not authorized to read database '{database}'."
    ))
}

/// The assignment that makes the caller Admin of an entity it creates ("Create tables and
/// functions, and become the admin"), or `None` for the unauthenticated caller.
pub(crate) fn creator_assignment(caller: &Caller) -> Option<RoleAssignment> {
    let Caller::Principal(identity) = caller else {
        return None;
    };
    Some(RoleAssignment {
        role: Role::Admin.name().into(),
        principal: identity.fqn(),
        display_name: display_name(identity),
        notes: String::new(),
        added_on: calypso_storage::catalog::now_rfc3339(),
        id: uuid::Uuid::new_v4().to_string(),
    })
}

/// ADX's display of an identity: `Name (upn: alice@contoso.com)`, `Name (app id: X)`.
pub(crate) fn display_name(identity: &calypso_auth::Identity) -> String {
    identity
        .details_json()
        .get("DisplayName")
        .and_then(serde_json::Value::as_str)
        .unwrap_or(identity.display_name())
        .to_string()
}
