//! The Cloud API list, the usage header, faults in Graph's words, and the
//! resellers' variant (another header, `/block_users`, another list shape).

use reqwest::Method;
use serde_json::{Value, json};

use super::cloud_api::{PHONE_ID, ROUTE, cloud_phone, graph_users, without_trace};
use super::*;
use crate::emulator::{Faults, ListShape, Paging};

const FIVE: [&str; 5] = [RECENT[0], RECENT[1], RECENT[2], RECENT[3], RECENT[4]];

fn wa_ids(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["wa_id"].as_str()).collect())
        .unwrap_or_default()
}

fn page_url(query: &str) -> String {
    format!("{ROUTE}?{query}")
}

/// The usage the header reports for `id`, as (call_count, regain minutes).
fn usage(reply: &Reply, id: &str) -> (u64, u64) {
    let header = reply
        .header("x-business-use-case-usage")
        .unwrap_or_else(|| panic!("no usage header: {:?}", reply.headers));
    let usage: Value = serde_json::from_str(header).expect("usage is JSON");
    let entry = &usage[id][0];
    assert_eq!(entry["type"], "whatsapp_business_management", "{usage}");
    assert_eq!(entry["total_cputime"], entry["call_count"]);
    assert_eq!(entry["total_time"], entry["call_count"]);
    let number = |v: &Value| v.as_u64().unwrap_or(u64::MAX);
    (
        number(&entry["call_count"]),
        number(&entry["estimated_time_to_regain_access"]),
    )
}

#[tokio::test]
async fn graph_paging_has_next_while_more_remain_and_next_is_followable() {
    let emu = Emu::start(Some(cloud_phone(&FIVE)), Faults::default()).await;
    let first = emu.graph(Method::GET, &page_url("limit=2"), None).await;
    assert_eq!(first.status, 200);
    let first = first.json();
    assert_eq!(wa_ids(&first), FIVE[..2]);
    let next = first["paging"]["next"].as_str().expect("next");
    assert!(next.starts_with("http://127.0.0.1:"), "{next}");
    assert!(next.contains(ROUTE), "{next}");
    let after = first["paging"]["cursors"]["after"].as_str().expect("after");
    assert!(next.ends_with(&format!("after={after}")), "{next}");

    let second = emu.graph(Method::GET, next, None).await.json();
    assert_eq!(wa_ids(&second), FIVE[2..4]);
    let next = second["paging"]["next"].as_str().expect("next");
    let last = emu.graph(Method::GET, next, None).await.json();
    assert_eq!(wa_ids(&last), FIVE[4..]);
    assert!(last["paging"]["cursors"]["before"].is_string());
    assert!(last["paging"].get("next").is_none(), "{last}");

    let before = second["paging"]["cursors"]["before"]
        .as_str()
        .expect("before");
    let back = emu
        .graph(
            Method::GET,
            &page_url(&format!("limit=2&before={before}")),
            None,
        )
        .await;
    assert_eq!(wa_ids(&back.json()), FIVE[..2]);
}

#[tokio::test]
async fn cursors_only_paging_ends_with_an_empty_page() {
    let faults = Faults {
        paging: Paging::CursorsOnly,
        max_page_size: Some(2),
        ..Faults::default()
    };
    let emu = Emu::start(Some(cloud_phone(&FIVE)), faults).await;
    let mut seen = Vec::new();
    let mut url = page_url("limit=1000");
    for expect in [2, 2, 1] {
        let page = emu.graph(Method::GET, &url, None).await.json();
        assert_eq!(wa_ids(&page).len(), expect, "{page}");
        assert!(page["paging"].get("next").is_none(), "{page}");
        seen.extend(wa_ids(&page).into_iter().map(str::to_string));
        let after = page["paging"]["cursors"]["after"].as_str().expect("after");
        url = page_url(&format!("after={after}"));
    }
    assert_eq!(seen, FIVE);
    let end = emu.graph(Method::GET, &url, None).await;
    assert_eq!(end.status, 200);
    assert_eq!(end.json(), json!({"data": []}));
}

#[tokio::test]
async fn a_change_between_pages_answers_139102() {
    let emu = Emu::start(Some(cloud_phone(&FIVE[..3])), Faults::default()).await;
    let first = emu
        .graph(Method::GET, &page_url("limit=2"), None)
        .await
        .json();
    let next = first["paging"]["next"].as_str().expect("next").to_string();
    emu.graph_change(Method::POST, &[RECENT[4]]).await;
    let stale = emu.graph(Method::GET, &next, None).await;
    assert_eq!(stale.status, 400);
    let error = &without_trace(&stale)["error"];
    assert_eq!(error["code"], 139102);
    assert_eq!(
        error["message"],
        "(#139102) Block list changed during paging; restart from the first page"
    );

    for query in ["after=not-a-cursor", "limit=0", "limit=many"] {
        let reply = emu.graph(Method::GET, &page_url(query), None).await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.json()["error"]["code"], 100, "{query}");
    }
}

#[tokio::test]
async fn every_reply_reports_usage_even_faulted_ones() {
    let emu = Emu::start(Some(cloud_phone(&[])), Faults::default()).await;
    assert_eq!(
        usage(&emu.graph(Method::GET, ROUTE, None).await, PHONE_ID),
        (5, 0)
    );
    let refused = emu.http(Method::GET, ROUTE, &[], None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(usage(&refused, PHONE_ID), (5, 0));

    let faults = Faults {
        usage_percent: Some(95),
        fail_first: 1,
        ..Faults::default()
    };
    let emu = Emu::start(Some(cloud_phone(&[])), faults).await;
    let faulted = emu.graph(Method::GET, ROUTE, None).await;
    assert_eq!(faulted.status, 503);
    assert_eq!(usage(&faulted, PHONE_ID), (95, 0));
    let reply = emu
        .graph(Method::POST, ROUTE, Some(&graph_users(&[RECENT[0]])))
        .await;
    assert_eq!(usage(&reply, PHONE_ID), (95, 0));
}

#[tokio::test]
async fn faults_are_worded_as_graph_errors() {
    let faults = Faults {
        fail_first: 1,
        // The 503 burst is answered before the rate limit counts; a limit
        // of 0 then turns every request away, however slow the machine.
        rate_limit: Some(0),
        ..Faults::default()
    };
    let emu = Emu::start(Some(cloud_phone(&[])), faults).await;
    let unavailable = emu.graph(Method::GET, ROUTE, None).await;
    assert_eq!(unavailable.status, 503);
    let error = &unavailable.json()["error"];
    assert_eq!(
        (error["code"].clone(), error["is_transient"].clone()),
        (json!(2), json!(true))
    );
    let limited = emu.graph(Method::GET, ROUTE, None).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.retry_after.as_deref(), Some("1"));
    assert_eq!(without_trace(&limited)["error"]["code"], 80007);
}

#[tokio::test]
async fn a_reseller_takes_its_header_serves_block_users_and_its_list_shape() {
    let emu = Emu::start_with(Some(cloud_phone(&[])), Faults::default(), |o| {
        o.cloud_api.auth_header = Some("D360-API-KEY".into());
        o.cloud_api.reseller_phone_id = Some(PHONE_ID.into());
        o.cloud_api.list_shape = ListShape::BlockUsers;
    })
    .await;
    let key = [("D360-API-KEY", TOKEN)];
    let body = graph_users(&[RECENT[0], RECENT[5]]);
    let reply = emu
        .http(Method::POST, "/block_users", &key, Some(&body))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["block_users"]["added_users"][1]["wa_id"],
        "5215512345678"
    );
    assert_eq!(usage(&reply, PHONE_ID), (5, 0));

    // The reseller header replaces Bearer; a wrong key is a wrong token.
    let bearer = emu.graph(Method::GET, "/block_users", None).await;
    assert_eq!(bearer.status, 401);
    let wrong = emu
        .http(
            Method::GET,
            "/block_users",
            &[("D360-API-KEY", "nope")],
            None,
        )
        .await;
    assert_eq!(wrong.status, 401);

    let list = emu
        .http(Method::GET, "/block_users?limit=1", &key, None)
        .await
        .json();
    assert_eq!(
        list["data"],
        json!([{"block_users": [{"input": RECENT[0], "wa_id": RECENT[0]}]}])
    );
    let next = list["paging"]["next"].as_str().expect("next");
    assert!(next.contains("/block_users?limit=1&after="), "{next}");
    let rest = emu.http(Method::GET, next, &key, None).await.json();
    assert_eq!(rest["data"][0]["block_users"][0]["wa_id"], "5215512345678");
    // The versioned path works with the same header.
    let versioned = emu.http(Method::GET, ROUTE, &key, None).await;
    assert_eq!(versioned.status, 200);

    // Unblock through the reseller path.
    let body = graph_users(&[RECENT[0]]);
    let reply = emu
        .http(Method::DELETE, "/block_users", &key, Some(&body))
        .await;
    assert_eq!(
        reply.json()["block_users"]["removed_users"][0]["input"],
        RECENT[0]
    );
    assert_eq!(emu.blocked().await, json!(["5215512345678"]));
}

#[tokio::test]
async fn block_users_without_a_reseller_phone_is_not_served() {
    let emu = Emu::start(Some(cloud_phone(&[])), Faults::default()).await;
    let reply = emu.graph(Method::GET, "/block_users", None).await;
    assert_eq!(reply.status, 404);
    assert!(
        reply.text.contains("--cloud-api-reseller-phone-id"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn stats_count_the_cloud_api_routes() {
    let emu = Emu::start_with(Some(cloud_phone(&[])), Faults::default(), |o| {
        o.cloud_api.reseller_phone_id = Some(PHONE_ID.into());
    })
    .await;
    emu.graph(Method::GET, ROUTE, None).await;
    emu.graph_change(Method::POST, &[RECENT[0]]).await;
    emu.http(Method::GET, ROUTE, &[], None).await;
    emu.graph(Method::GET, "/block_users", None).await;
    let expected = json!({
        "requests": 4,
        "by_route": {ROUTE: 3, "/block_users": 1},
        "by_request": {
            format!("GET {ROUTE}"): 2,
            format!("POST {ROUTE}"): 1,
            "GET /block_users": 1,
        },
    });
    assert_eq!(emu.admin("/_emulator/stats").await, expected);
}
