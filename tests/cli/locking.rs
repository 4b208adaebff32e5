//! Two applies on one WAHA ledger: one at a time, and no entry is lost.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::*;

fn users(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("86133{i:08}")).collect()
}

/// A WAHA target on `emu` keeping its ledger at `ledger`, blocking `users`
/// and nothing else (additive, so neither run unblocks the other's users).
fn waha_target(ws: &Workspace, emu: &Emulator, ledger: &std::path::Path, users: &[String]) {
    let list: String = users.iter().map(|u| format!("  - \"{u}\"\n")).collect();
    ws.write(
        "t.yaml",
        &format!(
            "business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"{}\", session: default, ledger: \"{}\"}}\nmode: additive\nblocked:\n{list}",
            emu.base_url(),
            ledger.display()
        ),
    );
}

/// Everything the ledger may count as blocked: confirmed and pending.
fn in_ledger(ledger: &std::path::Path) -> BTreeSet<String> {
    let doc: serde_json::Value = serde_json::from_str(&read(ledger)).unwrap();
    ["blocked", "pending_block", "pending_unblock"]
        .iter()
        .flat_map(|k| doc[k].as_array().cloned().unwrap_or_default())
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Run A blocks 400 users; run B, with 20 others and the same ledger, starts
/// once A is sending. Without a lock each run rewrote the ledger from its
/// own copy and the last writer dropped the other's entries.
#[test]
fn two_applies_on_one_ledger_lose_no_entry() {
    let emu = Emulator::start(
        &serde_json::json!({"phones": {}, "waha": {"default": {"blocked": []}}}),
        &["--latency-ms", "10"],
    );
    let shared = Workspace::new();
    let ledger = shared.path("bot.ledger.json");
    let (a, b) = (Workspace::new(), Workspace::new());
    waha_target(&a, &emu, &ledger, &users(0..400));
    waha_target(&b, &emu, &ledger, &users(400..420));

    // One target, so one state: the lock lives there.
    let state = shared.path("state");
    let state_flag = state.to_str().unwrap();
    let first = a.spawn(&["apply", "t.yaml", "--yes", "--state", state_flag]);
    eventually("run A's first block", || {
        emu.by_route("/api/contacts/block") > 0
    });
    let second = b.run(&["apply", "t.yaml", "--yes", "--state", state_flag]);
    let first_pid = first.pid();
    let first = first.wait(Duration::from_secs(120));
    first.code(0);

    let blocked: BTreeSet<String> = emu.state()["waha"]["default"]["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let recorded = in_ledger(&ledger);
    let lost: Vec<&String> = blocked.difference(&recorded).collect();
    assert!(
        lost.is_empty(),
        "blocked on WAHA, missing from the ledger: {lost:?}"
    );
    match second.code {
        // A was still applying: B was refused before it read the ledger,
        // and said who holds the lock.
        1 => {
            let lock = state.join(format!("waha-{PHONE}/lock.json"));
            let lock = lock.display();
            let holder = format!("{lock} is held by pid {} on ", first_pid);
            assert!(second.all().contains(&holder), "{}", second.all());
            assert_eq!(blocked, users(0..400).into_iter().collect());
        }
        // A had already finished (a very slow machine): B went after it.
        0 => assert_eq!(blocked, users(0..420).into_iter().collect()),
        _ => panic!("run B: {second:?}"),
    }
    assert!(
        !state.join(format!("waha-{PHONE}/lock.json")).exists(),
        "the lock is released"
    );
}

/// A lock left by another apply refuses the target with exit 1, naming the
/// holder and how to remove it, and is never removed by the refused run;
/// `blocklist unlock` removes it, saying whose it was.
#[test]
fn a_lock_left_behind_refuses_naming_its_holder_and_unlock_removes_it() {
    let emu = Emulator::start(
        &serde_json::json!({"phones": {}, "waha": {"default": {"blocked": []}}}),
        &[],
    );
    let ws = Workspace::new();
    let ledger = ws.path("t.ledger.json");
    waha_target(&ws, &emu, &ledger, &users(0..2));
    let lock = ws.write(
        &format!(".blocklist/waha-{PHONE}/lock.json"),
        r#"{"format_version":1,"pid":4999999,"host":"ci-runner-7","since":"2026-11-26T10:00:00Z","tool_version":"0.1.0","github_run_id":"8812"}"#,
    );
    let run = ws.run(&["apply", "t.yaml", "--yes"]);
    run.code(1);
    let lock_shown = lock.canonicalize().unwrap();
    assert!(
        run.all().contains(&format!(
            "{} is held by pid 4999999 on ci-runner-7 (GitHub Actions run 8812) since 2026-11-26T10:00:00Z",
            lock_shown.display()
        )),
        "{}",
        run.all()
    );
    assert!(
        run.all()
            .contains("If no apply is running on it, run `blocklist unlock` on its file."),
        "{}",
        run.all()
    );
    assert_eq!(emu.by_route("/api/contacts/block"), 0, "nothing was sent");
    assert!(lock.exists(), "someone else's lock is never removed");
    let unlock = ws.run(&["unlock", "t.yaml"]);
    unlock.code(0);
    assert!(
        unlock.all().contains(
            "held by pid 4999999 on ci-runner-7 (GitHub Actions run 8812) since 2026-11-26T10:00:00Z"
        ),
        "{}",
        unlock.all()
    );
    assert!(!lock.exists());
    ws.run(&["unlock", "t.yaml"]).code(0);
    ws.run(&["apply", "t.yaml", "--yes"]).code(0);
}

/// A run killed inside a ledger write leaves its temporary file beside the
/// ledger; the next apply, holding the lock, removes it, and only it.
#[test]
fn temporary_files_a_killed_write_left_are_removed_by_the_next_apply() {
    let emu = Emulator::start(
        &serde_json::json!({"phones": {}, "waha": {"default": {"blocked": []}}}),
        &[],
    );
    let ws = Workspace::new();
    let ledger = ws.path("t.ledger.json");
    waha_target(&ws, &emu, &ledger, &users(0..2));
    let ours = ws.write(
        ".t.ledger.json.tmp-Xk3b9Q",
        "{\"format_version\": 2, \"busin",
    );
    let theirs = ws.write(".tmpA1b2C3", "someone else's");
    ws.run(&["apply", "t.yaml", "--yes"]).code(0);
    assert!(!ours.exists(), "our leftover is removed");
    assert!(theirs.exists(), "a file that is not ours stays");
    assert_eq!(in_ledger(&ledger), users(0..2).into_iter().collect());
}
