//! What the benchmark examples share: the release binary, the emulator, and
//! the kernel's accounting of one child process (wall, CPU, peak RSS).
//! Not an example of its own: examples name it with `mod bench_common;`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The release binary, built if needed (an example does not build binaries).
/// `BENCH_BIN` names another build to measure instead (say, an older
/// commit's, for before and after).
pub fn release_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("BENCH_BIN") {
        return PathBuf::from(bin);
    }
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--bin", "blocklist"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo build");
    assert!(status.success(), "cargo build --release failed");
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/blocklist")
}

/// The binary that serves the emulator: always this checkout's release
/// build (built by [`release_binary`] unless `BENCH_BIN` is set), so a
/// before-and-after comparison changes the client only.
pub fn emulator_binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/blocklist")
}

/// A running `blocklist emulator`; killed when dropped.
pub struct Emulator {
    child: Child,
    pub addr: String,
}

impl Emulator {
    /// Serve `state` on a free loopback port; `extra` are more flags
    /// (`--latency-ms 25`, `--auto-create-phones`). Credentials for every
    /// provider the benchmarks use come from the environment set here.
    pub fn start(bin: &Path, state: &Path, extra: &[&str]) -> Emulator {
        let mut child = Command::new(bin)
            .args(["emulator", "--listen", "127.0.0.1:0", "--state"])
            .arg(state)
            .args(extra)
            .envs(credentials())
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
        Emulator { child, addr }
    }

    /// `GET path` on the emulator's admin routes, as JSON.
    pub fn admin(&self, path: &str) -> serde_json::Value {
        let addr = &self.addr;
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

    /// Provider requests served so far.
    pub fn requests(&self) -> u64 {
        self.admin("/_emulator/stats")["requests"]
            .as_u64()
            .unwrap_or(0)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The credentials both sides use.
pub fn credentials() -> [(&'static str, &'static str); 3] {
    [
        ("NXCLOUD_ACCESS_KEY", "bench-key"),
        ("NXCLOUD_ACCESS_SECRET", "bench-secret"),
        ("WAHA_API_KEY", "bench-waha-key"),
    ]
}

/// What the kernel accounted for one finished process.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub code: i32,
    pub wall: Duration,
    /// User plus system CPU time.
    pub cpu: Duration,
    pub peak_rss_kib: i64,
}

/// Run `bin args` with the benchmark credentials, output discarded, and
/// account for it with wait4.
pub fn run(bin: &Path, args: &[&str]) -> Run {
    let started = Instant::now();
    let child = Command::new(bin)
        .args(args)
        .envs(credentials())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run blocklist");
    wait(child, started)
}

/// Wait for `child` and return what the kernel accounted for exactly that
/// one process (wait4): exit code, CPU time, peak resident set.
pub fn wait(child: Child, started: Instant) -> Run {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain FFI call with valid pointers to locals.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4 failed");
    let wall = started.elapsed();
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Run {
        code: libc::WEXITSTATUS(status),
        wall,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        peak_rss_kib: usage.ru_maxrss,
    }
}

/// The median of `runs` by `key` (the upper one for an even count).
pub fn median<T: Copy, K: PartialOrd>(runs: &[T], key: impl Fn(&T) -> K) -> T {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| key(a).partial_cmp(&key(b)).unwrap());
    sorted[sorted.len() / 2]
}

/// How many times to repeat each measurement: `BENCH_RUNS` (default `default`).
pub fn runs(default: usize) -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// `ok` or `OVER` beside a figure and its bound.
pub fn verdict(within: bool) -> &'static str {
    if within { "ok" } else { "OVER" }
}
