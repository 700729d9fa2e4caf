//! Statements and expressions (Pratt parser).

use super::{PResult, Parser, command, operator};
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::token::TokenKind;

pub(crate) fn statement(p: &mut Parser<'_>) -> PResult<Statement> {
    let start = p.peek().span;
    if p.peek().is_punct(".") && p.adjacent(1) && p.peek_at(1).ident().is_some() {
        let cmd = command::command(p)?;
        return Ok(Statement {
            kind: StatementKind::Command(cmd),
            span: NodeSpan(start.to(p.prev_span())),
        });
    }
    let kind = if p.peek().is_kw("let") && p.peek_at(1).ident().is_some()
        || p.peek().is_kw("let") && p.peek_at(1).is_punct("[")
    {
        p.bump();
        let name = p.ident()?;
        p.expect_punct("=")?;
        let value = let_value(p)?;
        StatementKind::Let { name, value }
    } else if p.peek().is_kw("declare") && p.peek_at(1).is_kw("query_parameters") {
        p.bump();
        p.bump();
        p.expect_punct("(")?;
        let params = params_until_close(p)?;
        StatementKind::DeclareQueryParameters(params)
    } else if p.peek().is_kw("set") && p.peek_at(1).ident().is_some() {
        p.bump();
        let mut name = p.ident()?.name;
        while p.peek().is_punct(".") && p.peek_at(1).ident().is_some() {
            p.bump();
            name.push('.');
            name.push_str(&p.ident()?.name);
        }
        let value = if p.eat_punct("=") {
            Some(expr_no_pipe(p)?)
        } else {
            None
        };
        StatementKind::Set { name, value }
    } else if p.peek().is_kw("alias") && p.peek_at(1).is_kw("database") {
        p.bump();
        p.bump();
        let name = p.ident()?;
        p.expect_punct("=")?;
        let target = expr_no_pipe(p)?;
        StatementKind::Alias { name, target }
    } else if p.peek().is_kw("restrict") && p.peek_at(1).is_kw("access") {
        p.bump();
        p.bump();
        p.expect_kw("to")?;
        p.expect_punct("(")?;
        let items = comma_list_until(p, ")", expr)?;
        StatementKind::Restrict(items)
    } else {
        StatementKind::Expr(expr(p)?)
    };
    Ok(Statement {
        kind,
        span: NodeSpan(start.to(p.prev_span())),
    })
}

fn let_value(p: &mut Parser<'_>) -> PResult<LetValue> {
    if p.peek().is_kw("view") && p.peek_at(1).is_punct("(") {
        p.bump();
        return Ok(LetValue::View(lambda(p)?));
    }
    if p.peek().is_punct("(") && looks_like_lambda(p) {
        return Ok(LetValue::Function(lambda(p)?));
    }
    p.allow_materialize = true;
    let r = expr(p);
    p.allow_materialize = false;
    Ok(LetValue::Expr(r?))
}

fn looks_like_lambda(p: &Parser<'_>) -> bool {
    (p.peek_at(1).is_punct(")") && p.peek_at(2).is_punct("{"))
        || ((p.peek_at(1).ident().is_some()) && p.peek_at(2).is_punct(":"))
}

pub(crate) fn lambda(p: &mut Parser<'_>) -> PResult<Lambda> {
    p.expect_punct("(")?;
    let params = params_until_close(p)?;
    p.expect_punct("{")?;
    p.enter()?;
    let body = body_statements(p, "}")?;
    p.leave();
    p.expect_punct("}")?;
    Ok(Lambda { params, body })
}

/// Statements up to (not including) the closing `close`; the last one is the result.
pub(crate) fn body_statements(p: &mut Parser<'_>, close: &str) -> PResult<Vec<Statement>> {
    let mut body = Vec::new();
    loop {
        while p.eat_punct(";") {}
        if p.peek().is_punct(close) {
            break;
        }
        body.push(statement(p)?);
        if !p.peek().is_punct(";") && !p.peek().is_punct(close) {
            let t = p.peek().clone();
            return Err(p.unexpected(&t, &format!("';' or '{close}'")));
        }
    }
    if body.is_empty() {
        return Err(p.error_here("A function body needs an expression"));
    }
    Ok(body)
}

/// `name:type [= default], ...)` — consumes the closing parenthesis.
pub(crate) fn params_until_close(p: &mut Parser<'_>) -> PResult<Vec<Param>> {
    let mut params = Vec::new();
    if p.eat_punct(")") {
        return Ok(params);
    }
    loop {
        let name = p.ident()?;
        p.expect_punct(":")?;
        let ty = if p.peek().is_punct("(") {
            p.bump();
            let mut columns = Vec::new();
            let mut any = false;
            if !p.eat_punct(")") {
                loop {
                    if p.eat_punct("*") {
                        any = true;
                    } else {
                        columns.push(column_decl(p)?);
                    }
                    if p.eat_punct(")") {
                        break;
                    }
                    p.expect_punct(",")?;
                }
            }
            ParamType::Tabular { columns, any }
        } else {
            ParamType::Scalar(type_name(p)?)
        };
        let default = if p.eat_punct("=") {
            Some(expr_no_pipe(p)?)
        } else {
            None
        };
        params.push(Param { name, ty, default });
        if p.eat_punct(")") {
            break;
        }
        p.expect_punct(",")?;
    }
    Ok(params)
}

/// A type name (`long`, `datetime`, ...). `datetime`/`timespan` are plain identifiers here.
pub(crate) fn type_name(p: &mut Parser<'_>) -> PResult<Ident> {
    let t = p.peek().clone();
    match &t.kind {
        TokenKind::Ident(s) => {
            p.bump();
            Ok(Ident::new(s.clone(), t.span))
        }
        _ => Err(p.unexpected(&t, "a type name")),
    }
}

/// `name:type`.
pub(crate) fn column_decl(p: &mut Parser<'_>) -> PResult<ColumnDecl> {
    let name = p.ident()?;
    p.expect_punct(":")?;
    let ty = type_name(p)?;
    Ok(ColumnDecl { name, ty })
}

/// Items separated by commas up to `close` (consumed).
pub(crate) fn comma_list_until<T>(
    p: &mut Parser<'_>,
    close: &str,
    mut item: impl FnMut(&mut Parser<'_>) -> PResult<T>,
) -> PResult<Vec<T>> {
    let mut items = Vec::new();
    if p.eat_punct(close) {
        return Ok(items);
    }
    loop {
        items.push(item(p)?);
        if p.eat_punct(close) {
            break;
        }
        p.expect_punct(",")?;
    }
    Ok(items)
}

/// An expression, including pipelines: `T | where x > 1 | count`.
pub(crate) fn expr(p: &mut Parser<'_>) -> PResult<Expr> {
    p.enter()?;
    let r = pipeline(p);
    p.leave();
    r
}

fn pipeline(p: &mut Parser<'_>) -> PResult<Expr> {
    let mut e = expr_no_pipe(p)?;
    while p.peek().is_punct("|") {
        p.bump();
        let op = operator::operator(p)?;
        let span = e.span().to(p.prev_span());
        e = Expr::new(
            ExprKind::Pipe {
                input: Box::new(e),
                op: Box::new(op),
            },
            span,
        );
    }
    Ok(e)
}

/// An expression without a trailing pipeline (list items, operator arguments).
pub(crate) fn expr_no_pipe(p: &mut Parser<'_>) -> PResult<Expr> {
    p.enter()?;
    let r = binary(p, 0);
    p.leave();
    r
}

/// Binding power of the infix operator at the cursor and how many tokens it spans.
fn infix(p: &Parser<'_>) -> Option<(u8, Infix, usize)> {
    let t = p.peek();
    let r = match &t.kind {
        TokenKind::Ident(w) => match w.as_str() {
            "or" => (1, Infix::Bin(BinaryOp::Or), 1),
            "and" => (2, Infix::Bin(BinaryOp::And), 1),
            "in" => {
                if p.peek_at(1).is_punct("~") && p.adjacent(1) {
                    (3, Infix::List(ListOp::InCi), 2)
                } else if p.peek_at(1).is_punct("(") {
                    (3, Infix::List(ListOp::In), 1)
                } else {
                    return None;
                }
            }
            "has_any" if p.peek_at(1).is_punct("(") => (3, Infix::List(ListOp::HasAny), 1),
            "has_all" if p.peek_at(1).is_punct("(") => (3, Infix::List(ListOp::HasAll), 1),
            "between" if p.peek_at(1).is_punct("(") => (3, Infix::Between(false), 1),
            "matches" if p.peek_at(1).is_kw("regex") => (3, Infix::Bin(BinaryOp::MatchesRegex), 2),
            w => match BinaryOp::from_word(w, false) {
                Some(op) => (3, Infix::Bin(op), 1),
                None => return None,
            },
        },
        TokenKind::Punct(s) => match *s {
            "==" => (3, Infix::Bin(BinaryOp::Eq), 1),
            "!=" | "<>" => (3, Infix::Bin(BinaryOp::NotEq), 1),
            "<" => (3, Infix::Bin(BinaryOp::Lt), 1),
            "<=" => (3, Infix::Bin(BinaryOp::LtEq), 1),
            ">" => (3, Infix::Bin(BinaryOp::Gt), 1),
            ">=" => (3, Infix::Bin(BinaryOp::GtEq), 1),
            "=~" => (3, Infix::Bin(BinaryOp::EqTilde), 1),
            "!~" => (3, Infix::Bin(BinaryOp::NotTilde), 1),
            "+" => (4, Infix::Bin(BinaryOp::Add), 1),
            "-" => (4, Infix::Bin(BinaryOp::Sub), 1),
            "*" => (5, Infix::Bin(BinaryOp::Mul), 1),
            "/" => (5, Infix::Bin(BinaryOp::Div), 1),
            "%" => (5, Infix::Bin(BinaryOp::Mod), 1),
            "!" if p.adjacent(1) => {
                let w = p.peek_at(1).ident()?;
                match w {
                    "in" => {
                        if p.peek_at(2).is_punct("~") && p.adjacent(2) {
                            (3, Infix::List(ListOp::NotInCi), 3)
                        } else {
                            (3, Infix::List(ListOp::NotIn), 2)
                        }
                    }
                    "between" => (3, Infix::Between(true), 2),
                    w => (3, Infix::Bin(BinaryOp::from_word(w, true)?), 2),
                }
            }
            _ => return None,
        },
        _ => return None,
    };
    Some(r)
}

#[derive(Clone, Copy)]
enum Infix {
    Bin(BinaryOp),
    List(ListOp),
    Between(bool),
}

fn binary(p: &mut Parser<'_>, min_bp: u8) -> PResult<Expr> {
    let mut left = unary(p)?;
    while let Some((bp, op, ntok)) = infix(p) {
        if bp <= min_bp {
            break;
        }
        for _ in 0..ntok {
            p.bump();
        }
        p.enter()?;
        left = match op {
            Infix::Bin(op) => {
                let right = binary(p, bp)?;
                let span = left.span().to(right.span());
                Expr::new(
                    ExprKind::Binary {
                        op,
                        left: Box::new(left),
                        right: Box::new(right),
                    },
                    span,
                )
            }
            Infix::List(op) => {
                p.expect_punct("(")?;
                let items = comma_list_until(p, ")", expr)?;
                if items.is_empty() {
                    return Err(Diagnostic::syntax(
                        "KS005",
                        p.prev_span(),
                        "Expected at least one value in the list",
                    ));
                }
                let span = left.span().to(p.prev_span());
                Expr::new(
                    ExprKind::List {
                        op,
                        expr: Box::new(left),
                        items,
                    },
                    span,
                )
            }
            Infix::Between(negated) => {
                p.expect_punct("(")?;
                let low = binary(p, 3)?;
                p.expect_punct("..")?;
                let high = binary(p, 3)?;
                p.expect_punct(")")?;
                let span = left.span().to(p.prev_span());
                Expr::new(
                    ExprKind::Between {
                        negated,
                        expr: Box::new(left),
                        low: Box::new(low),
                        high: Box::new(high),
                    },
                    span,
                )
            }
        };
        p.leave();
    }
    Ok(left)
}

fn unary(p: &mut Parser<'_>) -> PResult<Expr> {
    let t = p.peek().clone();
    let op = if t.is_punct("-") {
        Some(UnaryOp::Neg)
    } else if t.is_punct("+") {
        Some(UnaryOp::Plus)
    } else {
        None
    };
    if let Some(op) = op {
        p.bump();
        if p.peek().is_punct("-") || p.peek().is_punct("+") {
            let t = p.peek().clone();
            return Err(p.unexpected(&t, "an expression"));
        }
        p.enter()?;
        let e = unary(p)?;
        p.leave();
        let span = t.span.to(e.span());
        return Ok(Expr::new(
            ExprKind::Unary {
                op,
                expr: Box::new(e),
            },
            span,
        ));
    }
    postfix(p)
}

fn postfix(p: &mut Parser<'_>) -> PResult<Expr> {
    let mut e = primary(p)?;
    loop {
        if p.peek().is_punct(".") && !p.peek_at(1).is_punct(".") {
            p.bump();
            let name = p.ident()?;
            if p.peek().is_punct("(") {
                p.bump();
                let args = comma_list_until(p, ")", call_arg)?;
                let span = e.span().to(p.prev_span());
                e = Expr::new(
                    ExprKind::MethodCall {
                        expr: Box::new(e),
                        name,
                        args,
                    },
                    span,
                );
            } else {
                let span = e.span().to(name.span.0);
                e = Expr::new(
                    ExprKind::Member {
                        expr: Box::new(e),
                        name,
                    },
                    span,
                );
            }
        } else if p.peek().is_punct("[") {
            p.bump();
            let index = expr(p)?;
            p.expect_punct("]")?;
            let span = e.span().to(p.prev_span());
            e = Expr::new(
                ExprKind::Index {
                    expr: Box::new(e),
                    index: Box::new(index),
                },
                span,
            );
        } else {
            break;
        }
    }
    Ok(e)
}

/// A function argument: `name = value` or an expression.
pub(crate) fn call_arg(p: &mut Parser<'_>) -> PResult<Expr> {
    if p.peek().ident().is_some() && p.peek_at(1).is_punct("=") {
        let name = p.ident()?;
        p.bump();
        let value = expr(p)?;
        let span = name.span.0.to(value.span());
        return Ok(Expr::new(
            ExprKind::NamedArg {
                name,
                value: Box::new(value),
            },
            span,
        ));
    }
    if p.peek().is_punct("*") && (p.peek_at(1).is_punct(",") || p.peek_at(1).is_punct(")")) {
        let t = p.bump();
        return Ok(Expr::new(ExprKind::Star, t.span));
    }
    expr(p)
}

const SCALAR_TYPE_WORDS: &[&str] = &[
    "bool", "boolean", "int", "long", "real", "double", "decimal",
];

fn primary(p: &mut Parser<'_>) -> PResult<Expr> {
    let t = p.peek().clone();
    let start = t.span;
    match &t.kind {
        TokenKind::Long(s) => {
            p.bump();
            Ok(Expr::new(
                ExprKind::Literal(Literal::Long(s.clone())),
                start,
            ))
        }
        TokenKind::Real(s) => {
            p.bump();
            Ok(Expr::new(
                ExprKind::Literal(Literal::Real(s.clone())),
                start,
            ))
        }
        TokenKind::TimeSpan(s) => {
            p.bump();
            Ok(Expr::new(
                ExprKind::Literal(Literal::TimeSpan(s.clone())),
                start,
            ))
        }
        TokenKind::Str { .. } => {
            let lit = string_literal(p)?;
            Ok(Expr::new(ExprKind::Literal(lit), start.to(p.prev_span())))
        }
        TokenKind::TypedRaw { ty, raw } => {
            p.bump();
            Ok(Expr::new(
                ExprKind::Literal(Literal::TypedRaw {
                    ty: ty.clone(),
                    raw: raw.clone(),
                }),
                start,
            ))
        }
        TokenKind::Punct("(") => {
            p.bump();
            let inner = expr(p)?;
            p.expect_punct(")")?;
            Ok(Expr::new(
                ExprKind::Paren(Box::new(inner)),
                start.to(p.prev_span()),
            ))
        }
        TokenKind::Punct("[") if p.at_ident() => {
            let id = p.ident()?;
            name_or_call(p, id)
        }
        TokenKind::Punct("*") => {
            p.bump();
            Ok(Expr::new(ExprKind::Star, start))
        }
        TokenKind::Ident(w) => {
            let w = w.clone();
            match w.as_str() {
                "true" | "false" if !p.peek_at(1).is_punct("(") => {
                    p.bump();
                    Ok(Expr::new(
                        ExprKind::Literal(Literal::Bool(w == "true")),
                        start,
                    ))
                }
                "null" if !p.peek_at(1).is_punct("(") => {
                    p.bump();
                    Ok(Expr::new(ExprKind::Literal(Literal::Null), start))
                }
                "dynamic" if p.peek_at(1).is_punct("(") => {
                    p.bump();
                    p.bump();
                    let d = if p.peek().is_punct(")") {
                        return Err(p.error_here("Expected a dynamic value"));
                    } else {
                        dynamic_value(p)?
                    };
                    p.expect_punct(")")?;
                    Ok(Expr::new(
                        ExprKind::Literal(Literal::Dynamic(d)),
                        start.to(p.prev_span()),
                    ))
                }
                _ if SCALAR_TYPE_WORDS.contains(&w.as_str()) && p.peek_at(1).is_punct("(") => {
                    typed_literal(p, &w)
                }
                "string" | "dynamic" | "uniqueid" if p.peek_at(1).is_punct("(") => Err(
                    Diagnostic::syntax("KS010", start, format!("'{w}(...)' is not a literal")),
                ),
                "typeof" if p.peek_at(1).is_punct("(") => typeof_expr(p),
                "materialize" if p.peek_at(1).is_punct("(") && !p.allow_materialize => {
                    Err(Diagnostic::syntax(
                        "KS011",
                        start,
                        "materialize() can only be used as the value of a let statement",
                    ))
                }
                "toscalar" | "totable"
                    if p.peek_at(1).is_kw("kind") && p.peek_at(2).is_punct("=") =>
                {
                    let name = p.ident()?;
                    let kind = p.ident()?;
                    p.bump();
                    let value = param_value(p)?;
                    let span = kind.span.0.to(value.span());
                    let named = Expr::new(
                        ExprKind::NamedArg {
                            name: kind,
                            value: Box::new(value),
                        },
                        span,
                    );
                    p.expect_punct("(")?;
                    let arg = expr(p)?;
                    p.expect_punct(")")?;
                    let span = name.span.0.to(p.prev_span());
                    Ok(Expr::new(
                        ExprKind::Call {
                            name,
                            args: vec![named, arg],
                        },
                        span,
                    ))
                }
                "entity_group" if p.peek_at(1).is_punct("[") => {
                    let name = p.ident()?;
                    p.bump();
                    let args = comma_list_until(p, "]", expr)?;
                    let span = name.span.0.to(p.prev_span());
                    Ok(Expr::new(ExprKind::Call { name, args }, span))
                }
                _ => {
                    if let Some(src) = operator::source(p)? {
                        return Ok(src);
                    }
                    let id = p.ident()?;
                    name_or_call(p, id)
                }
            }
        }
        _ => Err(p.unexpected(&t, "an expression")),
    }
}

fn name_or_call(p: &mut Parser<'_>, name: Ident) -> PResult<Expr> {
    p.allow_materialize = false;
    if p.peek().is_punct("(") {
        p.bump();
        let args = comma_list_until(p, ")", call_arg)?;
        let span = name.span.0.to(p.prev_span());
        Ok(Expr::new(ExprKind::Call { name, args }, span))
    } else if p.search_terms && p.peek().is_punct(":") {
        // `search Column:"term"`: the internal call `__search_column(Column, "term")`.
        p.bump();
        let term = unary(p)?;
        let span = name.span.0.to(p.prev_span());
        let col = Expr::new(ExprKind::Name(name), span);
        Ok(Expr::new(
            ExprKind::Call {
                name: Ident::new(SEARCH_COLUMN, span),
                args: vec![col, term],
            },
            span,
        ))
    } else {
        let span = name.span.0;
        Ok(Expr::new(ExprKind::Name(name), span))
    }
}

/// One or more adjacent string literals, concatenated ([`string_value`]); obfuscated when
/// any piece is (`"visible" h'secret'`).
pub(crate) fn string_literal(p: &mut Parser<'_>) -> PResult<Literal> {
    let (value, obfuscated, _) = string_pieces(p)?;
    Ok(Literal::String { value, obfuscated })
}

/// One or more adjacent string literals at the cursor, concatenated as Kusto does
/// (`'a' "b"`, `"x" @'y' h'z'`, ```` ```multi``` ````; separated by nothing, blanks, newlines
/// or comments): the value and the span from the first piece to the last. An error when
/// the cursor is not at a string literal.
pub(crate) fn string_value(p: &mut Parser<'_>) -> PResult<(String, Span)> {
    let (value, _, span) = string_pieces(p)?;
    Ok((value, span))
}

fn string_pieces(p: &mut Parser<'_>) -> PResult<(String, bool, Span)> {
    let start = p.peek().span;
    let mut value = String::new();
    let mut obf = false;
    let mut any = false;
    while let TokenKind::Str {
        value: v,
        obfuscated,
    } = &p.peek().kind
    {
        value.push_str(v);
        obf |= *obfuscated;
        any = true;
        p.bump();
    }
    if !any {
        let t = p.peek().clone();
        return Err(p.unexpected(&t, "a string literal"));
    }
    Ok((value, obf, start.to(p.prev_span())))
}

fn typed_literal(p: &mut Parser<'_>, ty: &str) -> PResult<Expr> {
    let start = p.bump().span;
    p.bump(); // (
    let t = p.peek().clone();
    let mut value = String::new();
    if t.is_punct("+") || t.is_punct("-") {
        if let TokenKind::Punct(s) = t.kind {
            value.push_str(s);
        }
        p.bump();
    }
    let t = p.peek().clone();
    match &t.kind {
        TokenKind::Long(s) | TokenKind::Real(s) => value.push_str(s),
        TokenKind::Ident(s) => value.push_str(s),
        TokenKind::Str { value: v, .. } if ty == "string" => {
            value.push('"');
            for c in v.chars() {
                match c {
                    '"' => value.push_str("\\\""),
                    '\\' => value.push_str("\\\\"),
                    '\n' => value.push_str("\\n"),
                    c => value.push(c),
                }
            }
            value.push('"');
        }
        _ => return Err(p.unexpected(&t, "a literal value")),
    }
    p.bump();
    p.expect_punct(")")?;
    Ok(Expr::new(
        ExprKind::Literal(Literal::Typed {
            ty: ty.to_string(),
            value,
        }),
        start.to(p.prev_span()),
    ))
}

/// A value inside `dynamic(...)`: JSON with KQL literals.
fn dynamic_value(p: &mut Parser<'_>) -> PResult<Dynamic> {
    p.enter()?;
    let r = dynamic_inner(p);
    p.leave();
    r
}

fn dynamic_inner(p: &mut Parser<'_>) -> PResult<Dynamic> {
    let t = p.peek().clone();
    match &t.kind {
        TokenKind::Punct("[") => {
            p.bump();
            let items = comma_list_until(p, "]", dynamic_value)?;
            Ok(Dynamic::Array(items))
        }
        TokenKind::Punct("{") => {
            p.bump();
            let items = comma_list_until(p, "}", |p| {
                let t = p.peek().clone();
                let key = match &t.kind {
                    TokenKind::Str { value, .. } => value.clone(),
                    _ => return Err(p.unexpected(&t, "a quoted property name")),
                };
                p.bump();
                p.expect_punct(":")?;
                Ok((key, dynamic_value(p)?))
            })?;
            Ok(Dynamic::Object(items))
        }
        TokenKind::Punct("-") => {
            p.bump();
            Ok(Dynamic::Neg(Box::new(dynamic_value(p)?)))
        }
        TokenKind::Ident(w) if w == "null" => {
            p.bump();
            Ok(Dynamic::Null)
        }
        _ => {
            let e = primary(p)?;
            match e.kind {
                ExprKind::Literal(Literal::Dynamic(_)) => Err(Diagnostic::syntax(
                    "KS006",
                    e.span(),
                    "dynamic() cannot be nested",
                )),
                ExprKind::Literal(Literal::Null) => Ok(Dynamic::Null),
                ExprKind::Literal(l) => Ok(Dynamic::Scalar(Box::new(l))),
                _ => Err(Diagnostic::syntax(
                    "KS006",
                    e.span(),
                    "Expected a literal value in dynamic()",
                )),
            }
        }
    }
}

/// Parses `name = expr`, `(a, b) = expr` or `expr`.
pub(crate) fn named_expr(p: &mut Parser<'_>) -> PResult<NamedExpr> {
    if p.at_ident() && p.peek().ident().is_some() && p.peek_at(1).is_punct("=") {
        let name = p.ident()?;
        p.bump();
        let e = expr_no_pipe(p)?;
        return Ok(NamedExpr {
            names: vec![name],
            paren_names: false,
            expr: e,
        });
    }
    if p.peek().is_punct("[")
        && let Some(n) = p.ident_len()
        && p.peek_at(n).is_punct("=")
    {
        let name = p.ident()?;
        p.bump();
        let e = expr_no_pipe(p)?;
        return Ok(NamedExpr {
            names: vec![name],
            paren_names: false,
            expr: e,
        });
    }
    if p.peek().is_punct("(") && paren_names_ahead(p) {
        p.bump();
        let names = comma_list_until(p, ")", |p| p.ident())?;
        p.expect_punct("=")?;
        let e = expr_no_pipe(p)?;
        return Ok(NamedExpr {
            names,
            paren_names: true,
            expr: e,
        });
    }
    let e = expr_no_pipe(p)?;
    Ok(NamedExpr {
        names: Vec::new(),
        paren_names: false,
        expr: e,
    })
}

/// `(a, b, c) =` ahead?
fn paren_names_ahead(p: &Parser<'_>) -> bool {
    let mut i = 1;
    loop {
        if p.peek_at(i).ident().is_none() {
            return false;
        }
        i += 1;
        if p.peek_at(i).is_punct(")") {
            return p.peek_at(i + 1).is_punct("=") && !p.peek_at(i + 1).is_punct("==");
        }
        if !p.peek_at(i).is_punct(",") {
            return false;
        }
        i += 1;
        if i > 200 {
            return false;
        }
    }
}

/// `name=value` operator parameters: `kind=inner`, `hint.strategy=shuffle`, `withsource=T`.
pub(crate) fn op_params(p: &mut Parser<'_>, known: &[&str]) -> PResult<Vec<OpParam>> {
    let mut params = Vec::new();
    while let Some(w) = p.peek().ident() {
        // dotted names: hint.strategy
        let mut n = 1;
        let mut name = w.to_string();
        while p.peek_at(n).is_punct(".") && p.peek_at(n + 1).ident().is_some() {
            name.push('.');
            name.push_str(p.peek_at(n + 1).ident().unwrap_or_default());
            n += 2;
        }
        if !p.peek_at(n).is_punct("=") {
            break;
        }
        let is_known =
            known.contains(&name.as_str()) || name.starts_with("hint.") || name.starts_with("__");
        if !is_known {
            break;
        }
        for _ in 0..=n {
            p.bump();
        }
        let value = param_value(p)?;
        params.push(OpParam { name, value });
    }
    Ok(params)
}

/// A parameter value: a literal, identifier, or parenthesised list.
pub(crate) fn param_value(p: &mut Parser<'_>) -> PResult<Expr> {
    let t = p.peek().clone();
    match &t.kind {
        TokenKind::Ident(w) if w != "true" && w != "false" && w != "null" => {
            let id = p.ident()?;
            let span = id.span.0;
            Ok(Expr::new(ExprKind::Name(id), span))
        }
        _ => unary(p),
    }
}

/// The span from `start` to the previous token.
pub(crate) fn span_from(p: &Parser<'_>, start: Span) -> Span {
    start.to(p.prev_span())
}

/// `typeof(long)`, `typeof(*, a:long)`, `typeof(a:long, b:string)`.
fn typeof_expr(p: &mut Parser<'_>) -> PResult<Expr> {
    let start = p.bump().span;
    p.expect_punct("(")?;
    let mut columns = Vec::new();
    let mut star = false;
    let mut scalar = None;
    if p.peek().ident().is_some() && p.peek_at(1).is_punct(")") {
        scalar = Some(type_name(p)?);
        p.bump();
    } else {
        let mut first = true;
        loop {
            if p.eat_punct(")") {
                break;
            }
            if !first {
                p.expect_punct(",")?;
            }
            if first && p.eat_punct("*") {
                star = true;
            } else {
                columns.push(column_decl(p)?);
            }
            first = false;
        }
    }
    Ok(Expr::new(
        ExprKind::TypeOf {
            columns,
            star,
            scalar,
        },
        span_from(p, start),
    ))
}
