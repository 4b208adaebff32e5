//! The router: provider routes behind the fault layer, admin routes for
//! tests and benchmarks, and a request counter in front of everything.
//! `GET /_emulator/requests` lists every provider request with its arrival
//! time and status, so tests can check how a client paced itself (that it
//! waited out a `Retry-After`, say) from the server's side.
//!
//! A provider's routes live in one file each (`nxcloud.rs`, `cloud_api.rs`,
//! `waha.rs`) and share [`Shared`]: the store, the options and the fault
//! dice.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::Options;
use super::faults::{self, Dialect, Injector};
use super::phone::Phone;
use super::state::{Saver, Store};
use super::{cloud_api, nxcloud, waha, webhook};

const STATS_ROUTE: &str = "/_emulator/stats";
const REQUESTS_ROUTE: &str = "/_emulator/requests";

pub struct Shared {
    /// One lock for the whole state: requests change it one at a time and
    /// the file is written in the same order, as a real backend serialises
    /// writes to one list.
    pub store: tokio::sync::Mutex<Store>,
    pub options: Options,
    /// Where the emulator listens, for the `paging.next` URLs it hands out.
    pub addr: SocketAddr,
    pub injector: Injector,
    /// List pages served since start, for `Faults::change_list_after_pages`.
    pub list_pages_served: AtomicU64,
    stats: Mutex<RequestCounts>,
    /// When the router was built: request times are counted from here.
    started: Instant,
    /// The latest [`REQUEST_LOG_CAP`] provider requests.
    requests: Mutex<VecDeque<Logged>>,
}

/// A long-running emulator (a benchmark, a demo) must not grow without
/// bound; tests look at far fewer requests than this.
const REQUEST_LOG_CAP: usize = 100_000;

/// One provider request as `GET /_emulator/requests` lists it.
#[derive(Serialize)]
struct Logged {
    /// Microseconds from the emulator's start to the request's arrival.
    at_us: u64,
    method: String,
    path: String,
    status: u16,
}

#[derive(Default)]
struct RequestCounts {
    requests: u64,
    by_route: BTreeMap<String, u64>,
    /// By method and path: the Cloud API lists and writes on one path.
    by_request: BTreeMap<String, u64>,
}

/// The router, and the thread that saves the state it changes.
pub fn router(store: Store, options: Options, addr: SocketAddr) -> (Router, Saver) {
    let shared = Arc::new(Shared {
        store: tokio::sync::Mutex::new(store),
        injector: Injector::new(options.faults.clone()),
        options,
        addr,
        list_pages_served: AtomicU64::new(0),
        stats: Mutex::new(RequestCounts::default()),
        started: Instant::now(),
        requests: Mutex::new(VecDeque::new()),
    });
    let saver = Saver::start(shared.clone(), |shared: &Shared| &shared.store);
    let faults = |dialect| from_fn_with_state((shared.clone(), dialect), faults::inject);
    let cloud_api_routes = cloud_api::routes()
        .route_layer(faults(Dialect::CloudApi))
        // Outside the fault layer: faulted replies report usage too.
        .route_layer(from_fn_with_state(shared.clone(), cloud_api::usage));
    let router = Router::new()
        .merge(nxcloud::routes().route_layer(faults(Dialect::NxCloud)))
        .merge(cloud_api_routes)
        .merge(waha::routes().route_layer(faults(Dialect::Waha)))
        .route(STATS_ROUTE, get(stats))
        .route("/_emulator/state", get(state))
        .route(REQUESTS_ROUTE, get(requests))
        .route(webhook::ROUTE, axum::routing::post(webhook::write))
        // Outermost, so requests the fault layer turns away are counted too.
        .layer(from_fn_with_state(shared.clone(), count));
    (router.with_state(shared), saver)
}

impl Shared {
    /// Count a list page served. After the n-th page, change the list once
    /// behind the client's back, so the cursor just handed out goes stale
    /// (docs/platforms.md, Cloud API, 139102).
    pub fn page_served(&self, phone: &mut Phone) {
        let served = self.list_pages_served.fetch_add(1, Ordering::Relaxed) + 1;
        if self.options.faults.change_list_after_pages == Some(served) {
            phone.bump_version();
        }
    }
}

async fn count(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let path = path.as_str();
    let at = shared.started.elapsed();
    let method = request.method().to_string();
    // Reading the counters must not move them.
    if path != STATS_ROUTE {
        let mut stats = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.requests += 1;
        *stats.by_route.entry(path.to_string()).or_default() += 1;
        *stats
            .by_request
            .entry(format!("{} {path}", request.method()))
            .or_default() += 1;
    }
    let response = next.run(request).await;
    if !path.starts_with("/_emulator/") {
        let logged = Logged {
            at_us: u64::try_from(at.as_micros()).unwrap_or(u64::MAX),
            method,
            path: path.to_string(),
            status: response.status().as_u16(),
        };
        let mut requests = shared.requests.lock().unwrap_or_else(|e| e.into_inner());
        if requests.len() >= REQUEST_LOG_CAP {
            requests.pop_front();
        }
        requests.push_back(logged);
    }
    response
}

/// `GET /_emulator/requests`: `[{"at_us", "method", "path", "status"}]`,
/// the latest provider requests in the order they were answered.
async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    let requests = shared.requests.lock().unwrap_or_else(|e| e.into_inner());
    axum::Json(&*requests).into_response()
}

/// `GET /_emulator/stats`: `{"requests": n, "by_route": {"/api/wa/…": n},
/// "by_request": {"POST /api/wa/…": n}}`.
async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let stats = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
    axum::Json(serde_json::json!({
        "requests": stats.requests,
        "by_route": stats.by_route,
        "by_request": stats.by_request,
    }))
    .into_response()
}

/// `GET /_emulator/state`: the state in the state file's format.
async fn state(State(shared): State<Arc<Shared>>) -> Response {
    let json = shared.store.lock().await.to_json();
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}
