//! Where watch records what it did. The state store (deferrals, journal)
//! plugs in here: watch itself knows only this seam.

use crate::config::Target;
use crate::provider::{BoxFuture, codes};
use crate::state;
use crate::user::User;

/// What one block attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The platform blocked the user (or had them blocked already).
    Blocked,
    /// The platform refused this user, with Meta's per-user code (131047
    /// would mean the user's window closed again before the block arrived).
    Refused { code: i64, message: String },
    /// The request failed (network, retries exhausted, 5xx): the block may
    /// or may not have landed; the next `apply` or delivery settles it.
    Failed { error: String },
}

/// Told of every block attempt, after the provider answered. The state
/// store's implementation clears the user's deferral on
/// [`Outcome::Blocked`] and appends a journal entry for every outcome.
/// Called from several workers at once; an `Err` is logged and counted as
/// a failure, never retried.
pub trait Recorder: Send + Sync {
    fn record<'a>(
        &'a self,
        target: &'a Target,
        user: &'a User,
        outcome: &'a Outcome,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// Records nothing: the log line watch writes for each block is all there
/// is until a state store is wired in.
pub struct LogRecorder;

impl Recorder for LogRecorder {
    fn record<'a>(
        &'a self,
        _target: &'a Target,
        _user: &'a User,
        _outcome: &'a Outcome,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Records into the state store (`--state`): a block that landed clears the
/// user's deferral, and every attempt is a journal entry `by: "watch"`, so
/// `blocklist why` can say when watch blocked someone.
pub struct StateRecorder {
    pub state: Option<String>,
}

impl Recorder for StateRecorder {
    fn record<'a>(
        &'a self,
        target: &'a Target,
        user: &'a User,
        outcome: &'a Outcome,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let (what, code) = match outcome {
                Outcome::Blocked => (state::Outcome::Blocked, None),
                Outcome::Refused { code, .. } if *code == codes::NOT_MESSAGED_24H => {
                    (state::Outcome::Deferred, Some(*code))
                }
                Outcome::Refused { code, .. } => (state::Outcome::Failed, Some(*code)),
                Outcome::Failed { .. } => (state::Outcome::Failed, None),
            };
            let target_state = state::TargetState::open(self.state.as_deref(), target)?;
            target_state.record_block(user, what, code, "watch").await
        })
    }
}
