//! The real binary against a broken or hostile provider: what reaches the
//! user's terminal, and what reaches another host.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::harness::*;

/// Answer every connection on a loopback port with `reply` once a request
/// head has arrived; count the connections.
fn serve(reply: String) -> (String, Arc<AtomicUsize>) {
    serve_with(move |_| reply.clone())
}

/// Answer every connection with what `reply` makes of the request's head,
/// once the head and the body `Content-Length` announces have arrived (a
/// body left unread could turn the close into a reset the client sees
/// instead of the reply); count the connections.
fn serve_with(reply: impl Fn(&str) -> String + Send + 'static) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            let mut head_end = None;
            loop {
                if let Some(end) = head_end {
                    let head = String::from_utf8_lossy(&seen[..end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .and_then(|value| value.trim().parse().ok())
                        .unwrap_or(0);
                    if seen.len() >= end + length {
                        break;
                    }
                }
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
                head_end = head_end.or_else(|| {
                    let at = seen.windows(4).position(|w| w == b"\r\n\r\n")?;
                    Some(at + 4)
                });
            }
            let head = String::from_utf8_lossy(&seen[..head_end.unwrap_or(seen.len())]);
            let _ = stream.write_all(reply(&head).as_bytes());
        }
    });
    (base, hits)
}

/// A whole HTTP reply with this status line and JSON body.
fn reply(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn nxcloud_target(ws: &Workspace, base_url: &str) {
    ws.write(
        "t.yaml",
        &format!(
            "business_phone: \"+{PHONE}\"\nprovider: {{kind: nxcloud, appkey: {APPKEY}, base_url: \"{base_url}\"}}\nblocked:\n  - \"8613300000001\"\n"
        ),
    );
}

#[test]
fn a_redirect_sends_nothing_to_the_other_host() {
    let (elsewhere, elsewhere_hits) =
        serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".into());
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {elsewhere}/api/wa/getBlockUsers\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (base, hits) = serve(redirect);
    let ws = Workspace::new();
    nxcloud_target(&ws, &base);
    let run = ws.run(&["plan", "t.yaml", "-vv"]);
    run.code(1);
    let expected = format!(
        "POST {base}/api/wa/getBlockUsers: HTTP 307 Temporary Redirect: redirects are not followed: credentials must not go to another host"
    );
    assert!(run.all().contains(&expected), "{}", run.all());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
    let all = run.all();
    for secret in [ACCESS_KEY, ACCESS_SECRET] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
}

#[test]
fn a_reply_that_echoes_the_credentials_is_printed_redacted() {
    let body = format!(
        r#"{{"code":1002,"message":"bad request, headers: accessKey={ACCESS_KEY}","data":null}}"#
    );
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (base, _) = serve(reply);
    let ws = Workspace::new();
    nxcloud_target(&ws, &base);
    let run = ws.run(&["plan", "t.yaml", "-vv"]);
    run.code(1);
    assert!(
        run.all().contains("bad request, headers: accessKey=***"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains(ACCESS_KEY), "{}", run.all());
}

#[cfg(unix)]
#[test]
fn a_credential_that_is_not_utf8_is_named_as_such() {
    use std::os::unix::ffi::OsStrExt;
    let ws = Workspace::new();
    ws.write(
        "t.yaml",
        &format!(
            "business_phone: \"+{PHONE}\"\nprovider: {{kind: cloud-api, phone_number_id: \"106540352242922\", base_url: \"http://127.0.0.1:9\"}}\nblocked: []\n"
        ),
    );
    let out = std::process::Command::new(BIN)
        .args(["plan", "t.yaml"])
        .current_dir(ws.dir.path())
        .env("WHATSAPP_TOKEN", std::ffi::OsStr::from_bytes(b"EAAG\xff"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("WHATSAPP_TOKEN is set but not valid UTF-8"),
        "{stdout}{stderr}"
    );
}

/// What a URL must not carry, each with a value to look for in the output.
const URL_SECRET: &str = "pa55w0rd-in-url";

/// `user:password@` would go out as `Authorization: Basic`, and a query on
/// every request; both are refused by validate and by every command, with
/// the place in the file, quoting neither, before any request is sent.
#[test]
fn credentials_in_a_provider_url_are_refused_unquoted_and_nothing_is_sent() {
    let (base, hits) = serve_with(|head| reply("200 OK", &format!("{head:?}")));
    let with_userinfo = base.replace("http://", &format!("http://ops:{URL_SECRET}@"));
    let with_token = format!("{base}/?access_token={URL_SECRET}");
    let with_user = base.replace("http://", &format!("http://{URL_SECRET}@"));
    let providers = [
        (
            "nxcloud",
            format!("{{kind: nxcloud, appkey: {APPKEY}, base_url: \"{with_userinfo}\"}}"),
        ),
        (
            "nxcloud",
            format!("{{kind: nxcloud, appkey: {APPKEY}, base_url: \"{with_token}\"}}"),
        ),
        ("waha", format!("{{kind: waha, base_url: \"{with_user}\"}}")),
        (
            "cloud-api",
            format!("{{kind: cloud-api, phone_number_id: \"1065\", base_url: \"{with_token}\"}}"),
        ),
        (
            "cloud-api",
            format!("{{kind: cloud-api, endpoint: \"{with_userinfo}/block_users\"}}"),
        ),
        (
            "cloud-api",
            format!(
                "{{kind: cloud-api, endpoint: \"{base}/block_users?access_token={URL_SECRET}\"}}"
            ),
        ),
    ];
    for (kind, provider) in providers {
        let ws = Workspace::new();
        ws.write(
            "t.yaml",
            &format!("business_phone: \"+{PHONE}\"\nprovider: {provider}\nblocked:\n  - \"8613300000001\"\n"),
        );
        let validate = ws
            .command(&["validate", "t.yaml"])
            .env("GITHUB_ACTIONS", "true")
            .run();
        validate.code(1);
        assert!(
            validate.stdout.contains("error: t.yaml:2:")
                && validate.stdout.contains("must not hold")
                && validate.stdout.contains("::error file=t.yaml,line=2,"),
            "{kind}: {}",
            validate.all()
        );
        let runs = [
            validate,
            ws.run(&["plan", "t.yaml", "-vvv"]),
            ws.run(&["plan", "t.yaml", "-vvv", "--format", "json"]),
            ws.run(&["apply", "t.yaml", "-vvv", "--yes"]),
            ws.run(&["drift", "t.yaml", "-vvv"]),
        ];
        for run in runs {
            run.code(1);
            let all = run.all();
            assert!(all.contains("must not hold"), "{kind}: {all}");
            for leak in [URL_SECRET, "access_token", "ops:"] {
                assert!(!all.contains(leak), "{kind}: {leak} shown:\n{all}");
            }
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a request was sent");
}

/// A server (or a proxy in front of it) that echoes request headers shows
/// an `Authorization` value: the tool's own token, or a Basic one it never
/// sent. Neither reaches the output, at any verbosity.
#[test]
fn an_echoed_authorization_header_is_redacted_whatever_its_scheme() {
    // "admin:pa55w0rd", as a proxy would have sent it from a URL's userinfo.
    const BASIC: &str = "YWRtaW46cGE1NXcwcmQ=";
    let echo = |head: &str| format!("{head}authorization: Basic {BASIC}\r\n");
    let (nx_base, _) = serve_with(move |head| {
        let message = serde_json::to_string(&echo(head)).unwrap();
        reply(
            "200 OK",
            &format!(r#"{{"code":1002,"message":{message},"data":null}}"#),
        )
    });
    let (meta_base, _) = serve_with(move |head| {
        let message = serde_json::to_string(&echo(head)).unwrap();
        reply(
            "400 Bad Request",
            &format!(r#"{{"error":{{"message":{message},"type":"OAuthException","code":100}}}}"#),
        )
    });
    let (waha_base, _) = serve_with(move |head| {
        let message = serde_json::to_string(&echo(head)).unwrap();
        reply(
            "400 Bad Request",
            &format!(r#"{{"statusCode":400,"message":{message}}}"#),
        )
    });
    let ws = Workspace::new();
    let file = |name: &str, provider: String| {
        ws.write(
            name,
            &format!("business_phone: \"+{PHONE}\"\nprovider: {provider}\nblocked:\n  - \"8613300000001\"\n"),
        );
    };
    file(
        "nx.yaml",
        format!("{{kind: nxcloud, appkey: {APPKEY}, base_url: \"{nx_base}\"}}"),
    );
    file(
        "meta.yaml",
        format!("{{kind: cloud-api, phone_number_id: \"1065\", base_url: \"{meta_base}\"}}"),
    );
    file(
        "waha.yaml",
        format!("{{kind: waha, base_url: \"{waha_base}\"}}"),
    );
    for args in [
        &["plan", "nx.yaml", "-vvv"][..],
        &["plan", "nx.yaml", "-vvv", "--format", "json"],
        &["plan", "meta.yaml", "-vvv"],
        &["drift", "meta.yaml", "-vvv", "--format", "json"],
        &["apply", "waha.yaml", "-vvv", "--yes", "--report", "r.json"],
        &[
            "apply",
            "waha.yaml",
            "-vvv",
            "--yes",
            "--format",
            "markdown",
        ],
    ] {
        let run = ws.run(args);
        let mut all = run.all();
        if args.contains(&"r.json") {
            all.push_str(&read(&ws.path("r.json")));
        }
        // The echo is shown (so this checks something), its credentials not.
        assert!(all.contains("Basic ***"), "{args:?}:\n{all}");
        for leak in [
            BASIC,
            ACCESS_KEY,
            ACCESS_SECRET,
            WHATSAPP_TOKEN,
            WAHA_API_KEY,
        ] {
            assert!(!all.contains(leak), "{args:?}: {leak} shown:\n{all}");
        }
    }
}

/// A server's message is shown, on one line with its control characters
/// escaped, so no line of it can be read as a GitHub workflow command and no
/// escape sequence reaches a terminal, in any format, at any verbosity.
#[test]
fn a_server_message_cannot_start_a_workflow_command() {
    let message = "denied\n::set-output name=approved::true\r  ::add-mask::x ##[error]y\x1b[2J";
    let body = serde_json::json!({"code": 1002, "message": message, "data": null});
    let (base, _) = serve(reply("200 OK", &body.to_string()));
    let ws = Workspace::new();
    nxcloud_target(&ws, &base);
    for args in [
        &["plan", "t.yaml", "-vv"][..],
        &["plan", "t.yaml", "--format", "markdown"],
        &["plan", "t.yaml", "--format", "diff"],
        &["drift", "t.yaml"],
        &["apply", "t.yaml", "--yes"],
    ] {
        let run = ws
            .command(args)
            .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
            .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
            .env("GITHUB_ACTIONS", "true")
            .run();
        run.code(1);
        let all = run.all();
        assert!(all.contains("denied"), "{args:?}: {all}");
        assert!(!all.contains('\x1b'), "{args:?}: {all}");
        for line in all.split(['\n', '\r']) {
            assert!(!line.trim_start().starts_with("::"), "{args:?}: {line:?}");
            assert!(!line.contains("##["), "{args:?}: {line:?}");
        }
    }
}
