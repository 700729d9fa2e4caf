//! Runs every `.slt` file under `test_files/` (one fresh engine per file).
//!
//! `cargo test -p calypso-slt --test kql_logic [-- FILTER...] [--complete]`

use std::path::{Path, PathBuf};

use calypso_slt::{KqlColumn, KqlDb};
use sqllogictest::{Record, Runner, default_validator, strict_column_validator};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "slt") {
            out.push(p);
        }
    }
}

// The signature is fixed by sqllogictest's `Normalizer` type.
#[allow(clippy::ptr_arg)]
fn normalizer(s: &String) -> String {
    s.trim().to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let complete = args.iter().any(|a| a == "--complete");
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_files");
    let mut all = Vec::new();
    files(&root, &mut all);
    let selected: Vec<PathBuf> = all
        .into_iter()
        .filter(|p| {
            filters.is_empty()
                || filters
                    .iter()
                    .any(|f| p.to_string_lossy().contains(f.as_str()))
        })
        .collect();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(2);
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut failures = Vec::new();
    for path in &selected {
        let rel = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        if complete {
            let r = rt.block_on(async {
                let mut runner = Runner::new(|| async { Ok(KqlDb::new()) });
                runner
                    .update_test_file(
                        path,
                        " ",
                        default_validator,
                        normalizer,
                        strict_column_validator::<KqlColumn>,
                    )
                    .await
            });
            if let Err(e) = r {
                eprintln!("{rel}: cannot complete: {e}");
            }
            continue;
        }
        let records = match sqllogictest::parse_file::<KqlColumn>(path) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{rel}: parse error: {e}"));
                failed += 1;
                continue;
            }
        };
        let (p, f, msgs) = rt.block_on(async {
            let mut runner = Runner::new(|| async { Ok(KqlDb::new()) });
            runner.with_column_validator(strict_column_validator::<KqlColumn>);
            runner.with_normalizer(normalizer);
            let (mut p, mut f, mut msgs) = (0, 0, Vec::new());
            for rec in records {
                let counts = matches!(rec, Record::Statement { .. } | Record::Query { .. });
                match runner.run_async(rec).await {
                    Ok(_) if counts => p += 1,
                    Ok(_) => {}
                    Err(e) => {
                        f += 1;
                        msgs.push(format!("{rel}: {}", e.display(true)));
                    }
                }
            }
            (p, f, msgs)
        });
        println!("{rel}: {p} passed, {f} failed");
        passed += p;
        failed += f;
        failures.extend(msgs);
    }
    if complete {
        return;
    }
    for f in &failures {
        eprintln!("{f}\n");
    }
    println!("kql_logic: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
