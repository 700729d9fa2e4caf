//! Control (dot) commands.

use super::expr::{column_decl, comma_list_until, params_until_close, span_from};
use super::{PResult, Parser};
use crate::ast::*;
use crate::token::TokenKind;

/// `.word ...` — the cursor is at the `.`.
pub(crate) fn command(p: &mut Parser<'_>) -> PResult<Command> {
    let start = p.bump().span; // .
    let start_tok = p.pos - 1;
    let Some((verb, _)) = p.hyphenated_word() else {
        let t = p.peek().clone();
        return Err(p.unexpected(&t, "a command name"));
    };
    let kind = match verb.as_str() {
        "create" | "create-merge" | "alter" | "alter-merge"
            if p.peek().is_kw("table") && is_plain_table_schema(p) =>
        {
            p.bump();
            let table = p.ident()?;
            p.expect_punct("(")?;
            let columns = comma_list_until(p, ")", column_decl)?;
            let with = with_props(p)?;
            CommandKind::TableSchema {
                verb: verb.clone(),
                table,
                columns,
                with,
            }
        }
        "create" | "create-merge" if p.peek().is_kw("tables") => {
            p.bump();
            let mut tables = Vec::new();
            loop {
                let name = p.ident()?;
                p.expect_punct("(")?;
                let cols = comma_list_until(p, ")", column_decl)?;
                tables.push((name, cols));
                if !p.eat_punct(",") {
                    break;
                }
            }
            CommandKind::CreateTables {
                verb: verb.clone(),
                tables,
            }
        }
        "drop"
            if p.peek().is_kw("table")
                && (p.peek_at(2).is_kw("ifexists")
                    || p.peek_at(2).is_punct(";")
                    || p.peek_at(2).is_punct("|")
                    || matches!(p.peek_at(2).kind, TokenKind::Eof)) =>
        {
            p.bump();
            let table = p.ident()?;
            let if_exists = p.eat_kw("ifexists");
            CommandKind::DropTable { table, if_exists }
        }
        "rename" if p.peek().is_kw("table") => {
            p.bump();
            let from = p.ident()?;
            p.expect_kw("to")?;
            let to = p.ident()?;
            CommandKind::RenameTable { from, to }
        }
        "ingest" if p.peek().is_kw("inline") => {
            p.bump();
            p.expect_kw("into")?;
            p.expect_kw("table")?;
            let table = p.ident()?;
            let with = with_props(p)?;
            if !p.at_eof() {
                let t = p.peek().clone();
                return Err(p.unexpected(&t, "'<|'"));
            }
            let Some(data) = p.inline_data.take() else {
                let t = p.peek().clone();
                return Err(p.unexpected(&t, "'<|'"));
            };
            CommandKind::IngestInline { table, with, data }
        }
        "set" | "append" | "set-or-append" | "set-or-replace" if is_set_or_append(p) => {
            let is_async = p.eat_kw("async");
            let table = p.ident()?;
            let with = with_props(p)?;
            p.expect_punct("<|")?;
            let query = sub_query(p)?;
            CommandKind::SetOrAppend {
                verb: verb.clone(),
                is_async,
                table,
                with,
                query: Box::new(query),
            }
        }
        "create-or-alter" | "create" | "alter" if p.peek().is_kw("function") => {
            p.bump();
            let if_not_exists = p.eat_kw("ifnotexists");
            let with = with_props(p)?;
            let name = p.ident()?;
            p.expect_punct("(")?;
            let params = params_until_close(p)?;
            let open = p.expect_punct("{")?;
            let (from, to) = p.skip_balanced(|t| t.is_punct("}"))?;
            let close = p.expect_punct("}")?;
            let body = if from == to {
                String::new()
            } else {
                p.text[open.end as usize..close.start as usize]
                    .trim()
                    .to_string()
            };
            // the body must itself parse
            let inner = crate::parse(&body);
            if let Some(d) = inner.diagnostics.into_iter().next() {
                return Err(crate::Diagnostic::syntax(
                    d.code,
                    crate::Span::new(
                        (open.end + d.span.start) as usize,
                        (open.end + d.span.end) as usize,
                    ),
                    d.message,
                ));
            }
            CommandKind::Function {
                verb: verb.clone(),
                if_not_exists,
                with,
                name,
                params,
                body,
            }
        }
        _ => {
            validate_other(p, &verb)?;
            let (_, to) =
                p.skip_balanced(|t| t.is_punct("|") || t.is_punct("<|") || t.is_punct(";"))?;
            if verb == "execute" && p.peek().is_punct("<|") {
                // `.execute database script <| commands`: the script is kept as text.
                let end = p.tokens.len().saturating_sub(1);
                let text = p.text_of(start_tok, end);
                p.pos = end;
                CommandKind::Other { text, query: None }
            } else {
                let text = p.text_of(start_tok, to);
                let query = if p.eat_punct("<|") {
                    Some(Box::new(sub_query(p)?))
                } else {
                    None
                };
                CommandKind::Other { text, query }
            }
        }
    };
    let mut pipe = Vec::new();
    while p.eat_punct("|") {
        pipe.push(super::operator::operator(p)?);
    }
    Ok(Command {
        kind,
        pipe,
        span: NodeSpan(span_from(p, start)),
    })
}

/// `.create table T (` — and not `.create table T ingestion ...` / `policy` forms.
fn is_plain_table_schema(p: &Parser<'_>) -> bool {
    match &p.peek_at(1).kind {
        TokenKind::Ident(_) => p.peek_at(2).is_punct("("),
        TokenKind::Punct("[") => p.peek_at(4).is_punct("("),
        _ => false,
    }
}

/// `with (name = value, ...)` or nothing.
fn with_props(p: &mut Parser<'_>) -> PResult<Vec<OpParam>> {
    if !p.peek().is_kw("with") || !p.peek_at(1).is_punct("(") {
        return Ok(Vec::new());
    }
    p.bump();
    p.bump();
    comma_list_until(p, ")", |p| {
        let name = p.ident()?.name;
        p.expect_punct("=")?;
        let value = super::expr::expr_no_pipe(p)?;
        Ok(OpParam { name, value })
    })
}

/// The query after `<|`: statements to the end of the text.
fn sub_query(p: &mut Parser<'_>) -> PResult<Query> {
    let mut statements = Vec::new();
    loop {
        while p.eat_punct(";") {}
        if p.at_eof() {
            break;
        }
        if statements.is_empty() {
            let start = p.peek().span;
            let e = super::operator::subquery_body(p)?;
            statements.push(Statement {
                kind: StatementKind::Expr(e),
                span: NodeSpan(span_from(p, start)),
            });
        } else {
            statements.push(super::expr::statement(p)?);
        }
        if !p.at_eof() && !p.peek().is_punct(";") {
            let t = p.peek().clone();
            return Err(p.unexpected(&t, "';' or end of query"));
        }
    }
    if statements.is_empty() {
        let t = p.peek().clone();
        return Err(p.unexpected(&t, "a query"));
    }
    Ok(Query { statements })
}

/// `.set [async] T [with (...)] <|` (and not `.set stored_query_result ...`).
fn is_set_or_append(p: &Parser<'_>) -> bool {
    let mut i = 0;
    if p.peek().is_kw("async") {
        i = 1;
    }
    let name_len = match &p.peek_at(i).kind {
        TokenKind::Ident(_) => 1,
        TokenKind::Punct("[") => 3,
        _ => return false,
    };
    let next = p.peek_at(i + name_len);
    next.is_punct("<|") || next.is_kw("with")
}

/// Checks the shapes of well-known commands that are otherwise kept as text.
fn validate_other(p: &Parser<'_>, verb: &str) -> PResult<()> {
    let at_end = |n: usize| {
        let t = p.peek_at(n);
        matches!(t.kind, TokenKind::Eof) || t.is_punct(";") || t.is_punct("|") || t.is_punct("<|")
    };
    if at_end(0) {
        let t = p.peek().clone();
        return Err(p.unexpected(&t, &format!("arguments of .{verb}")));
    }
    let entity = p.peek().ident().unwrap_or_default();
    if matches!(verb, "set" | "append" | "set-or-append" | "set-or-replace")
        && !matches!(
            entity,
            "database"
                | "cluster"
                | "table"
                | "stored_query_result"
                | "function"
                | "materialized-view"
        )
    {
        let t = p.peek_at(1).clone();
        return Err(p.unexpected(&t, "'<|' and a query"));
    }
    let entity_kind = matches!(
        entity,
        "table" | "database" | "function" | "materialized-view"
    );
    if matches!(
        verb,
        "create" | "create-merge" | "alter" | "alter-merge" | "drop"
    ) && entity_kind
    {
        if at_end(1) {
            let t = p.peek_at(1).clone();
            return Err(p.unexpected(&t, &format!("a {entity} name")));
        }
        if matches!(verb, "alter" | "alter-merge") && at_end(2) {
            let t = p.peek_at(2).clone();
            return Err(p.unexpected(&t, "what to alter"));
        }
        if entity == "table" && p.peek_at(2).ident().is_some() && p.peek_at(3).is_punct(":") {
            let t = p.peek_at(2).clone();
            return Err(p.unexpected(&t, "'('"));
        }
    }
    if matches!(verb, "add" | "drop" | "set") && matches!(entity, "database" | "table" | "cluster")
    {
        // `.add database D viewers ('aaduser=...')`: role changes need a principal list.
        let role_at = if entity == "cluster" { 1 } else { 2 };
        let role = p.peek_at(role_at).ident().unwrap_or_default();
        let is_role = matches!(
            role,
            "admins"
                | "users"
                | "viewers"
                | "unrestrictedviewers"
                | "ingestors"
                | "monitors"
                | "principalsadmins"
        );
        if is_role && !p.peek_at(role_at + 1).is_punct("(") && !p.peek_at(role_at + 1).is_kw("none")
        {
            let t = p.peek_at(role_at + 1).clone();
            return Err(p.unexpected(&t, "'(' and a list of principals"));
        }
    }
    Ok(())
}
