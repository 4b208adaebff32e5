//! Reviewed plans: `apply --plan FILE` applies exactly what was reviewed, or refuses.

use crate::harness::*;

const FILE: &str = "safety: {max_unblock_ratio: 1}
blocked:
  - \"8613300000001\"
  - \"8613300000002\"
";

#[test]
fn a_reviewed_plan_is_applied_without_a_prompt() {
    let emu = Emulator::start(
        &state(&["8613300000007"], &["8613300000001", "8613300000002"]),
        &[],
    );
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, FILE);
    ws.run(&["plan", "t.yaml", "--out", "plan.json"]).code(0);
    // No path and no --yes: the plan names its files and is the approval.
    let run = ws.run(&["apply", "--plan", "plan.json", "--format", "json"]);
    run.code(0);
    let r = &run.json()["targets"][0];
    assert_eq!(
        r["blocked"],
        serde_json::json!(["8613300000001", "8613300000002"])
    );
    assert_eq!(r["unblocked"], serde_json::json!(["8613300000007"]));
    assert_eq!(r["skipped_already_done"], 0);
    assert_eq!(emu.blocked(), vec!["8613300000001", "8613300000002"]);

    // Applied again: everything is done already; skipped and counted.
    let again = ws.run(&["apply", "--plan", "plan.json", "--format", "json"]);
    again.code(0);
    assert_eq!(again.json()["targets"][0]["skipped_already_done"], 3);
}

#[test]
fn a_change_made_since_the_review_refuses_and_sends_nothing() {
    let emu = Emulator::start(
        &state(&["8613300000007"], &["8613300000001", "8613300000002"]),
        &[],
    );
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, FILE);
    ws.run(&["plan", "t.yaml", "--out", "plan.json"]).code(0);
    // After the review someone blocks 01 through another file, and the file
    // is edited to drop 01: the fresh plan would unblock it.
    let hand = ws.target(
        "hand.yaml",
        &emu,
        "mode: additive\nblocked: [\"8613300000001\"]\n",
    );
    ws.run(&["apply", hand.to_str().unwrap(), "--yes"]).code(0);
    let before = emu.requests();
    let writes = |e: &Emulator| {
        e.by_route("/api/wa/createBlockUsers") + e.by_route("/api/wa/deleteBlockUsers")
    };
    let writes_before = writes(&emu);

    ws.target(
        "t.yaml",
        &emu,
        "safety: {max_unblock_ratio: 1}\nblocked:\n  - \"8613300000002\"\n",
    );
    let run = ws.run(&["apply", "--plan", "plan.json", "--format", "json"]);
    run.code(3);
    let refused = run.json()["targets"][0]["refused"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        refused.contains("the files changed since the plan was made"),
        "{refused}"
    );
    assert!(
        refused.contains("unblock 8613300000001 was not in the reviewed plan"),
        "{refused}"
    );
    assert_eq!(
        writes(&emu),
        writes_before,
        "nothing sent for a refused target"
    );
    assert!(emu.requests() > before, "the live list was read to check");
}

#[test]
fn a_plan_from_another_version_is_refused_before_anything_is_read() {
    let emu = Emulator::start(&state(&[], &["8613300000001"]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, FILE);
    ws.run(&["plan", "t.yaml", "--out", "plan.json"]).code(0);
    let text = read(&ws.path("plan.json"));
    let version = env!("CARGO_PKG_VERSION");
    ws.write(
        "old.json",
        &text.replace(
            &format!("\"tool_version\": \"{version}\""),
            "\"tool_version\": \"0.0.1\"",
        ),
    );
    let before = emu.requests();
    let run = ws.run(&["apply", "--plan", "old.json"]);
    run.code(3);
    assert!(run.stderr.contains("blocklist 0.0.1"), "{}", run.stderr);
    assert_eq!(emu.requests(), before);
}

/// The report: `plan bl/ --out p.json` then `apply --plan p.json ./bl` (or
/// the absolute path) refused with "not in the reviewed plan". Targets are
/// matched by their resolved path, however it is spelled.
#[test]
fn a_reviewed_plan_applies_however_the_directory_is_spelled() {
    let ws = Workspace::new();
    let absolute = ws.path("bl").display().to_string();
    for (planned_as, applied_as) in [
        ("bl/", "./bl"),
        ("bl/", absolute.as_str()),
        ("./bl", "bl/"),
        (absolute.as_str(), "bl"),
        ("bl/../bl/t.yaml", "bl/t.yaml"),
    ] {
        let emu = Emulator::start(
            &state(&["8613300000007"], &["8613300000001", "8613300000002"]),
            &[],
        );
        ws.target("bl/t.yaml", &emu, FILE);
        ws.run(&["plan", planned_as, "--out", "p.json"]).code(0);
        let run = ws.run(&["apply", "--plan", "p.json", applied_as, "--format", "json"]);
        run.code(0);
        let r = &run.json()["targets"][0];
        assert!(
            r["refused"].is_null(),
            "{planned_as} then {applied_as}: {}",
            run.all()
        );
        assert_eq!(emu.blocked(), vec!["8613300000001", "8613300000002"]);
    }
}

/// A file the plan does not hold is refused, saying which paths were
/// compared, and nothing is sent for it.
#[test]
fn a_file_not_in_the_reviewed_plan_names_both_paths() {
    let emu = Emulator::start(
        &state(&["8613300000007"], &["8613300000001", "8613300000002"]),
        &[],
    );
    let ws = Workspace::new();
    ws.target("bl/t.yaml", &emu, FILE);
    ws.run(&["plan", "bl", "--out", "p.json"]).code(0);
    std::fs::rename(ws.path("bl"), ws.path("moved")).unwrap();
    let run = ws.run(&["apply", "--plan", "p.json", "moved"]);
    run.code(3);
    assert!(
        run.all().contains(&format!(
            "moved/t.yaml (resolved: moved/t.yaml) is not in the reviewed plan, which has business phone {PHONE} under bl/t.yaml (resolved: bl/t.yaml)"
        )),
        "{}",
        run.all()
    );
    let writes =
        emu.by_route("/api/wa/createBlockUsers") + emu.by_route("/api/wa/deleteBlockUsers");
    assert_eq!(writes, 0, "nothing is written");
    assert_eq!(emu.blocked(), vec!["8613300000007"]);
}
