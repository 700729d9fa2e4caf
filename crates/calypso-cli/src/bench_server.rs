//! The in-process server the ingestion benchmarks run against: 127.0.0.1, port 0, a
//! temporary data directory removed when it stops.

use std::path::PathBuf;

use serde_json::{Value, json};

/// A running in-process server.
pub struct BenchServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The server's storage (to seal and merge on demand).
    pub storage: calypso_storage::Storage,
    dir: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl BenchServer {
    /// Starts a server on a fresh data directory named after `name` and this process.
    pub async fn start(name: &str) -> Result<BenchServer, String> {
        let dir = std::env::temp_dir().join(format!("calypso-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let server = calypso_server::bind(calypso_server::ServeOptions::new(
            ([127, 0, 0, 1], 0).into(),
            dir.clone(),
        ))
        .await
        .map_err(|e| e.to_string())?;
        let base = format!("http://{}", server.local_addr());
        let storage = server.engine().storage().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(server.run_until(async {
            let _ = stopped.await;
        }));
        Ok(BenchServer {
            base,
            storage,
            dir,
            stop,
            handle,
        })
    }

    /// Stops the server and removes its data directory.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.handle.await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// POSTs a JSON body; the reply's JSON, or an error naming the URL and status.
pub async fn post(client: &reqwest::Client, url: &str, body: Value) -> Result<Value, String> {
    let resp = client
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{url}: {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// The row count of `table` in NetDefaultDB.
pub async fn count(client: &reqwest::Client, base: &str, table: &str) -> Result<u64, String> {
    let v = post(
        client,
        &format!("{base}/v2/rest/query"),
        json!({"db": "NetDefaultDB", "csl": format!("{table} | count")}),
    )
    .await?;
    v.as_array()
        .and_then(|frames| frames.iter().find(|f| f["TableKind"] == "PrimaryResult"))
        .and_then(|f| f["Rows"][0][0].as_u64())
        .ok_or_else(|| format!("unexpected count reply: {v}"))
}
