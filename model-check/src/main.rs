//! `cargo run -p model-check --release`: check every model and every mutant at CI bounds, and
//! write `conformance-reports/model-check.md`. `-- --deep` (`model-check/deep.sh`) runs the
//! combined model at deep bounds instead and writes `conformance-reports/model-check-deep.md`. `-- --explore code|refresh|consent|logout` serves the
//! stateright Explorer on http://127.0.0.1:3000 instead.

use model_check::combined::CombinedBounds;
use model_check::report::{markdown, run_all, run_combined_deep, write_deep_report, write_report, RunResult};
use model_check::world::World;
use model_check::{Bounds, OidcModel, Scenario};
use stateright::Model;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let deep = args.iter().any(|a| a == "--deep");
    let bounds = Bounds::ci();
    if deep {
        // `model-check/deep.sh`: the combined model at deep bounds, up to DEEP_STATES states.
        let bounds = match std::env::var("BOUNDS") {
            Ok(b) => CombinedBounds::parse(&b).expect("BOUNDS is f,a,r,m,t,x,roam"),
            Err(_) => CombinedBounds::deep(),
        };
        let target = std::env::var("DEEP_STATES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(10_500_000);
        let r = run_combined_deep(bounds, target);
        print_run(&r);
        let rate = r.states as f64 / r.seconds.max(0.001);
        let note = format!(
            "Command: `model-check/deep.sh` (depth first, 2 threads). {:.0} states per second.\n",
            rate
        );
        let md = markdown("combined model, deep", Bounds::deep(), std::slice::from_ref(&r), &[]);
        let md = md.replacen(&format!("Bounds: {:?}.\n", Bounds::deep()), "", 1);
        write_deep_report(&format!("{md}{note}"));
        println!("wrote {}", model_check::report::deep_report_path().display());
        if r.properties.iter().any(|p| p.kind == "always" && !p.ok) {
            std::process::exit(1);
        }
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--explore") {
        let scenario = match args.get(i + 1).map(String::as_str) {
            Some("refresh") => Scenario::Refresh,
            Some("consent") => Scenario::Consent,
            Some("logout") => Scenario::Logout,
            Some("code-race") => Scenario::CodeRace,
            Some("refresh-race") => Scenario::RefreshRace,
            Some("sender") => Scenario::Sender,
            Some("second-factor") => Scenario::SecondFactor,
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
    let (runs, matrix, md) = run_all("CI bounds", bounds);
    for r in &runs {
        print_run(r);
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

fn print_run(r: &RunResult) {
    println!(
        "{}: {} states ({} unique), max depth {}, {:.1} s",
        r.scenario, r.states, r.unique_states, r.max_depth, r.seconds
    );
    for p in &r.properties {
        println!("  {:<60} {}", p.name, if p.ok { "ok" } else { "FAILED" });
    }
}
