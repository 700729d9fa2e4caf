//! `TestServer`: the real `calypso` binary serving on 127.0.0.1 port 0 with a temporary
//! data directory (as InfluxDB 3's TestServer does), and small HTTP helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A running `calypso serve`.
pub struct TestServer {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The data directory.
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// Everything the process printed (stdout and stderr).
    pub log: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    /// A server with a new temporary data directory.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// A server with extra `serve` arguments and a new temporary data directory.
    pub fn start_with(args: &[&str]) -> TestServer {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut s = TestServer::start_in(tmp.path(), args);
        s._tmp = Some(tmp);
        s
    }

    /// A server on an existing data directory (to test restarts).
    pub fn start_in(data_dir: &Path, args: &[&str]) -> TestServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_calypso"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start calypso");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log2.lock().unwrap().push(line);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut url = None;
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap_or(0) > 0 {
            log.lock().unwrap().push(line.trim_end().to_string());
            if let Some(rest) = line.trim().strip_prefix("Calypso listening on ") {
                url = Some(rest.to_string());
                break;
            }
            line.clear();
        }
        let log3 = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                log3.lock().unwrap().push(line);
            }
        });
        let Some(url) = url else {
            let status = child.wait();
            panic!(
                "the server did not start ({status:?}):\n{}",
                log.lock().unwrap().join("\n")
            );
        };
        TestServer {
            child: Some(child),
            addr: url.trim_start_matches("http://").to_string(),
            url,
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
            log,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// CPU time (user + system) the server process has used so far, in seconds (Linux).
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<f64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
        let ticks = f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0);
        ticks / 100.0
    }

    /// Sends SIGTERM (without waiting).
    pub fn terminate(&self) {
        if let Some(c) = &self.child {
            let ok = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status()
                .expect("kill");
            assert!(ok.success());
        }
    }

    /// Waits for the process to exit (at most 60 s).
    pub fn wait(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait; returns the exit status.
    pub fn stop(mut self) -> ExitStatus {
        self.terminate();
        self.wait()
    }

    /// Stops the server, keeping its temporary directory alive, and starts a new
    /// server on the same data.
    pub fn restart(mut self) -> TestServer {
        self.terminate();
        let status = self.wait();
        assert!(status.success(), "exit status {status:?}");
        let mut next = TestServer::start_in(&self.data_dir.clone(), &[]);
        next._tmp = self._tmp.take();
        next
    }

    /// Kills the server with SIGKILL (no shutdown at all), keeping its temporary
    /// directory alive, and starts a new server on the same data with `args`.
    pub fn kill_and_restart(mut self, args: &[&str]) -> TestServer {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reap");
        }
        let mut next = TestServer::start_in(&self.data_dir.clone(), args);
        next._tmp = self._tmp.take();
        next
    }

    /// Everything the process printed so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// A client that neither follows redirects nor decompresses responses.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .no_gzip()
            .build()
            .expect("client")
    }

    /// POSTs `{"db": db, "csl": csl}` to `path`; returns the status and the JSON body.
    pub async fn post(&self, path: &str, db: &str, csl: &str) -> (u16, Value) {
        let resp = self
            .client()
            .post(format!("{}{path}", self.url))
            .json(&json!({"db": db, "csl": csl}))
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path} answered {status} with non-JSON ({e}): {text}"));
        (status, v)
    }

    /// Runs a management command; panics unless it succeeds.
    pub async fn mgmt(&self, csl: &str) -> Value {
        let (status, v) = self.post("/v1/rest/mgmt", "NetDefaultDB", csl).await;
        assert_eq!(status, 200, "{csl}: {v}");
        v
    }

    /// The rows of the first table of a management command's (v1) answer; panics unless
    /// it succeeds.
    pub async fn mgmt_rows(&self, csl: &str) -> Vec<Value> {
        let v = self.mgmt(csl).await;
        v["Tables"][0]["Rows"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The rows of the primary result of a v2 query.
    pub async fn query_rows(&self, csl: &str) -> Vec<Value> {
        let (status, v) = self.post("/v2/rest/query", "NetDefaultDB", csl).await;
        assert_eq!(status, 200, "{csl}: {v}");
        primary_rows(&v)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The rows of the first PrimaryResult frame.
pub fn primary_rows(frames: &Value) -> Vec<Value> {
    frames
        .as_array()
        .expect("frames")
        .iter()
        .find(|f| f["TableKind"] == "PrimaryResult")
        .map(|f| f["Rows"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
}

/// A raw HTTP/1.1 exchange on a new connection: writes `head` and `body` (the body in
/// `pause`-separated halves when given), reads until the server closes.
pub fn raw_exchange(addr: &str, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    s.write_all(head.as_bytes()).expect("write head");
    s.write_all(body).expect("write body");
    read_response(&mut s)
}

/// Reads a whole response (the request said `Connection: close`).
pub fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Replaces what differs between runs (ids, timestamps, timings) with placeholders.
pub fn normalize(v: &mut Value) {
    const VOLATILE: &[&str] = &[
        "timestamp",
        "clientRequestId",
        "activityId",
        "subActivityId",
        "parentActivityId",
        "activityStack",
        "machineName",
        "processName",
        "processId",
        "threadId",
    ];
    match v {
        Value::Object(o) => {
            let columns: Vec<&str> = o
                .get("Columns")
                .and_then(Value::as_array)
                .map(|c| c.iter().filter_map(|c| c["ColumnName"].as_str()).collect())
                .unwrap_or_default();
            // QueryCompletionInformation (v2) and QueryStatus (v1): timings and ids.
            let is_completion = columns
                .iter()
                .any(|c| ["ActivityId", "ClientRequestId", "ClientActivityId"].contains(c));
            // The v1 table of contents: a random id per table.
            let is_toc = columns.contains(&"Ordinal") && columns.contains(&"Id");
            for (k, x) in o.iter_mut() {
                if VOLATILE.iter().any(|n| n.eq_ignore_ascii_case(k)) {
                    *x = Value::String("[volatile]".into());
                } else if is_completion && k == "Rows" {
                    *x = Value::String("[rows with timings and ids]".into());
                } else if is_toc && k == "Rows" {
                    for cell in x
                        .as_array_mut()
                        .into_iter()
                        .flatten()
                        .flat_map(|r| r.as_array_mut().into_iter().flatten())
                    {
                        if cell.as_str().is_some_and(uuid_like) {
                            *cell = Value::String("[guid]".into());
                        }
                    }
                } else if x.as_str().is_some_and(uuid_like) {
                    // ids in properties; guids in result rows (arrays) are data
                    *x = Value::String("[guid]".into());
                } else {
                    normalize(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn uuid_like(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}
