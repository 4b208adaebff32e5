//! The client against an unreliable platform: retries converge, paging loses nothing.

use crate::harness::*;

fn users(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("86133{i:08}")).collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn blocked_list(v: &[String]) -> String {
    let body: String = v.iter().map(|u| format!("  - \"{u}\"\n")).collect();
    format!("blocked:\n{body}")
}

/// Apply under `flags`, then check the live list equals the file and a
/// re-plan is clean. Returns the apply report.
fn converges(flags: &[&str]) -> serde_json::Value {
    converges_on(flags).0
}

/// [`converges`], also handing back the emulator to inspect.
fn converges_on(flags: &[&str]) -> (serde_json::Value, Emulator) {
    let live = users(0..20);
    let wanted = users(10..40);
    let emu = Emulator::start(&state(&refs(&live), &refs(&wanted)), flags);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, &blocked_list(&wanted));
    // Half the live list goes: past the default ratio guard, so say so.
    let run = ws.run(&[
        "apply",
        "t.yaml",
        "--yes",
        "--chunk-size",
        "5",
        "--format",
        "json",
        "--max-unblock-ratio",
        "0.5",
    ]);
    run.code(0);
    assert_eq!(emu.blocked(), wanted);
    ws.run(&["plan", "t.yaml", "--detailed-exitcode"]).code(0);
    (run.json(), emu)
}

#[test]
fn a_burst_of_503s_is_retried_until_it_passes() {
    let report = converges(&["--fail-first", "3"]);
    assert!(
        report["targets"][0]["retries"].as_u64().unwrap() >= 3,
        "{report}"
    );
}

#[test]
fn random_503s_converge() {
    let report = converges(&["--fail-rate", "0.3", "--seed", "7"]);
    assert!(
        report["targets"][0]["retries"].as_u64().unwrap() >= 1,
        "{report}"
    );
}

/// The per-second limit alone only bites if the client is fast enough, so
/// the first two requests are also turned away whatever the pace; every
/// 429 carries `Retry-After: 1`, and the emulator's request log shows the
/// client waited at least that long before its next request (one target,
/// so its requests are sent one after another).
#[test]
fn rate_limiting_with_retry_after_converges() {
    let (report, emu) = converges_on(&["--rate-limit", "4", "--rate-limit-first", "2"]);
    assert!(
        report["targets"][0]["retries"].as_u64().unwrap() >= 2,
        "{report}"
    );
    let log = emu.request_log();
    let limited: Vec<usize> = (0..log.len()).filter(|&i| log[i].2 == 429).collect();
    assert!(limited.len() >= 2, "{log:?}");
    for i in limited {
        let Some(next) = log.get(i + 1) else {
            panic!("a 429 was the last request: {log:?}")
        };
        let waited = next.0 - log[i].0;
        assert!(
            waited >= 1_000_000,
            "{} µs between a 429 with Retry-After: 1 and the next request: {log:?}",
            waited
        );
    }
}

#[test]
fn malformed_replies_are_retried_and_writes_stay_idempotent() {
    let report = converges(&["--malformed-rate", "0.3", "--seed", "3"]);
    assert!(
        report["targets"][0]["retries"].as_u64().unwrap() >= 1,
        "{report}"
    );
}

/// Plan against `flags`; the plan must see every live user exactly once.
fn plan_sees_everything(flags: &[&str]) -> Emulator {
    let live = users(0..47);
    let emu = Emulator::start(&state(&refs(&live), &[]), flags);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, &blocked_list(&live));
    let run = ws.run(&["plan", "t.yaml", "--format", "json", "--detailed-exitcode"]);
    run.code(0);
    let t = &run.json()["targets"][0];
    assert_eq!(t["live_count"], 47);
    assert_eq!(t["unchanged"], 47);
    emu
}

#[test]
fn tiny_pages_lose_nothing() {
    let emu = plan_sees_everything(&["--max-page-size", "3"]);
    // 16 pages of 3 (the last one short), with `paging.next` on all but the last.
    assert_eq!(emu.by_route("/api/wa/getBlockUsers"), 16);
}

#[test]
fn cursor_only_paging_ends_on_the_empty_page() {
    let emu = plan_sees_everything(&["--max-page-size", "5", "--paging", "cursors-only"]);
    // 10 pages with users, then one empty page that ends the listing.
    assert_eq!(emu.by_route("/api/wa/getBlockUsers"), 11);
}

#[test]
fn a_list_changed_mid_listing_restarts_from_the_first_page() {
    let emu = plan_sees_everything(&["--max-page-size", "10", "--change-list-after-pages", "2"]);
    // 2 pages, the stale-cursor answer, then a full listing of 5 pages.
    assert_eq!(emu.by_route("/api/wa/getBlockUsers"), 2 + 1 + 5);
}
