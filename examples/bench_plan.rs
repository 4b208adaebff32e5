//! Benchmark: plan (and apply) 64 000 desired against 64 000 live entries
//! with 10% churn, against the emulator over loopback, with the release binary.
//!
//!     cargo run --release --example bench_plan
//!
//! Prints whole-process wall time, peak RSS and requests sent for each run.
//! With `BENCH_CALLGRIND=1` it also runs `plan` once under
//! `valgrind --tool=callgrind` and prints its instruction count (bound
//! 0.6 G: repeatable where times are not) and the instructions spent
//! listing, per listed user (bound 2 000).
//! A benchmark, not a test: these machines are shared and noisy, so nothing
//! here asserts a time.

mod bench_common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use bench_common::{Emulator, emulator_binary, release_binary, verdict, wait};

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
    let callgrind = std::env::var_os("BENCH_CALLGRIND").is_some_and(|v| v != "0");

    let mut commands = vec!["plan", "apply"];
    if callgrind {
        commands.push("callgrind");
    }
    for command in commands {
        // A fresh emulator per run, so each starts from the same state.
        std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
        let emulator = Emulator::start(&emulator_binary(), &state_path, &[]);
        let file = dir.path().join("target.yaml");
        let mut yaml = format!(
            "business_phone: \"{PHONE}\"\nprovider: {{kind: nxcloud, appkey: bench, base_url: \"http://{}\"}}\nsafety: {{max_unblocks: 100000, max_unblock_ratio: 1}}\nblocked:\n",
            emulator.addr
        );
        for u in &desired {
            yaml.push_str(&format!("  - \"{u}\"\n"));
        }
        std::fs::write(&file, yaml).unwrap();

        if command == "callgrind" {
            under_callgrind(&bin, &file);
            continue;
        }
        let mut args = vec![command, file.to_str().unwrap(), "--format", "json", "-q"];
        if command == "apply" {
            args.push("--yes");
        }
        let started = Instant::now();
        let child = Command::new(&bin)
            .args(&args)
            .envs(bench_common::credentials())
            .stdout(Stdio::null())
            .spawn()
            .expect("run blocklist");
        let run = wait(child, started);
        let requests = emulator.requests();
        let minimum = match command {
            "plan" => TOTAL.div_ceil(1000),
            _ => TOTAL.div_ceil(1000) + 2 * CHURN.div_ceil(1000),
        };
        println!(
            "{command:5}  exit {}  wall {:7.3} s  peak RSS {:6.1} MiB  requests {requests} (minimum {minimum})",
            run.code,
            run.wall.as_secs_f64(),
            run.peak_rss_kib as f64 / 1024.0
        );
    }
}

/// `plan` under callgrind: the whole process's instructions, and those
/// spent inside the listing (the client's `Provider::list`, inclusive:
/// requests, replies parsed, users checked) per listed user.
/// The profile is kept as `target/callgrind.bench_plan.out` for
/// `callgrind_annotate`.
fn under_callgrind(bin: &Path, file: &Path) {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/callgrind.bench_plan.out");
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(bin)
        .args(["plan", file.to_str().unwrap(), "--format", "json", "-q"])
        .envs(bench_common::credentials())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let Ok(status) = status else {
        println!("callgrind: valgrind is not installed");
        return;
    };
    let _ = status;
    let Some(total) = summary(&out) else {
        println!("callgrind: no summary in {}", out.display());
        return;
    };
    println!(
        "plan under callgrind: {:.3} G instructions (bound 0.600 G, {})",
        total as f64 / 1e9,
        verdict(total as f64 <= 0.6e9)
    );
    match inclusive(&out, "as blocklist::provider::Provider>::list") {
        Some(listing) => {
            let per_user = listing as f64 / TOTAL as f64;
            println!(
                "  listing (Provider::list, inclusive): {:.3} G, {per_user:.0} instructions per listed user (bound 2000, {})",
                listing as f64 / 1e9,
                verdict(per_user <= 2000.0)
            );
        }
        None => println!("  listing: Provider::list not found in the profile"),
    }
}

/// The `summary:` line of a callgrind output file: instructions executed.
fn summary(out: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(out).ok()?;
    let line = text.lines().find(|l| l.starts_with("summary:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The largest inclusive cost of a function whose name contains `name`,
/// from `callgrind_annotate --inclusive=yes`.
fn inclusive(out: &Path, name: &str) -> Option<u64> {
    let annotated = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100"])
        .arg(out)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&annotated.stdout);
    text.lines()
        .filter(|l| l.contains(name))
        .filter_map(|l| {
            let figure = l.split_whitespace().next()?;
            figure.replace(',', "").parse::<u64>().ok()
        })
        .max()
}
