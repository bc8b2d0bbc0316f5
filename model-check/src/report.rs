//! Running a model to completion and writing what was found.

use crate::combined::{CombinedBounds, CombinedModel};
use crate::model::{Bounds, OidcModel, Scenario};
use crate::world::World;
use engine::mutants::Mutants;
use stateright::{Checker, Expectation, HasDiscoveries, Model};
use std::fmt::Write;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Instant;

/// The outcome of one property.
#[derive(Clone, Debug)]
pub struct PropertyResult {
    /// Its name (a requirement ID, or a reachability goal).
    pub name: &'static str,
    /// `always` or `sometimes`.
    pub kind: &'static str,
    /// Holds (always) / reached (sometimes).
    pub ok: bool,
    /// The counterexample or witness, as actions.
    pub path: Option<String>,
}

/// The outcome of one model run.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Which model.
    pub scenario: String,
    /// States generated.
    pub states: usize,
    /// Unique states.
    pub unique_states: usize,
    /// Deepest path.
    pub max_depth: usize,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Every property.
    pub properties: Vec<PropertyResult>,
}

impl RunResult {
    /// The result for `name`.
    pub fn property(&self, name: &str) -> &PropertyResult {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no property {name}"))
    }
}

/// Checks `scenario` exhaustively within `bounds` on a world with `mutants`; with `stop_at`, stops as
/// soon as that property has a discovery.
pub fn check(scenario: Scenario, bounds: Bounds, mutants: Mutants, stop_at: Option<&'static str>) -> RunResult {
    let model = OidcModel {
        scenario,
        world: Arc::new(World::new(mutants)),
        bounds,
    };
    explore(format!("{scenario:?}"), model, &Exploration::default(), stop_at)
}

/// How a model is explored.
#[derive(Clone, Copy, Debug)]
pub struct Exploration {
    /// Checker threads.
    pub threads: usize,
    /// Stop after about this many generated states (`None`: exhaust the bounds).
    pub target_states: Option<usize>,
    /// Depth first (memory stays at the path and the visited set) rather than breadth first
    /// (shortest counterexamples, but the whole frontier held).
    pub depth_first: bool,
}

impl Default for Exploration {
    fn default() -> Self {
        Exploration {
            threads: 1,
            target_states: None,
            depth_first: false,
        }
    }
}

/// Checks the combined model within `bounds` on a world with `mutants`, explored as `how`.
pub fn check_combined(
    bounds: CombinedBounds,
    mutants: Mutants,
    how: &Exploration,
    stop_at: Option<&'static str>,
) -> RunResult {
    explore("Combined".into(), CombinedModel::new(mutants, bounds), how, stop_at)
}

/// Explores `model` breadth first, as `how` says; with `stop_at`, stops as soon as that property
/// has a discovery.
fn explore<M>(name: String, model: M, how: &Exploration, stop_at: Option<&'static str>) -> RunResult
where
    M: Model + Send + Sync + 'static,
    M::State: Hash + Send + Sync + std::fmt::Debug + Clone + PartialEq,
    M::Action: Send + Sync + std::fmt::Debug + Clone + PartialEq,
{
    let properties = model.properties();
    let started = Instant::now();
    let mut builder = model.checker().threads(how.threads);
    if let Some(n) = how.target_states {
        builder = builder.target_state_count(n);
    }
    let builder = match stop_at {
        Some(p) => builder.finish_when(HasDiscoveries::AnyOf([p].into_iter().collect())),
        None => builder,
    };
    let checker: Box<dyn Checker<M>> = match how.depth_first {
        true => Box::new(builder.spawn_dfs().join()),
        false => Box::new(builder.spawn_bfs().join()),
    };
    let results = properties
        .iter()
        .map(|p| {
            let found = checker.discovery(p.name);
            let (kind, ok) = match p.expectation {
                Expectation::Always => ("always", found.is_none()),
                Expectation::Sometimes => ("sometimes", found.is_some()),
                Expectation::Eventually => ("eventually", found.is_none()),
            };
            let path = found.map(|path| format!("{:?}", path.into_actions()));
            PropertyResult {
                name: p.name,
                kind,
                ok,
                path,
            }
        })
        .collect();
    RunResult {
        scenario: name,
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        max_depth: checker.max_depth(),
        seconds: started.elapsed().as_secs_f64(),
        properties: results,
    }
}

/// Markdown for a set of runs.
pub fn markdown(
    title: &str,
    bounds: Bounds,
    runs: &[RunResult],
    mutant_runs: &[(String, &'static str, bool)],
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Model checking: {title}\n");
    let _ = writeln!(
        md,
        "Generated by `model-check` (stateright over the real engine: breadth first for the small models, depth first on two threads for the combined one; over a store whose transactions can conflict and fail, deterministic clock and RNG)."
    );
    let _ = writeln!(md, "Bounds: {bounds:?}.\n");
    for r in runs {
        let _ = writeln!(md, "## {}\n", r.scenario);
        let _ = writeln!(
            md,
            "States generated: {}, unique: {}, max depth: {}, time: {:.1} s.\n",
            r.states, r.unique_states, r.max_depth, r.seconds
        );
        let _ = writeln!(md, "| property | kind | result | path |\n|---|---|---|---|");
        for p in &r.properties {
            let result = match (p.kind, p.ok) {
                ("sometimes", true) => "reached",
                ("sometimes", false) if r.scenario.starts_with("Combined") => "not in this slice",
                ("sometimes", false) => "NOT REACHED",
                (_, true) => "holds",
                (_, false) => "COUNTEREXAMPLE",
            };
            let path = p.path.as_deref().unwrap_or("").replace('|', "\\|");
            let _ = writeln!(md, "| `{}` | {} | {} | {} |", p.name, p.kind, result, path);
        }
        let _ = writeln!(md);
    }
    if !mutant_runs.is_empty() {
        let _ = writeln!(md, "## Mutants: each property can fail\n");
        let _ = writeln!(md, "Each row switches on one deliberate bug (`engine::mutants::Mutants`) and checks that the property guarding it reports a counterexample.\n");
        let _ = writeln!(md, "| mutant | property | counterexample found |\n|---|---|---|");
        for (m, p, found) in mutant_runs {
            let _ = writeln!(md, "| `{m}` | `{p}` | {} |", if *found { "yes" } else { "NO" });
        }
    }
    md
}

/// One deliberate bug and the property that must catch it.
pub struct MutantCase {
    /// The knob's name.
    pub name: &'static str,
    /// Switches it on.
    pub set: fn(&mut Mutants),
    /// The model that exercises it.
    pub scenario: Scenario,
    /// The property that must report a counterexample.
    pub property: &'static str,
}

/// Every mutant and the property it must break.
pub fn mutant_cases() -> Vec<MutantCase> {
    vec![
        MutantCase {
            name: "code_reuse",
            set: |m| m.code_reuse = true,
            scenario: Scenario::Code,
            property: "RFC6749-4.1.2-code-single-use",
        },
        MutantCase {
            name: "skip_client_binding",
            set: |m| m.skip_client_binding = true,
            scenario: Scenario::Code,
            property: "RFC6749-4.1.3-code-client-binding",
        },
        MutantCase {
            name: "skip_pkce",
            set: |m| m.skip_pkce = true,
            scenario: Scenario::Code,
            property: "RFC7636-4.6-s256-verify",
        },
        MutantCase {
            name: "replay_keeps_tokens",
            set: |m| m.replay_keeps_tokens = true,
            scenario: Scenario::Code,
            property: "RFC6749-4.1.2-code-replay-revokes",
        },
        MutantCase {
            name: "lenient_redirect",
            set: |m| m.lenient_redirect = true,
            scenario: Scenario::Code,
            property: "RFC6749-4.1.2.1-no-redirect-untrusted",
        },
        MutantCase {
            name: "trust_token_issuer",
            set: |m| m.trust_token_issuer = true,
            scenario: Scenario::Code,
            property: "TENANCY-isolation",
        },
        MutantCase {
            name: "no_reuse_detection",
            set: |m| m.no_reuse_detection = true,
            scenario: Scenario::Refresh,
            property: "RFC9700-4.14.2-refresh-reuse",
        },
        MutantCase {
            name: "no_reuse_detection",
            set: |m| m.no_reuse_detection = true,
            scenario: Scenario::Refresh,
            property: "OAUTH21-4.3.1-refresh-rotation",
        },
        MutantCase {
            name: "logout_keeps_tokens",
            set: |m| m.logout_keeps_tokens = true,
            scenario: Scenario::Refresh,
            property: "OIDC-RPLOGOUT-logout-revokes",
        },
        MutantCase {
            name: "code_survives_logout",
            set: |m| m.code_survives_logout = true,
            scenario: Scenario::Logout,
            property: "OIDC-RPLOGOUT-logout-revokes",
        },
        MutantCase {
            name: "family_read_outside_transaction",
            set: |m| m.family_read_outside_transaction = true,
            scenario: Scenario::RefreshRace,
            property: "OAUTH21-4.3.1-refresh-rotation",
        },
        MutantCase {
            name: "dpop_binding_ignored",
            set: |m| m.dpop_binding_ignored = true,
            scenario: Scenario::Sender,
            property: "RFC9449-7-resource-binding",
        },
        MutantCase {
            name: "dpop_replay",
            set: |m| m.dpop_replay = true,
            scenario: Scenario::Sender,
            property: "RFC9449-11.1-proof-replay",
        },
        MutantCase {
            name: "par_reuse",
            set: |m| m.par_reuse = true,
            scenario: Scenario::Sender,
            property: "RFC9126-2.2-request-uri-one-time",
        },
        MutantCase {
            name: "skip_consent",
            set: |m| m.skip_consent = true,
            scenario: Scenario::Consent,
            property: "CONSENT-require-consent",
        },
        MutantCase {
            name: "skip_second_factor",
            set: |m| m.skip_second_factor = true,
            scenario: Scenario::SecondFactor,
            property: "MFA-policy",
        },
        MutantCase {
            name: "totp_replay",
            set: |m| m.totp_replay = true,
            scenario: Scenario::SecondFactor,
            property: "MFA-totp-once",
        },
    ]
}

/// Every scenario.
pub const SCENARIOS: [Scenario; 8] = [
    Scenario::Code,
    Scenario::Refresh,
    Scenario::Consent,
    Scenario::Logout,
    Scenario::CodeRace,
    Scenario::RefreshRace,
    Scenario::Sender,
    Scenario::SecondFactor,
];

/// A mutant's result: its label, the property, and whether a counterexample was found.
pub type MutantResult = (String, &'static str, bool);

/// One deliberate bug and the combined-model property that must catch it, within `bounds`.
pub struct CombinedMutantCase {
    /// The knob's name.
    pub name: &'static str,
    /// Switches it on.
    pub set: fn(&mut Mutants),
    /// The property that must report a counterexample.
    pub property: &'static str,
    /// Which CI slice shows it (index into [`CombinedBounds::ci_slices`]).
    pub slice: usize,
}

/// Every mutant the combined model must catch.
pub fn combined_mutant_cases() -> Vec<CombinedMutantCase> {
    let case = |name, set, property, slice| CombinedMutantCase {
        name,
        set,
        property,
        slice,
    };
    vec![
        case(
            "code_reuse",
            |m: &mut Mutants| m.code_reuse = true,
            "RFC6749-4.1.2-code-single-use",
            0,
        ),
        case(
            "skip_client_binding",
            |m| m.skip_client_binding = true,
            "RFC6749-4.1.3-code-client-binding",
            0,
        ),
        case("skip_pkce", |m| m.skip_pkce = true, "RFC7636-4.6-s256-verify", 0),
        case(
            "token_redirect_unchecked",
            |m| m.token_redirect_unchecked = true,
            "RFC6749-4.1.3-redirect-uri-match",
            0,
        ),
        case(
            "refresh_client_unchecked",
            |m| m.refresh_client_unchecked = true,
            "RFC6749-6-refresh-client-binding",
            0,
        ),
        case(
            "replay_keeps_tokens",
            |m| m.replay_keeps_tokens = true,
            "RFC6749-4.1.2-code-replay-revokes",
            0,
        ),
        case(
            "no_reuse_detection",
            |m| m.no_reuse_detection = true,
            "RFC9700-4.14.2-refresh-reuse",
            0,
        ),
        case(
            "no_reuse_detection",
            |m| m.no_reuse_detection = true,
            "OAUTH21-4.3.1-refresh-rotation",
            0,
        ),
        case(
            "logout_keeps_tokens",
            |m| m.logout_keeps_tokens = true,
            "OIDC-RPLOGOUT-logout-revokes",
            0,
        ),
        case("skip_consent", |m| m.skip_consent = true, "CONSENT-require-consent", 0),
        case(
            "lenient_redirect",
            |m| m.lenient_redirect = true,
            "RFC6749-4.1.2.1-no-redirect-untrusted",
            0,
        ),
        case(
            "trust_token_issuer",
            |m| m.trust_token_issuer = true,
            "TENANCY-isolation",
            0,
        ),
        case("revoke_noop", |m| m.revoke_noop = true, "RFC7009-2.1-revocation", 0),
        case("ignore_expiry", |m| m.ignore_expiry = true, "TOKENS-lifetimes", 0),
        case(
            "id_token_nonce_dropped",
            |m| m.id_token_nonce_dropped = true,
            "OIDC-CORE-3.1.2.1-nonce",
            0,
        ),
        case(
            "id_token_sid_dropped",
            |m| m.id_token_sid_dropped = true,
            "OIDC-CORE-2-id-token-claims",
            0,
        ),
        case(
            "ignore_max_age",
            |m| m.ignore_max_age = true,
            "OIDC-CORE-3.1.2.1-max-age",
            1,
        ),
        case(
            "prompt_none_shows_login",
            |m| m.prompt_none_shows_login = true,
            "OIDC-CORE-3.1.2.1-prompt-none",
            0,
        ),
        case(
            "disable_user_noop",
            |m| m.disable_user_noop = true,
            "ADMIN-user-disable-revokes",
            0,
        ),
        case(
            "rotation_forgets_old_keys",
            |m| m.rotation_forgets_old_keys = true,
            "JOSE-key-rotation",
            0,
        ),
        case(
            "deactivated_client_tokens_live",
            |m| m.deactivated_client_tokens_live = true,
            "CLIENT-deactivated",
            0,
        ),
    ]
}

/// The combined model's CI slices, each exhausted, then every combined mutant in its slice.
pub fn run_combined_ci() -> (Vec<RunResult>, Vec<MutantResult>) {
    let how = Exploration {
        threads: 2,
        target_states: None,
        depth_first: true,
    };
    let slices = CombinedBounds::ci_slices();
    let runs = slices
        .iter()
        .map(|(label, b)| {
            let mut r = check_combined(*b, Mutants::default(), &how, None);
            r.scenario = format!("Combined, {label}: {b:?}");
            r
        })
        .collect();
    let matrix = combined_mutant_cases()
        .into_iter()
        .map(|c| {
            let mut m = Mutants::default();
            (c.set)(&mut m);
            let r = check_combined(slices[c.slice].1, m, &how, Some(c.property));
            (
                format!("{} (Combined model, {})", c.name, slices[c.slice].0),
                c.property,
                !r.property(c.property).ok,
            )
        })
        .collect();
    (runs, matrix)
}

/// The combined model's deep run: `bounds`, up to `target` generated states, on both cores.
pub fn run_combined_deep(bounds: CombinedBounds, target: usize) -> RunResult {
    let how = Exploration {
        threads: 2,
        target_states: Some(target),
        depth_first: true,
    };
    let mut r = check_combined(bounds, Mutants::default(), &how, None);
    r.scenario = format!("Combined, deep: {bounds:?}, up to {target} states");
    r
}

/// Runs every model with no mutant, then every mutant; returns the runs, the mutant matrix and the report.
pub fn run_all(title: &str, bounds: Bounds) -> (Vec<RunResult>, Vec<MutantResult>, String) {
    let mut runs: Vec<RunResult> = SCENARIOS
        .iter()
        .map(|s| check(*s, bounds, Mutants::default(), None))
        .collect();
    let mut matrix: Vec<MutantResult> = mutant_cases()
        .into_iter()
        .map(|c| {
            let mut m = Mutants::default();
            (c.set)(&mut m);
            let r = check(c.scenario, bounds, m, Some(c.property));
            (
                format!("{} ({:?} model)", c.name, c.scenario),
                c.property,
                !r.property(c.property).ok,
            )
        })
        .collect();
    let (combined, combined_matrix) = run_combined_ci();
    runs.extend(combined);
    matrix.extend(combined_matrix);
    let md = markdown(title, bounds, &runs, &matrix);
    (runs, matrix, md)
}

/// Where the report goes.
pub fn report_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance-reports/model-check.md")
}

/// Where the deep run's report goes (`model-check/deep.sh`).
pub fn deep_report_path() -> std::path::PathBuf {
    report_path().with_file_name("model-check-deep.md")
}

/// Writes the report, followed by the last deep run's (kept in its own file, as CI does not
/// repeat it).
pub fn write_report(md: &str) {
    let path = report_path();
    std::fs::create_dir_all(path.parent().expect("parent")).expect("reports dir");
    let deep = std::fs::read_to_string(deep_report_path())
        .unwrap_or_else(|_| "No deep run recorded: run `model-check/deep.sh`.\n".into());
    let deep = deep.replacen("# Model checking", "# Deep run of the combined model", 1);
    std::fs::write(&path, format!("{md}\n{deep}")).expect("write report");
}

/// Writes the deep run's report.
pub fn write_deep_report(md: &str) {
    std::fs::write(deep_report_path(), md).expect("write deep report");
}
