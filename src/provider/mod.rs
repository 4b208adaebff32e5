//! Block-list providers behind one interface.
//!
//! Every provider reads the live list, blocks and unblocks batches of users,
//! and reports per-user outcomes in Meta's vocabulary (NxCloud wraps Meta's
//! Cloud API, so the codes are Meta's everywhere). Retry and backoff live in
//! one place, [`retry`], shared by every backend.

pub mod client;
pub mod cloud_api;
pub mod ledger;
mod meta;
pub mod nxcloud;
mod pager;
pub mod retry;
pub mod secret;
pub mod sign;
pub mod waha;

use std::sync::atomic::{AtomicU64, Ordering};

/// A user the platform refused, with Meta's per-user error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    pub user: String,
    pub code: i64,
    pub message: String,
}

/// The answer to one block or unblock call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchResult {
    /// Users (as sent) the platform reports added or removed.
    pub done: Vec<String>,
    /// Users the platform refused. A whole-call refusal that concerns every
    /// user (139101, block list full) is reported here for each user of the call.
    pub failed: Vec<UserError>,
}

/// Meta per-user and envelope codes the reconciler acts on (providers.md §2).
pub mod codes {
    /// Some users in a bulk call failed: read `failed_users`.
    pub const PARTIAL_FAILURE: i64 = 139100;
    /// Block list full (64 000): stop further blocks for this phone.
    pub const LIST_FULL: i64 = 139101;
    /// Block list changed during paging: restart the listing.
    pub const LIST_CHANGED: i64 = 139102;
    /// Cannot block yourself: per-user, permanent.
    pub const CANNOT_BLOCK_SELF: i64 = 131021;
    /// Not messaged in the last 24 h: per-user, deferred (reported as drift).
    pub const NOT_MESSAGED_24H: i64 = 131047;
}

/// Counters every client keeps for the apply report and the benchmark.
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    retries: AtomicU64,
}

impl Stats {
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    pub fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

/// What every backend can do. Implementations keep one HTTP client and reuse it.
/// The futures are `Send` so targets can be reconciled on tokio's worker threads;
/// implementations may still write `async fn`.
pub trait Provider: Send + Sync {
    /// The whole live block list, canonical digits, in the order served.
    fn list(&self) -> impl Future<Output = anyhow::Result<Vec<String>>> + Send;
    /// Block at most [`Provider::max_batch`] users in one call.
    fn block(&self, users: &[String]) -> impl Future<Output = anyhow::Result<BatchResult>> + Send;
    /// Unblock at most [`Provider::max_batch`] users in one call.
    fn unblock(&self, users: &[String])
    -> impl Future<Output = anyhow::Result<BatchResult>> + Send;
    /// The largest batch one call accepts.
    fn max_batch(&self) -> usize;
    fn stats(&self) -> &Stats;
}
