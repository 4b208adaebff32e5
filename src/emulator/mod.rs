//! A faithful local stand-in for the providers' block-list APIs (product.md §6).
//!
//! `blocklist emulator` serves it on an address of your choice; the `sandbox`
//! provider runs it in-process on a free loopback port. Integration tests and
//! benchmarks drive the real client against it over real HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The NxCloud credentials the emulator accepts. Not secrets in the sandbox
/// (see [`SANDBOX_ACCESS_KEY`]); the standalone emulator takes them from the
/// same environment variables as the client.
#[derive(Clone)]
pub struct NxCloudKeys {
    pub access_key: String,
    pub access_secret: String,
}

/// The fixed keys the in-process sandbox uses on both sides. They protect
/// nothing: the sandbox only ever listens on loopback and holds no real data.
pub const SANDBOX_ACCESS_KEY: &str = "sandbox-access-key";
pub const SANDBOX_ACCESS_SECRET: &str = "sandbox-access-secret";
/// The appkey the sandbox registers phones under.
pub const SANDBOX_APPKEY: &str = "sandbox";

/// How list pages end when more remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Paging {
    /// Graph style: `paging.next` is present while more pages remain.
    #[default]
    Next,
    /// As in NxCloud's documented example: cursors only, never `next`; the
    /// listing ends with an empty page.
    CursorsOnly,
}

/// Fault injection for tests and benchmarks. The default injects nothing.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every reply.
    pub latency_ms: u64,
    /// Fraction (0..=1) of requests answered with HTTP 503.
    pub fail_rate: f64,
    /// The first N requests are answered with HTTP 503 (a deterministic burst).
    pub fail_first: u64,
    /// At most this many requests per second; the rest get HTTP 429 with `Retry-After`.
    pub rate_limit: Option<u32>,
    /// Fraction (0..=1) of requests answered HTTP 200 with a truncated JSON body.
    pub malformed_rate: f64,
    /// Seed for the fault dice, so a failing run can be replayed.
    pub seed: u64,
    /// Serve at most this many users per list page, whatever `limit` asks.
    pub max_page_size: Option<usize>,
    pub paging: Paging,
    /// After serving this many list pages, change the list once (as a
    /// colleague clicking "block" mid-listing would), so cursors go stale.
    pub change_list_after_pages: Option<u64>,
}

#[derive(Clone)]
pub struct Options {
    /// JSON state; created if missing, rewritten atomically after each change.
    pub state_path: PathBuf,
    pub nxcloud: NxCloudKeys,
    pub faults: Faults,
    /// Register unknown business phones on first use (the sandbox does;
    /// the standalone emulator answers them with an error as NxCloud would).
    pub auto_create_phones: bool,
}

/// A running emulator. Dropping it stops the server.
pub struct Running {
    pub addr: SocketAddr,
}

/// Bind `listen` (port 0 picks a free port) and serve in the background.
pub async fn start(listen: SocketAddr, options: Options) -> anyhow::Result<Running> {
    let _ = (listen, options);
    todo!("emulator")
}
