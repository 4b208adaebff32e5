//! A small harness that runs the real `blocklist` binary against the real
//! emulator (another `blocklist` process) over HTTP on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_blocklist");
/// Distinctive too: the key is not a secret on its own, but it is never printed either.
pub const ACCESS_KEY: &str = "AK-test-3e9b-not-printed";
/// Distinctive, so a leak is easy to grep for in any output.
pub const ACCESS_SECRET: &str = "s3cr3t-DO-NOT-LEAK-7f1c";
pub const WHATSAPP_TOKEN: &str = "EAAG-test-token-9d2f-not-printed";
pub const WAHA_API_KEY: &str = "waha-test-key-41c7-not-printed";
pub const PHONE: &str = "8615800001795";
pub const APPKEY: &str = "testapp";

/// A running emulator process, killed on drop.
pub struct Emulator {
    child: Child,
    pub addr: String,
    dir: tempfile::TempDir,
}

impl Emulator {
    /// Start `blocklist emulator` on a free port with `state` as its JSON
    /// state and extra fault flags.
    pub fn start(state: &serde_json::Value, flags: &[&str]) -> Emulator {
        Emulator::start_with_env(state, flags, &[])
    }

    /// [`Emulator::start`] with some of its variables set otherwise: an
    /// emulator with other credentials is another provider account.
    pub fn start_with_env(
        state: &serde_json::Value,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> Emulator {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, serde_json::to_vec_pretty(state).unwrap()).unwrap();
        // Its log (at -vv, every request) goes to a file the tests can read.
        let log = std::fs::File::create(dir.path().join("emulator.log")).unwrap();
        let mut child = Command::new(BIN)
            .args(["-vv", "emulator", "--listen", "127.0.0.1:0", "--state"])
            .arg(&path)
            .args(flags)
            .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
            .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
            .env("WHATSAPP_TOKEN", WHATSAPP_TOKEN)
            .env("WAHA_API_KEY", WAHA_API_KEY)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .unwrap_or_else(|| panic!("emulator did not announce its address: {line:?}"))
            .to_string();
        Emulator { child, addr, dir }
    }

    /// What the emulator printed on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("emulator.log")).unwrap_or_default()
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Total requests the emulator received (all routes, faulted ones too).
    pub fn requests(&self) -> u64 {
        self.admin("/_emulator/stats")["requests"].as_u64().unwrap()
    }

    /// Requests by method and path, e.g. `"DELETE /v25.0/1/block_users"`.
    pub fn by_request(&self, request: &str) -> u64 {
        self.admin("/_emulator/stats")["by_request"][request]
            .as_u64()
            .unwrap_or(0)
    }

    pub fn by_route(&self, route: &str) -> u64 {
        self.admin("/_emulator/stats")["by_route"][route]
            .as_u64()
            .unwrap_or(0)
    }

    /// Provider requests as the emulator saw them, by arrival: (microseconds
    /// since it started, "METHOD /path", HTTP status).
    pub fn request_log(&self) -> Vec<(u64, String, u16)> {
        let log = self.admin("/_emulator/requests");
        let mut requests: Vec<(u64, String, u16)> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let what = format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap()
                );
                let status = r["status"].as_u64().unwrap() as u16;
                (r["at_us"].as_u64().unwrap(), what, status)
            })
            .collect();
        requests.sort();
        requests
    }

    /// The emulator's whole state, as `GET /_emulator/state` shows it.
    pub fn state(&self) -> serde_json::Value {
        self.admin("/_emulator/state")
    }

    /// The users currently blocked for the test phone, sorted.
    pub fn blocked(&self) -> Vec<String> {
        let state = self.state();
        let mut users: Vec<String> = state["phones"][PHONE]["blocked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        users.sort();
        users
    }

    fn admin(&self, path: &str) -> serde_json::Value {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("bad admin reply {response:?}: {e}"))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Emulator state with one phone: `blocked` live, `recent` may be blocked.
pub fn state(blocked: &[&str], recent: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "phones": {
            PHONE: {"appkey": APPKEY, "blocked": blocked, "recent_contacts": recent}
        }
    })
}

/// A scratch directory holding desired-state files.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, content).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A desired-state file for the test phone on `emulator`, with `body`
    /// (mode, blocked, unblock…) appended.
    pub fn target(&self, name: &str, emulator: &Emulator, body: &str) -> PathBuf {
        self.write(
            name,
            &format!(
                "business_phone: \"+{PHONE}\"\nprovider:\n  kind: nxcloud\n  appkey: {APPKEY}\n  base_url: {}\n{body}",
                emulator.base_url()
            ),
        )
    }

    /// Run the real binary in this workspace with the client's credentials set.
    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args)
            .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
            .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
            .env("WHATSAPP_TOKEN", WHATSAPP_TOKEN)
            .env("WAHA_API_KEY", WAHA_API_KEY)
            .run()
    }

    /// Start the real binary in this workspace, with the client's
    /// credentials, and return at once; its output goes to files, so it
    /// never blocks on a full pipe however long the test waits.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        self.spawn_with(args, &[])
    }

    /// [`Workspace::spawn`] with more environment variables set.
    pub fn spawn_with(&self, args: &[&str], env: &[(&str, &str)]) -> Spawned {
        let out = tempfile::tempdir().unwrap();
        let stdout = std::fs::File::create(out.path().join("stdout")).unwrap();
        let stderr = std::fs::File::create(out.path().join("stderr")).unwrap();
        let mut cmd = self.command(args);
        for (key, value) in env {
            cmd = cmd.env(key, value);
        }
        let child = cmd
            .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
            .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
            .env("WHATSAPP_TOKEN", WHATSAPP_TOKEN)
            .env("WAHA_API_KEY", WAHA_API_KEY)
            .cmd
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        Spawned { child, out }
    }

    /// A command to customise (environment, stdin) before running.
    pub fn command(&self, args: &[&str]) -> Cmd {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("NXCLOUD_ACCESS_KEY")
            .env_remove("NXCLOUD_ACCESS_SECRET")
            .env_remove("WHATSAPP_TOKEN")
            .env_remove("WAHA_API_KEY")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("BLOCKLIST_STATE")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        Cmd { cmd }
    }
}

pub struct Cmd {
    cmd: Command,
}

impl Cmd {
    pub fn env(mut self, key: &str, value: &str) -> Cmd {
        self.cmd.env(key, value);
        self
    }

    pub fn run(mut self) -> Run {
        let out = self.cmd.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A run of the binary in the background ([`Workspace::spawn`]).
pub struct Spawned {
    pub child: Child,
    out: tempfile::TempDir,
}

impl Spawned {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed on stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.out.path().join("stdout")).unwrap_or_default()
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.out.path().join("stderr")).unwrap_or_default()
    }

    /// Send it `signal` (e.g. `libc::SIGINT`).
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet.
        assert_eq!(
            unsafe { libc::kill(pid, signal) },
            0,
            "kill({pid}, {signal})"
        );
    }

    /// Wait for it to end (at most `limit`, then it is killed and the test
    /// fails) and collect its exit code and output.
    pub fn wait(mut self, limit: Duration) -> Run {
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("still running after {limit:?}; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let read = |name: &str| std::fs::read_to_string(self.out.path().join(name)).unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: read("stdout"),
            stderr: read("stderr"),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `ready` until it holds; panics naming `what` after a minute, far
/// beyond what any step here needs, so only a hang ever reaches it.
pub fn eventually(what: &str, mut ready: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Assert the exit code, showing both streams when it is wrong.
    pub fn code(&self, want: i32) -> &Run {
        assert_eq!(
            self.code, want,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A workspace holding a copy of one corpus case (as `case.name`) and the
/// files the corpus cases include.
pub fn corpus_workspace(case: &crate::corpus::Case) -> Workspace {
    let ws = Workspace::new();
    ws.write(&case.name, &case.text);
    for (name, text) in crate::corpus::includes() {
        ws.write(&format!("includes/{name}"), &text);
    }
    ws
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}
