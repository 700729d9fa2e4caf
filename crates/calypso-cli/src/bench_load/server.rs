//! The server side of `calypso bench load`: a `calypso serve` child process, and the memory
//! and CPU of a server process read from `/proc`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `VmRSS` and `VmHWM` (peak) of a process in KiB, from `/proc/<pid>/status`.
pub(crate) fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// User + system CPU seconds of a process (`/proc/<pid>/stat`; `self` for this one).
pub(crate) fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces:
    // utime and stime are the 14th and 15th of the line, the 12th and 13th here.
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: f64 = rest.next()?.parse().ok()?;
    let stime: f64 = rest.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Samples the RSS of `pid` every 250 ms until `stop`: (seconds since the start, KiB).
pub(crate) fn sample_rss(
    pid: u32,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(f64, u64)>> {
    tokio::spawn(async move {
        let start = Instant::now();
        let mut samples = Vec::new();
        while !stop.load(Ordering::Acquire) {
            if let Some((rss, _)) = memory_kib(pid) {
                samples.push((start.elapsed().as_secs_f64(), rss));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        samples
    })
}

/// A `calypso serve` child process of this binary with a temporary data directory.
pub(crate) struct ServerChild {
    child: Child,
    /// The temporary directory: `data/` and `server.log`.
    pub(crate) dir: PathBuf,
    /// The URL the server printed.
    pub(crate) url: String,
}

impl ServerChild {
    pub(crate) fn start(extra: &[String]) -> Result<ServerChild, String> {
        let exe = std::env::current_exe().map_err(|e| format!("this executable: {e}"))?;
        let dir = std::env::temp_dir().join(format!("calypso-bench-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let log = std::fs::File::create(dir.join("server.log"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut child = Command::new(exe)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .args(extra)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting calypso serve: {e}"))?;
        let stdout = child.stdout.take();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            // Reads the whole output, so that the server never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.trim().strip_prefix("Calypso listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let mut server = ServerChild {
            child,
            dir,
            url: String::new(),
        };
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(url) => server.url = url,
            Err(_) => {
                let tail = server.log_tail();
                server.stop();
                return Err(format!("the server did not start:\n{tail}"));
            }
        }
        Ok(server)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the server's log.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Whether the process already exited, and how.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM (graceful shutdown), then SIGKILL after 30 s.
    pub(crate) fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
