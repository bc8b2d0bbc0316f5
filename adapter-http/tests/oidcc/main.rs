//! The OpenID Foundation OP certification test plans as our own runnable suite: one test module
//! per official module, named exactly after it, with the official PASSED / WARNING / FAILED /
//! SKIPPED semantics. Writes `conformance-reports/oidcc-*.md` and the summary table in
//! `conformance-reports/README.md`; exits non-zero when a module FAILED.
//!
//! `cargo test -p adapter-http --test oidcc` runs every plan; `-- NAME` runs the modules whose
//! name contains NAME (and writes no report).

mod basic;
#[path = "../common/mod.rs"]
mod common;
mod config;
mod dynamic;
mod fapi2;
mod fixture;
mod front;
mod harness;
mod jwt;
mod logout;
mod objects;
mod op;
mod report;
mod rp;

use harness::{Module, ModuleResult, Stop};
use op::{Ctx, Op};
use serde_json::json;
use std::sync::Arc;

/// One official plan.
pub struct Plan {
    pub id: &'static str,
    pub title: &'static str,
    pub file: &'static str,
    pub modules: &'static [Module],
    pub form_post: bool,
    /// Modules of this plan beyond `modules`.
    pub extra: &'static [Module],
    /// Modules of `modules` this plan leaves out (they do not apply to any of its variants).
    pub exclude: &'static [&'static str],
}

impl Plan {
    /// Every module the plan runs.
    pub fn all(&'static self) -> impl Iterator<Item = &'static Module> {
        self.modules
            .iter()
            .chain(self.extra)
            .filter(|m| !self.exclude.contains(&m.name))
    }
}

pub const PLANS: &[Plan] = &[
    Plan {
        id: "oidcc-basic-certification-test-plan",
        title: "Basic OP",
        file: "oidcc-basic.md",
        modules: basic::MODULES,
        form_post: false,
        extra: &[],
        exclude: &[],
    },
    Plan {
        id: "oidcc-config-certification-test-plan",
        title: "Config OP",
        file: "oidcc-config.md",
        modules: config::MODULES,
        form_post: false,
        extra: &[],
        exclude: &[],
    },
    Plan {
        id: "oidcc-formpost-basic-certification-test-plan",
        title: "Form Post OP",
        file: "oidcc-formpost-basic.md",
        modules: basic::MODULES,
        form_post: true,
        extra: &[],
        exclude: &[],
    },
    Plan {
        id: "oidcc-dynamic-certification-test-plan",
        title: "Dynamic OP",
        file: "oidcc-dynamic.md",
        modules: dynamic::MODULES,
        form_post: false,
        extra: &[],
        exclude: &[],
    },
    Plan {
        id: "oidcc-implicit-certification-test-plan",
        title: "Implicit OP",
        file: "oidcc-implicit.md",
        modules: basic::MODULES,
        form_post: false,
        extra: front::EXTRA,
        exclude: front::NOT_IMPLICIT,
    },
    Plan {
        id: "oidcc-hybrid-certification-test-plan",
        title: "Hybrid OP",
        file: "oidcc-hybrid.md",
        modules: basic::MODULES,
        form_post: false,
        extra: front::EXTRA,
        exclude: front::NOT_HYBRID,
    },
    Plan {
        id: "oidcc-rp-initiated-logout-certification-test-plan",
        title: "RP-Initiated Logout OP",
        file: "oidcc-rp-initiated-logout.md",
        modules: logout::RP_INITIATED,
        form_post: false,
        extra: &[],
        exclude: &[],
    },
    Plan {
        id: "oidcc-backchannel-rp-initiated-logout-certification-test-plan",
        title: "Back-Channel Logout OP",
        file: "oidcc-backchannel-logout.md",
        modules: logout::BACKCHANNEL,
        form_post: false,
        extra: &[],
        exclude: &[],
    },
    Plan {
        id: "fapi2-security-profile-final",
        title: "FAPI 2.0 Security Profile (private_key_jwt, DPoP, PAR required)",
        file: "fapi2-security-profile.md",
        modules: fapi2::MODULES,
        form_post: false,
        extra: &[],
        exclude: &[],
    },
    Plan {
        id: "rp-libraries-and-browser",
        title: "Relying-party libraries and browser",
        file: "rp-libraries.md",
        modules: rp::MODULES,
        form_post: false,
        extra: &[],
        exclude: &[],
    },
];

async fn run_module(op: Arc<Op>, plan: &'static Plan, m: &'static Module) -> ModuleResult {
    let task = tokio::spawn(async move {
        let rp = if plan.id.contains("dynamic") {
            dynamic::register(&op).await
        } else if plan.id.contains("fapi2") {
            fapi2::register(&op).await
        } else if plan.id.contains("implicit") {
            front::register(&op, front::IMPLICIT).await
        } else if plan.id.contains("hybrid") {
            front::register(&op, front::HYBRID).await
        } else {
            op.static_client("client_secret_basic", json!({})).await
        };
        let mut c = Ctx::new(&op, rp, plan.form_post);
        let outcome = if plan.id.contains("implicit") {
            front::run(m.name, &mut c, front::IMPLICIT).await
        } else if plan.id.contains("hybrid") {
            front::run(m.name, &mut c, front::HYBRID).await
        } else if plan.id.contains("basic") {
            basic::run(m.name, &mut c).await
        } else if plan.id.contains("config") {
            config::verification(&mut c).await
        } else if plan.id.contains("dynamic") {
            dynamic::run(m.name, &mut c).await
        } else if plan.id.contains("fapi2") {
            fapi2::run(m.name, &mut c).await
        } else if plan.id == "rp-libraries-and-browser" {
            rp::run(m.name, &mut c).await
        } else {
            logout::run(m.name, &mut c).await
        };
        ModuleResult::new(plan.id, m, outcome, std::mem::take(&mut c.log))
    });
    match task.await {
        Ok(r) => r,
        Err(e) => {
            let why = e
                .into_panic()
                .downcast::<String>()
                .map(|s| *s)
                .unwrap_or_else(|_| "panicked".into());
            ModuleResult::new(plan.id, m, Err(Stop::Fail(format!("panic: {why}"))), Default::default())
        }
    }
}

fn main() {
    // A panicking module is reported as FAILED with its message; keep the output to the table.
    std::panic::set_hook(Box::new(|_| {}));
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Every module names real requirement IDs (the catalog test finds the IDs in the module lists).
    for plan in PLANS {
        for m in plan.all() {
            for id in m.requirements {
                spec::covers(id);
            }
        }
    }
    let selected = |m: &Module| filter.as_ref().is_none_or(|f| m.name.contains(f.as_str()));
    if rp::MODULES.iter().any(selected) {
        rp::prepare();
    }
    let results = rt.block_on(async {
        let op = Arc::new(Op::start(true).await);
        let limit = Arc::new(tokio::sync::Semaphore::new(8));
        let mut handles = Vec::new();
        for plan in PLANS {
            for m in plan.all() {
                if !selected(m) {
                    continue;
                }
                let (op, limit) = (op.clone(), limit.clone());
                handles.push(tokio::spawn(async move {
                    let _permit = limit.acquire_owned().await.unwrap();
                    run_module(op, plan, m).await
                }));
            }
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    });
    for r in &results {
        let plan = PLANS.iter().find(|p| p.id == r.plan).unwrap();
        println!("{:<28} {:<80} {}  {}", plan.title, r.module, r.verdict, r.notes);
    }
    if filter.is_none() {
        report::write(PLANS, &results);
    }
    let failed = results.iter().filter(|r| r.verdict == harness::Verdict::Failed).count();
    println!("\n{} modules, {failed} FAILED", results.len());
    if failed > 0 {
        std::process::exit(1);
    }
}
