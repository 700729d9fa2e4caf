//! The IngestionBatching policy (`management/batching-policy.md`): queued messages of one
//! table with the same ingestion properties wait and are ingested together, as one extent,
//! when the first of these holds: their raw size reaches `MaximumRawDataSizeMB`, their count
//! reaches `MaximumNumberOfItems`, or the oldest has waited `MaximumBatchingTimeSpan`
//! (defaults 1,024 MB, 500 items, 5 minutes; the table's policy, else the database's). A
//! message is ingested alone at once when it asks to flush immediately, has
//! `ingestIfNotExists` or an `ingest-by:` tag, or does not say its size (the docs'
//! `SingleBlob_*` conditions).

use serde_json::Value;

/// ADX's defaults.
const DEFAULT_TIME: chrono::Duration = chrono::Duration::minutes(5);
const DEFAULT_ITEMS: usize = 500;
const DEFAULT_MB: u64 = 1024;

/// A table's batching bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchingPolicy {
    pub(crate) max_time: chrono::Duration,
    pub(crate) max_items: usize,
    pub(crate) max_bytes: u64,
}

impl BatchingPolicy {
    /// The policy of a table: its own, else its database's, field by field, else ADX's
    /// defaults.
    pub(crate) fn of(table: Option<&Value>, database: Option<&Value>) -> BatchingPolicy {
        let field = |name: &str| {
            table
                .and_then(|p| p.get(name))
                .filter(|v| !v.is_null())
                .or_else(|| database.and_then(|p| p.get(name)).filter(|v| !v.is_null()))
        };
        let max_time = field("MaximumBatchingTimeSpan")
            .and_then(Value::as_str)
            .and_then(kql_functions::convert::parse_timespan)
            .map_or(DEFAULT_TIME, chrono::Duration::nanoseconds);
        let max_items = field("MaximumNumberOfItems")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_ITEMS);
        let max_bytes = field("MaximumRawDataSizeMB")
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_MB)
            .saturating_mul(1 << 20);
        BatchingPolicy {
            max_time,
            max_items,
            max_bytes,
        }
    }

    /// Of messages waiting (oldest first: their insertion time and raw size), how many
    /// form the next batch to ingest now; 0 when the batch is still open.
    pub(crate) fn sealed(
        &self,
        waiting: &[(chrono::DateTime<chrono::Utc>, u64)],
        now: chrono::DateTime<chrono::Utc>,
    ) -> usize {
        let Some((oldest, _)) = waiting.first() else {
            return 0;
        };
        let mut size = 0u64;
        for (i, (_, raw)) in waiting.iter().enumerate() {
            size = size.saturating_add(*raw);
            if i + 1 == self.max_items || size >= self.max_bytes {
                return i + 1;
            }
        }
        if *oldest + self.max_time <= now {
            waiting.len()
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap_or_default()
    }

    #[test]
    fn the_policy_falls_back_to_the_database_then_to_adx_defaults() {
        let d = BatchingPolicy::of(None, None);
        assert_eq!(
            d,
            BatchingPolicy {
                max_time: chrono::Duration::minutes(5),
                max_items: 500,
                max_bytes: 1024 << 20,
            }
        );
        let db = json!({"MaximumBatchingTimeSpan": "00:00:30", "MaximumNumberOfItems": 20});
        let t = json!({"MaximumNumberOfItems": 2, "MaximumRawDataSizeMB": 100});
        let p = BatchingPolicy::of(Some(&t), Some(&db));
        assert_eq!(p.max_time, chrono::Duration::seconds(30));
        assert_eq!(p.max_items, 2);
        assert_eq!(p.max_bytes, 100 << 20);
    }

    #[test]
    fn a_batch_seals_on_count_size_or_time() {
        let p = BatchingPolicy {
            max_time: chrono::Duration::seconds(10),
            max_items: 3,
            max_bytes: 100,
        };
        let small = |n: usize, t0: i64| (0..n).map(|i| (at(t0 + i as i64), 1)).collect::<Vec<_>>();
        assert_eq!(p.sealed(&[], at(0)), 0);
        assert_eq!(p.sealed(&small(2, 0), at(5)), 0, "open: 2 items, 5 s");
        assert_eq!(p.sealed(&small(2, 0), at(10)), 2, "time");
        assert_eq!(p.sealed(&small(5, 0), at(1)), 3, "count");
        assert_eq!(
            p.sealed(&[(at(0), 60), (at(1), 50), (at(2), 1)], at(3)),
            2,
            "size"
        );
        assert_eq!(
            p.sealed(&[(at(0), 500)], at(0)),
            1,
            "one over the size alone"
        );
    }
}
