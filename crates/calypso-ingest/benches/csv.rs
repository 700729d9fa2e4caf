//! Throughput of `read()` on ~20 MB of CSV for a 6-column table
//! (datetime, string, long, real, bool, dynamic).

use std::fmt::Write as _;
use std::hint::black_box;

use calypso_ingest::{Format, read};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kql_types::KqlType;

const TARGET_BYTES: usize = 20 << 20;

/// A deterministic pseudo-random sequence (64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn columns() -> Vec<(String, KqlType)> {
    [
        ("Timestamp", KqlType::DateTime),
        ("User", KqlType::String),
        ("Count", KqlType::Long),
        ("Value", KqlType::Real),
        ("Ok", KqlType::Bool),
        ("Props", KqlType::Dynamic),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_string(), t))
    .collect()
}

fn generate() -> String {
    let mut rng = Lcg(42);
    let mut out = String::with_capacity(TARGET_BYTES + 256);
    while out.len() < TARGET_BYTES {
        let r = rng.next();
        let user = if r.is_multiple_of(4) {
            format!("\"user {}, \"\"vip\"\"\"", r % 10_000)
        } else {
            format!("user{}", r % 10_000)
        };
        let _ = writeln!(
            out,
            "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z,{},{},{}.{:03},{},\"{{\"\"k\"\":{},\"\"tags\"\":[\"\"a\"\",\"\"b{}\"\"],\"\"ok\"\":{}}}\"",
            1 + r % 12,
            1 + (r >> 4) % 28,
            (r >> 9) % 24,
            (r >> 14) % 60,
            (r >> 20) % 60,
            rng.next() % 10_000_000,
            user,
            rng.next() as i64 - (1 << 30),
            rng.next() % 100_000,
            r % 1000,
            if r.is_multiple_of(3) { "true" } else { "false" },
            r % 97,
            r % 13,
            r.is_multiple_of(2),
        );
    }
    out
}

fn bench_csv(c: &mut Criterion) {
    let data = generate();
    let cols = columns();
    let rows: usize = match read(Format::Csv, data.as_bytes(), &cols) {
        Ok(batches) => batches.iter().map(|b| b.num_rows()).sum(),
        Err(e) => {
            eprintln!("the generated data does not read: {e}");
            return;
        }
    };
    eprintln!("{} bytes, {rows} rows", data.len());
    let mut g = c.benchmark_group("read");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("csv_20MB_6_columns", |b| {
        b.iter(|| read(Format::Csv, black_box(data.as_bytes()), &cols))
    });
    g.finish();
}

criterion_group!(benches, bench_csv);
criterion_main!(benches);
