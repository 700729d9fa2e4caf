//! Memory governance: every query runs in its own DataFusion memory pool, limited by the
//! request's `max_memory_consumption_per_query_per_node` (Kusto's default: 8 GiB), and every
//! reservation also counts against one pool for the whole server. Operators that hold
//! memory (hash aggregations, joins, sorts, repartitions) reserve it first; when either
//! pool refuses, the query fails with `E_LOW_MEMORY_CONDITION` (400, permanent; see
//! `EngineError::from_datafusion`) instead of the process growing. Nothing spills to disk:
//! as in Kusto, a query over its budget fails.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    GreedyMemoryPool, MemoryLimit, MemoryPool, MemoryReservation,
};

/// Kusto's default `max_memory_consumption_per_query_per_node` (8 GiB).
pub const DEFAULT_QUERY_LIMIT: usize = 8 << 30;
/// Kusto's default `maxmemoryconsumptionperiterator` (5 GiB).
pub const DEFAULT_ITERATOR_LIMIT: usize = 5 << 30;
/// The largest `maxmemoryconsumptionperiterator` Kusto supports (30 GiB).
pub const MAX_ITERATOR_LIMIT: u64 = 30 << 30;

/// A query's limits: (the whole query, one operator), from the request properties and the
/// query's `set` statements; a limit given both ways takes the lower value
/// (query-limits.md). A per-operator limit over 30 GiB is refused.
pub(crate) fn limits(
    options: &crate::RequestOptions,
    set: &HashMap<String, String>,
) -> crate::Result<(usize, usize)> {
    let read = |name: &str, request: Option<u64>| -> crate::Result<Option<u64>> {
        let set = match set.get(name) {
            None => None,
            Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
                crate::EngineError::BadRequest(format!(
                    "The option '{name}' must be a number of bytes, not '{v}'"
                ))
            })?),
        };
        Ok(match (request, set) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    };
    let query = read(
        "max_memory_consumption_per_query_per_node",
        options.max_memory_per_query,
    )?;
    let iterator = read(
        "maxmemoryconsumptionperiterator",
        options.max_memory_per_iterator,
    )?;
    if let Some(i) = iterator.filter(|i| *i > MAX_ITERATOR_LIMIT) {
        return Err(crate::EngineError::BadRequest(format!(
            "maxmemoryconsumptionperiterator is {i}, over its maximum of {MAX_ITERATOR_LIMIT} bytes (30 GB)"
        )));
    }
    let size = |v: Option<u64>, default: usize| {
        v.map_or(default, |v| usize::try_from(v).unwrap_or(usize::MAX))
    };
    Ok((
        size(query, DEFAULT_QUERY_LIMIT),
        size(iterator, DEFAULT_ITERATOR_LIMIT),
    ))
}

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

/// One query's pool: at most `limit` bytes, at most `per_operator` of them held by one
/// operator (one reservation), each also taken from `server`.
#[derive(Debug)]
pub(crate) struct QueryPool {
    limit: usize,
    per_operator: usize,
    used: AtomicUsize,
    server: Arc<dyn MemoryPool>,
}

impl QueryPool {
    pub(crate) fn new(limit: usize, per_operator: usize, server: Arc<dyn MemoryPool>) -> QueryPool {
        QueryPool {
            limit,
            per_operator,
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
        let held = reservation.size().saturating_add(additional);
        if held > self.per_operator {
            // query-limits.md: "The HashJoin operator has exceeded the memory budget during
            // evaluation. Results might be incorrect or incomplete (E_RUNAWAY_QUERY)."
            return Err(DataFusionError::ResourcesExhausted(format!(
                "The {} operator has exceeded the memory budget ({} bytes, maxmemoryconsumptionperiterator) during evaluation (E_RUNAWAY_QUERY)",
                reservation.consumer().name(),
                self.per_operator
            )));
        }
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
