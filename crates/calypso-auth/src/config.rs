//! Configuration of JWT (`jwt` mode) authentication.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::AuthError;

/// The audience of tokens issued for Azure Data Explorer in general
/// (`az account get-access-token --resource https://kusto.kusto.windows.net`).
pub const KUSTO_AUDIENCE: &str = "https://kusto.kusto.windows.net";

/// Default allowed difference between our clock and the issuer's (`exp`/`nbf` checks).
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Default minimum time between two JWKS fetches of one issuer.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Default age after which cached keys are re-fetched (the old keys stay in use if that fails).
pub const DEFAULT_JWKS_CACHE_TTL: Duration = Duration::from_secs(3600);
/// Default timeout of one HTTP request to an identity provider.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of bearer-token authentication.
///
/// In a TOML/JSON config file durations are numbers of seconds, under names ending in `_secs`:
///
/// ```toml
/// audiences = ["https://kusto.kusto.windows.net"]   # optional, see `audiences`
/// cluster_url = "https://calypso.contoso.com"       # optional
/// clock_skew_secs = 60                              # optional
///
/// [[issuers]]
/// issuer = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
///
/// [[issuers]]
/// issuer = "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"
/// jwks_uri = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The accepted issuers (`iss`). At least one is required.
    pub issuers: Vec<IssuerConfig>,
    /// The accepted audiences (`aud`), compared case-insensitively and ignoring a trailing
    /// slash. When empty (the default) the accepted set is [`KUSTO_AUDIENCE`] plus
    /// [`JwtConfig::cluster_url`]; when given, exactly these audiences are accepted.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// This cluster's public URL (e.g. `https://calypso.contoso.com`), accepted as an audience
    /// when `audiences` is empty. Set by the server.
    #[serde(default)]
    pub cluster_url: Option<String>,
    /// Allowed clock difference for `exp` and `nbf`. Default 60 s.
    #[serde(
        default = "default_clock_skew",
        rename = "clock_skew_secs",
        with = "secs"
    )]
    pub clock_skew: Duration,
    /// Minimum time between two JWKS fetches of one issuer, so a flood of tokens with unknown
    /// `kid`s cannot hammer the identity provider. Default 10 s.
    #[serde(
        default = "default_min_refresh_interval",
        rename = "jwks_min_refresh_interval_secs",
        with = "secs"
    )]
    pub jwks_min_refresh_interval: Duration,
    /// Age after which cached keys are re-fetched on next use (stale keys stay in use while
    /// the identity provider cannot be reached). Default 1 h.
    #[serde(
        default = "default_jwks_cache_ttl",
        rename = "jwks_cache_ttl_secs",
        with = "secs"
    )]
    pub jwks_cache_ttl: Duration,
    /// Timeout of each HTTP request to an identity provider. Default 5 s.
    #[serde(
        default = "default_http_timeout",
        rename = "http_timeout_secs",
        with = "secs"
    )]
    pub http_timeout: Duration,
}

/// One accepted token issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The issuer exactly as in the tokens' `iss` claim (a trailing slash is ignored), e.g.
    /// `https://login.microsoftonline.com/{tenant}/v2.0` (Entra v2 tokens) or
    /// `https://sts.windows.net/{tenant}/` (v1 tokens). Must be `https://`, or `http://` on a
    /// loopback host.
    pub issuer: String,
    /// Where the signing keys are. When absent, `jwks_uri` of the discovery document
    /// `{issuer}/.well-known/openid-configuration`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Tenant of the principals of tokens without a `tid` claim (generic OIDC providers);
    /// when absent such tokens use the issuer URL as their tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

impl IssuerConfig {
    /// An issuer whose keys are found through its discovery document.
    pub fn new(issuer: impl Into<String>) -> Self {
        IssuerConfig {
            issuer: issuer.into(),
            jwks_uri: None,
            tenant_id: None,
        }
    }
}

impl JwtConfig {
    /// A configuration accepting `issuers`, with default audiences and timings.
    pub fn new(issuers: Vec<IssuerConfig>) -> Self {
        JwtConfig {
            issuers,
            audiences: Vec::new(),
            cluster_url: None,
            clock_skew: DEFAULT_CLOCK_SKEW,
            jwks_min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            jwks_cache_ttl: DEFAULT_JWKS_CACHE_TTL,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
        }
    }

    /// The audiences accepted: `audiences` if not empty, else [`KUSTO_AUDIENCE`] and
    /// `cluster_url`.
    pub fn effective_audiences(&self) -> Vec<String> {
        if !self.audiences.is_empty() {
            return self.audiences.clone();
        }
        let mut out = vec![KUSTO_AUDIENCE.to_string()];
        out.extend(self.cluster_url.iter().cloned());
        out
    }
}

/// `s` without one trailing `/`.
pub(crate) fn trim_slash(s: &str) -> &str {
    s.strip_suffix('/').unwrap_or(s)
}

/// Canonical form of an audience for comparisons: no trailing slash, lowercase.
pub(crate) fn normalize_audience(s: &str) -> String {
    trim_slash(s.trim()).to_lowercase()
}

/// Parses `url` and checks that it is `https://`, or `http://` on a loopback host
/// (127.0.0.0/8, ::1, `localhost`).
pub(crate) fn checked_url(url: &str, what: &str) -> Result<Url, AuthError> {
    let parsed = Url::parse(url)
        .map_err(|e| AuthError::Config(format!("{what} '{url}' is not a valid URL: {e}")))?;
    if is_allowed_url(&parsed) {
        Ok(parsed)
    } else {
        Err(AuthError::Config(format!(
            "{what} '{url}' must use https:// (http:// is allowed only on a loopback host)"
        )))
    }
}

/// `https://` anywhere, `http://` only on loopback hosts.
pub(crate) fn is_allowed_url(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        },
        _ => false,
    }
}

fn default_clock_skew() -> Duration {
    DEFAULT_CLOCK_SKEW
}
fn default_min_refresh_interval() -> Duration {
    DEFAULT_MIN_REFRESH_INTERVAL
}
fn default_jwks_cache_ttl() -> Duration {
    DEFAULT_JWKS_CACHE_TTL
}
fn default_http_timeout() -> Duration {
    DEFAULT_HTTP_TIMEOUT
}

/// (De)serializes a `Duration` as a number of seconds (integer or fractional).
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if d.subsec_nanos() == 0 {
            s.serialize_u64(d.as_secs())
        } else {
            s.serialize_f64(d.as_secs_f64())
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs)
            .map_err(|e| D::Error::custom(format!("invalid number of seconds {secs}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserializes_with_defaults() {
        let cfg: JwtConfig = serde_json::from_str(
            r#"{"issuers": [{"issuer": "https://login.microsoftonline.com/t/v2.0"}],
                "clock_skew_secs": 30}"#,
        )
        .expect("valid config");
        assert_eq!(cfg.clock_skew, Duration::from_secs(30));
        assert_eq!(cfg.jwks_min_refresh_interval, DEFAULT_MIN_REFRESH_INTERVAL);
        assert_eq!(cfg.http_timeout, DEFAULT_HTTP_TIMEOUT);
        assert_eq!(cfg.issuers[0].jwks_uri, None);
        assert_eq!(cfg.effective_audiences(), vec![KUSTO_AUDIENCE.to_string()]);
        let back: JwtConfig =
            serde_json::from_value(serde_json::to_value(&cfg).expect("serializes"))
                .expect("round trip");
        assert_eq!(back, cfg);
        assert!(serde_json::from_str::<JwtConfig>(r#"{"issuers": [], "bogus": 1}"#).is_err());
    }

    #[test]
    fn audiences() {
        let mut cfg = JwtConfig::new(vec![]);
        cfg.cluster_url = Some("https://calypso.example.com".into());
        assert_eq!(
            cfg.effective_audiences(),
            vec![KUSTO_AUDIENCE, "https://calypso.example.com"]
        );
        cfg.audiences = vec!["api://x".into()];
        assert_eq!(cfg.effective_audiences(), vec!["api://x"]);
        assert_eq!(
            normalize_audience("HTTPS://Kusto.Kusto.Windows.Net/"),
            KUSTO_AUDIENCE
        );
    }

    #[test]
    fn url_rules() {
        for ok in [
            "https://login.microsoftonline.com/t/v2.0",
            "http://127.0.0.1:8080/x",
            "http://127.5.6.7/x",
            "http://localhost:1/x",
            "http://[::1]:9/x",
        ] {
            assert!(checked_url(ok, "issuer").is_ok(), "{ok}");
        }
        for bad in [
            "http://login.microsoftonline.com/t",
            "http://10.0.0.1/x",
            "http://[::2]/x",
            "ftp://127.0.0.1/x",
            "not a url",
        ] {
            assert!(
                matches!(checked_url(bad, "issuer"), Err(AuthError::Config(_))),
                "{bad}"
            );
        }
    }
}
