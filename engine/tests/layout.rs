//! The engine's modules depend on each other in one direction: no two modules import each other,
//! directly or through others (a newcomer can read them bottom-up). A module is a file: the
//! flow folders (`authorize/`, `token/`, `session/`, `client/`, `admin/`, `jose/`, `store/`) group
//! files by flow, and a folder's `mod.rs` is the module of the folder's own name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of the crate, by path (`token::grant`), from its files.
fn modules(src: &Path) -> BTreeMap<String, std::path::PathBuf> {
    let mut found = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_str().unwrap();
            if !name.ends_with(".rs") || name == "tests.rs" || path == src.join("lib.rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
            if parts.last() == Some(&"mod") {
                parts.pop();
            }
            found.insert(parts.join("::"), path);
        }
    }
    found
}

/// Module → the modules its production code names as `crate::…` (the longest module path a
/// name starts with).
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in &modules {
        let text = std::fs::read_to_string(path).unwrap();
        let production = text.find("#[cfg(test)]").map_or(text.as_str(), |i| &text[..i]);
        let deps = graph.entry(module.clone()).or_default();
        for (i, _) in production.match_indices("crate::") {
            let rest = &production[i + 7..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let named = rest[..end].trim_end_matches(':');
            let mut target = named.to_string();
            while !target.is_empty() && !modules.contains_key(&target) {
                target = target
                    .rsplit_once("::")
                    .map_or(String::new(), |(parent, _)| parent.to_string());
            }
            if !target.is_empty() && target != *module {
                deps.insert(target);
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        for next in graph.get(path.last().unwrap()).into_iter().flatten() {
            if next == start {
                return Some(path);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn engine_modules_import_each_other_in_one_direction() {
    let graph = imports(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        graph.len() > 40
            && graph["token::refresh"].contains("token::grant")
            && graph["token::refresh"].contains("token"),
        "the scan sees the modules: {graph:?}"
    );
    let cycles: Vec<Vec<String>> = graph.keys().filter_map(|m| cycle(&graph, m)).collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:?}");
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycle(&g, "a"), Some(vec!["a".into(), "b".into(), "c".into()]));
    g.get_mut("c").unwrap().clear();
    assert_eq!(cycle(&g, "a"), None);
}
