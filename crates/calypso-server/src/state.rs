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
        }
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
