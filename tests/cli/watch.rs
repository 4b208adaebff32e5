//! `blocklist watch` end to end: a real watch process and a real emulator
//! process on loopback. A user "writes" through the emulator's control
//! route, which delivers the provider's signed webhook to watch; watch
//! blocks them through the emulator's provider routes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::harness::{Emulator, PHONE, Spawned, Workspace, eventually};

const PHONE_ID: &str = "106540352242922";
const APP_SECRET: &str = "app-secret-5d1e-not-printed";
const WAHA_SECRET: &str = "waha-hook-secret-88aa-not-printed";
const VERIFY_TOKEN: &str = "verify-token-0c4b";
/// Words of the messages and names the emulator sends: they must never
/// reach watch's log.
const TEXT: &str = "PRIVATE-MESSAGE-TEXT-31337";
const NAME: &str = "Emulated Sender Name";

const SPAMMER: &str = "8613300000001";
const OTHER: &str = "8613300000002";
const STRANGER: &str = "8613300000099";

const SECRETS: [(&str, &str); 3] = [
    ("WHATSAPP_APP_SECRET", APP_SECRET),
    ("WAHA_WEBHOOK_SECRET", WAHA_SECRET),
    ("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN),
];

fn emulator() -> Emulator {
    let state = serde_json::json!({
        "phones": {PHONE: {"phone_number_id": PHONE_ID, "blocked": [], "recent_contacts": []}},
        "waha": {"default": {"blocked": []}},
    });
    Emulator::start_with_env(&state, &[], &SECRETS)
}

fn cloud_file(ws: &Workspace, emu: &Emulator, blocked: &[&str]) {
    let base = emu.base_url();
    let list: String = blocked.iter().map(|u| format!("  - \"{u}\"\n")).collect();
    ws.write(
        "shop.yaml",
        &format!(
            "business_phone: \"+{PHONE}\"\nprovider: {{kind: cloud-api, phone_number_id: \"{PHONE_ID}\", base_url: \"{base}\"}}\nmode: additive\nblocked:\n{list}"
        ),
    );
}

/// A running watch and the address it announced.
struct Watch {
    process: Spawned,
    addr: String,
}

impl Watch {
    fn start(ws: &Workspace) -> Watch {
        Watch::start_with(ws, &[])
    }

    fn start_with(ws: &Workspace, flags: &[&str]) -> Watch {
        let mut args = vec!["-vv", "watch", ".", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(flags);
        let process = ws.spawn_with(&args, &SECRETS);
        let mut addr = String::new();
        eventually("watch to announce its address", || {
            if let Some(line) = process.stdout().lines().find(|l| l.contains("http://")) {
                addr = line
                    .rsplit("http://")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                return true;
            }
            assert!(
                !process.stderr().contains("error:"),
                "watch failed: {}",
                process.stderr()
            );
            false
        });
        Watch { process, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// One metric's value from `/metrics`.
    fn metric(&self, name: &str) -> f64 {
        let (status, body) = request(&self.addr, "GET", "/metrics", &[], b"");
        assert_eq!(status, 200);
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in\n{body}"))
    }

    fn log(&self) -> String {
        self.process.stderr()
    }
}

/// A raw HTTP/1.1 request; the status and the body.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before reading a large body; a write error
    // then is expected.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"));
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

/// The user writes to the business: the emulator's control route delivers
/// the signed webhook to watch and says what watch answered.
fn write(emu: &Emulator, watch: &Watch, body: serde_json::Value) -> u16 {
    let mut body = body;
    body["text"] = serde_json::json!(TEXT);
    if body["provider"] == "cloud-api" {
        body["phone_number_id"] = serde_json::json!(PHONE_ID);
        body["deliver_to"] = serde_json::json!(watch.url("/webhooks/cloud-api"));
    } else {
        body["session"] = serde_json::json!("default");
        body["deliver_to"] = serde_json::json!(watch.url("/webhooks/waha"));
    }
    let (status, reply) = request(
        &emu.addr,
        "POST",
        "/_emulator/write",
        &[("Content-Type", "application/json")],
        &serde_json::to_vec(&body).unwrap(),
    );
    assert_eq!(status, 200, "control route: {reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    reply["status"].as_u64().unwrap() as u16
}

fn cloud_write(emu: &Emulator, watch: &Watch, user: &str) -> u16 {
    write(
        emu,
        watch,
        serde_json::json!({"provider": "cloud-api", "user": user}),
    )
}

/// Poll until `user` is blocked on the test phone, failing after `within`.
fn blocked_within(emu: &Emulator, user: &str, within: Duration) {
    let started = Instant::now();
    while !emu.blocked().iter().any(|u| u == user) {
        assert!(
            started.elapsed() < within,
            "{user} not blocked within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn block_requests(emu: &Emulator) -> u64 {
    emu.by_request(&format!("POST /v25.0/{PHONE_ID}/block_users"))
}

fn no_secret_or_text(log: &str) {
    for word in [TEXT, NAME, APP_SECRET, WAHA_SECRET, VERIFY_TOKEN] {
        assert!(!log.contains(word), "{word:?} in watch's log:\n{log}");
    }
}

#[test]
fn a_deferred_user_who_writes_is_blocked_within_a_second() {
    let emu = emulator();
    let ws = Workspace::new();
    cloud_file(&ws, &emu, &[SPAMMER]);
    // Apply first: the platform defers the user, who has not written.
    let apply = ws.run(&["apply", ".", "--yes", "--format", "json"]);
    assert!(apply.stdout.contains("131047"), "{}", apply.all());
    assert!(emu.blocked().is_empty());

    let watch = Watch::start(&ws);
    assert_eq!(cloud_write(&emu, &watch, SPAMMER), 200);
    blocked_within(&emu, SPAMMER, Duration::from_secs(1));
    eventually("the block to be counted", || {
        watch.metric("blocklist_watch_blocks_total") == 1.0
    });
    assert_eq!(
        watch.metric(r#"blocklist_watch_deliveries_total{provider="cloud-api"}"#),
        1.0
    );
    assert_eq!(watch.metric("blocklist_watch_failures_total"), 0.0);
    // -vv logs the block by ids only.
    let log = watch.log();
    assert!(log.contains(&format!("blocked {SPAMMER}")), "{log}");
    no_secret_or_text(&log);

    // The state knows: the deferral is cleared, and the journal says watch
    // blocked the user, which `why` shows a support agent.
    let before = ws.run(&["plan", ".", "--format", "json"]);
    assert!(
        before.json()["targets"][0].get("deferred").is_none(),
        "{}",
        before.all()
    );
    let why = ws.run(&["why", SPAMMER, ".", "--format", "json"]);
    why.code(0);
    let journal = why.json()["journal"].clone();
    let seen: Vec<(&str, &str)> = journal
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["by"].as_str().unwrap_or(""),
                        e["outcome"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        seen,
        [("apply", "deferred"), ("watch", "blocked")],
        "{journal}"
    );
}

#[test]
fn a_bad_signature_is_refused_and_blocks_nothing() {
    let emu = emulator();
    let ws = Workspace::new();
    cloud_file(&ws, &emu, &[SPAMMER, OTHER]);
    let watch = Watch::start(&ws);
    let forged = serde_json::json!({"provider": "cloud-api", "user": SPAMMER, "secret": "guessed"});
    assert_eq!(write(&emu, &watch, forged), 401);
    let forged = serde_json::json!({"provider": "waha", "user": SPAMMER, "secret": "guessed"});
    assert_eq!(write(&emu, &watch, forged), 401);
    // Unsigned.
    let (status, _) = request(&watch.addr, "POST", "/webhooks/cloud-api", &[], b"{}");
    assert_eq!(status, 401);
    assert_eq!(watch.metric("blocklist_watch_bad_signatures_total"), 3.0);
    // A good delivery after them is acted on; the forged ones never were.
    assert_eq!(cloud_write(&emu, &watch, OTHER), 200);
    blocked_within(&emu, OTHER, Duration::from_secs(5));
    assert_eq!(emu.blocked(), [OTHER]);
    assert_eq!(block_requests(&emu), 1);
}

#[test]
fn the_same_delivery_twice_blocks_once() {
    let emu = emulator();
    let ws = Workspace::new();
    cloud_file(&ws, &emu, &[SPAMMER]);
    let watch = Watch::start(&ws);
    let again =
        serde_json::json!({"provider": "cloud-api", "user": SPAMMER, "message_id": "wamid.SAME"});
    assert_eq!(write(&emu, &watch, again.clone()), 200);
    assert_eq!(write(&emu, &watch, again), 200);
    blocked_within(&emu, SPAMMER, Duration::from_secs(5));
    eventually("the block to be counted", || {
        watch.metric("blocklist_watch_blocks_total") == 1.0
    });
    assert_eq!(watch.metric("blocklist_watch_duplicates_total"), 1.0);
    assert_eq!(block_requests(&emu), 1);
}

#[test]
fn a_user_the_files_do_not_list_is_ignored() {
    let emu = emulator();
    let ws = Workspace::new();
    cloud_file(&ws, &emu, &[SPAMMER]);
    let watch = Watch::start(&ws);
    assert_eq!(cloud_write(&emu, &watch, STRANGER), 200);
    // Counted before the reply: nothing was queued for them.
    assert_eq!(watch.metric("blocklist_watch_ignored_total"), 1.0);
    assert_eq!(watch.metric("blocklist_watch_queue_depth"), 0.0);
    assert_eq!(block_requests(&emu), 0);
    assert!(emu.blocked().is_empty());
    no_secret_or_text(&watch.log());
}

#[test]
fn a_waha_session_user_is_blocked() {
    let emu = emulator();
    let ws = Workspace::new();
    let base = emu.base_url();
    ws.write(
        "bot.yaml",
        &format!("business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"{base}\"}}\nmode: additive\nblocked:\n  - \"{SPAMMER}\"\n"),
    );
    let watch = Watch::start(&ws);
    assert_eq!(
        write(
            &emu,
            &watch,
            serde_json::json!({"provider": "waha", "user": SPAMMER})
        ),
        200
    );
    eventually("the WAHA block", || {
        emu.state()["waha"]["default"]["blocked"] == serde_json::json!([SPAMMER])
    });
    assert_eq!(
        watch.metric(r#"blocklist_watch_deliveries_total{provider="waha"}"#),
        1.0
    );
    no_secret_or_text(&watch.log());
}

#[test]
fn get_verification_answers_the_challenge_only_for_the_token() {
    let emu = emulator();
    let ws = Workspace::new();
    cloud_file(&ws, &emu, &[SPAMMER]);
    let watch = Watch::start(&ws);
    let path = format!(
        "/webhooks/cloud-api?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
    );
    assert_eq!(
        request(&watch.addr, "GET", &path, &[], b""),
        (200, "1158201444".to_string())
    );
    let wrong = "/webhooks/cloud-api?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1";
    assert_eq!(request(&watch.addr, "GET", wrong, &[], b"").0, 403);
    assert_eq!(request(&watch.addr, "GET", "/healthz", &[], b"").0, 200);
    let (status, why) = request(&watch.addr, "POST", "/webhooks/nxcloud", &[], b"{}");
    assert_eq!(status, 404);
    assert!(
        why.contains("NxCloud documents no inbound-message webhook"),
        "{why}"
    );
    let big = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(
        request(&watch.addr, "POST", "/webhooks/waha", &[], &big).0,
        413
    );
}

#[test]
fn a_reload_with_a_broken_file_keeps_the_old_files() {
    let emu = emulator();
    let ws = Workspace::new();
    cloud_file(&ws, &emu, &[SPAMMER]);
    let watch = Watch::start(&ws);
    ws.write(
        "shop.yaml",
        "business_phone: \"+8615800001795\"\nbloked: []\n",
    );
    watch.process.signal(libc::SIGHUP);
    eventually("the failed reload", || {
        watch.metric("blocklist_watch_reload_failures_total") == 1.0
    });
    assert!(
        watch.log().contains("keeping the previous files"),
        "{}",
        watch.log()
    );
    // The old files still hold: the spammer is blocked when they write.
    assert_eq!(cloud_write(&emu, &watch, SPAMMER), 200);
    blocked_within(&emu, SPAMMER, Duration::from_secs(5));

    // A good file is taken on the next reload.
    cloud_file(&ws, &emu, &[SPAMMER, OTHER]);
    watch.process.signal(libc::SIGHUP);
    eventually("the reload", || {
        watch.metric("blocklist_watch_reloads_total") == 1.0
    });
    assert_eq!(cloud_write(&emu, &watch, OTHER), 200);
    blocked_within(&emu, OTHER, Duration::from_secs(5));
}

/// The WAHA ledger is shared with apply: a block made by watch after an
/// apply keeps what that apply recorded.
#[test]
fn a_waha_block_keeps_what_an_apply_wrote_to_the_ledger() {
    let emu = emulator();
    let ws = Workspace::new();
    let base = emu.base_url();
    let file = |users: &[&str]| {
        let list: String = users.iter().map(|u| format!("  - \"{u}\"\n")).collect();
        ws.write(
            "bot.yaml",
            &format!("business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"{base}\"}}\nmode: additive\nblocked:\n{list}"),
        );
    };
    const THIRD: &str = "8613300000003";
    file(&[SPAMMER, THIRD]);
    let watch = Watch::start(&ws);
    // The ledger lives in the state beside the file (no `ledger:` set).
    let ledger = || -> serde_json::Value {
        let path = ws.path(&format!(".blocklist/waha-{PHONE}/ledger.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default()
    };
    let waha = |user: &str| {
        write(
            &emu,
            &watch,
            serde_json::json!({"provider": "waha", "user": user}),
        )
    };
    assert_eq!(waha(SPAMMER), 200);
    eventually("the first block", || {
        ledger()["blocked"] == serde_json::json!([SPAMMER])
    });
    file(&[SPAMMER, THIRD, OTHER]);
    ws.run(&["apply", ".", "--yes"]).code(0);
    assert_eq!(
        ledger()["blocked"],
        serde_json::json!([SPAMMER, OTHER, THIRD])
    );
    assert_eq!(waha(THIRD), 200);
    eventually("the second block", || {
        watch.metric("blocklist_watch_blocks_total") == 2.0
    });
    assert_eq!(
        ledger()["blocked"],
        serde_json::json!([SPAMMER, OTHER, THIRD])
    );
}

/// A sender who hides their phone is named by BSUID only; the file lists
/// them by BSUID, and the block is sent by BSUID.
#[test]
fn a_sender_without_a_phone_is_matched_by_bsuid() {
    const BSUID: &str = "US.13491208655302741918";
    let state = serde_json::json!({
        "phones": {PHONE: {"phone_number_id": PHONE_ID, "blocked": [], "recent_contacts": [],
            "users": [{"phone": "14155550123", "user_id": BSUID, "phone_hidden": true}]}},
    });
    let emu = Emulator::start_with_env(&state, &[], &SECRETS);
    let ws = Workspace::new();
    cloud_file(&ws, &emu, &[BSUID]);
    let watch = Watch::start(&ws);
    assert_eq!(cloud_write(&emu, &watch, BSUID), 200);
    blocked_within(&emu, BSUID, Duration::from_secs(5));
    // The platform holds the block before watch has recorded and logged it.
    eventually("watch to log the block", || {
        watch.log().contains(&format!("blocked {BSUID}"))
    });
}

/// Signed but hostile bodies are answered 400 and never crash watch.
#[test]
fn signed_hostile_bodies_are_refused_and_watch_keeps_serving() {
    use blocklist::provider::sign::{hmac_sha256_hex, hmac_sha512_hex};
    let emu = emulator();
    let ws = Workspace::new();
    cloud_file(&ws, &emu, &[SPAMMER]);
    let watch = Watch::start(&ws);
    let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    for body in [&b"not json"[..], b"\xff\xfe\x00", b"[]", deep.as_bytes()] {
        let sig = format!("sha256={}", hmac_sha256_hex(APP_SECRET.as_bytes(), body));
        let headers = [("X-Hub-Signature-256", sig.as_str())];
        assert_eq!(
            request(&watch.addr, "POST", "/webhooks/cloud-api", &headers, body).0,
            400
        );
        let sig = hmac_sha512_hex(WAHA_SECRET.as_bytes(), body);
        let headers = [
            ("X-Webhook-Hmac", sig.as_str()),
            ("X-Webhook-Hmac-Algorithm", "sha512"),
        ];
        assert_eq!(
            request(&watch.addr, "POST", "/webhooks/waha", &headers, body).0,
            400
        );
    }
    // Signed, well-formed, with odd values: skipped, answered 200.
    let odd = br#"{"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":7},"messages":[{"from":"\n","id":"x\ny"}]}}]}]}"#;
    let sig = format!("sha256={}", hmac_sha256_hex(APP_SECRET.as_bytes(), odd));
    assert_eq!(
        request(
            &watch.addr,
            "POST",
            "/webhooks/cloud-api",
            &[("X-Hub-Signature-256", &sig)],
            odd
        )
        .0,
        200
    );
    assert_eq!(watch.metric("blocklist_watch_malformed_total"), 8.0);
    assert_eq!(cloud_write(&emu, &watch, SPAMMER), 200);
    blocked_within(&emu, SPAMMER, Duration::from_secs(5));
}

/// A full queue answers 503, so the provider delivers again later; the
/// refused message is not remembered as seen.
#[test]
fn a_full_queue_answers_503() {
    let state = serde_json::json!({
        "phones": {PHONE: {"phone_number_id": PHONE_ID, "blocked": [], "recent_contacts": []}},
    });
    // The provider holds each block for a while, so blocks pile up.
    let emu = Emulator::start_with_env(&state, &["--latency-ms", "10000"], &SECRETS);
    let ws = Workspace::new();
    let users: Vec<String> = (0..6).map(|i| format!("86133000001{i:02}")).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    cloud_file(&ws, &emu, &refs);
    let process = ws.spawn_with(
        &[
            "-vv",
            "watch",
            ".",
            "--listen",
            "127.0.0.1:0",
            "--queue",
            "1",
            "--workers",
            "1",
        ],
        &SECRETS,
    );
    let mut addr = String::new();
    eventually("watch to announce its address", || {
        match process.stdout().lines().find(|l| l.contains("http://")) {
            Some(line) => {
                addr = line
                    .rsplit("http://")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                true
            }
            None => false,
        }
    });
    let watch = Watch { process, addr };
    // At most one block in flight, one waiting for the worker and one in
    // the queue: of six deliveries, at least three are refused.
    let statuses: Vec<u16> = users
        .iter()
        .map(|u| write(&emu, &watch, serde_json::json!({"provider": "cloud-api", "user": u, "message_id": format!("wamid.{u}")})))
        .collect();
    let refused = statuses.iter().filter(|&&s| s == 503).count();
    assert!(refused >= 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count() + refused, 6);
    assert_eq!(
        watch.metric("blocklist_watch_queue_full_total"),
        refused as f64
    );
    // Delivered again, a refused message is tried again, not dropped as seen.
    let last = users.last().unwrap();
    assert_eq!(statuses.last(), Some(&503));
    write(
        &emu,
        &watch,
        serde_json::json!({"provider": "cloud-api", "user": last, "message_id": format!("wamid.{last}")}),
    );
    assert_eq!(watch.metric("blocklist_watch_duplicates_total"), 0.0);
}

/// Without a signal, the files are re-read every `--reload-every`.
#[test]
fn files_are_reread_every_reload_every() {
    let emu = emulator();
    let ws = Workspace::new();
    cloud_file(&ws, &emu, &[SPAMMER]);
    let watch = Watch::start_with(&ws, &["--reload-every", "1s"]);
    cloud_file(&ws, &emu, &[SPAMMER, OTHER]);
    // A reload that began before the file changed may have read the old
    // one; the one after it began after the change.
    let before = watch.metric("blocklist_watch_reloads_total");
    eventually("a timed reload", || {
        watch.metric("blocklist_watch_reloads_total") >= before + 2.0
    });
    assert!(
        watch.log().contains("files reloaded (--reload-every)"),
        "{}",
        watch.log()
    );
    assert_eq!(cloud_write(&emu, &watch, OTHER), 200);
    blocked_within(&emu, OTHER, Duration::from_secs(5));
}
