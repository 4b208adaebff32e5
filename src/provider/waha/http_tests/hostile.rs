//! A broken or hostile server meets the shared rules of
//! [`crate::provider::http`]: no redirect is followed, no reply is read past
//! the cap, and nothing unconfirmed goes into the ledger.

use crate::provider::http::testing::{self, Answer};

use super::*;

fn waha(base: &str, dir: &tempfile::TempDir) -> Waha {
    let config = WahaConfig {
        base_url: base.to_string(),
        session: "default".into(),
        business_phone: PHONE.into(),
        ledger: dir.path().join("bot.ledger.json"),
        api_key: Secret::new(KEY),
        api_key_var: API_KEY_VAR.into(),
        retry: RetryPolicy {
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        },
    };
    Waha::new(config).unwrap()
}

#[tokio::test]
async fn a_redirect_is_fatal_and_the_other_host_hears_nothing() {
    let elsewhere = testing::serve(Answer::ok("")).await;
    let target = format!("{}/api/contacts/block", elsewhere.base);
    let server = testing::serve(Answer::redirect("302 Found", &target)).await;
    let dir = tempfile::tempdir().unwrap();
    let client = waha(&server.base, &dir);
    let error = client.block(&users(1)).await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "POST {}/api/contacts/block: HTTP 302 Found: redirects are not followed: credentials must not go to another host",
            server.base
        )
    );
    assert_eq!((server.hits(), elsewhere.hits()), (1, 0));
    // Not recorded as blocked; pending, as every call that stops a target is.
    assert_eq!(client.unconfirmed().await.unwrap(), users(1));
}

/// WAHA's success has no body, so this client used to drop whatever came
/// with it unread; it is read within the cap like any other reply.
#[tokio::test]
async fn a_reply_past_the_cap_is_a_malformed_reply_and_not_confirmed() {
    let huge = Answer::Huge {
        bytes: 40 * 1024 * 1024,
        declared: false,
    };
    let server = testing::serve(huge).await;
    let dir = tempfile::tempdir().unwrap();
    let client = waha(&server.base, &dir);
    let error = client.block(&users(1)).await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "POST {}/api/contacts/block: malformed reply (HTTP 200): the body is larger than 16 MiB, far more than any block-list reply",
            server.base
        )
    );
    assert_eq!(server.hits(), 1);
    // Not recorded as blocked, but kept as maybe blocked: the 200 may have
    // been WAHA blocking it.
    assert_eq!(client.unconfirmed().await.unwrap(), users(1));
}

/// A per-contact refusal ends up in the report; a server that echoes the
/// request's headers must not get the key printed there.
#[tokio::test]
async fn server_text_that_echoes_the_key_is_redacted() {
    let echo = json!({"statusCode": 400, "message": format!("bad X-Api-Key: {KEY}")});
    let reply = Answer::Fixed {
        status: "400 Bad Request",
        headers: Vec::new(),
        body: echo.to_string().into_bytes(),
    };
    let server = testing::serve(reply).await;
    let dir = tempfile::tempdir().unwrap();
    let result = waha(&server.base, &dir).block(&users(1)).await.unwrap();
    assert_eq!(result.failed[0].message, "bad X-Api-Key: ***");
}

/// reqwest would send `user:password@` as `Authorization: Basic`: a client
/// is never built on such a URL, nor on one with a query string.
#[test]
fn a_base_url_with_userinfo_or_a_query_is_refused_unshown() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "http://admin:pa55w0rd@127.0.0.1:9",
        "http://127.0.0.1:9?api_key=pa55w0rd",
    ] {
        let config = WahaConfig {
            base_url: url.to_string(),
            session: "default".into(),
            business_phone: PHONE.into(),
            ledger: dir.path().join("bot.ledger.json"),
            api_key: Secret::new(KEY),
            api_key_var: API_KEY_VAR.into(),
            retry: RetryPolicy::default(),
        };
        let error = Waha::new(config).unwrap_err().to_string();
        assert!(error.starts_with("WAHA base_url "), "{error}");
        assert!(!error.contains("pa55w0rd"), "{error}");
    }
}

#[tokio::test]
async fn a_failed_tls_handshake_is_not_retried() {
    let server = testing::serve(Answer::Raw(b"HTTP/1.1 400 Bad Request\r\n\r\n")).await;
    let dir = tempfile::tempdir().unwrap();
    let client = waha(&server.base.replace("http://", "https://"), &dir);
    let error = client.block(&users(1)).await.unwrap_err().to_string();
    assert!(error.contains("the TLS handshake failed"), "{error}");
    assert_eq!((server.hits(), client.stats().retries()), (1, 0));
}
