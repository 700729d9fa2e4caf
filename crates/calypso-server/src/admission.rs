//! Admission control: how many queries, management commands and streaming ingestions
//! run at once. A request over the limit is refused at once with 429 `TooManyRequests`,
//! as ADX's request rate limit policy does ("The query was aborted due to throttling.
//! Retrying after some backoff might succeed. Capacity: N, Origin: ..."); SDK clients
//! retry, and managed streaming ingestion falls back to queued ingestion.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::wire::{OneApiError, ResponseContext};

/// Concurrency limits of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Queries at once (ADX's default workload group: 10 per core).
    pub max_concurrent_queries: usize,
    /// Management commands at once (ADX's default: 80).
    pub max_concurrent_commands: usize,
    /// Streaming ingestions at once (10 per core).
    pub max_concurrent_ingestions: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Limits {
            max_concurrent_queries: cores * 10,
            max_concurrent_commands: 80,
            max_concurrent_ingestions: cores * 10,
        }
    }
}

/// What a request is, for admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// A query (`/v1/rest/query`, `/v2/rest/query`).
    Query,
    /// A management command (`/v1/rest/mgmt`).
    Command,
    /// A streaming ingestion (`/v1/rest/ingest`).
    Ingestion,
}

/// The semaphores of [`Limits`].
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    queries: Arc<Semaphore>,
    commands: Arc<Semaphore>,
    ingestions: Arc<Semaphore>,
}

impl Admission {
    /// Admission with `limits`.
    pub fn new(limits: Limits) -> Admission {
        Admission {
            limits,
            queries: Arc::new(Semaphore::new(limits.max_concurrent_queries)),
            commands: Arc::new(Semaphore::new(limits.max_concurrent_commands)),
            ingestions: Arc::new(Semaphore::new(limits.max_concurrent_ingestions)),
        }
    }

    /// A permit for one request of `workload` (held until the request is answered), or
    /// the 429 error to answer with.
    pub fn admit(
        &self,
        workload: Workload,
        ctx: &ResponseContext,
    ) -> Result<OwnedSemaphorePermit, OneApiError> {
        let (sem, capacity) = match workload {
            Workload::Query => (&self.queries, self.limits.max_concurrent_queries),
            Workload::Command => (&self.commands, self.limits.max_concurrent_commands),
            Workload::Ingestion => (&self.ingestions, self.limits.max_concurrent_ingestions),
        };
        Arc::clone(sem).try_acquire_owned().map_err(|_| {
            let origin = "RequestRateLimitPolicy/WorkloadGroup/default";
            let (type_name, what) = match workload {
                Workload::Query => ("QueryThrottledException", "The query"),
                Workload::Command => ("ControlCommandThrottledException", "The management command"),
                Workload::Ingestion => ("ControlCommandThrottledException", "The streaming ingestion"),
            };
            OneApiError::throttled(
                type_name,
                &format!(
                    "{what} was aborted due to throttling. Retrying after some backoff might succeed. Capacity: {capacity}, Origin: '{origin}'."
                ),
                ctx,
            )
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_returned_when_dropped() {
        let a = Admission::new(Limits {
            max_concurrent_queries: 1,
            max_concurrent_commands: 0,
            max_concurrent_ingestions: 2,
        });
        let ctx = ResponseContext::new("c", "a");
        let p = a.admit(Workload::Query, &ctx).unwrap();
        let e = a.admit(Workload::Query, &ctx).unwrap_err();
        assert_eq!(e.status, 429);
        assert_eq!(e.code, "TooManyRequests");
        assert!(!e.permanent);
        assert_eq!(
            e.type_name,
            "Kusto.DataNode.Exceptions.QueryThrottledException"
        );
        assert!(
            e.inner_message.contains("Capacity: 1"),
            "{}",
            e.inner_message
        );
        drop(p);
        assert!(a.admit(Workload::Query, &ctx).is_ok());
        let e = a.admit(Workload::Command, &ctx).unwrap_err();
        assert_eq!(
            e.type_name,
            "Kusto.DataNode.Exceptions.ControlCommandThrottledException"
        );
        let _one = a.admit(Workload::Ingestion, &ctx).unwrap();
        let _two = a.admit(Workload::Ingestion, &ctx).unwrap();
        assert!(a.admit(Workload::Ingestion, &ctx).is_err());
    }
}
