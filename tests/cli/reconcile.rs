//! Plan, apply, re-plan: the core loop against the emulator.

use crate::harness::*;

/// Small lists: the ratio guard would refuse most unblocks here, and these
/// tests are about reconciling, so it is opened up (guards have their own tests).
const FILE: &str = "mode: exclusive
safety:
  max_unblock_ratio: 1
blocked:
  - \"8613300000001\"
  - user: \"+86 133 0000 0002\"
    reason: phishing links
  - \"8613300000003\"
";

#[test]
fn plan_apply_replan_leaves_only_deferred_users() {
    // 01 and 02 messaged recently and can be blocked; 03 has not (131047);
    // 07 is live but not in the file and must be unblocked.
    let emu = Emulator::start(
        &state(&["8613300000007"], &["8613300000001", "8613300000002"]),
        &[],
    );
    let ws = Workspace::new();
    ws.target("support.yaml", &emu, FILE);

    let plan = ws.run(&["plan", "support.yaml", "--format", "json"]);
    plan.code(0);
    let doc = plan.json();
    let t = &doc["targets"][0];
    assert_eq!(
        t["block"],
        serde_json::json!(["8613300000001", "8613300000002", "8613300000003"])
    );
    assert_eq!(
        t["unblock"],
        serde_json::json!([{"user": "8613300000007", "reason": "not_in_file"}])
    );
    assert_eq!(doc["summary"]["block"], 3);
    ws.run(&["plan", "support.yaml", "--detailed-exitcode"])
        .code(2);
    assert_eq!(emu.blocked(), vec!["8613300000007"], "plan changes nothing");

    let apply = ws.run(&[
        "apply",
        "support.yaml",
        "--yes",
        "--format",
        "json",
        "--report",
        "report.json",
    ]);
    apply.code(0);
    let report = apply.json();
    let r = &report["targets"][0];
    assert_eq!(
        r["blocked"],
        serde_json::json!(["8613300000001", "8613300000002"])
    );
    assert_eq!(r["unblocked"], serde_json::json!(["8613300000007"]));
    assert_eq!(r["deferred"][0]["user"], "8613300000003");
    assert_eq!(r["deferred"][0]["code"], 131047);
    assert_eq!(r["deferred"][0]["reason"], "not_messaged_24h");
    assert_eq!(r["failed"], serde_json::json!([]));
    assert_eq!(report["summary"]["deferred"], 1);
    let saved: serde_json::Value = serde_json::from_str(&read(&ws.path("report.json"))).unwrap();
    assert_eq!(saved, report, "--report writes the same document");
    assert_eq!(emu.blocked(), vec!["8613300000001", "8613300000002"]);

    let replan = ws.run(&[
        "plan",
        "support.yaml",
        "--format",
        "json",
        "--detailed-exitcode",
    ]);
    // Only a block the state knows as deferred: no change of its own.
    replan.code(0);
    let t = &replan.json()["targets"][0];
    assert_eq!(
        t["block"],
        serde_json::json!(["8613300000003"]),
        "only the deferred user remains"
    );
    assert_eq!(t["deferred"][0]["user"], "8613300000003");
    assert_eq!(t["unblock"], serde_json::json!([]));
    assert_eq!(t["unchanged"], 2);

    // Deferred entries make apply exit 2 only with --detailed-exitcode.
    ws.run(&["apply", "support.yaml", "--yes"]).code(0);
    ws.run(&["apply", "support.yaml", "--yes", "--detailed-exitcode"])
        .code(2);
}

#[test]
fn apply_without_yes_and_without_a_terminal_refuses_and_changes_nothing() {
    let emu = Emulator::start(&state(&["8613300000007"], &["8613300000001"]), &[]);
    let ws = Workspace::new();
    ws.target("support.yaml", &emu, FILE);
    let run = ws.run(&["apply", "support.yaml"]);
    run.code(3);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert_eq!(emu.blocked(), vec!["8613300000007"]);
    assert_eq!(
        emu.by_route("/api/wa/createBlockUsers") + emu.by_route("/api/wa/deleteBlockUsers"),
        0
    );
}

#[test]
fn in_sync_plan_exits_zero_even_with_detailed_exitcode() {
    let emu = Emulator::start(&state(&["8613300000001"], &[]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, "blocked:\n  - \"8613300000001\"\n");
    let run = ws.run(&["plan", "t.yaml", "--detailed-exitcode"]);
    run.code(0);
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
}

#[test]
fn apply_chunks_requests_and_never_touches_users_outside_the_plan() {
    // 25 live users: 10 stay listed, 15 are not in the file. 30 listed users
    // are new, all recently in contact. Chunks of 7.
    let user = |i: u32| format!("86133{i:08}");
    let live: Vec<String> = (0..25).map(user).collect();
    let listed: Vec<String> = (15..55).map(user).collect();
    let live_refs: Vec<&str> = live.iter().map(String::as_str).collect();
    let listed_refs: Vec<&str> = listed.iter().map(String::as_str).collect();
    let emu = Emulator::start(&state(&live_refs, &listed_refs), &[]);
    let ws = Workspace::new();
    let body: String = listed.iter().map(|u| format!("  - \"{u}\"\n")).collect();
    ws.target(
        "t.yaml",
        &emu,
        &format!("safety: {{max_unblock_ratio: 1}}\nblocked:\n{body}"),
    );

    let run = ws.run(&[
        "apply",
        "t.yaml",
        "--yes",
        "--chunk-size",
        "7",
        "--format",
        "json",
    ]);
    run.code(0);
    let r = &run.json()["targets"][0];
    assert_eq!(r["blocked"].as_array().unwrap().len(), 30);
    assert_eq!(r["unblocked"].as_array().unwrap().len(), 15);
    // 15 unblocks in chunks of 7 = 3 calls, 30 blocks = 5 calls.
    assert_eq!(emu.by_route("/api/wa/deleteBlockUsers"), 3);
    assert_eq!(emu.by_route("/api/wa/createBlockUsers"), 5);
    assert_eq!(
        emu.blocked(),
        listed,
        "live list equals the file afterwards"
    );
}

#[test]
fn cannot_block_self_is_a_permanent_failure_with_its_code() {
    let emu = Emulator::start(&state(&[], &[PHONE]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, &format!("blocked:\n  - \"{PHONE}\"\n"));
    let run = ws.run(&[
        "apply",
        "t.yaml",
        "--yes",
        "--format",
        "json",
        "--detailed-exitcode",
    ]);
    run.code(2);
    let failed = &run.json()["targets"][0]["failed"][0];
    assert_eq!(failed["code"], 131021);
    assert_eq!(failed["reason"], "cannot_block_self");
}

#[test]
fn mexican_wa_id_does_not_plan_forever() {
    // The file holds the dialled form; the platform stores the wa_id form.
    let emu = Emulator::start(&state(&[], &["5215512345678"]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, "blocked:\n  - \"+52 55 1234 5678\"\n");
    ws.run(&["apply", "t.yaml", "--yes"]).code(0);
    assert_eq!(emu.blocked(), vec!["5215512345678"]);
    ws.run(&["plan", "t.yaml", "--detailed-exitcode"]).code(0);
}

#[test]
fn one_target_failing_does_not_stop_the_others() {
    let emu = Emulator::start(&state(&[], &["8613300000001"]), &[]);
    let ws = Workspace::new();
    ws.target("dir/a.yaml", &emu, "blocked:\n  - \"8613300000001\"\n");
    // Unknown business phone: the emulator answers 10003.
    ws.write(
        "dir/b.yaml",
        &format!(
            "business_phone: \"8615800009999\"\nprovider: {{kind: nxcloud, appkey: {APPKEY}, base_url: \"{}\"}}\n",
            emu.base_url()
        ),
    );
    let run = ws.run(&["apply", "dir", "--yes", "--format", "json"]);
    run.code(1);
    let doc = run.json();
    assert_eq!(
        doc["targets"][0]["blocked"],
        serde_json::json!(["8613300000001"])
    );
    assert!(
        doc["errors"][0]["file"]
            .as_str()
            .unwrap()
            .ends_with("b.yaml"),
        "{doc}"
    );
    assert!(
        doc["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("10003"),
        "{doc}"
    );
}

#[test]
fn plan_out_writes_the_json_plan() {
    let emu = Emulator::start(&state(&["8613300000007"], &[]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, FILE);
    ws.run(&["plan", "t.yaml", "--out", "plan.json"]).code(0);
    let saved: serde_json::Value = serde_json::from_str(&read(&ws.path("plan.json"))).unwrap();
    assert_eq!(saved["format_version"], 1);
    assert_eq!(saved["targets"][0]["business_phone"], PHONE);
    assert_eq!(saved["targets"][0]["live_count"], 1);
    assert_eq!(saved["targets"][0]["desired_count"], 3);
}

#[test]
fn diff_format_shows_live_against_desired() {
    let emu = Emulator::start(&state(&["8613300000007", "8613300000001"], &[]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, FILE);
    let run = ws.run(&["plan", "t.yaml", "--format", "diff"]);
    run.code(0);
    assert!(run.stdout.contains("--- live/"), "{}", run.stdout);
    assert!(run.stdout.contains("-8613300000007"), "{}", run.stdout);
    assert!(run.stdout.contains("+8613300000002"), "{}", run.stdout);
    assert!(run.stdout.contains(" 8613300000001"), "{}", run.stdout);
}

/// `apply --blocks-only` sends blocks and never unblocks, whatever the files
/// say: a scheduled retry job runs it without a reviewer.
#[test]
fn blocks_only_never_unblocks() {
    let emu = Emulator::start(&state(&["8613300000007"], &["8613300000001"]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, "blocked:\n  - \"8613300000001\"\n");
    let apply = ws.run(&[
        "apply",
        "t.yaml",
        "--yes",
        "--blocks-only",
        "--format",
        "json",
    ]);
    apply.code(0);
    let t = &apply.json()["targets"][0];
    assert_eq!(
        t["blocked"],
        serde_json::json!(["8613300000001"]),
        "{}",
        apply.all()
    );
    assert_eq!(t["unblocked"], serde_json::json!([]));
    assert_eq!(emu.blocked(), ["8613300000001", "8613300000007"]);
    // Without the flag the same file unblocks the user it does not list.
    ws.run(&["apply", "t.yaml", "--yes", "--max-unblock-ratio", "1"])
        .code(0);
    assert_eq!(emu.blocked(), ["8613300000001"]);
}

/// The default path is the current directory; its files are named
/// `support.yaml`, not `./support.yaml`, in what users read.
#[test]
fn files_of_the_current_directory_are_shown_without_dot_slash() {
    let emu = Emulator::start(&state(&[], &[]), &[]);
    let ws = Workspace::new();
    ws.target("support.yaml", &emu, FILE);
    for format in ["text", "json"] {
        let run = ws.run(&["plan", "--format", format]);
        run.code(0);
        assert!(run.stdout.contains("support.yaml"), "{}", run.stdout);
        assert!(!run.all().contains("./support.yaml"), "{}", run.all());
    }
}
