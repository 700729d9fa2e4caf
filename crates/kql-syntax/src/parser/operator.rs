//! Tabular operators (after `|`) and tabular sources (at the start of a pipeline).

use super::expr::{
    call_arg, column_decl, comma_list_until, expr, expr_no_pipe, named_expr, op_params,
    param_value, span_from, type_name,
};
use super::{PResult, Parser};
use crate::ast::*;
use crate::token::TokenKind;

/// Operators kept as balanced token text (parsed, not planned).
const RAW_OPERATORS: &[&str] = &[
    "scan",
    "make-graph",
    "graph-match",
    "graph-to-table",
    "graph-shortest-paths",
    "graph-mark-components",
    "graph-where-nodes",
    "graph-where-edges",
    "execute-and-cache",
    "__executeAndCache",
    "macro-expand",
    "project-by-names",
];

/// A tabular operator after `|`.
pub(crate) fn operator(p: &mut Parser<'_>) -> PResult<Operator> {
    let start = p.peek().span;
    let Some((word, _)) = p.hyphenated_word() else {
        let t = p.peek().clone();
        return Err(p.unexpected(&t, "a query operator"));
    };
    let kind = match word.as_str() {
        "where" | "filter" => OperatorKind::Where {
            filter: word == "filter",
            predicate: expr_no_pipe(p)?,
        },
        "project" => OperatorKind::Project(nonempty_list(p, named_expr)?),
        "project-away" => OperatorKind::ProjectAway(nonempty_list(p, column_pattern)?),
        "project-keep" => OperatorKind::ProjectKeep(nonempty_list(p, column_pattern)?),
        "project-rename" => OperatorKind::ProjectRename(nonempty_list(p, |p| {
            let new = p.ident()?;
            p.expect_punct("=")?;
            let old = p.ident()?;
            Ok((new, old))
        })?),
        "project-reorder" => OperatorKind::ProjectReorder(nonempty_list(p, |p| {
            let c = column_pattern(p)?;
            let dir = if p.peek().is_kw("asc") || p.peek().is_kw("desc") {
                Some(p.bump().ident().unwrap_or_default().to_string())
            } else if p.peek().is_kw("granny") && p.peek_at(1).is_punct("-") {
                p.hyphenated_word().map(|(w, _)| w)
            } else {
                None
            };
            Ok((c, dir))
        })?),
        "extend" => OperatorKind::Extend(nonempty_list(p, named_expr)?),
        "summarize" => {
            let params = op_params(p, &[])?;
            let aggs = if p.peek().is_kw("by") {
                Vec::new()
            } else {
                nonempty_list(p, named_expr)?
            };
            let by = if p.eat_kw("by") {
                nonempty_list(p, named_expr)?
            } else {
                Vec::new()
            };
            OperatorKind::Summarize { params, aggs, by }
        }
        "count" => {
            if p.eat_kw("as") {
                OperatorKind::Count(Some(p.ident()?))
            } else {
                OperatorKind::Count(None)
            }
        }
        "take" | "limit" => {
            op_params(p, &[])?;
            OperatorKind::Take {
                limit: word == "limit",
                count: expr_no_pipe(p)?,
            }
        }
        "sort" | "order" => {
            let params = op_params(p, &[])?;
            p.expect_kw("by")?;
            let keys = nonempty_list(p, sort_key)?;
            OperatorKind::Sort {
                order: word == "order",
                params,
                keys,
            }
        }
        "top" => {
            op_params(p, &[])?;
            let count = expr_no_pipe(p)?;
            p.expect_kw("by")?;
            let key = sort_key(p)?;
            OperatorKind::Top { count, key }
        }
        "distinct" => {
            op_params(p, &[])?;
            OperatorKind::Distinct(nonempty_list(p, expr_no_pipe)?)
        }
        "union" => union_rest(p)?,
        "join" => {
            let params = op_params(p, &["kind"])?;
            let right = join_right(p)?;
            p.expect_kw("on")?;
            let on = nonempty_list(p, expr_no_pipe)?;
            OperatorKind::Join { params, right, on }
        }
        "lookup" => {
            let params = op_params(p, &["kind"])?;
            let right = join_right(p)?;
            p.expect_kw("on")?;
            let on = nonempty_list(p, expr_no_pipe)?;
            OperatorKind::Lookup { params, right, on }
        }
        "as" => {
            let params = op_params(p, &[])?;
            OperatorKind::As {
                params,
                name: p.ident()?,
            }
        }
        "getschema" => OperatorKind::GetSchema,
        "serialize" => {
            if p.at_ident() {
                OperatorKind::Serialize(nonempty_list(p, named_expr)?)
            } else {
                OperatorKind::Serialize(Vec::new())
            }
        }
        "render" => render_rest(p)?,
        "mv-expand" => {
            let params = op_params(p, &["bagexpansion", "with_itemindex", "kind"])?;
            let items = nonempty_list(p, mv_item)?;
            let limit = if p.eat_kw("limit") {
                Some(expr_no_pipe(p)?)
            } else {
                None
            };
            OperatorKind::MvExpand {
                params,
                items,
                limit,
            }
        }
        "mv-apply" => {
            let params = op_params(p, &["with_itemindex", "kind"])?;
            let items = nonempty_list(p, mv_item)?;
            let limit = if p.eat_kw("limit") {
                Some(expr_no_pipe(p)?)
            } else {
                None
            };
            p.expect_kw("on")?;
            let subquery = subquery_in_parens(p)?;
            OperatorKind::MvApply {
                params,
                items,
                limit,
                subquery,
            }
        }
        "parse" | "parse-where" => {
            let params = op_params(p, &["kind", "flags"])?;
            let e = expr_no_pipe(p)?;
            p.expect_kw("with")?;
            let pattern = parse_pattern(p)?;
            OperatorKind::Parse {
                filter: word == "parse-where",
                params,
                expr: e,
                pattern,
            }
        }
        "parse-kv" => {
            let e = expr_no_pipe(p)?;
            p.expect_kw("as")?;
            p.expect_punct("(")?;
            let columns = comma_list_until(p, ")", column_decl)?;
            let with = if p.eat_kw("with") {
                paren_params(p)?
            } else {
                Vec::new()
            };
            OperatorKind::ParseKv {
                expr: e,
                columns,
                with,
            }
        }
        "make-series" => make_series(p)?,
        "top-nested" => top_nested(p)?,
        "top-hitters" => {
            let count = expr_no_pipe(p)?;
            p.expect_kw("of")?;
            let of = expr_no_pipe(p)?;
            let by = if p.eat_kw("by") {
                Some(named_expr(p)?)
            } else {
                None
            };
            OperatorKind::TopHitters { count, of, by }
        }
        "sample" => {
            op_params(p, &[])?;
            OperatorKind::Sample(expr_no_pipe(p)?)
        }
        "sample-distinct" => {
            op_params(p, &[])?;
            let count = expr_no_pipe(p)?;
            p.expect_kw("of")?;
            OperatorKind::SampleDistinct {
                count,
                of: expr_no_pipe(p)?,
            }
        }
        "search" => search_rest(p)?,
        "evaluate" => {
            let params = op_params(p, &[])?;
            let call = expr_no_pipe(p)?;
            if !matches!(call.kind, ExprKind::Call { .. }) {
                return Err(crate::Diagnostic::syntax(
                    "KS007",
                    call.span(),
                    "Expected a plugin call after evaluate",
                ));
            }
            let schema = evaluate_schema(p)?;
            OperatorKind::Evaluate {
                params,
                call,
                schema,
            }
        }
        "invoke" => {
            let call = expr_no_pipe(p)?;
            OperatorKind::Invoke(call)
        }
        "fork" => {
            let mut branches = Vec::new();
            loop {
                let name = if p.at_ident() && p.peek_at(1).is_punct("=") {
                    let n = p.ident()?;
                    p.bump();
                    Some(n)
                } else {
                    None
                };
                if !p.peek().is_punct("(") {
                    break;
                }
                branches.push((name, subquery_in_parens(p)?));
            }
            if branches.is_empty() {
                let t = p.peek().clone();
                return Err(p.unexpected(&t, "'('"));
            }
            OperatorKind::Fork(branches)
        }
        "facet" => {
            p.expect_kw("by")?;
            let by = nonempty_list(p, |p| p.ident())?;
            let with = if p.eat_kw("with") {
                Some(subquery_in_parens(p)?)
            } else {
                None
            };
            OperatorKind::Facet { by, with }
        }
        "partition" => {
            let params = op_params(p, &[])?;
            p.expect_kw("by")?;
            let by = p.ident()?;
            let subquery = if p.peek().is_punct("(") {
                subquery_in_parens(p)?
            } else if p.peek().is_punct("{") {
                let open = p.bump().span;
                let e = expr(p)?;
                p.expect_punct("}")?;
                Expr::new(ExprKind::Paren(Box::new(e)), span_from(p, open))
            } else {
                let t = p.peek().clone();
                return Err(p.unexpected(&t, "'('"));
            };
            OperatorKind::Partition {
                params,
                by,
                subquery,
            }
        }
        "reduce" => {
            op_params(p, &["kind"])?;
            p.expect_kw("by")?;
            let by = expr_no_pipe(p)?;
            let with = if p.eat_kw("with") {
                op_params_any(p)?
            } else {
                Vec::new()
            };
            OperatorKind::Reduce { by, with }
        }
        "consume" => OperatorKind::Consume(op_params(p, &["decodeblocks"])?),
        "assert-schema" => {
            p.expect_punct("(")?;
            OperatorKind::AssertSchema(comma_list_until(p, ")", column_decl)?)
        }
        w if RAW_OPERATORS.contains(&w) => {
            let (from, to) = p.skip_balanced(|t| t.is_punct("|") || t.is_punct(";"))?;
            if from == to
                && !matches!(
                    w,
                    "graph-to-table" | "graph-mark-components" | "__executeAndCache"
                )
            {
                let t = p.peek().clone();
                return Err(p.unexpected(&t, "operator arguments"));
            }
            validate_raw(p, w, from, to)?;
            OperatorKind::Raw {
                name: word.clone(),
                text: p.text_of(from, to),
            }
        }
        _ => {
            return Err(crate::Diagnostic::syntax(
                "KS008",
                start,
                format!("Unknown query operator '{word}'"),
            ));
        }
    };
    Ok(Operator {
        kind,
        span: NodeSpan(span_from(p, start)),
    })
}

/// A tabular source at the start of an expression, if the cursor is at one.
pub(crate) fn source(p: &mut Parser<'_>) -> PResult<Option<Expr>> {
    let Some(w) = p.peek().ident() else {
        return Ok(None);
    };
    let next = p.peek_at(1);
    let name_like = next.is_punct("=")
        || next.is_punct(",")
        || next.is_punct(")")
        || next.is_punct("]")
        || next.is_punct("==")
        || next.is_punct(".");
    let start = p.peek().span;
    let kind = match w {
        "print" if !name_like => {
            p.bump();
            OperatorKind::Print(nonempty_list(p, named_expr)?)
        }
        "macro" if next.is_punct("-") && p.peek_at(2).is_kw("expand") && p.adjacent(1) => {
            p.bump();
            p.bump();
            p.bump();
            let (from, to) = p.skip_balanced(|t| t.is_punct("|") || t.is_punct(";"))?;
            OperatorKind::Raw {
                name: "macro-expand".into(),
                text: p.text_of(from, to),
            }
        }
        "inline_external_table" if !name_like => {
            p.bump();
            let (from, to) = p.skip_balanced(|t| t.is_punct("|") || t.is_punct(";"))?;
            OperatorKind::Raw {
                name: "inline_external_table".into(),
                text: p.text_of(from, to),
            }
        }
        "range" if next.ident().is_some() || next.is_punct("[") => {
            p.bump();
            let column = p.ident()?;
            p.expect_kw("from")?;
            let from = expr_no_pipe(p)?;
            p.expect_kw("to")?;
            let to = expr_no_pipe(p)?;
            p.expect_kw("step")?;
            let step = expr_no_pipe(p)?;
            OperatorKind::Range {
                column,
                from,
                to,
                step,
            }
        }
        "datatable" if next.is_punct("(") => {
            p.bump();
            p.bump();
            let columns = comma_list_until(p, ")", column_decl)?;
            if columns.is_empty() {
                return Err(p.error_here("datatable needs at least one column"));
            }
            p.expect_punct("[")?;
            let mut values = Vec::new();
            while !p.eat_punct("]") {
                values.push(expr_no_pipe(p)?);
                if !p.eat_punct(",") {
                    p.expect_punct("]")?;
                    break;
                }
            }
            OperatorKind::Datatable { columns, values }
        }
        "externaldata" if next.is_punct("(") => {
            p.bump();
            p.bump();
            let columns = comma_list_until(p, ")", column_decl)?;
            p.expect_punct("[")?;
            let urls = comma_list_until(p, "]", expr_no_pipe)?;
            let with = if p.eat_kw("with") {
                paren_params(p)?
            } else {
                Vec::new()
            };
            OperatorKind::ExternalData {
                columns,
                urls,
                with,
            }
        }
        "union" if !name_like => {
            p.bump();
            union_rest(p)?
        }
        "search" if !name_like => {
            p.bump();
            search_rest(p)?
        }
        "find" if !name_like => {
            p.bump();
            find_rest(p)?
        }
        "evaluate" if !name_like => {
            p.bump();
            let params = op_params(p, &[])?;
            let call = expr_no_pipe(p)?;
            let schema = evaluate_schema(p)?;
            OperatorKind::Evaluate {
                params,
                call,
                schema,
            }
        }
        _ => return Ok(None),
    };
    let span = span_from(p, start);
    Ok(Some(Expr::new(
        ExprKind::Source(Box::new(Operator {
            kind,
            span: NodeSpan(span),
        })),
        span,
    )))
}

fn nonempty_list<T>(
    p: &mut Parser<'_>,
    mut item: impl FnMut(&mut Parser<'_>) -> PResult<T>,
) -> PResult<Vec<T>> {
    let mut items = vec![item(p)?];
    while p.eat_punct(",") {
        items.push(item(p)?);
    }
    Ok(items)
}

/// A column name, possibly with `*` wildcards (`prefix*`).
fn column_pattern(p: &mut Parser<'_>) -> PResult<Ident> {
    let start = p.peek().span;
    let mut name = String::new();
    let mut any = false;
    loop {
        let t = p.peek().clone();
        let adjacent_to_prev = !any || p.prev_span().end == t.span.start;
        if !adjacent_to_prev {
            break;
        }
        if t.is_punct("*") {
            name.push('*');
            p.bump();
        } else if p.at_ident() && (!any || t.ident().is_some()) {
            name.push_str(&p.ident()?.name);
        } else {
            break;
        }
        any = true;
    }
    if !any {
        let t = p.peek().clone();
        return Err(p.unexpected(&t, "a column name"));
    }
    Ok(Ident::new(name, span_from(p, start)))
}

fn direction(p: &mut Parser<'_>) -> Option<bool> {
    if p.eat_kw("asc") {
        Some(true)
    } else if p.eat_kw("desc") {
        Some(false)
    } else {
        None
    }
}

fn sort_key(p: &mut Parser<'_>) -> PResult<SortKey> {
    let e = expr_no_pipe(p)?;
    let asc = direction(p);
    let nulls_first = if p.eat_kw("nulls") {
        if p.eat_kw("first") {
            Some(true)
        } else {
            p.expect_kw("last")?;
            Some(false)
        }
    } else {
        None
    };
    Ok(SortKey {
        expr: e,
        asc,
        nulls_first,
    })
}

fn union_rest(p: &mut Parser<'_>) -> PResult<OperatorKind> {
    let params = op_params(p, &["kind", "withsource", "with_source", "isfuzzy"])?;
    let tables = nonempty_list(p, table_ref)?;
    Ok(OperatorKind::Union { params, tables })
}

/// A table reference: a name (with `*` wildcards), a call, `database("x").T`,
/// `database("x")["T"]`, or `(query)`.
fn table_ref(p: &mut Parser<'_>) -> PResult<Expr> {
    {
        if p.peek().is_punct("(") {
            return subquery_in_parens(p);
        }
        let start = p.peek().span;
        let pat = column_pattern(p)?;
        if pat.name.contains('*') {
            return Ok(Expr::new(ExprKind::Name(pat), start));
        }
        // a plain name may be a call or a dotted reference (database("x").T)
        let mut e = Expr::new(ExprKind::Name(pat.clone()), pat.span.0);
        if p.peek().is_punct("(") {
            p.bump();
            let args = comma_list_until(p, ")", call_arg)?;
            e = Expr::new(ExprKind::Call { name: pat, args }, span_from(p, start));
        }
        loop {
            if p.peek().is_punct("[")
                && matches!(e.kind, ExprKind::Call { .. } | ExprKind::MethodCall { .. })
                && matches!(p.peek_at(1).kind, TokenKind::Str { .. })
            {
                p.bump();
                let (name, span) = super::expr::string_value(p)?;
                p.expect_punct("]")?;
                let index = Expr::new(
                    ExprKind::Literal(Literal::String {
                        value: name,
                        obfuscated: false,
                    }),
                    span,
                );
                e = Expr::new(
                    ExprKind::Index {
                        expr: Box::new(e),
                        index: Box::new(index),
                    },
                    span_from(p, start),
                );
                continue;
            }
            if !p.eat_punct(".") {
                break;
            }
            let name = column_pattern(p)?;
            if p.peek().is_punct("(") {
                p.bump();
                let args = comma_list_until(p, ")", call_arg)?;
                e = Expr::new(
                    ExprKind::MethodCall {
                        expr: Box::new(e),
                        name,
                        args,
                    },
                    span_from(p, start),
                );
            } else {
                e = Expr::new(
                    ExprKind::Member {
                        expr: Box::new(e),
                        name,
                    },
                    span_from(p, start),
                );
            }
        }
        Ok(e)
    }
}

fn join_right(p: &mut Parser<'_>) -> PResult<Expr> {
    if p.peek().is_punct("(") {
        subquery_in_parens(p)
    } else {
        expr_no_pipe(p)
    }
}

/// `( query )` kept as a parenthesised expression.
fn subquery_in_parens(p: &mut Parser<'_>) -> PResult<Expr> {
    let start = p.expect_punct("(")?;
    p.enter()?;
    let e = subquery_body(p)?;
    p.leave();
    p.expect_punct(")")?;
    Ok(Expr::new(ExprKind::Paren(Box::new(e)), span_from(p, start)))
}

/// A subquery that may start with operators applied to an implicit input
/// (`fork (where x > 1)`, `mv-apply ... on (summarize ...)`).
pub(crate) fn subquery_body(p: &mut Parser<'_>) -> PResult<Expr> {
    // `(where ...)` / `(| where ...)`: an operator without input.
    if p.peek().is_punct("|") {
        p.bump();
    }
    if let Some(w) = p.peek().ident() {
        const OPS: &[&str] = &[
            "where",
            "filter",
            "project",
            "extend",
            "summarize",
            "top",
            "take",
            "limit",
            "sort",
            "order",
            "count",
            "distinct",
            "mv-expand",
            "parse",
            "as",
            "serialize",
            "make-series",
            "top-nested",
            "sample",
            "join",
            "lookup",
            "getschema",
            "evaluate",
            "invoke",
            "render",
            "mv-apply",
            "parse-where",
            "parse-kv",
            "sample-distinct",
            "top-hitters",
            "reduce",
            "mv",
            "make",
            "sample",
            "facet",
            "consume",
            "partition",
            "union",
        ];
        let next = p.peek_at(1);
        let followed_like_name = next.is_punct("(")
            || next.is_punct("|")
            || next.is_punct(")")
            || next.is_punct(".")
            || next.is_punct("=")
            || next.is_punct(",")
            // `extend[0]` indexes a column; `extend ['a b'] = 1` names one.
            || next.is_punct("[") && (p.adjacent(1) || p.ident_len_at(1).is_none());
        let no_arg_op = matches!(w, "getschema" | "count" | "serialize" | "consume")
            && (next.is_punct(")") || next.is_punct("|"));
        let is_op = OPS.contains(&w) && (!followed_like_name || no_arg_op);
        if is_op {
            let start = p.peek().span;
            let op = operator(p)?;
            let mut e = Expr::new(
                ExprKind::Source(Box::new(Operator {
                    kind: OperatorKind::Raw {
                        name: "__implicit_input".into(),
                        text: String::new(),
                    },
                    span: NodeSpan(start),
                })),
                start,
            );
            e = Expr::new(
                ExprKind::Pipe {
                    input: Box::new(e),
                    op: Box::new(op),
                },
                span_from(p, start),
            );
            while p.eat_punct("|") {
                let op = operator(p)?;
                e = Expr::new(
                    ExprKind::Pipe {
                        input: Box::new(e),
                        op: Box::new(op),
                    },
                    span_from(p, start),
                );
            }
            return Ok(e);
        }
    }
    expr(p)
}

fn render_rest(p: &mut Parser<'_>) -> PResult<OperatorKind> {
    let chart = p.ident()?;
    if p.eat_kw("with") {
        let props = paren_params(p)?;
        return Ok(OperatorKind::Render {
            chart,
            props,
            with: true,
        });
    }
    let props = op_params_any(p)?;
    Ok(OperatorKind::Render {
        chart,
        props,
        with: false,
    })
}

/// `(name = value, ...)`.
fn paren_params(p: &mut Parser<'_>) -> PResult<Vec<OpParam>> {
    p.expect_punct("(")?;
    comma_list_until(p, ")", |p| {
        let mut name = p.ident()?.name;
        while p.peek().is_punct(".") {
            p.bump();
            name.push('.');
            name.push_str(&p.ident()?.name);
        }
        p.expect_punct("=")?;
        let value = param_value_list(p)?;
        Ok(OpParam { name, value })
    })
}

/// A param value that may be a parenthesised list (`ycolumns=(a, b)` is written `ycolumns=a, b`
/// in KQL; inside `with (...)` lists are plain comma lists of identifiers after `=`).
fn param_value_list(p: &mut Parser<'_>) -> PResult<Expr> {
    param_value(p)
}

/// `name=value` pairs with any names (legacy render properties, reduce `with`).
fn op_params_any(p: &mut Parser<'_>) -> PResult<Vec<OpParam>> {
    let mut params = Vec::new();
    while p.peek().ident().is_some() && p.peek_at(1).is_punct("=") {
        let name = p.ident()?.name;
        p.bump();
        let value = param_value(p)?;
        params.push(OpParam { name, value });
        p.eat_punct(",");
    }
    Ok(params)
}

fn mv_item(p: &mut Parser<'_>) -> PResult<MvExpandItem> {
    let item = named_expr(p)?;
    let to_type = if p.eat_kw("to") {
        p.expect_kw("typeof")?;
        p.expect_punct("(")?;
        let t = type_name(p)?;
        p.expect_punct(")")?;
        Some(t)
    } else {
        None
    };
    Ok(MvExpandItem { item, to_type })
}

fn parse_pattern(p: &mut Parser<'_>) -> PResult<Vec<ParsePart>> {
    let mut parts = Vec::new();
    loop {
        let t = p.peek().clone();
        match &t.kind {
            TokenKind::Str { .. } => {
                if let Literal::String { value, .. } = super::expr::string_literal(p)? {
                    parts.push(ParsePart::Text(value));
                }
            }
            TokenKind::Punct("*") => {
                p.bump();
                parts.push(ParsePart::Star);
            }
            TokenKind::Ident(_) | TokenKind::Punct("[") if p.at_ident() => {
                let name = p.ident()?;
                let ty = if p.eat_punct(":") {
                    Some(type_name(p)?)
                } else {
                    None
                };
                parts.push(ParsePart::Column { name, ty });
            }
            _ => break,
        }
    }
    if parts.is_empty() {
        let t = p.peek().clone();
        return Err(p.unexpected(&t, "a parse pattern"));
    }
    Ok(parts)
}

fn make_series(p: &mut Parser<'_>) -> PResult<OperatorKind> {
    let params = op_params(p, &["kind"])?;
    let aggs = nonempty_list(p, |p| {
        let ne = named_expr(p)?;
        let default = if p.eat_kw("default") {
            p.expect_punct("=")?;
            Some(expr_no_pipe(p)?)
        } else {
            None
        };
        Ok((ne, default))
    })?;
    p.expect_kw("on")?;
    let on = expr_no_pipe(p)?;
    let range = if p.eat_kw("in") {
        p.expect_kw("range")?;
        p.expect_punct("(")?;
        MakeSeriesRange::InRange(comma_list_until(p, ")", expr_no_pipe)?)
    } else {
        let from = if p.eat_kw("from") {
            Some(expr_no_pipe(p)?)
        } else {
            None
        };
        let to = if p.eat_kw("to") {
            Some(expr_no_pipe(p)?)
        } else {
            None
        };
        p.expect_kw("step")?;
        MakeSeriesRange::FromTo {
            from,
            to,
            step: expr_no_pipe(p)?,
        }
    };
    let by = if p.eat_kw("by") {
        nonempty_list(p, named_expr)?
    } else {
        Vec::new()
    };
    Ok(OperatorKind::MakeSeries {
        params,
        aggs,
        on,
        range,
        by,
    })
}

fn top_nested(p: &mut Parser<'_>) -> PResult<OperatorKind> {
    let mut clauses = Vec::new();
    loop {
        let count = if p.peek().is_kw("of") {
            None
        } else {
            Some(expr_no_pipe(p)?)
        };
        p.expect_kw("of")?;
        let of = named_expr(p)?;
        let others = if p.eat_kw("with") {
            p.expect_kw("others")?;
            p.expect_punct("=")?;
            Some(expr_no_pipe(p)?)
        } else {
            None
        };
        p.expect_kw("by")?;
        let by = named_expr(p)?;
        let asc = direction(p);
        clauses.push(TopNestedClause {
            count,
            of,
            others,
            by,
            asc,
        });
        if !p.eat_punct(",") {
            break;
        }
        // the next clause starts with `top-nested`
        let Some((w, _)) = p.hyphenated_word() else {
            let t = p.peek().clone();
            return Err(p.unexpected(&t, "'top-nested'"));
        };
        if w != "top-nested" {
            return Err(p.error_here("Expected 'top-nested'"));
        }
    }
    Ok(OperatorKind::TopNested(clauses))
}

fn search_rest(p: &mut Parser<'_>) -> PResult<OperatorKind> {
    let params = op_params(p, &["kind", "withsource", "with_source"])?;
    let tables = if p.peek().is_kw("in") && p.peek_at(1).is_punct("(") {
        p.bump();
        p.bump();
        comma_list_until(p, ")", expr_no_pipe)?
    } else {
        Vec::new()
    };
    p.search_terms = true;
    let predicate = expr_no_pipe(p);
    p.search_terms = false;
    let predicate = predicate?;
    Ok(OperatorKind::Search {
        params,
        tables,
        predicate,
    })
}

fn find_rest(p: &mut Parser<'_>) -> PResult<OperatorKind> {
    let params = op_params(p, &["withsource", "with_source", "datascope", "kind"])?;
    let tables = if p.eat_kw("in") {
        p.expect_punct("(")?;
        comma_list_until(p, ")", table_ref)?
    } else {
        Vec::new()
    };
    p.eat_kw("where");
    let predicate = expr_no_pipe(p)?;
    let project = if p.peek().is_kw("project") || p.peek().is_kw("project-smart") {
        let (_w, _) = p.hyphenated_word().unwrap_or_default();
        if p.peek().is_punct("|") || p.at_eof() || p.peek().is_punct(";") {
            Some(Vec::new())
        } else {
            Some(nonempty_list(p, expr_no_pipe)?)
        }
    } else {
        None
    };
    Ok(OperatorKind::Find {
        params,
        tables,
        predicate,
        project,
    })
}

/// Light checks of operators kept as raw text, so that obvious mistakes are syntax errors.
fn validate_raw(p: &Parser<'_>, name: &str, from: usize, to: usize) -> PResult<()> {
    let toks = &p.tokens[from..to];
    match name {
        "make-graph" => {
            let arrow = toks.windows(3).any(|w| {
                w[0].is_punct("-")
                    && w[1].is_punct("-")
                    && w[2].is_punct(">")
                    && w[0].span.end == w[1].span.start
                    && w[1].span.end == w[2].span.start
            });
            if !arrow {
                return Err(crate::Diagnostic::syntax(
                    "KS009",
                    toks.first().map(|t| t.span).unwrap_or_default(),
                    "Expected '-->' between the source and target columns of make-graph",
                ));
            }
        }
        "scan" => {
            for (i, t) in toks.iter().enumerate() {
                if t.is_kw("step") {
                    // step name [optional] [output=x] :
                    let mut j = i + 1;
                    if toks.get(j).and_then(|t| t.ident()).is_none() {
                        return Err(p.unexpected(toks.get(j).unwrap_or(t), "a step name"));
                    }
                    j += 1;
                    while let Some(t2) = toks.get(j) {
                        if t2.is_punct(":") {
                            break;
                        }
                        if t2.is_kw("optional")
                            || t2.is_kw("output")
                            || t2.is_punct("=")
                            || t2.ident().is_some()
                                && toks.get(j - 1).is_some_and(|x| x.is_punct("="))
                        {
                            j += 1;
                            continue;
                        }
                        return Err(p.unexpected(t2, "':'"));
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `: (col: type, ...)` after a plugin call (`*` first: the input's columns, then these).
fn evaluate_schema(p: &mut Parser<'_>) -> PResult<Option<(bool, Vec<ColumnDecl>)>> {
    if !(p.peek().is_punct(":") && p.peek_at(1).is_punct("(")) {
        return Ok(None);
    }
    p.bump();
    p.bump();
    let mut star = false;
    let mut columns = Vec::new();
    if !p.eat_punct(")") {
        loop {
            if columns.is_empty() && !star && p.eat_punct("*") {
                star = true;
            } else {
                columns.push(column_decl(p)?);
            }
            if p.eat_punct(")") {
                break;
            }
            p.expect_punct(",")?;
        }
    }
    Ok(Some((star, columns)))
}
