//! Role assignments: `.add|.drop|.set <entity> <role> (...)`, `.show ... principals`,
//! `.show [<entity>] principal roles`.

use super::super::{PResult, Parser};
use super::{
    at_string, at_word, eat_word, expect_word, name, peek_word, string, string_list, with_props,
};
use crate::ast::*;

pub(super) fn parse(p: &mut Parser<'_>, kind: &str, verb: &str) -> Option<PResult<CommandKind>> {
    let r = match kind {
        "AddClusterRole" | "DropClusterRole" | "SetClusterRole" | "AddDatabaseRole"
        | "DropDatabaseRole" | "SetDatabaseRole" | "AddTableRole" | "DropTableRole"
        | "SetTableRole" | "AddFunctionRole" | "DropFunctionRole" | "SetFunctionRole" => {
            change(p, verb)
        }
        "ShowClusterPrincipals"
        | "ShowDatabasePrincipals"
        | "ShowTablePrincipals"
        | "ShowFunctionPrincipals"
        | "ShowMaterializedViewPrincipals" => (|| {
            let scope = scope(p, true)?;
            if !eat_word(p, "principals") {
                let t = p.peek().clone();
                return Err(p.unexpected(&t, "'principals'"));
            }
            Ok(SecurityCommand::ShowPrincipals(scope))
        })(),
        "ShowPrincipalRoles"
        | "ShowDatabasePrincipalRoles"
        | "ShowTablePrincipalRoles"
        | "ShowFunctionPrincipalRoles"
        | "ShowClusterPrincipalRoles" => (|| {
            let scope = if at_word(p, "principal") {
                None
            } else {
                Some(scope(p, true)?)
            };
            expect_word(p, "principal")?;
            let principal = if at_string(p) { Some(string(p)?) } else { None };
            expect_word(p, "roles")?;
            with_props(p)?;
            Ok(SecurityCommand::ShowRoles { scope, principal })
        })(),
        _ => return None,
    };
    Some(r.map(CommandKind::Security))
}

/// `cluster`, `database [D]`, `table T`, `function F`, `materialized-view V`.
/// `optional_db`: a database name may be left out (the request's database).
fn scope(p: &mut Parser<'_>, optional_db: bool) -> PResult<SecurityScope> {
    if eat_word(p, "cluster") {
        return Ok(SecurityScope::Cluster);
    }
    if eat_word(p, "database") {
        let omitted = optional_db
            && match peek_word(p) {
                Some((w, n)) => {
                    w == "principals"
                        || (w == "principal" && p.peek_at(n).is_kw("roles"))
                        || (is_role(&w)
                            && (p.peek_at(n).is_punct("(") || p.peek_at(n).is_kw("none")))
                }
                None => false,
            };
        if omitted {
            return Ok(SecurityScope::Database(None));
        }
        return Ok(SecurityScope::Database(Some(name(p)?)));
    }
    if eat_word(p, "table") {
        return Ok(SecurityScope::Table(name(p)?));
    }
    if eat_word(p, "function") {
        return Ok(SecurityScope::Function(name(p)?));
    }
    if eat_word(p, "materialized-view") {
        return Ok(SecurityScope::MaterializedView(name(p)?));
    }
    let t = p.peek().clone();
    Err(p.unexpected(&t, "cluster, database, table or function"))
}

fn is_role(w: &str) -> bool {
    let w = w.to_ascii_lowercase();
    matches!(
        w.trim_end_matches('s'),
        "admin"
            | "user"
            | "viewer"
            | "unrestrictedviewer"
            | "ingestor"
            | "monitor"
            | "alldatabasesadmin"
            | "alldatabasesviewer"
            | "alldatabasesmonitor"
    )
}

/// `.add|.drop|.set <scope> <role> ('p', ...) | none [skip-results] ['notes']`.
fn change(p: &mut Parser<'_>, verb: &str) -> PResult<SecurityCommand> {
    let verb = match verb {
        "add" => RoleVerb::Add,
        "drop" => RoleVerb::Drop,
        _ => RoleVerb::Set,
    };
    let scope = scope(p, true)?;
    let (role, n) = peek_word(p).ok_or_else(|| {
        let t = p.peek().clone();
        p.unexpected(&t, "a role")
    })?;
    p.pos += n;
    let (principals, none) = if eat_word(p, "none") {
        (Vec::new(), true)
    } else {
        (string_list(p)?, false)
    };
    let skip_results = eat_word(p, "skip-results");
    let notes = if at_string(p) {
        string(p)?
    } else {
        String::new()
    };
    Ok(SecurityCommand::ChangeRoles {
        verb,
        scope,
        role,
        principals,
        none,
        skip_results,
        notes,
    })
}
