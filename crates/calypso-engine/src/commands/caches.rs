//! `.clear ... cache` commands. Calypso keeps no streaming-ingestion schema cache (every
//! ingestion reads the committed catalog) and no query results cache, so clearing them
//! has nothing to drop; they answer as ADX does, with an empty result.

use kql_functions::KqlType;
use kql_syntax::ast::CacheCommand;

use crate::table::table;
use crate::{Result, ResultTable};

pub(crate) fn clear(cmd: &CacheCommand) -> Result<ResultTable> {
    match cmd {
        // The table form answers per node.
        CacheCommand::StreamingIngestionSchema { table: Some(_) } => table(
            &[("NodeId", KqlType::String), ("Status", KqlType::String)],
            vec![vec!["calypso-0".into(), "Succeeded".into()]],
        ),
        CacheCommand::StreamingIngestionSchema { table: None }
        | CacheCommand::QueryResults
        | CacheCommand::Other { .. } => table(&[], Vec::new()),
    }
}
