//! `.clear ... cache` commands. Calypso keeps no streaming-ingestion schema cache (every
//! ingestion reads the committed catalog) and no query results cache, so clearing them
//! has nothing to drop; they answer as ADX does, with an empty result.

use kql_syntax::ast::CacheCommand;

use crate::table::table;
use crate::{Result, ResultTable};

pub(crate) fn clear(cmd: &CacheCommand) -> Result<ResultTable> {
    match cmd {
        CacheCommand::StreamingIngestionSchema
        | CacheCommand::QueryResults
        | CacheCommand::Other { .. } => table(&[], Vec::new()),
    }
}
