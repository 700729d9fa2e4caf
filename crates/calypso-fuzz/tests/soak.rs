//! A long, uninstrumented run of the `kql_plan` target on random inputs: the grammar-based
//! generator does most of the work that coverage guidance does for the other targets, so
//! hours of it need no libFuzzer build. Ignored by default; run it with
//!
//!     CALYPSO_SOAK_MINUTES=60 cargo test --workspace -q --test soak -- --ignored --nocapture
//!
//! (`CALYPSO_SOAK_SEED` picks the first seed, default the time). Each input is 256 to 4,096
//! bytes of a seeded xorshift stream; a failing one is written to
//! `fuzz/findings/kql_plan/soak-<seed>` with its query, and the run goes on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// xorshift64*: a deterministic byte stream per seed, so that a finding can be re-made.
fn bytes_of(seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let len = 256 + (next() % 3841) as usize;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&next().to_le_bytes());
    }
    out.truncate(len);
    out
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[test]
#[ignore = "long run: CALYPSO_SOAK_MINUTES=N cargo test --workspace --test soak -- --ignored"]
fn kql_plan_soak() {
    let minutes = env_u64("CALYPSO_SOAK_MINUTES").unwrap_or(1);
    let first = env_u64("CALYPSO_SOAK_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let findings = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/findings/kql_plan");
    let end = Instant::now() + Duration::from_secs(minutes * 60);
    // Findings print their own panic message; keep the default hook quiet otherwise.
    let (mut runs, mut failed) = (0u64, 0u64);
    let mut seed = first;
    while Instant::now() < end {
        let data = bytes_of(seed);
        let outcome = catch_unwind(AssertUnwindSafe(|| calypso_fuzz::kql_plan(&data)));
        if let Err(e) = outcome {
            failed += 1;
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let query = calypso_fuzz::generate(&data);
            let _ = std::fs::create_dir_all(&findings);
            let _ = std::fs::write(findings.join(format!("soak-{seed}")), &data);
            let _ = std::fs::write(
                findings.join(format!("soak-{seed}.txt")),
                format!("{msg}\n--- query ---\n{query}\n"),
            );
            eprintln!("finding at seed {seed}: {msg}");
        }
        runs += 1;
        seed = seed.wrapping_add(1);
        if runs.is_multiple_of(1000) {
            eprintln!("soak: {runs} queries, {failed} findings (seed {seed})");
        }
    }
    eprintln!("soak: {runs} queries in {minutes} min from seed {first}, {failed} findings",);
    assert_eq!(failed, 0, "findings in fuzz/findings/kql_plan/soak-*");
}
