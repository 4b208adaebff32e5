//! GitHub Actions: `plan` and `apply` append their markdown to the job
//! summary (`$GITHUB_STEP_SUMMARY`), and only inside Actions (README, Commands).

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

/// Every line of `text` that GitHub's runner would read as a workflow
/// command (it splits at `\n` and `\r` and trims leading whitespace) is one
/// of the tool's own annotations; the older `##[…]` form appears nowhere.
fn assert_no_injected_command(what: &str, text: &str) {
    for line in text.split(['\n', '\r']) {
        let body = line.trim_start();
        let own = body.starts_with("::error file=") || body.starts_with("::warning file=");
        assert!(
            !body.starts_with("::") || own,
            "{what}: a workflow command from data: {line:?}\n{text}"
        );
        assert!(!line.contains("##["), "{what}: {line:?}\n{text}");
    }
}

const INJECTED: &str = "::set-output name=approved::true";

/// The report: a file named `evil\n::set-output name=approved::true\n.yaml`
/// made plan and validate print a `::set-output` line in GitHub Actions.
/// Such a name is an error now, shown escaped, and nothing is sent.
#[test]
fn a_file_name_with_a_newline_is_refused_shown_escaped() {
    let emu = Emulator::start(&state(&["8613300000007"], &[]), &[]);
    let ws = Workspace::new();
    ws.target(&format!("bl/evil\n{INJECTED}\n.yaml"), &emu, FILE);
    let summary = ws.path("summary.md");
    let shown = format!("bl/evil\\n{INJECTED}\\n.yaml");
    for args in [
        &["validate", "bl"][..],
        &["validate", "bl", "--format", "markdown"],
        &["validate", "bl", "--format", "json"],
        &["plan", "bl"],
        &["plan", "bl", "--format", "markdown"],
        &["plan", "bl", "--format", "diff"],
        &["drift", "bl"],
        &["apply", "bl", "--yes"],
    ] {
        let run = in_actions(&ws, args, &summary);
        run.code(1);
        assert_no_injected_command(&format!("{args:?}"), &run.all());
        assert!(run.all().contains(&shown), "{args:?}: {}", run.all());
        assert!(
            run.all()
                .contains("the file name holds a control character"),
            "{args:?}: {}",
            run.all()
        );
    }
    // The annotation's file= property is escaped as GitHub documents.
    let run = in_actions(&ws, &["validate", "bl"], &summary);
    assert!(
        run.stdout.contains(
            "::error file=bl/evil%0A%3A%3Aset-output name=approved%3A%3Atrue%0A.yaml,line=1,col=1::"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(emu.requests(), 0, "nothing is sent");
}

/// A file name or a reason: neither can start a line with
/// `::` in any output, and in markdown a reason's mentions, issue numbers and
/// links are plain text.
#[test]
fn no_line_from_a_file_is_a_workflow_command() {
    let emu = Emulator::start(&state(&["8613300000007"], &["8613300000001"]), &[]);
    let ws = Workspace::new();
    let name = format!("{INJECTED}.yaml");
    ws.target(
        &name,
        &emu,
        &format!(
            "safety: {{max_unblock_ratio: 1}}
blocked:
  - user: \"8613300000001\"
    reason: |
      first line
      {INJECTED}
        ::add-mask::x ##[set-output name=approved;]true
      ping @octocat about #1 and [this form](https://evil.example)
  - \"+86 133 0000 0001\"
"
        ),
    );
    let summary = ws.path("summary.md");
    for args in [
        &["validate", &name][..],
        &["validate", &name, "--format", "markdown"],
        &["plan", &name],
        &["plan", &name, "-vv", "--format", "markdown"],
        &["plan", &name, "--format", "diff"],
        &["plan", &name, "--format", "json"],
        &["drift", &name, "--format", "markdown"],
        &["import", &name],
        &["apply", &name, "--yes", "--format", "markdown"],
    ] {
        let run = in_actions(&ws, args, &summary);
        assert!(matches!(run.code, 0 | 2), "{args:?}: {}", run.all());
        assert_no_injected_command(&format!("{args:?}"), &run.all());
    }
    let markdown = read(&summary);
    assert_no_injected_command("the step summary", &markdown);
    assert!(
        markdown.contains(
            "ping @&#8203;octocat about #&#8203;1 and \\[this form\\](https://evil.example)"
        ),
        "{markdown}"
    );
    // The duplicate is a warning, annotated with its data escaped.
    let run = in_actions(&ws, &["validate", &name], &summary);
    let annotation = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::warning file="))
        .unwrap_or_else(|| panic!("no warning annotation:\n{}", run.stdout));
    assert!(
        annotation
            .starts_with("::warning file=%3A%3Aset-output name=approved%3A%3Atrue.yaml,line="),
        "{annotation}"
    );
}
