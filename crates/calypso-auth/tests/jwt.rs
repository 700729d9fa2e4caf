//! End-to-end token validation against a local identity provider (real HTTP on 127.0.0.1).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use calypso_auth::testing::{Algorithm, MintOptions, Signing, TestIdp, alter_claims};
use calypso_auth::{
    AuthError, Authenticator, IdentityKind, IssuerConfig, JwtConfig, KUSTO_AUDIENCE, PrincipalName,
};
use serde_json::json;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn auth(a: &Authenticator, token: &str) -> Result<calypso_auth::Identity, AuthError> {
    a.authenticate(Some(&bearer(token))).await
}

fn authenticator(cfg: JwtConfig) -> Authenticator {
    Authenticator::new(cfg).expect("valid configuration")
}

async fn setup() -> (TestIdp, Authenticator) {
    let idp = TestIdp::start().await;
    let a = authenticator(idp.jwt_config());
    (idp, a)
}

#[tokio::test]
async fn user_token_gives_aaduser_with_alias_and_groups() {
    let (idp, a) = setup().await;
    let token = idp.user_token("u-oid-1", "alice@contoso.com", &["grp-a", "grp-b"]);
    let id = auth(&a, &token).await.expect("valid user token");
    let tid = idp.tenant_id();
    assert_eq!(id.kind(), IdentityKind::User);
    assert_eq!(id.fqn(), format!("aaduser=u-oid-1;{tid}"));
    assert_eq!(id.object_id(), "u-oid-1");
    assert_eq!(id.tenant_id(), tid);
    assert_eq!(id.upn(), Some("alice@contoso.com"));
    assert_eq!(id.display_name(), "alice@contoso.com");
    assert_eq!(id.groups(), ["grp-a", "grp-b"]);
    assert_eq!(id.issuer(), idp.issuer());
    assert_eq!(id.claims()["scp"], "user_impersonation");
    assert_eq!(id.details_json()["FQN"], format!("aaduser=u-oid-1;{tid}"));
    assert_eq!(id.details_json()["UserPrincipalName"], "alice@contoso.com");

    let p = |s: String| PrincipalName::parse(&s).expect("principal name");
    assert!(id.matches(&p(format!("aaduser=ALICE@contoso.com;{tid}")), None));
    assert!(id.matches(&p("aaduser=u-oid-1".into()), Some(tid)));
    assert!(id.matches(&p(format!("aadgroup=grp-b;{tid}")), None));
    assert!(!id.matches(&p("aadgroup=grp-c".into()), None));
    assert!(!id.matches(&p("aaduser=alice@contoso.com".into()), Some("other-tenant")));
}

#[tokio::test]
async fn app_token_gives_aadapp() {
    let (idp, a) = setup().await;
    let id = auth(&a, &idp.app_token("app-42"))
        .await
        .expect("valid app token");
    assert_eq!(id.kind(), IdentityKind::App);
    assert_eq!(id.fqn(), format!("aadapp=app-42;{}", idp.tenant_id()));
    assert_eq!(id.app_id(), Some("app-42"));
    assert_eq!(id.upn(), None);
    assert_eq!(id.details_json()["Type"], "AadApplication");
    assert!(id.matches(&PrincipalName::parse("AADApp=APP-42").expect("name"), None));
}

#[tokio::test]
async fn lifetime_is_checked_with_skew() {
    let (idp, a) = setup().await;
    let t = now();
    let expired = idp.mint(json!({"oid": "o", "upn": "u@x", "exp": 1_767_225_600}));
    match auth(&a, &expired).await {
        Err(e @ AuthError::Expired(_)) => {
            assert_eq!(e.to_string(), "The token expired at 2026-01-01T00:00:00Z");
            assert_eq!(e.http_status(), 401);
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    let expired_recently = idp.mint(json!({"oid": "o", "upn": "u@x", "exp": t - 120}));
    assert!(matches!(
        auth(&a, &expired_recently).await,
        Err(AuthError::Expired(_))
    ));
    let within_skew = idp.mint(json!({"oid": "o", "upn": "u@x", "exp": t - 30}));
    auth(&a, &within_skew)
        .await
        .expect("exp within the 60 s skew");

    let future = idp.mint(json!({"oid": "o", "upn": "u@x", "nbf": t + 600}));
    match auth(&a, &future).await {
        Err(AuthError::NotYetValid(at)) => assert!(at.ends_with('Z'), "{at}"),
        other => panic!("expected NotYetValid, got {other:?}"),
    }
    let nbf_within_skew = idp.mint(json!({"oid": "o", "upn": "u@x", "nbf": t + 30}));
    auth(&a, &nbf_within_skew)
        .await
        .expect("nbf within the 60 s skew");

    let no_exp = idp.mint(json!({"oid": "o", "upn": "u@x", "exp": null}));
    assert!(
        matches!(auth(&a, &no_exp).await, Err(AuthError::InvalidToken(m)) if m.contains("'exp'"))
    );

    // A configured skew of zero rejects what the default accepted.
    let mut cfg = idp.jwt_config();
    cfg.clock_skew = Duration::ZERO;
    let strict = authenticator(cfg);
    assert!(matches!(
        auth(&strict, &within_skew).await,
        Err(AuthError::Expired(_))
    ));
}

#[tokio::test]
async fn audience_must_be_accepted() {
    let (idp, a) = setup().await;
    let other = idp.mint(json!({"oid": "o", "upn": "u@x", "aud": "https://other.example.com"}));
    match auth(&a, &other).await {
        Err(e @ AuthError::InvalidAudience(_)) => assert_eq!(
            e.to_string(),
            "The token's audience 'https://other.example.com' is not accepted"
        ),
        r => panic!("expected InvalidAudience, got {r:?}"),
    }
    let sloppy =
        idp.mint(json!({"oid": "o", "upn": "u@x", "aud": "HTTPS://Kusto.Kusto.Windows.NET/"}));
    auth(&a, &sloppy)
        .await
        .expect("audience compared case-insensitively, ignoring a trailing slash");
    let many = idp.mint(json!({"oid": "o", "upn": "u@x", "aud": ["x", KUSTO_AUDIENCE]}));
    auth(&a, &many)
        .await
        .expect("one accepted audience is enough");
    let none = idp.mint(json!({"oid": "o", "upn": "u@x", "aud": null}));
    assert!(matches!(
        auth(&a, &none).await,
        Err(AuthError::InvalidToken(_))
    ));

    // The cluster URL is accepted too when set.
    let cluster = idp.mint(json!({"oid": "o", "upn": "u@x", "aud": "https://calypso.example.com"}));
    assert!(matches!(
        auth(&a, &cluster).await,
        Err(AuthError::InvalidAudience(_))
    ));
    let mut cfg = idp.jwt_config();
    cfg.cluster_url = Some("https://calypso.example.com/".into());
    let with_cluster = authenticator(cfg.clone());
    auth(&with_cluster, &cluster)
        .await
        .expect("cluster URL audience");
    auth(&with_cluster, &sloppy).await.expect("Kusto audience");
    // Explicit audiences replace the defaults.
    cfg.audiences = vec!["api://calypso".into()];
    let explicit = authenticator(cfg);
    assert!(matches!(
        auth(&explicit, &sloppy).await,
        Err(AuthError::InvalidAudience(_))
    ));
}

#[tokio::test]
async fn issuer_must_be_configured() {
    let (idp, a) = setup().await;
    let wrong =
        idp.mint(json!({"oid": "o", "upn": "u@x", "iss": "https://evil.example.com/t/v2.0"}));
    match auth(&a, &wrong).await {
        Err(e @ AuthError::UnknownIssuer(_)) => assert_eq!(
            e.to_string(),
            "The token's issuer 'https://evil.example.com/t/v2.0' is not accepted"
        ),
        r => panic!("expected UnknownIssuer, got {r:?}"),
    }
    let prefix = format!("{}x", idp.issuer());
    let wrong = idp.mint(json!({"oid": "o", "upn": "u@x", "iss": prefix}));
    assert!(matches!(
        auth(&a, &wrong).await,
        Err(AuthError::UnknownIssuer(_))
    ));
    let slash = idp.mint(json!({"oid": "o", "upn": "u@x", "iss": format!("{}/", idp.issuer())}));
    auth(&a, &slash).await.expect("trailing slash ignored");
    // Nothing was fetched for the unknown issuers.
    assert_eq!(idp.jwks_fetches(), 1);
}

#[tokio::test]
async fn forged_tokens_are_rejected() {
    let (idp, a) = setup().await;
    let good = idp.user_token("victim", "victim@contoso.com", &[]);
    auth(&a, &good).await.expect("untouched token is valid");

    let altered = alter_claims(&good, |c| c["oid"] = json!("attacker"));
    match auth(&a, &altered).await {
        Err(e @ AuthError::InvalidSignature) => {
            assert!(!e.to_string().contains(&altered[..40]));
        }
        r => panic!("expected InvalidSignature, got {r:?}"),
    }
    let stripped = format!("{}.", good.rsplit_once('.').map_or("", |(head, _)| head));
    assert!(matches!(
        auth(&a, &stripped).await,
        Err(AuthError::InvalidToken(_) | AuthError::InvalidSignature)
    ));
    for garbage in ["abc", "a.b", "a.b.c.d.e", "!!.??.xx"] {
        assert!(
            matches!(auth(&a, garbage).await, Err(AuthError::InvalidToken(_))),
            "{garbage}"
        );
    }
}

#[tokio::test]
async fn alg_none_and_hmac_are_rejected_before_key_lookup() {
    let (idp, a) = setup().await;
    let claims = json!({"oid": "o", "upn": "u@x"});
    let none = idp.mint_with(
        claims.clone(),
        &MintOptions {
            signing: Signing::AlgNone,
            ..Default::default()
        },
    );
    match auth(&a, &none).await {
        Err(e @ AuthError::DisallowedAlgorithm(_)) => assert_eq!(
            e.to_string(),
            "Algorithm none is not allowed: Calypso accepts only asymmetric signatures"
        ),
        r => panic!("expected DisallowedAlgorithm, got {r:?}"),
    }
    let hs = idp.mint_with(
        claims,
        &MintOptions {
            signing: Signing::Hs256WithPublicKey,
            ..Default::default()
        },
    );
    assert_eq!(
        auth(&a, &hs).await.map(|i| i.fqn()),
        Err(AuthError::DisallowedAlgorithm("HS256".into()))
    );
    assert_eq!(
        idp.jwks_fetches(),
        0,
        "no key lookup for rejected algorithms"
    );
    assert_eq!(idp.discovery_fetches(), 0);
}

#[tokio::test]
async fn unknown_kid_is_rejected_and_refresh_is_rate_limited() {
    let (idp, a) = setup().await;
    auth(&a, &idp.app_token("app")).await.expect("valid token");
    assert_eq!(idp.jwks_fetches(), 1);
    let foreign = idp.mint_with(
        json!({"appid": "app", "idtyp": "app"}),
        &MintOptions {
            signing: Signing::Unpublished,
            ..Default::default()
        },
    );
    for _ in 0..20 {
        match auth(&a, &foreign).await {
            Err(e @ AuthError::UnknownKey(_)) => {
                assert_eq!(e.to_string(), "Unknown signing key 'unpublished-key'")
            }
            r => panic!("expected UnknownKey, got {r:?}"),
        }
    }
    // The JWKS was fetched once: the flood of unknown kids came within 10 s of that fetch.
    assert_eq!(idp.jwks_fetches(), 1);
    assert_eq!(idp.discovery_fetches(), 1);
}

#[tokio::test]
async fn unknown_kid_triggers_a_refresh_after_rotation() {
    let idp = TestIdp::start().await;
    let mut cfg = idp.jwt_config();
    let interval = Duration::from_secs(1);
    cfg.jwks_min_refresh_interval = interval;
    let a = authenticator(cfg);
    let old = idp.app_token("app");
    let first_fetch = Instant::now();
    auth(&a, &old).await.expect("token of the first key");
    assert_eq!(idp.jwks_fetches(), 1);

    let new_kid = idp.rotate_key().await;
    let new = idp.app_token("app");
    assert_eq!(
        jsonwebtoken::decode_header(&new)
            .expect("header")
            .kid
            .as_deref(),
        Some(new_kid.as_str())
    );
    // Right after the last fetch, the rate limit holds the refresh back (checked only when
    // key generation left time to do so)...
    if first_fetch.elapsed() < interval * 3 / 4 {
        assert_eq!(
            auth(&a, &new).await.map(|i| i.fqn()),
            Err(AuthError::UnknownKey(new_kid.clone()))
        );
        assert_eq!(idp.jwks_fetches(), 1);
    }
    // ...and once the interval has passed, the unknown kid refreshes the keys.
    tokio::time::sleep(
        (interval + Duration::from_millis(50)).saturating_sub(first_fetch.elapsed()),
    )
    .await;
    auth(&a, &new).await.expect("token of the rotated key");
    assert_eq!(idp.jwks_fetches(), 2);
    auth(&a, &old).await.expect("old key still published");
    auth(&a, &new).await.expect("cached");
    assert_eq!(idp.jwks_fetches(), 2);
    // The discovery document is not fetched again.
    assert_eq!(idp.discovery_fetches(), 1);
}

#[tokio::test]
async fn first_fetch_after_rotation_needs_no_refresh() {
    let idp = TestIdp::start().await;
    idp.rotate_key().await;
    let a = authenticator(idp.jwt_config());
    auth(&a, &idp.app_token("app"))
        .await
        .expect("newest key on first fetch");
    assert_eq!(idp.jwks_fetches(), 1);
}

#[tokio::test]
async fn keys_are_cached() {
    let (idp, a) = setup().await;
    // Concurrent first requests share one fetch.
    let tokens: Vec<String> = (0..10)
        .map(|i| idp.user_token(&format!("user-{i}"), &format!("u{i}@x"), &[]))
        .collect();
    let results =
        futures::future::join_all(tokens.iter().map(|t| auth(&a, t)).collect::<Vec<_>>()).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(
            r.map(|id| id.object_id().to_string()),
            Ok(format!("user-{i}"))
        );
    }
    for t in &tokens {
        auth(&a, t).await.expect("valid");
    }
    // A clone shares the cache.
    let b = a.clone();
    auth(&b, &tokens[0]).await.expect("valid");
    assert_eq!(idp.jwks_fetches(), 1);
    assert_eq!(idp.discovery_fetches(), 1);
}

#[tokio::test]
async fn token_without_kid() {
    let (idp, a) = setup().await;
    let no_kid = MintOptions {
        omit_kid: true,
        ..Default::default()
    };
    let t = idp.mint_with(json!({"appid": "app", "idtyp": "app"}), &no_kid);
    auth(&a, &t).await.expect("the single key of the JWKS");

    let idp = TestIdp::start().await;
    idp.rotate_key().await;
    let a = authenticator(idp.jwt_config());
    let t = idp.mint_with(json!({"appid": "app", "idtyp": "app"}), &no_kid);
    match auth(&a, &t).await {
        Err(AuthError::InvalidToken(m)) => assert!(m.contains("no 'kid'"), "{m}"),
        r => panic!("expected InvalidToken, got {r:?}"),
    }
}

#[tokio::test]
async fn other_rsa_algorithms_and_configured_jwks_uri() {
    let idp = TestIdp::start().await;
    let cfg = JwtConfig::new(vec![IssuerConfig {
        issuer: format!("{}/", idp.issuer()),
        jwks_uri: Some(idp.jwks_uri().to_string()),
        tenant_id: None,
    }]);
    let a = authenticator(cfg);
    for alg in [Algorithm::PS256, Algorithm::RS512] {
        let t = idp.mint_with(
            json!({"appid": "app", "idtyp": "app"}),
            &MintOptions {
                rsa_algorithm: Some(alg),
                ..Default::default()
            },
        );
        auth(&a, &t).await.expect("asymmetric RSA algorithm");
    }
    assert_eq!(
        idp.discovery_fetches(),
        0,
        "configured jwks_uri: no discovery"
    );
    assert_eq!(idp.jwks_fetches(), 1);
}

#[tokio::test]
async fn generic_oidc_tenant_fallbacks() {
    let idp = TestIdp::start().await;
    let claims = json!({"tid": null, "sub": "user-sub", "email": "e@example.com"});
    let a = authenticator(idp.jwt_config());
    let id = auth(&a, &idp.mint(claims.clone())).await.expect("valid");
    assert_eq!(id.fqn(), format!("aaduser=user-sub;{}", idp.issuer()));
    assert_eq!(id.upn(), Some("e@example.com"));

    let mut cfg = idp.jwt_config();
    cfg.issuers[0].tenant_id = Some("acme".into());
    let a = authenticator(cfg);
    let id = auth(&a, &idp.mint(claims)).await.expect("valid");
    assert_eq!(id.fqn(), "aaduser=user-sub;acme");
}

#[tokio::test]
async fn header_problems() {
    let (idp, a) = setup().await;
    assert_eq!(
        a.authenticate(None).await.map(|i| i.fqn()),
        Err(AuthError::MissingToken)
    );
    assert_eq!(
        a.authenticate(Some("")).await.map(|i| i.fqn()),
        Err(AuthError::MissingToken)
    );
    let token = idp.app_token("app");
    let basic = a.authenticate(Some(&format!("Basic {token}"))).await;
    match basic {
        Err(e @ AuthError::UnsupportedScheme(_)) => {
            assert_eq!(e.http_status(), 401);
            assert_eq!(e.kusto_code(), "Unauthorized");
            assert!(!e.to_string().contains(&token[..20]), "{e}");
        }
        r => panic!("expected UnsupportedScheme, got {r:?}"),
    }
    let raw = a.authenticate(Some(&token)).await;
    assert!(
        matches!(raw, Err(AuthError::UnsupportedScheme(_))),
        "{raw:?}"
    );
    a.authenticate(Some(&format!("bearer {token}")))
        .await
        .expect("scheme is case-insensitive");
    a.authenticate(Some(&format!("BEARER  {token} ")))
        .await
        .expect("extra whitespace");
}

#[tokio::test]
async fn unreachable_identity_provider_is_503() {
    // A loopback port with nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let idp = TestIdp::start().await;
    let mut cfg = JwtConfig::new(vec![IssuerConfig::new(format!(
        "http://127.0.0.1:{port}/tenant/v2.0"
    ))]);
    cfg.http_timeout = Duration::from_secs(2);
    let a = authenticator(cfg);
    let t = idp.mint(json!({"appid": "app", "idtyp": "app", "iss": format!("http://127.0.0.1:{port}/tenant/v2.0")}));
    match auth(&a, &t).await {
        Err(e @ AuthError::KeyFetch(_)) => {
            assert_eq!(e.http_status(), 503);
            assert!(e.to_string().contains("openid-configuration"), "{e}");
        }
        r => panic!("expected KeyFetch, got {r:?}"),
    }
    // Within the refresh interval, the failure is answered without a new attempt.
    assert!(matches!(auth(&a, &t).await, Err(AuthError::KeyFetch(_))));
}

#[test]
fn configuration_is_checked() {
    let err = |cfg: JwtConfig| Authenticator::new(cfg).expect_err("invalid configuration");
    assert!(matches!(err(JwtConfig::new(vec![])), AuthError::Config(_)));
    let e = err(JwtConfig::new(vec![IssuerConfig::new(
        "http://login.example.com/t/v2.0",
    )]));
    assert_eq!(e.http_status(), 500);
    assert!(e.to_string().contains("https://"), "{e}");
    let mut ic = IssuerConfig::new("https://login.microsoftonline.com/t/v2.0");
    ic.jwks_uri = Some("http://10.1.2.3/keys".into());
    assert!(matches!(
        err(JwtConfig::new(vec![ic])),
        AuthError::Config(_)
    ));
    Authenticator::new(JwtConfig::new(vec![IssuerConfig::new(
        "https://login.microsoftonline.com/t/v2.0",
    )]))
    .expect("https issuer");
}

#[tokio::test]
async fn stale_keys_are_refetched_within_the_rate_limit() {
    let idp = TestIdp::start().await;
    let token = idp.app_token("app");
    let mut cfg = idp.jwt_config();
    cfg.jwks_cache_ttl = Duration::ZERO;
    let rate_limited = authenticator(cfg.clone());
    for _ in 0..3 {
        auth(&rate_limited, &token).await.expect("valid");
    }
    assert_eq!(
        idp.jwks_fetches(),
        1,
        "stale keys used until the interval passes"
    );
    cfg.jwks_min_refresh_interval = Duration::ZERO;
    let eager = authenticator(cfg);
    for _ in 0..3 {
        auth(&eager, &token).await.expect("valid");
    }
    assert_eq!(idp.jwks_fetches(), 4, "one fetch per request once stale");
}
