//! A broken or hostile server meets the shared rules of
//! [`crate::provider::http`]: no redirect is followed, no reply is read past
//! the cap.

use crate::provider::http::testing::{self, Answer};

use super::*;

const LIST: &str = "/api/wa/getBlockUsers";

fn nxcloud(base: &str) -> NxCloud {
    let mut config = NxCloudConfig::new(
        base,
        "pem28kje",
        "8615800001795",
        Credentials::new(KEY, SECRET),
    );
    config.retry.base_delay = Duration::from_millis(1);
    NxCloud::new(config).unwrap()
}

/// The report: a 307 to another port received `accessKey`, `ts`, `sign`
/// and the body.
#[tokio::test]
async fn a_redirect_is_fatal_and_the_other_host_hears_nothing() {
    let elsewhere = testing::serve(Answer::ok("{}")).await;
    let target = format!("{}{LIST}", elsewhere.base);
    let server = testing::serve(Answer::redirect("307 Temporary Redirect", &target)).await;
    let client = nxcloud(&server.base);
    let error = client.list().await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "POST {}{LIST}: HTTP 307 Temporary Redirect: redirects are not followed: credentials must not go to another host",
            server.base
        )
    );
    assert_eq!((server.hits(), elsewhere.hits()), (1, 0));
    assert_eq!(client.stats().retries(), 0);
}

#[tokio::test]
async fn a_reply_past_the_cap_is_a_malformed_reply_and_not_retried() {
    let huge = Answer::Huge {
        bytes: 40 * 1024 * 1024,
        declared: false,
    };
    let server = testing::serve(huge).await;
    let client = nxcloud(&server.base);
    let error = client.list().await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "POST {}{LIST}: malformed reply (HTTP 200): the body is larger than 16 MiB, far more than any block-list reply",
            server.base
        )
    );
    assert_eq!(server.hits(), 1);
}
