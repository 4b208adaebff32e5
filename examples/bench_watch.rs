//! Benchmark: `blocklist watch` under a load of signed Cloud API deliveries
//! sent from this process over loopback, with the release binary and the
//! emulator as the provider.
//!
//!     cargo run --release --example bench_watch
//!
//! Three runs, each figure printed beside its bound (issue 10):
//! 1. throughput: DELIVERIES signed deliveries, CONCURRENCY at a time, one
//!    sender in 100 listed for blocking (most people who write are not
//!    spammers): deliveries per second (≥ 2 000/s) and p50/p99 reply
//!    latency (p99 ≤ 20 ms);
//! 2. memory: the provider answers after 10 s and watch has one worker, so
//!    10 000 listed deliveries stay queued: watch's resident memory then;
//! 3. delay: listed deliveries one at a time, 5 ms apart: from a delivery's
//!    arrival to its block request, as watch's /metrics measures it
//!    (≤ 100 ms, plus the provider's latency, which the emulator adds after
//!    the request arrives).
//!
//! A benchmark, not a test: these machines are shared and noisy, so nothing
//! here asserts; read the figures.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use blocklist::provider::sign::hmac_sha256_hex;

const PHONE: &str = "8615800001795";
const PHONE_ID: &str = "106540352242922";
const APP_SECRET: &str = "bench-app-secret";
const TOKEN: &str = "bench-token";
const LISTED: u32 = 12_000;
const DELIVERIES: u32 = 100_000;
const CONCURRENCY: usize = 32;
const QUEUED: u32 = 10_000;

fn listed(i: u32) -> String {
    format!("86134{i:08}")
}

fn main() {
    let bin = release_binary();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let users: Vec<String> = (0..LISTED).map(listed).collect();

    // 1. Throughput and reply latency.
    {
        let (mut emulator, emu_addr) = start_emulator(&bin, dir.path(), &users, 0);
        let ws = workspace(dir.path(), "throughput", &emu_addr, &users);
        let (mut watch, addr) = start_watch(&bin, &ws, &[]);
        let started = Instant::now();
        let mut latencies = runtime.block_on(load(&addr, DELIVERIES, |i| {
            if i % 100 == 0 {
                listed(i / 100)
            } else {
                format!("86135{i:08}")
            }
        }));
        let wall = started.elapsed();
        latencies.sort();
        let rate = f64::from(DELIVERIES) / wall.as_secs_f64();
        let pct =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        let after = metrics(&addr);
        println!("throughput: {DELIVERIES} deliveries, {CONCURRENCY} at a time, 1 in 100 listed");
        println!(
            "  sustained      {rate:8.0} deliveries/s   (bound ≥ 2000/s)   in {:.2} s",
            wall.as_secs_f64()
        );
        println!(
            "  reply p50      {:8.2} ms             (no bound)",
            ms(pct(0.50))
        );
        println!(
            "  reply p99      {:8.2} ms             (bound ≤ 20 ms)",
            ms(pct(0.99))
        );
        println!(
            "  answered 503   {:8}                (queue full)",
            metric(&after, "blocklist_watch_queue_full_total")
        );
        let want = f64::from(DELIVERIES / 100);
        wait_for(&addr, "blocklist_watch_blocks_total", want);
        println!(
            "  blocks made    {:8}                (of {want})",
            metric(&metrics(&addr), "blocklist_watch_blocks_total")
        );
        stop(&mut watch);
        stop(&mut emulator);
    }

    // 2. Memory with 10 000 blocks queued.
    {
        let (mut emulator, emu_addr) = start_emulator(&bin, dir.path(), &users, 10_000);
        let ws = workspace(dir.path(), "memory", &emu_addr, &users);
        let (mut watch, addr) = start_watch(&bin, &ws, &["--workers", "1"]);
        let idle = rss_kib(&watch);
        // One block is in flight and one waits for the worker: 10 000 stay queued.
        runtime.block_on(load(&addr, QUEUED + 2, listed));
        let depth = metric(&metrics(&addr), "blocklist_watch_queue_depth");
        let full = rss_kib(&watch);
        println!(
            "memory: {QUEUED} listed deliveries queued behind a provider answering after 10 s"
        );
        println!("  queue depth    {depth:8}");
        println!("  RSS idle       {:8.1} MiB", idle as f64 / 1024.0);
        println!(
            "  RSS queued     {:8.1} MiB         (no bound; {:.0} bytes per queued block)",
            full as f64 / 1024.0,
            (full.saturating_sub(idle) as f64 * 1024.0) / depth.max(1.0)
        );
        stop(&mut watch);
        stop(&mut emulator);
    }

    // 3. Delay from a delivery to its block request.
    {
        let (mut emulator, emu_addr) = start_emulator(&bin, dir.path(), &users, 0);
        let ws = workspace(dir.path(), "delay", &emu_addr, &users);
        let (mut watch, addr) = start_watch(&bin, &ws, &[]);
        let n = 200;
        runtime.block_on(async {
            let client = reqwest::Client::new();
            for i in 0..n {
                deliver(&client, &addr, &listed(i), i).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        wait_for(&addr, "blocklist_watch_blocks_total", f64::from(n));
        let m = metrics(&addr);
        let count = metric(&m, "blocklist_watch_block_delay_seconds_count");
        let sum = metric(&m, "blocklist_watch_block_delay_seconds_sum");
        let max = metric(&m, "blocklist_watch_block_delay_max_seconds");
        println!("delay: {n} listed deliveries, 5 ms apart");
        println!(
            "  mean           {:8.3} ms             (bound ≤ 100 ms + provider latency)",
            sum / count.max(1.0) * 1e3
        );
        println!(
            "  max            {:8.3} ms             (bound ≤ 100 ms + provider latency)",
            max * 1e3
        );
        stop(&mut watch);
        stop(&mut emulator);
    }
}

/// Send `total` deliveries, `CONCURRENCY` at a time; each one's reply time.
async fn load(addr: &str, total: u32, sender: impl Fn(u32) -> String) -> Vec<Duration> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");
    let bodies: Arc<Vec<(Vec<u8>, String)>> =
        Arc::new((0..total).map(|i| signed(&sender(i), i)).collect());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, bodies, next) = (client.clone(), bodies.clone(), next.clone());
        let url = format!("http://{addr}/webhooks/cloud-api");
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((body, signature)) = bodies.get(i) else {
                    return times;
                };
                let started = Instant::now();
                let reply = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", signature)
                    .body(body.clone())
                    .send()
                    .await
                    .expect("delivery");
                let status = reply.status();
                let _ = reply.bytes().await;
                times.push(started.elapsed());
                assert!(status == 200 || status == 503, "watch answered {status}");
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("load task"));
    }
    all
}

async fn deliver(client: &reqwest::Client, addr: &str, user: &str, i: u32) {
    let (body, signature) = signed(user, i);
    let reply = client
        .post(format!("http://{addr}/webhooks/cloud-api"))
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .expect("delivery");
    assert_eq!(reply.status(), 200);
}

/// A Cloud API inbound-message delivery from `user`, and its signature.
fn signed(user: &str, i: u32) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": PHONE, "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": "Bench"}, "wa_id": user}],
            "messages": [{"from": user, "id": format!("wamid.bench.{i}"), "timestamp": "1", "type": "text", "text": {"body": "hello"}}],
        }}]}],
    }))
    .expect("json");
    let signature = format!("sha256={}", hmac_sha256_hex(APP_SECRET.as_bytes(), &body));
    (body, signature)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn workspace(dir: &Path, name: &str, emu_addr: &str, users: &[String]) -> PathBuf {
    let ws = dir.join(name);
    std::fs::create_dir_all(&ws).expect("workspace");
    let mut yaml = format!(
        "business_phone: \"+{PHONE}\"\nprovider: {{kind: cloud-api, phone_number_id: \"{PHONE_ID}\", base_url: \"http://{emu_addr}\"}}\nmode: additive\nblocked:\n"
    );
    for u in users {
        yaml.push_str(&format!("  - \"{u}\"\n"));
    }
    std::fs::write(ws.join("shop.yaml"), yaml).expect("file");
    ws
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

/// An emulator whose phone lets every listed user be blocked (they all
/// wrote recently), answering after `latency_ms`.
fn start_emulator(bin: &Path, dir: &Path, users: &[String], latency_ms: u64) -> (Child, String) {
    let state = serde_json::json!({"phones": {PHONE: {
        "phone_number_id": PHONE_ID, "blocked": [], "recent_contacts": users}}});
    let path = dir.join(format!("state-{latency_ms}.json"));
    std::fs::write(&path, serde_json::to_vec(&state).expect("json")).expect("state");
    let latency = latency_ms.to_string();
    let child = Command::new(bin)
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--latency-ms",
            &latency,
            "--state",
        ])
        .arg(&path)
        .env("WHATSAPP_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start emulator");
    announced(child)
}

fn start_watch(bin: &Path, dir: &Path, flags: &[&str]) -> (Child, String) {
    let child = Command::new(bin)
        .args(["watch", ".", "--listen", "127.0.0.1:0"])
        .args(flags)
        .current_dir(dir)
        .env("WHATSAPP_TOKEN", TOKEN)
        .env("WHATSAPP_APP_SECRET", APP_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start watch");
    announced(child)
}

/// The address a server printed on its first line.
fn announced(mut child: Child) -> (Child, String) {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(!addr.is_empty(), "no address announced");
    (child, addr)
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Resident memory of a running child, from /proc (KiB).
fn rss_kib(child: &Child) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn metrics(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

fn metric(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Wait (at most a minute) until a counter reaches `want`.
fn wait_for(addr: &str, name: &str, want: f64) {
    let started = Instant::now();
    while metric(&metrics(addr), name) < want && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
}
