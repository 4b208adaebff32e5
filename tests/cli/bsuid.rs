//! Users as WhatsApp knows them since 2026, end to end: a live list that
//! mixes phone-only, BSUID-only and two-id users; files naming users either
//! way; the reply variants real servers send; and WAHA's per-contact 500.

use serde_json::{Value, json};

use crate::harness::*;

const PHONE_ID: &str = "106540352242922";

/// A (phone 1, CN.A1) listed with both ids; B (phone 2, CN.B2) hides its
/// phone; C is known only as US.C3; D (phone 4) predates BSUIDs; E (phone
/// 5, CN.E5) is blocked but in no file; F (phone 6, CN.F6) is not blocked.
fn people() -> Value {
    json!([
        {"phone": "8613300000001", "user_id": "CN.A1"},
        {"phone": "8613300000002", "user_id": "CN.B2", "phone_hidden": true},
        {"user_id": "US.C3"},
        {"phone": "8613300000005", "user_id": "CN.E5"},
        {"phone": "8613300000006", "user_id": "CN.F6"}
    ])
}

fn mixed_state(appkey: bool) -> Value {
    let mut phone = json!({
        "users": people(),
        "blocked": ["CN.A1", "CN.B2", "8613300000004", "CN.E5"],
        "recent_contacts": ["8613300000001", "CN.B2", "US.C3", "8613300000004", "8613300000006"],
    });
    if appkey {
        phone["appkey"] = json!(APPKEY);
    } else {
        phone["phone_number_id"] = json!(PHONE_ID);
    }
    json!({ "phones": { PHONE: phone } })
}

const ENTRIES: &str = "safety: {max_unblock_ratio: 1}\nblocked:\n  - \"+86 133 0000 0001\"\n  - CN.B2\n  - user_id: US.C3\n    reason: phishing, phone hidden\n  - \"8613300000004\"\n  - user: \"8613300000006\"\n    user_id: CN.F6\n";

fn cloud_file(ws: &Workspace, emu: &Emulator, body: &str) {
    ws.write(
        "shop.yaml",
        &format!(
            "business_phone: \"+{PHONE}\"\nprovider: {{kind: cloud-api, phone_number_id: \"{PHONE_ID}\", base_url: \"{}\"}}\n{body}",
            emu.base_url()
        ),
    );
}

/// Plan, apply, drift and import against a live list mixing every kind of
/// user, for both Meta-shaped providers.
#[test]
fn a_mixed_live_list_plans_applies_and_converges() {
    for nxcloud in [false, true] {
        let emu = Emulator::start(&mixed_state(nxcloud), &["--max-page-size", "2"]);
        let ws = Workspace::new();
        if nxcloud {
            ws.target("shop.yaml", &emu, ENTRIES);
        } else {
            cloud_file(&ws, &emu, ENTRIES);
        }
        let plan = ws.run(&["plan", "shop.yaml", "--format", "json"]);
        plan.code(0);
        let target = &plan.json()["targets"][0];
        assert_eq!(
            target["block"],
            json!(["8613300000006", "US.C3"]),
            "{}",
            plan.all()
        );
        assert_eq!(
            target["unblock"],
            json!([{"user": "8613300000005", "user_id": "CN.E5", "reason": "not_in_file"}])
        );
        assert_eq!(
            (target["unchanged"].as_u64(), target["live_count"].as_u64()),
            (Some(3), Some(4))
        );
        // One line per desired user: the phone when the entry has one, else the BSUID.
        let lines = "8613300000001\n8613300000004\n8613300000006\nCN.B2\nUS.C3";
        assert_eq!(target["desired_fingerprint"], json!(md5_hex(lines)));

        let text = ws.run(&["plan", "shop.yaml"]);
        assert!(
            text.all().contains("+ 8613300000006 (CN.F6)"),
            "{}",
            text.all()
        );
        assert!(
            text.all().contains("+ US.C3  (phishing, phone hidden)"),
            "{}",
            text.all()
        );
        assert!(
            text.all().contains("- 8613300000005 (CN.E5)"),
            "{}",
            text.all()
        );

        let apply = ws.run(&["apply", "shop.yaml", "--yes", "--format", "json"]);
        apply.code(0);
        let report = &apply.json()["targets"][0];
        assert_eq!(report["blocked"], json!(["8613300000006", "US.C3"]));
        assert_eq!(report["unblocked"], json!(["8613300000005"]));
        // The platform now holds each person once, under the BSUID where it knows one.
        assert_eq!(
            emu.blocked(),
            ["8613300000004", "CN.A1", "CN.B2", "CN.F6", "US.C3"]
        );

        ws.run(&["plan", "shop.yaml", "--detailed-exitcode"])
            .code(0);
        let drift = ws.run(&["drift", "shop.yaml", "--format", "json"]);
        drift.code(0);
        assert_eq!(drift.json()["targets"][0]["in_sync"], json!(5));

        // Import writes each user with the ids the platform gave, and the
        // file it writes plans no changes.
        let import = ws.run(&["import", "shop.yaml", "--write"]);
        import.code(0);
        let file = read(&ws.path("shop.yaml"));
        for line in [
            "  - user: \"+86 133 0000 0001\"\n    user_id: \"CN.A1\"\n",
            "  - user_id: \"CN.B2\"\n",
            "  - \"8613300000004\"\n",
            "  - user_id: \"US.C3\"\n    reason: phishing, phone hidden\n",
            "  - user: \"8613300000006\"\n    user_id: \"CN.F6\"\n",
        ] {
            assert!(file.contains(line), "{line:?} missing from:\n{file}");
        }
        let again = ws.run(&["plan", "shop.yaml", "--detailed-exitcode"]);
        again.code(0);
        let validate = ws.run(&["validate", "shop.yaml"]);
        validate.code(0);
        assert!(
            validate.all().contains("0 warning(s)"),
            "{}",
            validate.all()
        );
    }
}

/// A reviewed plan naming users by BSUID applies exactly what was reviewed.
#[test]
fn a_reviewed_plan_with_bsuids_applies() {
    let emu = Emulator::start(&mixed_state(false), &[]);
    let ws = Workspace::new();
    cloud_file(&ws, &emu, ENTRIES);
    ws.run(&["plan", "shop.yaml", "--out", "plan.json"]).code(0);
    let apply = ws.run(&[
        "apply",
        "--plan",
        "plan.json",
        "shop.yaml",
        "--format",
        "json",
    ]);
    apply.code(0);
    assert_eq!(
        apply.json()["targets"][0]["blocked"],
        json!(["8613300000006", "US.C3"])
    );
    // Applying it again: everything is done already, and said.
    let again = ws.run(&[
        "apply",
        "--plan",
        "plan.json",
        "shop.yaml",
        "--format",
        "json",
    ]);
    again.code(0);
    assert_eq!(
        again.json()["targets"][0]["skipped_already_done"],
        json!(3),
        "{}",
        again.all()
    );
}

fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn every_bad_bsuid_is_exit_1_at_its_place_and_nothing_is_sent() {
    let emu = Emulator::start(&mixed_state(false), &[]);
    let ws = Workspace::new();
    cloud_file(
        &ws,
        &emu,
        "blocked:\n  - US.ENT.11815799212886844830\n  - user_id: us.13\n  - user: US.14\n  - \"CN.\"\nunblock:\n  - user_id: \"CN.\u{202e}7\"\n",
    );
    for command in ["validate", "plan", "apply"] {
        let run =
            ws.run(&[command, "shop.yaml", "--yes"][..if command == "apply" { 3 } else { 2 }]);
        run.code(1);
        let all = run.all();
        for expected in [
            "shop.yaml:4:5: \"US.ENT.11815799212886844830\" is a parent BSUID",
            "shop.yaml:5:14: \"us.13\" is not a BSUID",
            "shop.yaml:6:11: \"US.14\" is a BSUID, not a phone number; write it as user_id: \"US.14\"",
            "shop.yaml:7:5: \"CN.\" is not a BSUID",
            "shop.yaml:9:14: \"CN.\\u{202e}7\" is not a BSUID",
        ] {
            assert!(
                all.contains(expected),
                "{command}: {expected:?} not in:\n{all}"
            );
        }
    }
    assert_eq!(emu.requests(), 0, "nothing may reach the provider");
}

#[test]
fn bsuid_only_entries_are_refused_for_waha_targets() {
    let ws = Workspace::new();
    ws.write(
        "bot.yaml",
        &format!("business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"http://127.0.0.1:9\"}}\nblocked:\n  - \"8613300000001\"\n  - user: \"8613300000002\"\n    user_id: CN.B2\n  - CN.C3\n"),
    );
    let run = ws.run(&["validate", "bot.yaml"]);
    run.code(1);
    assert!(
        run.all().contains("bot.yaml:7:5: \"CN.C3\" names a user by BSUID only, but WAHA blocks contacts by phone number"),
        "{}",
        run.all()
    );
    assert!(
        !run.all().contains(":6:"),
        "a user with a phone is fine: {}",
        run.all()
    );
}

/// Meta's guide prints per-user codes as strings, and some replies carry
/// none: each is that user's outcome, never a malformed reply.
#[test]
fn string_codes_and_missing_codes_are_per_user_outcomes() {
    let state = json!({"phones": {PHONE: {"phone_number_id": PHONE_ID, "blocked": [],
        "recent_contacts": ["8613300000001"]}}});
    for (style, code, reason) in [
        ("string", 131047, "not_messaged_24h"),
        ("missing", -1, "unknown"),
    ] {
        let emu = Emulator::start(&state, &["--failed-code-style", style]);
        let ws = Workspace::new();
        cloud_file(
            &ws,
            &emu,
            "blocked:\n  - \"8613300000001\"\n  - \"8613300000002\"\n",
        );
        let apply = ws.run(&["apply", "shop.yaml", "--yes", "--format", "json"]);
        apply.code(0);
        let target = &apply.json()["targets"][0];
        assert_eq!(target["blocked"], json!(["8613300000001"]), "{style}");
        let outcome = json!([{"user": "8613300000002", "code": code, "reason": reason,
            "message": "Re-engagement check failed: Failed to block due to re-engagement check failed"}]);
        let (deferred, failed) = if code == 131047 {
            (outcome, json!([]))
        } else {
            (json!([]), outcome)
        };
        assert_eq!(target["deferred"], deferred, "{style}: {}", apply.all());
        assert_eq!(target["failed"], failed, "{style}: {}", apply.all());
        // One block call: the reply was read, not retried as malformed.
        assert_eq!(
            emu.by_request(&format!("POST /v25.0/{PHONE_ID}/block_users")),
            1,
            "{style}"
        );
    }
}

#[test]
fn nxcloud_refusing_bsuids_says_so() {
    let emu = Emulator::start(&mixed_state(true), &["--nxcloud-refuses-user-id"]);
    let ws = Workspace::new();
    ws.target("shop.yaml", &emu, "mode: additive\nblocked:\n  - US.C3\n");
    let apply = ws.run(&["apply", "shop.yaml", "--yes"]);
    apply.code(1);
    assert!(
        apply.all().contains("NxCloud refused a call that named 1 user(s) by BSUID (user_id) alone; its block-users API documents phone numbers only and may not accept BSUIDs"),
        "{}",
        apply.all()
    );
}

/// WAHA's 500 concerns one contact: after retries it is that contact's
/// failure, and the others are blocked.
#[test]
fn a_waha_contact_stuck_at_500_fails_alone() {
    let state = json!({"phones": {}, "waha": {"default": {"blocked": [],
        "failing_contacts": ["8613300000002"]}}});
    let emu = Emulator::start(&state, &[]);
    let ws = Workspace::new();
    ws.write(
        "bot.yaml",
        &format!("business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"{}\"}}\nblocked:\n  - \"8613300000001\"\n  - \"8613300000002\"\n  - \"8613300000003\"\n", emu.base_url()),
    );
    let apply = ws.run(&[
        "apply",
        "bot.yaml",
        "--yes",
        "--format",
        "json",
        "--detailed-exitcode",
    ]);
    apply.code(2);
    let target = &apply.json()["targets"][0];
    assert_eq!(
        target["blocked"],
        json!(["8613300000001", "8613300000003"]),
        "{}",
        apply.all()
    );
    assert_eq!(target["failed"][0]["user"], json!("8613300000002"));
    assert_eq!(target["failed"][0]["code"], json!(500));
    // In the order the requests arrived, which concurrent lanes do not fix.
    let mut blocked: Vec<String> =
        serde_json::from_value(emu.state()["waha"]["default"]["blocked"].clone()).unwrap();
    blocked.sort();
    assert_eq!(blocked, ["8613300000001", "8613300000003"]);
}

#[test]
fn waha_sessions_that_are_unknown_or_stopped_say_which() {
    let state = json!({"phones": {}, "waha": {"default": {"blocked": [], "running": false}}});
    let emu = Emulator::start(&state, &[]);
    let ws = Workspace::new();
    for (extra, expected) in [
        ("", "WAHA session \"default\" is not running (HTTP 422"),
        (
            ", session: nosuch",
            "WAHA has no session named \"nosuch\" (HTTP 404",
        ),
    ] {
        ws.write(
            "bot.yaml",
            &format!("business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"{}\"{extra}}}\nblocked:\n  - \"8613300000001\"\n", emu.base_url()),
        );
        let apply = ws.run(&["apply", "bot.yaml", "--yes"]);
        apply.code(1);
        assert!(
            apply.all().contains(expected),
            "{expected}: {}",
            apply.all()
        );
    }
}
