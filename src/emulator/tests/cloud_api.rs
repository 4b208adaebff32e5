//! The Cloud API routes: the token, block and unblock, partial failures and
//! whole-call refusals, seen from a client.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;
use crate::emulator::Faults;

pub const PHONE_ID: &str = "106540352242922";
pub const ROUTE: &str = "/v25.0/106540352242922/block_users";

/// [`PHONE`], reachable through the Cloud API as [`PHONE_ID`] too.
pub fn cloud_phone(blocked: &[&str]) -> Value {
    let mut state = one_phone(blocked);
    state["phones"][PHONE]["phone_number_id"] = json!(PHONE_ID);
    state
}

pub fn graph_users(users: &[&str]) -> Value {
    let list: Vec<Value> = users.iter().map(|u| json!({"user": u})).collect();
    json!({"messaging_product": "whatsapp", "block_users": list})
}

/// The body with `error.fbtrace_id` checked (a non-empty string) and
/// replaced by "…", so the rest can be compared exactly.
pub fn without_trace(reply: &Reply) -> Value {
    let mut json = reply.json();
    let trace = json["error"]["fbtrace_id"].as_str().unwrap_or("");
    assert!(!trace.is_empty(), "no fbtrace_id: {json}");
    json["error"]["fbtrace_id"] = json!("…");
    json
}

impl Emu {
    /// A Cloud API request with the right Bearer token.
    pub async fn graph(&self, method: Method, url: &str, body: Option<&Value>) -> Reply {
        let auth = format!("Bearer {TOKEN}");
        self.http(method, url, &[("Authorization", &auth)], body)
            .await
    }

    /// A block or unblock expected to succeed whole (HTTP 200).
    pub async fn graph_change(&self, method: Method, users: &[&str]) -> Value {
        let reply = self.graph(method, ROUTE, Some(&graph_users(users))).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    }
}

#[tokio::test]
async fn the_token_is_checked_before_anything_else() {
    let emu = Emu::start(Some(cloud_phone(&[])), Faults::default()).await;
    let expected = json!({"error": {
        "message": "Invalid OAuth access token.",
        "type": "OAuthException",
        "code": 190,
        "fbtrace_id": "…",
    }});
    let body = graph_users(&[RECENT[0]]);
    let wrong = [
        vec![],
        vec![("Authorization", "Bearer not-the-token".to_string())],
        vec![("Authorization", format!("Basic {TOKEN}"))],
        vec![("Authorization", TOKEN.to_string())],
    ];
    for headers in wrong {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        for url in [ROUTE, "/v25.0/999/block_users", "/latest/999/block_users"] {
            let reply = emu.http(Method::POST, url, &headers, Some(&body)).await;
            assert_eq!(reply.status, 401, "{url} {headers:?}");
            assert_eq!(without_trace(&reply), expected);
        }
    }
    assert_eq!(emu.blocked().await, json!([]));

    // With the token: an unknown phone id, and a path that is no version.
    let reply = emu
        .graph(Method::POST, "/v25.0/999/block_users", Some(&body))
        .await;
    assert_eq!(reply.status, 400);
    let error = &reply.json()["error"];
    assert_eq!(error["code"], 100);
    assert_eq!(error["error_subcode"], 33);
    assert_eq!(error["type"], "GraphMethodException");
    let message = error["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("Unsupported post request. Object with ID '999' does not exist"),
        "{message}"
    );
    let reply = emu.graph(Method::GET, "/v25.0/999/block_users", None).await;
    assert!(
        reply.text.contains("Unsupported get request."),
        "{}",
        reply.text
    );
    let reply = emu
        .graph(Method::GET, "/latest/106540352242922/block_users", None)
        .await;
    assert_eq!(
        (reply.status, reply.json()["error"]["code"].clone()),
        (400, json!(2500))
    );
}

#[tokio::test]
async fn without_a_configured_token_every_request_is_refused() {
    let emu = Emu::start_with(Some(cloud_phone(&[])), Faults::default(), |o| {
        o.cloud_api.token = None;
    })
    .await;
    let reply = emu.graph(Method::GET, ROUTE, None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["code"], 190);
}

#[tokio::test]
async fn block_unblock_list_round_trip_survives_a_restart() {
    let emu = Emu::start(Some(cloud_phone(&[])), Faults::default()).await;
    let reply = emu.graph_change(Method::POST, &RECENT[..3]).await;
    assert_eq!(
        reply,
        json!({"messaging_product": "whatsapp", "block_users": {"added_users": [
            {"input": RECENT[0], "wa_id": RECENT[0]},
            {"input": RECENT[1], "wa_id": RECENT[1]},
            {"input": RECENT[2], "wa_id": RECENT[2]},
        ]}})
    );
    // The Mexican number is stored under its 521 wa_id.
    let reply = emu.graph_change(Method::POST, &[RECENT[5]]).await;
    assert_eq!(
        reply["block_users"]["added_users"][0],
        json!({"input": RECENT[5], "wa_id": "5215512345678"})
    );
    let reply = emu
        .graph_change(Method::DELETE, &[RECENT[1], RECENT[4]])
        .await;
    assert_eq!(
        reply,
        json!({"messaging_product": "whatsapp", "block_users": {"removed_users": [
            {"input": RECENT[1], "wa_id": RECENT[1]},
            {"input": RECENT[4], "wa_id": RECENT[4]},
        ]}})
    );
    let emu = emu.restart().await;
    let list = emu.graph(Method::GET, ROUTE, None).await;
    assert_eq!(list.status, 200);
    let data = &list.json()["data"];
    assert_eq!(
        *data,
        json!([
            {"messaging_product": "whatsapp", "wa_id": RECENT[0]},
            {"messaging_product": "whatsapp", "wa_id": RECENT[2]},
            {"messaging_product": "whatsapp", "wa_id": "5215512345678"},
        ])
    );
    // NxCloud reads the same list: one phone, two ways in.
    assert_eq!(
        emu.list_all(100).await,
        [RECENT[0], RECENT[2], "5215512345678"]
    );
}

#[tokio::test]
async fn a_partial_failure_is_http_400_with_results_and_139100() {
    let emu = Emu::start(Some(cloud_phone(&[])), Faults::default()).await;
    let body = graph_users(&[RECENT[0], "8613399999999", PHONE]);
    let reply = emu.graph(Method::POST, ROUTE, Some(&body)).await;
    assert_eq!(reply.status, 400);
    let expected = json!({
        "messaging_product": "whatsapp",
        "block_users": {
            "added_users": [{"input": RECENT[0], "wa_id": RECENT[0]}],
            "failed_users": [
                {"input": "8613399999999", "errors": [{
                    "code": 131047,
                    "message": "Re-engagement check failed",
                    "error_data": {"details": "Failed to block due to re-engagement check failed"},
                }]},
                {"input": PHONE, "errors": [{
                    "code": 131021,
                    "message": "Cannot block yourself",
                    "error_data": {"details": "A business phone cannot block its own number"},
                }]},
            ],
        },
        "error": {
            "message": "(#139100) Failed to block/unblock some users",
            "type": "OAuthException",
            "code": 139100,
            "error_data": {"details": "Failed to block 2 of 3 users; see block_users.failed_users"},
            "fbtrace_id": "…",
        },
    });
    assert_eq!(without_trace(&reply), expected);
    assert_eq!(
        emu.blocked().await,
        json!([RECENT[0]]),
        "the rest was applied"
    );

    let reply = emu
        .graph(
            Method::DELETE,
            ROUTE,
            Some(&graph_users(&[RECENT[0], "86133"])),
        )
        .await;
    assert_eq!(reply.status, 400);
    let json = reply.json();
    assert_eq!(json["block_users"]["removed_users"][0]["input"], RECENT[0]);
    assert_eq!(
        json["block_users"]["failed_users"][0]["errors"][0]["code"],
        131009
    );
    assert_eq!(json["error"]["code"], 139100);
}

#[tokio::test]
async fn malformed_bodies_are_invalid_parameters() {
    let emu = Emu::start(Some(cloud_phone(&[])), Faults::default()).await;
    for body in [
        json!([]),
        json!({"block_users": [{"user": RECENT[0]}]}),
        json!({"messaging_product": "sms", "block_users": [{"user": RECENT[0]}]}),
        json!({"messaging_product": "whatsapp"}),
        json!({"messaging_product": "whatsapp", "block_users": []}),
        json!({"messaging_product": "whatsapp", "block_users": [{"user": 8613300000001u64}]}),
    ] {
        let reply = emu.graph(Method::POST, ROUTE, Some(&body)).await;
        assert_eq!(reply.status, 400, "{body}");
        let error = &reply.json()["error"];
        assert_eq!(error["code"], 100, "{body}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("(#100) "))
        );
    }
}

#[tokio::test]
async fn more_than_1000_users_are_refused_whole() {
    let emu = Emu::start(Some(cloud_phone(&[])), Faults::default()).await;
    let many: Vec<String> = (0..1001).map(|i| format!("86133{i:08}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let reply = emu
        .graph(Method::POST, ROUTE, Some(&graph_users(&many)))
        .await;
    assert_eq!(reply.status, 400);
    let error = &reply.json()["error"];
    assert_eq!(error["code"], 130429);
    assert_eq!(
        error["message"],
        "(#130429) Too many users in one request (at most 1000)"
    );
    assert!(reply.json().get("block_users").is_none());
    let reply = emu
        .graph(Method::DELETE, ROUTE, Some(&graph_users(&many)))
        .await;
    assert_eq!(reply.json()["error"]["code"], 130429);
    // 1 000 is allowed (most are refused per user by the 24-hour rule).
    let reply = emu
        .graph(Method::POST, ROUTE, Some(&graph_users(&many[..1000])))
        .await;
    assert_eq!(reply.json()["error"]["code"], 139100);
}

#[tokio::test]
async fn the_64000_limit_refuses_the_whole_call() {
    let blocked: Vec<String> = (0..63_999).map(|i| format!("86150{i:08}")).collect();
    let mut state = cloud_phone(&[]);
    state["phones"][PHONE]["blocked"] = json!(blocked);
    let emu = Emu::start(Some(state), Faults::default()).await;

    let body = graph_users(&[RECENT[0], RECENT[1]]);
    let reply = emu.graph(Method::POST, ROUTE, Some(&body)).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["code"], 139101);
    assert_eq!(
        reply.json()["error"]["message"],
        "(#139101) Blocklist limit reached"
    );
    emu.graph_change(Method::POST, &[RECENT[0]]).await;
    let reply = emu
        .graph(Method::POST, ROUTE, Some(&graph_users(&[RECENT[1]])))
        .await;
    assert_eq!(reply.json()["error"]["code"], 139101);
    assert_eq!(emu.blocked().await.as_array().map(Vec::len), Some(64_000));
}

#[tokio::test]
async fn a_phone_without_appkey_is_cloud_api_only() {
    let state =
        json!({"phones": {PHONE: {"phone_number_id": PHONE_ID, "recent_contacts": RECENT}}});
    let emu = Emu::start(Some(state.clone()), Faults::default()).await;
    emu.graph_change(Method::POST, &[RECENT[0]]).await;
    // NxCloud: the phone is bound to no app of the caller's.
    let reply = emu.send(Req::new(LIST, &body(json!({})))).await;
    assert_eq!(reply.json()["code"], 9006);
    let file: Value =
        serde_json::from_slice(&std::fs::read(emu.state_path()).expect("state")).expect("JSON");
    let mut expected = state;
    expected["phones"][PHONE]["blocked"] = json!([RECENT[0]]);
    assert_eq!(file, expected, "no appkey key appears");
}

#[tokio::test]
async fn settings_no_request_could_satisfy_stop_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let emu = Emu::start(None, Faults::default()).await;
    type Spoil = fn(&mut Options);
    let cases: [(Spoil, &str); 3] = [
        (
            |o| o.cloud_api.auth_header = Some("D360 API KEY".into()),
            "not a valid HTTP header name",
        ),
        (
            |o| o.cloud_api.reseller_phone_id = Some("+1065".into()),
            "not a string of digits",
        ),
        (|o| o.faults.usage_percent = Some(101), "0 to 100"),
    ];
    for (spoil, expect) in cases {
        let mut options = emu.options.clone();
        options.state_path = dir.path().join("state.json");
        spoil(&mut options);
        let Err(e) = start("127.0.0.1:0".parse().expect("addr"), options).await else {
            panic!("started despite {expect}");
        };
        assert!(format!("{e:#}").contains(expect), "{e:#}");
    }
}

/// `--auto-create-phones` registers an unknown Cloud API phone id (under its
/// last 15 digits as the number), saved; without it the id is unknown, and
/// the error says the emulator answered and which flag would help.
#[tokio::test]
async fn unknown_phone_ids_are_created_on_demand_only_when_asked() {
    let id = "7106540352242922";
    let url = format!("/v25.0/{id}/block_users");
    let emu = Emu::start(None, Faults::default()).await;
    let reply = emu.graph(Method::GET, &url, None).await;
    assert_eq!(reply.status, 400);
    assert!(reply.text.contains("blocklist emulator"), "{}", reply.text);
    assert!(
        reply.text.contains("--auto-create-phones"),
        "{}",
        reply.text
    );

    let emu = Emu::start_with(None, Faults::default(), |o| o.auto_create_phones = true).await;
    let reply = emu.graph(Method::GET, &url, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["data"], json!([]));
    let file: Value =
        serde_json::from_slice(&std::fs::read(emu.state_path()).expect("saved")).expect("JSON");
    assert_eq!(file["phones"]["106540352242922"]["phone_number_id"], id);
    // Known from now on: a block lands on it (the 24-hour rule applies).
    let reply = emu
        .graph(Method::POST, &url, Some(&graph_users(&["8613300000001"])))
        .await;
    assert!(reply.text.contains("131047"), "{}", reply.text);
    // An id that is not digits is still unknown.
    let reply = emu.graph(Method::GET, "/v25.0/abc/block_users", None).await;
    assert_eq!(reply.status, 400);
}
