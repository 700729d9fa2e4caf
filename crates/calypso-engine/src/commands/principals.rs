//! Security role commands and the RestrictedViewAccess policy:
//!
//! * `.add|.drop|.set cluster|database [D]|table T|function F <role> ('principal', ...)
//!   [skip-results] ['notes']`, `.set ... <role> none`;
//! * `.show cluster|database [D]|table T|function F principals`;
//! * `.show [cluster|database D|table T|function F] principal roles` (the caller's own);
//! * `.alter table T policy restricted_view_access true|false`, `.alter tables (T1, T2)
//!   policy ...`, `.delete table T policy restricted_view_access`, `.show table T|*
//!   policy restricted_view_access`.
//!
//! Results have ADX's columns (`Role, PrincipalType, PrincipalDisplayName,
//! PrincipalObjectId, PrincipalFQN, Notes, RoleAssignmentIdentifier`; `Scope, DisplayName,
//! AADObjectID, Role`; the policy columns).

use calypso_auth::{PrincipalKind, PrincipalName};
use calypso_storage::{Catalog, EntityKind, Error as SErr, RoleAssignment};
use kql_functions::KqlType;

use kql_syntax::ast;

use super::{db_of, now_rfc3339, table_of};
use crate::security::access::{Role, ScopeKind};
use crate::table::{Cell, table};
use crate::{Caller, Engine, EngineError, Result, ResultTable};

const PRINCIPALS_COLS: &[(&str, KqlType)] = &[
    ("Role", KqlType::String),
    ("PrincipalType", KqlType::String),
    ("PrincipalDisplayName", KqlType::String),
    ("PrincipalObjectId", KqlType::String),
    ("PrincipalFQN", KqlType::String),
    ("Notes", KqlType::String),
    ("RoleAssignmentIdentifier", KqlType::String),
];

const PRINCIPAL_ROLES_COLS: &[(&str, KqlType)] = &[
    ("Scope", KqlType::String),
    ("DisplayName", KqlType::String),
    ("AADObjectID", KqlType::String),
    ("Role", KqlType::String),
];

/// The entity a role command or `.show ... principals` is about.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scope {
    /// The cluster.
    Cluster,
    /// A database (the request's when `None`).
    Database(Option<String>),
    /// A table of the request's database.
    Table(String),
    /// A stored function of the request's database.
    Function(String),
}

impl Scope {
    fn kind(&self) -> ScopeKind {
        match self {
            Scope::Cluster => ScopeKind::Cluster,
            Scope::Database(_) => ScopeKind::Database,
            Scope::Table(_) => ScopeKind::Table,
            Scope::Function(_) => ScopeKind::Function,
        }
    }
}

/// `.add`, `.drop` or `.set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    /// Adds the principals.
    Add,
    /// Removes the principals.
    Drop,
    /// Replaces the role's principals.
    Set,
}

/// A security command, parsed from its words.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SecurityCommand {
    /// `.add|.drop|.set <scope> <role> (...)|none [skip-results] ['notes']`.
    ChangeRoles {
        verb: Verb,
        scope: Scope,
        role: Role,
        /// Principal names as written (validated when the command runs).
        principals: Vec<String>,
        skip_results: bool,
        notes: String,
    },
    /// `.show <scope> principals`.
    ShowPrincipals(Scope),
    /// `.show [<scope>] principal ['name'] roles`: the caller's roles, or those of the
    /// principal named (all of them without a scope).
    ShowOwnRoles {
        scope: Option<Scope>,
        principal: Option<PrincipalName>,
    },
}

fn scope_of(s: &ast::SecurityScope) -> Result<Scope> {
    Ok(match s {
        ast::SecurityScope::Cluster => Scope::Cluster,
        ast::SecurityScope::Database(d) => Scope::Database(d.as_ref().map(|d| d.name.clone())),
        ast::SecurityScope::Table(t) => Scope::Table(t.name.clone()),
        ast::SecurityScope::Function(f) => Scope::Function(f.name.clone()),
        ast::SecurityScope::MaterializedView(v) => {
            return Err(EngineError::NotFound(format!(
                "Materialized view '{}' was not found (Calypso has no materialized views yet)",
                v.name
            )));
        }
    })
}

/// The security command of a parsed one (roles checked by name).
pub(crate) fn from_ast(c: &ast::SecurityCommand) -> Result<SecurityCommand> {
    Ok(match c {
        ast::SecurityCommand::ChangeRoles {
            verb,
            scope,
            role,
            principals,
            none,
            skip_results,
            notes,
        } => {
            let verb = match verb {
                ast::RoleVerb::Add => Verb::Add,
                ast::RoleVerb::Drop => Verb::Drop,
                ast::RoleVerb::Set => Verb::Set,
            };
            if *none && verb != Verb::Set {
                return Err(EngineError::BadRequest(
                    "'none' is only allowed with .set (it removes every principal of the role)"
                        .into(),
                ));
            }
            let role = Role::parse(role).ok_or_else(|| {
                EngineError::BadRequest(format!("'{role}' is not a security role"))
            })?;
            SecurityCommand::ChangeRoles {
                verb,
                scope: scope_of(scope)?,
                role,
                principals: principals.clone(),
                skip_results: *skip_results,
                notes: notes.clone(),
            }
        }
        ast::SecurityCommand::ShowPrincipals(s) => SecurityCommand::ShowPrincipals(scope_of(s)?),
        ast::SecurityCommand::ShowRoles { scope, principal } => SecurityCommand::ShowOwnRoles {
            scope: scope.as_ref().map(scope_of).transpose()?,
            principal: principal
                .as_deref()
                .map(PrincipalName::parse)
                .transpose()
                .map_err(|e| EngineError::BadRequest(e.to_string()))?,
        },
    })
}

fn principal_type(p: &str) -> &'static str {
    match PrincipalName::parse(p).map(|p| p.kind()) {
        Ok(PrincipalKind::User) => "Microsoft Entra user",
        Ok(PrincipalKind::App) => "Microsoft Entra application",
        Ok(PrincipalKind::Group) => "Microsoft Entra group",
        Err(_) => "",
    }
}

/// The object id when the principal's id is one (a GUID), else `""`.
fn object_id(p: &str) -> String {
    PrincipalName::parse(p)
        .ok()
        .map(|p| p.id().to_string())
        .filter(|id| id.len() == 36 && kql_functions::convert::parse_guid(id).is_some())
        .unwrap_or_default()
}

/// The singular form of a stored role (`admins` → `Admin`).
fn role_display(role: &str) -> String {
    Role::parse(role).map_or_else(|| role.to_string(), |r| r.display().to_string())
}

fn role_rank(role: &str) -> usize {
    const ORDER: [Role; 9] = [
        Role::AllDatabasesAdmin,
        Role::AllDatabasesViewer,
        Role::AllDatabasesMonitor,
        Role::Admin,
        Role::User,
        Role::Viewer,
        Role::UnrestrictedViewer,
        Role::Ingestor,
        Role::Monitor,
    ];
    Role::parse(role)
        .and_then(|r| ORDER.iter().position(|o| *o == r))
        .unwrap_or(ORDER.len())
}

/// Rows of `.show ... principals`: `label` prefixes the role (`Database D`), empty for
/// cluster roles.
fn principal_rows(label: &str, roles: &[RoleAssignment], out: &mut Vec<Vec<Cell>>) {
    let mut sorted: Vec<&RoleAssignment> = roles.iter().collect();
    sorted.sort_by_key(|a| role_rank(&a.role));
    for a in sorted {
        let role = role_display(&a.role);
        let role = if label.is_empty() {
            role
        } else {
            format!("{label} {role}")
        };
        out.push(vec![
            role.into(),
            principal_type(&a.principal).into(),
            a.display_name.clone().into(),
            object_id(&a.principal).into(),
            a.principal.clone().into(),
            a.notes.clone().into(),
            a.id.clone().into(),
        ]);
    }
}

impl Engine {
    /// Runs a parsed security command.
    pub(crate) async fn security_command(
        &self,
        caller: &Caller,
        database: &str,
        command: SecurityCommand,
    ) -> Result<ResultTable> {
        match command {
            SecurityCommand::ChangeRoles {
                verb,
                scope,
                role,
                principals,
                skip_results,
                notes,
            } => {
                self.change_roles(database, verb, scope, role, principals, skip_results, notes)
                    .await
            }
            SecurityCommand::ShowPrincipals(scope) => {
                self.principals_table(&self.storage.catalog(), database, &scope)
            }
            SecurityCommand::ShowOwnRoles { scope, principal } => own_roles(
                caller,
                principal.as_ref(),
                &self.storage.catalog(),
                database,
                scope.as_ref(),
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_roles(
        &self,
        database: &str,
        verb: Verb,
        scope: Scope,
        role: Role,
        principals: Vec<String>,
        skip_results: bool,
        notes: String,
    ) -> Result<ResultTable> {
        if !role.fits(scope.kind()) {
            let what = match scope.kind() {
                ScopeKind::Cluster => {
                    "AllDatabasesAdmin, AllDatabasesViewer or AllDatabasesMonitor"
                }
                ScopeKind::Database => {
                    "admins, users, viewers, unrestrictedviewers, ingestors or monitors"
                }
                ScopeKind::Table => "admins or ingestors",
                ScopeKind::Function => "admins",
            };
            return Err(EngineError::BadRequest(format!(
                "The role '{}' cannot be assigned here: the roles are {what}",
                role.name()
            )));
        }
        let mut names = Vec::with_capacity(principals.len());
        for p in &principals {
            let name =
                PrincipalName::parse(p).map_err(|e| EngineError::BadRequest(e.to_string()))?;
            names.push(name);
        }
        let now = now_rfc3339();
        let added: Vec<RoleAssignment> = names
            .iter()
            .map(|n| RoleAssignment {
                role: role.name().into(),
                principal: n.to_string(),
                display_name: n.id().to_string(),
                notes: notes.clone(),
                added_on: now.clone(),
                id: super::new_id(),
            })
            .collect();
        let (db, scope2) = (database.to_string(), scope.clone());
        self.storage
            .commit(move |c| {
                let list = match &scope2 {
                    Scope::Cluster => &mut c.cluster_roles,
                    Scope::Database(d) => {
                        &mut c.require_database_mut(d.as_deref().unwrap_or(&db))?.roles
                    }
                    Scope::Table(t) => &mut c.require_table_mut(&db, t)?.roles,
                    Scope::Function(f) => {
                        &mut c
                            .require_database_mut(&db)?
                            .functions
                            .get_mut(f)
                            .ok_or_else(|| SErr::not_found(EntityKind::Function, f.clone()))?
                            .roles
                    }
                };
                let r = role.name();
                match verb {
                    Verb::Drop => {
                        list.retain(|a| !added.iter().any(|n| a.is(r, &n.principal)));
                    }
                    Verb::Add | Verb::Set => {
                        if verb == Verb::Set {
                            list.retain(|a| !a.role.eq_ignore_ascii_case(r));
                        }
                        for n in &added {
                            match list.iter_mut().find(|a| a.is(r, &n.principal)) {
                                Some(existing) if !n.notes.is_empty() => {
                                    existing.notes.clone_from(&n.notes)
                                }
                                Some(_) => {}
                                None => list.push(n.clone()),
                            }
                        }
                    }
                }
                Ok(())
            })
            .await?;
        if skip_results {
            return table(PRINCIPALS_COLS, Vec::new());
        }
        self.principals_table(&self.storage.catalog(), database, &scope)
    }

    /// `.show <scope> principals`. A database's list starts with the cluster's roles,
    /// which apply to it.
    fn principals_table(
        &self,
        cat: &Catalog,
        database: &str,
        scope: &Scope,
    ) -> Result<ResultTable> {
        let mut rows = Vec::new();
        match scope {
            Scope::Cluster => principal_rows("", &cat.cluster_roles, &mut rows),
            Scope::Database(d) => {
                let d = db_of(cat, d.as_deref().unwrap_or(database))?;
                principal_rows("", &cat.cluster_roles, &mut rows);
                principal_rows(&format!("Database {}", d.name), &d.roles, &mut rows);
            }
            Scope::Table(t) => {
                let t = table_of(db_of(cat, database)?, t)?;
                principal_rows(&format!("Table {}", t.name), &t.roles, &mut rows);
            }
            Scope::Function(f) => {
                let d = db_of(cat, database)?;
                let f = d.functions.get(f).ok_or_else(|| {
                    EngineError::NotFound(format!("Function '{f}' was not found"))
                })?;
                principal_rows(&format!("Function {}", f.name), &f.roles, &mut rows);
            }
        }
        table(PRINCIPALS_COLS, rows)
    }
}

/// `.show [<scope>] principal roles`: the caller's roles that apply to the scope (all of
/// them without one, or for `cluster`). The unauthenticated caller has no assignments.
/// Whether an assignment's principal text is the principal asked about.
type Matcher<'a> = Box<dyn Fn(&str) -> bool + 'a>;

fn own_roles(
    caller: &Caller,
    other: Option<&PrincipalName>,
    cat: &Catalog,
    database: &str,
    scope: Option<&Scope>,
) -> Result<ResultTable> {
    // The principal named, matched by its canonical name (its groups are not known), or
    // the caller with its groups.
    let (display, object_id, matches): (String, String, Matcher<'_>) = match (other, caller) {
        (Some(name), _) => {
            let canonical = name.to_string();
            (
                name.id().to_string(),
                name.id().to_string(),
                Box::new(move |p: &str| {
                    PrincipalName::parse(p)
                        .is_ok_and(|n| n.to_string().eq_ignore_ascii_case(&canonical))
                }),
            )
        }
        (None, Caller::Principal(identity)) => (
            crate::security::access::display_name(identity),
            identity.object_id().to_string(),
            Box::new(move |p: &str| caller.matches(p)),
        ),
        (None, Caller::Unauthenticated) => return table(PRINCIPAL_ROLES_COLS, Vec::new()),
    };
    let mut rows = Vec::new();
    let mut add = |scope: String, roles: &[RoleAssignment]| {
        for a in roles.iter().filter(|a| matches(&a.principal)) {
            let role = role_display(&a.role);
            rows.push(vec![
                Cell::from(scope.as_str()),
                display.clone().into(),
                object_id.clone().into(),
                role.into(),
            ]);
        }
    };
    add("Cluster".into(), &cat.cluster_roles);
    let (only_db, only_table, only_function) = match scope {
        None | Some(Scope::Cluster) => (None, None, None),
        Some(Scope::Database(d)) => (Some(d.as_deref().unwrap_or(database)), None, None),
        Some(Scope::Table(t)) => (Some(database), Some(t.as_str()), None),
        Some(Scope::Function(f)) => (Some(database), None, Some(f.as_str())),
    };
    if let Some(d) = only_db {
        db_of(cat, d)?;
    }
    for d in cat
        .databases
        .values()
        .filter(|d| only_db.is_none_or(|n| n == d.name))
    {
        add(format!("Database {}", d.name), &d.roles);
        if only_function.is_none() {
            for t in d
                .tables
                .values()
                .filter(|t| only_table.is_none_or(|n| n == t.name))
            {
                add(format!("Table {}.{}", d.name, t.name), &t.roles);
            }
        }
        if only_table.is_none() {
            for f in d
                .functions
                .values()
                .filter(|f| only_function.is_none_or(|n| n == f.name))
            {
                add(format!("Function {}.{}", d.name, f.name), &f.roles);
            }
        }
    }
    table(PRINCIPAL_ROLES_COLS, rows)
}
