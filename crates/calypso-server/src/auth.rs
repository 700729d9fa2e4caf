//! Authentication of requests: in `none` mode every request runs as
//! [`Caller::Unauthenticated`]; in `jwt` mode a valid `Authorization: Bearer <token>` is
//! required (401 otherwise) and the request runs as the token's principal, whose roles
//! the engine checks (403 when they do not allow the operation).
//!
//! `/v1/rest/auth/metadata` tells SDKs where to get tokens: `{"AzureAD": null}` in `none`
//! mode, the configured `AzureAD` block in `jwt` mode.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use calypso_auth::{Authenticator, JwtConfig};
use calypso_engine::Caller;
use serde::{Deserialize, Serialize};

use crate::reply::{context, error_response};
use crate::wire::OneApiError;

/// The `AzureAD` block of `/v1/rest/auth/metadata` (field names as the SDKs read them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct AadMetadata {
    /// The authority host (`https://login.microsoftonline.com`).
    pub login_endpoint: String,
    /// Whether interactive logins need MFA.
    pub login_mfa_required: bool,
    /// The public client id SDKs use for interactive logins.
    pub kusto_client_app_id: String,
    /// Its redirect URI.
    pub kusto_client_redirect_uri: String,
    /// The resource tokens are requested for (the audience; scope `<this>/.default`).
    pub kusto_service_resource_id: String,
    /// The first-party authority.
    pub first_party_authority_url: String,
}

impl Default for AadMetadata {
    /// The public cloud's values, as the SDKs assume them when a cluster gives none.
    fn default() -> AadMetadata {
        AadMetadata {
            login_endpoint: "https://login.microsoftonline.com".into(),
            login_mfa_required: false,
            kusto_client_app_id: "db662dc1-0cfe-4e1c-a843-19a68e65be58".into(),
            kusto_client_redirect_uri: "https://microsoft/kustoclient".into(),
            kusto_service_resource_id: calypso_auth::KUSTO_AUDIENCE.into(),
            first_party_authority_url:
                "https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a".into(),
        }
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone, Default)]
pub enum AuthMode {
    /// No authentication: every request may do everything (loopback, or `--allow-anonymous`).
    #[default]
    None,
    /// Bearer tokens from the configured OIDC issuers.
    Jwt {
        /// Issuers, audiences, skew.
        config: JwtConfig,
        /// What `/v1/rest/auth/metadata` answers.
        metadata: AadMetadata,
    },
}

/// The authentication state of a running server.
#[derive(Clone)]
pub struct Auth {
    authenticator: Option<Authenticator>,
    metadata_body: Arc<Vec<u8>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("jwt", &self.authenticator.is_some())
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// No authentication.
    pub fn none() -> Auth {
        Auth {
            authenticator: None,
            metadata_body: Arc::new(br#"{"AzureAD":null}"#.to_vec()),
        }
    }

    /// The state for `mode`.
    pub fn new(mode: AuthMode) -> Result<Auth, calypso_auth::AuthError> {
        match mode {
            AuthMode::None => Ok(Auth::none()),
            AuthMode::Jwt { config, metadata } => {
                let body = serde_json::json!({ "AzureAD": metadata }).to_string();
                Ok(Auth {
                    authenticator: Some(Authenticator::new(config)?),
                    metadata_body: Arc::new(body.into_bytes()),
                })
            }
        }
    }

    /// Whether bearer tokens are required.
    pub fn is_required(&self) -> bool {
        self.authenticator.is_some()
    }

    /// The body of `/v1/rest/auth/metadata`.
    pub fn metadata_body(&self) -> &[u8] {
        &self.metadata_body
    }
}

/// Middleware: authenticates the request and stores its [`Caller`] in the request's
/// extensions; answers 401 (OneApi JSON, `WWW-Authenticate: Bearer ...`) for a missing or
/// invalid token. The metadata endpoint and CORS preflights need no token.
pub async fn authenticate(State(auth): State<Auth>, mut req: Request, next: Next) -> Response {
    let open = req.method() == Method::OPTIONS || req.uri().path() == "/v1/rest/auth/metadata";
    let caller = match &auth.authenticator {
        None => Caller::Unauthenticated,
        Some(_) if open => Caller::Unauthenticated,
        Some(a) => {
            let header_value = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match a.authenticate(header_value).await {
                Ok(identity) => Caller::Principal(Box::new(identity)),
                Err(e) => {
                    let ctx = context(req.headers());
                    tracing::info!(activity_id = %ctx.activity_id, error = %e, "authentication failed");
                    let mut resp = match e.http_status() {
                        401 => {
                            error_response(&OneApiError::unauthorized(&e.to_string(), &ctx), &ctx)
                        }
                        status => error_response(
                            &OneApiError::new(
                                status,
                                e.kusto_code(),
                                "The request could not be authenticated",
                                "Kusto.Data.Exceptions.KustoServiceException",
                                e.to_string(),
                                false,
                                &ctx,
                            ),
                            &ctx,
                        ),
                    };
                    if let Some(v) = e
                        .www_authenticate()
                        .and_then(|v| HeaderValue::from_str(&v).ok())
                    {
                        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                    }
                    return resp;
                }
            }
        }
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}
