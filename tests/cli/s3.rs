//! The state in an S3-compatible store: moto's server on 127.0.0.1, started
//! and stopped by each test. Without `moto_server` on the PATH these tests
//! say so and pass, except under `CI=true`, where `.ci/run` installs it and
//! they must run.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::*;

const BUCKET: &str = "blocklist-state";

/// A moto S3 server on a free loopback port, killed on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Start it, or `None` (with a note) when it is not installed outside CI.
    fn start() -> Option<Moto> {
        let installed = Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "moto_server is not installed; .ci/run installs it (pip install 'moto[server]')"
            );
            eprintln!("skipped: moto_server is not installed (pip install 'moto[server]')");
            return None;
        }
        // A port the kernel just handed out and we let go of: moto binds it
        // next. Should another process take it first, moto fails to start
        // and the test says so rather than talking to a stranger.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut moto = Moto { child, port };
        eventually("moto_server to listen", || {
            assert!(
                moto.child.try_wait().unwrap().is_none(),
                "moto_server exited at start (port {port} taken?)"
            );
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert_eq!(
            moto.raw("PUT", &format!("/{BUCKET}"), b""),
            200,
            "create the bucket"
        );
        Some(moto)
    }

    fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            (
                "AWS_ENDPOINT_URL",
                &format!("http://127.0.0.1:{}", self.port),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// One unsigned request (moto does not check signatures); the status.
    fn raw(&self, method: &str, path: &str, body: &[u8]) -> u16 {
        self.exchange(method, path, body).0
    }

    /// [`Moto::raw`], with the answer's text.
    fn exchange(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, answer)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(ws: &Workspace, moto: &Moto, args: &[&str]) -> Run {
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ws.spawn_with(args, &env).wait(Duration::from_secs(120))
}

fn users(range: std::ops::Range<u32>) -> String {
    range.map(|i| format!("  - \"86133{i:08}\"\n")).collect()
}

/// Two applies on one target, from two checkouts sharing the S3 state: the
/// second is refused by the lock while the first is sending.
#[test]
fn two_concurrent_applies_on_one_target_one_is_refused_by_the_lock() {
    let Some(moto) = Moto::start() else { return };
    let state = format!("s3://{BUCKET}/ci");
    let emu = Emulator::start(
        &serde_json::json!({"phones": {}, "waha": {"default": {"blocked": []}}}),
        // 300 contacts, 4 at a time, 50 ms each: run A sends for about
        // 4 s, far longer than run B needs to reach the lock.
        &["--latency-ms", "50"],
    );
    let (a, b) = (Workspace::new(), Workspace::new());
    for ws in [&a, &b] {
        ws.write(
            "t.yaml",
            &format!(
                "business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"{}\", session: default}}\nmode: additive\nblocked:\n{}",
                emu.base_url(),
                users(0..300)
            ),
        );
    }
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let first = a.spawn_with(&["apply", "t.yaml", "--yes", "--state", &state], &env);
    eventually("run A's first block", || {
        emu.by_route("/api/contacts/block") > 0
    });
    let first_pid = first.pid();
    let second = run(&b, &moto, &["apply", "t.yaml", "--yes", "--state", &state]);
    let first = first.wait(Duration::from_secs(120));
    first.code(0);
    match second.code {
        1 => {
            let holder =
                format!("s3://{BUCKET}/ci/waha-{PHONE}/lock.json is held by pid {first_pid} on ");
            assert!(second.all().contains(&holder), "{}", second.all());
        }
        // A had already finished (a very slow machine): B went after it.
        0 => {}
        _ => panic!("run B: {second:?}"),
    }
    // The lock went with run A.
    run(&a, &moto, &["unlock", "t.yaml", "--state", &state]).code(0);
    let unlock = run(&a, &moto, &["unlock", "t.yaml", "--state", &state]);
    assert!(unlock.all().contains("not locked"), "{}", unlock.all());
}

/// Deferrals kept in S3 are seen from a fresh checkout, and a damaged
/// state object is an error naming it; nothing is sent, nothing reset.
#[test]
fn s3_state_survives_a_fresh_checkout_and_a_damaged_object_is_an_error() {
    let Some(moto) = Moto::start() else { return };
    let state = format!("s3://{BUCKET}/prod");
    let emu = Emulator::start(&state_of(&[], &["8613300000001"]), &[]);
    let body = "blocked:\n  - \"8613300000001\"\n  - \"8613300000002\"\n";
    let first = Workspace::new();
    first.target("t.yaml", &emu, body);
    run(
        &first,
        &moto,
        &["apply", "t.yaml", "--yes", "--state", &state],
    )
    .code(0);
    drop(first);

    // A new checkout: nothing local, the state in S3.
    let fresh = Workspace::new();
    fresh.target("t.yaml", &emu, body);
    let plan = run(
        &fresh,
        &moto,
        &["plan", "t.yaml", "--format", "json", "--state", &state],
    );
    plan.code(0);
    let t = &plan.json()["targets"][0];
    assert_eq!(t["deferred"][0]["user"], "8613300000002", "{t}");
    assert_eq!(t["deferred"][0]["attempts"], 1, "{t}");
    // A second apply from the fresh checkout counts another attempt: a
    // conditional update of the deferrals object.
    run(
        &fresh,
        &moto,
        &["apply", "t.yaml", "--yes", "--state", &state],
    )
    .code(0);
    let plan = run(
        &fresh,
        &moto,
        &["plan", "t.yaml", "--format", "json", "--state", &state],
    );
    assert_eq!(plan.json()["targets"][0]["deferred"][0]["attempts"], 2);
    let why = run(
        &fresh,
        &moto,
        &["why", "8613300000001", "t.yaml", "--state", &state],
    );
    assert!(why.all().contains("blocked  (apply)"), "{}", why.all());

    // A damaged deferrals object (written by hand: half of one).
    let damaged = format!("s3://{BUCKET}/damaged");
    let object = format!("/{BUCKET}/damaged/nxcloud-{PHONE}/deferrals.json");
    let (status, answer) = moto.exchange("PUT", &object, b"{\"format_version\": 1, \"defer");
    assert_eq!(status, 200, "{answer}");
    let before = emu.requests();
    let apply = run(
        &fresh,
        &moto,
        &["apply", "t.yaml", "--yes", "--state", &damaged],
    );
    apply.code(1);
    assert!(
        apply.all().contains(&format!(
            "the state object s3://{BUCKET}/damaged/nxcloud-{PHONE}/deferrals.json is damaged"
        )),
        "{}",
        apply.all()
    );
    assert_eq!(emu.requests(), before, "nothing was sent");
    // Never reset: the object is as it was, and the refused apply let go
    // of its lock.
    let again = run(&fresh, &moto, &["plan", "t.yaml", "--state", &damaged]);
    again.code(1);
    assert!(again.all().contains("is damaged"), "{}", again.all());
    let unlock = run(&fresh, &moto, &["unlock", "t.yaml", "--state", &damaged]);
    assert!(unlock.all().contains("not locked"), "{}", unlock.all());
}

fn state_of(blocked: &[&str], recent: &[&str]) -> serde_json::Value {
    state(blocked, recent)
}

/// A WAHA target without `ledger:` keeps its ledger in the state: with the
/// state in S3, a fresh checkout knows what the tool blocked and plans
/// nothing again.
#[test]
fn a_waha_ledger_in_s3_survives_a_fresh_checkout() {
    let Some(moto) = Moto::start() else { return };
    let state = format!("s3://{BUCKET}/waha");
    let emu = Emulator::start(
        &serde_json::json!({"phones": {}, "waha": {"default": {"blocked": []}}}),
        &[],
    );
    let file = format!(
        "business_phone: \"+{PHONE}\"\nprovider: {{kind: waha, base_url: \"{}\", session: default}}\nblocked:\n{}",
        emu.base_url(),
        users(0..3)
    );
    let first = Workspace::new();
    first.write("bot.yaml", &file);
    run(
        &first,
        &moto,
        &["apply", "bot.yaml", "--yes", "--state", &state],
    )
    .code(0);
    assert!(
        !first.path("bot.ledger.json").exists(),
        "no ledger file beside it"
    );
    drop(first);

    let fresh = Workspace::new();
    fresh.write("bot.yaml", &file);
    let plan = run(
        &fresh,
        &moto,
        &[
            "plan",
            "bot.yaml",
            "--format",
            "json",
            "--detailed-exitcode",
            "--state",
            &state,
        ],
    );
    plan.code(0);
    let t = &plan.json()["targets"][0];
    assert_eq!(t["block"], serde_json::json!([]), "{t}");
    assert_eq!(t["unchanged"], 3, "{t}");
    let notes = t["notes"].to_string();
    assert!(
        notes.contains(&format!("s3://{BUCKET}/waha/waha-{PHONE}/ledger.json")),
        "{notes}"
    );
}
