//! Running the server: bind, print the address, serve until SIGINT/SIGTERM, then drain.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use calypso_engine::Engine;

use crate::admission::Limits;
use crate::http::{AppState, router};

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on (port 0: any free port, printed at start).
    pub listen: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Concurrency limits.
    pub limits: Limits,
}

/// A bound, not yet running server.
pub struct Server {
    listener: tokio::net::TcpListener,
    app: axum::Router,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// Opens the data directory and binds the listener.
pub async fn bind(options: ServeOptions) -> std::io::Result<Server> {
    let ServeOptions {
        listen,
        data_dir,
        limits,
    } = options;
    let engine = Engine::open(&data_dir).await.map_err(|e| {
        std::io::Error::other(format!(
            "cannot open the data directory {}: {e}",
            data_dir.display()
        ))
    })?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local_addr = listener.local_addr()?;
    tracing::info!(address = %local_addr, data_dir = %data_dir.display(), "Calypso is listening");
    Ok(Server {
        listener,
        app: router(AppState::with_limits(Arc::new(engine), limits)),
        local_addr,
    })
}

impl Server {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(shutdown)
            .await?;
        tracing::info!("Calypso stopped");
        Ok(())
    }
}

/// Starts Calypso as `options` say; returns when a shutdown signal (SIGINT, SIGTERM)
/// arrived and in-flight requests (ingestions included) finished.
pub async fn serve(options: ServeOptions) -> std::io::Result<()> {
    let server = bind(options).await?;
    // Tests and scripts read this line to find the port when started with port 0.
    println!("Calypso listening on http://{}", server.local_addr());
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
