//! A faithful local stand-in for the providers' block-list APIs (product.md §6).
//!
//! `blocklist emulator` serves it on an address of your choice; the `sandbox`
//! provider runs it in-process on a free loopback port. Integration tests and
//! benchmarks drive the real client against it over real HTTP.
//!
//! Layout: `server.rs` builds the router (request counters, admin routes
//! `GET /_emulator/stats` and `GET /_emulator/state`); `faults.rs` sits in
//! front of the provider routes; `state.rs` is the JSON state file;
//! `phone.rs` holds Meta's block-list rules, which every provider shares;
//! `cursor.rs` mints list cursors; `nxcloud.rs` is NxCloud's wire format.
//! The Cloud API and WAHA routes join as one file each beside `nxcloud.rs`.

mod cursor;
mod faults;
mod nxcloud;
mod phone;
mod server;
mod state;
#[cfg(test)]
mod tests;

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

/// A running emulator. Dropping it stops the server: the accept loop is
/// aborted (the port closes at once) and open keep-alive connections are told
/// to shut down, so a pooled client cannot keep talking to a stopped emulator.
pub struct Running {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    /// Dropping the sender is the graceful-shutdown signal for connections
    /// already accepted (they run in their own tasks, which `abort` misses).
    _shutdown: oneshot::Sender<()>,
}

impl Running {
    /// `http://ADDR`, the base URL a client is pointed at.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
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
    let (listener, app) = prepare(listen, options).await?;
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
    })
}

/// `blocklist emulator`: serve in the foreground until Ctrl-C or SIGTERM.
///
/// Prints `emulator listening on http://ADDR` once bound and flushes it, so a
/// script that started the emulator with port 0 can read the address.
pub async fn serve_until_ctrl_c(listen: SocketAddr, options: Options) -> anyhow::Result<()> {
    let (listener, app) = prepare(listen, options).await?;
    let addr = listener.local_addr()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "emulator listening on http://{addr}")?;
    stdout.flush()?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Load the state, bind, and build the router.
async fn prepare(
    listen: SocketAddr,
    options: Options,
) -> anyhow::Result<(tokio::net::TcpListener, axum::Router)> {
    let store = state::Store::load(&options.state_path)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    Ok((listener, server::router(store, options, addr)))
}

async fn shutdown_signal() {
    // If a handler cannot be installed, that signal simply never arrives;
    // the other one (or killing the process) still stops the emulator.
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
