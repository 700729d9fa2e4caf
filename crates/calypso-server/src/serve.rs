//! Running the server: bind, print the address, serve until SIGINT/SIGTERM, then drain.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use calypso_engine::Engine;

use crate::http::{AppState, router};

/// Starts Calypso on `listen` with its data in `data_dir`; returns when a shutdown signal
/// arrived and in-flight requests (ingestions included) finished.
pub async fn serve(listen: SocketAddr, data_dir: &Path) -> std::io::Result<()> {
    let engine = Engine::open(data_dir).await.map_err(|e| {
        std::io::Error::other(format!(
            "cannot open the data directory {}: {e}",
            data_dir.display()
        ))
    })?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, data_dir = %data_dir.display(), "Calypso is listening");
    // Tests and scripts read this line to find the port when started with port 0.
    println!("Calypso listening on http://{local}");
    let app = router(AppState {
        engine: Arc::new(engine),
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("Calypso stopped");
    Ok(())
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
