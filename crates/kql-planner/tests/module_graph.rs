//! The planner's modules import each other without cycles, and the leaf helpers import
//! none of the planner's modules (issue 12: "no import cycle inside kql-planner").
//!
//! Every `crate::a::b` path in a module's source (imports and inline paths) and every
//! `super::x` of a submodule is an edge to the module it names; the graph must be acyclic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`ops::summarize`) → source text, for every file under `src/`.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, base, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(base).unwrap_or(&p).with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|l| l == "mod") {
                    parts.pop();
                }
                let name = if parts == ["lib"] {
                    String::new()
                } else {
                    parts.join("::")
                };
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                out.insert(name, text);
            }
        }
    }
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&base, &base, &mut out);
    out
}

/// The longest known module a `crate::` path names (`leaf::exprs::cast_to` → `leaf::exprs`).
fn target(path: &[&str], known: &BTreeMap<String, String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| known.contains_key(m))
}

/// The modules `text` refers to through `crate::...` (braced imports expanded) and `super::`.
fn edges(module: &str, text: &str, known: &BTreeMap<String, String>) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    let parent: Vec<&str> = module.split("::").collect();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", parent[..parent.len().saturating_sub(1)].to_vec()),
    ] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(prefix) {
            // not part of a longer identifier (`foo_crate::`)
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segs: Vec<&str> = base.clone();
            segs.extend(path.split("::").filter(|s| !s.is_empty()));
            let braced = rest[path.len()..].starts_with('{');
            if braced {
                // `crate::leaf::{a, b::c}`: each item under the prefix
                let inner: String = rest[path.len() + 1..]
                    .chars()
                    .take_while(|c| *c != '}')
                    .collect();
                for item in inner.split(',') {
                    let mut s = segs.clone();
                    s.extend(item.trim().split("::").filter(|x| !x.is_empty()));
                    if let Some(t) = target(&s, known) {
                        out.insert(t);
                    }
                }
            }
            if let Some(t) = target(&segs, known) {
                out.insert(t);
            }
        }
    }
    out.remove(module);
    // A module's own submodules are children, not imports of something that imports it.
    out.retain(|t| !t.starts_with(&format!("{module}::")) || module.is_empty());
    out.remove("");
    out
}

#[test]
fn planner_modules_import_each_other_without_cycles() {
    let known = modules();
    assert!(known.contains_key("planner") && known.contains_key("leaf::exprs"));
    let graph: BTreeMap<String, BTreeSet<String>> = known
        .iter()
        .filter(|(m, _)| !m.is_empty())
        .map(|(m, text)| (m.clone(), edges(m, text, &known)))
        .collect();
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(2) => return None,
            Some(1) => {
                let from = stack.iter().position(|s| s == m).unwrap_or(0);
                let mut cycle = stack[from..].to_vec();
                cycle.push(m.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for t in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(t, graph, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(m, &graph, &mut state, &mut stack) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
    // The leaf helpers use no module outside `leaf`, `error` and `Render`'s crate root.
    for (m, ts) in &graph {
        if m.starts_with("leaf") {
            for t in ts {
                assert!(
                    t.starts_with("leaf") || t == "error",
                    "leaf module {m} imports {t}"
                );
            }
        }
    }
}

#[test]
fn the_graph_check_sees_a_cycle() {
    let mut known = BTreeMap::new();
    known.insert("a".to_string(), "use crate::b::x;".to_string());
    known.insert("b".to_string(), "fn f() { crate::a::y() }".to_string());
    assert!(edges("a", &known["a"], &known).contains("b"));
    assert!(edges("b", &known["b"], &known).contains("a"));
    let braced = "use crate::{a::x, b};";
    assert_eq!(
        edges("c", braced, &known),
        ["a", "b"].iter().map(|s| s.to_string()).collect()
    );
}
