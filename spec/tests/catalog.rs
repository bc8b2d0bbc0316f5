//! Every requirement is checked by a test, named at the production line that enforces it, and
//! every check names a real requirement; production code never marks itself as checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a requirement ID was found.
#[derive(Default)]
struct Sites {
    /// `covers("ID")` in test code (tests/, `#[cfg(test)]` parts, model-check, fuzz, bench).
    checks: BTreeMap<String, Vec<String>>,
    /// The ID named in production code (`engine/src`, `stores/*/src`, `adapter-http/src`), at the
    /// enforcing line (`path:line`).
    enforced: BTreeMap<String, Vec<String>>,
    /// `covers(` calls in production code: the implementation must not mark itself as checked.
    covers_in_production: Vec<String>,
}

/// Production code: the engine's and the server's sources, without their test parts.
fn production_part<'t>(root: &Path, path: &Path, text: &'t str) -> &'t str {
    let source_dir = ["engine/src", "adapter-http/src"]
        .iter()
        .any(|d| path.starts_with(root.join(d)))
        || (path.starts_with(root.join("stores")) && path.components().any(|c| c.as_os_str() == "src"));
    let production = source_dir
        && path.file_name().is_some_and(|n| n != "tests.rs")
        // The crate doc lists IDs by flow; the enforcing line is elsewhere.
        && path != root.join("engine/src/lib.rs")
        && !path.components().any(|c| c.as_os_str() == "tests");
    if !production {
        return "";
    }
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

fn covers_ids(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("covers(\"").map(move |(i, _)| {
        let rest = &text[i + 8..];
        &rest[..rest.find('"').expect("closing quote")]
    })
}

/// Scans every Rust file of the workspace (except the spec crate itself).
fn sites(root: &Path, ids: &[String]) -> Sites {
    let mut found = Sites::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable dir") {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, "target" | ".git" | "node_modules" | "corpus" | "artifacts") {
                    stack.push(path);
                }
                continue;
            }
            if !name.ends_with(".rs") || path.starts_with(root.join("spec")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("utf-8 source");
            let production = production_part(root, &path, &text);
            let tests = &text[production.len()..];
            for id in covers_ids(tests) {
                found.checks.entry(id.to_string()).or_default().push(rel(root, &path));
            }
            if covers_ids(production).next().is_some() {
                found.covers_in_production.push(rel(root, &path));
            }
            for id in ids.iter().filter(|id| production.contains(id.as_str())) {
                for (n, line) in production.lines().enumerate() {
                    if line.contains(id.as_str()) {
                        let at = format!("{}:{}", rel(root, &path), n + 1);
                        found.enforced.entry(id.clone()).or_default().push(at);
                    }
                }
            }
        }
    }
    found
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
    let ids: Vec<String> = spec::catalog().iter().map(|r| r.id.clone()).collect();
    let found = sites(&workspace_root(), &ids);
    let unknown: Vec<_> = found
        .checks
        .keys()
        .filter(|id| spec::catalog::requirement(id).is_none())
        .collect();
    assert!(unknown.is_empty(), "checks name unknown requirements: {unknown:?}");
    let unchecked: Vec<_> = ids.iter().filter(|id| !found.checks.contains_key(*id)).collect();
    assert!(unchecked.is_empty(), "requirements with no check: {unchecked:?}");
}

/// From any requirement ID, one grep finds the line that enforces it.
#[test]
fn every_requirement_is_named_where_it_is_enforced_and_production_marks_nothing_checked() {
    let ids: Vec<String> = spec::catalog().iter().map(|r| r.id.clone()).collect();
    let found = sites(&workspace_root(), &ids);
    let unmarked: Vec<_> = ids.iter().filter(|id| !found.enforced.contains_key(*id)).collect();
    assert!(
        unmarked.is_empty(),
        "requirements named nowhere in engine/src, stores/*/src or adapter-http/src: {unmarked:?}"
    );
    assert!(
        found.covers_in_production.is_empty(),
        "spec::covers belongs in tests, not in production code: {:?}",
        found.covers_in_production
    );
}

#[test]
#[should_panic(expected = "no requirement")]
fn covers_rejects_unknown_ids() {
    spec::covers("NOT-A-REAL-ID");
}

/// The models' always-properties, by name: `Property::always("ID", …)` in the small models,
/// the `"ID"`s of the combined model's `PROPERTIES` table.
fn model_properties(root: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(root.join("model-check/src/model.rs")).expect("the model");
    let small = text.match_indices("Property::always(\"").map(|(i, _)| {
        let rest = &text[i + 18..];
        rest[..rest.find('"').expect("closing quote")].to_string()
    });
    let combined = std::fs::read_to_string(root.join("model-check/src/combined/mod.rs")).expect("the combined model");
    let table = combined.split("pub const PROPERTIES").nth(1).expect("PROPERTIES");
    let table = &table[..table.find("\n];").expect("end of PROPERTIES")];
    let rows = table.split('"').skip(1).step_by(2).map(str::to_string);
    let mut all: Vec<String> = small.chain(rows).collect();
    all.sort();
    all.dedup();
    all
}

/// Writes `conformance-reports/traceability.md`: every requirement with the lines that enforce
/// it, the tests that check it, its model property and its fuzz targets.
#[test]
fn the_traceability_table_is_written() {
    let root = workspace_root();
    let ids: Vec<String> = spec::catalog().iter().map(|r| r.id.clone()).collect();
    let found = sites(&root, &ids);
    let properties = model_properties(&root);
    assert!(
        properties.len() >= 24,
        "the models' properties are found: {properties:?}"
    );
    let mut rows = String::new();
    let (mut with_model, mut with_fuzz) = (0, 0);
    for r in spec::catalog() {
        let checks = found.checks.get(&r.id).cloned().unwrap_or_default();
        let mut tests: Vec<&str> = checks
            .iter()
            .filter(|f| !f.starts_with("fuzz/") && !f.starts_with("model-check/"))
            .map(String::as_str)
            .collect();
        tests.dedup();
        let mut fuzz: Vec<&str> = checks
            .iter()
            .filter_map(|f| f.strip_prefix("fuzz/fuzz_targets/"))
            .map(|f| f.trim_end_matches(".rs"))
            .collect();
        fuzz.dedup();
        let model = properties.contains(&r.id);
        with_model += usize::from(model);
        with_fuzz += usize::from(!fuzz.is_empty());
        let enforced = found.enforced.get(&r.id).cloned().unwrap_or_default();
        let code = |v: &[&str]| v.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ");
        let enforced: Vec<&str> = enforced.iter().map(String::as_str).collect();
        rows.push_str(&format!(
            "| `{}` | {:?} | {} | {} | {} | {} |\n",
            r.id,
            r.level,
            code(&enforced),
            code(&tests),
            if model { "yes" } else { "" },
            code(&fuzz),
        ));
    }
    let total = spec::catalog().len();
    let doc = format!(
        "# Traceability\n\nGenerated by `cargo test -p spec --test catalog`: every requirement of \
         `spec/requirements.toml` ({total}), the production lines that name it (where it is enforced), \
         the test files that check it (`spec::covers`, or a conformance module's `covers`), the model \
         property named after it (`model-check`, {with_model} of {total}) and the fuzz targets that \
         assert it ({with_fuzz} of {total}). The catalog test fails when a requirement has no check or \
         is named nowhere in production code. A requirement about HTTP headers, pages or wire formats \
         is checked by tests, not by a model property.\n\n\
         | requirement | level | enforced at | tests | model property | fuzz |\n|---|---|---|---|---|---|\n{rows}"
    );
    std::fs::write(root.join("conformance-reports/traceability.md"), doc).expect("report written");
}
