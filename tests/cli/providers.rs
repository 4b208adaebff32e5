//! The cloud-api and waha providers end to end: the real binary against the
//! real emulator's Cloud API and WAHA routes.

use serde_json::{Value, json};

use crate::harness::*;

const PHONE_ID: &str = "106540352242922";

fn cloud_state(blocked: &[&str], recent: &[&str]) -> Value {
    json!({"phones": {PHONE: {"phone_number_id": PHONE_ID, "blocked": blocked, "recent_contacts": recent}}})
}

fn waha_state(blocked: &[&str], engine_can_block: bool) -> Value {
    json!({"phones": {}, "waha": {"default": {"blocked": blocked, "engine_can_block": engine_can_block}}})
}

fn cloud_file(ws: &Workspace, emu: &Emulator, body: &str) {
    let base = emu.base_url();
    ws.write(
        "shop.yaml",
        &format!("business_phone: \"+{PHONE}\"\nprovider: {{kind: cloud-api, phone_number_id: \"{PHONE_ID}\", base_url: \"{base}\"}}\n{body}"),
    );
}

fn waha_file(ws: &Workspace, emu: &Emulator, provider_extra: &str, body: &str) {
    let base = emu.base_url();
    ws.write(
        "bot.yaml",
        &format!("business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"{base}\"{provider_extra}}}\n{body}"),
    );
}

#[test]
fn cloud_api_plans_applies_and_defers_the_24_hour_rule() {
    let emu = Emulator::start(
        &cloud_state(&["8613300000007"], &["8613300000001"]),
        &["--max-page-size", "1"],
    );
    let ws = Workspace::new();
    let blocked =
        "safety: {max_unblock_ratio: 1}\nblocked:\n  - \"8613300000001\"\n  - \"8613300000003\"\n";
    cloud_file(&ws, &emu, blocked);
    let plan = ws.run(&["plan", "shop.yaml", "--format", "json"]);
    plan.code(0);
    let target = &plan.json()["targets"][0];
    assert_eq!(target["provider"], "cloud-api");
    assert_eq!(target["block"], json!(["8613300000001", "8613300000003"]));
    assert_eq!(target["unblock"][0]["user"], "8613300000007");

    // 8613300000003 has not messaged: HTTP 400 + 139100, read as a partial result.
    let apply = ws.run(&["apply", "shop.yaml", "--yes", "--format", "json", "-vv"]);
    apply.code(0);
    assert!(
        apply.stderr.contains("Meta error 139100, fbtrace_id"),
        "{}",
        apply.stderr
    );
    let report = &apply.json()["targets"][0];
    assert_eq!(report["blocked"], json!(["8613300000001"]));
    assert_eq!(report["unblocked"], json!(["8613300000007"]));
    assert_eq!(report["deferred"][0]["code"], 131047);
    assert_eq!(emu.blocked(), ["8613300000001"]);
    // The deferral is remembered: no change of its own, shown apart.
    let replan = ws.run(&["plan", "shop.yaml", "--detailed-exitcode"]);
    replan.code(0);
    assert!(
        replan
            .stdout
            .contains("waiting for the user to write since"),
        "{}",
        replan.stdout
    );
    assert!(!apply.all().contains(WHATSAPP_TOKEN));
}

#[test]
fn cloud_api_restarts_a_listing_that_changed_under_it() {
    let live = ["8613300000001", "8613300000002", "8613300000003"];
    let flags = ["--max-page-size", "1", "--change-list-after-pages", "2"];
    let emu = Emulator::start(&cloud_state(&live, &[]), &flags);
    let ws = Workspace::new();
    cloud_file(&ws, &emu, "mode: additive\nblocked: []\n");
    let plan = ws.run(&["plan", "shop.yaml", "--format", "json"]);
    plan.code(0);
    assert_eq!(plan.json()["targets"][0]["live_count"], 3);
    // Pages 1 and 2, then 139102 on page 3, then all three pages again.
    assert_eq!(emu.by_route(&format!("/v25.0/{PHONE_ID}/block_users")), 6);
}

#[test]
fn cloud_api_lists_for_import() {
    let emu = Emulator::start(&cloud_state(&["8613300000007", "8613300000001"], &[]), &[]);
    let ws = Workspace::new();
    cloud_file(&ws, &emu, "");
    let import = ws.run(&["import", "shop.yaml"]);
    import.code(0);
    assert!(
        import
            .stdout
            .ends_with("blocked:\n  - \"8613300000001\"\n  - \"8613300000007\"\n"),
        "{}",
        import.stdout
    );
}

#[test]
fn cloud_api_slows_down_when_usage_is_high() {
    let emu = Emulator::start(
        &cloud_state(&["8613300000007"], &[]),
        &["--usage-percent", "80"],
    );
    let ws = Workspace::new();
    cloud_file(&ws, &emu, "blocked:\n  - \"8613300000007\"\n");
    let plan = ws.run(&["plan", "shop.yaml", "-vv"]);
    plan.code(0);
    assert!(
        plan.stderr
            .contains("slowing down: business use case usage 80%"),
        "{}",
        plan.stderr
    );
}

#[test]
fn cloud_api_resellers_take_their_url_header_and_list_shape() {
    let flags = [
        "--cloud-api-auth-header",
        "D360-API-KEY",
        "--cloud-api-reseller-phone-id",
        PHONE_ID,
        "--cloud-api-list-shape",
        "block-users",
    ];
    let emu = Emulator::start(&cloud_state(&["8613300000007"], &["8613300000001"]), &flags);
    let ws = Workspace::new();
    let base = emu.base_url();
    ws.write(
        "d360.yaml",
        &format!("business_phone: \"+{PHONE}\"\nprovider:\n  kind: cloud-api\n  endpoint: {base}/block_users\n  auth_header: D360-API-KEY\n  chunk_size: 100\nmode: additive\nblocked:\n  - \"8613300000001\"\n"),
    );
    let apply = ws.run(&["apply", "d360.yaml", "--yes"]);
    apply.code(0);
    assert_eq!(emu.blocked(), ["8613300000001", "8613300000007"]);
    ws.run(&["plan", "d360.yaml", "--detailed-exitcode"])
        .code(0);
}

#[test]
fn waha_applies_through_its_ledger() {
    let emu = Emulator::start(&waha_state(&[], true), &[]);
    let ws = Workspace::new();
    waha_file(
        &ws,
        &emu,
        "",
        "blocked:\n  - \"8613300000001\"\n  - \"8613300000002\"\n",
    );
    let plan = ws.run(&["plan", "bot.yaml"]);
    plan.code(0);
    assert!(
        plan.stdout
            .contains("blocks made outside blocklist are invisible to it"),
        "{}",
        plan.stdout
    );
    ws.run(&["apply", "bot.yaml", "--yes"]).code(0);
    let ledger: Value = serde_json::from_str(&read(
        &ws.path(&format!(".blocklist/waha-{PHONE}/ledger.json")),
    ))
    .unwrap();
    assert_eq!(ledger["blocked"], json!(["8613300000001", "8613300000002"]));
    assert_eq!(ledger["format_version"], 2);
    assert_eq!(ledger["pending_block"], json!([]));
    let state = emu.state();
    assert_eq!(
        state["waha"]["default"]["blocked"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    ws.run(&["plan", "bot.yaml", "--detailed-exitcode"]).code(0);

    // Dropping one from the file unblocks it, on WAHA and in the ledger.
    waha_file(
        &ws,
        &emu,
        "",
        "safety: {max_unblock_ratio: 1}\nblocked:\n  - \"8613300000002\"\n",
    );
    ws.run(&["apply", "bot.yaml", "--yes"]).code(0);
    let ledger: Value = serde_json::from_str(&read(
        &ws.path(&format!(".blocklist/waha-{PHONE}/ledger.json")),
    ))
    .unwrap();
    assert_eq!(ledger["blocked"], json!(["8613300000002"]));
    assert_eq!(
        emu.state()["waha"]["default"]["blocked"],
        json!(["8613300000002"])
    );
}

#[test]
fn waha_engines_and_sessions_that_cannot_block_stop_the_target() {
    let emu = Emulator::start(&waha_state(&[], false), &[]);
    let ws = Workspace::new();
    waha_file(&ws, &emu, "", "blocked:\n  - \"8613300000001\"\n");
    let apply = ws.run(&["apply", "bot.yaml", "--yes"]);
    apply.code(1);
    assert!(
        apply
            .all()
            .contains("this WAHA session's engine does not implement blocking contacts (HTTP 501"),
        "{}",
        apply.all()
    );
    // Nothing confirmed; the contact is kept as maybe blocked, so the next
    // plan sends it again rather than losing it.
    let ledger: Value = serde_json::from_str(&read(
        &ws.path(&format!(".blocklist/waha-{PHONE}/ledger.json")),
    ))
    .unwrap();
    assert_eq!(ledger["blocked"], json!([]));
    assert_eq!(ledger["pending_block"], json!(["8613300000001"]));

    waha_file(
        &ws,
        &emu,
        ", session: nosuch",
        "blocked:\n  - \"8613300000001\"\n",
    );
    let apply = ws.run(&["apply", "bot.yaml", "--yes"]);
    apply.code(1);
    assert!(
        apply.all().contains("WAHA has no session named \"nosuch\""),
        "{}",
        apply.all()
    );
    assert!(!apply.all().contains(WAHA_API_KEY));
}

/// A run that died between writing the ledger and WAHA's answer leaves
/// pending contacts. Each counts as maybe blocked: the next plan blocks a
/// wanted one again and unblocks an unwanted one, and apply settles both.
#[test]
fn waha_sends_unconfirmed_changes_again() {
    let emu = Emulator::start(&waha_state(&["8613300000002"], true), &[]);
    let ws = Workspace::new();
    waha_file(
        &ws,
        &emu,
        "",
        "safety: {max_unblock_ratio: 1}\nblocked:\n  - \"8613300000001\"\n  - \"8613300000003\"\n",
    );
    let ledger = json!({"format_version": 2, "business_phone": PHONE, "session": "default",
        "blocked": ["8613300000003"], "pending_block": ["8613300000001", "8613300000002"],
        "pending_unblock": []});
    ws.write("bot.ledger.json", &ledger.to_string());
    let plan = ws.run(&["plan", "bot.yaml", "--format", "json"]);
    plan.code(0);
    let t = &plan.json()["targets"][0];
    assert_eq!(t["block"], json!(["8613300000001"]), "{t}");
    assert_eq!(t["unblock"][0]["user"], "8613300000002", "{t}");
    assert_eq!(t["unchanged"], 1, "{t}");
    let text = ws.run(&["plan", "bot.yaml"]);
    assert!(
        text.stdout
            .contains("2 contact(s) have a change in the ledger that WAHA never confirmed"),
        "{}",
        text.stdout
    );

    // The old default ledger file is taken over by the state, and said so.
    let apply = ws.run(&["apply", "bot.yaml", "--yes"]);
    apply.code(0);
    assert!(
        apply
            .all()
            .contains("bot.ledger.json now lives in the state, at "),
        "{}",
        apply.all()
    );
    let ledger: Value = serde_json::from_str(&read(
        &ws.path(&format!(".blocklist/waha-{PHONE}/ledger.json")),
    ))
    .unwrap();
    assert_eq!(ledger["blocked"], json!(["8613300000001", "8613300000003"]));
    assert_eq!(ledger["pending_block"], json!([]));
    assert_eq!(
        emu.state()["waha"]["default"]["blocked"],
        json!(["8613300000001"])
    );
    ws.run(&["plan", "bot.yaml", "--detailed-exitcode"]).code(0);
}

/// A WAHA that blocks the first `good` contacts it is sent, then answers
/// every request as an engine without blocking would. Each request is read
/// whole and its connection closed, so nothing depends on keep-alive.
fn waha_that_stops_after(good: usize) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (served, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let reply = if served < good {
                "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            } else {
                let body = r#"{"statusCode":501,"message":"Not implemented"}"#;
                format!(
                    "HTTP/1.1 501 Not Implemented\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            };
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    base
}

#[test]
fn waha_stopping_part_way_reports_every_contact_it_blocked() {
    let base = waha_that_stops_after(5);
    let ws = Workspace::new();
    let wanted: String = (0..10).map(|i| format!("  - \"86133{i:08}\"\n")).collect();
    ws.write(
        "bot.yaml",
        &format!("business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"{base}\"}}\nblocked:\n{wanted}"),
    );
    let apply = ws.run(&["apply", "bot.yaml", "--yes", "--format", "json"]);
    apply.code(1);
    let report = apply.json();
    let blocked = report["targets"][0]["blocked"].as_array().unwrap().clone();
    assert_eq!(blocked.len(), 5, "{report}");
    let error = report["errors"][0]["message"].as_str().unwrap();
    assert!(
        error.starts_with("apply stopped part-way: 5 of 10 changes were answered"),
        "{error}"
    );
    assert!(
        error.contains("does not implement blocking contacts"),
        "{error}"
    );
    let ledger: Value = serde_json::from_str(&read(
        &ws.path(&format!(".blocklist/waha-{PHONE}/ledger.json")),
    ))
    .unwrap();
    let mut recorded = ledger["blocked"].as_array().unwrap().clone();
    let mut reported = blocked;
    recorded.sort_by_key(|v| v.to_string());
    reported.sort_by_key(|v| v.to_string());
    assert_eq!(recorded, reported, "the report and the ledger agree");
}
