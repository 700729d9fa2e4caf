//! Signing keys of one issuer: discovery, JWKS fetch, cache and rate-limited refresh.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::Url;
use serde_json::Value;

use crate::AuthError;
use crate::config::is_allowed_url;

/// Largest discovery document / JWKS accepted.
const MAX_BODY_BYTES: usize = 1 << 20;
/// Smallest RSA modulus accepted.
const MIN_RSA_BITS: usize = 2048;

/// The algorithms Calypso accepts (all asymmetric), by their JOSE names.
pub(crate) const ALLOWED_ALGORITHMS: [(&str, Algorithm); 9] = [
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

fn alg_name(alg: Algorithm) -> &'static str {
    ALLOWED_ALGORITHMS
        .iter()
        .find(|(_, a)| *a == alg)
        .map_or("?", |(name, _)| name)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyType {
    Rsa,
    Ec { crv: String },
    Okp { crv: String },
}

impl KeyType {
    fn describe(&self) -> String {
        match self {
            KeyType::Rsa => "RSA".to_string(),
            KeyType::Ec { crv } => format!("EC {crv}"),
            KeyType::Okp { crv } => format!("OKP {crv}"),
        }
    }
}

/// One usable signing key of a JWKS.
pub(crate) struct KeyEntry {
    kid: Option<String>,
    kty: KeyType,
    alg: Option<String>,
    pub(crate) key: DecodingKey,
}

impl KeyEntry {
    /// Whether a token signed with `alg` may be verified with this key: the key type (and
    /// curve) must fit the algorithm, and so must the JWK's own `alg` if it has one.
    fn supports(&self, alg: Algorithm) -> bool {
        if let Some(own) = &self.alg
            && ALLOWED_ALGORITHMS
                .iter()
                .find(|(name, _)| name == own)
                .is_none_or(|(_, a)| *a != alg)
        {
            return false;
        }
        match (&self.kty, alg) {
            (
                KeyType::Rsa,
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512,
            ) => true,
            (KeyType::Ec { crv }, Algorithm::ES256) => crv == "P-256",
            (KeyType::Ec { crv }, Algorithm::ES384) => crv == "P-384",
            (KeyType::Okp { crv }, Algorithm::EdDSA) => crv == "Ed25519",
            _ => false,
        }
    }
}

/// A fetched JWKS.
pub(crate) struct KeySet {
    keys: Vec<Arc<KeyEntry>>,
    fetched_at: Instant,
    generation: u64,
}

enum Lookup {
    Found(Arc<KeyEntry>),
    NotFound,
    Unusable(AuthError),
}

impl KeySet {
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        match kid {
            Some(kid) => {
                let mut with_kid = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .peekable();
                let Some(first) = with_kid.peek().map(|k| Arc::clone(k)) else {
                    return Lookup::NotFound;
                };
                match with_kid.find(|k| k.supports(alg)) {
                    Some(k) => Lookup::Found(Arc::clone(k)),
                    None => Lookup::Unusable(AuthError::InvalidToken(format!(
                        "The token's algorithm {} does not match its signing key '{kid}' ({}{})",
                        alg_name(alg),
                        first.kty.describe(),
                        first
                            .alg
                            .as_deref()
                            .map(|a| format!(", alg {a}"))
                            .unwrap_or_default()
                    ))),
                }
            }
            None => {
                let candidates: Vec<_> = self.keys.iter().filter(|k| k.supports(alg)).collect();
                match candidates.as_slice() {
                    [only] => Lookup::Found(Arc::clone(only)),
                    [] => Lookup::NotFound,
                    many => Lookup::Unusable(AuthError::InvalidToken(format!(
                        "The token has no 'kid' and the issuer has {} keys for {}: cannot choose one",
                        many.len(),
                        alg_name(alg)
                    ))),
                }
            }
        }
    }
}

#[derive(Default)]
struct FetchState {
    /// When the last fetch (successful or not) started: the rate limit.
    last_attempt: Option<Instant>,
    last_error: Option<String>,
    /// `jwks_uri` found in the discovery document.
    discovered_jwks_uri: Option<Url>,
}

/// The keys of one issuer, fetched on first use, re-fetched when older than the cache TTL or
/// when a token names an unknown `kid` — at most once per `min_refresh` either way.
pub(crate) struct KeySource {
    issuer: String,
    configured_jwks_uri: Option<Url>,
    http: reqwest::Client,
    min_refresh: Duration,
    ttl: Duration,
    cache: RwLock<Option<Arc<KeySet>>>,
    fetch: tokio::sync::Mutex<FetchState>,
    generation: AtomicU64,
}

impl KeySource {
    pub(crate) fn new(
        issuer: String,
        configured_jwks_uri: Option<Url>,
        http: reqwest::Client,
        min_refresh: Duration,
        ttl: Duration,
    ) -> Self {
        KeySource {
            issuer,
            configured_jwks_uri,
            http,
            min_refresh,
            ttl,
            cache: RwLock::new(None),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
            generation: AtomicU64::new(0),
        }
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The key to verify a token with header `kid` and `alg`.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<KeyEntry>, AuthError> {
        let mut set = match self.snapshot() {
            None => self.refresh(None).await?,
            Some(set) if set.fetched_at.elapsed() >= self.ttl => {
                // Stale: refresh, unless another request is already doing so, in which case
                // the stale keys are still good enough for this one.
                if self.fetch.try_lock().is_ok() {
                    self.refresh(Some(set.generation)).await?
                } else {
                    set
                }
            }
            Some(set) => set,
        };
        for attempt in 0..2 {
            match set.find(kid, alg) {
                Lookup::Found(key) => return Ok(key),
                Lookup::Unusable(e) => return Err(e),
                Lookup::NotFound if attempt == 0 => {
                    tracing::debug!(issuer = %self.issuer, ?kid, "unknown signing key: refreshing the JWKS");
                    set = self.refresh(Some(set.generation)).await?;
                }
                Lookup::NotFound => {}
            }
        }
        Err(match kid {
            Some(kid) => AuthError::UnknownKey(kid.to_string()),
            None => AuthError::InvalidToken(format!(
                "The token has no 'kid' and the issuer has no key for {}",
                alg_name(alg)
            )),
        })
    }

    /// Fetches the keys unless the cache changed since generation `seen` (another request
    /// refreshed it) or the last fetch was less than `min_refresh` ago. Returns the keys to
    /// use: new, or the cached ones when the fetch is skipped or fails.
    async fn refresh(&self, seen: Option<u64>) -> Result<Arc<KeySet>, AuthError> {
        let mut state = self.fetch.lock().await;
        let current = self.snapshot();
        if let Some(set) = &current
            && Some(set.generation) != seen
        {
            return Ok(Arc::clone(set));
        }
        if let Some(last) = state.last_attempt
            && last.elapsed() < self.min_refresh
        {
            return current.ok_or_else(|| {
                AuthError::KeyFetch(
                    state
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "no keys yet; retry later".into()),
                )
            });
        }
        state.last_attempt = Some(Instant::now());
        match self.fetch_keys(&mut state).await {
            Ok(keys) => {
                state.last_error = None;
                let set = Arc::new(KeySet {
                    keys,
                    fetched_at: Instant::now(),
                    generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
                });
                *self.cache.write().unwrap_or_else(PoisonError::into_inner) =
                    Some(Arc::clone(&set));
                Ok(set)
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "cannot fetch signing keys");
                state.last_error = Some(e.clone());
                current.ok_or(AuthError::KeyFetch(e))
            }
        }
    }

    async fn fetch_keys(&self, state: &mut FetchState) -> Result<Vec<Arc<KeyEntry>>, String> {
        let jwks_uri = match (&self.configured_jwks_uri, &state.discovered_jwks_uri) {
            (Some(uri), _) | (None, Some(uri)) => uri.clone(),
            (None, None) => {
                let uri = self.discover().await?;
                state.discovered_jwks_uri = Some(uri.clone());
                uri
            }
        };
        let result = get_json(&self.http, &jwks_uri)
            .await
            .and_then(|doc| parse_jwks(&doc).map_err(|e| format!("{jwks_uri}: {e}")));
        if result.is_err() {
            // Look the JWKS location up again next time: it may have moved.
            state.discovered_jwks_uri = None;
        }
        let keys = result?;
        tracing::info!(issuer = %self.issuer, %jwks_uri, keys = keys.len(), "fetched signing keys");
        Ok(keys)
    }

    async fn discover(&self) -> Result<Url, String> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let url = Url::parse(&url).map_err(|e| format!("{url}: {e}"))?;
        let doc = get_json(&self.http, &url).await?;
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{url}: the discovery document has no 'jwks_uri'"))?;
        let parsed = Url::parse(jwks_uri).map_err(|e| format!("{url}: jwks_uri: {e}"))?;
        if !is_allowed_url(&parsed) {
            return Err(format!(
                "{url}: jwks_uri '{jwks_uri}' must use https:// (http:// only on a loopback host)"
            ));
        }
        Ok(parsed)
    }
}

/// `error` and its sources, joined with ": ".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

/// GETs `url` and parses its body (at most [`MAX_BODY_BYTES`]) as JSON.
async fn get_json(http: &reqwest::Client, url: &Url) -> Result<Value, String> {
    let fail = |e: reqwest::Error| format!("{url}: {}", error_chain(&e.without_url()));
    let mut response = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(fail)?;
    if !response.status().is_success() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let too_big = || format!("{url}: the document is larger than {MAX_BODY_BYTES} bytes");
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fail)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY_BYTES {
            return Err(too_big());
        }
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url}: invalid JSON: {e}"))
}

/// The usable signing keys of a JWKS document; keys for encryption, symmetric keys, unknown
/// key types and weak RSA keys are skipped.
fn parse_jwks(doc: &Value) -> Result<Vec<Arc<KeyEntry>>, String> {
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the JWKS has no 'keys' array")?;
    let mut out = Vec::new();
    for jwk in keys {
        match parse_jwk(jwk) {
            Ok(Some(key)) => out.push(Arc::new(key)),
            Ok(None) => {}
            Err(e) => {
                let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or("");
                tracing::warn!(kid, error = %e, "skipping an unusable JWKS key");
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "the JWKS has no usable signing key (of {} keys)",
            keys.len()
        ));
    }
    Ok(out)
}

fn parse_jwk(jwk: &Value) -> Result<Option<KeyEntry>, String> {
    let s = |name: &str| jwk.get(name).and_then(Value::as_str);
    let need = |name: &str| s(name).ok_or_else(|| format!("no '{name}'"));
    if s("use").is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    let bad = |e: jsonwebtoken::errors::Error| e.to_string();
    let (kty, key) = match s("kty") {
        Some("RSA") => {
            let n = need("n")?;
            let bits = rsa_modulus_bits(n)?;
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "RSA key of {bits} bits (at least {MIN_RSA_BITS} required)"
                ));
            }
            let key = DecodingKey::from_rsa_components(n, need("e")?).map_err(bad)?;
            (KeyType::Rsa, key)
        }
        Some("EC") => {
            let crv = need("crv")?.to_string();
            let key = DecodingKey::from_ec_components(need("x")?, need("y")?).map_err(bad)?;
            (KeyType::Ec { crv }, key)
        }
        Some("OKP") => {
            let crv = need("crv")?.to_string();
            let key = DecodingKey::from_ed_components(need("x")?).map_err(bad)?;
            (KeyType::Okp { crv }, key)
        }
        // Symmetric keys are never used, whatever a JWKS says.
        Some("oct") => return Ok(None),
        Some(other) => return Err(format!("unsupported key type '{other}'")),
        None => return Err("no 'kty'".into()),
    };
    Ok(Some(KeyEntry {
        kid: s("kid").map(str::to_string),
        kty,
        alg: s("alg").map(str::to_string),
        key,
    }))
}

fn rsa_modulus_bits(n: &str) -> Result<usize, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(n.trim_end_matches('='))
        .map_err(|e| format!("invalid modulus: {e}"))?;
    let Some(first) = bytes.iter().position(|b| *b != 0) else {
        return Ok(0);
    };
    Ok((bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rsa_jwk(kid: &str, alg: Option<&str>) -> Value {
        // A 2048-bit modulus (value irrelevant for lookups).
        let n = URL_SAFE_NO_PAD.encode([0xC5u8; 256]);
        let mut jwk = json!({"kty": "RSA", "kid": kid, "n": n, "e": "AQAB", "use": "sig"});
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        jwk
    }

    fn set(doc: Value) -> KeySet {
        KeySet {
            keys: parse_jwks(&doc).expect("usable keys"),
            fetched_at: Instant::now(),
            generation: 1,
        }
    }

    #[test]
    fn parses_and_skips() {
        let small = json!({"kty": "RSA", "kid": "small", "n": URL_SAFE_NO_PAD.encode([0xFFu8; 128]), "e": "AQAB"});
        let doc = json!({"keys": [
            rsa_jwk("a", None),
            small,
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "XYZ", "kid": "weird"},
        ]});
        let set = set(doc);
        assert_eq!(set.keys.len(), 1);
        assert!(matches!(
            set.find(Some("a"), Algorithm::RS256),
            Lookup::Found(_)
        ));
        assert!(matches!(
            set.find(Some("a"), Algorithm::PS512),
            Lookup::Found(_)
        ));
        assert!(matches!(
            set.find(Some("hmac"), Algorithm::RS256),
            Lookup::NotFound
        ));
        assert!(matches!(
            set.find(Some("small"), Algorithm::RS256),
            Lookup::NotFound
        ));
        assert!(parse_jwks(&json!({"keys": [{"kty": "oct", "k": "AA"}]})).is_err());
        assert!(parse_jwks(&json!({"nokeys": []})).is_err());
    }

    #[test]
    fn algorithm_must_fit_the_key() {
        let set = set(json!({"keys": [rsa_jwk("a", Some("RS256")), rsa_jwk("b", None)]}));
        assert!(matches!(
            set.find(Some("a"), Algorithm::RS256),
            Lookup::Found(_)
        ));
        match set.find(Some("a"), Algorithm::RS384) {
            Lookup::Unusable(AuthError::InvalidToken(msg)) => {
                assert!(msg.contains("RS384") && msg.contains("alg RS256"), "{msg}")
            }
            _ => panic!("RS384 must not use an RS256 key"),
        }
        assert!(matches!(
            set.find(Some("b"), Algorithm::ES256),
            Lookup::Unusable(_)
        ));
        // No kid: two RSA keys, but only one allows RS384.
        assert!(matches!(set.find(None, Algorithm::RS384), Lookup::Found(_)));
        assert!(matches!(
            set.find(None, Algorithm::RS256),
            Lookup::Unusable(_)
        ));
        assert!(matches!(set.find(None, Algorithm::ES256), Lookup::NotFound));
    }

    #[test]
    fn modulus_bits() {
        assert_eq!(
            rsa_modulus_bits(&URL_SAFE_NO_PAD.encode([0x80u8, 0])),
            Ok(16)
        );
        assert_eq!(
            rsa_modulus_bits(&URL_SAFE_NO_PAD.encode([0, 0x01, 0])),
            Ok(9)
        );
        assert_eq!(rsa_modulus_bits("AQAB"), Ok(17));
    }
}
