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

/// What a server says reaches errors, logs and reports; a gateway that
/// echoes the request's headers must not get the token printed.
#[tokio::test]
async fn server_text_that_echoes_the_token_is_redacted() {
    let error = json!({"error": {"code": 100, "type": "OAuthException",
        "message": format!("(#100) Bad header Authorization: Bearer {TOKEN}"),
        "error_data": format!("sent {TOKEN}"), "fbtrace_id": TOKEN}});
    let reply = Answer::Fixed {
        status: "400 Bad Request",
        headers: Vec::new(),
        body: error.to_string().into_bytes(),
    };
    let server = testing::serve(reply).await;
    let client = cloud_api(&server.base);
    let error = format!(
        "{:#}",
        client.block(&users(&["8613300000001"])).await.unwrap_err()
    );
    assert!(
        error.ends_with(
            "Meta error 100 (OAuthException): Bad header Authorization: Bearer *** (sent ***)"
        ),
        "{error}"
    );

    // A per-user message, which ends up in the report.
    let failed = json!({"input": "8613300000001", "errors": [{"code": 131000,
        "message": format!("token {TOKEN}")}]});
    let reply = json!({"block_users": {"failed_users": [failed]}});
    let server = testing::serve(Answer::ok(&reply.to_string())).await;
    let result = cloud_api(&server.base)
        .block(&users(&["8613300000001"]))
        .await;
    assert_eq!(result.unwrap().failed[0].message, "token ***");

    // serde quotes what it could not read.
    let reply = json!({"data": TOKEN});
    let server = testing::serve(Answer::ok(&reply.to_string())).await;
    let error = format!("{:#}", cloud_api(&server.base).list().await.unwrap_err());
    assert!(error.contains("malformed reply (HTTP 200): "), "{error}");
    assert!(!error.contains(TOKEN), "{error}");
}

/// reqwest would send `user:password@` as `Authorization: Basic`: a client
/// is never built on such a URL, nor on one with a query string (where a
/// base_url's query ends up, the path is appended to it).
#[test]
fn a_url_with_userinfo_or_a_query_is_refused_unshown() {
    for base in [
        "http://admin:pa55w0rd@127.0.0.1:9",
        "http://127.0.0.1:9/?access_token=pa55w0rd",
    ] {
        let url = CloudApiConfig::meta_url(base, "v25.0", ID);
        let error = CloudApi::new(CloudApiConfig::new(url, Secret::new(TOKEN)))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("cloud-api URL "), "{error}");
        assert!(!error.contains("pa55w0rd"), "{error}");
    }
}

#[tokio::test]
async fn a_failed_tls_handshake_is_not_retried() {
    let server = testing::serve(Answer::Raw(b"HTTP/1.1 400 Bad Request\r\n\r\n")).await;
    let client = cloud_api(&server.base.replace("http://", "https://"));
    let error = client.list().await.unwrap_err().to_string();
    assert!(error.contains("the TLS handshake failed"), "{error}");
    assert_eq!((server.hits(), client.stats().retries()), (1, 0));
}
