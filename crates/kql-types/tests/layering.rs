//! The crate layering ARCHITECTURE.md states: storage, ingestion and the server reach KQL
//! types and values through `kql-types`, never through the function library; `kql-types`
//! itself depends on no other Calypso crate.

use std::path::Path;

/// The names of the `[dependencies]` of the crate in `crates/<name>`.
fn dependencies(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut out = Vec::new();
    let mut in_dependencies = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
        } else if in_dependencies
            && !line.starts_with('#')
            && let Some((key, _)) = line.split_once('=')
        {
            out.push(key.trim().split('.').next().unwrap_or("").to_string());
        }
    }
    out
}

#[test]
fn storage_ingest_and_server_do_not_depend_on_the_function_library() {
    for name in ["calypso-storage", "calypso-ingest", "calypso-server"] {
        let deps = dependencies(name);
        assert!(deps.iter().any(|d| d == "kql-types"), "{name}: {deps:?}");
        assert!(
            !deps.iter().any(|d| d == "kql-functions"),
            "{name}: {deps:?}"
        );
    }
}

#[test]
fn kql_types_depends_on_no_calypso_crate() {
    let deps = dependencies("kql-types");
    assert!(!deps.is_empty());
    for d in deps {
        assert!(!d.starts_with("kql-") && !d.starts_with("calypso-"), "{d}");
    }
}
