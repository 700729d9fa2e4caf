//! Policies: `.show|.alter|.alter-merge|.delete <entity> policy <name> [value]`, for the
//! cluster, databases, tables (`T`, `D.T`, `*`, `(A, B)`), columns and materialized views.

use super::super::{PResult, Parser};
use super::{
    at_string, at_word, eat_word, expect_word, name, peek_word, qname, string, value, with_props,
};
use crate::ast::*;
use crate::token::TokenKind;

pub(super) fn parse(p: &mut Parser<'_>, kind: &str, verb: &str) -> Option<PResult<CommandKind>> {
    if !kind.contains("Polic") || kind.contains("Follower") || kind.contains("PoliciesOf") {
        return None;
    }
    let verb = match verb {
        "show" => PolicyVerb::Show,
        "alter" => PolicyVerb::Alter,
        "alter-merge" => PolicyVerb::AlterMerge,
        "delete" => PolicyVerb::Delete,
        _ => return None,
    };
    let (word, _) = peek_word(p)?;
    if !matches!(
        word.as_str(),
        "cluster" | "database" | "table" | "tables" | "column" | "materialized-view"
    ) {
        return None;
    }
    // `.show database D policies` is a database command.
    if kind == "ShowDatabasePolicies" {
        return None;
    }
    Some(command(p, verb).map(CommandKind::Policy))
}

fn command(p: &mut Parser<'_>, verb: PolicyVerb) -> PResult<PolicyCommand> {
    let scope = scope(p)?;
    expect_word(p, "policy")?;
    let (policy, n) = peek_word(p).ok_or_else(|| {
        let t = p.peek().clone();
        p.unexpected(&t, "a policy name")
    })?;
    p.pos += n;
    let value = match verb {
        PolicyVerb::Show | PolicyVerb::Delete => PolicyValue::None,
        PolicyVerb::Alter | PolicyVerb::AlterMerge => policy_value(p, &policy)?,
    };
    let with = with_props(p)?;
    Ok(PolicyCommand {
        verb,
        scope,
        policy: Some(policy),
        value,
        with,
    })
}

fn scope(p: &mut Parser<'_>) -> PResult<PolicyScope> {
    if eat_word(p, "cluster") {
        return Ok(PolicyScope::Cluster);
    }
    if eat_word(p, "database") {
        if at_word(p, "policy") {
            return Ok(PolicyScope::Database(None));
        }
        if p.eat_punct("*") {
            return Ok(PolicyScope::AllDatabases);
        }
        return Ok(PolicyScope::Database(Some(name(p)?)));
    }
    if eat_word(p, "tables") {
        p.expect_punct("(")?;
        let names = super::super::expr::comma_list_until(p, ")", qname)?;
        return Ok(PolicyScope::Tables(names));
    }
    if eat_word(p, "table") {
        if p.eat_punct("*") {
            return Ok(PolicyScope::AllTables);
        }
        return Ok(PolicyScope::Table(qname(p)?));
    }
    if eat_word(p, "column") {
        return Ok(PolicyScope::Column(qname(p)?));
    }
    expect_word(p, "materialized-view")?;
    Ok(PolicyScope::MaterializedView(name(p)?))
}

/// The value of `.alter[-merge] ... policy <name> <value>`.
fn policy_value(p: &mut Parser<'_>, policy: &str) -> PResult<PolicyValue> {
    if at_string(p) {
        return Ok(PolicyValue::Json(string(p)?));
    }
    if policy == "row_level_security" {
        let enabled = if eat_word(p, "enable") {
            true
        } else {
            expect_word(p, "disable")?;
            false
        };
        return Ok(PolicyValue::RowLevelSecurity {
            enabled,
            query: string(p)?,
        });
    }
    if eat_word(p, "enable") {
        return Ok(PolicyValue::Enabled(true));
    }
    if eat_word(p, "disable") {
        return Ok(PolicyValue::Enabled(false));
    }
    if eat_word(p, "true") {
        return Ok(PolicyValue::Bool(true));
    }
    if eat_word(p, "false") {
        return Ok(PolicyValue::Bool(false));
    }
    if p.peek().is_punct("(") {
        p.bump();
        let cols = super::super::expr::comma_list_until(p, ")", |p| {
            let c = name(p)?;
            let asc = if eat_word(p, "asc") {
                true
            } else {
                !eat_word(p, "desc")
            };
            Ok((c, asc))
        })?;
        return Ok(PolicyValue::RowOrder(cols));
    }
    // `hot = 7d, hot_window = datetime(a) .. datetime(b)`, `softdelete = 10d recoverability = disabled`
    let mut assignments = Vec::new();
    while let Some((word, n)) = peek_word(p) {
        if word == "with" || !p.peek_at(n).is_punct("=") {
            break;
        }
        p.pos += n + 1;
        let mut v = value(p)?;
        if p.peek().is_punct("..") {
            p.bump();
            let hi = value(p)?;
            v = PropValue::Literal(format!("{} .. {}", v.text(), hi.text()));
        }
        assignments.push(Property {
            name: word,
            value: v,
        });
        p.eat_punct(",");
    }
    if assignments.is_empty() {
        let t = p.peek().clone();
        let what = match t.kind {
            TokenKind::Eof => "a policy value",
            _ => "a policy value (a JSON string, enable/disable or name = value)",
        };
        return Err(p.unexpected(&t, what));
    }
    Ok(PolicyValue::Assignments(assignments))
}
