//! An in-process OIDC identity provider for tests (cargo feature `testing`).
//!
//! [`TestIdp::start`] serves, on `127.0.0.1` with a random port,
//! `{issuer}/.well-known/openid-configuration` and a JWKS at `/keys`, and mints RS256 tokens
//! signed with its RSA 2048 keys — valid ones and attack tokens (`alg: none`, HS256 keyed
//! with the public key, signed by an unpublished key).
//!
//! This is test support: its functions panic (with a message) when something that cannot
//! fail in a test environment fails, such as binding a loopback port.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::rand_core::{OsRng, RngCore};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};

use crate::config::{IssuerConfig, JwtConfig, KUSTO_AUDIENCE};

/// The algorithm type of [`MintOptions::rsa_algorithm`].
pub use jsonwebtoken::Algorithm;

/// An RSA signing key of the test identity provider.
#[derive(Clone)]
pub struct TestKey {
    kid: String,
    encoding: EncodingKey,
    public_pem: String,
    jwk: Value,
}

impl TestKey {
    /// Generates a fresh RSA 2048 key.
    pub fn generate(kid: impl Into<String>) -> TestKey {
        let kid = kid.into();
        let private = RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA key generation");
        let der = private.to_pkcs1_der().expect("PKCS#1 encoding");
        let public = RsaPublicKey::from(&private);
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .expect("PEM encoding");
        let b64 = |n: &rsa::BigUint| URL_SAFE_NO_PAD.encode(n.to_bytes_be());
        let jwk = json!({
            "kty": "RSA", "use": "sig", "kid": kid,
            "n": b64(public.n()), "e": b64(public.e()),
        });
        TestKey {
            kid,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            public_pem,
            jwk,
        }
    }

    /// The key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// The public key in PEM (SubjectPublicKeyInfo).
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }
}

/// How [`TestIdp::mint_with`] signs a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Signing {
    /// RS256 with the newest published key (the default).
    #[default]
    Current,
    /// RS256 with a key that is not (yet) in the JWKS, under its own `kid`.
    Unpublished,
    /// `alg: none` and an empty signature.
    AlgNone,
    /// HS256 with the newest published key's public PEM as the HMAC secret, under that
    /// key's `kid` (the key-confusion attack).
    Hs256WithPublicKey,
}

/// Options of [`TestIdp::mint_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MintOptions {
    /// The key and algorithm.
    pub signing: Signing,
    /// Leave the `kid` out of the header.
    pub omit_kid: bool,
    /// Sign with another RSA algorithm (RS384/512, PS256/384/512) instead of RS256.
    pub rsa_algorithm: Option<Algorithm>,
}

struct IdpState {
    issuer: String,
    jwks_uri: String,
    published: Mutex<Vec<TestKey>>,
    /// Generated on first use.
    unpublished: OnceLock<TestKey>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
}

/// A running test identity provider; the server stops when it is dropped.
pub struct TestIdp {
    state: Arc<IdpState>,
    tenant_id: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn random_guid() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn discovery(State(state): State<Arc<IdpState>>) -> Json<Value> {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "issuer": state.issuer,
        "jwks_uri": state.jwks_uri,
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(state): State<Arc<IdpState>>) -> Json<Value> {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = state
        .published
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|k| k.jwk.clone())
        .collect();
    Json(json!({ "keys": keys }))
}

impl TestIdp {
    /// Generates a key and starts serving on `127.0.0.1:0`.
    /// The issuer is `http://127.0.0.1:{port}/{tenant}/v2.0`.
    pub async fn start() -> TestIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let tenant_id = random_guid();
        let base = format!("http://{addr}");
        let current = tokio::task::spawn_blocking(|| TestKey::generate("test-key-1"))
            .await
            .expect("key generation");
        let state = Arc::new(IdpState {
            issuer: format!("{base}/{tenant_id}/v2.0"),
            jwks_uri: format!("{base}/keys"),
            published: Mutex::new(vec![current]),
            unpublished: OnceLock::new(),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route(
                &format!("/{tenant_id}/v2.0/.well-known/openid-configuration"),
                get(discovery),
            )
            .route("/keys", get(jwks))
            .with_state(Arc::clone(&state));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "test identity provider stopped");
            }
        });
        TestIdp {
            state,
            tenant_id,
            server,
        }
    }

    /// The issuer (`iss` of the minted tokens).
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The tenant id (`tid` of the minted tokens).
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The JWKS URL.
    pub fn jwks_uri(&self) -> &str {
        &self.state.jwks_uri
    }

    /// A configuration accepting this issuer (keys by discovery) and the default audiences.
    pub fn jwt_config(&self) -> JwtConfig {
        JwtConfig::new(vec![IssuerConfig::new(self.issuer())])
    }

    /// How many times the JWKS was served.
    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many times the discovery document was served.
    pub fn discovery_fetches(&self) -> usize {
        self.state.discovery_fetches.load(Ordering::SeqCst)
    }

    /// The newest published key.
    pub fn current_key(&self) -> TestKey {
        let keys = self
            .state
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        keys.last().cloned().expect("at least one published key")
    }

    /// Publishes a new key (the old ones stay in the JWKS) and signs with it from now on, as
    /// an identity provider rotating keys does. Returns its `kid`.
    pub async fn rotate_key(&self) -> String {
        let n = self
            .state
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let kid = format!("test-key-{}", n + 1);
        let key = {
            let kid = kid.clone();
            tokio::task::spawn_blocking(move || TestKey::generate(kid))
                .await
                .expect("key generation")
        };
        self.state
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key);
        kid
    }

    /// The claims every minted token has unless `claims` says otherwise: `iss`, `tid`,
    /// `aud` (Kusto's), `iat`, `nbf` (now − 10 s), `exp` (now + 1 h), `ver` 2.0.
    pub fn default_claims(&self) -> Value {
        let now = now_secs();
        json!({
            "iss": self.issuer(), "tid": self.tenant_id, "aud": KUSTO_AUDIENCE,
            "iat": now, "nbf": now - 10, "exp": now + 3600, "ver": "2.0",
        })
    }

    /// Mints an RS256 token with the current key: [`TestIdp::default_claims`] overridden by
    /// `claims`, where a `null` value removes the claim.
    pub fn mint(&self, claims: Value) -> String {
        self.mint_with(claims, &MintOptions::default())
    }

    /// Mints a token as [`TestIdp::mint`] does, signed as `options` say.
    pub fn mint_with(&self, claims: Value, options: &MintOptions) -> String {
        let mut all = self.default_claims();
        if let (Value::Object(all), Value::Object(given)) = (&mut all, claims) {
            for (k, v) in given {
                if v.is_null() {
                    all.remove(&k);
                } else {
                    all.insert(k, v);
                }
            }
        }
        let current = self.current_key();
        let kid = |key: &TestKey| (!options.omit_kid).then(|| key.kid.clone());
        match options.signing {
            Signing::Current | Signing::Unpublished => {
                let key = if options.signing == Signing::Current {
                    &current
                } else {
                    self.state
                        .unpublished
                        .get_or_init(|| TestKey::generate("unpublished-key"))
                };
                let mut header = Header::new(options.rsa_algorithm.unwrap_or(Algorithm::RS256));
                header.kid = kid(key);
                jsonwebtoken::encode(&header, &all, &key.encoding).expect("RSA signing")
            }
            Signing::Hs256WithPublicKey => {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = kid(&current);
                let secret = EncodingKey::from_secret(current.public_pem.as_bytes());
                jsonwebtoken::encode(&header, &all, &secret).expect("HMAC signing")
            }
            Signing::AlgNone => {
                let mut header = json!({"alg": "none", "typ": "JWT"});
                if let Some(kid) = kid(&current) {
                    header["kid"] = json!(kid);
                }
                format!("{}.{}.", b64_json(&header), b64_json(&all))
            }
        }
    }

    /// A user token: `oid`, `upn` (also `name`), `groups`, a pairwise `sub`, `scp` and the
    /// client's `azp`, as Entra issues for a user signed in to an app.
    pub fn user_token(&self, oid: &str, upn: &str, groups: &[&str]) -> String {
        self.mint(json!({
            "oid": oid, "sub": format!("pairwise-{oid}"), "upn": upn, "name": upn,
            "groups": groups, "scp": "user_impersonation", "idtyp": "user",
            "azp": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        }))
    }

    /// An app-only token of application `appid` (`idtyp: app`, `oid == sub`).
    pub fn app_token(&self, appid: &str) -> String {
        let oid = format!("sp-of-{appid}");
        self.mint(json!({
            "appid": appid, "azp": appid, "oid": oid, "sub": oid, "idtyp": "app",
            "roles": ["Data.Read"],
        }))
    }
}

fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// `token` with its payload changed by `edit` and the original header and signature kept
/// (a forged token whose signature no longer matches).
pub fn alter_claims(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut claims: Value = URL_SAFE_NO_PAD
        .decode(&parts[1])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .expect("a JWT payload");
    edit(&mut claims);
    parts[1] = b64_json(&claims);
    parts.join(".")
}
