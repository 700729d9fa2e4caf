//! Authentication of Calypso's HTTP requests with Entra ID (Azure AD) or any OIDC provider.
//!
//! In `jwt` mode every request carries `Authorization: Bearer <jwt>`. [`Authenticator`]
//! validates the token against the configured issuers ([`JwtConfig`]):
//!
//! * only asymmetric algorithms (RS256/384/512, PS256/384/512, ES256/384, EdDSA); `alg: none`
//!   and `HS*` are rejected before any key lookup, and the algorithm must fit the JWK;
//! * `iss` must be a configured issuer (ignoring one trailing slash);
//! * the signing key comes from the issuer's JWKS (`jwks_uri` of its discovery document, or
//!   configured), cached and re-fetched on an unknown `kid` at most once per 10 s;
//! * `exp`/`nbf` are checked with a clock skew (60 s); `aud` must be accepted (by default
//!   `https://kusto.kusto.windows.net` and the cluster's own URL).
//!
//! The result is an [`Identity`] named as Azure Data Explorer names principals
//! (`aaduser=<oid>;<tenant>`, `aadapp=<appid>;<tenant>`), which can be matched against the
//! [`PrincipalName`]s of role assignments.
//!
//! With the `testing` feature, [`testing::TestIdp`] is a local identity provider for tests.

mod config;
mod error;
mod jwks;
mod principal;
mod validate;

#[cfg(feature = "testing")]
pub mod testing;

pub use config::{
    DEFAULT_CLOCK_SKEW, DEFAULT_HTTP_TIMEOUT, DEFAULT_JWKS_CACHE_TTL, DEFAULT_MIN_REFRESH_INTERVAL,
    IssuerConfig, JwtConfig, KUSTO_AUDIENCE,
};
pub use error::AuthError;
pub use principal::{Identity, IdentityKind, PrincipalKind, PrincipalName, PrincipalNameError};
pub use validate::Authenticator;
