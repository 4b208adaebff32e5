//! GitHub Actions: `plan` and `apply` append their markdown to the job
//! summary (`$GITHUB_STEP_SUMMARY`), and only inside Actions (product.md §2).

use std::path::Path;

use crate::harness::*;

/// One user to block (01, who messaged recently) and one to unblock (07, not
/// in the file). The ratio guard is opened up: one of one live user is 100%.
const FILE: &str = "mode: exclusive
safety:
  max_unblock_ratio: 1
blocked:
  - \"8613300000001\"
";

const PLAN_TABLE: &str = "| File | Phone | Provider | Block | Unblock | Unchanged | Status |";

/// Run the real binary as a GitHub Actions step would: credentials from
/// secrets, `GITHUB_ACTIONS=true`, and the summary file the runner provides.
fn in_actions(ws: &Workspace, args: &[&str], summary: &Path) -> Run {
    ws.command(args)
        .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
        .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
        .run()
}

#[test]
fn plan_appends_its_markdown_to_the_step_summary_and_never_overwrites_it() {
    let emu = Emulator::start(&state(&["8613300000007"], &["8613300000001"]), &[]);
    let ws = Workspace::new();
    ws.target("support.yaml", &emu, FILE);
    // The runner shares one file between the steps of a job: what an earlier
    // step wrote must survive.
    let summary = ws.write("summary.md", "## an earlier step\n");

    in_actions(&ws, &["plan", "support.yaml"], &summary).code(0);
    let first = read(&summary);
    assert!(first.starts_with("## an earlier step\n"), "{first}");
    assert!(first.contains("## blocklist plan"), "{first}");
    assert!(first.contains(PLAN_TABLE), "{first}");
    assert!(first.contains("1 to block, 1 to unblock"), "{first}");
    assert!(first.contains("support.yaml"), "{first}");

    // A second run appends again, and the summary is markdown whatever
    // --format says: stdout stays one JSON document for the pipeline.
    let run = in_actions(
        &ws,
        &[
            "plan",
            "support.yaml",
            "--format",
            "json",
            "--detailed-exitcode",
        ],
        &summary,
    );
    run.code(2);
    assert_eq!(run.json()["summary"]["block"], 1);
    let second = read(&summary);
    assert!(
        second.starts_with(&first),
        "appended, not overwritten:\n{second}"
    );
    assert_eq!(second.matches("## blocklist plan").count(), 2, "{second}");
    assert_eq!(second.matches(PLAN_TABLE).count(), 2, "{second}");
    assert!(
        !second.contains(ACCESS_SECRET) && !second.contains(ACCESS_KEY),
        "credentials never reach the summary"
    );
    assert_eq!(emu.blocked(), vec!["8613300000007"], "plan changes nothing");
}

#[test]
fn apply_appends_the_plan_and_what_it_did() {
    let emu = Emulator::start(&state(&["8613300000007"], &["8613300000001"]), &[]);
    let ws = Workspace::new();
    ws.target("support.yaml", &emu, FILE);
    let summary = ws.path("summary.md");

    in_actions(&ws, &["apply", "support.yaml", "--yes"], &summary).code(0);
    let text = read(&summary);
    assert!(text.contains(PLAN_TABLE), "{text}");
    assert!(text.contains("## blocklist apply"), "{text}");
    assert!(text.contains("1 blocked, 1 unblocked"), "{text}");
    assert_eq!(emu.blocked(), vec!["8613300000001"]);
}

#[test]
fn outside_github_actions_nothing_is_written() {
    let emu = Emulator::start(&state(&["8613300000007"], &["8613300000001"]), &[]);
    let ws = Workspace::new();
    ws.target("support.yaml", &emu, FILE);
    let summary = ws.path("summary.md");

    // A stray GITHUB_STEP_SUMMARY on a laptop is not GitHub Actions.
    ws.run(&["plan", "support.yaml"]).code(0);
    let run = ws
        .command(&["plan", "support.yaml"])
        .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
        .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
        .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
        .run();
    run.code(0);
    assert!(!summary.exists(), "no summary file outside GitHub Actions");

    // Inside Actions but without the variable (a step that unset it): no
    // file, and no error either.
    ws.command(&["plan", "support.yaml"])
        .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
        .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
        .env("GITHUB_ACTIONS", "true")
        .run()
        .code(0);
    assert!(!summary.exists());
}
