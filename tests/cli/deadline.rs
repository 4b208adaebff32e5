//! `--timeout`: a deadline for the whole run, whatever the server does.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::harness::*;

/// A server on loopback that answers every request with `reply` (`None`:
/// reads the request and never answers).
fn serve(reply: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            match reply {
                Some(reply) => {
                    let _ = stream.write_all(reply.as_bytes());
                }
                // Kept open, so the client waits for an answer.
                None => held.push(stream),
            }
        }
    });
    base
}

fn nxcloud_target(ws: &Workspace, base_url: &str) {
    ws.write(
        "t.yaml",
        &format!(
            "business_phone: \"+{PHONE}\"\nprovider: {{kind: nxcloud, appkey: {APPKEY}, base_url: \"{base_url}\"}}\nblocked:\n  - \"8613300000001\"\n"
        ),
    );
}

/// Without a deadline one `Retry-After: 999999` (capped at two minutes, six
/// attempts) cost ten minutes. With `--timeout 10s` the first wait would
/// cross the deadline, so it is not started.
#[test]
fn a_server_that_always_says_retry_after_999999_costs_no_more_than_the_timeout() {
    let base = serve(Some(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 999999\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ));
    let ws = Workspace::new();
    nxcloud_target(&ws, &base);
    for command in ["plan", "drift"] {
        let started = Instant::now();
        let run = ws.run(&[command, "t.yaml", "--timeout", "10s"]);
        let took = started.elapsed();
        run.code(1);
        assert!(took < Duration::from_secs(30), "{command} took {took:?}");
        let all = run.all();
        assert!(
            all.contains("not waiting 2m to retry, as that would end past it"),
            "{all}"
        );
        assert!(
            all.contains(
                "error: the run's deadline (--timeout 10s) was reached: it stopped sending"
            ),
            "{all}"
        );
    }
    // The same through apply, whose report still says what was (not) done.
    let started = Instant::now();
    let run = ws.run(&[
        "apply",
        "t.yaml",
        "--yes",
        "--timeout",
        "10s",
        "--format",
        "json",
    ]);
    assert!(started.elapsed() < Duration::from_secs(30));
    run.code(1);
    let report = run.json();
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("the run's deadline (--timeout 10s) was reached"),
        "{report}"
    );
}

/// A server that never answers holds the run no longer than the deadline.
#[test]
fn a_server_that_never_answers_is_abandoned_at_the_deadline() {
    let base = serve(None);
    let ws = Workspace::new();
    nxcloud_target(&ws, &base);
    let started = Instant::now();
    let run = ws.run(&["plan", "t.yaml", "--timeout", "2s"]);
    let took = started.elapsed();
    run.code(1);
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(
        run.all()
            .contains("the request in flight was abandoned unanswered"),
        "{}",
        run.all()
    );
}

#[test]
fn timeouts_are_checked_and_0_means_none() {
    let ws = Workspace::new();
    let run = ws.run(&["plan", "--timeout", "soon"]);
    run.code(1);
    assert!(
        run.stderr.contains(
            "\"soon\" is not a duration: write e.g. 90s, 20m, 1h or 1h30m, or 0 for none"
        ),
        "{}",
        run.stderr
    );
    let emu = Emulator::start(&state(&[], &[]), &[]);
    ws.target("t.yaml", &emu, "blocked: []\n");
    ws.run(&["plan", "t.yaml", "--timeout", "0"]).code(0);
}

/// The deadline passes mid-apply: what was done is reported, and it is
/// exactly what the platform holds.
#[test]
fn an_apply_cut_by_the_deadline_reports_what_it_did() {
    let wanted: Vec<String> = (0..60).map(|i| format!("86133{i:08}")).collect();
    let emu = Emulator::start(
        &serde_json::json!({"phones": {}, "waha": {"default": {"blocked": []}}}),
        &["--latency-ms", "300"],
    );
    let ws = Workspace::new();
    let list: String = wanted.iter().map(|u| format!("  - \"{u}\"\n")).collect();
    ws.write(
        "t.yaml",
        &format!(
            "business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"{}\", session: default}}\nblocked:\n{list}",
            emu.base_url()
        ),
    );
    // 60 contacts, 4 at a time, 300 ms each: about 4.5 s of work.
    let run = ws.run(&[
        "apply",
        "t.yaml",
        "--yes",
        "--timeout",
        "2s",
        "--format",
        "json",
        "--report",
        "r.json",
    ]);
    run.code(1);
    assert!(
        run.stderr
            .contains("error: the run's deadline (--timeout 2s) was reached"),
        "{}",
        run.stderr
    );
    let report: serde_json::Value = serde_json::from_str(&read(&ws.path("r.json"))).unwrap();
    let reported: Vec<String> = report["targets"][0]["blocked"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let mut held: Vec<String> = emu.state()["waha"]["default"]["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    held.sort();
    let mut reported_sorted = reported.clone();
    reported_sorted.sort();
    // Requests abandoned at the deadline may still have been carried out
    // by the server: those are the ledger's pending ones, never reported
    // blocked. Everything reported blocked is blocked.
    for user in &reported {
        assert!(held.contains(user), "{user} reported blocked, not held");
    }
    assert!(
        reported.len() < wanted.len(),
        "the deadline cut the run: {report}"
    );
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("the run's deadline (--timeout 2s) was reached"),
        "{report}"
    );
}
