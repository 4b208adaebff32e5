//! The client over real HTTP against a scripted server on 127.0.0.1: methods,
//! URL, auth header, the HTTP 400 partial result, paging, 130429 halving,
//! error codes, the usage header, and errors that never show the token.
//! (Full behaviour is tested against the emulator in `tests/`.)

use crate::user::User;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method as HttpMethod;
use serde_json::{Value, json};

use super::*;
use crate::provider::http::testing::{self, Reply, Seen, Server};

mod bsuid;
mod hostile;
mod limits;

const TOKEN: &str = "EAAG-token-do-not-print";
const ID: &str = "106540352242922";

fn reply(status: u16, body: Value) -> Reply {
    Reply::new(status, body.to_string())
}

fn meta_error(status: u16, code: i64) -> Reply {
    let error = json!({"message": format!("(#{code}) boom"), "type": "OAuthException",
        "code": code, "fbtrace_id": "AbC123"});
    reply(status, json!({ "error": error }))
}

fn done(key: &str, users: &[&str]) -> Reply {
    let entries: Vec<Value> = users
        .iter()
        .map(|u| json!({"input": u, "wa_id": u}))
        .collect();
    reply(
        200,
        json!({"messaging_product": "whatsapp", "block_users": {key: entries}}),
    )
}

fn page(items: Value, after: Option<&str>, next: bool) -> Reply {
    let mut paging = json!({"cursors": {"before": "b", "after": after}});
    if next {
        paging["next"] = json!("https://elsewhere.invalid/next");
    }
    reply(200, json!({"data": items, "paging": paging}))
}

impl Seen {
    fn users(&self) -> Vec<String> {
        let body = self.json();
        let list = body["block_users"].as_array().cloned().unwrap_or_default();
        list.iter()
            .map(|u| u["user"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Serve `replies` in order on a free loopback port; `adjust` sets up the client.
async fn serve_with(
    replies: Vec<Reply>,
    adjust: impl FnOnce(&mut CloudApiConfig),
) -> (CloudApi, Arc<Server>, String) {
    let script = testing::scripted(replies, reply(500, json!({}))).await;
    let base = script.base.clone();
    let url = CloudApiConfig::meta_url(&format!("{base}/"), "v25.0", ID);
    let mut config = CloudApiConfig::new(url, Secret::new(TOKEN));
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    adjust(&mut config);
    (CloudApi::new(config).unwrap(), script, base)
}

async fn serve(replies: Vec<Reply>) -> (CloudApi, Arc<Server>, String) {
    serve_with(replies, |_| {}).await
}

fn users(list: &[&str]) -> Vec<User> {
    crate::user::phones(list)
}

#[tokio::test]
async fn block_posts_and_unblock_deletes_the_same_body() {
    let sent = users(&["8613300000001", "8613300000002"]);
    let replies = vec![
        done("added_users", &["8613300000001", "8613300000002"]),
        done("removed_users", &["8613300000001", "8613300000002"]),
    ];
    let (client, script, _) = serve(replies).await;
    assert_eq!(client.block(&sent).await.unwrap().done, sent);
    assert_eq!(client.unblock(&sent).await.unwrap().done, sent);
    let seen = script.seen.lock().unwrap();
    assert_eq!(
        (&seen[0].method, &seen[1].method),
        (&HttpMethod::POST, &HttpMethod::DELETE)
    );
    for request in seen.iter() {
        assert_eq!(request.uri.path(), format!("/v25.0/{ID}/block_users"));
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(
            request.body,
            r#"{"messaging_product":"whatsapp","block_users":[{"user":"8613300000001"},{"user":"8613300000002"}]}"#
        );
    }
}

#[tokio::test]
async fn http_400_with_139100_is_a_partial_result() {
    let body = json!({
        "messaging_product": "whatsapp",
        "block_users": {
            "added_users": [{"input": "8613300000001", "wa_id": "8613300000001"}],
            "failed_users": [
                {"input": "8613300000002", "errors": [{"message": "Re-engagement check failed",
                    "code": 131047, "error_data": {"details": "not messaged in 24 hours"}}]},
                {"input": "8615800001795", "errors": [{"message": "Cannot block yourself", "code": 131021}]}
            ]
        },
        "error": {"message": "(#139100) Failed to block some users", "type": "OAuthException",
            "code": 139100, "error_data": {"details": "see failed_users"}, "fbtrace_id": "Tr4ce"}
    });
    let (client, script, _) = serve(vec![reply(400, body)]).await;
    let sent = users(&["8613300000001", "8613300000002", "8615800001795"]);
    let result = client.block(&sent).await.unwrap();
    assert_eq!(result.done, users(&["8613300000001"]));
    let failed: Vec<(&str, i64, &str)> = result
        .failed
        .iter()
        .map(|f| (f.user.id(), f.code, f.message.as_str()))
        .collect();
    assert_eq!(
        failed,
        [
            (
                "8613300000002",
                131047,
                "Re-engagement check failed: not messaged in 24 hours"
            ),
            ("8615800001795", 131021, "Cannot block yourself"),
        ]
    );
    assert_eq!(
        (client.stats().requests(), client.stats().retries()),
        (1, 0)
    );
    assert_eq!(script.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn lists_every_page_in_both_shapes_and_restarts_on_139102() {
    let meta_items = json!([{"messaging_product": "whatsapp", "wa_id": "8613300000001"}]);
    let reseller_items =
        json!([{"block_users": [{"input": "8613300000002", "wa_id": "8613300000002"}]}]);
    let replies = vec![
        page(meta_items.clone(), Some("c1"), true),
        meta_error(400, 139102),
        page(meta_items, Some("c1"), true),
        reply(503, json!({})),
        page(reseller_items, Some("c2"), false),
    ];
    let (client, script, _) = serve_with(replies, |c| c.chunk_size = 100).await;
    assert_eq!(
        client.list().await.unwrap(),
        users(&["8613300000001", "8613300000002"])
    );
    let seen = script.seen.lock().unwrap();
    let queries: Vec<Option<&str>> = seen.iter().map(|s| s.uri.query()).collect();
    assert_eq!(
        queries,
        [
            Some("limit=100"),
            Some("limit=100&after=c1"),
            Some("limit=100"),
            Some("limit=100&after=c1"),
            Some("limit=100&after=c1")
        ]
    );
    assert!(
        seen.iter()
            .all(|s| s.method == HttpMethod::GET && s.body.is_empty())
    );
    // One restart and one retry; `paging.next` was never followed elsewhere.
    assert_eq!(
        (client.stats().requests(), client.stats().retries()),
        (5, 2)
    );
}

/// A wrongly empty live list would make `import --write --force` drop every
/// entry: a page without `data` is retried as malformed, then an error.
#[tokio::test]
async fn a_listing_reply_without_data_is_never_an_empty_list() {
    let (client, script, base) = serve((0..3).map(|_| reply(200, json!({}))).collect()).await;
    let error = client.list().await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "GET {base}/v25.0/{ID}/block_users: gave up after 3 attempts: malformed reply (HTTP 200): missing field `data` at line 1 column 2"
        )
    );
    assert_eq!(script.seen.lock().unwrap().len(), 3);

    let partial = json!({"data": [], "error": {"message": "(#139100) Failed", "code": 139100}});
    let (client, script, _) = serve(vec![reply(400, partial)]).await;
    let error = client.list().await.unwrap_err().to_string();
    assert!(
        error.ends_with("Meta error 139100 (some users failed) in reply to a listing, which has no users to fail"),
        "{error}"
    );
    assert_eq!(script.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn resellers_use_their_url_header_and_batch_size() {
    let (client, script, base) =
        serve_with(vec![done("added_users", &["8613300000001"])], |_| {}).await;
    drop(client);
    let endpoint = format!("{base}/block_users");
    let mut config = CloudApiConfig::new(endpoint, Secret::new(TOKEN));
    config.auth_header = Some("D360-API-KEY".into());
    config.chunk_size = 100;
    let client = CloudApi::new(config).unwrap();
    assert_eq!(client.max_batch(), 100);
    client.block(&users(&["8613300000001"])).await.unwrap();
    {
        let seen = script.seen.lock().unwrap();
        assert_eq!(seen[0].uri.path(), "/block_users");
        assert_eq!(seen[0].header("d360-api-key"), Some(TOKEN));
        assert_eq!(seen[0].header("authorization"), None);
    }
    let too_many: Vec<User> = (0..101)
        .map(|i| User::phone(format!("86133{i:08}")))
        .collect();
    let error = client.block(&too_many).await.unwrap_err().to_string();
    assert!(
        error.ends_with("101 users in one call; at most 100 are allowed"),
        "{error}"
    );
    assert_eq!(client.stats().requests(), 1);
}

#[tokio::test]
async fn the_token_is_never_shown() {
    let (client, _, _) = serve(vec![meta_error(401, 190)]).await;
    let error = client.list().await.unwrap_err();
    let shown = format!("{error:#} {error:?} {client:?} {:?}", client.config);
    assert!(!shown.contains(TOKEN), "{shown}");

    let bad = CloudApiConfig::new("http://127.0.0.1:9/x", Secret::new("EAAG\nsecret-line"));
    let error = CloudApi::new(bad).unwrap_err().to_string();
    assert_eq!(
        error,
        "WHATSAPP_TOKEN holds characters that cannot be sent in an HTTP header"
    );
}
