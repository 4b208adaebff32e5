//! `blocklist drift`: the scheduled check of reality against Git.
//!
//! Drift is a plan with no safety guards (it only reports, so a tripped guard
//! would hide exactly what the check is for) rendered as missing and
//! unexpected users. It always exits as `plan --detailed-exitcode` would:
//! a scheduler needs "drifted" to be a distinct outcome without a flag.

use crate::cli::DriftArgs;
use crate::date::now_rfc3339;
use crate::exit::Exit;
use crate::reconcile;
use crate::render::{
    self, PlannedTarget, ReportFormat, TargetError, drift::drifted, drift::drifted_strictly,
};

use super::output::Output;
use super::targets;

pub async fn run(args: DriftArgs, out: &Output) -> anyhow::Result<Exit> {
    let Some(loaded) = targets::load_shard(&args.paths, args.shard.value) else {
        return Ok(Exit::Error);
    };
    let options = reconcile::PlanOptions {
        concurrency: args.concurrency.into(),
        state: args.state.url.clone(),
        ..Default::default()
    };
    let reconciled = reconcile::plan_all(loaded, &options).await;
    let checked: Vec<PlannedTarget> = reconciled.planned.into_iter().map(|p| p.planned).collect();
    let errors = reconciled.errors;

    let checked_at = now_rfc3339();
    match args.format {
        ReportFormat::Text => out.print(&render::drift_text(&checked, &errors, out.color))?,
        ReportFormat::Markdown => {
            out.print(&render::drift_markdown(&checked, &errors, &checked_at))?
        }
        ReportFormat::Json => {
            out.print_always(&render::drift_json(&checked, &errors, &checked_at))?
        }
    }
    if out.quiet && args.format != ReportFormat::Json {
        super::output::problems(&[], &[], &errors, false);
    }
    super::output::step_summary(|| render::drift_markdown(&checked, &errors, &checked_at));
    Ok(exit(&checked, &errors, args.strict))
}

/// 1 if any target could not be checked, else 2 if any drifted, else 0
/// (the most severe wins). Known deferrals alone are not drift (they wait
/// for the user to write), unless `strict`.
fn exit(checked: &[PlannedTarget], errors: &[TargetError], strict: bool) -> Exit {
    let mut exit = Exit::Success;
    let drifted = |t: &PlannedTarget| match strict {
        true => drifted_strictly(t),
        false => drifted(t),
    };
    if checked.iter().any(drifted) {
        exit = exit.max(Exit::Changes);
    }
    if !errors.is_empty() {
        exit = exit.max(Exit::Error);
    }
    exit
}
