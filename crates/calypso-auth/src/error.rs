//! Authentication errors, with the HTTP status and Kusto error code each maps to.

use thiserror::Error;

/// Why a request could not be authenticated.
///
/// Messages name the offending claim or header value but never contain the token itself.
///
/// HTTP mapping ([`AuthError::http_status`]):
/// * every problem with the request's credentials → **401** (the client must get a new token);
/// * [`AuthError::KeyFetch`] → **503**: the token may well be valid but the identity
///   provider's signing keys cannot be fetched right now, so the client should retry later
///   rather than throw its token away;
/// * [`AuthError::Config`] → **500**: the server's own configuration is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header (or an empty one).
    #[error("The request has no Authorization header: a bearer token is required")]
    MissingToken,
    /// The `Authorization` header does not use the `Bearer` scheme.
    #[error(
        "The Authorization header uses the '{0}' scheme: Calypso accepts only 'Bearer <token>'"
    )]
    UnsupportedScheme(String),
    /// The token is malformed or fails a check that has no variant of its own.
    #[error("{0}")]
    InvalidToken(String),
    /// The token's `alg` is `none`, symmetric (`HS*`) or unknown.
    #[error("Algorithm {0} is not allowed: Calypso accepts only asymmetric signatures")]
    DisallowedAlgorithm(String),
    /// The token's `iss` is not one of the configured issuers.
    #[error("The token's issuer '{0}' is not accepted")]
    UnknownIssuer(String),
    /// No key of the issuer's JWKS matches the token's `kid` (or, for a token without `kid`,
    /// the JWKS does not have exactly one key of the right type).
    #[error("Unknown signing key '{0}'")]
    UnknownKey(String),
    /// The signature does not verify with the issuer's key.
    #[error("The token's signature is invalid")]
    InvalidSignature,
    /// `exp` (plus the allowed clock skew) is in the past. Holds the RFC 3339 time of `exp`.
    #[error("The token expired at {0}")]
    Expired(String),
    /// `nbf` (minus the allowed clock skew) is in the future. Holds the RFC 3339 time of `nbf`.
    #[error("The token is not valid before {0}")]
    NotYetValid(String),
    /// None of the token's audiences is accepted. Holds the audience(s), comma-separated.
    #[error("The token's audience '{0}' is not accepted")]
    InvalidAudience(String),
    /// The identity provider's discovery document or JWKS could not be fetched.
    #[error("Cannot fetch the signing keys of the identity provider: {0}")]
    KeyFetch(String),
    /// The authentication configuration is invalid.
    #[error("Invalid authentication configuration: {0}")]
    Config(String),
}

impl AuthError {
    /// The HTTP status the server should answer with: 401 for credential problems, 503 for
    /// [`AuthError::KeyFetch`], 500 for [`AuthError::Config`].
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::KeyFetch(_) => 503,
            AuthError::Config(_) => 500,
            _ => 401,
        }
    }

    /// The Kusto (OneApi) error code: `Unauthorized` for 401s, `General_ServiceUnavailable`
    /// for 503, `Internal_UnexpectedError` for 500.
    pub fn kusto_code(&self) -> &'static str {
        match self.http_status() {
            503 => "General_ServiceUnavailable",
            500 => "Internal_UnexpectedError",
            _ => "Unauthorized",
        }
    }

    /// The `WWW-Authenticate` header value for a 401 answer (RFC 6750 §3): plain `Bearer` when
    /// the request had no credentials, else `Bearer error="invalid_token",
    /// error_description="..."`. `None` for errors that are not 401.
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            AuthError::MissingToken | AuthError::UnsupportedScheme(_) => Some("Bearer".to_string()),
            _ if self.http_status() == 401 => {
                let description: String = self
                    .to_string()
                    .chars()
                    .map(|c| match c {
                        '"' | '\\' => '\'',
                        c if c.is_control() => ' ',
                        c => c,
                    })
                    .collect();
                Some(format!(
                    "Bearer error=\"invalid_token\", error_description=\"{description}\""
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        assert_eq!(AuthError::MissingToken.http_status(), 401);
        assert_eq!(AuthError::InvalidSignature.kusto_code(), "Unauthorized");
        assert_eq!(AuthError::KeyFetch("x".into()).http_status(), 503);
        assert_eq!(
            AuthError::KeyFetch("x".into()).kusto_code(),
            "General_ServiceUnavailable"
        );
        assert_eq!(AuthError::Config("x".into()).http_status(), 500);
        assert_eq!(
            AuthError::MissingToken.www_authenticate().as_deref(),
            Some("Bearer")
        );
        assert_eq!(
            AuthError::InvalidAudience("a\"b".into())
                .www_authenticate()
                .as_deref(),
            Some(
                "Bearer error=\"invalid_token\", error_description=\"The token's audience 'a'b' is not accepted\""
            )
        );
        assert_eq!(AuthError::KeyFetch("x".into()).www_authenticate(), None);
        assert_eq!(
            AuthError::DisallowedAlgorithm("HS256".into()).to_string(),
            "Algorithm HS256 is not allowed: Calypso accepts only asymmetric signatures"
        );
    }
}
