//! Running the server: bind, print the address, serve until SIGINT/SIGTERM, then drain
//! (for at most `Limits::shutdown_timeout`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use calypso_engine::Engine;

use crate::admission::Limits;
use crate::auth::{Auth, AuthMode};
use crate::http::{AppState, router};
use crate::origin::OriginPolicy;

/// TLS certificate and key files (PEM).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on (port 0: any free port, printed at start).
    pub listen: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Concurrency limits.
    pub limits: Limits,
    /// Authentication.
    pub auth: AuthMode,
    /// Principals made AllDatabasesAdmin at start (`aaduser=...;tenant`), unless they are.
    pub cluster_admins: Vec<String>,
    /// HTTPS when given; plain HTTP otherwise.
    pub tls: Option<TlsFiles>,
    /// Web origins allowed besides the ADX web UI (`--cors-origin`).
    pub cors_origins: Vec<String>,
    /// Storage tuning (row store sealing, merge period).
    pub storage: calypso_engine::StorageOptions,
    /// The address clients reach the server at (`--public-url`), for the URLs of `.get
    /// ingestion resources`; `None`: each request's scheme and `Host`.
    pub public_url: Option<String>,
    /// The directories `.ingest into` may read local files below (`--ingest-from-dir`;
    /// none: ingestion from local files is off).
    pub ingest_from_dirs: Vec<PathBuf>,
    /// Whether `externaldata` may read http(s) URLs (`--allow-externaldata-http`; off).
    pub allow_externaldata_http: bool,
}

impl ServeOptions {
    /// Plain HTTP without authentication on `listen`, data in `data_dir`.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> ServeOptions {
        ServeOptions {
            listen,
            data_dir,
            limits: Limits::default(),
            auth: AuthMode::None,
            cluster_admins: Vec::new(),
            tls: None,
            cors_origins: Vec::new(),
            storage: calypso_engine::StorageOptions::default(),
            public_url: None,
            ingest_from_dirs: Vec::new(),
            allow_externaldata_http: false,
        }
    }
}

/// A bound, not yet running server.
pub struct Server {
    listener: tokio::net::TcpListener,
    app: axum::Router,
    local_addr: SocketAddr,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    client_read_timeout: Duration,
    shutdown_timeout: Duration,
    engine: Arc<Engine>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Opens the data directory, adds the first cluster admins, loads the TLS certificate and
/// binds the listener.
pub async fn bind(options: ServeOptions) -> std::io::Result<Server> {
    let ServeOptions {
        listen,
        data_dir,
        limits,
        auth,
        cluster_admins,
        tls,
        cors_origins,
        storage,
        public_url,
        ingest_from_dirs,
        allow_externaldata_http,
    } = options;
    if let Some(bad) = cors_origins
        .iter()
        .find(|o| !OriginPolicy::is_valid_origin(o))
    {
        return Err(std::io::Error::other(format!(
            "--cors-origin {bad} is not an origin (expected scheme://host[:port], e.g. http://localhost:3000)"
        )));
    }
    // Without authentication on loopback, only loopback Host names (DNS rebinding).
    let origins = OriginPolicy::new(&cors_origins)
        .with_loopback_hosts_only(matches!(auth, AuthMode::None) && listen.ip().is_loopback());
    let engine = Engine::open_with(&data_dir, storage).await.map_err(|e| {
        std::io::Error::other(format!(
            "cannot open the data directory {}: {e}",
            data_dir.display()
        ))
    })?;
    engine.allow_ingest_from_dirs(ingest_from_dirs);
    engine.allow_externaldata_http(allow_externaldata_http);
    for admin in &cluster_admins {
        engine.ensure_cluster_admin(admin).await.map_err(|e| {
            std::io::Error::other(format!("cannot make {admin} a cluster admin: {e}"))
        })?;
    }
    let cluster_url = match &auth {
        AuthMode::Jwt { config, .. } => config.cluster_url.clone(),
        AuthMode::None => None,
    };
    let auth = Auth::new(auth)
        .map_err(|e| std::io::Error::other(format!("invalid authentication settings: {e}")))?;
    let tls = match tls {
        None => None,
        Some(files) => {
            // ring is the only crypto provider built in; installing it twice is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .map_err(|e| {
                        std::io::Error::other(format!(
                            "cannot load the TLS certificate {} and key {}: {e}",
                            files.cert.display(),
                            files.key.display()
                        ))
                    })?,
            )
        }
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local_addr = listener.local_addr()?;
    // `cluster("...")` naming this server (its URL, host:port, or the configured cluster
    // URL) resolves locally.
    let scheme = if tls.is_some() { "https" } else { "http" };
    engine
        .set_cluster_names(std::iter::once(format!("{scheme}://{local_addr}")).chain(cluster_url));
    tracing::info!(address = %local_addr, data_dir = %data_dir.display(), tls = tls.is_some(), jwt = auth.is_required(), "Calypso is listening");
    let client_read_timeout = limits.client_read_timeout;
    let shutdown_timeout = limits.shutdown_timeout;
    let engine = Arc::new(engine);
    tokio::spawn(queued_worker(Arc::downgrade(&engine)));
    Ok(Server {
        client_read_timeout,
        shutdown_timeout,
        listener,
        engine: Arc::clone(&engine),
        app: router(
            AppState::with_limits(Arc::clone(&engine), limits)
                .with_auth(auth)
                .with_origins(origins)
                .with_public_url(scheme, public_url),
        ),
        local_addr,
        tls,
    })
}

impl Server {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The engine it serves (benchmarks reach its storage through it).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The base URL clients use (`http://` or `https://`).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests for at most
    /// `Limits::shutdown_timeout` (connections still open then are closed). A client that
    /// takes longer than `Limits::client_read_timeout` to send a request's headers is cut
    /// off.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let handle = axum_server::Handle::new();
        let h = handle.clone();
        let deadline = self.shutdown_timeout;
        tokio::spawn(async move {
            shutdown.await;
            h.graceful_shutdown(Some(deadline));
        });
        let std_listener = self.listener.into_std()?;
        let app = self.app.into_make_service();
        match self.tls {
            None => {
                let mut server = axum_server::from_tcp(std_listener).handle(handle);
                limit_slow_clients(server.http_builder(), self.client_read_timeout);
                server.serve(app).await?;
            }
            Some(config) => {
                let mut server = axum_server::from_tcp_rustls(std_listener, config).handle(handle);
                limit_slow_clients(server.http_builder(), self.client_read_timeout);
                server.serve(app).await?;
            }
        }
        tracing::info!("Calypso stopped");
        Ok(())
    }
}

/// HTTP/1 connections whose client takes longer than `timeout` to send a request's
/// headers are closed.
fn limit_slow_clients(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    timeout: Duration,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeout);
}

/// Starts Calypso as `options` say; returns when a shutdown signal (SIGINT, SIGTERM)
/// arrived and in-flight requests (ingestions included) finished.
pub async fn serve(options: ServeOptions) -> std::io::Result<()> {
    let server = bind(options).await?;
    // Tests and scripts read this line to find the port when started with port 0.
    println!("Calypso listening on {}", server.url());
    server.run_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received: finishing in-flight requests");
}

/// The queued-ingestion worker: a pass whenever a message arrives, and every second (for
/// batches whose time is up and messages whose visibility delay ran out), until the engine
/// is gone.
async fn queued_worker(engine: std::sync::Weak<Engine>) {
    loop {
        let Some(e) = engine.upgrade() else {
            return;
        };
        if let Err(err) = e.run_queued_ingestion().await {
            tracing::warn!(error = %err, "queued ingestion pass failed");
        }
        let arrived = async { e.queued_ingestion_arrived().await };
        let _ = tokio::time::timeout(Duration::from_secs(1), arrived).await;
        drop(e);
    }
}
