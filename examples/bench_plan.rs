//! Benchmark: plan (and apply) 64 000 desired against 64 000 live entries
//! with 10% churn, against the emulator over loopback, with the release binary.
//!
//!     cargo run --release --example bench_plan
//!
//! Prints whole-process wall time, peak RSS and requests sent for each run.
//! A benchmark, not a test: these machines are shared and noisy, so nothing
//! here asserts a time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const PHONE: &str = "8615800001795";
const TOTAL: u32 = 64_000;
const CHURN: u32 = TOTAL / 10;

fn main() {
    let bin = release_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let user = |i: u32| format!("86133{i:08}");

    // Live: users 0..64 000. Desired: 6 400..70 400, so 6 400 to unblock
    // and 6 400 to block. Every desired user messaged recently.
    let live: Vec<String> = (0..TOTAL).map(user).collect();
    let desired: Vec<String> = (CHURN..TOTAL + CHURN).map(user).collect();
    let state = serde_json::json!({"phones": {PHONE: {
        "appkey": "bench", "blocked": live, "recent_contacts": desired}}});
    let state_path = dir.path().join("state.json");
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();

    for command in ["plan", "apply"] {
        // A fresh emulator per run, so each starts from the same state.
        std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
        let (mut emulator, addr) = start_emulator(&bin, &state_path);
        let file = dir.path().join("target.yaml");
        let mut yaml = format!(
            "business_phone: \"{PHONE}\"\nprovider: {{kind: nxcloud, appkey: bench, base_url: \"http://{addr}\"}}\nsafety: {{max_unblocks: 100000, max_unblock_ratio: 1}}\nblocked:\n"
        );
        for u in &desired {
            yaml.push_str(&format!("  - \"{u}\"\n"));
        }
        std::fs::write(&file, yaml).unwrap();

        let mut args = vec![command, file.to_str().unwrap(), "--format", "json", "-q"];
        if command == "apply" {
            args.push("--yes");
        }
        let started = Instant::now();
        let child = Command::new(&bin)
            .args(&args)
            .env("NXCLOUD_ACCESS_KEY", "bench-key")
            .env("NXCLOUD_ACCESS_SECRET", "bench-secret")
            .stdout(Stdio::null())
            .spawn()
            .expect("run blocklist");
        let (code, peak_kib) = wait_with_peak_rss(child);
        let wall = started.elapsed();
        let requests = admin(&addr, "/_emulator/stats")["requests"]
            .as_u64()
            .unwrap_or(0);
        let minimum = match command {
            "plan" => TOTAL.div_ceil(1000),
            _ => TOTAL.div_ceil(1000) + 2 * CHURN.div_ceil(1000),
        };
        println!(
            "{command:5}  exit {code}  wall {:7.3} s  peak RSS {:6.1} MiB  requests {requests} (minimum {minimum})",
            wall.as_secs_f64(),
            peak_kib as f64 / 1024.0
        );
        let _ = emulator.kill();
        let _ = emulator.wait();
    }
}

/// The release binary, built if needed (an example does not build binaries).
fn release_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--bin", "blocklist"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo build");
    assert!(status.success(), "cargo build --release failed");
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/blocklist")
}

fn start_emulator(bin: &Path, state: &Path) -> (Child, String) {
    let mut child = Command::new(bin)
        .args(["emulator", "--listen", "127.0.0.1:0", "--state"])
        .arg(state)
        .env("NXCLOUD_ACCESS_KEY", "bench-key")
        .env("NXCLOUD_ACCESS_SECRET", "bench-secret")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start emulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap_or_default()
        .to_string();
    (child, addr)
}

/// Wait for `child` and return its exit code and peak resident set (KiB),
/// from the kernel's accounting for that one process (wait4).
fn wait_with_peak_rss(child: Child) -> (i32, i64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain FFI call with valid pointers to locals.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4 failed");
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

fn admin(addr: &str, path: &str) -> serde_json::Value {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap_or("{}")).unwrap_or_default()
}
