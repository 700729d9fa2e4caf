//! Bearer-token validation: header, algorithm, issuer, signature, lifetime, audience.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use crate::config::{JwtConfig, checked_url, is_allowed_url, normalize_audience, trim_slash};
use crate::jwks::{ALLOWED_ALGORITHMS, KeySource};
use crate::{AuthError, Identity};

/// Longest token accepted (Entra tokens with many groups stay far below).
const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Validates bearer tokens of the configured issuers and turns them into [`Identity`]s.
///
/// Cheap to clone (one `Arc`); `Send + Sync`. Signing keys are fetched on first use and
/// cached per issuer (see [`JwtConfig`] for the refresh rules); fetches never block the
/// async runtime.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: Vec<Issuer>,
    audiences: HashSet<String>,
    clock_skew: Duration,
}

struct Issuer {
    /// As configured, without a trailing slash.
    issuer: String,
    tenant_id: Option<String>,
    keys: KeySource,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field(
                "issuers",
                &self
                    .inner
                    .issuers
                    .iter()
                    .map(|i| &i.issuer)
                    .collect::<Vec<_>>(),
            )
            .field("audiences", &self.inner.audiences)
            .field("clock_skew", &self.inner.clock_skew)
            .finish()
    }
}

impl Authenticator {
    /// Checks `cfg` (at least one issuer; issuer and JWKS URLs `https://`, or `http://` on
    /// loopback) and builds the HTTP client. Makes no request yet.
    pub fn new(cfg: JwtConfig) -> Result<Self, AuthError> {
        if cfg.issuers.is_empty() {
            return Err(AuthError::Config("no token issuer is configured".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(cfg.http_timeout)
            .connect_timeout(cfg.http_timeout)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 5 {
                    attempt.error("too many redirects")
                } else if is_allowed_url(attempt.url()) {
                    attempt.follow()
                } else {
                    attempt.error("redirect to a URL that is not https://")
                }
            }))
            .user_agent(concat!("calypso/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AuthError::Config(format!("cannot build the HTTP client: {e}")))?;
        let mut issuers = Vec::with_capacity(cfg.issuers.len());
        for ic in &cfg.issuers {
            let issuer = trim_slash(ic.issuer.trim()).to_string();
            checked_url(&issuer, "issuer")?;
            let jwks_uri = ic
                .jwks_uri
                .as_deref()
                .map(|u| checked_url(u.trim(), "jwks_uri"))
                .transpose()?;
            let keys = KeySource::new(
                issuer.clone(),
                jwks_uri,
                http.clone(),
                cfg.jwks_min_refresh_interval,
                cfg.jwks_cache_ttl,
            );
            issuers.push(Issuer {
                issuer,
                tenant_id: ic.tenant_id.clone().filter(|t| !t.is_empty()),
                keys,
            });
        }
        let audiences: HashSet<String> = cfg
            .effective_audiences()
            .iter()
            .map(|a| normalize_audience(a))
            .filter(|a| !a.is_empty())
            .collect();
        Ok(Authenticator {
            inner: Arc::new(Inner {
                issuers,
                audiences,
                clock_skew: cfg.clock_skew,
            }),
        })
    }

    /// Authenticates a request from its `Authorization` header value, which must be
    /// `Bearer <jwt>` (scheme case-insensitive).
    ///
    /// Order of checks: header and algorithm (`none` and `HS*` are rejected before any key
    /// lookup), issuer, signing key (`kid`), signature, `exp`/`nbf` (with the clock skew),
    /// audience. Then the identity is built from the claims ([`Identity::from_claims`]).
    pub async fn authenticate(
        &self,
        authorization_header: Option<&str>,
    ) -> Result<Identity, AuthError> {
        let token = bearer_token(authorization_header)?;
        self.authenticate_token(token).await
    }

    /// Authenticates a bare JWT (without the `Bearer ` prefix).
    pub async fn authenticate_token(&self, token: &str) -> Result<Identity, AuthError> {
        let token = token.trim();
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::InvalidToken(format!(
                "The bearer token is longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, _signature] = parts.as_slice() else {
            return Err(AuthError::InvalidToken(
                "The bearer token is not a JWT: expected three dot-separated parts".into(),
            ));
        };
        let header = decode_part(header, "header")?;
        let (alg, kid) = check_header(&header)?;

        // Unverified look at the payload, only to choose the issuer's keys.
        let unverified = decode_part(payload, "payload")?;
        let iss = unverified
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| AuthError::InvalidToken("The token has no 'iss' claim".into()))?;
        let issuer = self
            .inner
            .issuers
            .iter()
            .find(|i| i.issuer == trim_slash(iss))
            .ok_or_else(|| AuthError::UnknownIssuer(iss.to_string()))?;

        let key = issuer.keys.key_for(kid.as_deref(), alg).await?;
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Value>(token, &key.key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::InvalidSignature,
                _ => AuthError::InvalidToken(format!("The token cannot be verified: {e}")),
            })?
            .claims;
        let Value::Object(map) = &claims else {
            return Err(AuthError::InvalidToken(
                "The token's payload is not a JSON object".into(),
            ));
        };
        self.check_lifetime(map)?;
        self.check_audience(map)?;
        Identity::from_claims(claims, iss, issuer.tenant_id.as_deref())
    }

    fn check_lifetime(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let skew = self.inner.clock_skew.as_secs_f64();
        let exp = numeric_date(claims, "exp")?
            .ok_or_else(|| AuthError::InvalidToken("The token has no 'exp' claim".into()))?;
        if now > exp + skew {
            return Err(AuthError::Expired(format_time(exp)));
        }
        if let Some(nbf) = numeric_date(claims, "nbf")?
            && now + skew < nbf
        {
            return Err(AuthError::NotYetValid(format_time(nbf)));
        }
        Ok(())
    }

    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if audiences.is_empty() {
            return Err(AuthError::InvalidToken(
                "The token has no 'aud' claim".into(),
            ));
        }
        if audiences
            .iter()
            .any(|a| self.inner.audiences.contains(&normalize_audience(a)))
        {
            Ok(())
        } else {
            Err(AuthError::InvalidAudience(audiences.join(", ")))
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header value.
fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty());
    let Some(header) = header else {
        return Err(AuthError::MissingToken);
    };
    let (scheme, token) = header
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Only a scheme name: never echo credentials (such as a bare token).
        let scheme: String = if scheme.len() > 20 || scheme.contains('.') {
            "(none)".to_string()
        } else {
            scheme
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect()
        };
        return Err(AuthError::UnsupportedScheme(scheme));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token)
}

/// Base64url-decodes and parses one JSON part of a JWT.
fn decode_part(part: &str, what: &str) -> Result<Map<String, Value>, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| AuthError::InvalidToken(format!("The token's {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(AuthError::InvalidToken(format!(
            "The token's {what} is not a JSON object"
        ))),
    }
}

/// The accepted algorithm and the `kid` of a token header.
fn check_header(header: &Map<String, Value>) -> Result<(Algorithm, Option<String>), AuthError> {
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.as_str(),
        _ => {
            return Err(AuthError::InvalidToken(
                "The token header has no 'alg'".into(),
            ));
        }
    };
    let Some((_, alg)) = ALLOWED_ALGORITHMS.iter().find(|(name, _)| *name == alg) else {
        let shown: String = alg.chars().take(16).filter(|c| !c.is_control()).collect();
        return Err(AuthError::DisallowedAlgorithm(shown));
    };
    if header.contains_key("crit") {
        return Err(AuthError::InvalidToken(
            "The token header has critical extensions ('crit'), which Calypso does not support"
                .into(),
        ));
    }
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => {
            return Err(AuthError::InvalidToken(
                "The token header's 'kid' is not a string".into(),
            ));
        }
    };
    Ok((*alg, kid))
}

/// A NumericDate claim (seconds since the epoch), if present.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, AuthError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|t| t.is_finite())
            .map(Some)
            .ok_or_else(|| {
                AuthError::InvalidToken(format!("The token's '{name}' is not a number"))
            }),
    }
}

fn format_time(secs: f64) -> String {
    DateTime::from_timestamp(secs.floor() as i64, 0).map_or_else(
        || format!("{secs} (seconds since 1970)"),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn authenticator_is_shareable() {
        fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}
        fn send<T: Send>(_: T) {}
        send_sync_clone::<Authenticator>();
        if let Ok(a) = Authenticator::new(JwtConfig::new(vec![crate::IssuerConfig::new(
            "https://login.example.com/t",
        )])) {
            // The future of `authenticate` can run on a multi-threaded runtime (axum).
            send(a.authenticate(None));
        }
    }

    #[test]
    fn bearer_header() {
        assert_eq!(bearer_token(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(Some("  bEaReR   abc  ")), Ok("abc"));
        assert_eq!(bearer_token(None), Err(AuthError::MissingToken));
        assert_eq!(bearer_token(Some("  ")), Err(AuthError::MissingToken));
        assert_eq!(bearer_token(Some("Bearer")), Err(AuthError::MissingToken));
        assert_eq!(
            bearer_token(Some("Basic dXNlcjpwYXNz")),
            Err(AuthError::UnsupportedScheme("Basic".into()))
        );
        assert_eq!(
            bearer_token(Some("eyJhbGciOi.eyJ.sig")),
            Err(AuthError::UnsupportedScheme("(none)".into()))
        );
    }

    fn header(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn header_algorithms() {
        assert_eq!(
            check_header(&header(json!({"alg": "RS256", "kid": "k"}))),
            Ok((Algorithm::RS256, Some("k".into())))
        );
        assert_eq!(
            check_header(&header(json!({"alg": "ES384"}))),
            Ok((Algorithm::ES384, None))
        );
        for bad in ["none", "None", "HS256", "HS384", "HS512", "RS1", "rs256"] {
            assert_eq!(
                check_header(&header(json!({"alg": bad, "kid": "k"}))),
                Err(AuthError::DisallowedAlgorithm(bad.into())),
                "{bad}"
            );
        }
        assert!(matches!(
            check_header(&header(json!({"kid": "k"}))),
            Err(AuthError::InvalidToken(_))
        ));
        assert!(matches!(
            check_header(&header(json!({"alg": "RS256", "crit": ["b64"]}))),
            Err(AuthError::InvalidToken(_))
        ));
    }

    #[test]
    fn times() {
        assert_eq!(format_time(1_767_225_600.0), "2026-01-01T00:00:00Z");
        let claims = header(json!({"exp": "soon"}));
        assert!(numeric_date(&claims, "exp").is_err());
        assert_eq!(numeric_date(&claims, "nbf"), Ok(None));
    }
}
