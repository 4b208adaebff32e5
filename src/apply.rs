//! Apply a plan: unblocks first, then blocks, in chunks, with per-user outcomes.

use std::collections::HashSet;

use crate::config::Target;
use crate::date::Date;
use crate::number::user_key;
use crate::plan::Plan;
use crate::provider::retry::{RetryPolicy, backoff, meta_code_is_transient};
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
/// blocks a user the files do not list and never unblocks one they do. The
/// check is made against the target's own entries, not against the plan, so
/// a bug in planning cannot vouch for itself; a violation stops the target
/// before anything is sent.
pub async fn apply<P: Provider>(
    provider: &P,
    target: &Target,
    plan: &Plan,
    chunk_size: usize,
) -> (TargetReport, Option<anyhow::Error>) {
    let mut report = TargetReport::default();
    let listed = listed_now(target, Date::today_utc());
    let error = run(provider, &listed, plan, chunk_size, &mut report).await.err().map(|e| {
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

/// The users the files list as blocked today, by [`user_key`].
fn listed_now(target: &Target, today: Date) -> HashSet<String> {
    target
        .blocked
        .iter()
        .filter(|e| e.expires.is_none_or(|d| d >= today))
        .map(|e| user_key(&e.user))
        .collect()
}

async fn run<P: Provider>(
    provider: &P,
    desired: &HashSet<String>,
    plan: &Plan,
    chunk_size: usize,
    report: &mut TargetReport,
) -> anyhow::Result<()> {
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
        let result = call(provider, Direction::Unblock, chunk).await?;
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
        let result = call(provider, Direction::Block, chunk).await?;
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

/// One call, then one more for the users the platform refused with a
/// transient per-user code (130429, 131000…): those mean "not now", not
/// "never", so they get a second chance before being reported failed.
async fn call<P: Provider>(
    provider: &P,
    direction: Direction,
    users: &[String],
) -> anyhow::Result<BatchResult> {
    let mut result = send(provider, direction, users).await?;
    let again: Vec<String> = result
        .failed
        .iter()
        .filter(|f| meta_code_is_transient(f.code, false))
        .map(|f| f.user.clone())
        .collect();
    if again.is_empty() {
        return Ok(result);
    }
    provider.stats().retry();
    tokio::time::sleep(backoff(&RetryPolicy::default(), 1)).await;
    let second = send(provider, direction, &again).await?;
    let retried: HashSet<&str> = again.iter().map(String::as_str).collect();
    result.failed.retain(|f| !retried.contains(f.user.as_str()));
    result.done.extend(second.done);
    result.failed.extend(second.failed);
    Ok(result)
}

async fn send<P: Provider>(
    provider: &P,
    direction: Direction,
    users: &[String],
) -> anyhow::Result<BatchResult> {
    match direction {
        Direction::Block => provider.block(users).await,
        Direction::Unblock => provider.unblock(users).await,
    }
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
        /// The first call refuses its first user with a transient per-user code.
        transient_first: bool,
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
            if self.transient_first && calls.len() == 1 {
                let failed = vec![UserError {
                    user: users[0].clone(),
                    code: 131000,
                    message: "Something went wrong".into(),
                }];
                return Ok(BatchResult {
                    done: users[1..].to_vec(),
                    failed,
                });
            }
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

    /// A target whose files list exactly `users`.
    fn listing(users: &[String]) -> Target {
        Target {
            file: "t.yaml".into(),
            business_phone: "8615800001795".into(),
            provider: crate::config::ProviderSettings::Sandbox,
            mode: crate::config::Mode::Exclusive,
            blocked: users
                .iter()
                .map(|u| crate::config::Entry {
                    user: u.clone(),
                    reason: None,
                    expires: None,
                    at: crate::config::Location {
                        file: "t.yaml".into(),
                        line: 1,
                        column: 1,
                    },
                })
                .collect(),
            unblock: Vec::new(),
            safety: Default::default(),
        }
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
        let (report, error) = apply(&provider, &listing(&p.desired), &p, 2).await;
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
            &listing(&users(0..2)),
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
        let (report, error) = apply(&provider, &listing(&bad.desired), &bad, 1000).await;
        assert!(format!("{:#}", error.unwrap()).contains("refusing to unblock 8613300000002"));
        assert!(provider.calls.lock().unwrap().is_empty());
        assert_eq!(report, TargetReport::default());
    }

    #[tokio::test]
    async fn a_plan_that_would_block_an_unlisted_user_sends_nothing() {
        let provider = Scripted::default();
        let bad = plan(users(0..3), users(2..4), Vec::new());
        let (_, error) = apply(&provider, &listing(&bad.desired), &bad, 1000).await;
        assert!(format!("{:#}", error.unwrap()).contains("refusing to block 8613300000003"));
        assert!(provider.calls.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_transient_per_user_refusal_gets_a_second_call() {
        let provider = Scripted {
            transient_first: true,
            ..Scripted::default()
        };
        let p = plan(users(0..3), users(0..3), Vec::new());
        let (report, error) = apply(&provider, &listing(&p.desired), &p, 1000).await;
        assert!(error.is_none());
        assert_eq!(report.failed, []);
        let mut blocked = report.blocked.clone();
        blocked.sort();
        assert_eq!(blocked, users(0..3));
        let calls = provider.calls.lock().unwrap().clone();
        assert_eq!(
            calls[1].1,
            users(0..1),
            "only the refused user is sent again"
        );
        assert_eq!(report.retries, 1);
    }

    #[tokio::test]
    async fn the_files_not_the_plan_decide_what_may_be_unblocked() {
        // A plan that forgot a listed user in its desired set cannot vouch
        // for unblocking it: the check reads the target's own entries.
        let provider = Scripted::default();
        let bad = plan(Vec::new(), Vec::new(), users(2..3));
        let (_, error) = apply(&provider, &listing(&users(2..3)), &bad, 1000).await;
        assert!(format!("{:#}", error.unwrap()).contains("refusing to unblock 8613300000002"));
        assert!(provider.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_full_list_stops_further_block_calls() {
        let provider = Scripted {
            full: true,
            ..Scripted::default()
        };
        let p = plan(users(0..5), users(0..5), Vec::new());
        let (report, error) = apply(&provider, &listing(&p.desired), &p, 2).await;
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
        let (report, error) = apply(&provider, &listing(&p.desired), &p, 2).await;
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
    fn not_messaged_in_24h_defers_in_either_direction() {
        // providers.md §2: whether unblock is exempt from the 24-hour rule is
        // contradictory in the sources, so 131047 on unblock is deferred too.
        let mut report = TargetReport::default();
        let refused = |user: &str| BatchResult {
            done: Vec::new(),
            failed: vec![UserError {
                user: user.into(),
                code: codes::NOT_MESSAGED_24H,
                message: "Re-engagement check failed".into(),
            }],
        };
        report.record(Direction::Unblock, &users(0..1), refused(&users(0..1)[0]));
        report.record(Direction::Block, &users(1..2), refused(&users(1..2)[0]));
        assert_eq!(report.deferred.len(), 2);
        assert!(
            report
                .deferred
                .iter()
                .all(|d| d.reason == "not_messaged_24h")
        );
        assert!(report.failed.is_empty());
    }

    #[test]
    fn reasons_for_codes() {
        assert_eq!(reason_for(131047), "not_messaged_24h");
        assert_eq!(reason_for(131021), "cannot_block_self");
        assert_eq!(reason_for(4242), "error_4242");
    }
}
