//! One target's steps: list and plan (with its guard), then apply.

use crate::apply::{self, TargetReport};
use crate::config::Target;
use crate::date::Date;
use crate::deferral::Deferral;
use crate::plan;
use crate::progress::Progress;
use crate::render::{AppliedTarget, PlannedTarget, TargetError};
use crate::safety;
use crate::state::TargetState;
use crate::user::{Lookup, User};

use super::{Client, PlanOptions, Planned, error};

/// Read the live list (and what the provider never confirmed), plan, and
/// check the plan against the guards when the options name them.
pub async fn plan(
    target: Target,
    client: Client,
    today: Date,
    options: &PlanOptions,
) -> Result<Planned, TargetError> {
    // The state is read first: a damaged one stops this target before any
    // request, rather than planning as if nothing were remembered.
    let state =
        TargetState::open(options.state.as_deref(), &target).map_err(|e| error(&target, e))?;
    let remembered = state.deferrals().await.map_err(|e| error(&target, e))?;
    crate::info!("{}: reading the live block list", target.file.display());
    let bar = Progress::current().listing(&target.file.display().to_string(), &client);
    let listed = match client.list().await {
        Ok(live) => client.unconfirmed().await.map(|unsure| (live, unsure)),
        Err(e) => Err(e),
    };
    drop(bar);
    let (live, unconfirmed) = listed.map_err(|e| error(&target, e))?;
    let mut plan = plan::plan(&target, &live, today);
    plan.resend(&unconfirmed);
    if options.blocks_only {
        // Users planned for unblocking stay blocked this run.
        plan.unchanged += plan.unblock.len();
        plan.unblock.clear();
    }
    let guards = options.guards.as_ref();
    let refused = guards.and_then(|g| safety::check(&plan, target.mode, &target.safety, g));
    let notes = client.notes(&unconfirmed);
    let deferred = waiting(&plan.block, remembered);
    Ok(Planned {
        planned: PlannedTarget {
            target,
            plan,
            refused,
            notes,
            deferred,
        },
        client,
        state,
    })
}

/// Of the blocks to send, those the state remembers as deferred, each under
/// the plan's own spelling of the user. A remembered deferral the plan no
/// longer blocks (blocked since, or no longer desired) is not shown.
pub fn waiting(blocks: &[User], remembered: Vec<Deferral>) -> Vec<Deferral> {
    if remembered.is_empty() {
        return Vec::new();
    }
    let mut known = Lookup::with_capacity(remembered.len());
    for (i, d) in remembered.iter().enumerate() {
        known.insert(&d.user, i);
    }
    blocks
        .iter()
        .filter_map(|user| {
            let d = &remembered[*known.get(user)?];
            Some(Deferral {
                user: user.clone(),
                ..d.clone()
            })
        })
        .collect()
}

/// Carry out one target's plan. A target that stops part-way reports what
/// it did, with the error beside it.
pub async fn apply(
    p: Planned,
    skipped: usize,
    chunk_size: usize,
) -> (AppliedTarget, Option<TargetError>) {
    let target = &p.planned.target;
    crate::info!("{}: applying", target.file.display());
    let plan = &p.planned.plan;
    let planned = (plan.block.len() + plan.unblock.len()) as u64;
    let label = target.file.display().to_string();
    let bar = Progress::current().applying(&label, planned, &p.client);
    let (mut report, failure) = apply::apply(p.client.as_ref(), target, plan, chunk_size).await;
    drop(bar);
    report.skipped_already_done = skipped;
    let mut failure = failure.map(|e| error(target, e));
    // What the platform deferred is remembered, and what it blocked is
    // forgotten, even after a stop part-way: the report says what was done.
    if let Err(e) = p.state.record_apply(&plan.block, &report).await {
        let e = error(
            target,
            e.context("the apply was done, but its state was not recorded"),
        );
        failure = Some(match failure {
            Some(mut first) => {
                first.message = format!("{}; and {}", first.message, e.message);
                first
            }
            None => e,
        });
    }
    let applied = AppliedTarget {
        target: p.planned.target,
        report,
    };
    (applied, failure)
}

/// The report of a target nothing was sent for: refused, or with nothing
/// left to do beyond what was `skipped` as already done.
pub fn untouched(p: Planned, refused: Option<String>, skipped: usize) -> AppliedTarget {
    AppliedTarget {
        target: p.planned.target,
        report: TargetReport {
            refused,
            skipped_already_done: skipped,
            requests: p.client.stats().requests(),
            retries: p.client.stats().retries(),
            ..Default::default()
        },
    }
}
