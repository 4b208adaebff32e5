//! The client over real HTTP against a scripted server on 127.0.0.1: retries
//! on 503/429, `Retry-After`, 1004 re-signing, restarts on 139102, and errors
//! that name the endpoint but never a credential. (Full behaviour is tested
//! against the emulator in `tests/`.)

use crate::user::User;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::provider::http::testing::{self, Reply, Seen, Server};
use crate::provider::sign::{SignedHeaders, sign};

mod hostile;

const SECRET: &str = "s3cr3t-do-not-print";
const KEY: &str = "key-do-not-print";

fn ok(value: Value) -> Reply {
    Reply::new(200, value.to_string())
}

fn status(status: u16) -> Reply {
    Reply::new(status, "")
}

fn code(code: i64, message: &str) -> Reply {
    ok(json!({"code": code, "message": message, "data": null}))
}

fn page(users: &[&str], after: Option<&str>, next: bool) -> Reply {
    let data: Vec<Value> = users
        .iter()
        .map(|u| json!({"messaging_product": "whatsapp", "wa_id": u}))
        .collect();
    let mut paging = json!({"cursors": {"before": "b", "after": after}});
    if next {
        paging["next"] = json!("https://example.invalid/next");
    }
    ok(json!({"code": 0, "message": "ok", "data": {"data": data, "paging": paging}}))
}

/// Serve `replies` in order on a free loopback port; return a client for it.
async fn serve(replies: Vec<Reply>) -> (NxCloud, Arc<Server>) {
    let script = testing::scripted(replies, status(500)).await;
    let mut config = NxCloudConfig::new(
        format!("{}/", script.base),
        "pem28kje",
        "8615800001795",
        Credentials::new(KEY, SECRET),
    );
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    (NxCloud::new(config).unwrap(), script)
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.header(name).unwrap_or("")
}

/// The server's side of the signature check, with the same signer.
fn assert_signed(seen: &Seen) {
    let ts = header(seen, "ts");
    assert_eq!(ts.len(), 13, "ts {ts:?}");
    let headers = SignedHeaders {
        access_key: header(seen, "accessKey"),
        ts,
        biz_type: header(seen, "bizType"),
        action: header(seen, "action"),
    };
    assert_eq!(
        (headers.access_key, headers.biz_type, headers.action),
        (KEY, "2", "mt")
    );
    assert_eq!(header(seen, "content-type"), "application/json");
    assert_eq!(
        header(seen, "sign"),
        sign(headers, Some(&seen.body), SECRET)
    );
}

fn users(list: &[&str]) -> Vec<User> {
    crate::user::phones(list)
}

#[tokio::test]
async fn retries_5xx_and_follows_pages() {
    let replies = vec![
        status(503),
        status(502),
        page(&["+86 133 0000 0001", "8613300000002"], Some("c1"), true),
        page(&["8613300000003", "8613300000002"], Some("c2"), false),
    ];
    let (nxcloud, script) = serve(replies).await;
    let listed = nxcloud.list().await.unwrap();
    assert_eq!(
        listed,
        users(&["8613300000001", "8613300000002", "8613300000003"])
    );
    assert_eq!(
        (nxcloud.stats().requests(), nxcloud.stats().retries()),
        (4, 2)
    );
    // Two pages; the user served twice is counted once.
    assert_eq!(
        (nxcloud.stats().pages_read(), nxcloud.stats().users_listed()),
        (2, 3)
    );

    let seen = script.seen.lock().unwrap();
    for request in seen.iter() {
        assert_eq!(request.uri.path(), "/api/wa/getBlockUsers");
        assert_signed(request);
    }
    // The same bytes on every attempt of one call; the cursor on the next call.
    assert_eq!(seen[0].body, seen[2].body);
    assert_eq!(
        seen[0].body,
        r#"{"appkey":"pem28kje","business_phone":"8615800001795","messaging_product":"whatsapp","limit":1000}"#
    );
    assert!(
        std::str::from_utf8(&seen[3].body)
            .unwrap()
            .ends_with(r#""limit":1000,"after":"c1"}"#)
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let mut limited = status(429);
    limited.headers.push(("retry-after", "1".into()));
    let done = json!({"code": 0, "message": "ok", "data": {"block_users": {
        "added_users": [{"input": "8613300000001", "wa_id": "8613300000001"}]}}});
    let (nxcloud, script) = serve(vec![limited, ok(done)]).await;
    let started = Instant::now();
    let result = nxcloud.block(&users(&["8613300000001"])).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result.done, users(&["8613300000001"]));
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen[1].uri.path(), "/api/wa/createBlockUsers");
    assert_eq!(seen[0].body, seen[1].body);
}

#[tokio::test]
async fn timestamp_rejection_re_signs_once() {
    let removed = json!({"code": 0, "message": "ok", "data": {"block_users": {
        "removed_users": [{"input": "8613300000001", "wa_id": "8613300000001"}]}}});
    let (nxcloud, script) = serve(vec![code(1004, "ts expired"), ok(removed)]).await;
    let result = nxcloud.unblock(&users(&["8613300000001"])).await.unwrap();
    assert_eq!(result.done, users(&["8613300000001"]));
    script.seen.lock().unwrap().iter().for_each(assert_signed);

    let (nxcloud, _) = serve(vec![
        code(1004, "ts expired"),
        code(1004, "ts expired"),
        page(&[], None, false),
    ])
    .await;
    let error = nxcloud.list().await.unwrap_err().to_string();
    assert!(error.ends_with("twice: check the system clock"), "{error}");
    assert_eq!(nxcloud.stats().requests(), 2);
}

#[tokio::test]
async fn errors_name_the_endpoint_never_a_credential() {
    let (nxcloud, _) = serve(vec![status(503), status(503), status(503)]).await;
    let base = nxcloud.base.shown().to_string();
    let gave_up = nxcloud.list().await.unwrap_err();
    assert_eq!(
        gave_up.to_string(),
        format!("POST {base}/api/wa/getBlockUsers: gave up after 3 attempts: HTTP 503")
    );

    // Empty, shaped wrong, cut short: each retried, then a clear error.
    let truncated = Reply {
        body: r#"{"code":0,"da"#.into(),
        ..status(200)
    };
    let (nxcloud, _) = serve(vec![status(200), ok(json!({"code": 0})), truncated]).await;
    let malformed = nxcloud.block(&users(&["8613300000001"])).await.unwrap_err();
    assert_eq!(
        malformed.partial,
        BatchResult::default(),
        "one call: all or nothing"
    );
    let malformed = malformed.error;
    let text = malformed.to_string();
    assert!(
        text.contains(
            "/api/wa/createBlockUsers: gave up after 3 attempts: malformed reply (HTTP 200): "
        ),
        "{text}"
    );

    let (nxcloud, _) = serve(vec![code(1003, "sign error")]).await;
    let bad_sign = nxcloud.list().await.unwrap_err();
    assert!(
        bad_sign
            .to_string()
            .contains("invalid signature: check NXCLOUD_ACCESS_SECRET")
    );
    assert_eq!(nxcloud.stats().requests(), 1);

    let (nxcloud, _) = serve(vec![status(401)]).await;
    let denied = nxcloud.list().await.unwrap_err();
    let base = nxcloud.base.shown();
    let expected = format!("POST {base}/api/wa/getBlockUsers: HTTP 401 Unauthorized");
    assert_eq!(denied.to_string(), expected);

    for error in [gave_up, malformed, bad_sign, denied] {
        for shown in [format!("{error:#}"), format!("{error:?}")] {
            assert!(!shown.contains(SECRET) && !shown.contains(KEY), "{shown}");
        }
    }
    let shown = format!("{nxcloud:?} {:?}", nxcloud.config);
    assert!(!shown.contains(SECRET) && !shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn listing_restarts_when_the_list_changes() {
    let changed = || code(9099, "(#139102) Block list changed during paging");
    let replies = vec![
        page(&["8613300000001"], Some("c1"), true),
        changed(),
        page(&["8613300000009"], Some("d1"), true),
        page(&["8613300000002"], Some("d2"), false),
    ];
    let (nxcloud, script) = serve(replies).await;
    assert_eq!(
        nxcloud.list().await.unwrap(),
        users(&["8613300000009", "8613300000002"])
    );
    // The counts describe the listing that succeeded, not the abandoned one.
    assert_eq!(
        (nxcloud.stats().pages_read(), nxcloud.stats().users_listed()),
        (2, 2)
    );
    // The restart starts over without a cursor.
    assert!(
        !std::str::from_utf8(&script.seen.lock().unwrap()[2].body)
            .unwrap()
            .contains("after")
    );

    let (nxcloud, _) = serve((0..4).map(|_| changed()).collect()).await;
    let error = nxcloud.list().await.unwrap_err().to_string();
    assert!(
        error.ends_with("the block list kept changing while it was read (3 restarts); try again"),
        "{error}"
    );
    assert_eq!(nxcloud.stats().requests(), 4);
}

#[tokio::test]
async fn a_full_list_refuses_every_user_of_the_call() {
    let (nxcloud, _) = serve(vec![code(9099, "(#139101) Blocklist limit reached")]).await;
    let sent = users(&["8613300000001", "8613300000002", "8613300000001"]);
    let result = nxcloud.block(&sent).await.unwrap();
    assert!(result.done.is_empty());
    let refused: Vec<(&str, i64)> = result
        .failed
        .iter()
        .map(|f| (f.user.id(), f.code))
        .collect();
    assert_eq!(
        refused,
        vec![("8613300000001", 139101), ("8613300000002", 139101)]
    );
    assert_eq!(result.failed[0].message, "Blocklist limit reached");
}

#[tokio::test]
async fn a_whole_call_131047_is_per_user_not_fatal() {
    let (nxcloud, _) = serve(vec![code(9099, "(#131047) Re-engagement check failed")]).await;
    let sent = users(&["8613300000001"]);
    let result = nxcloud.block(&sent).await.unwrap();
    assert!(result.done.is_empty());
    let failed = &result.failed[0];
    assert_eq!(
        (failed.user.id(), failed.code, failed.message.as_str()),
        ("8613300000001", 131047, "Re-engagement check failed")
    );
}

#[tokio::test]
async fn a_listing_reply_without_data_is_never_an_empty_list() {
    let empty = || ok(json!({"code": 0, "message": "ok", "data": {}}));
    let (nxcloud, _) = serve(vec![empty(), empty(), empty()]).await;
    let error = nxcloud.list().await.unwrap_err().to_string();
    assert!(
        error
            .contains("gave up after 3 attempts: malformed reply (HTTP 200): missing field `data`"),
        "{error}"
    );
    let (nxcloud, _) = serve(vec![code(9099, "(#139100) Failed to block some users")]).await;
    let error = nxcloud.list().await.unwrap_err().to_string();
    assert!(
        error.ends_with("in reply to a listing, which has no users to fail"),
        "{error}"
    );
    assert_eq!(nxcloud.stats().requests(), 1);
}

#[tokio::test]
async fn a_listed_non_number_is_a_malformed_reply() {
    let (nxcloud, _) = serve(vec![page(&["8613300000001", "xxx"], None, false)]).await;
    let error = nxcloud.list().await.unwrap_err().to_string();
    assert!(
        error.contains(r#"malformed reply: wa_id "xxx" is not a phone number"#),
        "{error}"
    );
    assert_eq!(nxcloud.stats().requests(), 1);
}

#[tokio::test]
async fn network_errors_are_retried_and_described() {
    // A port that was free a moment ago: nothing listens there now.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut config = NxCloudConfig::new(
        format!("http://{addr}"),
        "pem28kje",
        "8615800001795",
        Credentials::new(KEY, SECRET),
    );
    config.retry.base_delay = Duration::from_millis(1);
    config.retry.max_attempts = 2;
    let nxcloud = NxCloud::new(config).unwrap();
    let error = format!("{:#}", nxcloud.list().await.unwrap_err());
    let prefix = format!("POST http://{addr}/api/wa/getBlockUsers: gave up after 2 attempts: ");
    assert!(error.starts_with(&prefix), "{error}");
    assert_eq!(
        (nxcloud.stats().requests(), nxcloud.stats().retries()),
        (2, 1)
    );
}

#[tokio::test]
async fn batches_are_bounded_and_empty_ones_cost_nothing() {
    let (nxcloud, _) = serve(vec![]).await;
    assert_eq!(nxcloud.block(&[]).await.unwrap(), BatchResult::default());
    let too_many: Vec<User> = (0..=MAX_BATCH)
        .map(|i| User::phone(format!("86133{i:08}")))
        .collect();
    let error = nxcloud.unblock(&too_many).await.unwrap_err().to_string();
    assert!(
        error.ends_with("1001 users in one call; at most 1000 are allowed"),
        "{error}"
    );
    assert_eq!(nxcloud.stats().requests(), 0);
}
