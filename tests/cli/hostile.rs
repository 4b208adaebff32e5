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
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (base, hits)
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
fn a_redirect_sends_nothing_to_the_other_host_and_no_userinfo_is_shown() {
    let (elsewhere, elsewhere_hits) =
        serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".into());
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {elsewhere}/api/wa/getBlockUsers\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (base, hits) = serve(redirect);
    let ws = Workspace::new();
    nxcloud_target(&ws, &base.replace("http://", "http://ops:pa55w0rd@"));
    let run = ws.run(&["plan", "t.yaml", "-vv"]);
    run.code(1);
    let expected = format!(
        "POST {base}/api/wa/getBlockUsers: HTTP 307 Temporary Redirect: redirects are not followed: credentials must not go to another host"
    );
    assert!(run.all().contains(&expected), "{}", run.all());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
    let all = run.all();
    for secret in ["pa55w0rd", ACCESS_KEY, ACCESS_SECRET] {
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
