//! Query replies as they are produced: the rows go to the wire batch by batch (v2 frames or
//! v1 tables), so a large result never sits in memory whole.
//!
//! ```text
//! handler ──spawn──▶ task: plan, start table 1, read its first batch (under the deadline)
//!    ◀── error before any row: the reply is that error, with its status ──┘
//!    ◀── or "started": the reply is 200 with a body fed by the task through a channel
//!        task: per table, batches ─▶ truncation (limits.rs) ─▶ writer ─▶ chunks of ~64 KiB
//!              a failure after rows were sent ─▶ a partial failure in the data
//! ```
//!
//! The task stops, dropping the plan (which stops DataFusion's work), when the deadline
//! (`servertimeout`) passes, when `.cancel query` asks, or when the client goes away (the
//! body's receiver is dropped). Holding the admission permit, it keeps the request counted
//! until its last byte is written.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use calypso_engine::{Caller, Engine, EngineError, QueryStream, RequestOptions, ResultSchema};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use crate::limits::{Cut, Exceeded};
use crate::reply::{engine_error, error_response, json_response, log_failure};
use crate::wire::service::TableStats;
use crate::wire::v1::{V1Table, V1Writer};
use crate::wire::v2::{V2Table, V2Writer};
use crate::wire::{OneApiError, ResponseContext, V2Options, from_engine_error};

/// Bytes gathered before they are sent as one chunk of the body.
const CHUNK_BYTES: usize = 64 << 10;
/// Chunks buffered between the task and the connection.
const CHANNEL_CHUNKS: usize = 4;
/// A client that takes no body bytes for this long is given up on.
const CLIENT_STALL: Duration = Duration::from_secs(5 * 60);

/// The reply format.
#[derive(Debug, Clone)]
pub(crate) enum Format {
    /// `/v1/rest/query`.
    V1,
    /// `/v2/rest/query` with its options.
    V2(V2Options),
}

/// One query to answer.
pub(crate) struct QueryJob {
    pub(crate) engine: Arc<Engine>,
    pub(crate) caller: Caller,
    pub(crate) database: String,
    pub(crate) csl: String,
    pub(crate) options: RequestOptions,
    pub(crate) timeout: Duration,
    pub(crate) format: Format,
    pub(crate) ctx: ResponseContext,
    pub(crate) started: Instant,
    pub(crate) permit: OwnedSemaphorePermit,
}

/// Runs the query and answers it: an error reply when it fails before its first row,
/// otherwise a 200 whose body streams.
pub(crate) async fn respond(job: QueryJob) -> Response {
    let ctx = job.ctx.clone();
    let (started_tx, started_rx) = oneshot::channel::<Result<(), Response>>();
    let (body_tx, body_rx) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    tokio::spawn(run(job, started_tx, body_tx));
    match started_rx.await {
        Ok(Ok(())) => json_response(StatusCode::OK, Body::from_stream(Chunks(body_rx)), &ctx),
        Ok(Err(reply)) => reply,
        // The task ended without a word: it panicked.
        Err(_) => error_response(&OneApiError::internal(&ctx), &ctx),
    }
}

/// The body's chunks as the task sends them (ends when the task drops its sender; may be
/// polled again after its end, as hyper does over TLS).
struct Chunks(mpsc::Receiver<Bytes>);

impl futures::Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|c| c.map(Ok))
    }
}

/// What stopped a result early.
enum Stop {
    /// The engine failed (or the deadline passed, or `.cancel query`).
    Failed(EngineError),
    /// The client went away.
    Gone,
}

async fn run(
    job: QueryJob,
    started: oneshot::Sender<Result<(), Response>>,
    body: mpsc::Sender<Bytes>,
) {
    let QueryJob {
        engine,
        caller,
        database,
        csl,
        options,
        timeout,
        format,
        ctx,
        started: t0,
        permit,
    } = job;
    let _permit = permit;
    let mut started = started;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut query = match engine
        .query_stream_as(&caller, &database, &csl, &options)
        .await
    {
        Ok(q) => q,
        Err(e) => {
            let _ = started.send(Err(engine_error(&e, &ctx, &csl, &database)));
            return;
        }
    };
    let _watcher = watch(&query, &body, deadline);
    // The first table's first batch decides between an error reply and a streamed one.
    let first = async {
        if query.next_table().await? {
            query.next_batch().await
        } else {
            Ok(None)
        }
    };
    let first = tokio::select! {
        r = tokio::time::timeout_at(deadline, first) => under_deadline(r, deadline, timeout),
        () = started.closed() => return,
    };
    let first = match first {
        Ok(b) => b,
        // The watcher stopped the plan because the client left: recorded as cancelled.
        Err(_) if started.is_closed() => return,
        Err(e) => {
            let reply = engine_error(&e, &ctx, &csl, &database);
            query.finish::<()>(&Err(e));
            let _ = started.send(Err(reply));
            return;
        }
    };
    if started.send(Ok(())).is_err() {
        return;
    }
    let mut out = Out {
        buf: Vec::with_capacity(CHUNK_BYTES * 2),
        tx: body,
    };
    let tables = query.tables().to_vec();
    let mut reply = Reply::new(&format);
    reply.begin(&mut out.buf, &tables);
    let mut partial: Vec<(usize, OneApiError)> = Vec::new();
    let mut stats: Vec<TableStats> = Vec::new();
    let mut failure: Option<EngineError> = None;
    let mut first = Some(first);
    for (index, schema) in tables.iter().enumerate() {
        if index > 0 {
            let started = tokio::select! {
                r = tokio::time::timeout_at(deadline, query.next_table()) => under_deadline(r, deadline, timeout),
                () = out.tx.closed() => return,
            };
            match started {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) if out.tx.is_closed() => return,
                Err(e) => {
                    // The table could not start: its error goes with the data set.
                    log_failure(&e, &ctx);
                    partial.push((index, from_engine_error(&e, &ctx)));
                    failure = Some(e);
                    break;
                }
            }
        }
        let pending = first.take().flatten();
        match write_table(
            &mut query, &mut reply, &mut out, index, schema, pending, deadline, timeout,
        )
        .await
        {
            Ok((table_stats, cut)) => {
                if let Some(limit) = cut {
                    partial.push((index, limit.error(&ctx)));
                }
                reply.table_end(&mut out.buf, &partial, index);
                stats.push(table_stats);
            }
            Err((Stop::Gone, _)) => return,
            Err((Stop::Failed(e), table_stats)) => {
                log_failure(&e, &ctx);
                partial.push((index, from_engine_error(&e, &ctx)));
                reply.table_end(&mut out.buf, &partial, index);
                stats.push(table_stats);
                failure = Some(e);
                break;
            }
        }
        if out.flush_if_full().await.is_err() {
            return;
        }
    }
    let cancelled = matches!(failure, Some(EngineError::Cancelled(_)));
    let ctx = ctx.clone().with_execution_time(t0.elapsed());
    reply.end(&mut out.buf, &tables, &stats, &ctx, &partial, cancelled);
    let _ = out.flush().await;
    tracing::info!(
        elapsed_ms = t0.elapsed().as_millis() as u64,
        tables = stats.len(),
        rows = stats.iter().map(|s| s.rows).sum::<u64>(),
        partial_failures = partial.len(),
        "query done"
    );
    match failure {
        Some(e) => query.finish::<()>(&Err(e)),
        None => query.finish::<()>(&Ok(())),
    }
}

/// Writes one table's rows: its batches through the truncation, until its end, a limit, a
/// failure or the client leaving. Returns what was written and the limit that cut it.
#[allow(clippy::too_many_arguments)]
async fn write_table<'a>(
    query: &mut QueryStream<'_>,
    reply: &mut Reply<'a>,
    out: &mut Out,
    index: usize,
    schema: &'a ResultSchema,
    mut pending: Option<arrow::array::RecordBatch>,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Result<(TableStats, Option<Exceeded>), (Stop, TableStats)> {
    let mut cut = Cut::new(query.limits());
    let mut stats = TableStats::default();
    let mut hit = None;
    // Progressive replies give each fragment's share of the table: the table is read
    // whole first (it is within the truncation limits).
    let progressive = reply.progressive();
    let mut held = Vec::new();
    reply.table_begin(&mut out.buf, index, schema);
    loop {
        let batch = match pending.take() {
            Some(b) => b,
            None => {
                let next = tokio::select! {
                    r = tokio::time::timeout_at(deadline, query.next_batch()) => under_deadline(r, deadline, timeout),
                    () = out.tx.closed() => return Err((Stop::Gone, stats)),
                };
                match next {
                    Ok(Some(b)) => b,
                    Ok(None) => break,
                    Err(_) if out.tx.is_closed() => return Err((Stop::Gone, stats)),
                    Err(e) => {
                        reply.rows_held(&mut out.buf, &held, &mut stats, &schema.columns);
                        return Err((Stop::Failed(e), stats));
                    }
                }
            }
        };
        let (batch, limit) = cut.take(batch, &schema.columns);
        if progressive {
            held.push(batch);
        } else {
            reply.rows(&mut out.buf, &batch, None);
            stats.add(&batch, &schema.columns);
            if out.flush_if_full().await.is_err() {
                return Err((Stop::Gone, stats));
            }
        }
        if limit.is_some() {
            hit = limit;
            break;
        }
    }
    reply.rows_held(&mut out.buf, &held, &mut stats, &schema.columns);
    Ok((stats, hit))
}

/// The body being written: a buffer sent in chunks.
struct Out {
    buf: Vec<u8>,
    tx: mpsc::Sender<Bytes>,
}

impl Out {
    /// Sends the buffer when it holds a chunk's worth; `Err` when the client is gone.
    async fn flush_if_full(&mut self) -> Result<(), ()> {
        if self.buf.len() >= CHUNK_BYTES {
            self.flush().await
        } else {
            Ok(())
        }
    }

    async fn flush(&mut self) -> Result<(), ()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES * 2),
        ));
        match tokio::time::timeout(CLIENT_STALL, self.tx.send(chunk)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(()),
        }
    }
}

/// The writer of one reply format, with the table being written.
enum Reply<'a> {
    V1 {
        writer: V1Writer,
        table: Option<V1Table<'a>>,
    },
    V2 {
        writer: V2Writer<'a>,
        table: Option<V2Table<'a>>,
        opts: &'a V2Options,
    },
}

impl<'a> Reply<'a> {
    fn new(format: &'a Format) -> Reply<'a> {
        match format {
            Format::V1 => Reply::V1 {
                writer: V1Writer::default(),
                table: None,
            },
            Format::V2(opts) => Reply::V2 {
                writer: V2Writer::new(opts),
                table: None,
                opts,
            },
        }
    }

    fn progressive(&self) -> bool {
        matches!(self, Reply::V2 { opts, .. } if opts.progressive)
    }

    fn begin(&mut self, out: &mut Vec<u8>, tables: &[ResultSchema]) {
        match self {
            Reply::V1 { writer, .. } => writer.begin(out),
            Reply::V2 { writer, .. } => writer.begin(out, tables),
        }
    }

    fn table_begin(&mut self, out: &mut Vec<u8>, index: usize, schema: &'a ResultSchema) {
        match self {
            Reply::V1 { writer, table } => *table = Some(writer.table_begin(out, schema)),
            Reply::V2 { writer, table, .. } => {
                *table = Some(writer.table_begin(out, index, schema));
            }
        }
    }

    fn rows(&mut self, out: &mut Vec<u8>, batch: &arrow::array::RecordBatch, total: Option<u64>) {
        match self {
            Reply::V1 {
                writer,
                table: Some(t),
            } => writer.rows(out, t, batch),
            Reply::V2 {
                writer,
                table: Some(t),
                ..
            } => writer.rows(out, t, batch, total),
            _ => {}
        }
    }

    /// Writes the batches a progressive reply held back, with their share of the total.
    fn rows_held(
        &mut self,
        out: &mut Vec<u8>,
        held: &[arrow::array::RecordBatch],
        stats: &mut TableStats,
        columns: &[(String, kql_types::KqlType)],
    ) {
        let total: u64 = held.iter().map(|b| b.num_rows() as u64).sum();
        for b in held {
            self.rows(out, b, Some(total));
            stats.add(b, columns);
        }
    }

    fn table_end(&mut self, out: &mut Vec<u8>, partial: &[(usize, OneApiError)], index: usize) {
        let errors = OneApiError::of_table(partial, index);
        match self {
            Reply::V1 { writer, table } => {
                if let Some(t) = table.take() {
                    writer.table_end(out, t, &errors);
                }
            }
            Reply::V2 { writer, table, .. } => {
                if let Some(t) = table.take() {
                    writer.table_end(out, t, &errors);
                }
            }
        }
    }

    fn end(
        &mut self,
        out: &mut Vec<u8>,
        tables: &[ResultSchema],
        stats: &[TableStats],
        ctx: &ResponseContext,
        partial: &[(usize, OneApiError)],
        cancelled: bool,
    ) {
        match self {
            Reply::V1 { writer, .. } => writer.end(out, tables, stats, ctx, partial),
            Reply::V2 { writer, .. } => writer.end(out, stats, ctx, partial, cancelled),
        }
    }
}

/// A read under the deadline: a failure once it has passed (the watcher stopped the
/// plan) is the timeout too.
fn under_deadline<T>(
    r: Result<Result<T, EngineError>, tokio::time::error::Elapsed>,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Result<T, EngineError> {
    match r {
        Err(_) => Err(timed_out(timeout)),
        Ok(Err(_)) if tokio::time::Instant::now() >= deadline => Err(timed_out(timeout)),
        Ok(r) => r,
    }
}

/// Stops the query's work from outside its task, which notices a closed connection or
/// the deadline only when it yields: raises the stop flag when the client goes away or
/// the deadline passes; aborted when the query's task ends.
fn watch(
    query: &QueryStream<'_>,
    body: &mpsc::Sender<Bytes>,
    deadline: tokio::time::Instant,
) -> AbortOnDrop {
    let stop = query.stop_flag();
    let body = body.clone();
    AbortOnDrop(tokio::spawn(async move {
        tokio::select! {
            () = body.closed() => stop.raise(),
            () = tokio::time::sleep_until(deadline) => stop.raise(),
            () = stop.raised() => {}
        }
    }))
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn timed_out(timeout: Duration) -> EngineError {
    EngineError::Timeout(format!(
        "The query exceeded the server timeout of {timeout:?}"
    ))
}
