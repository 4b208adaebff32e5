//! `blocklist apply`: plan, confirm, apply, report.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use crate::cli::ApplyArgs;
use crate::exit::Exit;
use crate::fsutil::write_atomic;
use crate::reconcile::{self, ApplyOptions, Applying, Decision, PlanOptions};
use crate::render::{self, AppliedTarget, PlannedTarget, ReportFormat, TargetError};
use crate::review;

use super::output::{Output, note};
use super::targets;

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
    let Some(loaded) = targets::load_shard(&paths, args.targets.shard.value) else {
        return Ok(Exit::Error);
    };
    let planning = PlanOptions {
        concurrency: args.targets.concurrency.into(),
        guards: Some(targets::overrides(&args.guards)),
        lock: true,
        state: args.targets.state.url.clone(),
        blocks_only: args.blocks_only,
    };
    let options = ApplyOptions {
        chunk_size: args.chunk_size.into(),
        concurrency: args.targets.concurrency.into(),
    };

    // A reviewed plan is the approval, and so is --yes: each target then
    // applies as soon as its own plan is ready. Otherwise every plan is
    // shown and someone must say yes first.
    let applying = if reviewed.is_some() || args.yes {
        reconcile::plan_and_apply(loaded, &planning, reviewed.map(Arc::new), options).await
    } else {
        match plan_then_ask(loaded, &planning, options, &args, out).await? {
            Asked::Applied(applying) => applying,
            Asked::Declined(exit) => return Ok(exit),
        }
    };
    let Applying {
        planned,
        plan_errors,
        applied,
        apply_errors,
    } = applying;

    // The plan is what was approved: shown in the chosen format (JSON
    // carries only the report, so it stays one document). Asking showed it.
    if reviewed_or_yes(&args) {
        show_plan(&planned, &plan_errors, args.format, out, false)?;
    }
    let mut exit = if plan_errors.is_empty() {
        Exit::Success
    } else {
        Exit::Error
    };
    if applied.iter().any(|a| a.report.refused.is_some()) {
        exit = exit.max(Exit::Refused);
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
        render::plan_markdown(&planned, &plan_errors)
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

fn reviewed_or_yes(args: &ApplyArgs) -> bool {
    args.plan.is_some() || args.yes
}

/// The plan in the chosen format (nothing for JSON). With `asking`, it is
/// shown with -q too: someone is about to be asked to approve it.
fn show_plan(
    planned: &[PlannedTarget],
    errors: &[TargetError],
    format: ReportFormat,
    out: &Output,
    asking: bool,
) -> anyhow::Result<()> {
    let show = |text: String| match asking {
        true => out.print_always(&text),
        false => out.print(&text),
    };
    match format {
        ReportFormat::Markdown => show(render::plan_markdown(planned, errors)),
        ReportFormat::Json => Ok(()),
        ReportFormat::Text => show(render::plan_text(planned, errors, out.color)),
    }
}

enum Asked {
    Applied(Applying),
    /// Nobody approved: nothing was sent; the exit code says so.
    Declined(Exit),
}

/// Plan every target, show the plans, ask, then apply the approved ones.
async fn plan_then_ask(
    loaded: Vec<crate::config::Target>,
    steps: &PlanOptions,
    options: ApplyOptions,
    args: &ApplyArgs,
    out: &Output,
) -> anyhow::Result<Asked> {
    let mut planning = reconcile::plan_all(loaded, steps).await;
    let views: Vec<PlannedTarget> = planning.planned.iter().map(|p| p.planned.clone()).collect();
    let plan_errors = std::mem::take(&mut planning.errors);
    let asks = std::io::stdin().is_terminal()
        && views
            .iter()
            .any(|p| p.refused.is_none() && p.plan.has_changes());
    show_plan(&views, &plan_errors, args.format, out, asks)?;

    let mut applied = Vec::new();
    let mut approved = Vec::new();
    for p in std::mem::take(&mut planning.planned) {
        match reconcile::decide(&p.planned, None) {
            Decision::Refuse(why) => applied.push(reconcile::untouched(p, Some(why), 0)),
            Decision::Apply { skipped } => approved.push((p, skipped)),
            Decision::Nothing { .. } => {}
        }
    }
    let mut apply_errors = Vec::new();
    if !approved.is_empty() {
        // A run already stopping (a signal or the deadline while planning)
        // sends nothing more, whatever the answer, so nobody is asked: each
        // target then reports that nothing was sent, and why.
        let stopping = crate::stop::current().reason().is_some();
        if !stopping && !confirmed(args.yes)? {
            // The report is written whatever happens, refusals included.
            write_report(args.report.as_deref(), &applied, &plan_errors)?;
            let exit = match plan_errors.is_empty() {
                true => Exit::Refused,
                false => Exit::Error.max(Exit::Refused),
            };
            return Ok(Asked::Declined(exit));
        }
        let (done, failed) = reconcile::apply_all(approved, options).await;
        applied.extend(done);
        apply_errors = failed;
    }
    // The locks and sandboxes in `planning` live until every apply is done.
    drop(planning);
    Ok(Asked::Applied(Applying {
        planned: views,
        plan_errors,
        applied,
        apply_errors,
    }))
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

/// Ask on a terminal; without one, only `--yes` approves (README, Commands).
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
