//! An object store that delays or fails writes on request, for the storage's fault tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// What the next writes do.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// Puts of paths containing this text wait this long first.
    pub delay: Option<(String, Duration)>,
    /// Puts of paths containing this text fail (after any delay).
    pub fail: Option<String>,
}

/// Random failures: each put, copy and delete fails (before it changes anything) with
/// probability `rate`, drawn from a generator seeded with `seed`.
#[derive(Debug, Clone, Copy)]
pub struct RandomFaults {
    pub seed: u64,
    pub rate: f64,
}

/// `inner` with [`Faults`].
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    pub faults: Mutex<Faults>,
    /// The random mode and its generator's state.
    random: Mutex<Option<(RandomFaults, u64)>>,
    /// Failures injected so far.
    pub injected: std::sync::atomic::AtomicU64,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Arc<FaultyStore> {
        Arc::new(FaultyStore {
            inner,
            faults: Mutex::new(Faults::default()),
            random: Mutex::new(None),
            injected: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Turns random failures on (`Some`) or off.
    pub fn set_random(&self, random: Option<RandomFaults>) {
        *self.random.lock().unwrap() = random.map(|r| (r, r.seed));
    }

    /// A failure, if the random mode draws one for the operation `what`.
    fn draw(&self, what: &str) -> Result<()> {
        let mut guard = self.random.lock().unwrap();
        let Some((r, state)) = guard.as_mut() else {
            return Ok(());
        };
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let x = (*state >> 11) as f64 / (1u64 << 53) as f64;
        if x < r.rate {
            self.injected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(object_store::Error::Generic {
                store: "FaultyStore",
                source: format!("injected failure: {what}").into(),
            });
        }
        Ok(())
    }

    pub fn set(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let faults = self.faults.lock().unwrap().clone();
        if let Some((part, delay)) = &faults.delay
            && location.as_ref().contains(part.as_str())
        {
            tokio::time::sleep(*delay).await;
        }
        self.draw(&format!("writing {location}"))?;
        if let Some(part) = &faults.fail
            && location.as_ref().contains(part.as_str())
        {
            return Err(object_store::Error::Generic {
                store: "FaultyStore",
                source: format!("injected failure writing {location}").into(),
            });
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        if let Err(e) = self.draw("deleting") {
            return Box::pin(futures::stream::once(async move { Err(e) }));
        }
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.draw(&format!("copying {from} to {to}"))?;
        self.inner.copy_opts(from, to, options).await
    }
}
