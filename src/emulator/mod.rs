//! A faithful local stand-in for the providers' block-list APIs (README, The emulator).
//!
//! `blocklist emulator` serves it on an address of your choice; the `sandbox`
//! provider runs it in-process on a free loopback port. Integration tests and
//! benchmarks drive the real client against it over real HTTP.
//!
//! Layout: `server.rs` builds the router (request counters, admin routes
//! `GET /_emulator/stats` and `GET /_emulator/state`); `faults.rs` sits in
//! front of the provider routes; `state.rs` is the JSON state file;
//! `phone.rs` holds Meta's block-list rules, which every provider shares;
//! `cursor.rs` mints list cursors; `webhook.rs` makes a user write and
//! delivers the provider's signed webhook (`POST /_emulator/write`). Each provider's wire format is one file:
//! `nxcloud.rs`, `cloud_api.rs` (Meta's Graph routes and the Meta-shaped
//! resellers, with Graph's error envelope in `graph.rs`), `waha.rs`. A
//! provider whose credential is not configured answers every request 401.

mod cloud_api;
mod cursor;
mod faults;
mod graph;
mod nxcloud;
mod phone;
pub use phone::{CodeStyle, Person};
mod server;
mod state;
#[cfg(test)]
mod tests;
mod waha;
mod webhook;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use tokio::sync::oneshot;

/// The NxCloud credentials the emulator accepts. Not secrets in the sandbox
/// (see [`SANDBOX_ACCESS_KEY`]); the standalone emulator takes them from the
/// same environment variables as the client.
#[derive(Clone)]
pub struct NxCloudKeys {
    pub access_key: String,
    pub access_secret: String,
}

/// How the Cloud API routes authenticate and answer (docs/platforms.md, Cloud API, Meta-shaped resellers).
/// The default serves Meta's own shape and, with no token, answers 401.
#[derive(Clone, Default)]
pub struct CloudApiOptions {
    /// The access token clients must send (`WHATSAPP_TOKEN`).
    pub token: Option<String>,
    /// Take the raw token from this header instead of `Authorization:
    /// Bearer` (360dialog's `D360-API-KEY`, docs/platforms.md, Meta-shaped resellers).
    pub auth_header: Option<String>,
    /// The `phone_number_id` that the unversioned `/block_users` path
    /// serves: a 360dialog key belongs to one number, so its URL names none.
    pub reseller_phone_id: Option<String>,
    pub list_shape: ListShape,
}

/// How list items look (docs/platforms.md, Cloud API: "accept both shapes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListShape {
    /// Meta's `data: [{messaging_product, wa_id}]`.
    #[default]
    Graph,
    /// Some resellers' `data: [{block_users: [{input, wa_id}]}]`.
    BlockUsers,
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
    /// After any `fail_first` burst, the next N requests are answered with
    /// HTTP 429 and `Retry-After`: rate limiting that does not depend on how
    /// fast the client manages to send, for tests on a busy machine.
    pub rate_limit_first: u64,
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
    /// The percentage every Cloud API reply reports in
    /// `x-business-use-case-usage` (`None`: 5). A high value tells the
    /// client to slow down before it hits the wall.
    pub usage_percent: Option<u8>,
    /// How `failed_users` codes are written: numbers, numeric strings (as
    /// Meta's guide prints them), or left out.
    pub failed_code_style: phone::CodeStyle,
    /// The NxCloud routes refuse `{"user_id": …}` items with 1002, as a
    /// server that knows only phones would (docs/platforms.md, NxCloud).
    pub nxcloud_refuses_user_id: bool,
}

/// Appended to the provider's own "unknown phone/session" message, so a
/// reader knows the emulator said it, and what to do about it.
pub(crate) const UNKNOWN_HINT: &str = " [blocklist emulator: not in its state file; --auto-create-phones registers unknown phones, ids and sessions on first use]";

#[derive(Clone)]
pub struct Options {
    /// JSON state; created if missing, rewritten atomically after changes
    /// (off the request path: see [`Running::flush_state`]).
    pub state_path: PathBuf,
    /// `None`: the NxCloud routes answer 401.
    pub nxcloud: Option<NxCloudKeys>,
    pub cloud_api: CloudApiOptions,
    /// The `X-Api-Key` WAHA clients must send; `None`: WAHA routes answer 401.
    pub waha_api_key: Option<String>,
    pub faults: Faults,
    /// Register unknown NxCloud business phones, Cloud API phone ids and
    /// WAHA sessions on first use (the sandbox does; the standalone emulator
    /// answers them with an error as the provider would). A Cloud API id is
    /// registered under its last 15 digits as the number
    /// ([`state::Store::create_phone_for_id`]).
    pub auto_create_phones: bool,
}

impl Options {
    /// Settings a request could never satisfy are refused at start, not
    /// discovered as a puzzling 401 or 400 later.
    fn check(&self) -> anyhow::Result<()> {
        if let Some(name) = &self.cloud_api.auth_header
            && axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
        {
            anyhow::bail!("the Cloud API auth header {name:?} is not a valid HTTP header name");
        }
        if let Some(id) = &self.cloud_api.reseller_phone_id
            && (id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()))
        {
            anyhow::bail!("the reseller phone id {id:?} is not a string of digits");
        }
        if self.faults.usage_percent.is_some_and(|p| p > 100) {
            anyhow::bail!("usage_percent must be 0 to 100");
        }
        Ok(())
    }
}

/// A running emulator. Dropping it stops the server: the accept loop is
/// aborted (the port closes at once) and open keep-alive connections are told
/// to shut down, so a pooled client cannot keep talking to a stopped emulator.
pub struct Running {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    /// Dropping the sender is the graceful-shutdown signal for connections
    /// already accepted (they run in their own tasks, which `abort` misses).
    _shutdown: oneshot::Sender<()>,
    /// Writes the state file; dropped last, after its final write.
    saver: state::Saver,
}

impl Running {
    /// `http://ADDR`, the base URL a client is pointed at.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Wait until the state file holds every change made so far. It is
    /// written off the request path; tests that read the file call this.
    /// Blocks the calling thread for the length of one write.
    pub fn flush_state(&self) {
        self.saver.flush();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Bind `listen` (port 0 picks a free port) and serve in the background.
///
/// The state file is read before anything is bound, so a broken file is an
/// error here rather than a server that answers every request with one.
pub async fn start(listen: SocketAddr, options: Options) -> anyhow::Result<Running> {
    let (listener, app, saver) = prepare(listen, options).await?;
    let addr = listener.local_addr()?;
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            // Resolves when `Running` drops the sender.
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            eprintln!("emulator on {addr} stopped: {e}");
        }
    });
    Ok(Running {
        addr,
        task,
        _shutdown: shutdown,
        saver,
    })
}

/// `blocklist emulator`: serve in the foreground until Ctrl-C or SIGTERM.
///
/// Prints `emulator listening on http://ADDR` once bound and flushes it, so a
/// script that started the emulator with port 0 can read the address.
pub async fn serve_until_ctrl_c(listen: SocketAddr, options: Options) -> anyhow::Result<()> {
    let (listener, app, mut saver) = prepare(listen, options).await?;
    let addr = listener.local_addr()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "emulator listening on http://{addr}")?;
    stdout.flush()?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    // The last changes reach the file before the process ends.
    saver.stop();
    Ok(())
}

/// Load the state, bind, and build the router and its state saver.
async fn prepare(
    listen: SocketAddr,
    options: Options,
) -> anyhow::Result<(tokio::net::TcpListener, axum::Router, state::Saver)> {
    options.check()?;
    let store = state::Store::load(&options.state_path)?;
    // "Created if missing": at start, so a typo in --state or a directory
    // that cannot be written shows now, not at the first change.
    if !store.exists() {
        store
            .persist()
            .await
            .with_context(|| format!("cannot create {}", options.state_path.display()))?;
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let (router, saver) = server::router(store, options, addr);
    Ok((listener, router, saver))
}

/// Resolves on the first Ctrl-C or SIGTERM: how the long-running servers
/// (the emulator, `watch`) are stopped.
pub(crate) async fn shutdown_signal() {
    // If a handler cannot be installed, that signal simply never arrives;
    // the other one (or killing the process) still stops the server.
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
