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

/// What a server says reaches errors, logs and reports; a gateway that
/// echoes the request's headers must not get the credentials printed.
#[tokio::test]
async fn server_text_that_echoes_the_credentials_is_redacted() {
    let echo = format!("bad parameter; you sent accessKey={KEY}, secret {SECRET}");
    let reply = json!({"code": 1002, "message": echo, "data": null});
    let server = testing::serve(Answer::ok(&reply.to_string())).await;
    let error = format!("{:#}", nxcloud(&server.base).list().await.unwrap_err());
    assert!(
        error.ends_with("you sent accessKey=***, secret ***)"),
        "{error}"
    );

    // A per-user message, which ends up in the report.
    let failed = json!({"input": "8613300000001", "errors": [{"code": 131000,
        "message": format!("header accessKey: {KEY}"), "error_data": {"details": SECRET}}]});
    let reply =
        json!({"code": 0, "message": "ok", "data": {"block_users": {"failed_users": [failed]}}});
    let server = testing::serve(Answer::ok(&reply.to_string())).await;
    let result = nxcloud(&server.base)
        .block(&users(&["8613300000001"]))
        .await;
    assert_eq!(
        result.unwrap().failed[0].message,
        "header accessKey: ***: ***"
    );

    // A value quoted by an error raised far from the exchange.
    let reply = json!({"code": 0, "message": "ok", "data": {"data": [{"wa_id": KEY}]}});
    let server = testing::serve(Answer::ok(&reply.to_string())).await;
    let error = format!("{:#}", nxcloud(&server.base).list().await.unwrap_err());
    assert!(error.contains(r#"malformed reply: wa_id "***""#), "{error}");

    // Retried messages are shown too, in the final error and the debug log.
    let reply = json!({"code": -1, "message": format!("failed for {KEY}"), "data": null});
    let server = testing::serve(Answer::ok(&reply.to_string())).await;
    let error = nxcloud(&server.base).list().await.unwrap_err().to_string();
    assert!(
        error.ends_with("NxCloud code -1: failed for ***"),
        "{error}"
    );
}

/// reqwest would send `user:password@` as `Authorization: Basic`: a client
/// is never built on such a URL, nor on one with a query string.
#[test]
fn a_base_url_with_userinfo_or_a_query_is_refused_unshown() {
    for url in [
        "http://admin:pa55w0rd@127.0.0.1:9",
        "https://admin:pa55w0rd@",
        "http://127.0.0.1:9/?access_token=pa55w0rd",
    ] {
        let config = NxCloudConfig::new(url, "a", "1", Credentials::new("k", "s"));
        let error = NxCloud::new(config).unwrap_err().to_string();
        assert!(error.starts_with("NxCloud base_url "), "{error}");
        assert!(!error.contains("pa55w0rd"), "{error}");
    }
}

#[tokio::test]
async fn a_failed_tls_handshake_is_not_retried() {
    let server = testing::serve(Answer::Raw(b"HTTP/1.1 400 Bad Request\r\n\r\n")).await;
    let client = nxcloud(&server.base.replace("http://", "https://"));
    let error = client.list().await.unwrap_err().to_string();
    assert!(error.contains("the TLS handshake failed"), "{error}");
    assert_eq!((server.hits(), client.stats().retries()), (1, 0));
}
