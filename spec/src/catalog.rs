//! The requirement catalog: `requirements.toml`, parsed once.
//!
//! A check (unit test, property, model property) names the requirement it checks by
//! calling [`covers`] with the ID; `tests/catalog.rs` scans the workspace for those
//! calls and fails when a requirement has no check or a check names no requirement.

use serde::Deserialize;
use std::sync::OnceLock;

/// How binding a requirement is (RFC 2119).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Level {
    /// An absolute requirement of the source, or a product rule we treat as one.
    MUST,
    /// Recommended by the source; we implement it.
    SHOULD,
    /// Optional in the source; we implement it.
    MAY,
}

/// One normative statement we implement.
#[derive(Clone, Debug, Deserialize)]
pub struct Requirement {
    /// Stable ID, e.g. `RFC6749-4.1.2-code-single-use`.
    pub id: String,
    /// Document and section the statement comes from.
    pub source: String,
    /// MUST / SHOULD / MAY.
    pub level: Level,
    /// Our paraphrase of the statement.
    pub text: String,
}

#[derive(Deserialize)]
struct File {
    requirement: Vec<Requirement>,
}

/// The raw catalog text (for tools that render reports).
pub const CATALOG_TOML: &str = include_str!("../requirements.toml");

/// Every requirement, in catalog order.
pub fn catalog() -> &'static [Requirement] {
    static CATALOG: OnceLock<Vec<Requirement>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        toml::from_str::<File>(CATALOG_TOML)
            .expect("spec/requirements.toml must parse")
            .requirement
    })
}

/// Looks a requirement up by ID.
pub fn requirement(id: &str) -> Option<&'static Requirement> {
    catalog().iter().find(|r| r.id == id)
}

/// Declares that the calling check verifies requirement `id`; panics if no such ID exists.
pub fn covers(id: &str) -> &'static Requirement {
    requirement(id).unwrap_or_else(|| panic!("no requirement {id} in spec/requirements.toml"))
}
