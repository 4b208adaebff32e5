//! Listing: pages, both paging styles, and cursors going stale.

use serde_json::{Value, json};

use super::*;
use crate::emulator::{Faults, Paging};

const FIVE: [&str; 5] = [RECENT[0], RECENT[1], RECENT[2], RECENT[3], RECENT[4]];

fn wa_ids(page: &Value) -> Vec<&str> {
    page["data"]["data"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["wa_id"].as_str()).collect())
        .unwrap_or_default()
}

fn after(page: &Value) -> String {
    page["data"]["paging"]["cursors"]["after"]
        .as_str()
        .unwrap_or_else(|| panic!("no after cursor: {page}"))
        .to_string()
}

#[tokio::test]
async fn graph_style_paging_has_next_while_more_remain() {
    let emu = Emu::start(Some(one_phone(&FIVE)), Faults::default()).await;
    let first = emu.list(json!({"limit": 2})).await;
    assert_eq!(wa_ids(&first), FIVE[..2]);
    assert_eq!(first["data"]["data"][0]["messaging_product"], "whatsapp");
    let next = first["data"]["paging"]["next"].as_str().expect("next");
    assert!(next.starts_with("http://127.0.0.1:"), "{next}");

    let second = emu.list(json!({"limit": 2, "after": after(&first)})).await;
    assert_eq!(wa_ids(&second), FIVE[2..4]);
    assert!(second["data"]["paging"]["next"].is_string());
    let last = emu.list(json!({"limit": 2, "after": after(&second)})).await;
    assert_eq!(wa_ids(&last), FIVE[4..]);
    assert!(last["data"]["paging"]["cursors"]["after"].is_string());
    assert!(last["data"]["paging"].get("next").is_none(), "{last}");

    // `before` leads back; without `limit` a page holds up to 100.
    let before = second["data"]["paging"]["cursors"]["before"].clone();
    let back = emu.list(json!({"limit": 2, "before": before})).await;
    assert_eq!(wa_ids(&back), FIVE[..2]);
    assert_eq!(wa_ids(&emu.list(json!({})).await), FIVE);
}

#[tokio::test]
async fn cursors_only_paging_ends_with_an_empty_page() {
    let faults = Faults {
        paging: Paging::CursorsOnly,
        max_page_size: Some(2),
        ..Faults::default()
    };
    let emu = Emu::start(Some(one_phone(&FIVE)), faults).await;
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    for expect in [2, 2, 1] {
        // The server's page size wins over a larger `limit`.
        let page = emu.list(json!({"limit": 1000, "after": cursor})).await;
        assert_eq!(wa_ids(&page).len(), expect, "{page}");
        assert!(page["data"]["paging"].get("next").is_none());
        seen.extend(wa_ids(&page).into_iter().map(str::to_string));
        cursor = json!(after(&page));
    }
    assert_eq!(seen, FIVE);
    let end = emu.list(json!({"after": cursor})).await;
    assert_eq!(end["code"], 0);
    assert_eq!(end["data"], json!({"data": []}));
}

#[tokio::test]
async fn a_change_between_pages_makes_the_cursor_stale() {
    let emu = Emu::start(Some(one_phone(&FIVE[..3])), Faults::default()).await;
    let first = emu.list(json!({"limit": 2})).await;
    // Unblocking someone not blocked changes nothing, so the cursor holds.
    emu.unblock(&[RECENT[4]]).await;
    let still = emu.list(json!({"limit": 2, "after": after(&first)})).await;
    assert_eq!(wa_ids(&still), [RECENT[2]]);

    emu.block(&[RECENT[5]]).await;
    let stale = emu.list(json!({"limit": 2, "after": after(&first)})).await;
    assert_eq!(stale["code"], 9099);
    assert_eq!(
        stale["message"],
        "(#139102) Block list changed during paging; restart from the first page"
    );
    assert_eq!(
        emu.list_all(2).await,
        [FIVE[0], FIVE[1], FIVE[2], "5215512345678"]
    );

    let garbage = emu.list(json!({"after": "not-a-cursor"})).await;
    assert_eq!(garbage["code"], 1002);
    let bad_limit = emu.list(json!({"limit": 0})).await;
    assert_eq!(bad_limit["code"], 1002);
}

#[tokio::test]
async fn change_list_after_pages_stales_the_next_request_once() {
    let faults = Faults {
        change_list_after_pages: Some(1),
        ..Faults::default()
    };
    let emu = Emu::start(Some(one_phone(&FIVE)), faults).await;
    let first = emu.list(json!({"limit": 2})).await;
    let stale = emu.list(json!({"limit": 2, "after": after(&first)})).await;
    assert_eq!(stale["code"], 9099);
    assert!(
        stale["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("(#139102)"))
    );
    // Once only: restarting the listing reads it all.
    assert_eq!(emu.list_all(2).await, FIVE);
    assert_eq!(
        emu.blocked().await,
        json!(FIVE),
        "the list itself is unchanged"
    );
}
