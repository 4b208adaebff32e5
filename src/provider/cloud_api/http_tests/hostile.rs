//! A broken or hostile server meets the shared rules of
//! [`crate::provider::http`]: no redirect is followed, no reply is read past
//! the cap.

use crate::provider::http::testing::{self, Answer};

use super::*;

fn cloud_api(base: &str) -> CloudApi {
    let url = CloudApiConfig::meta_url(base, "v25.0", ID);
    let mut config = CloudApiConfig::new(url, Secret::new(TOKEN));
    config.retry.base_delay = Duration::from_millis(1);
    CloudApi::new(config).unwrap()
}

#[tokio::test]
async fn a_redirect_is_fatal_and_the_other_host_hears_nothing() {
    let elsewhere = testing::serve(Answer::ok("{}")).await;
    let target = format!("{}/v25.0/{ID}/block_users", elsewhere.base);
    let server = testing::serve(Answer::redirect("308 Permanent Redirect", &target)).await;
    let client = cloud_api(&server.base);
    let error = client
        .block(&users(&["8613300000001"]))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "POST {}/v25.0/{ID}/block_users: HTTP 308 Permanent Redirect: redirects are not followed: credentials must not go to another host",
            server.base
        )
    );
    assert_eq!((server.hits(), elsewhere.hits()), (1, 0));
}

#[tokio::test]
async fn a_reply_past_the_cap_is_a_malformed_reply_and_not_retried() {
    let huge = Answer::Huge {
        bytes: 40 * 1024 * 1024,
        declared: true,
    };
    let server = testing::serve(huge).await;
    let client = cloud_api(&server.base);
    let error = client.list().await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("GET {}/v25.0/{ID}/block_users: ", server.base)),
        "{error}"
    );
    assert!(
        error.ends_with(
            ": malformed reply (HTTP 200): the body is larger than 16 MiB, far more than any block-list reply"
        ),
        "{error}"
    );
    assert_eq!(server.hits(), 1);
}
