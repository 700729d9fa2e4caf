//! Catalog commits, with group commit.
//!
//! A commit is a change function over the catalog. On a durable storage every commit goes
//! to one committer task through a queue: the task takes what is queued (up to
//! [`MAX_GROUP`] commits), runs their functions one after the other on the evolving
//! catalog (so each sees the ones before it, exactly as if they ran alone in that order),
//! and writes all their changes as **one** log record with one fsync. Commits arriving
//! while a record is being written form the next group, so concurrent commits on any
//! tables share their fsync instead of each waiting for all the earlier ones' fsyncs, and
//! the work done under the commit lock per commit is its function and its diff.
//!
//! A commit's function that fails leaves nothing of its changes and fails only that
//! commit; a record that cannot be written fails every commit of its group, and nothing
//! of them changes. Once a commit is queued it runs to its end even if its caller goes
//! away: the catalog in memory always matches the store.

use std::sync::{Arc, Weak};

use object_store::{ObjectStoreExt, PutMode, PutPayload};
use tokio::sync::{mpsc, oneshot};

use crate::catalog::{Catalog, FORMAT_VERSION};
use crate::error::{Error, Result};
use crate::hot::Hot;
use crate::log::{self, Record};
use crate::store::{Inner, MIN_CHECKPOINT_BYTES, Progress, Snapshot, Storage};

/// The most commits one log record holds.
pub(crate) const MAX_GROUP: usize = 256;
/// How many times a commit is written again on top of other writers' commits (that
/// touched other tables) before it gives up with a conflict.
const MAX_REBASES: usize = 16;

/// What a commit does once its function ran and the outcome of the record is known.
type Finish = Box<dyn FnOnce(Result<()>) + Send>;
/// A queued commit: runs its function (answering the caller itself when it fails).
type Job = Box<dyn FnOnce(&mut Catalog) -> Option<Finish> + Send>;
/// The committer task's queue.
pub(crate) type Queue = mpsc::UnboundedSender<Job>;

impl Storage {
    /// Applies `f` to a copy of the catalog and commits the result as the next version.
    ///
    /// In the copy `f` sees, a table with rows in the row store has one more extent that
    /// stands for them (`crate::hot::HOT_EXTENT_ID`): if `f` removes it (clearing or
    /// replacing the table's data) those rows are discarded; if it changes it (renaming or
    /// dropping a column) the rows are sealed into an extent changed the same way.
    ///
    /// Commits are applied in the order they are queued, each on the result of the ones
    /// before it; concurrent commits are written together as one log record (see the
    /// module's documentation). If `f` fails or the catalog cannot be written, nothing
    /// changes; if `f` changes nothing, nothing is written. The record holds what changed
    /// (its size follows the change, not the catalog); it is durable when this returns
    /// (fsync of the file and its directory on local disk). Once queued, the commit goes
    /// to its end even if this future is dropped. If another writer of the store
    /// committed first, the changes are written again on top of its commits when they
    /// touched other tables (`crate::rebase`); when they touched the same table (or its
    /// database's own fields), the catalog is reloaded and [`Error::Conflict`] is
    /// returned: the caller may retry.
    pub async fn commit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Catalog) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |catalog: &mut Catalog| match f(catalog) {
            Ok(out) => Some(Box::new(move |written: Result<()>| {
                let _ = tx.send(written.map(|()| out));
            }) as Finish),
            Err(e) => {
                let _ = tx.send(Err(e));
                None
            }
        });
        match self.queue() {
            Some(queue) => {
                if queue.send(job).is_err() {
                    return Err(Error::Task("the catalog committer has stopped".into()));
                }
            }
            // In memory, or outside a runtime: nothing to share, the commit runs here.
            None => self.run_group(vec![job]).await,
        }
        rx.await
            .map_err(|_| Error::Task("the catalog committer has stopped".into()))?
    }

    /// The committer's queue, starting the task on first use; `None` for a storage
    /// whose commits are not written, or outside a tokio runtime.
    fn queue(&self) -> Option<&Queue> {
        if !self.inner.durable {
            return None;
        }
        if let Some(queue) = self.inner.commits.get() {
            return Some(queue);
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let queue = self.inner.commits.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            runtime.spawn(committer(Arc::downgrade(&self.inner), rx));
            tx
        });
        Some(queue)
    }

    /// Runs one group of commits under the commit lock and writes their record.
    async fn run_group(&self, group: Vec<Job>) {
        let progress = Arc::clone(&self.inner.commit_lock).lock_owned().await;
        let Snapshot {
            catalog: current,
            hot,
        } = self.snapshot();
        // The catalog after the commits that succeeded so far (`None`: none yet). Each
        // commit works on a copy of it, so that one that fails leaves nothing.
        let mut next: Option<Catalog> = None;
        let mut hot_now: Arc<Hot> = Arc::clone(&hot);
        let mut finishes: Vec<Finish> = Vec::with_capacity(group.len());
        for job in group {
            let before = next.as_ref().unwrap_or(&current);
            let mut trial = before.clone();
            crate::rowstore::add_stand_ins(&hot_now, &mut trial);
            let Some(finish) = job(&mut trial) else {
                continue;
            };
            match crate::rowstore::settle(self, before, &hot_now, &mut trial).await {
                Ok(()) => {
                    hot_now = Arc::new(hot_now.pruned(&trial));
                    next = Some(trial);
                    finishes.push(finish);
                }
                Err(e) => finish(Err(e)),
            }
        }
        // Every commit that succeeded set `next`: without one there is nothing to answer.
        let Some(next) = next else {
            return;
        };
        let written = self.write_commits(progress, &current, next, hot_now).await;
        match written {
            Ok(due) => {
                for finish in finishes {
                    finish(Ok(()));
                }
                // The commits are answered; the checkpoint they made due is written
                // before the next group (which waits for the commit lock). One that
                // fails is tried again after the next record.
                if let Some(mut progress) = due {
                    let _ = self.checkpoint(&mut progress).await;
                }
            }
            Err(e) => {
                let mut finishes = finishes.into_iter();
                let first = finishes.next();
                for finish in finishes {
                    finish(Err(again(&e)));
                }
                if let Some(finish) = first {
                    finish(Err(e));
                }
            }
        }
    }

    /// Writes the changes from `current` to `next` as the next version (holding the
    /// commit lock), then makes `next` current. Returns the commit lock when the log since
    /// the last checkpoint is long enough for the next one, which the caller writes.
    async fn write_commits(
        &self,
        mut progress: tokio::sync::OwnedMutexGuard<Progress>,
        current: &Catalog,
        mut next: Catalog,
        hot: Arc<Hot>,
    ) -> Result<Option<tokio::sync::OwnedMutexGuard<Progress>>> {
        let changes = log::diff(current, &next);
        if changes.is_empty() {
            return Ok(None);
        }
        let changes = crate::volatile::durable_changes(changes, current, &next);
        if changes.is_empty() {
            // Only volatile databases changed: in memory, at the same version.
            self.set_state(Arc::new(next), hot);
            return Ok(None);
        }
        if !self.inner.durable {
            next.version = current.version + 1;
            next.format_version = FORMAT_VERSION;
            self.set_state(Arc::new(next), hot);
            return Ok(None);
        }
        // The version this commit's changes apply to: `current`, or what another writer of
        // the store committed meanwhile (see `crate::rebase`).
        let mut base: Option<Catalog> = None;
        let mut tries = 0;
        let (location, size) = loop {
            let version = base.as_ref().unwrap_or(current).version + 1;
            let record = log::encode_record(&Record {
                format_version: FORMAT_VERSION,
                version,
                changes: changes.clone(),
            })?;
            let location = log::record_path(version);
            let size = record.len() as u64;
            let put = self
                .inner
                .store
                .put_opts(&location, PutPayload::from(record), PutMode::Create.into())
                .await;
            match put {
                Ok(_) => break (location, size),
                Err(object_store::Error::AlreadyExists { .. }) => {
                    tries += 1;
                    // What the store holds now (never volatile databases).
                    let loaded = crate::manifest::load(self.inner.store.as_ref())
                        .await?
                        .catalog;
                    let theirs = log::diff(&crate::volatile::durable_catalog(current), &loaded);
                    let clash = crate::rebase::conflict(&changes, &theirs);
                    if clash.is_some() || tries > MAX_REBASES || loaded.version < version {
                        let reason = clash.map_or_else(
                            || format!("catalog version {version} was committed by another writer"),
                            |what| {
                                format!(
                                    "{what} was changed by another writer since this command read it"
                                )
                            },
                        );
                        let mut live = loaded;
                        crate::volatile::keep_volatile(&mut live, current);
                        self.set_catalog(live);
                        return Err(Error::Conflict(reason));
                    }
                    let mut rebased = loaded.clone();
                    log::apply(&mut rebased, changes.clone())?;
                    crate::volatile::keep_volatile(&mut rebased, &next);
                    next = rebased;
                    base = Some(loaded);
                }
                Err(e) => return Err(e.into()),
            }
        };
        next.version = base.as_ref().unwrap_or(current).version + 1;
        next.format_version = FORMAT_VERSION;
        if let Err(e) = self.sync(&location).await {
            // Not durable: take it back (best effort) so that nothing changed.
            let _ = self.inner.store.delete(&location).await;
            return Err(e);
        }
        self.set_state(Arc::new(next), hot);
        progress.records += 1;
        progress.bytes += size;
        let due = progress.records >= self.inner.options.checkpoint_every.max(1)
            || progress.bytes >= progress.checkpoint_bytes.max(MIN_CHECKPOINT_BYTES);
        Ok(due.then_some(progress))
    }
}

/// The error of a failed record, for the other commits of its group.
fn again(e: &Error) -> Error {
    match e {
        Error::Conflict(m) => Error::Conflict(m.clone()),
        other => Error::Io(std::io::Error::other(format!(
            "the catalog log record of this commit's group could not be written: {other}"
        ))),
    }
}

/// The committer task: one group at a time, until the storage is gone.
async fn committer(inner: Weak<Inner>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let Some(inner) = inner.upgrade() else {
            break;
        };
        let storage = Storage { inner };
        storage.run_group(group).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use crate::catalog::{Column, DEFAULT_DATABASE, Table};
    use crate::error::Error;
    use crate::store::Storage;
    use kql_types::KqlType;

    fn column(name: &str) -> Column {
        Column {
            name: name.into(),
            kql_type: KqlType::Long,
            ..Column::default()
        }
    }

    /// Commits queued while a record is being written go together in the next record:
    /// one version for all of them, each applied, each caller answered with its own value,
    /// and a commit whose function fails changes nothing and fails alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_commits_share_one_record_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(dir.path()).await.unwrap();
        let before = storage.catalog().version;
        // Hold the lock, as a record being written does, while the commits queue.
        let lock = storage.inner.commit_lock.lock().await;
        let mut tasks = Vec::new();
        for i in 0..20 {
            let s = storage.clone();
            tasks.push(tokio::spawn(async move {
                s.commit(move |c| {
                    if i == 7 {
                        // Changes, then fails: none of it may stay.
                        c.require_database_mut(DEFAULT_DATABASE)?
                            .tables
                            .insert("Bad".into(), Table::new("Bad", vec![column("a")]).into());
                        return Err(Error::invalid("commit 7 fails"));
                    }
                    let name = format!("T{i}");
                    c.require_database_mut(DEFAULT_DATABASE)?
                        .tables
                        .insert(name.clone(), Table::new(&name, vec![column("a")]).into());
                    Ok(i)
                })
                .await
            }));
            if i == 0 {
                // The committer takes the first alone and waits for the lock.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(lock);
        for (i, task) in tasks.into_iter().enumerate() {
            let answer = task.await.unwrap();
            if i == 7 {
                assert!(
                    matches!(answer, Err(Error::InvalidArgument(_))),
                    "{answer:?}"
                );
            } else {
                assert_eq!(answer.unwrap(), i);
            }
        }
        let catalog = storage.catalog();
        assert_eq!(
            catalog.version,
            before + 2,
            "one record for the first, one for the rest"
        );
        let db = catalog.require_database(DEFAULT_DATABASE).unwrap();
        assert_eq!(db.tables.len(), 19);
        assert!(!db.tables.contains_key("Bad"));
        drop(catalog);
        drop(storage);
        // What the records hold is what was committed.
        let reopened = Storage::open_local(dir.path()).await.unwrap();
        let catalog = reopened.catalog();
        assert_eq!(catalog.version, before + 2);
        let db = catalog.require_database(DEFAULT_DATABASE).unwrap();
        assert_eq!(db.tables.len(), 19);
        assert!(db.tables.contains_key("T19") && !db.tables.contains_key("T7"));
    }
}
