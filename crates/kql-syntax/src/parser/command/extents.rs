//! Extent commands: `.show ... extents`, `.drop extent(s)`, `.drop-pretend extents`,
//! `.alter[-merge] table T extent tags`, `.drop table T extent tags`, `.move extents`,
//! `.replace extents`.

use super::super::{PResult, Parser};
use super::{
    eat_word, expect_word, guid, name, name_list, peek_word, string, string_list, sub_query,
    with_props,
};
use crate::ast::*;
use crate::token::{Token, TokenKind};

pub(super) fn parse(p: &mut Parser<'_>, kind: &str, verb: &str) -> Option<PResult<CommandKind>> {
    let r = match kind {
        "ShowClusterExtents" | "ShowDatabaseExtents" | "ShowTableExtents" => {
            let r = show(p);
            // `metadata`, `with (...)`: forms Calypso does not read.
            if r.is_ok() && !at_end(p) {
                return None;
            }
            r
        }
        "DropExtent" => (|| {
            expect_word(p, "extent")?;
            let ids = vec![guid(p)?];
            let table = if eat_word(p, "from") {
                Some(name(p)?)
            } else {
                None
            };
            Ok(ExtentsCommand::DropIds { ids, table })
        })(),
        "DropExtents" | "DropPretendExtentsByProperties" => drop_extents(p, verb == "drop-pretend"),
        "AlterExtentTagsFromQuery" | "AlterMergeExtentTagsFromQuery" => (|| {
            let is_async = eat_word(p, "async");
            expect_word(p, "table")?;
            let table = name(p)?;
            expect_word(p, "extent")?;
            expect_word(p, "tags")?;
            let tags = string_list(p)?;
            let with = with_props(p)?;
            let source = source(p)?;
            Ok(ExtentsCommand::AlterTags {
                merge: verb == "alter-merge",
                is_async,
                table,
                tags,
                with,
                source,
            })
        })(),
        "DropExtentTagsFromQuery" | "DropExtentTagsFromTable" => (|| {
            let is_async = eat_word(p, "async");
            expect_word(p, "table")?;
            let table = name(p)?;
            expect_word(p, "extent")?;
            expect_word(p, "tags")?;
            let tags = if p.peek().is_punct("(") {
                string_list(p)?
            } else {
                Vec::new()
            };
            let with = with_props(p)?;
            let source = if p.peek().is_punct("<|") {
                Some(source(p)?)
            } else {
                None
            };
            Ok(ExtentsCommand::DropTags {
                is_async,
                table,
                tags,
                with,
                source,
            })
        })(),
        "MoveExtentsFrom" | "MoveExtentsQuery" => (|| {
            let is_async = eat_word(p, "async");
            expect_word(p, "extents")?;
            let all = eat_word(p, "all");
            let from = if eat_word(p, "from") {
                expect_word(p, "table")?;
                Some(name(p)?)
            } else {
                None
            };
            expect_word(p, "to")?;
            expect_word(p, "table")?;
            let to = name(p)?;
            let with = with_props(p)?;
            let mut ids = Vec::new();
            let mut src = None;
            if from.is_some() && !all {
                p.expect_punct("(")?;
                ids = super::super::expr::comma_list_until(p, ")", guid)?;
            } else if from.is_none() {
                src = Some(source(p)?);
            }
            Ok(ExtentsCommand::Move {
                is_async,
                from,
                to,
                ids,
                with,
                source: src,
            })
        })(),
        "ReplaceExtents" => (|| {
            let is_async = eat_word(p, "async");
            expect_word(p, "extents")?;
            expect_word(p, "in")?;
            expect_word(p, "table")?;
            let table = name(p)?;
            let with = with_props(p)?;
            p.expect_punct("<|")?;
            let drop = braced(p)?;
            p.expect_punct(",")?;
            let moved = braced(p)?;
            Ok(ExtentsCommand::Replace {
                is_async,
                table,
                with,
                drop,
                moved,
            })
        })(),
        _ => return None,
    };
    Some(r.map(CommandKind::Extents))
}

fn at_end(p: &Parser<'_>) -> bool {
    p.at_eof() || p.peek().is_punct("|")
}

/// `.show cluster extents`, `.show database [D] extents`, `.show table T extents`,
/// `.show tables (A, B) extents`, each with optional extent ids, `hot` (every extent is
/// hot) and `where tags ...` filters.
fn show(p: &mut Parser<'_>) -> PResult<ExtentsCommand> {
    let scope = if eat_word(p, "cluster") {
        ExtentsScope::Cluster
    } else if eat_word(p, "databases") {
        ExtentsScope::Databases(name_list(p)?)
    } else if eat_word(p, "database") {
        if peek_word(p).is_some_and(|(w, _)| w == "extents") {
            ExtentsScope::Database(None)
        } else {
            ExtentsScope::Database(Some(name(p)?))
        }
    } else if eat_word(p, "tables") {
        ExtentsScope::Tables(name_list(p)?)
    } else {
        expect_word(p, "table")?;
        ExtentsScope::Tables(vec![name(p)?])
    };
    expect_word(p, "extents")?;
    let mut ids = Vec::new();
    if p.eat_punct("(") {
        ids = super::super::expr::comma_list_until(p, ")", guid)?;
    }
    eat_word(p, "hot");
    let mut tags = Vec::new();
    if p.peek().is_kw("where") {
        p.bump();
        loop {
            expect_word(p, "tags")?;
            let negated = p.eat_punct("!");
            let test = match (negated, peek_word(p)) {
                (false, Some((w, _))) if w == "has" => TagTest::Has,
                (true, Some((w, _))) if w == "has" => TagTest::NotHas,
                (false, Some((w, _))) if w == "contains" => TagTest::Contains,
                (true, Some((w, _))) if w == "contains" => TagTest::NotContains,
                _ => {
                    let t = p.peek().clone();
                    return Err(p.unexpected(&t, "'has', 'contains', '!has' or '!contains'"));
                }
            };
            p.bump();
            let tag = string(p)?;
            tags.push(TagFilter { test, tag });
            if !(p.peek().is_kw("and") && p.peek_at(1).is_kw("tags")) {
                break;
            }
            p.bump();
        }
    }
    Ok(ExtentsCommand::Show { scope, ids, tags })
}

/// After `.drop extents` / `.drop-pretend extents`.
fn drop_extents(p: &mut Parser<'_>, pretend: bool) -> PResult<ExtentsCommand> {
    expect_word(p, "extents")?;
    if !pretend {
        if p.eat_punct("(") {
            let ids = super::super::expr::comma_list_until(p, ")", guid)?;
            let table = if eat_word(p, "from") {
                Some(name(p)?)
            } else {
                None
            };
            return Ok(ExtentsCommand::DropIds { ids, table });
        }
        let whatif = eat_word(p, "whatif");
        if whatif || p.peek().is_punct("<|") {
            return Ok(ExtentsCommand::DropFrom {
                whatif,
                source: source(p)?,
            });
        }
    }
    let older = if eat_word(p, "older") {
        let t = p.peek().clone();
        let n = match &t.kind {
            TokenKind::Long(n) => n.parse::<i64>().ok(),
            _ => None,
        };
        let Some(n) = n else {
            return Err(p.unexpected(&t, "a number of days or hours"));
        };
        p.bump();
        let unit = if eat_word(p, "days") {
            AgeUnit::Days
        } else {
            expect_word(p, "hours")?;
            AgeUnit::Hours
        };
        Some((n, unit))
    } else {
        None
    };
    expect_word(p, "from")?;
    let table = if p.peek().is_kw("all") && p.peek_at(1).is_kw("tables") {
        p.pos += 2;
        None
    } else {
        Some(name(p)?)
    };
    let trim = if eat_word(p, "trim") {
        Some(trim_by(p)?)
    } else {
        None
    };
    let limit = if eat_word(p, "limit") {
        let t = p.peek().clone();
        match &t.kind {
            TokenKind::Long(n) if n.parse::<u64>().is_ok() => {
                p.bump();
                n.parse::<u64>().ok()
            }
            _ => return Err(p.unexpected(&t, "a limit")),
        }
    } else {
        None
    };
    Ok(ExtentsCommand::DropByAge {
        older,
        table,
        limit,
        trim,
        pretend,
    })
}

/// `by extentsize|datasize N MB|GB|bytes` (after `trim`).
fn trim_by(p: &mut Parser<'_>) -> PResult<Trim> {
    expect_word(p, "by")?;
    let by = if eat_word(p, "extentsize") {
        TrimBy::ExtentSize
    } else {
        expect_word(p, "datasize")?;
        TrimBy::DataSize
    };
    let t = p.peek().clone();
    let n = match &t.kind {
        TokenKind::Long(n) => n.parse::<u64>().ok(),
        _ => None,
    };
    let Some(n) = n else {
        return Err(p.unexpected(&t, "a size"));
    };
    p.bump();
    let unit: u64 = if eat_word(p, "MB") {
        1 << 20
    } else if eat_word(p, "GB") {
        1 << 30
    } else {
        expect_word(p, "bytes")?;
        1
    };
    Ok(Trim {
        by,
        bytes: n.saturating_mul(unit),
    })
}

/// `<| query` or `<| .command ...`, to the end of the text.
fn source(p: &mut Parser<'_>) -> PResult<ExtentSource> {
    p.expect_punct("<|")?;
    if p.peek().is_punct(".") {
        let cmd = super::command(p)?;
        return Ok(ExtentSource::Command(Box::new(cmd)));
    }
    Ok(ExtentSource::Query(Box::new(sub_query(p)?)))
}

/// `{ query }` or `{ .command ... }` (of `.replace extents`).
fn braced(p: &mut Parser<'_>) -> PResult<ExtentSource> {
    let open = p.expect_punct("{")?;
    let start = p.pos;
    let mut depth = 1usize;
    let mut end = start;
    while end < p.tokens.len() {
        let t = &p.tokens[end];
        if matches!(t.kind, TokenKind::Eof) {
            break;
        }
        if t.is_punct("{") {
            depth += 1;
        } else if t.is_punct("}") {
            depth -= 1;
            if depth == 0 {
                break;
            }
        }
        end += 1;
    }
    if depth != 0 {
        return Err(crate::Diagnostic::syntax(
            "KS002",
            open,
            "The '{' of this part of '.replace extents' has no matching '}'",
        ));
    }
    let close = p.tokens[end].span;
    let mut tokens: Vec<Token> = p.tokens[start..end].to_vec();
    tokens.push(Token {
        kind: TokenKind::Eof,
        span: crate::Span::new(close.start as usize, close.start as usize),
    });
    let mut inner = Parser {
        text: p.text,
        tokens,
        pos: 0,
        depth: p.depth,
        inline_data: None,
        allow_materialize: false,
        search_terms: false,
    };
    let src = if inner.peek().is_punct(".") {
        ExtentSource::Command(Box::new(super::command(&mut inner)?))
    } else {
        ExtentSource::Query(Box::new(sub_query(&mut inner)?))
    };
    if !inner.at_eof() {
        let t = inner.peek().clone();
        return Err(inner.unexpected(&t, "'}'"));
    }
    p.pos = end + 1;
    Ok(src)
}
