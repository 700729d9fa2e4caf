//! Operations and monitoring (`.show queries`, `.cancel query`, `.show operations`,
//! `.show journal`, ...), cluster information and caches.

use super::super::{PResult, Parser};
use super::{expect_word, guid, name, peek_word, string, with_props};
use crate::ast::*;

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
        "ShowIngestionFailures" => (|| {
            expect_word(p, "ingestion")?;
            expect_word(p, "failures")?;
            let with = with_props(p)?;
            let operation_id = prop(&with, "OperationId").map(PropValue::text);
            Ok(CommandKind::Operations(O::ShowIngestionFailures {
                operation_id,
            }))
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
