//! WAHA: one contact per call, `X-Api-Key`, 201 with no body, sessions in
//! the state file, and no way to list what is blocked.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;
use crate::emulator::Faults;

const BLOCK: &str = "/api/contacts/block";
const UNBLOCK: &str = "/api/contacts/unblock";
/// Never messaged anyone: WAHA has no 24-hour rule, so it blocks anyway.
const STRANGER: &str = "8613399999999";

fn sessions(engine_can_block: bool) -> Value {
    json!({
        "phones": {},
        "waha": {
            "default": {"blocked": [], "engine_can_block": true},
            "webjs": {"blocked": [], "engine_can_block": engine_can_block},
        },
    })
}

fn contact(session: &str, digits: &str) -> Value {
    json!({"session": session, "contactId": format!("{digits}@c.us")})
}

impl Emu {
    async fn waha(&self, path: &str, body: &Value) -> Reply {
        self.http(Method::POST, path, &[("X-Api-Key", WAHA_KEY)], Some(body))
            .await
    }

    async fn waha_state(&self) -> Value {
        self.admin("/_emulator/state").await["waha"].clone()
    }
}

#[tokio::test]
async fn block_and_unblock_answer_201_with_no_body_and_persist_per_session() {
    let emu = Emu::start(Some(sessions(true)), Faults::default()).await;
    for who in [RECENT[0], STRANGER, RECENT[0], RECENT[5]] {
        let reply = emu.waha(BLOCK, &contact("default", who)).await;
        assert_eq!((reply.status, reply.text.as_str()), (201, ""));
    }
    let reply = emu.waha(UNBLOCK, &contact("default", RECENT[0])).await;
    assert_eq!((reply.status, reply.text.as_str()), (201, ""));
    // Unblocking what is not blocked is no error either.
    let reply = emu.waha(UNBLOCK, &contact("webjs", RECENT[0])).await;
    assert_eq!(reply.status, 201);

    // No wa_id rewriting: WAHA keeps the number as sent.
    let expected = json!({
        "default": {"blocked": [STRANGER, RECENT[5]], "engine_can_block": true},
        "webjs": {"blocked": [], "engine_can_block": true},
    });
    assert_eq!(emu.waha_state().await, expected);
    let emu = emu.restart().await;
    assert_eq!(emu.waha_state().await, expected);
    let file: Value =
        serde_json::from_slice(&std::fs::read(emu.state_path()).expect("state")).expect("JSON");
    assert_eq!(file["waha"], expected);
}

#[tokio::test]
async fn the_api_key_is_checked_first() {
    let emu = Emu::start(Some(sessions(false)), Faults::default()).await;
    let body = contact("nobody", "86");
    let wrong: [&[(&str, &str)]; 3] = [
        &[],
        &[("X-Api-Key", "nope")],
        &[("Authorization", WAHA_KEY)],
    ];
    for headers in wrong {
        let reply = emu.http(Method::POST, BLOCK, headers, Some(&body)).await;
        assert_eq!(reply.status, 401, "{headers:?}");
        assert_eq!(reply.json(), json!({"message": "Unauthorized"}));
    }
    let emu = Emu::start_with(Some(sessions(true)), Faults::default(), |o| {
        o.waha_api_key = None;
    })
    .await;
    let reply = emu.waha(BLOCK, &contact("default", RECENT[0])).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn an_unknown_session_is_404_unless_sessions_are_auto_created() {
    let emu = Emu::start(Some(sessions(true)), Faults::default()).await;
    let reply = emu.waha(BLOCK, &contact("other", RECENT[0])).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json(),
        json!({"message": format!("We didn't find a session with name 'other'. Please start it first by using POST /api/sessions/other/start request{}", crate::emulator::UNKNOWN_HINT)})
    );
    assert!(emu.waha_state().await.get("other").is_none());

    let mut emu = emu;
    emu.options.auto_create_phones = true;
    let emu = emu.restart().await;
    let reply = emu.waha(BLOCK, &contact("other", RECENT[0])).await;
    assert_eq!(reply.status, 201);
    assert_eq!(
        emu.waha_state().await["other"],
        json!({"blocked": [RECENT[0]], "engine_can_block": true})
    );
}

#[tokio::test]
async fn a_contact_id_must_be_digits_at_c_us() {
    let emu = Emu::start(Some(sessions(true)), Faults::default()).await;
    let bad = [
        json!({"session": "default", "contactId": "8613300000001"}),
        json!({"session": "default", "contactId": "86133@c.us"}),
        json!({"session": "default", "contactId": "+8613300000001@c.us"}),
        json!({"session": "default", "contactId": "8613300000001@s.whatsapp.net"}),
        json!({"session": "default", "contactId": "120363025246125486@g.us"}),
        json!({"session": "default", "contactId": 8613300000001u64}),
        json!({"contactId": "8613300000001@c.us"}),
        json!(["default"]),
    ];
    for body in bad {
        let reply = emu.waha(BLOCK, &body).await;
        assert_eq!(reply.status, 400, "{body}");
        let json = reply.json();
        assert_eq!(
            (json["statusCode"].clone(), json["error"].clone()),
            (json!(400), json!("Bad Request"))
        );
    }
    // Validation comes before the session lookup, as in WAHA.
    let reply = emu
        .waha(BLOCK, &json!({"session": "other", "contactId": "1@c.us"}))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(emu.waha_state().await["default"]["blocked"], json!([]));
}

#[tokio::test]
async fn an_engine_that_cannot_block_answers_501() {
    let emu = Emu::start(Some(sessions(false)), Faults::default()).await;
    for path in [BLOCK, UNBLOCK] {
        let reply = emu.waha(path, &contact("webjs", RECENT[0])).await;
        assert_eq!(reply.status, 501);
        assert_eq!(
            reply.json(),
            json!({"statusCode": 501, "message": "The method is not implemented by 'NOWEB' engine. Try another engine", "error": "Not Implemented"})
        );
    }
    assert_eq!(emu.waha_state().await["webjs"]["blocked"], json!([]));
}

#[tokio::test]
async fn there_is_no_list_route_and_stats_count_waha() {
    let faults = Faults {
        fail_first: 1,
        ..Faults::default()
    };
    let emu = Emu::start(Some(sessions(true)), faults).await;
    let faulted = emu.waha(BLOCK, &contact("default", RECENT[0])).await;
    assert_eq!(faulted.status, 503);
    assert_eq!(faulted.json()["statusCode"], 503);
    emu.waha(BLOCK, &contact("default", RECENT[0])).await;
    emu.waha(UNBLOCK, &contact("default", RECENT[0])).await;
    let listing = emu
        .http(
            Method::GET,
            "/api/contacts/blocked?session=default",
            &[("X-Api-Key", WAHA_KEY)],
            None,
        )
        .await;
    assert_eq!(listing.status, 404);
    let expected = json!({
        "requests": 4,
        "by_route": {BLOCK: 2, UNBLOCK: 1, "/api/contacts/blocked": 1},
        "by_request": {
            format!("POST {BLOCK}"): 2,
            format!("POST {UNBLOCK}"): 1,
            "GET /api/contacts/blocked": 1,
        },
    });
    assert_eq!(emu.admin("/_emulator/stats").await, expected);
}
