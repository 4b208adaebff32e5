//! Users as the Block Users API knows them since 2026: by phone, by
//! business-scoped user ID, or both, and the reply variants real servers
//! send (docs/platforms.md, "Users without a visible phone").

use serde_json::json;

use super::*;

fn both(phone: &str, id: &str) -> User {
    User::new(Some(phone.into()), Some(id.into())).unwrap()
}

#[tokio::test]
async fn blocks_name_users_by_phone_when_known_else_by_bsuid() {
    let added = json!({"messaging_product": "whatsapp", "block_users": {"added_users": [
        {"input": "8613300000001", "wa_id": "8613300000001"},
        {"input": "US.13491208655302741918", "user_id": "US.13491208655302741918"},
        {"input": "8613300000003", "wa_id": "8613300000003"}
    ]}});
    let (client, script, _) = serve(vec![reply(200, added)]).await;
    let sent = vec![
        User::phone("8613300000001"),
        User::bsuid("US.13491208655302741918"),
        both("8613300000003", "CN.3"),
    ];
    let result = client.block(&sent).await.unwrap();
    assert_eq!(result.done, sent);
    assert!(result.failed.is_empty(), "{:?}", result.failed);
    let seen = script.seen.lock().unwrap();
    assert_eq!(
        seen[0].json()["block_users"],
        json!([{"user": "8613300000001"}, {"user_id": "US.13491208655302741918"}, {"user": "8613300000003"}])
    );
}

#[tokio::test]
async fn results_that_name_a_user_only_by_wa_id_or_user_id_are_matched() {
    // `removed_users` for a BSUID is not documented: no input at all here.
    let removed = json!({"block_users": {"removed_users": [
        {"user_id": "MX.998"}, {"wa_id": "5215512345678"}
    ]}});
    let (client, _, _) = serve(vec![reply(200, removed)]).await;
    let sent = vec![User::bsuid("MX.998"), User::phone("525512345678")];
    let result = client.unblock(&sent).await.unwrap();
    assert_eq!(result.done, sent);
}

#[tokio::test]
async fn string_codes_and_missing_codes_are_per_user_outcomes() {
    // Meta's guide prints the code as a string; some entries carry none.
    let body = json!({
        "block_users": {
            "added_users": [{"input": "8613300000001", "wa_id": "8613300000001"}],
            "failed_users": [
                {"input": "8613300000002", "errors": [{"message": "Re-engagement check failed", "code": "131047"}]},
                {"input": "US.1", "errors": [{"message": "Something odd"}]},
                {"input": "8613300000004", "errors": [{"code": "not a number", "message": "Odd code"}]}
            ]
        },
        "error": {"message": "(#139100) Failed to block some users", "code": 139100}
    });
    let (client, script, _) = serve(vec![reply(400, body)]).await;
    let sent = vec![
        User::phone("8613300000001"),
        User::phone("8613300000002"),
        User::bsuid("US.1"),
        User::phone("8613300000004"),
    ];
    let result = client.block(&sent).await.unwrap();
    assert_eq!(result.done, ["8613300000001"]);
    let failed: Vec<(&str, i64, &str)> = result
        .failed
        .iter()
        .map(|f| (f.user.id(), f.code, f.message.as_str()))
        .collect();
    assert_eq!(
        failed,
        [
            ("8613300000002", 131047, "Re-engagement check failed"),
            ("US.1", -1, "Something odd"),
            ("8613300000004", -1, "Odd code"),
        ]
    );
    assert_eq!(
        script.seen.lock().unwrap().len(),
        1,
        "answered once, not retried"
    );
}

#[tokio::test]
async fn list_items_without_wa_id_are_users_whose_phone_is_hidden() {
    let items = json!([
        {"messaging_product": "whatsapp", "wa_id": "8613300000001", "user_id": "CN.1"},
        {"messaging_product": "whatsapp", "user_id": "US.13491208655302741918"},
        {"messaging_product": "whatsapp", "user_id": "US.2", "parent_user_id": "US.ENT.9"},
        {"block_users": [{"input": "CN.4", "user_id": "CN.4"}]}
    ]);
    let (client, script, _) = serve(vec![page(items, None, false)]).await;
    let listed = client.list().await.unwrap();
    assert_eq!(
        listed,
        vec![
            both("8613300000001", "CN.1"),
            User::bsuid("US.13491208655302741918"),
            User::bsuid("US.2"),
            User::bsuid("CN.4"),
        ]
    );
    // Meta's OpenAPI description marks Content-Type required on GET too.
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn a_list_item_naming_nobody_is_a_malformed_reply() {
    let items = json!([{"messaging_product": "whatsapp"}]);
    let (client, _, _) = serve(vec![page(items, None, false)]).await;
    let error = client.list().await.unwrap_err().to_string();
    assert!(
        error.ends_with("malformed reply: a listed user has neither wa_id nor user_id"),
        "{error}"
    );
}
