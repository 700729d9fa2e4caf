//! Retention: extents older than the retention policy's `SoftDeletePeriod` are removed
//! from the catalog in the background (their files go after the grace period).
//!
//! As in ADX, the period is measured from the time the data was ingested: an extent's
//! creation time (a merged extent has the latest of its sources'). The table's policy
//! applies, else its database's; without either, data is kept (ADX's default is
//! 365,000 days). `Recoverability` is stored and shown; Calypso has no `.undo drop
//! table` to recover with yet.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::catalog::{ExtentMeta, Table};
use crate::error::Result;
use crate::hot::HOT_EXTENT_ID;
use crate::store::Storage;

/// The `SoftDeletePeriod` of a retention policy, in nanoseconds (`None`: none or not
/// readable, which keeps the data).
fn soft_delete_nanos(policy: Option<&Value>) -> Option<i64> {
    let period = policy?.get("SoftDeletePeriod")?;
    match period {
        Value::String(text) => kql_types::parse::parse_timespan(text),
        _ => None,
    }
}

/// Whether an extent created at `created_on` has expired at `now` under a period of
/// `nanos`.
fn expired(created_on: &str, nanos: i64, now: DateTime<Utc>) -> bool {
    let Ok(created) = DateTime::parse_from_rfc3339(created_on) else {
        return false;
    };
    let Some(age) = (now - created.with_timezone(&Utc)).num_nanoseconds() else {
        // Older than ~292 years: beyond any period but the default.
        return nanos < i64::MAX;
    };
    age > nanos
}

/// Whether extent `e` (sealed: the row store's rows are not aged) expired at `now`.
fn expires(e: &ExtentMeta, nanos: i64, now: DateTime<Utc>) -> bool {
    e.id != HOT_EXTENT_ID && expired(&e.created_on, nanos, now)
}

/// The paths of the extents of `t` that expired at `now`, removed from it.
fn expire(t: &mut Table, nanos: i64, now: DateTime<Utc>) -> Vec<String> {
    let mut gone = Vec::new();
    t.extents.retain(|e| {
        let out = expires(e, nanos, now);
        if out {
            gone.push(e.path.clone());
        }
        !out
    });
    gone
}

impl Storage {
    /// Removes the extents whose retention period has passed at `now` (one commit for
    /// all tables); returns how many went. Their files are deleted after the grace period.
    pub async fn apply_retention(&self, now: DateTime<Utc>) -> Result<usize> {
        let gone = self
            .commit(move |c| {
                // Found first, then changed: only the tables that lose extents are
                // copied for this version.
                let mut due = Vec::new();
                for d in c.databases.values() {
                    let database = d.policies.get("retention");
                    for t in d.tables.values() {
                        let policy = t.policies.get("retention").or(database);
                        if let Some(nanos) = soft_delete_nanos(policy)
                            && t.extents.iter().any(|e| expires(e, nanos, now))
                        {
                            due.push((d.name.clone(), t.name.clone(), nanos));
                        }
                    }
                }
                let mut gone = Vec::new();
                for (d, t, nanos) in due {
                    if let Some(t) = c.table_mut(&d, &t) {
                        gone.extend(expire(t, nanos, now));
                    }
                }
                Ok(gone)
            })
            .await?;
        let n = gone.len();
        if n > 0 {
            self.delete_later(gone);
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn periods_and_ages() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let day = soft_delete_nanos(Some(&json!({"SoftDeletePeriod": "1.00:00:00"}))).unwrap();
        assert_eq!(day, 86_400 * 1_000_000_000);
        assert!(expired("2026-12-01T23:59:59Z", day, now));
        assert!(!expired("2026-12-02T00:00:01Z", day, now));
        assert!(!expired("not a time", day, now));
        assert_eq!(
            soft_delete_nanos(Some(&json!({"Recoverability": "Enabled"}))),
            None
        );
        assert_eq!(soft_delete_nanos(None), None);
    }
}
