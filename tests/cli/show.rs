//! `blocklist show`: a saved plan or apply report, re-rendered offline.

use crate::harness::*;

fn workspace(emu: &Emulator) -> Workspace {
    let ws = Workspace::new();
    ws.target(
        "t.yaml",
        emu,
        // No reasons: they live in the files, which a saved plan does not hold.
        "mode: additive\nsafety: {max_unblock_ratio: 1}\nblocked:\n  - \"8613300000001\"\n  - \"8613300000002\"\nunblock:\n  - \"8613300000007\"\n",
    );
    ws
}

#[test]
fn a_saved_plan_shows_as_plan_printed_it() {
    let emu = Emulator::start(&state(&["8613300000007"], &["8613300000001"]), &[]);
    let ws = workspace(&emu);
    let mut printed = Vec::new();
    for format in ["text", "markdown"] {
        let run = ws.run(&["plan", "t.yaml", "--format", format, "--out", "plan.json"]);
        run.code(0);
        printed.push(run.stdout.clone());
    }
    let requests = emu.requests();
    drop(emu); // offline: nothing to talk to
    for (format, printed) in ["text", "markdown"].iter().zip(&printed) {
        let run = ws.command(&["show", "plan.json", "--format", format]).run();
        run.code(0);
        assert_eq!(&run.stdout, printed, "--format {format}");
    }
    assert!(requests > 0);
    let run = ws.command(&["show", "plan.json", "--format", "json"]).run();
    run.code(0);
    assert_eq!(run.stdout, read(&ws.path("plan.json")));
    // Text is the default; -q prints nothing but JSON.
    let run = ws.command(&["show", "plan.json"]).run();
    assert_eq!(run.stdout, printed[0]);
    let run = ws.command(&["show", "plan.json", "-q"]).run();
    run.code(0);
    assert_eq!(run.stdout, "");
}

#[test]
fn a_saved_report_shows_as_apply_printed_it() {
    let emu = Emulator::start(&state(&["8613300000007"], &["8613300000001"]), &[]);
    let ws = workspace(&emu);
    let run = ws.run(&[
        "apply",
        "t.yaml",
        "--yes",
        "--format",
        "markdown",
        "--report",
        "report.json",
    ]);
    run.code(0);
    let run_md = ws
        .command(&["show", "report.json", "--format", "markdown"])
        .run();
    run_md.code(0);
    assert!(
        run.stdout.ends_with(&run_md.stdout),
        "apply printed the plan, then the report:\n{}\n---\n{}",
        run.stdout,
        run_md.stdout
    );
    assert!(
        run_md.stdout.contains("## blocklist apply"),
        "{}",
        run_md.stdout
    );
    let text = ws.command(&["show", "report.json"]).run();
    text.code(0);
    assert!(
        text.stdout
            .contains("t.yaml  phone 8615800001795, nxcloud, additive"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("deferred 1:"), "{}", text.stdout);
    let json = ws
        .command(&["show", "report.json", "--format", "json"])
        .run();
    assert_eq!(json.stdout, read(&ws.path("report.json")));
}

#[test]
fn what_cannot_be_shown_is_said() {
    let ws = Workspace::new();
    ws.write("garbled.json", "{\"format_version\": 1, \"targ");
    ws.write(
        "newer.json",
        "{\"format_version\": 2, \"created_at\": \"x\"}",
    );
    ws.write("other.json", "{\"name\": \"x\"}");
    ws.write(
        "damaged.json",
        "{\"format_version\": 1, \"targets\": [{\"file\": 1}], \"summary\": {}}",
    );
    for (file, said) in [
        (
            "garbled.json",
            "error: garbled.json cannot be shown: it is not JSON",
        ),
        (
            "newer.json",
            "error: newer.json cannot be shown: it has format_version 2, newer than this blocklist reads (1): show it with a newer blocklist",
        ),
        (
            "other.json",
            "error: other.json cannot be shown: it has no format_version",
        ),
        (
            "damaged.json",
            "error: damaged.json cannot be shown: it looks like a saved apply report but is damaged",
        ),
        ("missing.json", "error: cannot read missing.json"),
    ] {
        let run = ws.command(&["show", file]).run();
        run.code(1);
        assert!(run.stderr.starts_with(said), "{file}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}
