//! `blocklist apply`: plan, confirm, apply, report.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::apply;
use crate::cli::ApplyArgs;
use crate::config::{ProviderSettings, Target};
use crate::exit::Exit;
use crate::fsutil::write_atomic;
use crate::progress::Progress;
use crate::provider::Provider;
use crate::provider::ledger::lock::LedgerLock;
use crate::render::{self, AppliedTarget, PlannedTarget, ReportFormat, TargetError};
use crate::review::{self, Verdict};

use super::output::{Output, note};
use super::targets::{self, Planned};

pub async fn run(args: ApplyArgs, out: &Output) -> anyhow::Result<Exit> {
    // A reviewed plan is read first: one from another version is refused
    // before anything is contacted.
    let reviewed = match &args.plan {
        None => None,
        Some(path) => match review::read(path)? {
            Ok(doc) => Some(doc),
            Err(why) => {
                crate::say!("Refused: {why}");
                return Ok(Exit::Refused);
            }
        },
    };
    // `apply --plan FILE` alone applies the files the plan covers.
    let paths = match &reviewed {
        Some(doc) if args.targets.paths.is_empty() => review::files(doc),
        _ => args.targets.paths.clone(),
    };
    let Some(loaded) = targets::load(&paths) else {
        return Ok(Exit::Error);
    };
    // Held until this function returns, whatever path it takes.
    let (loaded, _locks, lock_errors) = lock_ledgers(loaded);
    let reconciled = targets::plan_all(
        loaded,
        args.targets.concurrency.into(),
        Some(&targets::overrides(&args.guards)),
    )
    .await;
    let mut plan_errors = lock_errors;
    plan_errors.extend(reconciled.errors);
    let views: Vec<PlannedTarget> = reconciled
        .planned
        .iter()
        .map(|p| p.planned.clone())
        .collect();

    // The plan is what the operator approves: show it in the chosen format
    // (JSON output carries only the report, so it stays one document). With
    // -q it is still shown when someone is about to be asked to approve it.
    let asks = reviewed.is_none()
        && !args.yes
        && std::io::stdin().is_terminal()
        && views
            .iter()
            .any(|p| p.refused.is_none() && p.plan.has_changes());
    let show = |text: String| match asks {
        true => out.print_always(&text),
        false => out.print(&text),
    };
    match args.format {
        ReportFormat::Markdown => show(render::plan_markdown(&views, &plan_errors))?,
        ReportFormat::Json => {}
        ReportFormat::Text => show(render::plan_text(&views, &plan_errors, out.color))?,
    }

    let mut exit = if plan_errors.is_empty() {
        Exit::Success
    } else {
        Exit::Error
    };
    // Sort targets: refused (nothing is sent), to apply, or nothing to do.
    let mut applied = Vec::new();
    let mut to_apply = Vec::new();
    for p in reconciled.planned {
        let verdict = reviewed.as_ref().map(|doc| review::check(doc, &p.planned));
        let refused = match (&p.planned.refused, &verdict) {
            (Some(guard), _) => Some(guard.to_string()),
            (None, Some(Verdict::Stale(why))) => Some(format!(
                "the reviewed plan no longer matches: {}",
                why.join("; ")
            )),
            _ => None,
        };
        let skipped = match verdict {
            Some(Verdict::Approved { skipped }) => skipped,
            _ => 0,
        };
        if let Some(why) = refused {
            exit = exit.max(Exit::Refused);
            applied.push(untouched(p, why.into(), 0));
        } else if p.planned.plan.has_changes() {
            to_apply.push((p, skipped));
        } else if skipped > 0 {
            applied.push(untouched(p, None, skipped));
        }
    }

    let mut apply_errors = Vec::new();
    if !to_apply.is_empty() {
        // A reviewed plan is the approval; otherwise someone must say yes.
        // A run already stopping (a signal or the deadline while planning)
        // sends nothing more, whatever the answer, so nobody is asked: each
        // target then reports that nothing was sent, and why.
        let stopping = crate::stop::current().reason().is_some();
        if reviewed.is_none() && !stopping && !confirmed(args.yes)? {
            // The report is written whatever happens, refusals included.
            write_report(args.report.as_deref(), &applied, &plan_errors)?;
            return Ok(exit.max(Exit::Refused));
        }
        let (done, failed) = apply_all(
            to_apply,
            args.chunk_size.into(),
            args.targets.concurrency.into(),
        )
        .await;
        applied.extend(done);
        apply_errors = failed;
    }

    // Text and markdown showed the planning errors with the plan; the JSON
    // report is the one document a pipeline reads, so it carries them all.
    let all_errors: Vec<TargetError> = plan_errors.iter().chain(&apply_errors).cloned().collect();
    match args.format {
        ReportFormat::Json => out.print_always(&render::apply_json(&applied, &all_errors))?,
        _ if applied.is_empty() && apply_errors.is_empty() => {}
        ReportFormat::Markdown => out.print(&render::apply_markdown(&applied, &apply_errors))?,
        ReportFormat::Text => out.print(&render::apply_text(&applied, &apply_errors, out.color))?,
    }
    if out.quiet && args.format != ReportFormat::Json {
        super::output::problems(&[], &applied, &all_errors, false);
    }
    // Changes were made: the report comes first, and a job summary that
    // cannot be written is only a warning.
    write_report(args.report.as_deref(), &applied, &all_errors)?;
    super::output::step_summary(|| {
        render::plan_markdown(&views, &plan_errors)
            + "\n"
            + &render::apply_markdown(&applied, &apply_errors)
    });

    if !apply_errors.is_empty() {
        exit = exit.max(Exit::Error);
    }
    if args.targets.detailed_exitcode && applied.iter().any(|a| a.report.left_differences()) {
        exit = exit.max(Exit::Changes);
    }
    Ok(exit)
}

/// Take the lock of every WAHA target's ledger before its ledger is read
/// (see [`LedgerLock`]). A target whose lock another apply holds is left
/// out, with an error naming the holder; the others go ahead.
fn lock_ledgers(loaded: Vec<Target>) -> (Vec<Target>, Vec<LedgerLock>, Vec<TargetError>) {
    let mut free = Vec::new();
    let mut locks = Vec::new();
    let mut errors = Vec::new();
    for target in loaded {
        let ProviderSettings::Waha { ledger, .. } = &target.provider else {
            free.push(target);
            continue;
        };
        match LedgerLock::acquire(ledger) {
            Ok(lock) => {
                locks.push(lock);
                free.push(target);
            }
            Err(e) => errors.push(targets::error(&target, e)),
        }
    }
    (free, locks, errors)
}

/// `--report FILE`: the JSON apply report, written atomically.
fn write_report(
    path: Option<&std::path::Path>,
    applied: &[AppliedTarget],
    errors: &[TargetError],
) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    let mut bytes = serde_json::to_vec_pretty(&render::report_document(applied, errors))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)?;
    note(format_args!("Report saved to {}.", path.display()));
    Ok(())
}

/// The report of a target nothing was sent for.
fn untouched(p: Planned, refused: Option<String>, skipped: usize) -> AppliedTarget {
    AppliedTarget {
        target: p.planned.target,
        report: apply::TargetReport {
            refused,
            skipped_already_done: skipped,
            requests: p.client.stats().requests(),
            retries: p.client.stats().retries(),
            ..Default::default()
        },
    }
}

/// Ask on a terminal; without one, only `--yes` approves (product.md §2).
fn confirmed(yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        eprintln!(
            "Refusing to apply: standard input is not a terminal, so nobody can confirm. Pass --yes to apply unattended."
        );
        return Ok(false);
    }
    eprint!("Apply these changes? Only 'yes' is accepted: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    // An interrupt at the prompt ends the run at once: nothing was sent.
    crate::stop::AT_PROMPT.store(true, std::sync::atomic::Ordering::SeqCst);
    let read = stdin.lock().read_line(&mut answer);
    crate::stop::AT_PROMPT.store(false, std::sync::atomic::Ordering::SeqCst);
    read?;
    if answer.trim() == "yes" {
        Ok(true)
    } else {
        eprintln!("Apply cancelled; nothing was changed.");
        Ok(false)
    }
}

/// Apply every target, `concurrency` at a time. A target that fails part-way
/// appears in both lists: what it did, and the error that stopped it.
async fn apply_all(
    targets: Vec<(Planned, usize)>,
    chunk_size: usize,
    concurrency: usize,
) -> (Vec<AppliedTarget>, Vec<TargetError>) {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let progress = Progress::current();
    let mut tasks = JoinSet::new();
    for (index, (p, skipped)) in targets.into_iter().enumerate() {
        let gate = gate.clone();
        let progress = progress.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            crate::info!("{}: applying", p.planned.target.file.display());
            let label = p.planned.target.file.display().to_string();
            let planned = (p.planned.plan.block.len() + p.planned.plan.unblock.len()) as u64;
            let bar = progress.applying(&label, planned, &p.client);
            let (mut report, error) = apply::apply(
                p.client.as_ref(),
                &p.planned.target,
                &p.planned.plan,
                chunk_size,
            )
            .await;
            drop(bar);
            report.skipped_already_done = skipped;
            let error = error.map(|e| targets::error(&p.planned.target, e));
            (
                index,
                AppliedTarget {
                    target: p.planned.target,
                    report,
                },
                error,
            )
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    results.sort_by_key(|(i, _, _)| *i);
    let mut applied = Vec::new();
    let mut errors = Vec::new();
    for (_, a, e) in results {
        applied.push(a);
        errors.extend(e);
    }
    (applied, errors)
}
