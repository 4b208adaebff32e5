//! SIGINT and SIGTERM mid-apply: in-flight requests finish, the record is
//! written, and it matches what the platform holds.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::*;

const BLOCK: &str = "/api/contacts/block";

fn users(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("86133{i:08}")).collect()
}

/// An emulator whose WAHA answers each call after `latency_ms`, and a
/// workspace whose `t.yaml` blocks 40 users through it.
fn slow_waha(latency_ms: &str) -> (Emulator, Workspace) {
    let emu = Emulator::start(
        &serde_json::json!({"phones": {}, "waha": {"default": {"blocked": []}}}),
        &["--latency-ms", latency_ms],
    );
    let ws = Workspace::new();
    let list: String = users(0..40)
        .iter()
        .map(|u| format!("  - \"{u}\"\n"))
        .collect();
    ws.write(
        "t.yaml",
        &format!(
            "business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"{}\", session: default}}\nblocked:\n{list}",
            emu.base_url()
        ),
    );
    (emu, ws)
}

fn strings(list: &serde_json::Value) -> BTreeSet<String> {
    list.as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Start an apply, wait until it is truly under way (the emulator has
/// seen blocks), send `signal`, and check the record it leaves.
fn interrupted_mid_apply(signal: i32, name: &str, code: i32) {
    // 40 contacts, 4 at a time, 1 s each: ten seconds of work, so the
    // signal lands mid-apply however slow the machine.
    let (emu, ws) = slow_waha("1000");
    let summary = ws.path("summary.md");
    let summary_path = summary.display().to_string();
    let apply = ws.spawn_with(
        &[
            "apply", "t.yaml", "--yes", "--report", "r.json", "--format", "json",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary_path.as_str()),
        ],
    );
    eventually("blocks to reach WAHA", || emu.by_route(BLOCK) >= 4);
    apply.signal(signal);
    let run = apply.wait(Duration::from_secs(60));
    run.code(code);
    assert!(
        run.stderr
            .contains(&format!("{name}: stopping. No new requests are sent")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("Interrupted by {name}")),
        "{}",
        run.stderr
    );

    // Requests in flight were let finish, so the report and the platform
    // agree exactly: nothing blocked goes unreported, nothing reported is
    // not blocked.
    let held = strings(&emu.state()["waha"]["default"]["blocked"]);
    let report: serde_json::Value = serde_json::from_str(&read(&ws.path("r.json"))).unwrap();
    let target = &report["targets"][0];
    assert_eq!(strings(&target["blocked"]), held, "{report}");
    assert!(
        !held.is_empty() && held.len() < 40,
        "stopped part-way: {held:?}"
    );
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("the run was interrupted by {name}")),
        "{report}"
    );
    // stdout carries the same report; the job summary has it too.
    assert_eq!(run.json(), report);
    let summary = read(&summary);
    assert!(summary.contains(&format!("{}", held.len())), "{summary}");
    // No request was sent after the signal beyond those already in flight.
    assert_eq!(emu.by_route(BLOCK) as usize, held.len());
    // The ledger agrees, and the lock is gone.
    let ledger: serde_json::Value = serde_json::from_str(&read(
        &ws.path(&format!(".blocklist/waha-{PHONE}/ledger.json")),
    ))
    .unwrap();
    assert_eq!(strings(&ledger["blocked"]), held);
    assert!(
        !ws.path(&format!(".blocklist/waha-{PHONE}/lock.json"))
            .exists()
    );
}

#[test]
fn sigint_mid_apply_reports_what_was_done_and_exits_130() {
    interrupted_mid_apply(libc::SIGINT, "SIGINT", 130);
}

#[test]
fn sigterm_mid_apply_reports_what_was_done_and_exits_143() {
    interrupted_mid_apply(libc::SIGTERM, "SIGTERM", 143);
}

/// A second signal does not wait for requests in flight (here 20 s each).
#[test]
fn a_second_signal_ends_at_once_and_releases_the_lock() {
    let (emu, ws) = slow_waha("20000");
    let apply = ws.spawn(&["apply", "t.yaml", "--yes", "--report", "r.json"]);
    eventually("blocks to reach WAHA", || emu.by_route(BLOCK) >= 4);
    apply.signal(libc::SIGINT);
    eventually("the first signal to be taken", || {
        apply.stderr().contains("SIGINT: stopping.")
    });
    apply.signal(libc::SIGINT);
    let run = apply.wait(Duration::from_secs(60));
    run.code(130);
    assert!(
        run.stderr.contains("SIGINT again: stopping at once"),
        "{}",
        run.stderr
    );
    assert!(
        !ws.path("r.json").exists(),
        "no report after a second signal"
    );
    assert!(
        !ws.path(&format!(".blocklist/waha-{PHONE}/lock.json"))
            .exists(),
        "the lock is released"
    );
    // The contacts in flight stay pending in the ledger: maybe blocked.
    let ledger: serde_json::Value = serde_json::from_str(&read(
        &ws.path(&format!(".blocklist/waha-{PHONE}/ledger.json")),
    ))
    .unwrap();
    assert_eq!(strings(&ledger["pending_block"]).len(), 4, "{ledger}");
}
