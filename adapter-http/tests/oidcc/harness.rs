//! The test-module machinery: results with the official suite's semantics (PASSED, WARNING,
//! FAILED, SKIPPED), the log of conditions a module checked, and the plan runner.

use std::fmt;

/// A module's result, as the OpenID Foundation suite reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Passed,
    Skipped,
    Warning,
    Failed,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Passed => "PASSED",
            Verdict::Skipped => "SKIPPED",
            Verdict::Warning => "WARNING",
            Verdict::Failed => "FAILED",
        })
    }
}

/// Why a module stopped early.
#[derive(Debug)]
pub enum Stop {
    /// A required condition did not hold.
    Fail(String),
    /// The module does not apply to this provider (the official suite's SKIPPED).
    Skip(String),
}

/// A module's outcome: `Ok` when it ran to the end.
pub type Outcome = Result<(), Stop>;

/// Fails the module with `msg` unless `cond`.
pub fn require(cond: bool, msg: impl Into<String>) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(Stop::Fail(msg.into()))
    }
}

/// The conditions a module checked, in order.
#[derive(Default)]
pub struct Log {
    /// (true = it held, condition) for the required ones.
    pub checked: Vec<String>,
    /// Conditions that did not hold but only warrant a warning.
    pub warnings: Vec<String>,
    /// Facts for the report (library versions).
    pub info: Vec<String>,
}

impl Log {
    /// Records a fact for the report's notes.
    pub fn info(&mut self, what: impl Into<String>) {
        self.info.push(what.into());
    }

    /// Records a condition that held.
    pub fn ok(&mut self, what: impl Into<String>) {
        self.checked.push(what.into());
    }

    /// Fails with `what` unless `cond`; records it otherwise.
    pub fn require(&mut self, cond: bool, what: impl Into<String>) -> Outcome {
        let what = what.into();
        require(cond, format!("not true: {what}"))?;
        self.checked.push(what);
        Ok(())
    }

    /// Records a warning unless `cond`.
    pub fn should(&mut self, cond: bool, what: impl Into<String>) {
        let what = what.into();
        if cond {
            self.checked.push(what);
        } else if !self.warnings.contains(&what) {
            self.warnings.push(what);
        }
    }
}

/// `m!(name, covers(requirement id), …)`: a [`Module`] (the IDs are string literals).
macro_rules! m {
    ($name:literal $(, covers($req:literal))*) => {
        $crate::harness::Module { name: $name, requirements: &[$($req),*] }
    };
}
pub(crate) use m;

/// One module of a plan: its official name and the requirement IDs it checks.
pub struct Module {
    pub name: &'static str,
    pub requirements: &'static [&'static str],
}

/// What one module's run produced.
pub struct ModuleResult {
    pub plan: &'static str,
    pub module: &'static str,
    pub requirements: &'static [&'static str],
    pub verdict: Verdict,
    pub notes: String,
    pub checked: usize,
}

impl ModuleResult {
    pub fn new(plan: &'static str, m: &Module, outcome: Outcome, log: Log) -> Self {
        let (verdict, mut notes) = match outcome {
            Err(Stop::Fail(why)) => (Verdict::Failed, why),
            Err(Stop::Skip(why)) => (Verdict::Skipped, why),
            Ok(()) if !log.warnings.is_empty() => (Verdict::Warning, String::new()),
            Ok(()) => (Verdict::Passed, String::new()),
        };
        for i in &log.info {
            if !notes.is_empty() {
                notes.push_str("; ");
            }
            notes.push_str(i);
        }
        for w in &log.warnings {
            if !notes.is_empty() {
                notes.push_str("; ");
            }
            notes.push_str("should: ");
            notes.push_str(w);
        }
        ModuleResult {
            plan,
            module: m.name,
            requirements: m.requirements,
            verdict,
            notes,
            checked: log.checked.len(),
        }
    }
}
