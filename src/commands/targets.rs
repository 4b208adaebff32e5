//! The first half of plan, apply and drift: load the files, connect to each
//! target's provider, read the live lists concurrently, and plan.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cli::GuardArgs;
use crate::config::{self, Target};
use crate::date::Date;
use crate::plan;
use crate::progress::Progress;
use crate::provider::Provider;
use crate::provider::client::{self, Client};
use crate::render::{PlannedTarget, TargetError};
use crate::safety::{self, Overrides};
use crate::sandbox::Sandboxes;

/// A planned target and the client that read it, kept for apply.
pub struct Planned {
    pub planned: PlannedTarget,
    pub client: Arc<Client>,
}

pub struct Reconciled {
    pub planned: Vec<Planned>,
    pub errors: Vec<TargetError>,
    /// Kept alive until the command ends: sandbox targets talk to these.
    pub _sandboxes: Sandboxes,
}

/// Load and validate the files. Prints warnings; on any error prints every
/// one and returns `None`, so nothing is sent to any provider.
pub fn load(paths: &[PathBuf]) -> Option<Vec<Target>> {
    let loaded = config::load(&or_current_dir(paths));
    // Warnings are shown with -q too: it silences the rendering, not them.
    for w in &loaded.warnings {
        crate::say!("warning: {w}");
    }
    if loaded.errors.is_empty() {
        return Some(loaded.targets);
    }
    for e in &loaded.errors {
        crate::say!("error: {e}");
    }
    crate::say!(
        "{} error(s) in the files; nothing was sent to any provider.",
        loaded.errors.len()
    );
    None
}

/// The paths a command works on: those given, else the current directory.
pub fn or_current_dir(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}

/// Connect to every target and plan it, `concurrency` targets at a time.
/// One target's failure never stops the others; results keep file order.
/// With `guards`, each plan is checked against the safety guards (plan and
/// apply); without, it is not (drift only reports).
pub async fn plan_all(
    targets: Vec<Target>,
    concurrency: usize,
    guards: Option<&Overrides>,
) -> Reconciled {
    let today = Date::today_utc();
    let mut sandboxes = Sandboxes::default();
    let mut errors = Vec::new();
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let progress = Progress::current();
    let mut tasks = JoinSet::new();
    for (index, target) in targets.into_iter().enumerate() {
        // Clients are built up front, one by one: a missing credential is
        // reported before any request is sent.
        let client = match client::connect(&target, &mut sandboxes).await {
            Ok(c) => Arc::new(c),
            Err(e) => {
                errors.push((index, error(&target, e)));
                continue;
            }
        };
        let gate = gate.clone();
        let guards = guards.cloned();
        let progress = progress.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            crate::info!("{}: reading the live block list", target.file.display());
            let bar = progress.listing(&target.file.display().to_string(), &client);
            let listed = match client.list().await {
                Ok(live) => client.unconfirmed().await.map(|unsure| (live, unsure)),
                Err(e) => Err(e),
            };
            drop(bar);
            let result = match listed {
                Ok((live, unconfirmed)) => {
                    let mut plan = plan::plan(&target, &live, today);
                    plan.resend(&unconfirmed);
                    let refused =
                        guards.and_then(|g| safety::check(&plan, target.mode, &target.safety, &g));
                    Ok(Planned {
                        planned: PlannedTarget {
                            target,
                            plan,
                            refused,
                            notes: client.notes(&unconfirmed),
                        },
                        client,
                    })
                }
                Err(e) => Err(error(&target, e)),
            };
            (index, result)
        });
    }
    let mut planned = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, Ok(p))) => planned.push((index, p)),
            Ok((index, Err(e))) => errors.push((index, e)),
            Err(e) => anyhow_panic(e),
        }
    }
    planned.sort_by_key(|(i, _)| *i);
    errors.sort_by_key(|(i, _)| *i);
    Reconciled {
        planned: planned.into_iter().map(|(_, p)| p).collect(),
        errors: errors.into_iter().map(|(_, e)| e).collect(),
        _sandboxes: sandboxes,
    }
}

pub fn error(target: &Target, e: anyhow::Error) -> TargetError {
    TargetError {
        file: target.file.clone(),
        message: format!("{e:#}"),
    }
}

/// A task panicked: that is a bug, and hiding it would be worse.
fn anyhow_panic(e: tokio::task::JoinError) -> ! {
    match e.try_into_panic() {
        Ok(payload) => std::panic::resume_unwind(payload),
        Err(e) => panic!("target task cancelled: {e}"),
    }
}

/// The guard overrides of a run. `--force` is said loudly, whatever `-q`.
pub fn overrides(args: &GuardArgs) -> Overrides {
    if args.force {
        eprintln!("WARNING: --force: every safety guard is OFF for this run.");
    }
    Overrides {
        max_unblocks: args.max_unblocks,
        max_unblock_ratio: args.max_unblock_ratio,
        allow_empty: args.allow_empty,
        force: args.force,
    }
}
