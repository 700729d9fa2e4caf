//! Issue 9's crash probes through the real server: each answers a Kusto result or a 4xx
//! Kusto error (never 500, never a dead process), with values from the docs' semantics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{TestServer, primary_rows};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_mistakes_get_kusto_errors_and_the_server_lives() {
    let s = TestServer::start();
    // (query, status, Kusto code or the first value of the result)
    let cases: &[(&str, u16, &str)] = &[
        // Integer edge cases: null where no long result exists; % is never negative
        // (numerical-operators.md); unary minus wraps like + and -.
        ("print (-9223372036854775807 - 1) / -1", 200, "null"),
        ("print 1 / 0", 200, "null"),
        ("print 7 % 0", 200, "null"),
        ("print 1 % (-9223372036854775807 - 1)", 200, "1"),
        ("print -14 % 12", 200, "10"),
        (
            "print -(-9223372036854775807 - 1)",
            200,
            "-9223372036854775808",
        ),
        (
            "range x from -1 to 1 step 1 | summarize make_list(10 / x)",
            200,
            "[-10,10]",
        ),
        // A pattern that is not a regex, per row.
        (
            "print x = '(abc' | extend y = extract(x, 0, 'abc')",
            400,
            "General_BadRequest",
        ),
        // Strings over the per-value limit, at run time and in constant folding.
        (
            "print strrep(strrep('a', 67108864), 67108864)",
            400,
            "E_RUNAWAY_QUERY",
        ),
        (
            "range n from 1 to 3 step 1 | extend s = strrep(strrep('ab', 67108864 - n), 1000) | summarize sum(strlen(s))",
            400,
            "E_RUNAWAY_QUERY",
        ),
        (
            "print replace_string(strrep('a', 1000000), 'a', strrep('b', 1000))",
            400,
            "E_RUNAWAY_QUERY",
        ),
        // Found by fuzzing (fuzz/regressions/kql_plan): a huge length, a bad countof kind,
        // an average of decimals past Decimal128.
        (
            "print array_index_of(dynamic([1, 2]), 1, 1, 9223372036854775807)",
            200,
            "-1",
        ),
        ("print countof('a', 'a', 'x')", 400, "General_BadRequest"),
        (
            "print make_datetime(1e308, 1, 1)",
            400,
            "General_BadRequest",
        ),
        (
            "print x = decimal(99999999999999999999) | union (print x = decimal(99999999999999999999)) | summarize avg(x)",
            400,
            "General_BadRequest",
        ),
    ];
    for (q, status, want) in cases {
        let (got, v) = s.post("/v2/rest/query", "NetDefaultDB", q).await;
        assert_eq!(got, *status, "{q}: {v}");
        if *status == 200 {
            let rows = primary_rows(&v);
            let first = match &rows[0][0] {
                serde_json::Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            assert_eq!(first, *want, "{q}: {v}");
        } else {
            assert_eq!(v["error"]["code"], *want, "{q}: {v}");
            assert_eq!(v["error"]["@permanent"], true, "{q}: {v}");
        }
    }
    // Still alive.
    let rows = s.query_rows("print 1").await;
    assert_eq!(rows[0][0], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constant_ranges_stream() {
    let s = TestServer::start();
    let rows = s
        .query_rows("range x from 1 to 30000000 step 1 | summarize count(), sum(x)")
        .await;
    assert_eq!(rows[0][0], 30_000_000);
    assert_eq!(rows[0][1], 450_000_015_000_000_i64);
    let rows = s
        .query_rows("range t from datetime(2024-01-01) to datetime(2024-01-02) step 1h | count")
        .await;
    assert_eq!(rows[0][0], 25);
    let rows = s
        .query_rows("range x from 10 to 1 step -3 | summarize make_list(x)")
        .await;
    assert_eq!(rows[0][0], serde_json::json!([10, 7, 4, 1]));
}

/// A query cut off by its `servertimeout` stops working: the server's CPU time barely moves
/// once the 504 has been answered (the plan's tasks are dropped, not left to finish). The
/// bound is generous (a tenth of the query's own appetite over the same wait), so a loaded
/// machine does not make it flaky.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_query_stops_using_cpu() {
    let s = TestServer::start();
    let body = serde_json::json!({
        "db": "NetDefaultDB",
        "csl": "range x from 1 to 20000000000 step 1 | summarize sum(x), dcount(x % 1000)",
        "properties": {"Options": {"servertimeout": "00:00:01"}},
    });
    let resp = s
        .client()
        .post(format!("{}/v2/rest/query", s.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let _ = resp.text().await;
    assert_eq!(status, 504);
    let before = s.cpu_seconds();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let after = s.cpu_seconds();
    // Running, the query keeps both cores busy: ~6 CPU seconds in 3 s.
    assert!(
        after - before < 0.3,
        "the server used {:.2} CPU seconds in the 3 s after the timeout",
        after - before
    );
}

/// A query over its memory budget (`max_memory_consumption_per_query_per_node`, as a
/// request property or a `set` statement) fails with E_LOW_MEMORY_CONDITION instead of
/// growing; the same query within its budget runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_over_their_memory_budget_fail_with_kusto_errors() {
    let s = TestServer::start();
    let q = "range x from 1 to 3000000 step 1 | summarize c = count() by k = x * 7919 % 3000017 | count";
    for (props, text) in [
        (
            serde_json::json!({"Options": {"max_memory_consumption_per_query_per_node": 1048576}}),
            q.to_string(),
        ),
        (
            serde_json::json!({}),
            format!("set max_memory_consumption_per_query_per_node = 1048576; {q}"),
        ),
    ] {
        let resp = s
            .client()
            .post(format!("{}/v2/rest/query", s.url))
            .json(&serde_json::json!({"db": "NetDefaultDB", "csl": text, "properties": props}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(status, 400, "{text}: {v}");
        assert_eq!(v["error"]["code"], "E_LOW_MEMORY_CONDITION", "{v}");
        assert_eq!(v["error"]["@permanent"], true, "{v}");
    }
    let rows = s.query_rows(q).await;
    assert_eq!(rows[0][0], 3_000_000);
}

/// A second server on a data directory in use exits at once with a clear message, and
/// the first keeps its data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_directory_is_refused() {
    let s = TestServer::start();
    s.mgmt(".create table Kept (a:long)").await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_calypso"))
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("in use by another Calypso process"),
        "{stderr}"
    );
    let v = s
        .mgmt(".show tables | where TableName == 'Kept' | count")
        .await;
    assert_eq!(v["Tables"][0]["Rows"][0][0], 1, "{v}");
}
