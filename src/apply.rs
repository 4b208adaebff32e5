//! Apply a plan: unblocks first, then blocks, in chunks, with per-user outcomes.

use std::collections::HashSet;

use crate::number::user_key;
use crate::plan::Plan;
use crate::provider::{BatchResult, Provider, codes};

/// A user the platform did not block or unblock, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOutcome {
    pub user: String,
    /// Meta's per-user error code (e.g. 131047).
    pub code: i64,
    /// Machine-readable reason: `not_messaged_24h`, `cannot_block_self`,
    /// `block_list_full`, or `error_<code>` for codes without a name.
    pub reason: String,
    /// The platform's message, as given.
    pub message: String,
}

/// What apply did to one target (product.md §4, apply report).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetReport {
    pub blocked: Vec<String>,
    pub unblocked: Vec<String>,
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
/// the error beside it, so a run is never left half-done without saying so.
///
/// Safety (product.md §5): whatever the plan or the provider says, this never
/// blocks a user the files do not list and never unblocks one they do; a
/// violation is a bug and stops the target before anything is sent.
pub async fn apply<P: Provider>(
    provider: &P,
    plan: &Plan,
    chunk_size: usize,
) -> (TargetReport, Option<anyhow::Error>) {
    let mut report = TargetReport::default();
    let error = run(provider, plan, chunk_size, &mut report).await.err().map(|e| {
        let answered = report.blocked.len() + report.unblocked.len() + report.deferred.len() + report.failed.len();
        let planned = plan.block.len() + plan.unblock.len();
        e.context(format!(
            "apply stopped part-way: {answered} of {planned} changes were answered (see the report), the rest were not attempted"
        ))
    });
    report.requests = provider.stats().requests();
    report.retries = provider.stats().retries();
    (report, error)
}

async fn run<P: Provider>(
    provider: &P,
    plan: &Plan,
    chunk_size: usize,
    report: &mut TargetReport,
) -> anyhow::Result<()> {
    let desired: HashSet<String> = plan.desired.iter().map(|u| user_key(u)).collect();
    if let Some(bad) = plan
        .unblock
        .iter()
        .find(|u| desired.contains(&user_key(&u.user)))
    {
        anyhow::bail!(
            "refusing to unblock {}: the files list it as blocked (a bug; nothing was sent)",
            bad.user
        );
    }
    if let Some(bad) = plan.block.iter().find(|u| !desired.contains(&user_key(u))) {
        anyhow::bail!(
            "refusing to block {bad}: the files do not list it (a bug; nothing was sent)"
        );
    }
    let size = chunk_size.clamp(1, provider.max_batch());

    let unblocks: Vec<String> = plan.unblock.iter().map(|u| u.user.clone()).collect();
    for chunk in unblocks.chunks(size) {
        let result = provider.unblock(chunk).await?;
        report.record(Direction::Unblock, chunk, result);
        provider.stats().answered(chunk.len() as u64);
    }

    let mut full = false;
    for chunk in plan.block.chunks(size) {
        if full {
            // The platform said the list is full: further calls would only fail.
            report.failed.extend(chunk.iter().map(|user| UserOutcome {
                user: user.clone(),
                code: codes::LIST_FULL,
                reason: reason_for(codes::LIST_FULL).into_owned(),
                message: "not attempted: the block list is full (64 000 users)".to_string(),
            }));
            provider.stats().answered(chunk.len() as u64);
            continue;
        }
        let result = provider.block(chunk).await?;
        full = result.failed.iter().any(|f| f.code == codes::LIST_FULL);
        report.record(Direction::Block, chunk, result);
        provider.stats().answered(chunk.len() as u64);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    Block,
    Unblock,
}

impl TargetReport {
    /// Record one call's outcome. Only users that were sent count: a provider
    /// that reports success for a user it was not asked about is ignored.
    fn record(&mut self, direction: Direction, sent: &[String], result: BatchResult) {
        let sent: HashSet<&str> = sent.iter().map(String::as_str).collect();
        let done = match direction {
            Direction::Block => &mut self.blocked,
            Direction::Unblock => &mut self.unblocked,
        };
        done.extend(
            result
                .done
                .into_iter()
                .filter(|u| sent.contains(u.as_str())),
        );
        for e in result
            .failed
            .into_iter()
            .filter(|e| sent.contains(e.user.as_str()))
        {
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
}

/// The machine-readable reason for a per-user code (apply report, product.md §4).
pub fn reason_for(code: i64) -> std::borrow::Cow<'static, str> {
    match code {
        codes::NOT_MESSAGED_24H => "not_messaged_24h".into(),
        codes::CANNOT_BLOCK_SELF => "cannot_block_self".into(),
        codes::LIST_FULL => "block_list_full".into(),
        131009 => "invalid_parameter".into(),
        other => format!("error_{other}").into(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::plan::{Unblock, UnblockReason};
    use crate::provider::{Stats, UserError};

    /// A provider that records calls and answers as scripted. Here the
    /// provider is the collaborator, not the thing under test: these tests
    /// pin apply's own rules against answers no honest server would give.
    #[derive(Default)]
    struct Scripted {
        calls: Mutex<Vec<(&'static str, Vec<String>)>>,
        /// Extra users every answer claims were done (a lying provider).
        claims: Vec<String>,
        /// Block calls answer 139101 for every user.
        full: bool,
        /// Calls after this many fail as a network error would after retries.
        fail_after: Option<usize>,
        stats: Stats,
    }

    impl Provider for Scripted {
        async fn list(&self) -> anyhow::Result<Vec<String>> {
            Ok(Vec::new())
        }
        async fn block(&self, users: &[String]) -> anyhow::Result<BatchResult> {
            self.answer("block", users)
        }
        async fn unblock(&self, users: &[String]) -> anyhow::Result<BatchResult> {
            self.answer("unblock", users)
        }
        fn max_batch(&self) -> usize {
            1000
        }
        fn stats(&self) -> &Stats {
            &self.stats
        }
    }

    impl Scripted {
        fn answer(&self, what: &'static str, users: &[String]) -> anyhow::Result<BatchResult> {
            self.stats.request();
            let mut calls = self.calls.lock().unwrap();
            if self.fail_after.is_some_and(|n| calls.len() >= n) {
                anyhow::bail!("POST /api/wa/createBlockUsers: gave up after 6 attempts: HTTP 503");
            }
            calls.push((what, users.to_vec()));
            if self.full && what == "block" {
                let failed = users
                    .iter()
                    .map(|u| UserError {
                        user: u.clone(),
                        code: codes::LIST_FULL,
                        message: "full".into(),
                    })
                    .collect();
                return Ok(BatchResult {
                    done: Vec::new(),
                    failed,
                });
            }
            let mut done = users.to_vec();
            done.extend(self.claims.iter().cloned());
            Ok(BatchResult {
                done,
                failed: Vec::new(),
            })
        }
    }

    fn users(range: std::ops::Range<u32>) -> Vec<String> {
        range.map(|i| format!("86133{i:08}")).collect()
    }

    fn plan(desired: Vec<String>, block: Vec<String>, unblock: Vec<String>) -> Plan {
        Plan {
            desired,
            live: Vec::new(),
            block,
            unblock: unblock
                .into_iter()
                .map(|user| Unblock {
                    user,
                    reason: UnblockReason::NotInFile,
                })
                .collect(),
            unchanged: 0,
            desired_fingerprint: String::new(),
            live_fingerprint: String::new(),
        }
    }

    #[tokio::test]
    async fn unblocks_run_first_in_chunks_then_blocks() {
        let p = plan(users(0..5), users(0..5), users(10..13));
        let provider = Scripted::default();
        let (report, error) = apply(&provider, &p, 2).await;
        assert!(error.is_none());
        let calls = provider.calls.lock().unwrap().clone();
        let kinds: Vec<(&str, usize)> = calls.iter().map(|(k, u)| (*k, u.len())).collect();
        assert_eq!(
            kinds,
            [
                ("unblock", 2),
                ("unblock", 1),
                ("block", 2),
                ("block", 2),
                ("block", 1)
            ]
        );
        assert_eq!(report.blocked, users(0..5));
        assert_eq!(report.unblocked, users(10..13));
        assert_eq!(report.requests, 5);
        assert_eq!(provider.stats.users_answered(), 8, "every planned user");
    }

    #[tokio::test]
    async fn users_a_provider_claims_but_was_not_sent_are_not_reported() {
        let provider = Scripted {
            claims: users(90..92),
            ..Scripted::default()
        };
        let (report, _) = apply(
            &provider,
            &plan(users(0..2), users(0..2), users(5..6)),
            1000,
        )
        .await;
        assert_eq!(report.blocked, users(0..2));
        assert_eq!(report.unblocked, users(5..6));
    }

    #[tokio::test]
    async fn a_plan_that_would_unblock_a_listed_user_sends_nothing() {
        let provider = Scripted::default();
        let bad = plan(users(0..3), Vec::new(), users(2..3));
        let (report, error) = apply(&provider, &bad, 1000).await;
        assert!(format!("{:#}", error.unwrap()).contains("refusing to unblock 8613300000002"));
        assert!(provider.calls.lock().unwrap().is_empty());
        assert_eq!(report, TargetReport::default());
    }

    #[tokio::test]
    async fn a_plan_that_would_block_an_unlisted_user_sends_nothing() {
        let provider = Scripted::default();
        let bad = plan(users(0..3), users(2..4), Vec::new());
        let (_, error) = apply(&provider, &bad, 1000).await;
        assert!(format!("{:#}", error.unwrap()).contains("refusing to block 8613300000003"));
        assert!(provider.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_full_list_stops_further_block_calls() {
        let provider = Scripted {
            full: true,
            ..Scripted::default()
        };
        let p = plan(users(0..5), users(0..5), Vec::new());
        let (report, error) = apply(&provider, &p, 2).await;
        assert!(error.is_none());
        assert_eq!(
            provider.calls.lock().unwrap().len(),
            1,
            "one call, then stop"
        );
        assert_eq!(report.failed.len(), 5);
        // Users not sent because the list is full are settled too: the bar ends full.
        assert_eq!(provider.stats.users_answered(), 5);
        assert!(
            report
                .failed
                .iter()
                .all(|f| f.code == codes::LIST_FULL && f.reason == "block_list_full")
        );
    }

    #[tokio::test]
    async fn a_failure_part_way_keeps_what_was_done_and_says_so() {
        let provider = Scripted {
            fail_after: Some(2),
            ..Scripted::default()
        };
        let p = plan(users(0..6), users(0..6), Vec::new());
        let (report, error) = apply(&provider, &p, 2).await;
        assert_eq!(report.blocked, users(0..4));
        assert_eq!(
            provider.stats.users_answered(),
            4,
            "the failed call answered none"
        );
        let message = format!("{:#}", error.unwrap());
        assert!(
            message.contains("4 of 6 changes were answered"),
            "{message}"
        );
        assert!(message.contains("HTTP 503"), "{message}");
    }

    #[test]
    fn reasons_for_codes() {
        assert_eq!(reason_for(131047), "not_messaged_24h");
        assert_eq!(reason_for(131021), "cannot_block_self");
        assert_eq!(reason_for(4242), "error_4242");
    }
}
