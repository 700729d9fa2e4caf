//! Operations and monitoring (`.show queries`, `.cancel query`, `.show operations`,
//! `.show journal`, ...), cluster information, extents and caches.

use super::super::{PResult, Parser};
use super::{eat_word, expect_word, name, name_list, peek_word, string, with_props};
use crate::ast::*;
use crate::token::TokenKind;

pub(super) fn parse(p: &mut Parser<'_>, kind: &str, _verb: &str) -> Option<PResult<CommandKind>> {
    use OperationsCommand as O;
    let simple = |words: &'static [&'static str], cmd: OperationsCommand| -> Option<_> {
        Some((words, cmd))
    };
    let plain = match kind {
        "ShowQueries" => simple(&["queries"], O::ShowQueries { running: false }),
        "ShowRunningQueries" => simple(&["running", "queries"], O::ShowQueries { running: true }),
        "ShowCommands" => simple(&["commands"], O::ShowCommands),
        "ShowCommandsAndQueries" => simple(&["commands-and-queries"], O::ShowCommandsAndQueries),
        "ShowJournal" => simple(&["journal"], O::ShowJournal { database: None }),
        "ShowDiagnostics" => simple(&["diagnostics"], O::ShowDiagnostics),
        "ShowCapacity" => simple(&["capacity"], O::ShowCapacity),
        "ShowCluster" => simple(&["cluster"], O::ShowCluster),
        "ShowVersion" => simple(&["version"], O::ShowVersion),
        "ShowMaterializedViews" => simple(&["materialized-views"], O::ShowMaterializedViews),
        "ShowEntityGroups" => simple(&["entity_groups"], O::ShowEntityGroups),
        "ShowExternalTables" => simple(&["external", "tables"], O::ShowExternalTables),
        _ => None,
    };
    if let Some((words, cmd)) = plain {
        let r = (|| {
            for w in words {
                expect_word(p, w)?;
            }
            Ok(CommandKind::Operations(cmd))
        })();
        // Options Calypso does not read (`with (...)`, scope words) make it Unsupported.
        return match r {
            Ok(_) if !at_end(p) => None,
            r => Some(r),
        };
    }
    let r = match kind {
        "CancelQuery" => (|| {
            expect_word(p, "query")?;
            let client_activity_id = string(p)?;
            let with = with_props(p)?;
            let reason = prop(&with, "reason").map(PropValue::text);
            Ok(CommandKind::Operations(O::CancelQuery {
                client_activity_id,
                reason,
            }))
        })(),
        "ShowOperations" => (|| {
            expect_word(p, "operations")?;
            let mut ids = Vec::new();
            if p.eat_punct("(") {
                ids = super::super::expr::comma_list_until(p, ")", guid)?;
            } else if !at_end(p) {
                ids.push(guid(p)?);
            }
            Ok(CommandKind::Operations(O::ShowOperations { ids }))
        })(),
        "ShowOperationDetails" => (|| {
            expect_word(p, "operation")?;
            let id = guid(p)?;
            expect_word(p, "details")?;
            Ok(CommandKind::Operations(O::ShowOperationDetails { id }))
        })(),
        "ShowDatabaseJournal" => (|| {
            expect_word(p, "database")?;
            let database = Some(name(p)?);
            expect_word(p, "journal")?;
            Ok(CommandKind::Operations(O::ShowJournal { database }))
        })(),
        "ShowClusterExtents" | "ShowDatabaseExtents" | "ShowTableExtents" => {
            let r = extents(p);
            if r.is_ok() && !at_end(p) {
                return None;
            }
            r.map(CommandKind::Extents)
        }
        "ClearDatabaseCacheStreamingIngestionSchema"
        | "ClearDatabaseCacheQueryResults"
        | "ClearDatabaseCacheQueryWeakConsistency"
        | "ClearTableCacheStreamingIngestionSchema"
        | "ClearClusterCredStoreCache"
        | "ClearClusterGroupMembershipCache"
        | "ClearClusterOutboundAccessPolicyCache"
        | "ClearExternalArtifactsCache" => cache(p, kind).map(CommandKind::Cache),
        _ => return None,
    };
    Some(r)
}

fn at_end(p: &Parser<'_>) -> bool {
    p.at_eof() || p.peek().is_punct("|")
}

/// A guid: bare (`0b1e6b5e-...`, several tokens), `guid(...)` or a string.
fn guid(p: &mut Parser<'_>) -> PResult<String> {
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

/// `.show cluster extents`, `.show database [D] extents`, `.show table T extents`,
/// `.show tables (A, B) extents`, each with an optional `hot` (every extent is hot).
fn extents(p: &mut Parser<'_>) -> PResult<ExtentsCommand> {
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
    eat_word(p, "hot");
    Ok(ExtentsCommand::Show { scope })
}

/// `.clear database cache ...`, `.clear table T cache ...`, `.clear cluster cache ...`.
fn cache(p: &mut Parser<'_>, kind: &str) -> PResult<CacheCommand> {
    let mut scope = String::new();
    if let Some((w, n)) = peek_word(p) {
        scope = w;
        p.pos += n;
    }
    let table = if scope == "table" {
        Some(name(p)?)
    } else {
        None
    };
    expect_word(p, "cache")?;
    let mut what = Vec::new();
    while let Some((w, n)) = peek_word(p) {
        if w == "with" {
            break;
        }
        what.push(w);
        p.pos += n;
    }
    // `external-artifacts ('uri', ...)`, `with (...)`: arguments of caches Calypso does not
    // have.
    if p.peek().is_punct("(") {
        super::string_list(p)?;
    }
    with_props(p)?;
    Ok(match kind {
        "ClearDatabaseCacheStreamingIngestionSchema"
        | "ClearTableCacheStreamingIngestionSchema" => {
            CacheCommand::StreamingIngestionSchema { table }
        }
        "ClearDatabaseCacheQueryResults" => CacheCommand::QueryResults,
        _ => CacheCommand::Other { scope, what },
    })
}
