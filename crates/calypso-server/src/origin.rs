//! Cross-site safety: which web pages may call this server.
//!
//! Browsers send cross-origin "simple requests" (a POST with `Content-Type: text/plain`, a
//! form post) without asking first (no CORS preflight) and merely hide the answer from the
//! page; the request itself runs. So CORS headers alone do not protect a local server from a
//! page on another site. Two checks run before anything else does:
//!
//! 1. **Origin.** A request that carries an `Origin` header is refused with 403 unless the
//!    origin is on the allow list (exact match of scheme, host and port:
//!    `https://dataexplorer.azure.com` and each `--cors-origin`) or is the server's own origin
//!    (the `Host` the request was sent to). Clients other than browsers send no `Origin` and
//!    are not affected. The same list answers CORS preflights (see `http::router`).
//! 2. **Host** (DNS rebinding). Without authentication on a loopback address, the `Host`
//!    header must name a loopback address or `localhost`; a page of `evil.example` whose
//!    name was re-pointed at 127.0.0.1 sends `Host: evil.example` and is refused.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::reply::{context, error_response};
use crate::wire::OneApiError;

/// The origin of the Azure Data Explorer web UI, allowed by default.
pub const ADX_WEB_UI: &str = "https://dataexplorer.azure.com";

/// Which origins and hosts may call the server.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// Allowed origins, normalized (lower case, no trailing slash, no default port).
    allowed: Vec<String>,
    /// Whether the `Host` header must name a loopback address or `localhost`.
    loopback_hosts_only: bool,
}

impl Default for OriginPolicy {
    fn default() -> OriginPolicy {
        OriginPolicy::new(&[])
    }
}

impl OriginPolicy {
    /// The ADX web UI plus `extra` (each `scheme://host[:port]`).
    pub fn new(extra: &[String]) -> OriginPolicy {
        let mut allowed = vec![ADX_WEB_UI.to_string()];
        allowed.extend(extra.iter().filter_map(|o| normalize(o)));
        OriginPolicy {
            allowed,
            loopback_hosts_only: false,
        }
    }

    /// The same policy, requiring (or not) a loopback `Host`.
    pub fn with_loopback_hosts_only(mut self, on: bool) -> OriginPolicy {
        self.loopback_hosts_only = on;
        self
    }

    /// Whether a `--cors-origin` value is a valid origin.
    pub fn is_valid_origin(origin: &str) -> bool {
        normalize(origin).is_some()
    }

    /// Whether a page of `origin` may call the server when it sends to `host`.
    pub fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let Some(o) = normalize(origin) else {
            // `null` (sandboxed frames, file pages) and anything unreadable.
            return false;
        };
        if self.allowed.contains(&o) {
            return true;
        }
        // Same origin: the page was served by this server, at the address it now calls.
        host.is_some_and(|h| {
            let h = h.to_ascii_lowercase();
            [format!("http://{h}"), format!("https://{h}")]
                .iter()
                .filter_map(|s| normalize(s))
                .any(|s| s == o)
        })
    }

    /// Whether a request addressed to `host` (the `Host` header) may be served.
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        if !self.loopback_hosts_only {
            return true;
        }
        // HTTP/1.0 requests may carry no Host; a rebinding browser always sends one.
        let Some(host) = host else { return true };
        is_loopback_host(host)
    }

    /// Why the request must be refused, if it must.
    fn refusal(&self, headers: &HeaderMap) -> Option<String> {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        if !self.host_allowed(host) {
            return Some(format!(
                "Requests to this server must be addressed to a loopback address or localhost, not '{}' (without authentication, Calypso on a loopback address accepts no other Host, against DNS rebinding)",
                host.unwrap_or_default()
            ));
        }
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().unwrap_or("<not text>");
        (!self.origin_allowed(text, host)).then(|| {
            format!(
                "Requests from the web origin '{text}' are not allowed; start the server with --cors-origin {text} to allow it"
            )
        })
    }
}

/// `scheme://host[:port]` in lower case without the scheme's default port, or `None` when
/// `origin` is not an http(s) origin.
fn normalize(origin: &str) -> Option<String> {
    let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = o.split_once("://")?;
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let rest = rest.strip_suffix(default_port).unwrap_or(rest);
    Some(format!("{scheme}://{rest}"))
}

/// `localhost`, `*.localhost`, `127.x.x.x` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let h = host.trim().to_ascii_lowercase();
    let name = if let Some(rest) = h.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, _)) => ip.to_string(),
            None => return false,
        }
    } else {
        match h.rsplit_once(':') {
            Some((n, port)) if port.chars().all(|c| c.is_ascii_digit()) => n.to_string(),
            Some(_) => return false,
            None => h.clone(),
        }
    };
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses requests from origins and to hosts the policy does not allow, before any other
/// layer reads or runs them.
pub(crate) async fn guard(
    State(policy): State<Arc<OriginPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    match policy.refusal(req.headers()) {
        Some(why) => {
            tracing::warn!(reason = %why, "refused a cross-site request");
            let ctx = context(req.headers());
            error_response(&OneApiError::forbidden(&why, &ctx), &ctx)
        }
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly() {
        let p = OriginPolicy::new(&["http://localhost:3000".into()]);
        assert!(p.origin_allowed("https://dataexplorer.azure.com", None));
        assert!(p.origin_allowed("https://DataExplorer.azure.com:443/", None));
        assert!(p.origin_allowed("http://localhost:3000", None));
        assert!(!p.origin_allowed("http://localhost:3001", None));
        assert!(!p.origin_allowed("http://localhost", None));
        assert!(!p.origin_allowed("http://localhost.evil.com", None));
        assert!(!p.origin_allowed("http://127.0.0.1.evil.example", None));
        assert!(!p.origin_allowed("https://dataexplorer.azure.com.evil.example", None));
        assert!(!p.origin_allowed("null", None));
        assert!(!p.origin_allowed("http://evil.example", Some("127.0.0.1:8080")));
    }

    #[test]
    fn the_servers_own_origin_is_allowed() {
        let p = OriginPolicy::default();
        assert!(p.origin_allowed("http://127.0.0.1:8080", Some("127.0.0.1:8080")));
        assert!(!p.origin_allowed("http://127.0.0.1:8081", Some("127.0.0.1:8080")));
    }

    #[test]
    fn hosts_must_be_loopback_when_required() {
        let p = OriginPolicy::default().with_loopback_hosts_only(true);
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "[::1]:80",
            "app.localhost",
        ] {
            assert!(p.host_allowed(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "localhost.evil.com",
            "10.0.0.1",
        ] {
            assert!(!p.host_allowed(Some(bad)), "{bad}");
        }
        assert!(OriginPolicy::default().host_allowed(Some("evil.example")));
    }
}
