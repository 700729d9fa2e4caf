use serde_json::json;

use super::*;

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TID: &str = "11111111-2222-3333-4444-555555555555";
const ISS: &str = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";

fn parse(s: &str) -> PrincipalName {
    PrincipalName::parse(s).expect("valid principal name")
}

#[test]
fn parse_and_display() {
    let p = parse("AADUser=alice@contoso.com;72f988bf-86f1-41af-91ab-2d7cd011db47");
    assert_eq!(p.kind(), PrincipalKind::User);
    assert_eq!(p.id(), "alice@contoso.com");
    assert_eq!(p.tenant(), Some(TID));
    assert_eq!(p.to_string(), format!("aaduser=alice@contoso.com;{TID}"));

    let p = parse(" aadapp = 0a1b ");
    assert_eq!(
        (p.kind(), p.id(), p.tenant()),
        (PrincipalKind::App, "0a1b", None)
    );
    assert_eq!(p.to_string(), "aadapp=0a1b");

    let p: PrincipalName = "AadGroup=Data Readers;".parse().expect("valid");
    assert_eq!(
        (p.kind(), p.id(), p.tenant()),
        (PrincipalKind::Group, "Data Readers", None)
    );
    assert_eq!(p.to_string(), "aadgroup=Data Readers");

    for bad in [
        "",
        "alice@contoso.com",
        "msauser=alice",
        "aaduser=",
        "aaduser= ;tid",
        "aaduser=a;b;c",
        "=x",
    ] {
        assert!(
            PrincipalName::parse(bad).is_err(),
            "{bad:?} should not parse"
        );
    }
    let err = PrincipalName::parse("foo=bar").expect_err("unknown kind");
    assert!(
        err.to_string().contains("aaduser, aadapp or aadgroup"),
        "{err}"
    );
}

fn user() -> Identity {
    Identity::from_claims(
        json!({
            "iss": ISS, "tid": TID, "oid": "0000-user-oid", "sub": "pairwise-sub",
            "preferred_username": "Alice@Contoso.com", "name": "Alice Smith",
            "scp": "user_impersonation", "azp": "client-app",
            "groups": ["g-1", "G-2"], "amr": ["pwd", "mfa"]
        }),
        ISS,
        None,
    )
    .expect("user identity")
}

fn app() -> Identity {
    Identity::from_claims(
        json!({"iss": ISS, "tid": TID, "oid": "sp-oid", "sub": "sp-oid", "appid": "app-123",
               "idtyp": "app", "roles": ["x"]}),
        ISS,
        None,
    )
    .expect("app identity")
}

#[test]
fn user_identity() {
    let u = user();
    assert_eq!(u.kind(), IdentityKind::User);
    assert_eq!(u.fqn(), format!("aaduser=0000-user-oid;{TID}"));
    assert_eq!(u.upn(), Some("Alice@Contoso.com"));
    assert_eq!(u.display_name(), "Alice Smith");
    assert_eq!(u.app_id(), Some("client-app"));
    assert_eq!(u.groups(), ["g-1", "G-2"]);
    assert_eq!(
        u.group_names()[1].to_string(),
        format!("aadgroup=G-2;{TID}")
    );
    assert_eq!(u.claims()["scp"], "user_impersonation");
    assert_eq!(
        u.details_json(),
        json!({
            "UserPrincipalName": "Alice@Contoso.com",
            "IdentityProvider": "https://login.microsoftonline.com",
            "Authority": TID,
            "Mfa": "True",
            "Type": "AadUser",
            "DisplayName": "Alice Smith (upn: Alice@Contoso.com)",
            "ObjectId": "0000-user-oid",
            "FQN": format!("aaduser=0000-user-oid;{TID}"),
            "Notes": "",
            "TenantId": TID,
        })
    );
}

#[test]
fn app_identity_rules() {
    let a = app();
    assert_eq!(a.kind(), IdentityKind::App);
    assert_eq!(a.fqn(), format!("aadapp=app-123;{TID}"));
    assert_eq!(a.object_id(), "sp-oid");
    let details = a.details_json();
    assert_eq!(details["Type"], "AadApplication");
    assert_eq!(details["AppId"], "app-123");
    assert_eq!(details["Mfa"], "False");
    assert!(details.get("UserPrincipalName").is_none());

    // v2 app-only token without idtyp: oid == sub and no user claims; app id from azp.
    let a = Identity::from_claims(
        json!({"tid": TID, "oid": "o", "sub": "o", "azp": "v2-app"}),
        ISS,
        None,
    )
    .expect("identity");
    assert_eq!(a.fqn(), format!("aadapp=v2-app;{TID}"));

    // No user claim at all but an appid: application, even when oid != sub.
    let a = Identity::from_claims(
        json!({"sub": "s", "appid": "v1-app"}),
        ISS,
        Some("cfg-tenant"),
    )
    .expect("identity");
    assert_eq!(a.fqn(), "aadapp=v1-app;cfg-tenant");

    // oid == sub but with a upn: a user.
    let u = Identity::from_claims(
        json!({"tid": TID, "oid": "o", "sub": "o", "upn": "bob@contoso.com", "appid": "x"}),
        ISS,
        None,
    )
    .expect("identity");
    assert_eq!(u.kind(), IdentityKind::User);
    assert_eq!(u.fqn(), format!("aaduser=o;{TID}"));
    assert_eq!(u.display_name(), "bob@contoso.com");
}

#[test]
fn generic_oidc_fallbacks() {
    let issuer = "http://127.0.0.1:1/realms/x";
    let u = Identity::from_claims(
        json!({"sub": "user-sub", "email": "carol@example.com", "azp": "cli"}),
        issuer,
        None,
    )
    .expect("identity");
    assert_eq!(u.kind(), IdentityKind::User);
    assert_eq!(u.fqn(), format!("aaduser=user-sub;{issuer}"));
    assert_eq!(u.upn(), Some("carol@example.com"));
    assert_eq!(u.tenant_id(), issuer);

    let u = Identity::from_claims(json!({"sub": "s", "email": "c@x"}), issuer, Some("acme"))
        .expect("identity");
    assert_eq!(u.fqn(), "aaduser=s;acme");

    assert!(matches!(
        Identity::from_claims(json!({"email": "c@x"}), issuer, None),
        Err(AuthError::InvalidToken(_))
    ));
    assert!(Identity::from_claims(json!([1]), issuer, None).is_err());
}

#[test]
fn matching() {
    let u = user();
    let m = |s: &str, default: Option<&str>| u.matches(&parse(s), default);
    assert!(m(&format!("aaduser=0000-USER-oid;{TID}"), None));
    assert!(m(
        &format!("aaduser=alice@contoso.com;{}", TID.to_uppercase()),
        None
    ));
    assert!(m("aaduser=alice@contoso.com", None));
    assert!(m("aaduser=alice@contoso.com", Some(TID)));
    assert!(!m("aaduser=alice@contoso.com", Some(OTHER_TID)));
    assert!(!m(
        &format!("aaduser=alice@contoso.com;{OTHER_TID}"),
        Some(TID)
    ));
    assert!(!m("aaduser=bob@contoso.com", None));
    assert!(!m("aaduser=pairwise-sub", None));
    // Groups: membership, case-insensitive, tenant-checked.
    assert!(m("aadgroup=g-2", None));
    assert!(m(&format!("aadgroup=G-1;{TID}"), None));
    assert!(!m(&format!("aadgroup=g-1;{OTHER_TID}"), None));
    assert!(!m("aadgroup=g-3", None));
    // A user is not the client app it signed in with.
    assert!(!m("aadapp=client-app", None));

    let a = app();
    assert!(a.matches(&parse(&format!("aadapp=APP-123;{TID}")), None));
    assert!(a.matches(&parse("aadapp=app-123"), Some(TID)));
    assert!(!a.matches(&parse("aadapp=app-123"), Some(OTHER_TID)));
    assert!(!a.matches(&parse("aadapp=sp-oid"), None));
    assert!(!a.matches(&parse("aaduser=sp-oid"), None));
    assert!(!a.matches(&parse("aadgroup=g-1"), None));
}
