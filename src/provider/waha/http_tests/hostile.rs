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
    assert!(client.list().await.unwrap().is_empty());
}

/// WAHA's success has no body, so this client used to drop whatever came
/// with it unread; it is read within the cap like any other reply.
#[tokio::test]
async fn a_reply_past_the_cap_is_a_malformed_reply_and_not_recorded() {
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
    assert!(client.list().await.unwrap().is_empty());
}
