//! The GitHub Action's script (action/run.sh) against a fake release served
//! on 127.0.0.1: it runs the binary only when its SHA-256 matches the
//! release's SHA256SUMS, caches it, and writes the step's outputs.
//! Needs bash, curl and sha256sum (.ci/run installs curl when missing).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const ASSET: &str = "blocklist-x86_64-unknown-linux-musl";

/// Stands in for blocklist: records its arguments, writes the `--out`
/// file, prints some markdown and exits with $FAKE_EXIT.
const FAKE_BINARY: &str = "#!/bin/sh
printf '%s\\n' \"$@\" > \"$FAKE_ARGS\"
prev=; for a in \"$@\"; do [ \"$prev\" = --out ] && echo '{}' > \"$a\"; prev=$a; done
echo '## Plan: 1 to block'
exit \"${FAKE_EXIT:-0}\"
";

/// A release server: path -> body, and a count of requests per path.
struct Server {
    base: String,
    hits: Arc<Mutex<HashMap<String, u32>>>,
}

impl Server {
    fn start(files: HashMap<String, Vec<u8>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/releases", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                // Read the headers to their end before answering.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request.split(' ').nth(1).unwrap_or("").to_string();
                *counted.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                let (status, body) = match files.get(&path) {
                    Some(body) => ("200 OK", body.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Server { base, hits }
    }

    fn hits(&self, path: &str) -> u32 {
        let path = format!("/releases{path}");
        self.hits.lock().unwrap().get(&path).copied().unwrap_or(0)
    }
}

fn sha256(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new("sha256sum").arg(&file).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// A release v1.0.0 holding the fake binary and a SHA256SUMS naming `sum`.
fn release(sum: Option<&str>, with_asset: bool) -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    let real = sha256(FAKE_BINARY.as_bytes());
    let sums = format!(
        "{}  blocklist-aarch64-apple-darwin\n{}  {ASSET}\n",
        "0".repeat(64),
        sum.unwrap_or(&real)
    );
    files.insert(
        "/releases/download/v1.0.0/SHA256SUMS".into(),
        sums.into_bytes(),
    );
    if with_asset {
        files.insert(
            format!("/releases/download/v1.0.0/{ASSET}"),
            FAKE_BINARY.as_bytes().to_vec(),
        );
    }
    files
}

struct Run {
    code: i32,
    stderr: String,
    stdout: String,
    /// $GITHUB_OUTPUT, parsed (multi-line values too).
    outputs: HashMap<String, String>,
    /// The fake binary's arguments, if it ran.
    ran: Option<Vec<String>>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("action/run.sh")
}

fn run(server: &Server, dir: &Path, env: &[(&str, &str)]) -> Run {
    let output = dir.join("github_output");
    let args = dir.join("args");
    let _ = std::fs::remove_file(&output);
    let _ = std::fs::remove_file(&args);
    let mut cmd = Command::new("bash");
    cmd.arg(script())
        .current_dir(dir)
        .env("BLOCKLIST_RELEASES_URL", &server.base)
        .env("BLOCKLIST_VERSION", "v1.0.0")
        .env("BLOCKLIST_CACHE_DIR", dir.join("cache"))
        .env("BLOCKLIST_OUT_DIR", dir.join("out"))
        .env("BLOCKLIST_COMMAND", "plan")
        .env("BLOCKLIST_PATHS", "blocklists/")
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("GITHUB_OUTPUT", &output)
        .env("FAKE_ARGS", &args)
        .env_remove("GITHUB_PATH")
        .env_remove("BLOCKLIST_ARGS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        outputs: parse_outputs(&std::fs::read_to_string(&output).unwrap_or_default()),
        ran: std::fs::read_to_string(&args)
            .ok()
            .map(|s| s.lines().map(str::to_string).collect()),
    }
}

fn parse_outputs(text: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            map.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            map.insert(name.to_string(), value.to_string());
        }
    }
    map
}

#[test]
fn installs_verifies_runs_and_caches() {
    let server = Server::start(release(None, true));
    let dir = tempfile::tempdir().unwrap();
    let first = run(&server, dir.path(), &[("BLOCKLIST_ARGS", "--shard 1/2")]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let out_dir = dir.path().join("out");
    let plan_file = out_dir.join("plan.json").display().to_string();
    assert_eq!(
        first.ran.unwrap(),
        [
            "plan",
            "--format",
            "markdown",
            "--detailed-exitcode",
            "--out",
            &plan_file,
            "--shard",
            "1/2",
            "blocklists/",
        ]
    );
    assert_eq!(first.outputs["exit-code"], "0");
    assert_eq!(first.outputs["has-changes"], "false");
    assert_eq!(first.outputs["markdown"], "## Plan: 1 to block");
    assert!(
        first.stdout.contains("## Plan: 1 to block"),
        "{}",
        first.stdout
    );
    assert_eq!(server.hits(&format!("/download/v1.0.0/{ASSET}")), 1);

    // Second run: the cached binary, checked again, is used; exit 2 is
    // "changes", a result, not a failure.
    let second = run(&server, dir.path(), &[("FAKE_EXIT", "2")]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(second.stdout.contains("Using cached"), "{}", second.stdout);
    assert_eq!(second.outputs["exit-code"], "2");
    assert_eq!(second.outputs["has-changes"], "true");
    assert_eq!(second.outputs["plan-file"], plan_file);
    assert_eq!(server.hits(&format!("/download/v1.0.0/{ASSET}")), 1);
    assert_eq!(server.hits("/download/v1.0.0/SHA256SUMS"), 2);

    // A cached binary that no longer matches is replaced, not run.
    let cached = dir
        .path()
        .join("cache/v1.0.0/x86_64-unknown-linux-musl/blocklist");
    std::fs::write(&cached, "#!/bin/sh\necho tampered > \"$FAKE_ARGS\"\n").unwrap();
    let third = run(&server, dir.path(), &[]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(third.ran.unwrap()[0], "plan");
    assert_eq!(server.hits(&format!("/download/v1.0.0/{ASSET}")), 2);
}

#[test]
fn errors_and_refusals_fail_the_step_with_the_outputs_set() {
    let server = Server::start(release(None, true));
    let dir = tempfile::tempdir().unwrap();
    let run = run(
        &server,
        dir.path(),
        &[
            ("FAKE_EXIT", "3"),
            ("BLOCKLIST_COMMAND", "apply"),
            ("BLOCKLIST_ARGS", "--yes --format json"),
        ],
    );
    assert_eq!(run.code, 3);
    assert_eq!(run.outputs["exit-code"], "3");
    assert_eq!(
        run.ran.unwrap(),
        [
            "apply",
            "--detailed-exitcode",
            "--yes",
            "--format",
            "json",
            "blocklists/"
        ]
    );
    assert!(!run.outputs.contains_key("markdown"));
}

#[test]
fn a_wrong_checksum_stops_it_before_anything_runs() {
    let server = Server::start(release(Some(&"ab".repeat(32)), true));
    let dir = tempfile::tempdir().unwrap();
    let run = run(&server, dir.path(), &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("checksum mismatch"), "{}", run.stderr);
    assert!(run.ran.is_none(), "the binary ran");
    assert!(!run.outputs.contains_key("exit-code"));
    assert!(
        !dir.path()
            .join("cache/v1.0.0/x86_64-unknown-linux-musl/blocklist")
            .exists()
    );
}

#[test]
fn a_missing_asset_or_checksum_stops_it() {
    let server = Server::start(release(None, false));
    let dir = tempfile::tempdir().unwrap();
    let missing = run(&server, dir.path(), &[]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("could not download"),
        "{}",
        missing.stderr
    );
    assert!(missing.ran.is_none());

    // No such release at all: no SHA256SUMS.
    let unknown = run(&server, dir.path(), &[("BLOCKLIST_VERSION", "v9.9.9")]);
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("SHA256SUMS"), "{}", unknown.stderr);

    // A checksums file that does not list this runner's asset.
    let mut files = release(None, true);
    files.insert("/releases/download/v1.0.0/SHA256SUMS".into(), b"".to_vec());
    let server = Server::start(files);
    let unlisted = run(&server, dir.path(), &[]);
    assert_eq!(unlisted.code, 1);
    assert!(
        unlisted.stderr.contains("lists no checksum"),
        "{}",
        unlisted.stderr
    );
    assert!(unlisted.ran.is_none());
}

#[test]
fn an_unknown_platform_stops_it_before_any_download() {
    let server = Server::start(release(None, true));
    let dir = tempfile::tempdir().unwrap();
    let run = run(
        &server,
        dir.path(),
        &[("RUNNER_OS", "Windows"), ("RUNNER_ARCH", "ARM64")],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("no blocklist release binary for runner Windows ARM64"),
        "{}",
        run.stderr
    );
    assert!(run.ran.is_none());
    assert_eq!(server.hits("/download/v1.0.0/SHA256SUMS"), 0);
}
