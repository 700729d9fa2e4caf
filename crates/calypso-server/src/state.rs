//! The server's shared state: the engine, admission control, authentication and the
//! origin policy.

use std::sync::Arc;

use calypso_engine::Engine;

use crate::admission::{Admission, Limits};
use crate::auth::Auth;
use crate::origin::OriginPolicy;

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Concurrency limits.
    pub admission: Arc<Admission>,
    /// Authentication.
    pub auth: Auth,
    /// Which web origins and hosts may call the server.
    pub origins: Arc<OriginPolicy>,
    /// The longest pause of a client sending a request body.
    pub client_read_timeout: std::time::Duration,
    /// The server's address as clients reach it (`--public-url`), for the URLs of `.get
    /// ingestion resources`; `None`: the request's scheme and `Host`.
    pub public_url: Option<String>,
    /// `http` or `https`.
    pub scheme: &'static str,
}

impl AppState {
    /// State for `engine` with the default limits.
    pub fn new(engine: Arc<Engine>) -> AppState {
        AppState::with_limits(engine, Limits::default())
    }

    /// State for `engine` with `limits`.
    pub fn with_limits(engine: Arc<Engine>, limits: Limits) -> AppState {
        AppState {
            engine,
            client_read_timeout: limits.client_read_timeout,
            admission: Arc::new(Admission::new(limits)),
            auth: Auth::none(),
            origins: Arc::new(OriginPolicy::default()),
            public_url: None,
            scheme: "http",
        }
    }

    /// The same state with the scheme it is served over and the configured public URL.
    pub fn with_public_url(mut self, scheme: &'static str, public_url: Option<String>) -> AppState {
        self.scheme = scheme;
        self.public_url = public_url;
        self
    }

    /// The base URL of this server as the client of a request reaches it.
    pub fn public_url_for(&self, headers: &axum::http::HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_string();
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("{}://{host}", self.scheme)
    }

    /// The same state with `auth`.
    pub fn with_auth(mut self, auth: Auth) -> AppState {
        self.auth = auth;
        self
    }

    /// The same state with `origins`.
    pub fn with_origins(mut self, origins: OriginPolicy) -> AppState {
        self.origins = Arc::new(origins);
        self
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}
