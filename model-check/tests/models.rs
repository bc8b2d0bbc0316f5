//! Bounded model checks (CI bounds): every property holds on the real engine, every reachability
//! goal is reached, and every property is shown able to fail by a deliberate bug.

use model_check::report::{run_all, write_report};
use model_check::Bounds;

#[test]
fn every_property_holds_and_every_mutant_is_caught() {
    let (runs, matrix, md) = run_all("CI bounds", Bounds::ci());
    write_report(&md);
    for r in &runs {
        assert!(r.unique_states > 1, "{:?} explored nothing", r.scenario);
        for p in &r.properties {
            if p.kind == "always" {
                spec::covers(p.name);
            }
            assert!(p.ok, "{:?}: {} {} failed: {:?}", r.scenario, p.kind, p.name, p.path);
        }
    }
    for (mutant, property, caught) in &matrix {
        assert!(caught, "mutant {mutant} was not caught by {property}");
    }
    // Every always-property is guarded by at least one mutant.
    for p in runs[0].properties.iter().filter(|p| p.kind == "always") {
        assert!(
            matrix.iter().any(|(_, q, _)| *q == p.name),
            "{} has no mutant showing it can fail",
            p.name
        );
    }
}
