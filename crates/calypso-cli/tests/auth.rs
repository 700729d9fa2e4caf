//! `jwt` mode through HTTP against the real binary: token attacks answered 401, roles
//! answered 403, the auth metadata, the Stream Analytics scenario, and HTTPS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use calypso_auth::testing::{MintOptions, Signing, TestIdp, alter_claims};
use serde_json::{Value, json};
use support::TestServer;

const ADMIN_APP: &str = "11111111-1111-1111-1111-111111111111";

async fn jwt_server(idp: &TestIdp) -> TestServer {
    let admin = format!("aadapp={ADMIN_APP};{}", idp.tenant_id());
    TestServer::start_with(&[
        "--auth",
        "jwt",
        "--issuer",
        idp.issuer(),
        "--cluster-admin",
        &admin,
    ])
}

/// POSTs a request with `token` (none when empty); returns the status and JSON body.
async fn call(s: &TestServer, path: &str, token: &str, csl: &str) -> (u16, Value, Option<String>) {
    let mut req = s
        .client()
        .post(format!("{}{path}", s.url))
        .json(&json!({"db": "NetDefaultDB", "csl": csl}));
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
    (status, v, www)
}

async fn ingest(s: &TestServer, token: &str, table: &str, body: &str) -> (u16, Value) {
    let resp = s
        .client()
        .post(format!(
            "{}/v1/rest/ingest/NetDefaultDB/{table}?streamFormat=csv",
            s.url
        ))
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_attacks_are_refused_with_401() {
    let idp = TestIdp::start().await;
    let s = jwt_server(&idp).await;
    let admin = idp.app_token(ADMIN_APP);
    let (status, v, _) = call(&s, "/v1/rest/mgmt", &admin, ".show databases").await;
    assert_eq!(status, 200, "{v}");

    let now = chrono::Utc::now().timestamp();
    let other_idp = TestIdp::start().await;
    let app = |extra: Value| {
        let mut claims =
            json!({"appid": ADMIN_APP, "azp": ADMIN_APP, "idtyp": "app", "oid": "o", "sub": "o"});
        if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        claims
    };
    let attacks: Vec<(&str, String)> = vec![
        ("no token", String::new()),
        (
            "expired",
            idp.mint(app(json!({"exp": now - 600, "nbf": now - 3600}))),
        ),
        (
            "not yet valid",
            idp.mint(app(json!({"nbf": now + 600, "exp": now + 3600}))),
        ),
        (
            "wrong audience",
            idp.mint(app(json!({"aud": "https://management.azure.com"}))),
        ),
        ("wrong issuer", other_idp.app_token(ADMIN_APP)),
        (
            "bad signature",
            alter_claims(&admin, |c| {
                c["appid"] = json!("22222222-2222-2222-2222-222222222222")
            }),
        ),
        (
            "alg none",
            idp.mint_with(
                app(json!({})),
                &MintOptions {
                    signing: Signing::AlgNone,
                    ..MintOptions::default()
                },
            ),
        ),
        (
            "HS256 with the public key",
            idp.mint_with(
                app(json!({})),
                &MintOptions {
                    signing: Signing::Hs256WithPublicKey,
                    ..MintOptions::default()
                },
            ),
        ),
        (
            "unknown kid",
            idp.mint_with(
                app(json!({})),
                &MintOptions {
                    signing: Signing::Unpublished,
                    ..MintOptions::default()
                },
            ),
        ),
        ("garbage", "not.a.jwt".to_string()),
    ];
    for (name, token) in attacks {
        for path in ["/v1/rest/mgmt", "/v2/rest/query"] {
            let csl = if path == "/v1/rest/mgmt" {
                ".show databases"
            } else {
                "print 1"
            };
            let (status, v, www) = call(&s, path, &token, csl).await;
            assert_eq!(status, 401, "{name} on {path}: {v}");
            assert_eq!(v["error"]["code"], "Unauthorized", "{name}: {v}");
            assert!(www.is_some_and(|w| w.starts_with("Bearer")), "{name}");
            // The token never comes back in the answer.
            if token.len() > 20 {
                assert!(!v.to_string().contains(&token), "{name}");
            }
        }
    }
    // Streaming ingestion too.
    let (status, _) = ingest(&s, "x.y.z", "T", "1\n").await;
    assert_eq!(status, 401);
    // The metadata endpoint needs no token and names the authority.
    let resp = s
        .client()
        .get(format!("{}/v1/rest/auth/metadata", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["AzureAD"]["KustoServiceResourceId"],
        "https://kusto.kusto.windows.net"
    );
    assert!(v["AzureAD"]["LoginEndpoint"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced_over_http() {
    let idp = TestIdp::start().await;
    let s = jwt_server(&idp).await;
    let tid = idp.tenant_id().to_string();
    let admin = idp.app_token(ADMIN_APP);
    let viewer = idp.user_token(
        "0a0a0a0a-0000-0000-0000-000000000001",
        "viona@contoso.com",
        &[],
    );
    let nobody = idp.user_token(
        "0a0a0a0a-0000-0000-0000-000000000002",
        "nora@contoso.com",
        &[],
    );
    let asa_app = "33333333-3333-3333-3333-333333333333";
    let asa = idp.app_token(asa_app);

    for csl in [
        ".create table Events (Id:long, Name:string)".to_string(),
        ".alter table Events policy streamingingestion enable".to_string(),
        format!(".add database NetDefaultDB viewers ('aaduser=viona@contoso.com;{tid}') 'analyst'"),
        format!(".add database NetDefaultDB ingestors ('aadapp={asa_app};{tid}')"),
        format!(".add database NetDefaultDB monitors ('aadapp={asa_app};{tid}')"),
        ".ingest inline into table Events <| 1,one".to_string(),
    ] {
        let (status, v, _) = call(&s, "/v1/rest/mgmt", &admin, &csl).await;
        assert_eq!(status, 200, "{csl}: {v}");
    }

    // A viewer reads rows but cannot create tables.
    let (status, v, _) = call(&s, "/v2/rest/query", &viewer, "Events | count").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(support::primary_rows(&v), vec![json!([1])]);
    let (status, v, _) = call(&s, "/v1/rest/mgmt", &viewer, ".create table X (a:long)").await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["code"], "Forbidden");
    let msg = v["error"]["@message"].as_str().unwrap();
    assert!(
        msg.contains("aaduser=0a0a0a0a-0000-0000-0000-000000000001"),
        "{msg}"
    );

    // current_principal() is the caller.
    let (status, v, _) = call(
        &s,
        "/v2/rest/query",
        &viewer,
        "print p = current_principal()",
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        support::primary_rows(&v),
        vec![json!([format!(
            "aaduser=0a0a0a0a-0000-0000-0000-000000000001;{tid}"
        )])]
    );

    // A principal without roles reads nothing.
    let (status, v, _) = call(&s, "/v2/rest/query", &nobody, "Events | count").await;
    assert_eq!(status, 403, "{v}");
    assert!(
        v["error"]["@message"]
            .as_str()
            .unwrap()
            .contains("not authorized to read database"),
        "{v}"
    );

    // Stream Analytics: Ingestor + Monitor streams CSV and reads the schema, not the rows.
    let (status, v) = ingest(&s, &asa, "Events", "2,two\n3,three\n").await;
    assert_eq!(status, 200, "{v}");
    let (status, v, _) = call(
        &s,
        "/v1/rest/mgmt",
        &asa,
        ".show table Events schema as json",
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v, _) = call(&s, "/v2/rest/query", &asa, "Events | take 1").await;
    assert_eq!(status, 403, "{v}");
    // The viewer cannot ingest.
    let (status, v) = ingest(&s, &viewer, "Events", "4,four\n").await;
    assert_eq!(status, 403, "{v}");
    let (_, v, _) = call(&s, "/v2/rest/query", &admin, "Events | count").await;
    assert_eq!(support::primary_rows(&v), vec![json!([3])]);

    // A principal whose role was dropped loses access with its next request.
    let (status, v, _) = call(
        &s,
        "/v1/rest/mgmt",
        &admin,
        &format!(".drop database NetDefaultDB viewers ('aaduser=viona@contoso.com;{tid}')"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, _, _) = call(&s, "/v2/rest/query", &viewer, "Events | count").await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_file() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert_pem = cert.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let s = TestServer::start_with(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(s.url.starts_with("https://"), "{}", s.url);
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let resp = client
        .post(format!("{}/v2/rest/query", s.url))
        .json(&json!({"db": "NetDefaultDB", "csl": "print x = 42"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", s.log_text()));
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(support::primary_rows(&v), vec![json!([42])]);
    // Plain HTTP to the TLS port gets no Kusto answer.
    let plain = reqwest::Client::new()
        .post(format!("http://{}/v2/rest/query", s.addr))
        .json(&json!({"db": "NetDefaultDB", "csl": "print 1"}))
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    // A client that does not trust the certificate is refused.
    let untrusting = reqwest::Client::new()
        .post(format!("{}/v2/rest/query", s.url))
        .json(&json!({"db": "NetDefaultDB", "csl": "print 1"}))
        .send()
        .await;
    assert!(untrusting.is_err());
}

/// The role × operation matrix through HTTP (both query endpoints): every role of ADX against
/// 12 operations. The expected table is written by hand from ADX's documented permissions
/// (`access-control/role-based-access-control.md` and each command's Permissions section);
/// Y = 200, N = 403 `Forbidden` naming the principal.
const HTTP_MATRIX: [(&str, &str); 12] = [
    // grant                                 v2 v1 si st sc ct at ar sp ii sa dt
    (".add cluster alldatabasesadmins", "Y Y Y Y Y Y Y Y Y Y Y Y"),
    (
        ".add cluster alldatabasesviewers",
        "Y Y N Y Y N N N Y N N N",
    ),
    (
        ".add cluster alldatabasesmonitors",
        "N N N Y Y N N N Y N N N",
    ),
    (
        ".add database NetDefaultDB admins",
        "Y Y Y Y Y Y Y Y Y Y Y Y",
    ),
    (
        ".add database NetDefaultDB users",
        "Y Y N Y Y Y N N Y N N N",
    ),
    (
        ".add database NetDefaultDB viewers",
        "Y Y N Y Y N N N Y N N N",
    ),
    (
        ".add database NetDefaultDB unrestrictedviewers",
        "N N N N N N N N N N N N",
    ),
    (
        ".add database NetDefaultDB ingestors",
        "N N Y N N N N N N Y N N",
    ),
    (
        ".add database NetDefaultDB monitors",
        "N N N Y Y N N N Y N N N",
    ),
    (".add table T admins", "N N Y N Y N Y N N Y N Y"),
    (".add table T ingestors", "N N Y N N N N N N Y N N"),
    ("", "N N N N N N N N N N N N"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_twelve_operations_over_http() {
    let idp = TestIdp::start().await;
    let tid = idp.tenant_id().to_string();
    let admin = idp.app_token(ADMIN_APP);
    let ops = [
        "v2 query",
        "v1 query",
        "streaming ingest",
        ".show tables",
        ".show table T schema as json",
        ".create table",
        ".alter table",
        ".add database viewers",
        ".show database principals",
        ".ingest inline",
        ".set-or-append",
        ".drop table",
    ];
    for (i, (grant, expected)) in HTTP_MATRIX.iter().enumerate() {
        let expected: Vec<bool> = expected.split(' ').map(|c| c == "Y").collect();
        assert_eq!(expected.len(), ops.len());
        let s = jwt_server(&idp).await;
        for csl in [
            ".create table T (a:long, s:string)",
            ".ingest inline into table T <| 1,x\n2,y",
            ".alter table T policy streamingingestion enable",
        ] {
            let (status, v, _) = call(&s, "/v1/rest/mgmt", &admin, csl).await;
            assert_eq!(status, 200, "{csl}: {v}");
        }
        let oid = format!("0b0b0b0b-0000-0000-0000-{i:012}");
        let upn = format!("p{i}@contoso.com");
        if !grant.is_empty() {
            let csl = format!("{grant} ('aaduser={upn};{tid}')");
            let (status, v, _) = call(&s, "/v1/rest/mgmt", &admin, &csl).await;
            assert_eq!(status, 200, "{csl}: {v}");
        }
        let token = idp.user_token(&oid, &upn, &[]);
        let someone =
            format!(".add database NetDefaultDB viewers ('aaduser=someone@contoso.com;{tid}')");
        let mut got = Vec::new();
        got.push(call(&s, "/v2/rest/query", &token, "T | count").await);
        got.push(call(&s, "/v1/rest/query", &token, "T | count").await);
        let (status, v) = ingest(&s, &token, "T", "4,w\n").await;
        got.push((status, v, None));
        for csl in [
            ".show tables",
            ".show table T schema as json",
            ".create table N (x:long)",
            ".alter table T (a:long, s:string)",
            someone.as_str(),
            ".show database NetDefaultDB principals",
            ".ingest inline into table T <| 3,z",
            ".set-or-append T <| T | take 1",
            ".drop table T",
        ] {
            got.push(call(&s, "/v1/rest/mgmt", &token, csl).await);
        }
        let label = if grant.is_empty() { "no role" } else { grant };
        for ((op, (status, v, _)), allowed) in ops.iter().zip(got).zip(expected) {
            if allowed {
                assert_eq!(status, 200, "{label} × {op}: {v}");
            } else {
                assert_eq!(status, 403, "{label} × {op}: {v}");
                assert_eq!(v["error"]["code"], "Forbidden", "{label} × {op}");
                let m = v["error"]["@message"].as_str().unwrap_or_default();
                assert!(m.contains(&oid), "{label} × {op}: {m}");
            }
        }
    }
}
