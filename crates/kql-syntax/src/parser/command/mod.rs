//! Control (dot) commands. The pattern table ([`crate::command::kinds`]) names the command's
//! official kind and where it ends; the family parsers (one module each) then read the
//! kinds they know into the typed AST ([`crate::command::ast`]). A kind no family reads is
//! [`CommandKind::Unsupported`]; a text no pattern matches is a syntax error.

mod database;
mod dm;
mod extents;
mod function;
mod ingest;
mod mapping;
mod operations;
mod policy;
mod security;
mod table;

use super::expr::span_from;
use super::{PResult, Parser};
use crate::ast::*;
use crate::command::kinds::{CTok, KindTable, command_tokens};
use crate::token::TokenKind;

/// `.word ...` — the cursor is at the `.`.
pub(crate) fn command(p: &mut Parser<'_>) -> PResult<Command> {
    if let Some(dm) = dm::command(p) {
        return dm;
    }
    let start = p.peek().span;
    let start_tok = p.pos;
    let (name, end_tok) = recognize(p)?;
    p.bump(); // .
    let Some((verb, _)) = p.hyphenated_word() else {
        let t = p.peek().clone();
        return Err(p.unexpected(&t, "a command name"));
    };
    let after_verb = p.pos;
    let mut kind = None;
    for family in [
        database::parse,
        table::parse,
        function::parse,
        policy::parse,
        mapping::parse,
        security::parse,
        ingest::parse,
        extents::parse,
        operations::parse,
    ] {
        p.pos = after_verb;
        if let Some(k) = family(p, name, &verb) {
            kind = Some(k?);
            break;
        }
    }
    let kind = match kind {
        Some(k) => {
            if p.pos < end_tok {
                let t = p.peek().clone();
                return Err(p.unexpected(&t, "the end of the command"));
            }
            k
        }
        None => {
            p.pos = end_tok;
            CommandKind::Unsupported {
                text: p.text_of(start_tok, end_tok),
            }
        }
    };
    let text = command_text(p, start_tok);
    let mut pipe = Vec::new();
    while p.eat_punct("|") {
        pipe.push(super::operator::operator(p)?);
    }
    Ok(Command {
        name,
        text,
        kind,
        pipe,
        span: NodeSpan(span_from(p, start)),
    })
}

/// The command's text before any piped operators (with `<| data` of `.ingest inline`).
fn command_text(p: &Parser<'_>, start_tok: usize) -> String {
    let head = p.text_of(start_tok, p.pos);
    match &p.inline_data {
        Some(data) if p.at_eof() => format!("{head} <| {data}"),
        _ => head,
    }
}

/// The kind of the command at the cursor and the token index where it ends (a top-level
/// `|`, or the end of the text).
fn recognize(p: &Parser<'_>) -> PResult<(&'static str, usize)> {
    let rest = &p.tokens[p.pos..];
    let ctoks = command_tokens(rest);
    let mut seen: Vec<CTok> = ctoks.iter().map(|(t, _)| t.clone()).collect();
    let inline = p.inline_data.is_some();
    if inline {
        seen.extend([CTok::Punct("<|"), CTok::Literal]);
    }
    let Some((kind, end)) = KindTable::global().recognize(&seen) else {
        let t = p.peek_at(1).clone();
        let word = &p.text[t.span.start as usize..t.span.end as usize];
        return Err(crate::Diagnostic::syntax(
            "KS002",
            p.peek().span.to(t.span),
            format!("Unknown or malformed control command '.{word} ...'"),
        ));
    };
    let end_tok = match ctoks.get(end) {
        Some((_, i)) => p.pos + i,
        None => p.tokens.len().saturating_sub(1),
    };
    Ok((kind, end_tok))
}

// ---- shared pieces of the family parsers ------------------------------------------

/// The word at the cursor, hyphenated pieces joined (`based-on`), and its token count.
pub(super) fn peek_word(p: &Parser<'_>) -> Option<(String, usize)> {
    let first = p.peek().ident()?;
    let mut word = first.to_string();
    let mut n = 1;
    while p.peek_at(n).is_punct("-")
        && p.adjacent(n)
        && p.adjacent(n + 1)
        && p.peek_at(n + 1).ident().is_some()
    {
        word.push('-');
        word.push_str(p.peek_at(n + 1).ident().unwrap_or_default());
        n += 2;
    }
    Some((word, n))
}

/// Whether the word at the cursor is `w` (hyphenated words included).
pub(super) fn at_word(p: &Parser<'_>, w: &str) -> bool {
    peek_word(p).is_some_and(|(x, _)| x == w)
}

/// Consumes the word `w` if it is at the cursor.
pub(super) fn eat_word(p: &mut Parser<'_>, w: &str) -> bool {
    match peek_word(p) {
        Some((x, n)) if x == w => {
            p.pos += n;
            true
        }
        _ => false,
    }
}

/// Consumes the word `w` or fails.
pub(super) fn expect_word(p: &mut Parser<'_>, w: &str) -> PResult<()> {
    if eat_word(p, w) {
        Ok(())
    } else {
        let t = p.peek().clone();
        Err(p.unexpected(&t, &format!("'{w}'")))
    }
}

/// Any word (keywords included) as the next entity name, or `['x']`.
pub(super) fn name(p: &mut Parser<'_>) -> PResult<Ident> {
    p.ident()
}

/// `a.b.c`: a name with dotted parts.
pub(super) fn qname(p: &mut Parser<'_>) -> PResult<QName> {
    let mut parts = vec![name(p)?];
    while p.peek().is_punct(".") && {
        let t = p.peek_at(1);
        t.ident().is_some() || t.is_punct("[")
    } {
        p.bump();
        parts.push(name(p)?);
    }
    Ok(QName { parts })
}

/// `(a, b, ...)`.
pub(super) fn name_list(p: &mut Parser<'_>) -> PResult<Vec<Ident>> {
    p.expect_punct("(")?;
    super::expr::comma_list_until(p, ")", name)
}

/// One or more adjacent string literals, concatenated.
pub(super) fn string(p: &mut Parser<'_>) -> PResult<String> {
    let mut out = String::new();
    let mut any = false;
    while let TokenKind::Str { value, .. } = &p.peek().kind {
        out.push_str(value);
        any = true;
        p.bump();
    }
    if !any {
        let t = p.peek().clone();
        return Err(p.unexpected(&t, "a string literal"));
    }
    Ok(out)
}

/// Exactly one string literal (a name followed by another literal, as in `mapping "name"
/// '[...]'`).
pub(super) fn single_string(p: &mut Parser<'_>) -> PResult<String> {
    let t = p.peek().clone();
    match &t.kind {
        TokenKind::Str { value, .. } => {
            p.bump();
            Ok(value.clone())
        }
        _ => Err(p.unexpected(&t, "a string literal")),
    }
}

/// Whether a string literal is at the cursor.
pub(super) fn at_string(p: &Parser<'_>) -> bool {
    matches!(p.peek().kind, TokenKind::Str { .. })
}

/// `(s1, s2, ...)` of strings.
pub(super) fn string_list(p: &mut Parser<'_>) -> PResult<Vec<String>> {
    p.expect_punct("(")?;
    super::expr::comma_list_until(p, ")", string)
}

/// One literal value as written (number, timespan, bool, `datetime(...)`), a word, or a
/// string (decoded).
pub(super) fn value(p: &mut Parser<'_>) -> PResult<PropValue> {
    let t = p.peek().clone();
    let raw = |p: &Parser<'_>| p.text[t.span.start as usize..t.span.end as usize].to_string();
    let v = match &t.kind {
        TokenKind::Str { .. } => return Ok(PropValue::Str(string(p)?)),
        TokenKind::Ident(w) => PropValue::Word(w.clone()),
        TokenKind::Punct("-")
            if matches!(p.peek_at(1).kind, TokenKind::Long(_) | TokenKind::Real(_)) =>
        {
            p.bump();
            let n = p.bump();
            return Ok(PropValue::Literal(format!(
                "-{}",
                &p.text[n.span.start as usize..n.span.end as usize]
            )));
        }
        TokenKind::Long(_)
        | TokenKind::Real(_)
        | TokenKind::TimeSpan(_)
        | TokenKind::TypedRaw { .. } => PropValue::Literal(raw(p)),
        TokenKind::Punct("(") => {
            p.bump();
            return Ok(PropValue::List(super::expr::comma_list_until(
                p, ")", value,
            )?));
        }
        TokenKind::Punct("[") if p.at_ident() => return Ok(PropValue::Word(p.ident()?.name)),
        _ => return Err(p.unexpected(&t, "a value")),
    };
    p.bump();
    Ok(v)
}

/// `with (name = value, ...)` or nothing.
pub(super) fn with_props(p: &mut Parser<'_>) -> PResult<Vec<Property>> {
    if !p.peek().is_kw("with") || !p.peek_at(1).is_punct("(") {
        return Ok(Vec::new());
    }
    p.bump();
    props(p)
}

/// `(name = value, ...)`.
pub(super) fn props(p: &mut Parser<'_>) -> PResult<Vec<Property>> {
    p.expect_punct("(")?;
    super::expr::comma_list_until(p, ")", |p| {
        let (word, n) = peek_word(p).ok_or_else(|| {
            let t = p.peek().clone();
            p.unexpected(&t, "a property name")
        })?;
        p.pos += n;
        p.expect_punct("=")?;
        Ok(Property {
            name: word,
            value: value(p)?,
        })
    })
}

/// The query after `<|`: statements to the end of the text.
pub(super) fn sub_query(p: &mut Parser<'_>) -> PResult<Query> {
    let mut statements = Vec::new();
    loop {
        while p.eat_punct(";") {}
        if p.at_eof() {
            break;
        }
        if statements.is_empty()
            && !p.peek().is_kw("let")
            && !p.peek().is_kw("declare")
            && !p.peek().is_kw("set")
        {
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

/// A guid: bare (`0b1e6b5e-...`, several tokens), `guid(...)` or a string.
pub(super) fn guid(p: &mut Parser<'_>) -> PResult<String> {
    let t = p.peek().clone();
    match &t.kind {
        TokenKind::Str { .. } => string(p),
        TokenKind::TypedRaw { raw, .. } => {
            p.bump();
            Ok(raw.clone())
        }
        _ => {
            let start = t.span.start;
            let mut end = t.span.end;
            p.bump();
            while !p.at_eof() && p.prev_span().end == p.peek().span.start {
                end = p.peek().span.end;
                p.bump();
            }
            let text = &p.text[start as usize..end as usize];
            let groups: Vec<usize> = text.split('-').map(str::len).collect();
            if groups != [8, 4, 4, 4, 12]
                || !text.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
            {
                return Err(crate::Diagnostic::syntax(
                    "KS002",
                    crate::Span::new(start as usize, end as usize),
                    format!("Expected a guid, found '{text}'"),
                ));
            }
            Ok(text.to_string())
        }
    }
}
