//! Every requirement is checked somewhere, and every check names a real requirement.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Collects `covers("ID")` references from every Rust file of the workspace (except the spec crate itself).
fn references(root: &Path) -> BTreeMap<String, Vec<String>> {
    let mut refs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable dir") {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, "target" | ".git" | "node_modules" | "corpus" | "artifacts") {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") && !path.starts_with(root.join("spec")) {
                let text = std::fs::read_to_string(&path).expect("utf-8 source");
                for (i, _) in text.match_indices("covers(\"") {
                    let rest = &text[i + 8..];
                    let id = &rest[..rest.find('"').expect("closing quote")];
                    refs.entry(id.to_string()).or_default().push(rel(root, &path));
                }
            }
        }
    }
    refs
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

#[test]
fn catalog_ids_are_unique_and_well_formed() {
    let mut seen = std::collections::BTreeSet::new();
    for r in spec::catalog() {
        assert!(seen.insert(r.id.clone()), "duplicate id {}", r.id);
        assert!(
            !r.text.trim().is_empty() && !r.source.trim().is_empty(),
            "{} incomplete",
            r.id
        );
        assert!(
            r.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
            "{}",
            r.id
        );
    }
    assert!(spec::catalog().len() >= 60);
}

#[test]
fn every_requirement_is_checked_and_every_reference_exists() {
    let refs = references(&workspace_root());
    let unknown: Vec<_> = refs
        .keys()
        .filter(|id| spec::catalog::requirement(id).is_none())
        .collect();
    assert!(unknown.is_empty(), "checks name unknown requirements: {unknown:?}");
    let unchecked: Vec<_> = spec::catalog()
        .iter()
        .filter(|r| !refs.contains_key(&r.id))
        .map(|r| &r.id)
        .collect();
    assert!(unchecked.is_empty(), "requirements with no check: {unchecked:?}");
}

#[test]
#[should_panic(expected = "no requirement")]
fn covers_rejects_unknown_ids() {
    spec::covers("NOT-A-REAL-ID");
}
