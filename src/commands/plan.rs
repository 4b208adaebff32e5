//! `blocklist plan`: read live state, print the plan; changes nothing.

use crate::cli::PlanArgs;
use crate::date::now_rfc3339;
use crate::exit::Exit;
use crate::fsutil::write_atomic;
use crate::reconcile;
use crate::render::{self, Format, PlannedTarget, TargetError};

use super::output::{Output, note};
use super::targets;

pub async fn run(args: PlanArgs, out: &Output) -> anyhow::Result<Exit> {
    let Some(loaded) = targets::load_shard(&args.targets.paths, args.targets.shard.value) else {
        return Ok(Exit::Error);
    };
    let options = reconcile::PlanOptions {
        concurrency: args.targets.concurrency.into(),
        guards: Some(targets::overrides(&args.guards)),
        state: args.targets.state.url.clone(),
        ..Default::default()
    };
    let reconciled = reconcile::plan_all(loaded, &options).await;
    let planned: Vec<PlannedTarget> = reconciled.planned.into_iter().map(|p| p.planned).collect();
    let errors = reconciled.errors;

    let created_at = now_rfc3339();
    match args.format {
        Format::Text => out.print(&render::plan_text(&planned, &errors, out.color))?,
        Format::Markdown => out.print(&render::plan_markdown(&planned, &errors))?,
        Format::Json => out.print_always(&render::plan_json(&planned, &errors, &created_at))?,
        Format::Diff => out.print(&render::plan_diff(&planned))?,
    }
    if args.format == Format::Diff && !out.quiet {
        // A diff has no room for these, and a reviewer must still see them.
        super::output::problems(&planned, &[], &errors, true);
    } else if out.quiet && args.format != Format::Json {
        super::output::problems(&planned, &[], &errors, false);
    }
    super::output::step_summary(|| render::plan_markdown(&planned, &errors));
    if let Some(path) = &args.out {
        let doc = render::plan_document(&planned, &errors, &created_at);
        let mut bytes = serde_json::to_vec_pretty(&doc)?;
        bytes.push(b'\n');
        write_atomic(path, &bytes)?;
        note(format_args!("Plan saved to {}.", path.display()));
    }
    Ok(exit(&planned, &errors, args.targets.detailed_exitcode))
}

/// Exit code of a plan: errors over refusals over changes (README, Exit codes).
pub fn exit(planned: &[PlannedTarget], errors: &[TargetError], detailed: bool) -> Exit {
    let mut exit = Exit::Success;
    if !errors.is_empty() {
        exit = exit.max(Exit::Error);
    }
    if planned.iter().any(|p| p.refused.is_some()) {
        exit = exit.max(Exit::Refused);
    }
    // Blocks waiting for their users to write are not this change's own:
    // they alone do not make a plan "have changes".
    if detailed && planned.iter().any(PlannedTarget::has_new_changes) {
        exit = exit.max(Exit::Changes);
    }
    exit
}
