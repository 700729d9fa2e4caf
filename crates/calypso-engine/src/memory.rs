//! Memory governance: every query runs in its own DataFusion memory pool, limited by the
//! request's `max_memory_consumption_per_query_per_node` (Kusto's default: 8 GiB), and every
//! reservation also counts against one pool for the whole server. Operators that hold
//! memory (hash aggregations, joins, sorts, repartitions) reserve it first; when either
//! pool refuses, the query fails with `E_LOW_MEMORY_CONDITION` (400, permanent; see
//! `EngineError::from_datafusion`) instead of the process growing. Nothing spills to disk:
//! as in Kusto, a query over its budget fails.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    GreedyMemoryPool, MemoryLimit, MemoryPool, MemoryReservation,
};

/// Kusto's default `max_memory_consumption_per_query_per_node` (8 GiB).
pub const DEFAULT_QUERY_LIMIT: usize = 8 << 30;

/// The server-wide pool of a new engine: half of the machine's memory (from
/// `/proc/meminfo`), or 4 GiB when that cannot be read.
pub fn default_server_pool() -> Arc<dyn MemoryPool> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<usize>().ok())
        })
        .map_or(8 << 30, |kb| kb.saturating_mul(1024));
    Arc::new(GreedyMemoryPool::new(total / 2))
}

/// One query's pool: at most `limit` bytes, each also taken from `server`.
#[derive(Debug)]
pub(crate) struct QueryPool {
    limit: usize,
    used: AtomicUsize,
    server: Arc<dyn MemoryPool>,
}

impl QueryPool {
    pub(crate) fn new(limit: usize, server: Arc<dyn MemoryPool>) -> QueryPool {
        QueryPool {
            limit,
            used: AtomicUsize::new(0),
            server,
        }
    }
}

impl fmt::Display for QueryPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "query pool ({} of {} bytes)",
            self.reserved(),
            self.limit
        )
    }
}

impl MemoryPool for QueryPool {
    fn name(&self) -> &str {
        "calypso-query"
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.used.fetch_add(additional, Ordering::Relaxed);
        self.server.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.used.fetch_sub(shrink, Ordering::Relaxed);
        self.server.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let mut current = self.used.load(Ordering::Relaxed);
        loop {
            let next = current.saturating_add(additional);
            if next > self.limit {
                return Err(DataFusionError::ResourcesExhausted(format!(
                    "the query would hold {next} bytes, over its limit of {} (max_memory_consumption_per_query_per_node)",
                    self.limit
                )));
            }
            match self.used.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
        if let Err(e) = self.server.try_grow(reservation, additional) {
            self.used.fetch_sub(additional, Ordering::Relaxed);
            return Err(DataFusionError::ResourcesExhausted(format!(
                "the server's memory for queries is used up: {}",
                e.strip_backtrace()
            )));
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}
