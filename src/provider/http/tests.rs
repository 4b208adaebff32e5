//! The shared rules over real HTTP on 127.0.0.1: no redirect is followed,
//! and no reply body is read past the cap. Each client's own tests check
//! that it goes through these functions.

use super::testing::{self, Answer};
use super::*;

const WHAT: &str = "POST http://127.0.0.1/api/wa/getBlockUsers";

async fn get(base: &str) -> Result<Vec<u8>, Failure> {
    let client = client(Pool::NxCloud).unwrap();
    let response = send(client.post(format!("{base}/x")).body("secret-body")).await?;
    read_body(response).await
}

/// The failure, or a panic that says how much was read (never the bytes).
fn failed(result: Result<Vec<u8>, Failure>) -> Failure {
    match result {
        Ok(body) => panic!("the reply was read: {} bytes", body.len()),
        Err(failure) => failure,
    }
}

fn fatal_text(failure: Failure) -> String {
    match failure.into_attempt::<()>(WHAT) {
        Attempt::Fatal(error) => error.to_string(),
        Attempt::Transient { why, .. } => panic!("transient: {why}"),
        Attempt::Done(()) => panic!("done"),
    }
}

#[test]
fn urls_are_shown_without_userinfo() {
    for (url, shown) in [
        (
            "https://user:pa55@api2.nxcloud.com/x?y=1",
            "https://api2.nxcloud.com/x?y=1",
        ),
        ("http://user@127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("http://a:b@c@127.0.0.1/p@q", "http://127.0.0.1/p@q"),
        ("http://127.0.0.1:3000/", "http://127.0.0.1:3000/"),
        (
            "https://graph.facebook.com/v25.0/1/block_users?after=a@b",
            "https://graph.facebook.com/v25.0/1/block_users?after=a@b",
        ),
        ("not a url", "not a url"),
        ("ftp://u:p@host", "ftp://host"),
        ("ops:pa55@api.example/x", "api.example/x"),
        ("//ops:pa55@api.example", "api.example"),
        ("htp:/ops:pa55@api.example", "api.example"),
    ] {
        assert_eq!(shown_url(url), shown, "{url}");
    }
}

#[test]
fn configured_urls_are_quoted_without_userinfo_or_query() {
    for (url, quoted) in [
        (
            "https://user:pa55@api.example/x?access_token=pa55",
            "https://api.example/x?…",
        ),
        ("http://127.0.0.1:3000/p#pa55", "http://127.0.0.1:3000/p#…"),
        ("http://127.0.0.1:3000/", "http://127.0.0.1:3000/"),
        ("api.example?token=pa55", "api.example?…"),
    ] {
        assert_eq!(quoted_url(url), quoted, "{url}");
    }
}

#[test]
fn configured_urls_may_hold_no_credentials() {
    for good in [
        "http://127.0.0.1:9",
        "https://api2.nxcloud.com/",
        "https://h/a@b",
    ] {
        assert_eq!(url_problem(good), None, "{good}");
    }
    for (bad, problem) in [
        ("ftp://h", "must start with http://"),
        ("http://", "is not a URL (empty host)"),
        ("http://u:p@h", "must not hold a user name or password"),
        ("http://u@h", "must not hold a user name or password"),
        ("http://:p@h", "must not hold a user name or password"),
        ("http://h?", "must not hold a query string"),
        ("http://h/?access_token=t", "must not hold a query string"),
        ("http://h#", "must not hold a fragment"),
    ] {
        let found = url_problem(bad).unwrap_or_default();
        assert!(found.starts_with(problem), "{bad}: {found}");
    }
}

#[tokio::test]
async fn redirects_are_refused_and_the_other_host_hears_nothing() {
    let elsewhere = testing::serve(Answer::ok("{}")).await;
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "303 See Other",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let server =
            testing::serve(Answer::redirect(status, &format!("{}/y", elsewhere.base))).await;
        let text = fatal_text(failed(get(&server.base).await));
        assert_eq!(
            text,
            format!(
                "{WHAT}: HTTP {status}: redirects are not followed: credentials must not go to another host"
            )
        );
        assert_eq!(server.hits(), 1);
    }
    assert_eq!(elsewhere.hits(), 0, "a redirect was followed");
}

#[tokio::test]
async fn a_reply_up_to_the_cap_is_read_whole() {
    for declared in [true, false] {
        let huge = Answer::Huge {
            bytes: MAX_REPLY_BYTES,
            declared,
        };
        let server = testing::serve(huge).await;
        let read = get(&server.base).await.map(|body| body.len());
        assert_eq!(read.ok(), Some(MAX_REPLY_BYTES), "declared {declared}");
    }
}

/// The report that prompted the cap: a server streaming without end drove
/// the process to 5.8 GB. 40 MiB stands in for "without end".
#[tokio::test]
async fn a_reply_past_the_cap_is_a_fatal_malformed_reply() {
    for (bytes, declared) in [
        (MAX_REPLY_BYTES + 1, true),
        (MAX_REPLY_BYTES + 1, false),
        (40 * 1024 * 1024, false),
    ] {
        let server = testing::serve(Answer::Huge { bytes, declared }).await;
        let failure = failed(get(&server.base).await);
        assert_eq!(failure.log, "HTTP 200, reply too large");
        assert_eq!(
            fatal_text(failure),
            format!(
                "{WHAT}: malformed reply (HTTP 200): the body is larger than 16 MiB, far more than any block-list reply"
            ),
            "{bytes} declared {declared}"
        );
    }
}

#[tokio::test]
async fn a_reply_cut_short_is_worth_another_try() {
    let server = testing::serve(Answer::ok("{}")).await;
    let client = client(Pool::NxCloud).unwrap();
    let response = send(client.get(&server.base)).await.unwrap();
    // The cap itself is checked chunk by chunk; a tiny one shows it plainly.
    let failure = failed(read_at_most(response, 1).await);
    assert_eq!(failure.log, "HTTP 200, reply too large");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"code\":";
        let _ = stream.write_all(head.as_bytes()).await;
    });
    let failure = failed(get(&base).await);
    assert_eq!(failure.log, "HTTP 200, reply cut short");
    assert!(matches!(
        failure.into_attempt::<()>(WHAT),
        Attempt::Transient { why, .. } if why.starts_with("HTTP 200, reply cut short: ")
    ));
}

/// Speaking TLS to a port that speaks plain HTTP fails the same way every
/// time: fatal, with a hint, never retried as if the network had hiccuped.
#[tokio::test]
async fn a_failed_tls_handshake_is_fatal_with_a_hint() {
    let server = testing::serve(Answer::Raw(b"HTTP/1.1 400 Bad Request\r\n\r\n")).await;
    let url = server.base.replace("http://", "https://");
    let failure = failed(get(&url).await);
    let text = fatal_text(failure);
    assert!(
        text.starts_with(&format!("{WHAT}: error sending request: ")),
        "{text}"
    );
    assert!(
        text.contains("received corrupt message of type InvalidContentType"),
        "{text}"
    );
    assert!(
        text.ends_with("(the TLS handshake failed, and trying again will not fix it: check that the URL's scheme matches the server, https:// only where it speaks TLS, and that its certificate is valid)"),
        "{text}"
    );
}

/// What may pass stays transient: nothing listening, a connection dropped
/// before the reply, a server too slow to answer.
#[tokio::test]
async fn refused_dropped_and_slow_connections_are_transient() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let dropped = testing::serve(Answer::Hangup).await;
    for base in [refused.as_str(), dropped.base.as_str()] {
        let failure = failed(get(base).await);
        assert!(failure.log.starts_with("no reply ("), "{}", failure.log);
        assert!(
            matches!(failure.into_attempt::<()>(WHAT), Attempt::Transient { .. }),
            "{base}"
        );
    }

    let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", slow.local_addr().unwrap());
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let failure = send(impatient.get(base)).await.unwrap_err();
    assert!(matches!(
        failure.into_attempt::<()>(WHAT),
        Attempt::Transient { .. }
    ));
    drop(slow);
}
