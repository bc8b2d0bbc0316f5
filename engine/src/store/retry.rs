//! Running a transaction again when the store refused it for a conflict: the one loop every
//! store with concurrent transactions uses (PostgreSQL, and the model checker's store).

use crate::error::EngineError;

/// Times a transaction runs before a conflict is reported as `temporarily_unavailable`.
pub const MAX_ATTEMPTS: u32 = 10;

/// How one run of a transaction ended.
pub enum Attempt<T> {
    /// Committed, or the closure refused (nothing written): the answer.
    Done(Result<T, EngineError>),
    /// The store refused it (a serialization failure or deadlock): nothing was written, run it
    /// again.
    Conflict,
    /// The store failed otherwise (unreachable, broken): give up now.
    Failed(EngineError),
}

/// Runs `attempt` (given its number, from 0) until it is not a conflict, at most
/// [`MAX_ATTEMPTS`] times, calling `pause` after each conflict.
// RELIABILITY-concurrency
pub fn with_retries<T>(
    mut attempt: impl FnMut(u32) -> Attempt<T>,
    mut pause: impl FnMut(u32),
) -> Result<T, EngineError> {
    for n in 0..MAX_ATTEMPTS {
        match attempt(n) {
            Attempt::Done(out) => return out,
            Attempt::Failed(e) => return Err(e),
            Attempt::Conflict => pause(n),
        }
    }
    Err(EngineError::Unavailable(format!(
        "the store refused the transaction {MAX_ATTEMPTS} times for conflicts"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_runs_again_and_too_many_are_unavailable() {
        let mut pauses = 0;
        let out = with_retries(
            |n| match n {
                0 | 1 => Attempt::Conflict,
                _ => Attempt::Done(Ok(n)),
            },
            |_| pauses += 1,
        );
        assert_eq!(out.unwrap(), 2);
        assert_eq!(pauses, 2);
        let mut runs = 0;
        let out: Result<(), _> = with_retries(
            |_| {
                runs += 1;
                Attempt::Conflict
            },
            |_| {},
        );
        assert!(matches!(out, Err(EngineError::Unavailable(_))));
        assert_eq!(runs, MAX_ATTEMPTS);
        let out: Result<(), _> = with_retries(|_| Attempt::Failed(EngineError::Misuse("x".into())), |_| {});
        assert!(matches!(out, Err(EngineError::Misuse(_))));
    }
}
