//! Persons known by phone, BSUID or both (docs/platforms.md, "Users without
//! a visible phone"), seen from a client of the Cloud API routes.

use reqwest::Method;
use serde_json::{Value, json};

use super::cloud_api::{ROUTE, cloud_phone};
use super::*;
use crate::emulator::{CodeStyle, Faults};

/// A (phone RECENT[0], US.A) shares its phone; H (phone RECENT[1], US.H)
/// hides it; B is known only as US.B.
fn people(blocked: &[&str]) -> Value {
    let mut state = cloud_phone(blocked);
    state["phones"][PHONE]["users"] = json!([
        {"phone": RECENT[0], "user_id": "US.A"},
        {"phone": RECENT[1], "user_id": "US.H", "phone_hidden": true},
        {"user_id": "US.B"},
    ]);
    state["phones"][PHONE]["recent_contacts"] = json!([RECENT[0], RECENT[1], "US.B"]);
    state
}

fn items(items: Value) -> Value {
    json!({"messaging_product": "whatsapp", "block_users": items})
}

async fn listed(emu: &Emu) -> Value {
    let reply = emu
        .graph(Method::GET, &format!("{ROUTE}?limit=10"), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["data"].clone()
}

#[tokio::test]
async fn one_person_blocked_by_phone_is_unblocked_by_bsuid() {
    let emu = Emu::start(Some(people(&[])), Faults::default()).await;
    let reply = emu
        .graph(
            Method::POST,
            ROUTE,
            Some(&items(json!([{"user": RECENT[0]}, {"user_id": "US.B"}]))),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["block_users"]["added_users"],
        json!([{"input": RECENT[0], "wa_id": RECENT[0]}, {"input": "US.B", "user_id": "US.B"}])
    );
    assert_eq!(
        listed(&emu).await,
        json!([
            {"messaging_product": "whatsapp", "wa_id": RECENT[0], "user_id": "US.A"},
            {"messaging_product": "whatsapp", "user_id": "US.B"},
        ])
    );
    let reply = emu
        .graph(
            Method::DELETE,
            ROUTE,
            Some(&items(json!([{"user_id": "US.A"}]))),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        listed(&emu).await,
        json!([{"messaging_product": "whatsapp", "user_id": "US.B"}])
    );
}

#[tokio::test]
async fn a_hidden_phone_is_listed_by_bsuid_alone() {
    let emu = Emu::start(Some(people(&[RECENT[1]])), Faults::default()).await;
    assert_eq!(
        listed(&emu).await,
        json!([{"messaging_product": "whatsapp", "user_id": "US.H"}])
    );
    // Blocking again by phone is the same person: nothing new is listed.
    emu.graph(
        Method::POST,
        ROUTE,
        Some(&items(json!([{"user": RECENT[1]}]))),
    )
    .await;
    assert_eq!(listed(&emu).await.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn parent_and_malformed_bsuids_are_refused_per_user() {
    let emu = Emu::start(Some(people(&[])), Faults::default()).await;
    let body = items(
        json!([{"user_id": "US.ENT.11815799212886844830"}, {"user_id": "us.1"}, {"user_id": "US.B"}]),
    );
    let reply = emu.graph(Method::POST, ROUTE, Some(&body)).await;
    assert_eq!(reply.status, 400, "partial failure: {}", reply.text);
    let failed = &reply.json()["block_users"]["failed_users"];
    assert_eq!(failed[0]["input"], "US.ENT.11815799212886844830");
    assert_eq!(failed[0]["errors"][0]["code"], 131009);
    assert_eq!(
        failed[0]["errors"][0]["error_data"]["details"],
        "Parent BSUIDs are not supported for blocking or unblocking"
    );
    assert_eq!(failed[1]["input"], "us.1");
    assert_eq!(
        reply.json()["block_users"]["added_users"],
        json!([{"input": "US.B", "user_id": "US.B"}])
    );
}

#[tokio::test]
async fn the_24_hour_rule_counts_either_id() {
    // US.A wrote by phone; a block by its BSUID passes. A stranger's BSUID does not.
    let emu = Emu::start(Some(people(&[])), Faults::default()).await;
    let body = items(json!([{"user_id": "US.A"}, {"user_id": "US.STRANGER"}]));
    let reply = emu.graph(Method::POST, ROUTE, Some(&body)).await;
    let json = reply.json();
    assert_eq!(
        json["block_users"]["added_users"],
        json!([{"input": "US.A", "user_id": "US.A"}])
    );
    assert_eq!(
        json["block_users"]["failed_users"][0]["errors"][0]["code"],
        131047
    );
}

#[tokio::test]
async fn failed_codes_can_come_as_strings_or_not_at_all() {
    for (style, code) in [
        (CodeStyle::String, json!("131047")),
        (CodeStyle::Missing, Value::Null),
    ] {
        let faults = Faults {
            failed_code_style: style,
            ..Faults::default()
        };
        let emu = Emu::start(Some(people(&[])), faults).await;
        let body = items(json!([{"user": RECENT[5]}]));
        let reply = emu.graph(Method::POST, ROUTE, Some(&body)).await;
        let error = &reply.json()["block_users"]["failed_users"][0]["errors"][0];
        assert_eq!(error["code"], code, "{style:?}");
        assert_eq!(error["message"], "Re-engagement check failed", "{style:?}");
    }
}
