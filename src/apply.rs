//! Apply a plan: unblocks first, then blocks, in chunks, with per-user outcomes.

use std::collections::HashSet;

use crate::config::Target;
use crate::date::Date;
use crate::plan::Plan;
use crate::provider::{Batch, BatchResult, Interrupted, Provider, codes};
use crate::user::{Lookup, User};

/// A user the platform did not block or unblock, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOutcome {
    pub user: User,
    /// Meta's per-user error code (e.g. 131047).
    pub code: i64,
    /// Machine-readable reason: `not_messaged_24h`, `cannot_block_self`,
    /// `block_list_full`, or `error_<code>` for codes without a name.
    pub reason: String,
    /// The platform's message, as given.
    pub message: String,
}

/// What apply did to one target (docs/json-output.md, apply report).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetReport {
    pub blocked: Vec<User>,
    pub unblocked: Vec<User>,
    /// Refused for now (131047: the user has not messaged in 24 h): drift, not failure.
    pub deferred: Vec<UserOutcome>,
    /// Refused for good (e.g. 131021, cannot block yourself).
    pub failed: Vec<UserOutcome>,
    /// Changes in a reviewed plan that were already live when applied.
    pub skipped_already_done: usize,
    pub requests: u64,
    pub retries: u64,
    /// Nothing was sent for this target, and why: a tripped safety guard, or
    /// a reviewed plan that no longer matches.
    pub refused: Option<String>,
}

impl TargetReport {
    /// Differences remain after this apply (exit 2 with `--detailed-exitcode`).
    pub fn left_differences(&self) -> bool {
        !self.deferred.is_empty() || !self.failed.is_empty()
    }
}

/// Carry out one target's plan: unblocks first (so a list near capacity
/// frees room before blocking), then blocks, each in chunks of `chunk_size`.
///
/// The report's request and retry counts are the client's totals, listing
/// included: what this target cost against the provider's rate limits.
///
/// Returns the report of what was done even when a call fails part-way, with
/// the error beside it, so a run is never left half-done without saying so:
/// a call that stops hands back what it had answered ([`Interrupted`]), and
/// that is recorded before the target stops.
///
/// Safety (README, Safety guards): whatever the plan or the provider says, this never
/// blocks a user the files do not list and never unblocks one they do. The
/// check is made against the target's own entries, not against the plan, so
/// a bug in planning cannot vouch for itself; a violation stops the target
/// before anything is sent.
pub async fn apply<P: Provider + ?Sized>(
    provider: &P,
    target: &Target,
    plan: &Plan,
    chunk_size: usize,
) -> (TargetReport, Option<anyhow::Error>) {
    let mut report = TargetReport::default();
    let listed = listed_now(target, Date::today_utc());
    let error = run(provider, &listed, plan, chunk_size, &mut report).await.err().map(|e| {
        let answered = report.answered();
        let planned = plan.block.len() + plan.unblock.len();
        e.context(format!(
            "apply stopped part-way: {answered} of {planned} changes were answered (see the report); the others were not sent, or got no answer"
        ))
    });
    report.requests = provider.stats().requests();
    report.retries = provider.stats().retries();
    (report, error)
}

/// The users the files list as blocked today, by either id.
fn listed_now(target: &Target, today: Date) -> Lookup<()> {
    let mut listed = Lookup::with_capacity(target.blocked.len());
    for e in target
        .blocked
        .iter()
        .filter(|e| e.expires.is_none_or(|d| d >= today))
    {
        listed.insert(&e.user, ());
    }
    listed
}

async fn run<P: Provider + ?Sized>(
    provider: &P,
    desired: &Lookup<()>,
    plan: &Plan,
    chunk_size: usize,
    report: &mut TargetReport,
) -> anyhow::Result<()> {
    if let Some(bad) = plan.unblock.iter().find(|u| desired.contains(&u.user)) {
        anyhow::bail!(
            "refusing to unblock {}: the files list it as blocked (a bug; nothing was sent)",
            bad.user
        );
    }
    if let Some(bad) = plan.block.iter().find(|u| !desired.contains(u)) {
        anyhow::bail!(
            "refusing to block {bad}: the files do not list it (a bug; nothing was sent)"
        );
    }
    let size = chunk_size.clamp(1, provider.max_batch());

    let unblocks: Vec<User> = plan.unblock.iter().map(|u| u.user.clone()).collect();
    for chunk in unblocks.chunks(size) {
        not_stopping()?;
        let outcome = send(provider, Direction::Unblock, chunk).await;
        report.settle(Direction::Unblock, chunk, outcome)?;
    }

    let mut full = false;
    for chunk in plan.block.chunks(size) {
        if full {
            // The platform said the list is full: further calls would only fail.
            report.failed.extend(chunk.iter().map(|user| UserOutcome {
                user: user.clone(),
                code: codes::LIST_FULL,
                reason: reason_for(codes::LIST_FULL).into_owned(),
                message: "not attempted: the block list is full (64,000 users)".to_string(),
            }));
            provider.stats().answered(chunk.len() as u64);
            continue;
        }
        not_stopping()?;
        let outcome = send(provider, Direction::Block, chunk).await;
        full = report.settle(Direction::Block, chunk, outcome)?;
    }
    Ok(())
}

/// No new chunk is sent once the run is stopping (deadline or signal).
fn not_stopping() -> anyhow::Result<()> {
    crate::stop::current()
        .check()
        .map_err(|stopped| anyhow::anyhow!("{stopped}; the remaining changes were not sent"))
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    Block,
    Unblock,
}

/// One call. Retries, and the second chance for users refused only for
/// now, happen inside the provider, with its own policy; so does counting
/// answered users for progress.
async fn send<P: Provider + ?Sized>(provider: &P, direction: Direction, users: &[User]) -> Batch {
    match direction {
        Direction::Block => provider.block(users).await,
        Direction::Unblock => provider.unblock(users).await,
    }
}

/// What a call answered, and the error that stopped it, if one did.
fn parts(outcome: Batch) -> (BatchResult, Option<anyhow::Error>) {
    match outcome {
        Ok(result) => (result, None),
        Err(Interrupted { partial, error }) => (partial, Some(error)),
    }
}

impl TargetReport {
    /// Record what one chunk's call came to, also when it stopped part-way,
    /// then pass the stop on. `Ok(true)`: the platform said the list is full.
    fn settle(
        &mut self,
        direction: Direction,
        chunk: &[User],
        outcome: Batch,
    ) -> anyhow::Result<bool> {
        let (result, error) = parts(outcome);
        let full = result.failed.iter().any(|f| f.code == codes::LIST_FULL);
        self.record(direction, chunk, result);
        error.map_or(Ok(full), Err)
    }

    /// Record one call's outcome. Only users that were sent count: a
    /// provider that reports success for a user it was not asked about is
    /// ignored.
    fn record(&mut self, direction: Direction, sent: &[User], result: BatchResult) {
        let sent: HashSet<&User> = sent.iter().collect();
        let done = match direction {
            Direction::Block => &mut self.blocked,
            Direction::Unblock => &mut self.unblocked,
        };
        done.extend(result.done.into_iter().filter(|u| sent.contains(u)));
        for e in result.failed.into_iter().filter(|e| sent.contains(&e.user)) {
            let outcome = UserOutcome {
                reason: reason_for(e.code).into_owned(),
                user: e.user,
                code: e.code,
                message: e.message,
            };
            // 131047 is "not yet", not "never": the next apply retries it.
            if e.code == codes::NOT_MESSAGED_24H {
                self.deferred.push(outcome);
            } else {
                self.failed.push(outcome);
            }
        }
    }

    /// Planned users whose outcome is in this report.
    fn answered(&self) -> usize {
        self.blocked.len() + self.unblocked.len() + self.deferred.len() + self.failed.len()
    }
}

/// The machine-readable reason for a per-user code (apply report, docs/json-output.md).
pub fn reason_for(code: i64) -> std::borrow::Cow<'static, str> {
    match code {
        codes::NOT_MESSAGED_24H => "not_messaged_24h".into(),
        codes::CANNOT_BLOCK_SELF => "cannot_block_self".into(),
        codes::LIST_FULL => "block_list_full".into(),
        131009 => "invalid_parameter".into(),
        // The platform named no code (or none that is a number).
        crate::provider::UNKNOWN_CODE => "unknown".into(),
        other => format!("error_{other}").into(),
    }
}

#[cfg(test)]
mod tests;
