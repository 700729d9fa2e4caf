//! Admission control: how many queries, management commands and streaming ingestions
//! run at once, and how many more may wait for a slot.
//!
//! A request beyond a workload's concurrency limit waits in that workload's bounded queue,
//! first come first served, as ADX's request queuing policy does ("queuing incoming
//! requests up to a predefined short time period, while polling for available capacity").
//! Only when the queue is full, or the wait reaches the queue timeout, is it refused with
//! 429 `TooManyRequests`, as ADX's request rate limit policy refuses ("The query was
//! aborted due to throttling. Retrying after some backoff might succeed. Capacity: N,
//! Origin: ..."); SDK clients retry, and managed streaming ingestion falls back to queued
//! ingestion. A workload whose limit is 0 refuses everything at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::wire::{OneApiError, ResponseContext};

/// Requests that may wait per workload by default. ADX documents no queue length; a few
/// hundred absorbs bursts far above the concurrency limits (an SDK client creating a
/// hundred tables at once, a dashboard refreshing all its tiles) while bounding what a
/// flood can pile up.
pub const DEFAULT_MAX_QUEUED: usize = 500;

/// How long a request waits for a slot by default. ADX only says "a predefined short time
/// period"; 30 s is short next to the SDKs' default client timeouts (4 minutes for
/// queries, 10 for commands), so a client hears back, served or refused with a retriable
/// 429, well before it gives up.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// Concurrency limits of the server and the queues in front of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Queries at once (ADX's default workload group: 10 per core).
    pub max_concurrent_queries: usize,
    /// Management commands at once (ADX's default: 80).
    pub max_concurrent_commands: usize,
    /// Streaming ingestions at once (10 per core).
    pub max_concurrent_ingestions: usize,
    /// Queries that may wait for a slot; more are refused at once.
    pub max_queued_queries: usize,
    /// Management commands that may wait for a slot.
    pub max_queued_commands: usize,
    /// Streaming ingestions that may wait for a slot.
    pub max_queued_ingestions: usize,
    /// The longest a request waits for a slot before it is refused.
    pub queue_timeout: Duration,
    /// The longest a client may take to send a request's headers, or pause while sending
    /// its body (408 then); default [`DEFAULT_CLIENT_READ_TIMEOUT`].
    pub client_read_timeout: Duration,
    /// How long in-flight requests may take to finish after a shutdown signal (their
    /// connections are closed then); default [`DEFAULT_SHUTDOWN_TIMEOUT`].
    pub shutdown_timeout: Duration,
}

/// The default [`Limits::client_read_timeout`]: 30 seconds.
pub const DEFAULT_CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The default [`Limits::shutdown_timeout`]: 30 seconds, what container runtimes give a
/// process between SIGTERM and SIGKILL (Kubernetes' `terminationGracePeriodSeconds`,
/// `docker stop`'s 10 s being shorter: set it lower there).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for Limits {
    fn default() -> Limits {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Limits {
            max_concurrent_queries: cores * 10,
            max_concurrent_commands: 80,
            max_concurrent_ingestions: cores * 10,
            max_queued_queries: DEFAULT_MAX_QUEUED,
            max_queued_commands: DEFAULT_MAX_QUEUED,
            max_queued_ingestions: DEFAULT_MAX_QUEUED,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            client_read_timeout: DEFAULT_CLIENT_READ_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
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

/// One workload's slots and queue.
#[derive(Debug)]
struct Gate {
    slots: Arc<Semaphore>,
    capacity: usize,
    max_queued: usize,
    queued: AtomicUsize,
}

impl Gate {
    fn new(capacity: usize, max_queued: usize) -> Gate {
        Gate {
            slots: Arc::new(Semaphore::new(capacity.min(Semaphore::MAX_PERMITS))),
            capacity,
            max_queued,
            queued: AtomicUsize::new(0),
        }
    }

    /// Takes a place in the queue unless it is full; the place is given back when the
    /// returned guard is dropped (also when the waiting request is cancelled because its
    /// client went away).
    fn enqueue(&self) -> Option<QueuePlace<'_>> {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_queued).then_some(n + 1)
            })
            .ok()
            .map(|_| QueuePlace(&self.queued))
    }
}

struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    NoCapacity,
    QueueFull,
    Timeout,
}

/// The slots and queues of [`Limits`].
#[derive(Debug)]
pub struct Admission {
    queue_timeout: Duration,
    queries: Gate,
    commands: Gate,
    ingestions: Gate,
}

impl Admission {
    /// Admission with `limits`.
    pub fn new(limits: Limits) -> Admission {
        Admission {
            queue_timeout: limits.queue_timeout,
            queries: Gate::new(limits.max_concurrent_queries, limits.max_queued_queries),
            commands: Gate::new(limits.max_concurrent_commands, limits.max_queued_commands),
            ingestions: Gate::new(
                limits.max_concurrent_ingestions,
                limits.max_queued_ingestions,
            ),
        }
    }

    fn gate(&self, workload: Workload) -> &Gate {
        match workload {
            Workload::Query => &self.queries,
            Workload::Command => &self.commands,
            Workload::Ingestion => &self.ingestions,
        }
    }

    /// Requests of `workload` waiting for a slot now.
    pub fn queued(&self, workload: Workload) -> usize {
        self.gate(workload).queued.load(Ordering::Acquire)
    }

    /// A slot for one request of `workload` (held until the request is answered): at once
    /// when one is free, else after waiting in the queue; or the 429 error to answer with
    /// when the queue is full or the wait times out.
    pub async fn admit(
        &self,
        workload: Workload,
        ctx: &ResponseContext,
    ) -> Result<OwnedSemaphorePermit, OneApiError> {
        let gate = self.gate(workload);
        if gate.capacity == 0 {
            return Err(throttled(workload, gate.capacity, Refusal::NoCapacity, ctx));
        }
        if let Ok(permit) = Arc::clone(&gate.slots).try_acquire_owned() {
            return Ok(permit);
        }
        let Some(_place) = gate.enqueue() else {
            return Err(throttled(workload, gate.capacity, Refusal::QueueFull, ctx));
        };
        // The semaphore is fair: waiters get slots in arrival order. It is never closed.
        match tokio::time::timeout(self.queue_timeout, Arc::clone(&gate.slots).acquire_owned())
            .await
        {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(throttled(workload, gate.capacity, Refusal::Timeout, ctx)),
        }
    }
}

/// ADX's throttling error for `workload`.
fn throttled(
    workload: Workload,
    capacity: usize,
    why: Refusal,
    ctx: &ResponseContext,
) -> OneApiError {
    tracing::warn!(?workload, capacity, reason = ?why, "request throttled");
    let origin = "RequestRateLimitPolicy/WorkloadGroup/default";
    let (type_name, what) = match workload {
        Workload::Query => ("QueryThrottledException", "The query"),
        Workload::Command => ("ControlCommandThrottledException", "The management command"),
        Workload::Ingestion => (
            "ControlCommandThrottledException",
            "The streaming ingestion",
        ),
    };
    OneApiError::throttled(
        type_name,
        &format!(
            "{what} was aborted due to throttling. Retrying after some backoff might succeed. Capacity: {capacity}, Origin: '{origin}'."
        ),
        ctx,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn limits(queries: usize, queued: usize, timeout: Duration) -> Limits {
        Limits {
            max_concurrent_queries: queries,
            max_concurrent_commands: 0,
            max_concurrent_ingestions: 2,
            max_queued_queries: queued,
            max_queued_commands: queued,
            max_queued_ingestions: 0,
            queue_timeout: timeout,
            client_read_timeout: DEFAULT_CLIENT_READ_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// Yields until `n` requests of `workload` are waiting.
    async fn until_queued(a: &Admission, workload: Workload, n: usize) {
        while a.queued(workload) != n {
            tokio::task::yield_now().await;
        }
    }

    fn assert_throttled(e: &OneApiError, type_name: &str, capacity: usize) {
        assert_eq!(e.status, 429);
        assert_eq!(e.code, "TooManyRequests");
        assert!(!e.permanent);
        assert_eq!(
            e.type_name,
            format!("Kusto.DataNode.Exceptions.{type_name}")
        );
        assert!(
            e.inner_message.contains(&format!("Capacity: {capacity},")),
            "{}",
            e.inner_message
        );
    }

    #[tokio::test]
    async fn permits_are_returned_when_dropped() {
        let a = Admission::new(limits(1, 0, Duration::from_secs(60)));
        let ctx = ResponseContext::new("c", "a");
        let p = a.admit(Workload::Query, &ctx).await.unwrap();
        // No queue: refused at once.
        let e = a.admit(Workload::Query, &ctx).await.unwrap_err();
        assert_throttled(&e, "QueryThrottledException", 1);
        drop(p);
        assert!(a.admit(Workload::Query, &ctx).await.is_ok());
        // A limit of 0 refuses at once, even with room in the queue.
        let e = a.admit(Workload::Command, &ctx).await.unwrap_err();
        assert_throttled(&e, "ControlCommandThrottledException", 0);
        let _one = a.admit(Workload::Ingestion, &ctx).await.unwrap();
        let _two = a.admit(Workload::Ingestion, &ctx).await.unwrap();
        let e = a.admit(Workload::Ingestion, &ctx).await.unwrap_err();
        assert_throttled(&e, "ControlCommandThrottledException", 2);
    }

    /// `n` concurrent requests that each take a slot, yield once and give it back.
    fn burst(a: &Arc<Admission>, n: usize) -> tokio::task::JoinSet<Result<(), OneApiError>> {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let a = Arc::clone(a);
            tasks.spawn(async move {
                let ctx = ResponseContext::new("c", "a");
                let permit = a.admit(Workload::Query, &ctx).await?;
                tokio::task::yield_now().await;
                drop(permit);
                Ok(())
            });
        }
        tasks
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_beyond_the_limit_waits_for_slots() {
        const SLOTS: usize = 3;
        const EXTRA: usize = 40;
        let a = Arc::new(Admission::new(limits(
            SLOTS,
            SLOTS + EXTRA,
            Duration::from_secs(600),
        )));
        let ctx = ResponseContext::new("c", "a");
        // Hold every slot so that the whole burst has to queue, then let it through.
        let mut held = Vec::new();
        for _ in 0..SLOTS {
            held.push(a.admit(Workload::Query, &ctx).await.unwrap());
        }
        let mut tasks = burst(&a, SLOTS + EXTRA);
        until_queued(&a, Workload::Query, SLOTS + EXTRA).await;
        held.clear();
        let mut ok = 0;
        while let Some(r) = tasks.join_next().await {
            assert!(r.unwrap().is_ok());
            ok += 1;
        }
        assert_eq!(ok, SLOTS + EXTRA);
        assert_eq!(a.queued(Workload::Query), 0);
        // Every slot is free again.
        assert_eq!(a.gate(Workload::Query).slots.available_permits(), SLOTS);

        // Without held slots, as a plain burst.
        let mut tasks = burst(&a, SLOTS + EXTRA);
        while let Some(r) = tasks.join_next().await {
            assert!(r.unwrap().is_ok());
        }
        assert_eq!(a.queued(Workload::Query), 0);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let a = Arc::new(Admission::new(limits(1, 2, Duration::from_secs(600))));
        let ctx = ResponseContext::new("c", "a");
        let held = a.admit(Workload::Query, &ctx).await.unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let a = Arc::clone(&a);
                tokio::spawn(async move {
                    let ctx = ResponseContext::new("c", "a");
                    a.admit(Workload::Query, &ctx).await.map(drop)
                })
            })
            .collect();
        until_queued(&a, Workload::Query, 2).await;
        let e = a.admit(Workload::Query, &ctx).await.unwrap_err();
        assert_throttled(&e, "QueryThrottledException", 1);
        // Other workloads have their own queues.
        assert!(a.admit(Workload::Ingestion, &ctx).await.is_ok());
        drop(held);
        for w in waiters {
            assert!(w.await.unwrap().is_ok());
        }
        assert_eq!(a.queued(Workload::Query), 0);
    }

    #[tokio::test]
    async fn a_wait_beyond_the_queue_timeout_is_refused() {
        let a = Admission::new(limits(1, 10, Duration::from_millis(20)));
        let ctx = ResponseContext::new("c", "a");
        let held = a.admit(Workload::Query, &ctx).await.unwrap();
        let e = a.admit(Workload::Query, &ctx).await.unwrap_err();
        assert_throttled(&e, "QueryThrottledException", 1);
        // The timed-out request left the queue.
        assert_eq!(a.queued(Workload::Query), 0);
        drop(held);
        assert!(a.admit(Workload::Query, &ctx).await.is_ok());
    }

    #[tokio::test]
    async fn a_cancelled_wait_leaves_the_queue() {
        let a = Arc::new(Admission::new(limits(1, 1, Duration::from_secs(600))));
        let ctx = ResponseContext::new("c", "a");
        let _held = a.admit(Workload::Query, &ctx).await.unwrap();
        let a2 = Arc::clone(&a);
        let waiter = tokio::spawn(async move {
            let ctx = ResponseContext::new("c", "a");
            a2.admit(Workload::Query, &ctx).await.map(drop)
        });
        until_queued(&a, Workload::Query, 1).await;
        // The client goes away: axum drops the handler's future.
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert_eq!(a.queued(Workload::Query), 0);
    }
}
