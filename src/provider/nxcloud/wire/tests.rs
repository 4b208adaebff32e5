//! Parsing tests, built on the exact request and reply examples of
//! NxCloud's Block Users API page.

use super::*;
use crate::provider::UserError;
use crate::provider::meta::{BatchData, Direction, ListData, Page, batch_result};
use crate::user::User;
use serde::de::DeserializeOwned;

fn data<T: DeserializeOwned>(reply: &str) -> T {
    let envelope: Envelope = serde_json::from_str(reply).unwrap();
    assert_eq!(envelope.code, 0);
    envelope.data().unwrap()
}

fn users(list: &[&str]) -> Vec<User> {
    crate::user::phones(list)
}

/// Listed users as served, by `wa_id`.
fn listed(list: &[&str]) -> Vec<crate::provider::meta::Listed> {
    list.iter()
        .map(|w| crate::provider::meta::Listed {
            wa_id: Some(w.to_string()),
            user_id: None,
        })
        .collect()
}

fn failure(user: &str, code: i64, message: &str) -> UserError {
    UserError {
        user: User::phone(user),
        code,
        message: message.into(),
    }
}

const BLOCK_SUCCESS: &str = r#"{
"code": 0,
"data": {
"block_users": {
"added_users": [
{ "input": "86133xxx", "wa_id": "86133xxx" },
{ "input": "86144xxx", "wa_id": "86144xxx" }
]
},
"messaging_product": "whatsapp"
},
"message": "请求成功"
}"#;

const BLOCK_MIXED: &str = r#"{
"code": 0,
"data": {
"block_users": {
"failed_users": [
{
"input": "861xxx",
"errors": [
{
"code": 131047,
"message": "Re-engagement check failed",
"error_data": {
"details": "Failed to block due to re-engagement check failed"
}
}
]
}
],
"added_users": [
{ "input": "86133xxx", "wa_id": "86133xxx" }
]
},
"messaging_product": "whatsapp"
},
"message": "请求成功"
}"#;

const UNBLOCK_SUCCESS: &str = r#"{
"code": 0,
"data": {
"block_users": {
"removed_users": [ { "input": "xxx", "wa_id": "xxx" } ]
},
"messaging_product": "whatsapp"
},
"message": "请求成功"
}"#;

const LIST_SUCCESS: &str = r#"{
"code": 0,
"data": {
"data": [
{ "messaging_product": "whatsapp", "wa_id": "xxx" },
{ "messaging_product": "whatsapp", "wa_id": "xxx" }
],
"paging": {
"cursors": {
"before": "eyJvZAmZAzZAXQiOjAsInZAlcnNpb25JZACI6IjE3NTM4NDc1MzgxOTk5NzAifQZDZD",
"after": "eyJvZAmZAzZAXQiOjAsInZAlcnNpb25JZACI6IjE3NTM4NDc1MzgxOTk5NzAifQZDZD"
}
}
},
"message": "请求成功"
}"#;

#[test]
fn request_bodies_have_a_fixed_shape() {
    let body = users_body(
        "pem28kje",
        "8615800001795",
        &users(&["8613300000001", "8613300000002"]),
    );
    assert_eq!(
        String::from_utf8(body.unwrap()).unwrap(),
        r#"{"appkey":"pem28kje","business_phone":"8615800001795","messaging_product":"whatsapp","block_users":[{"user":"8613300000001"},{"user":"8613300000002"}]}"#
    );
    let first = list_body("pem28kje", "8615800001795", 1000, None).unwrap();
    assert_eq!(
        String::from_utf8(first).unwrap(),
        r#"{"appkey":"pem28kje","business_phone":"8615800001795","messaging_product":"whatsapp","limit":1000}"#
    );
    let next = list_body("k", "1", 10, Some("QVFI")).unwrap();
    assert_eq!(
        String::from_utf8(next).unwrap(),
        r#"{"appkey":"k","business_phone":"1","messaging_product":"whatsapp","limit":10,"after":"QVFI"}"#
    );
}

#[test]
fn documented_block_success() {
    let sent = users(&["86133xxx", "86144xxx"]);
    let result = batch_result(&sent, data(BLOCK_SUCCESS), Direction::Block);
    assert_eq!(result.done, sent);
    assert!(result.failed.is_empty());
}

#[test]
fn documented_mixed_success_and_failure() {
    let sent = users(&["861xxx", "86133xxx"]);
    let result = batch_result(&sent, data(BLOCK_MIXED), Direction::Block);
    assert_eq!(result.done, users(&["86133xxx"]));
    assert_eq!(
        result.failed,
        vec![failure(
            "861xxx",
            131047,
            "Re-engagement check failed: Failed to block due to re-engagement check failed"
        )]
    );
}

#[test]
fn documented_unblock_success() {
    let sent = users(&["xxx"]);
    let result = batch_result(&sent, data(UNBLOCK_SUCCESS), Direction::Unblock);
    assert_eq!(result.done, sent);
    // An unblock reply read as a block reply has no result for anyone.
    let result = batch_result(&sent, data(UNBLOCK_SUCCESS), Direction::Block);
    assert_eq!(result.failed[0].code, -1);
}

#[test]
fn every_sent_user_gets_exactly_one_outcome() {
    let reply = r#"{"code":0,"message":"ok","data":{"block_users":{
        "added_users":[
            {"input":"+86 133 0000 0001","wa_id":"8613300000001"},
            {"input":"8619900000000","wa_id":"8619900000000"},
            {"wa_id":"5215512345678"}
        ],
        "failed_users":[
            {"input":"8613300000003","errors":[]},
            {"input":"8613300000004","errors":[{"code":131021,"message":"Cannot block yourself","error_data":null}]}
        ]}}}"#;
    let sent = users(&[
        "8613300000001",
        "8613300000001",
        "8613300000002",
        "8613300000003",
        "8613300000004",
        "525512345678",
    ]);
    let result = batch_result(&sent, data(reply), Direction::Block);
    // Spelled differently, or answered only by a wa_id variant: still found.
    assert_eq!(result.done, users(&["8613300000001", "525512345678"]));
    assert_eq!(
        result.failed,
        vec![
            failure(
                "8613300000002",
                -1,
                "the platform returned no result for this user"
            ),
            failure("8613300000003", -1, "the platform gave no reason"),
            failure("8613300000004", 131021, "Cannot block yourself"),
        ]
    );
}

#[test]
fn documented_list_page() {
    let page = Page::from(data::<ListData>(LIST_SUCCESS));
    assert_eq!(
        page,
        Page {
            users: listed(&["xxx", "xxx"]),
            after: Some(
                "eyJvZAmZAzZAXQiOjAsInZAlcnNpb25JZACI6IjE3NTM4NDc1MzgxOTk5NzAifQZDZD".into()
            ),
            has_next: false,
        }
    );
}

#[test]
fn reseller_list_items_and_next() {
    let reply = r#"{"code":0,"message":"","data":{
        "data":[{"block_users":[{"input":"8613300000001","wa_id":"8613300000001"},{"input":"8613300000002"}]},
                {"messaging_product":"whatsapp","wa_id":"8613300000003"}],
        "paging":{"cursors":{"before":"b","after":"a2"},"next":"https://example.invalid/next"}}}"#;
    let page = Page::from(data::<ListData>(reply));
    assert_eq!(
        page.users,
        listed(&["8613300000001", "8613300000002", "8613300000003"])
    );
    assert_eq!(page.after.as_deref(), Some("a2"));
    assert!(page.has_next);
}

#[test]
fn empty_pages() {
    for body in [
        r#"{"data":[]}"#,
        r#"{"data":[],"paging":null}"#,
        r#"{"data":[],"paging":{"next":""}}"#,
    ] {
        let page = Page::from(serde_json::from_str::<ListData>(body).unwrap());
        assert_eq!(
            page,
            Page {
                users: vec![],
                after: None,
                has_next: false
            },
            "{body}"
        );
    }
}

#[test]
fn unexpected_shapes_are_errors() {
    // A page without data is malformed, never an empty last page: read as
    // one, it would make import --force drop every entry.
    for missing in [r#"{}"#, r#"{"data":null,"paging":null}"#] {
        assert!(
            serde_json::from_str::<ListData>(missing).is_err(),
            "{missing}"
        );
    }
    assert!(serde_json::from_str::<ListData>(r#"{"data":"oops"}"#).is_err());
    // An item naming nobody reads as such; the pager refuses it (see its tests).
    let nobody = Page::from(data::<ListData>(
        r#"{"code":0,"data":{"data":[{"id":"1"}]}}"#,
    ));
    assert_eq!(nobody.users, [crate::provider::meta::Listed::default()]);
    assert!(serde_json::from_str::<BatchData>(r#"{}"#).is_err());
    assert!(serde_json::from_str::<BatchData>(r#"{"block_users":{"added_users":{}}}"#).is_err());
    assert!(serde_json::from_str::<Envelope>(r#"{"message":"no code"}"#).is_err());
    assert!(serde_json::from_str::<Envelope>(r#"{"code":0,"data":{"da"#).is_err());
}

#[test]
fn trace_id_in_any_form() {
    let with = |trace: &str| {
        let envelope: Envelope =
            serde_json::from_str(&format!(r#"{{"code":0,"traceId":{trace}}}"#)).unwrap();
        envelope.trace_id()
    };
    assert_eq!(with(r#""abc-1""#).as_deref(), Some("abc-1"));
    assert_eq!(with("42").as_deref(), Some("42"));
    assert_eq!(with("null"), None);
}
