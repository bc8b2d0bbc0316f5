//! `cargo run -p model-check --release [-- --deep]`: check every model and every mutant, and write
//! `conformance-reports/model-check.md`. `-- --explore code|refresh|consent|logout` serves the
//! stateright Explorer on http://127.0.0.1:3000 instead.

use model_check::report::{run_all, write_report};
use model_check::world::World;
use model_check::{Bounds, OidcModel, Scenario};
use stateright::Model;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let deep = args.iter().any(|a| a == "--deep");
    let bounds = if deep { Bounds::deep() } else { Bounds::ci() };
    if let Some(i) = args.iter().position(|a| a == "--explore") {
        let scenario = match args.get(i + 1).map(String::as_str) {
            Some("refresh") => Scenario::Refresh,
            Some("consent") => Scenario::Consent,
            Some("logout") => Scenario::Logout,
            Some("code-race") => Scenario::CodeRace,
            Some("refresh-race") => Scenario::RefreshRace,
            Some("sender") => Scenario::Sender,
            _ => Scenario::Code,
        };
        let model = OidcModel {
            scenario,
            world: Arc::new(World::new(Default::default())),
            bounds,
        };
        println!("Explorer for {scenario:?} on http://127.0.0.1:3000");
        model.checker().serve("127.0.0.1:3000");
        return;
    }
    let (runs, matrix, md) = run_all(if deep { "deep bounds" } else { "CI bounds" }, bounds);
    for r in &runs {
        println!(
            "{:?}: {} states ({} unique), max depth {}, {:.1} s",
            r.scenario, r.states, r.unique_states, r.max_depth, r.seconds
        );
        for p in &r.properties {
            println!("  {:<60} {}", p.name, if p.ok { "ok" } else { "FAILED" });
        }
    }
    for (m, p, found) in &matrix {
        println!(
            "mutant {m:<45} {p:<45} {}",
            if *found { "caught" } else { "NOT CAUGHT" }
        );
    }
    write_report(&md);
    println!("wrote {}", model_check::report::report_path().display());
    if runs.iter().flat_map(|r| &r.properties).any(|p| !p.ok) || matrix.iter().any(|(_, _, f)| !f) {
        std::process::exit(1);
    }
}
