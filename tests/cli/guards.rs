//! Safety guards: a bad merge must not re-open a business to spammers.

use crate::harness::*;

fn users(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("86133{i:08}")).collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn list(v: &[String]) -> String {
    v.iter().map(|u| format!("  - \"{u}\"\n")).collect()
}

/// Plan shows the refusal (exit 3) and apply refuses with nothing sent.
fn refused(live: &[String], body: &str, flags: &[&str]) -> serde_json::Value {
    let emu = Emulator::start(&state(&refs(live), &refs(live)), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, body);
    let mut args = vec!["plan", "t.yaml", "--format", "json"];
    args.extend(flags);
    let plan = ws.run(&args);
    plan.code(3);
    let refusal = plan.json()["targets"][0]["refused"].clone();
    let mut args = vec!["apply", "t.yaml", "--yes", "--format", "json"];
    args.extend(flags);
    let apply = ws.run(&args);
    apply.code(3);
    assert!(
        apply.json()["targets"][0]["refused"].is_string(),
        "{}",
        apply.stdout
    );
    assert_eq!(
        emu.by_route("/api/wa/deleteBlockUsers") + emu.by_route("/api/wa/createBlockUsers"),
        0
    );
    assert_eq!(emu.blocked(), {
        let mut l = live.to_vec();
        l.sort();
        l
    });
    refusal
}

#[test]
fn max_unblocks_default_and_flag() {
    let live = users(0..500);
    // 101 of 500 go (ratio 0.2, under its default): max_unblocks trips.
    let body = format!("blocked:\n{}", list(&live[101..]));
    let r = refused(&live, &body, &[]);
    assert_eq!(
        r,
        serde_json::json!({"rule": "max_unblocks", "limit": 100, "actual": 101})
    );
    let r = refused(
        &live,
        &format!("safety: {{max_unblocks: 500}}\n{body}"),
        &["--max-unblocks", "10"],
    );
    assert_eq!(r["limit"], 10, "the flag beats the file");
}

#[test]
fn max_unblock_ratio_on_a_small_list() {
    let live = users(0..4);
    let body = format!("blocked:\n{}", list(&live[2..]));
    let r = refused(&live, &body, &[]);
    assert_eq!(
        r,
        serde_json::json!({"rule": "max_unblock_ratio", "limit": 0.25, "actual": 0.5})
    );
}

#[test]
fn an_emptied_file_is_refused() {
    let live = users(0..3);
    let r = refused(&live, "blocked: []\n", &[]);
    assert_eq!(r["rule"], "empty_desired_set");
}

#[test]
fn capacity_counts_the_list_after_apply() {
    // A desired set above capacity is a validation error of its own; the
    // guard is for what the file cannot see: in additive mode, users blocked
    // outside it stay, so two more blocks overflow a list of 63 999.
    let live = users(0..63_999);
    let mut body = String::from("mode: additive\nblocked:\n");
    body.push_str(&list(&users(63_998..64_001)));
    let r = refused(&live, &body, &[]);
    assert_eq!(
        r,
        serde_json::json!({"rule": "capacity", "limit": 64000, "actual": 64001})
    );
}

#[test]
fn force_overrides_for_one_run_and_says_so() {
    let live = users(0..4);
    let emu = Emulator::start(&state(&refs(&live), &refs(&live)), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, "blocked: []\n");
    let run = ws.run(&["apply", "t.yaml", "--yes", "--force", "-q"]);
    run.code(0);
    assert!(
        run.stderr.contains("--force"),
        "loud even with -q: {}",
        run.stderr
    );
    assert!(emu.blocked().is_empty());
}

#[test]
fn allowed_by_the_file() {
    let live = users(0..4);
    let emu = Emulator::start(&state(&refs(&live), &refs(&live)), &[]);
    let ws = Workspace::new();
    ws.target(
        "t.yaml",
        &emu,
        "safety: {allow_empty: true, max_unblock_ratio: 1}\nblocked: []\n",
    );
    ws.run(&["apply", "t.yaml", "--yes"]).code(0);
    assert!(emu.blocked().is_empty());
}
