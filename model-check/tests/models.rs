//! Bounded model checks (CI bounds): every property holds on the real engine, every reachability
//! goal is reached, and every property is shown able to fail by a deliberate bug.

use model_check::report::{run_all, write_report};
use model_check::Bounds;

#[test]
fn every_property_holds_and_every_mutant_is_caught() {
    let (runs, matrix, md) = run_all("CI bounds", Bounds::ci());
    write_report(&md);
    for r in &runs {
        assert!(r.unique_states > 1, "{} explored nothing", r.scenario);
        for p in &r.properties {
            if p.kind == "always" {
                spec::covers(p.name);
            }
            // The combined model's goals are reached in one slice or another (below).
            let slice_goal = r.scenario.starts_with("Combined") && p.kind == "sometimes";
            assert!(
                p.ok || slice_goal,
                "{}: {} {} failed: {:?}",
                r.scenario,
                p.kind,
                p.name,
                p.path
            );
        }
    }
    let combined: Vec<_> = runs.iter().filter(|r| r.scenario.starts_with("Combined")).collect();
    assert_eq!(combined.len(), 2, "both CI slices of the combined model ran");
    for goal in combined[0].properties.iter().filter(|p| p.kind == "sometimes") {
        assert!(
            combined.iter().any(|r| r.property(goal.name).ok),
            "no slice of the combined model reaches {}",
            goal.name
        );
    }
    let explored: usize = combined.iter().map(|r| r.states).sum();
    assert!(
        explored >= 100_000,
        "the combined model's CI slices explore {explored} states"
    );
    for (mutant, property, caught) in &matrix {
        assert!(caught, "mutant {mutant} was not caught by {property}");
    }
    // Every always-property is guarded by at least one mutant.
    for p in runs.iter().flat_map(|r| &r.properties).filter(|p| p.kind == "always") {
        assert!(
            matrix.iter().any(|(_, q, _)| *q == p.name),
            "{} has no mutant showing it can fail",
            p.name
        );
    }
}
