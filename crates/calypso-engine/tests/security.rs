//! Role-based access control: every role against the main operations (the expected
//! allowed/denied table is written by hand from ADX's documented permissions), the
//! RestrictedViewAccess policy, groups, dropped principals, the Stream Analytics case
//! (Ingestor + Monitor), creators becoming table admins, and `current_principal*()`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow::array::{Array, BooleanArray, LargeStringArray, StringArray};
use calypso_auth::Identity;
use calypso_engine::{Caller, Engine, EngineError, MappingSpec, QueryResult, RequestOptions};
use serde_json::json;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const DB: &str = "db";
const GROUP: &str = "0b6f3a55-8d4c-4a2b-9f57-5d1d3d9a3c11";

/// A user `name@contoso.com` whose object id is derived from the name.
fn user(name: &str, groups: &[&str]) -> Caller {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    let oid = format!("00000000-0000-0000-0000-{hex:0>12}");
    let claims = json!({
        "oid": oid,
        "sub": format!("sub-{name}"),
        "tid": TENANT,
        "upn": format!("{name}@contoso.com"),
        "name": name,
        "groups": groups,
    });
    Caller::Principal(Box::new(
        Identity::from_claims(claims, &format!("https://sts.windows.net/{TENANT}/"), None).unwrap(),
    ))
}

fn app(app_id: &str) -> Caller {
    let claims = json!({"oid": "11111111-2222-3333-4444-555555555555", "sub": "11111111-2222-3333-4444-555555555555", "tid": TENANT, "appid": app_id, "idtyp": "app"});
    Caller::Principal(Box::new(
        Identity::from_claims(claims, &format!("https://sts.windows.net/{TENANT}/"), None).unwrap(),
    ))
}

async fn admin_run(e: &Engine, text: &str) -> QueryResult {
    e.execute(DB, text, &RequestOptions::default())
        .await
        .unwrap_or_else(|err| panic!("{text}: {err}"))
}

/// A fresh engine with database `db`, table `T` (2 rows, streaming on) and table `U`.
async fn setup() -> Engine {
    let e = Engine::new();
    e.execute(
        "NetDefaultDB",
        ".create database db",
        &RequestOptions::default(),
    )
    .await
    .unwrap();
    for cmd in [
        ".create table T (a:long, s:string)",
        ".create table U (a:long)",
        ".ingest inline into table T <| 1,x\n2,y",
        ".ingest inline into table U <| 7",
        ".alter table T policy streamingingestion enable",
    ] {
        admin_run(&e, cmd).await;
    }
    e
}

async fn run(e: &Engine, caller: &Caller, text: &str) -> Result<QueryResult, EngineError> {
    e.execute_as(caller, DB, text, &RequestOptions::default())
        .await
}

fn first_string(r: &QueryResult) -> String {
    let b = &r.tables[0].batches[0];
    let c = b.column(0);
    if let Some(s) = c.as_any().downcast_ref::<StringArray>() {
        return s.value(0).to_string();
    }
    c.as_any()
        .downcast_ref::<LargeStringArray>()
        .expect("a string column")
        .value(0)
        .to_string()
}

fn rows(r: &QueryResult) -> usize {
    r.tables[0].row_count()
}

/// Asserts the outcome: `true` = allowed (no error at all), `false` = 403 naming the caller.
fn check(label: &str, op: &str, caller: &Caller, outcome: Result<(), EngineError>, allowed: bool) {
    match (outcome, allowed) {
        (Ok(()), true) => {}
        (Err(EngineError::Forbidden(m)), false) => {
            assert!(
                m.contains(&caller.fqn()),
                "{label} × {op}: the message names the principal: {m}"
            );
            assert!(m.starts_with("Principal '"), "{label} × {op}: {m}");
        }
        (Ok(()), false) => panic!("{label} × {op}: allowed, expected 403"),
        (Err(e), _) => panic!("{label} × {op}: expected {allowed}, got {e:?}"),
    }
}

const OPS: [&str; 11] = [
    "query",
    ".show tables",
    ".show table schema",
    ".create table",
    ".alter table",
    ".add database viewers",
    ".show database principals",
    ".ingest inline",
    ".set-or-append",
    "streaming ingest",
    ".drop table",
];

/// The expected outcome of each operation (in [`OPS`] order) for each role, from the
/// documentation (`role-based-access-control.md` and each command's Permissions section):
/// Y = allowed, N = denied.
const MATRIX: [(&str, &str); 12] = [
    // role                         q  st sc ct at ar sp ii sa si dt
    (".add cluster alldatabasesadmins", "Y Y Y Y Y Y Y Y Y Y Y"),
    (".add cluster alldatabasesviewers", "Y Y Y N N N Y N N N N"),
    (".add cluster alldatabasesmonitors", "N Y Y N N N Y N N N N"),
    (".add database db admins", "Y Y Y Y Y Y Y Y Y Y Y"),
    (".add database db users", "Y Y Y Y N N Y N N N N"),
    (".add database db viewers", "Y Y Y N N N Y N N N N"),
    (
        ".add database db unrestrictedviewers",
        "N N N N N N N N N N N",
    ),
    (".add database db ingestors", "N N N N N N N Y N Y N"),
    (".add database db monitors", "N Y Y N N N Y N N N N"),
    (".add table T admins", "N N Y N Y N N Y N Y Y"),
    (".add table T ingestors", "N N N N N N N Y N Y N"),
    ("", "N N N N N N N N N N N"),
];

#[tokio::test]
async fn every_role_against_every_operation() {
    for (i, (grant, expected)) in MATRIX.iter().enumerate() {
        let expected: Vec<bool> = expected.split(' ').map(|c| c == "Y").collect();
        assert_eq!(expected.len(), OPS.len());
        let e = setup().await;
        let name = format!("p{i}");
        let caller = user(&name, &[]);
        if !grant.is_empty() {
            admin_run(&e, &format!("{grant} ('aaduser={name}@contoso.com')")).await;
        }
        let label = if grant.is_empty() { "no role" } else { grant };
        let r = |x: Result<QueryResult, EngineError>| x.map(|_| ());
        let outcomes = [
            r(run(&e, &caller, "T | count").await),
            r(run(&e, &caller, ".show tables").await),
            r(run(&e, &caller, ".show table T schema as json").await),
            r(run(&e, &caller, ".create table N (x:long)").await),
            r(run(&e, &caller, ".alter table T (a:long, s:string)").await),
            r(run(
                &e,
                &caller,
                ".add database db viewers ('aaduser=someone@contoso.com')",
            )
            .await),
            r(run(&e, &caller, ".show database db principals").await),
            r(run(&e, &caller, ".ingest inline into table T <| 3,z").await),
            r(run(&e, &caller, ".set-or-append T <| T | take 1").await),
            e.ingest_stream_as(&caller, DB, "T", "csv", MappingSpec::Identity, b"4,w\n")
                .await
                .map(|_| ()),
            r(run(&e, &caller, ".drop table T").await),
        ];
        for ((op, outcome), allowed) in OPS.iter().zip(outcomes).zip(expected) {
            check(label, op, &caller, outcome, allowed);
        }
    }
}

#[tokio::test]
async fn restricted_view_access_needs_unrestricted_viewer() {
    let e = setup().await;
    admin_run(&e, ".alter table T policy restricted_view_access true").await;
    let policy = admin_run(&e, ".show table T policy restricted_view_access").await;
    assert_eq!(first_string(&policy), "RestrictedViewAccessPolicy");
    admin_run(&e, ".create function ReadsT() { T | count }").await;
    let (viewer, unrestricted, admin) = (user("v", &[]), user("u", &[]), user("a", &[]));
    admin_run(
        &e,
        ".add database db viewers ('aaduser=v@contoso.com', 'aaduser=u@contoso.com')",
    )
    .await;
    admin_run(
        &e,
        ".add database db unrestrictedviewers ('aaduser=u@contoso.com')",
    )
    .await;
    admin_run(&e, ".add database db admins ('aaduser=a@contoso.com')").await;
    // A viewer reads other tables, not the restricted one, also not through a function.
    assert_eq!(rows(&run(&e, &viewer, "U").await.unwrap()), 1);
    for q in ["T", "U | union T", "ReadsT", "print toscalar(T | count)"] {
        match run(&e, &viewer, q).await {
            Err(EngineError::Forbidden(m)) => {
                assert!(m.contains("is not authorized to read table 'db.T'"), "{m}")
            }
            other => panic!("{q}: {other:?}"),
        }
    }
    // Metadata stays visible.
    run(&e, &viewer, ".show table T schema as json")
        .await
        .unwrap();
    // Even a database admin needs UnrestrictedViewer.
    assert!(matches!(
        run(&e, &admin, "T").await,
        Err(EngineError::Forbidden(_))
    ));
    assert_eq!(rows(&run(&e, &unrestricted, "T").await.unwrap()), 2);
    // UnrestrictedViewer alone (without viewers) cannot query at all.
    admin_run(&e, ".drop database db viewers ('aaduser=u@contoso.com')").await;
    assert!(matches!(
        run(&e, &unrestricted, "T").await,
        Err(EngineError::Forbidden(_))
    ));
    // Off again: the viewer reads it.
    admin_run(&e, ".delete table T policy restricted_view_access").await;
    assert_eq!(rows(&run(&e, &viewer, "T").await.unwrap()), 2);
}

#[tokio::test]
async fn group_and_app_assignments_grant_their_members() {
    let e = setup().await;
    admin_run(
        &e,
        &format!(".add database db viewers ('aadgroup={GROUP};{TENANT}')"),
    )
    .await;
    admin_run(
        &e,
        &format!(".add database db ingestors ('aadapp=my-app;{TENANT}')"),
    )
    .await;
    let member = user("m", &[GROUP]);
    let outsider = user("o", &["another-group"]);
    assert_eq!(rows(&run(&e, &member, "T").await.unwrap()), 2);
    assert!(matches!(
        run(&e, &outsider, "T").await,
        Err(EngineError::Forbidden(_))
    ));
    let writer = app("my-app");
    e.ingest_stream_as(&writer, DB, "T", "csv", MappingSpec::Identity, b"5,q\n")
        .await
        .unwrap();
    assert!(matches!(
        e.ingest_stream_as(&app("other-app"), DB, "T", "csv", MappingSpec::Identity, b"5,q\n")
            .await,
        Err(EngineError::Forbidden(m)) if m.contains("is not authorized to write table 'db.T'")
    ));
}

#[tokio::test]
async fn a_dropped_principal_is_denied_afterwards() {
    let e = setup().await;
    let v = user("gone", &[]);
    admin_run(
        &e,
        ".add database db viewers ('aaduser=gone@contoso.com') 'temporary'",
    )
    .await;
    run(&e, &v, "T").await.unwrap();
    let shown = admin_run(&e, ".show database db principals").await;
    assert_eq!(rows(&shown), 1);
    admin_run(&e, ".drop database db viewers ('AADUSER=gone@contoso.com')").await;
    match run(&e, &v, "T").await {
        Err(EngineError::Forbidden(m)) => assert_eq!(
            m,
            format!(
                "Principal '{}' is not authorized to read database 'db'.",
                v.fqn()
            )
        ),
        other => panic!("{other:?}"),
    }
    // `.set ... none` clears a role.
    admin_run(&e, ".add database db viewers ('aaduser=gone@contoso.com')").await;
    admin_run(&e, ".set database db viewers none").await;
    assert!(run(&e, &v, "print 1").await.is_err());
}

#[tokio::test]
async fn stream_analytics_ingestor_and_monitor() {
    let e = setup().await;
    admin_run(&e, ".add database db ingestors ('aaduser=asa@contoso.com')").await;
    admin_run(&e, ".add database db monitors ('aaduser=asa@contoso.com')").await;
    let asa = user("asa", &[]);
    let s = e
        .ingest_stream_as(&asa, DB, "T", "csv", MappingSpec::Identity, b"9,csv\n")
        .await
        .unwrap();
    assert_eq!(s.rows, 1);
    let schema = run(&e, &asa, ".show table T schema as json").await.unwrap();
    assert_eq!(first_string(&schema), "T");
    assert!(matches!(
        run(&e, &asa, "T | take 1").await,
        Err(EngineError::Forbidden(_))
    ));
    assert_eq!(rows(&admin_run(&e, "T").await), 3);
}

#[tokio::test]
async fn creators_become_admins_of_their_tables_and_functions() {
    let e = setup().await;
    admin_run(&e, ".add database db users ('aaduser=maker@contoso.com')").await;
    let maker = user("maker", &[]);
    run(&e, &maker, ".create table Mine (x:long)")
        .await
        .unwrap();
    run(&e, &maker, ".set-or-append Made <| print x=1")
        .await
        .unwrap();
    run(&e, &maker, ".create function F() { print 1 }")
        .await
        .unwrap();
    let p = run(&e, &maker, ".show table Mine principals")
        .await
        .unwrap();
    assert_eq!(first_string(&p), "Table Mine Admin");
    // Admin of what it made, not of the rest.
    run(&e, &maker, ".alter-merge table Mine (y:string)")
        .await
        .unwrap();
    run(&e, &maker, ".ingest inline into table Made <| 2")
        .await
        .unwrap();
    run(&e, &maker, ".create-or-alter function F() { print 2 }")
        .await
        .unwrap();
    run(&e, &maker, ".drop function F").await.unwrap();
    assert!(matches!(
        run(&e, &maker, ".alter-merge table T (z:string)").await,
        Err(EngineError::Forbidden(_))
    ));
    run(&e, &maker, ".drop table Mine").await.unwrap();
    // A dropped table's roles are gone with it: a new table of that name is not the maker's.
    admin_run(&e, ".create table Mine (x:long)").await;
    assert!(matches!(
        run(&e, &maker, ".drop table Mine").await,
        Err(EngineError::Forbidden(_))
    ));
    // Renaming keeps roles.
    admin_run(&e, ".add table U admins ('aaduser=maker@contoso.com')").await;
    admin_run(&e, ".rename table U to U2").await;
    run(&e, &maker, ".alter-merge table U2 (b:string)")
        .await
        .unwrap();
}

#[tokio::test]
async fn current_principal_functions() {
    let e = setup().await;
    let alice = user("alice", &[GROUP]);
    admin_run(&e, ".add database db viewers ('aaduser=alice@contoso.com')").await;
    let r = run(&e, &alice, "print current_principal()").await.unwrap();
    assert_eq!(first_string(&r), alice.fqn());
    assert!(alice.fqn().starts_with("aaduser=00000000-"));
    let r = run(&e, &alice, "print d=current_principal_details()")
        .await
        .unwrap();
    let d: serde_json::Value = serde_json::from_str(&first_string(&r)).unwrap();
    assert_eq!(d["FQN"], alice.fqn());
    assert_eq!(d["UserPrincipalName"], "alice@contoso.com");
    let member = |q: &str| {
        let q = q.to_string();
        let (e, alice) = (&e, &alice);
        async move {
            let r = run(e, alice, &q).await.unwrap();
            let b = &r.tables[0].batches[0];
            b.column(0)
                .as_any()
                .downcast_ref::<BooleanArray>()
                .unwrap()
                .value(0)
        }
    };
    assert!(
        member(&format!(
            "print current_principal_is_member_of('aadgroup={GROUP}')"
        ))
        .await
    );
    assert!(
        member(
            "print current_principal_is_member_of('aadgroup=nope', 'aaduser=alice@contoso.com')"
        )
        .await
    );
    assert!(member(&format!("print current_principal_is_member_of(dynamic(['aadgroup=x', 'aadgroup={GROUP};{TENANT}']))")).await);
    assert!(!member("print current_principal_is_member_of('aaduser=bob@contoso.com')").await);
    assert!(matches!(
        run(&e, &alice, "print current_principal_is_member_of('bob')").await,
        Err(EngineError::Plan { .. })
    ));
    // Without authentication: "" and nobody's member.
    let r = admin_run(
        &e,
        "print current_principal(), current_principal_is_member_of('aaduser=x')",
    )
    .await;
    assert_eq!(first_string(&r), "");
}

#[tokio::test]
async fn unknown_databases_and_database_lists() {
    let e = setup().await;
    admin_run(&e, ".create database other").await;
    admin_run(&e, ".add database db viewers ('aaduser=v@contoso.com')").await;
    admin_run(
        &e,
        ".add cluster alldatabasesviewers ('aaduser=all@contoso.com')",
    )
    .await;
    let (v, all, nobody) = (user("v", &[]), user("all", &[]), user("nobody", &[]));
    let opts = RequestOptions::default();
    assert!(matches!(
        e.execute_as(&v, "missing", "print 1", &opts).await,
        Err(EngineError::Forbidden(m)) if m.ends_with("is not authorized to read database 'missing'.")
    ));
    assert!(matches!(
        e.execute_as(&all, "missing", "print 1", &opts).await,
        Err(EngineError::UnknownDatabase(_))
    ));
    // `.show databases` lists the databases the caller has a role in.
    assert_eq!(rows(&run(&e, &v, ".show databases").await.unwrap()), 1);
    assert_eq!(rows(&run(&e, &all, ".show databases").await.unwrap()), 3);
    assert_eq!(rows(&run(&e, &nobody, ".show databases").await.unwrap()), 0);
    // `.show version` needs some role; `.show principal roles` only authentication.
    run(&e, &v, ".show version").await.unwrap();
    assert!(matches!(
        run(&e, &nobody, ".show version").await,
        Err(EngineError::Forbidden(m)) if m.contains("'VersionShowCommand'")
    ));
    assert_eq!(
        rows(&run(&e, &nobody, ".show principal roles").await.unwrap()),
        0
    );
    let mine = run(&e, &v, ".show principal roles").await.unwrap();
    assert_eq!(first_string(&mine), "Database db");
}

#[tokio::test]
async fn role_commands_validate_and_cluster_admin_is_seeded_once() {
    let e = setup().await;
    for bad in [
        ".add database db viewers ('alice@contoso.com')",
        ".add database db viewers ('aadfoo=x')",
        ".add table T viewers ('aaduser=x')",
        ".add cluster admins ('aaduser=x')",
    ] {
        assert!(
            matches!(
                e.execute(DB, bad, &RequestOptions::default()).await,
                // table viewers: Kusto's grammar has no such role (a syntax error)
                Err(EngineError::BadRequest(_) | EngineError::Syntax(_))
            ),
            "{bad}"
        );
    }
    e.ensure_cluster_admin("aaduser=root@contoso.com")
        .await
        .unwrap();
    e.ensure_cluster_admin("AADUSER=root@contoso.com")
        .await
        .unwrap();
    let p = admin_run(&e, ".show cluster principals").await;
    assert_eq!(rows(&p), 1);
    assert_eq!(first_string(&p), "AllDatabasesAdmin");
    let root = user("root", &[]);
    run(&e, &root, ".create database made_by_root")
        .await
        .unwrap();
    let denied = run(&e, &user("x", &[]), ".create database nope").await;
    assert!(
        matches!(denied, Err(EngineError::Forbidden(m)) if m.contains("'DatabaseCreateCommand' on the cluster"))
    );
}

#[tokio::test]
async fn operators_after_a_command_cannot_read_rows_without_the_right() {
    let e = Engine::new();
    let o = RequestOptions::default();
    for cmd in [
        ".create table Secret (x:long)",
        ".ingest inline into table Secret <| 42",
        ".add database NetDefaultDB monitors ('aaduser=mon@contoso.com')",
    ] {
        e.execute("NetDefaultDB", cmd, &o).await.unwrap();
    }
    let mon = user("mon", &[]);
    let shown = e
        .execute_as(
            &mon,
            "NetDefaultDB",
            ".show tables | where TableName == 'Secret'",
            &o,
        )
        .await
        .unwrap();
    assert_eq!(rows(&shown), 1);
    assert!(matches!(
        e.execute_as(
            &mon,
            "NetDefaultDB",
            ".show tables | union (Secret | project TableName = tostring(x))",
            &o
        )
        .await,
        Err(EngineError::Forbidden(_))
    ));
}

#[tokio::test]
async fn function_admins_and_database_admins_manage_functions() {
    let e = setup().await;
    admin_run(&e, ".create function G() { print 1 }").await;
    admin_run(
        &e,
        ".add database db viewers ('aaduser=fa@contoso.com', 'aaduser=v@contoso.com')",
    )
    .await;
    admin_run(&e, ".add function G admins ('aaduser=fa@contoso.com')").await;
    let (fa, v) = (user("fa", &[]), user("v", &[]));
    assert!(matches!(
        run(&e, &v, ".create-or-alter function G() { print 2 }").await,
        Err(EngineError::Forbidden(m)) if m.contains("'FunctionCreateOrAlterCommand' on database 'db'")
    ));
    run(&e, &fa, ".create-or-alter function G() { print 3 }")
        .await
        .unwrap();
    // Altering kept the function's roles.
    let p = run(&e, &fa, ".show function G principals").await.unwrap();
    assert_eq!(first_string(&p), "Function G Admin");
    assert!(matches!(
        run(&e, &v, ".drop function G").await,
        Err(EngineError::Forbidden(_))
    ));
    run(&e, &fa, ".drop function G").await.unwrap();
}

/// Tables read through `database("other")` are checked against `other`'s roles: "you must
/// have viewer permission to the default database and to every other database referenced
/// in the query" (`cross-cluster-or-database-queries.md`).
#[tokio::test]
async fn qualified_names_need_the_other_databases_roles() {
    let e = setup().await;
    admin_run(&e, ".create database other").await;
    let opts = RequestOptions::default();
    for cmd in [
        ".create table V (a:long)",
        ".ingest inline into table V <| 1\n5",
        ".create function Constant() { print x = 1 }",
    ] {
        e.execute("other", cmd, &opts).await.unwrap();
    }
    admin_run(
        &e,
        ".add database db viewers ('aaduser=v@contoso.com', 'aaduser=both@contoso.com')",
    )
    .await;
    admin_run(
        &e,
        ".add database other viewers ('aaduser=both@contoso.com')",
    )
    .await;
    admin_run(&e, ".add database other viewers ('aaduser=o@contoso.com')").await;
    let (viewer, both, other_only) = (user("v", &[]), user("both", &[]), user("o", &[]));
    let reads_other = [
        r#"database("other").V"#,
        r#"database('other').V | count"#,
        r#"cluster("localhost").database("other").V"#,
        r#"T | join kind=inner (database("other").V) on a"#,
        r#"T | lookup (database("other").V) on a"#,
        r#"union T, database("other").V"#,
        r#"T | where a in (database("other").V | project a)"#,
        r#"print toscalar(database("other").V | count)"#,
        r#"database("other").Constant()"#,
    ];
    for q in reads_other {
        match run(&e, &viewer, q).await {
            Err(EngineError::Forbidden(m)) => {
                assert!(m.contains(&viewer.fqn()), "{q}: {m}");
                assert!(
                    m.ends_with("is not authorized to read database 'other'."),
                    "{q}: {m}"
                );
            }
            other => panic!("{q}: expected 403, got {other:?}"),
        }
        run(&e, &both, q)
            .await
            .unwrap_or_else(|err| panic!("{q}: {err}"));
    }
    // a stored function of db reading other is checked the same way
    admin_run(
        &e,
        r#".create function ReadsOther() { database("other").V | count }"#,
    )
    .await;
    assert!(matches!(
        run(&e, &viewer, "ReadsOther").await,
        Err(EngineError::Forbidden(_))
    ));
    assert_eq!(first_long(&run(&e, &both, "ReadsOther").await.unwrap()), 2);
    // a viewer of other alone cannot query db, even to read other
    assert!(matches!(
        run(&e, &other_only, r#"database("other").V"#).await,
        Err(EngineError::Forbidden(m)) if m.ends_with("is not authorized to read database 'db'.")
    ));
    assert_eq!(
        rows(
            &e.execute_as(&other_only, "other", "V", &opts)
                .await
                .unwrap()
        ),
        2
    );
    // RestrictedViewAccess of the other database's table applies too
    e.execute(
        "other",
        ".alter table V policy restricted_view_access true",
        &opts,
    )
    .await
    .unwrap();
    assert!(matches!(
        run(&e, &both, r#"database("other").V"#).await,
        Err(EngineError::Forbidden(m)) if m.contains("is not authorized to read table 'other.V'")
    ));
}

fn first_long(r: &QueryResult) -> i64 {
    r.tables[0].batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .expect("a long column")
        .value(0)
}

/// Row-level security applies to every caller, database admins included, and the policy's
/// query sees the caller through `current_principal*()` (row-level-security-policy.md).
#[tokio::test]
async fn row_level_security_filters_by_caller_for_everyone() {
    let e = setup().await;
    let alice = user("alice", &[]);
    let bob = user("bob", &[]);
    for cmd in [
        ".create table Sales (Seller:string, Amount:long)",
        ".ingest inline into table Sales <| alice@contoso.com,5\nbob@contoso.com,7\nalice@contoso.com,1",
        ".add database db viewers ('aaduser=alice@contoso.com')",
        ".add database db admins ('aaduser=bob@contoso.com')",
        ".alter table Sales policy row_level_security enable \"Sales | where Seller == tostring(current_principal_details().UserPrincipalName)\"",
    ] {
        admin_run(&e, cmd).await;
    }
    let total = |r: QueryResult| {
        let b = &r.tables[0].batches[0];
        b.column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .value(0)
    };
    assert_eq!(
        total(
            run(&e, &alice, "Sales | summarize sum(Amount)")
                .await
                .unwrap()
        ),
        6
    );
    // bob is a database admin: the policy applies to him too.
    assert_eq!(
        total(
            run(&e, &bob, "Sales | summarize sum(Amount)")
                .await
                .unwrap()
        ),
        7
    );
    assert_eq!(
        total(run(&e, &bob, "union Sales, Sales | count").await.unwrap()),
        2
    );
}

/// drop-extents.md: "If the TableName is specified, ... at least Table Admin"; "If the
/// TableName isn't specified, ... Database Admin"; the tags and move commands need Table
/// Admin of every table involved, also of those a source query's rows name.
#[tokio::test]
async fn extent_commands_need_table_or_database_admin() {
    let e = setup().await;
    let t_admin = user("tadmin", &[]);
    let ingestor = user("ing", &[]);
    admin_run(&e, ".add table T admins ('aaduser=tadmin@contoso.com')").await;
    admin_run(
        &e,
        ".add database db viewers ('aaduser=tadmin@contoso.com')",
    )
    .await;
    admin_run(&e, ".add database db ingestors ('aaduser=ing@contoso.com')").await;
    let r = |x: Result<QueryResult, EngineError>| x.map(|_| ());
    let cases: [(&str, &Caller, bool); 9] = [
        (".drop extents older 1000 days from T", &t_admin, true),
        (
            ".drop extents older 1000 days from all tables",
            &t_admin,
            false,
        ),
        (".drop extents older 1000 days from T", &ingestor, false),
        (
            ".alter-merge table T extent tags ('x') <| .show table T extents",
            &t_admin,
            true,
        ),
        (
            ".alter-merge table T extent tags ('x') <| .show table T extents",
            &ingestor,
            false,
        ),
        (".drop table T extent tags ('x')", &t_admin, true),
        // U is not the caller's: neither as the source named nor as a query's rows.
        (".move extents all from table U to table T", &t_admin, false),
        (
            ".drop extents <| U | summarize by ExtentId = extent_id(), TableName = 'U'",
            &t_admin,
            false,
        ),
        (".drop extents from T", &t_admin, true),
    ];
    for (text, caller, allowed) in cases {
        check(text, text, caller, r(run(&e, caller, text).await), allowed);
    }
    assert_eq!(rows(&admin_run(&e, "U").await), 1, "U kept its rows");
    assert_eq!(
        rows(&admin_run(&e, "T").await),
        0,
        "T's extents were dropped"
    );
}
