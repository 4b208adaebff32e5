//! The pipeline behind `plan`, `apply` and `drift`, top to bottom:
//!
//! ```text
//! load → lock → connect → list → plan → guard → review → apply → report
//! ```
//!
//! `commands/` loads the files, maps flags onto this module's calls, renders
//! what comes back and picks the exit code; every step in between is here.
//! Targets go through the pipeline independently, at most `concurrency` at
//! a time ([`runner`]): one target's failure never stops the others, and
//! results keep the files' order. With no one to ask (`apply --yes`, or a
//! reviewed plan), a target starts applying as soon as its own plan is
//! ready ([`plan_and_apply`]); otherwise every plan is shown and approved
//! first ([`plan_all`], then [`apply_all`]).

mod connect;
mod runner;
mod target;

use std::sync::Arc;

use crate::config::{ProviderSettings, Target};
use crate::date::Date;
use crate::render::PlanDocument;
use crate::render::{AppliedTarget, PlannedTarget, TargetError};
use crate::review::{self, Review};
use crate::safety::Overrides;
use crate::sandbox::Sandboxes;
use crate::state::{Lock, TargetState};

pub use connect::{Client, connect};

/// A planned target and the client that read it, kept for apply.
pub struct Planned {
    pub planned: PlannedTarget,
    pub client: Client,
    /// The target's state: deferrals read for the plan, and what apply
    /// records.
    pub state: TargetState,
}

/// What happened to every target, in the files' order.
pub struct Planning {
    pub planned: Vec<Planned>,
    pub errors: Vec<TargetError>,
    /// Kept alive until the command ends: sandbox targets talk to these.
    _sandboxes: Sandboxes,
    /// Held until the command ends (see [`lock_target`]).
    _locks: Vec<Lock>,
}

/// How targets are planned.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Targets at once.
    pub concurrency: usize,
    /// Check each plan against the safety guards (plan and apply; drift
    /// only reports, so it passes none).
    pub guards: Option<Overrides>,
    /// Take each target's apply lock in its state first (apply).
    pub lock: bool,
    /// The state store (`--state`); `None`: `BLOCKLIST_STATE`, else
    /// `.blocklist/` beside each file.
    pub state: Option<String>,
    /// Plan no unblocks: `apply --blocks-only`, for a scheduled job that
    /// retries deferred blocks without a reviewer.
    pub blocks_only: bool,
}

/// How apply carries a plan out.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    pub chunk_size: usize,
    pub concurrency: usize,
}

/// What to do with one planned target, from its guard and the reviewed plan.
pub enum Decision {
    /// Send nothing, and say why: a tripped guard or a stale reviewed plan.
    Refuse(String),
    /// Apply the plan; `skipped` reviewed changes were already done.
    Apply { skipped: usize },
    /// Nothing to send; `skipped` reviewed changes were already done.
    Nothing { skipped: usize },
}

/// Decide for one planned target. The guard wins over the reviewed plan:
/// a plan that trips a guard is refused however it was reviewed.
pub fn decide(p: &PlannedTarget, reviewed: Option<&PlanDocument>) -> Decision {
    let verdict = reviewed.map(|doc| review::check(doc, p));
    if let Some(guard) = &p.refused {
        return Decision::Refuse(guard.to_string());
    }
    let skipped = match verdict {
        Some(Review::Stale(why)) => {
            return Decision::Refuse(format!(
                "the reviewed plan no longer matches: {}",
                why.join("; ")
            ));
        }
        Some(Review::Approved { skipped }) => skipped,
        None => 0,
    };
    if p.plan.has_changes() {
        Decision::Apply { skipped }
    } else {
        Decision::Nothing { skipped }
    }
}

/// Connect to every target and plan it, as `options` say.
pub async fn plan_all(targets: Vec<Target>, options: &PlanOptions) -> Planning {
    let today = Date::today_utc();
    let (connected, prepared) = connect_all(targets, options).await;
    let steps = Arc::new(options.clone());
    let results = runner::run_all(connected, options.concurrency, |(index, target, client)| {
        let steps = steps.clone();
        async move { (index, target::plan(target, client, today, &steps).await) }
    })
    .await;
    let mut planned = Vec::with_capacity(results.len());
    let mut errors = prepared.errors_by_index;
    for (index, result) in results {
        match result {
            Ok(p) => planned.push(p),
            Err(e) => errors.push((index, e)),
        }
    }
    errors.sort_by_key(|(i, _)| *i);
    Planning {
        planned,
        errors: errors.into_iter().map(|(_, e)| e).collect(),
        _sandboxes: prepared.sandboxes,
        _locks: prepared.locks,
    }
}

/// What [`plan_and_apply`] and [`apply_all`] come to.
pub struct Applying {
    /// Every planned target, for the plan's rendering.
    pub planned: Vec<PlannedTarget>,
    /// Targets that could not be planned.
    pub plan_errors: Vec<TargetError>,
    /// Every target that was refused, applied, or had reviewed changes
    /// already done.
    pub applied: Vec<AppliedTarget>,
    /// Targets that stopped while applying (they are in `applied` too,
    /// with what they did).
    pub apply_errors: Vec<TargetError>,
}

/// Plan every target, and apply each as soon as its own plan is ready and
/// [`decide`] says so: nobody is asked (`--yes`, or `reviewed` is the
/// approval).
pub async fn plan_and_apply(
    targets: Vec<Target>,
    planning: &PlanOptions,
    reviewed: Option<Arc<PlanDocument>>,
    options: ApplyOptions,
) -> Applying {
    let today = Date::today_utc();
    let (connected, prepared) = connect_all(targets, planning).await;
    let steps = Arc::new(planning.clone());
    let results = runner::run_all(connected, options.concurrency, |(index, target, client)| {
        let (steps, reviewed) = (steps.clone(), reviewed.clone());
        async move {
            let p = match target::plan(target, client, today, &steps).await {
                Ok(p) => p,
                Err(e) => return (index, Err(e)),
            };
            let view = p.planned.clone();
            let done = match decide(&view, reviewed.as_deref()) {
                Decision::Refuse(why) => Some((target::untouched(p, Some(why), 0), None)),
                Decision::Nothing { skipped: 0 } => None,
                Decision::Nothing { skipped } => Some((target::untouched(p, None, skipped), None)),
                Decision::Apply { skipped } => {
                    Some(target::apply(p, skipped, options.chunk_size).await)
                }
            };
            (index, Ok((view, done)))
        }
    })
    .await;
    let mut out = Applying {
        planned: Vec::new(),
        plan_errors: Vec::new(),
        applied: Vec::new(),
        apply_errors: Vec::new(),
    };
    let Prepared {
        errors_by_index: mut plan_errors,
        // Held until every target is done.
        sandboxes: _sandboxes,
        locks,
    } = prepared;
    // Every target is done: the locks go now, on this runtime.
    for lock in locks {
        lock.release().await;
    }
    for (index, result) in results {
        match result {
            Err(e) => plan_errors.push((index, e)),
            Ok((view, done)) => {
                out.planned.push(view);
                if let Some((applied, failure)) = done {
                    out.applied.push(applied);
                    out.apply_errors.extend(failure);
                }
            }
        }
    }
    plan_errors.sort_by_key(|(i, _)| *i);
    out.plan_errors = plan_errors.into_iter().map(|(_, e)| e).collect();
    out
}

/// Apply the approved targets of a [`Planning`], `concurrency` at a time.
/// A target that fails part-way appears in both lists: what it did, and
/// the error that stopped it.
pub async fn apply_all(
    approved: Vec<(Planned, usize)>,
    options: ApplyOptions,
) -> (Vec<AppliedTarget>, Vec<TargetError>) {
    let results = runner::run_all(approved, options.concurrency, |(p, skipped)| {
        target::apply(p, skipped, options.chunk_size)
    })
    .await;
    let mut applied = Vec::with_capacity(results.len());
    let mut errors = Vec::new();
    for (a, e) in results {
        applied.push(a);
        errors.extend(e);
    }
    (applied, errors)
}

pub use target::untouched;

/// Targets connected and ready to list, by their index in the files'
/// order, and what the steps before listing came to.
struct Prepared {
    errors_by_index: Vec<(usize, TargetError)>,
    sandboxes: Sandboxes,
    locks: Vec<Lock>,
}

/// Lock (when `options.lock`) and connect every target, one by one: a held
/// lock or a missing credential is reported before any request is sent.
async fn connect_all(
    targets: Vec<Target>,
    options: &PlanOptions,
) -> (Vec<(usize, Target, Client)>, Prepared) {
    let mut prepared = Prepared {
        errors_by_index: Vec::new(),
        sandboxes: Sandboxes::default(),
        locks: Vec::new(),
    };
    let mut connected = Vec::with_capacity(targets.len());
    for (index, target) in targets.into_iter().enumerate() {
        if options.lock {
            match lock_target(&target, options.state.as_deref()).await {
                Ok(held) => prepared.locks.push(held),
                Err(e) => {
                    prepared.errors_by_index.push((index, error(&target, e)));
                    continue;
                }
            }
        }
        match connect(&target, options.state.as_deref(), &mut prepared.sandboxes).await {
            Ok(client) => connected.push((index, target, client)),
            Err(e) => prepared.errors_by_index.push((index, error(&target, e))),
        }
    }
    (connected, prepared)
}

/// Take the target's apply lock in its state before anything is read: two
/// applies on one target could undo each other's work, and two rewriting
/// one WAHA ledger or one deferrals list would drop each other's entries.
/// A lock another apply holds refuses this target only.
async fn lock_target(target: &Target, state: Option<&str>) -> anyhow::Result<Lock> {
    let state = TargetState::open(state, target)?;
    let lock = state.lock().await?;
    // Temporary files an earlier, killed write left beside a WAHA ledger:
    // nobody else can be writing them now.
    if let ProviderSettings::Waha { ledger, .. } = &target.provider {
        crate::fsutil::remove_stale_temps(&crate::fsutil::resolved(ledger));
    }
    Ok(lock)
}

/// A target's error with the whole cause chain (already free of secrets).
pub fn error(target: &Target, e: anyhow::Error) -> TargetError {
    TargetError {
        file: target.file.clone(),
        message: format!("{e:#}"),
    }
}
