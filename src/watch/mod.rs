//! `blocklist watch`: block a listed user the moment they write.
//!
//! A block refused under the 24-hour rule (131047, "deferred") succeeds as
//! soon as the user messages the business. Watch receives the providers'
//! inbound-message webhooks (see `docs/platforms.md`, "Inbound-message
//! webhooks", and the README's `watch` section), checks their signatures,
//! and when the sender is a user the files want blocked on that business
//! phone, blocks them with one request through the same client `apply` uses.
//!
//! ```text
//! POST /webhooks/… → signature → parse → target → wanted? → seen? → queue → 200
//!                                                       queue → worker → block → Recorder
//! ```
//!
//! The reply never waits for a provider: work goes through a bounded queue
//! (full: 503, so the provider delivers again later). Deliveries are
//! remembered by message id (bounded), so a repeated delivery blocks once.
//! Message texts and names are never read out of a body ([`payload`]), so
//! no log line can hold them: only ids are logged.

mod metrics;
pub mod payload;
mod recorder;
mod targets;

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tokio::sync::{Semaphore, mpsc};

use crate::provider::sign::{hmac_sha256_hex, hmac_sha512_hex, signatures_match};
use crate::user::User;

pub use metrics::Metrics;
pub use payload::{Inbound, Key};
pub use recorder::{LogRecorder, Outcome, Recorder, StateRecorder};
pub use targets::{Snapshot, Watched};

/// Meta's app secret: the key of `X-Hub-Signature-256`.
pub const APP_SECRET_VAR: &str = "WHATSAPP_APP_SECRET";
/// The token you type into Meta's webhook settings; GET verification echoes
/// `hub.challenge` only when `hub.verify_token` equals it.
pub const VERIFY_TOKEN_VAR: &str = "WHATSAPP_VERIFY_TOKEN";
/// WAHA's webhook HMAC key: the key of `X-Webhook-Hmac`.
pub const WAHA_SECRET_VAR: &str = "WAHA_WEBHOOK_SECRET";

/// Larger bodies are answered 413 before they are read further. Meta
/// batches at most a few messages per delivery; 1 MiB is far above that.
pub const MAX_BODY: usize = 1024 * 1024;

/// What a watch process is told at start.
#[derive(Clone)]
pub struct Options {
    pub paths: Vec<PathBuf>,
    /// Deliveries waiting for a worker; beyond it deliveries get 503.
    pub queue: usize,
    /// Blocks in flight at once.
    pub workers: usize,
    /// Message ids remembered to drop repeated deliveries.
    pub dedupe: usize,
    pub reload_every: Option<Duration>,
    pub secrets: Secrets,
    /// The state store (`--state`): where blocks are journalled and
    /// deferrals cleared, and whose lock a WAHA block takes.
    pub state: Option<String>,
}

/// The webhook secrets, from the environment. Never logged, never shown.
#[derive(Clone, Default)]
pub struct Secrets {
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
    pub waha_secret: Option<String>,
}

impl Secrets {
    pub fn from_env() -> Secrets {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Secrets {
            app_secret: var(APP_SECRET_VAR),
            verify_token: var(VERIFY_TOKEN_VAR),
            waha_secret: var(WAHA_SECRET_VAR),
        }
    }
}

/// One block to make.
struct Job {
    watched: Arc<Watched>,
    /// The user as the file names them: what a block sends, as in apply.
    user: User,
    message_id: String,
    /// When the delivery's body had been read, before its signature check.
    received: Instant,
}

/// Everything the handlers and workers share.
pub struct App {
    snapshot: RwLock<Arc<Snapshot>>,
    queue: mpsc::Sender<Job>,
    seen: Mutex<Seen>,
    secrets: Secrets,
    pub metrics: Metrics,
    recorder: Arc<dyn Recorder>,
}

/// Message ids already queued, oldest first, at most `cap` of them.
struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
    cap: usize,
}

impl Seen {
    /// True when `id` is new (and now remembered).
    fn insert(&mut self, id: &str) -> bool {
        if self.cap == 0 || self.ids.contains(id) {
            return self.cap == 0;
        }
        if self.order.len() >= self.cap
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.ids.insert(id.to_string());
        self.order.push_back(id.to_string());
        true
    }

    /// Forget `id` (its queueing failed), in constant time: its place in
    /// `order` stays until evicted, which at worst forgets a later
    /// delivery of the same id a little early.
    fn forget(&mut self, id: &str) {
        self.ids.remove(id);
    }
}

/// A watch service, bound and ready: [`Running::serve`] runs it.
pub struct Running {
    pub addr: SocketAddr,
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    options: Options,
    /// Installed before the address is announced: until then a SIGHUP's
    /// default action would end the process.
    #[cfg(unix)]
    hangups: Option<tokio::signal::unix::Signal>,
}

/// Load the files, connect the watchable targets and bind `listen`. A file
/// that fails validation, or a missing credential, stops here.
pub async fn start(
    listen: SocketAddr,
    options: Options,
    recorder: Arc<dyn Recorder>,
) -> anyhow::Result<Running> {
    #[cfg(unix)]
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let snapshot = Snapshot::load(&options.paths, options.state.as_deref()).await?;
    let app = App::spawn(snapshot, &options, recorder);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    Ok(Running {
        addr,
        listener,
        app,
        options,
        #[cfg(unix)]
        hangups,
    })
}

impl Running {
    /// Serve until `shutdown` resolves, reloading on SIGHUP and every
    /// `reload_every`.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        #[cfg(unix)]
        let hangups = self.hangups;
        #[cfg(not(unix))]
        let hangups = None;
        tokio::spawn(reloads(
            self.app.clone(),
            self.options.paths.clone(),
            self.options.state.clone(),
            self.options.reload_every,
            hangups,
        ));
        axum::serve(self.listener, router(self.app))
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/webhooks/cloud-api", get(verify).post(cloud_api))
        .route("/webhooks/waha", post(waha))
        .route("/webhooks/nxcloud", any(nxcloud))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// Meta's callback verification: `GET ?hub.mode=subscribe&hub.verify_token=
/// …&hub.challenge=…` is answered with the challenge when the token matches.
async fn verify(
    State(app): State<Arc<App>>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(expected) = app.secrets.verify_token.as_deref() else {
        return (
            StatusCode::FORBIDDEN,
            format!("{VERIFY_TOKEN_VAR} is not set on this watch process\n"),
        )
            .into_response();
    };
    let token_ok = get("hub.verify_token").is_some_and(|t| signatures_match(t, expected));
    match (get("hub.mode"), get("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) if token_ok => {
            crate::info!("cloud-api: callback verified");
            challenge.to_string().into_response()
        }
        _ => (StatusCode::FORBIDDEN, "verification refused\n").into_response(),
    }
}

async fn cloud_api(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let arrived = Instant::now();
    app.metrics.delivery("cloud-api");
    let signed = header_str(&headers, "x-hub-signature-256")
        .and_then(|h| h.strip_prefix("sha256="))
        .zip(app.secrets.app_secret.as_deref())
        .is_some_and(|(got, key)| {
            signatures_match(
                &got.to_ascii_lowercase(),
                &hmac_sha256_hex(key.as_bytes(), &body),
            )
        });
    if !signed {
        return bad_signature(&app, "cloud-api");
    }
    accept(&app, "cloud-api", payload::cloud_api(&body), arrived)
}

async fn waha(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let arrived = Instant::now();
    app.metrics.delivery("waha");
    let algorithm_ok = header_str(&headers, "x-webhook-hmac-algorithm")
        .is_none_or(|a| a.eq_ignore_ascii_case("sha512"));
    let signed = algorithm_ok
        && header_str(&headers, "x-webhook-hmac")
            .zip(app.secrets.waha_secret.as_deref())
            .is_some_and(|(got, key)| {
                signatures_match(
                    &got.to_ascii_lowercase(),
                    &hmac_sha512_hex(key.as_bytes(), &body),
                )
            });
    if !signed {
        return bad_signature(&app, "waha");
    }
    accept(&app, "waha", payload::waha(&body), arrived)
}

/// NxCloud documents no inbound-message webhook (its webhook page lists
/// status callbacks and template button clicks only), so there is nothing
/// to receive; a guessed format would act on the wrong thing.
async fn nxcloud() -> Response {
    (
        StatusCode::NOT_FOUND,
        "NxCloud documents no inbound-message webhook (only status callbacks and template \
         button clicks), so NxCloud targets cannot be watched; see the README, `watch`.\n",
    )
        .into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let depth = app.queue.max_capacity() - app.queue.capacity();
    let targets = app.snapshot().len();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(depth, targets),
    )
        .into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn bad_signature(app: &App, provider: &str) -> Response {
    app.metrics.bad_signature();
    crate::info!("{provider}: delivery refused: missing or wrong signature");
    (StatusCode::UNAUTHORIZED, "missing or wrong signature\n").into_response()
}

/// Queue the messages of a signed delivery that the files want blocked.
fn accept(
    app: &App,
    provider: &str,
    parsed: Result<payload::Delivery, &'static str>,
    arrived: Instant,
) -> Response {
    let delivery = match parsed {
        Ok(d) => d,
        Err(why) => {
            app.metrics.malformed();
            crate::info!("{provider}: delivery refused: {why}");
            return (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response();
        }
    };
    if delivery.unreadable > 0 {
        app.metrics.unreadable(delivery.unreadable as u64);
        crate::debug!(
            "{provider}: {} message(s) without a readable sender or id skipped",
            delivery.unreadable
        );
    }
    let snapshot = app.snapshot();
    for message in delivery.messages {
        let Inbound {
            key,
            message_id,
            sender,
        } = message;
        let Some(watched) = snapshot.find(&key) else {
            app.metrics.ignored();
            crate::debug!("{provider}: message {message_id}: no watched target for {key:?}");
            continue;
        };
        let Some(user) = watched.wanted(&sender) else {
            app.metrics.ignored();
            crate::debug!(
                "{provider}: message {message_id} from {}: not listed for blocking in {}",
                sender.id(),
                watched.target.file.display()
            );
            continue;
        };
        if app.queue.capacity() == 0 {
            return queue_full(app, provider, &message_id);
        }
        let seen_key = format!("{provider}:{message_id}");
        if !lock(&app.seen).insert(&seen_key) {
            app.metrics.duplicate();
            crate::debug!("{provider}: message {message_id}: delivered again, already queued");
            continue;
        }
        let job = Job {
            watched: watched.clone(),
            user,
            message_id,
            received: arrived,
        };
        if let Err(e) = app.queue.try_send(job) {
            let job = match e {
                mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => {
                    job
                }
            };
            lock(&app.seen).forget(&seen_key);
            return queue_full(app, provider, &job.message_id);
        }
        crate::debug!("{provider}: message {seen_key}: queued");
    }
    (StatusCode::OK, "ok\n").into_response()
}

/// 503, so the provider delivers again later. Messages of the delivery
/// queued before this one stay queued; their ids are remembered, so the
/// next delivery does not block them twice.
fn queue_full(app: &App, provider: &str, message_id: &str) -> Response {
    app.metrics.queue_full();
    crate::info!("{provider}: queue full; message {message_id} answered 503 for a later delivery");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "queue full, deliver again later\n",
    )
        .into_response()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl App {
    /// The shared state, with its workers started.
    fn spawn(snapshot: Snapshot, options: &Options, recorder: Arc<dyn Recorder>) -> Arc<App> {
        let (queue, jobs) = mpsc::channel(options.queue.max(1));
        let app = Arc::new(App {
            snapshot: RwLock::new(Arc::new(snapshot)),
            queue,
            seen: Mutex::new(Seen {
                ids: HashSet::new(),
                order: VecDeque::new(),
                cap: options.dedupe,
            }),
            secrets: options.secrets.clone(),
            metrics: Metrics::default(),
            recorder,
        });
        tokio::spawn(work(app.clone(), jobs, options.workers.max(1)));
        app
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Take jobs off the queue; at most `workers` blocks in flight.
async fn work(app: Arc<App>, mut jobs: mpsc::Receiver<Job>, workers: usize) {
    let slots = Arc::new(Semaphore::new(workers));
    while let Some(job) = jobs.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let app = app.clone();
        tokio::spawn(async move {
            block(&app, job).await;
            drop(slot);
        });
    }
}

/// One block: one request through the target's client, then the recorder.
async fn block(app: &App, job: Job) {
    app.metrics.block_started(job.received.elapsed());
    let target = &job.watched.target;
    let started = Instant::now();
    let outcome = match job.watched.block(&job.user).await {
        Ok(result) => match result.failed.into_iter().next() {
            Some(refused) => Outcome::Refused {
                code: refused.code,
                message: refused.message,
            },
            None => Outcome::Blocked,
        },
        Err(stopped) => Outcome::Failed {
            error: format!("{stopped:#}"),
        },
    };
    let took = started.elapsed().as_millis();
    // Recorded before it is logged and counted: whoever sees the count finds
    // the journal entry (and the deferral cleared) too.
    let recorded = app.recorder.record(target, &job.user, &outcome).await;
    let file = target.file.display();
    let user = job.user.id();
    let id = &job.message_id;
    match &outcome {
        // Logged before counted: whoever sees the count finds the line.
        Outcome::Blocked => {
            crate::info!("{file}: blocked {user} (message {id}; {took} ms)");
            app.metrics.blocked();
        }
        Outcome::Refused { code, message } => {
            crate::say!("{file}: block of {user} refused (message {id}): {code} {message}");
            app.metrics.failed();
        }
        Outcome::Failed { error } => {
            crate::say!("{file}: block of {user} failed (message {id}): {error}");
            app.metrics.failed();
        }
    }
    if let Err(e) = recorded {
        app.metrics.failed();
        crate::say!("{file}: could not record the block of {user}: {e:#}");
    }
}

/// Re-read the files on SIGHUP and every `every`. A reload that fails keeps
/// the files already loaded and says why.
async fn reloads(
    app: Arc<App>,
    paths: Vec<PathBuf>,
    state: Option<String>,
    every: Option<Duration>,
    #[cfg(unix)] mut hup: Option<tokio::signal::unix::Signal>,
    #[cfg(not(unix))] _hup: Option<()>,
) {
    let mut tick =
        every.map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
    loop {
        let hangup = async {
            #[cfg(unix)]
            if let Some(hup) = hup.as_mut() {
                hup.recv().await;
                return "SIGHUP";
            }
            std::future::pending::<&str>().await
        };
        let timer = async {
            match tick.as_mut() {
                Some(t) => {
                    t.tick().await;
                    "--reload-every"
                }
                None => std::future::pending().await,
            }
        };
        let why = tokio::select! {
            why = hangup => why,
            why = timer => why,
        };
        match Snapshot::load(&paths, state.as_deref()).await {
            Ok(snapshot) => {
                let n = snapshot.len();
                *app.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
                app.metrics.reloaded();
                crate::say!("watch: files reloaded ({why}): {n} target(s) watched");
            }
            Err(e) => {
                app.metrics.reload_failed();
                crate::say!("watch: reload ({why}) failed, keeping the previous files: {e:#}");
            }
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod seen_tests {
    use super::Seen;

    #[test]
    fn seen_ids_are_bounded_and_forgotten_oldest_first() {
        let mut seen = Seen {
            ids: Default::default(),
            order: Default::default(),
            cap: 2,
        };
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"));
        assert!(seen.insert("b"));
        assert!(seen.insert("c"));
        assert!(seen.insert("a"), "the oldest was forgotten");
        assert_eq!(seen.ids.len(), 2);
        seen.forget("a");
        assert!(seen.insert("a"));
    }
}
