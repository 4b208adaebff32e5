//! Block-list providers behind one interface.
//!
//! Every provider reads the live list, blocks and unblocks batches of users,
//! and reports per-user outcomes in Meta's vocabulary (NxCloud wraps Meta's
//! Cloud API, so the codes are Meta's everywhere). Retry and backoff live in
//! one place, [`retry`], shared by every backend.

mod batch;
pub mod cloud_api;
mod exchange;
pub(crate) mod http;
pub mod ledger;
mod meta;
pub mod nxcloud;
mod pager;
pub mod retry;
pub mod secret;
pub mod sign;
pub mod waha;

pub use meta::UNKNOWN_CODE;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::user::User;

/// A user the platform refused, with Meta's per-user error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// As sent.
    pub user: User,
    pub code: i64,
    pub message: String,
}

/// The answer to one block or unblock call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchResult {
    /// Users (as sent) the platform reports added or removed.
    pub done: Vec<User>,
    /// Users the platform refused. A whole-call refusal that concerns every
    /// user (139101, block list full) is reported here for each user of the call.
    pub failed: Vec<UserError>,
}

/// A block or unblock call that stopped part-way: what the platform had
/// answered before it stopped, and why it stopped. Apply records `partial`
/// before it stops the target, so a run that stops says exactly what it did.
#[derive(Debug)]
pub struct Interrupted {
    pub partial: BatchResult,
    pub error: anyhow::Error,
}

impl Interrupted {
    /// Stopped by `error` after `partial` was answered.
    pub fn stopped(partial: BatchResult, error: anyhow::Error) -> Self {
        Interrupted { partial, error }
    }
}

/// Shown as its error. Deliberately not a `std::error::Error`: `?` must not
/// turn it into a bare `anyhow::Error` and drop the partial answers.
impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "{:#}", self.error)
        } else {
            write!(f, "{}", self.error)
        }
    }
}

/// An error before any user was answered.
impl From<anyhow::Error> for Interrupted {
    fn from(error: anyhow::Error) -> Self {
        Interrupted {
            partial: BatchResult::default(),
            error,
        }
    }
}

/// What a block or unblock call comes to.
pub type Batch = Result<BatchResult, Interrupted>;

/// Meta per-user and envelope codes the reconciler acts on (docs/platforms.md, Cloud API).
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

    /// A per-user code that came as the error of a whole call, with no
    /// `failed_users` beside it (seen once 130429 halving reaches single
    /// users). It speaks for every user of that call, not for the run, so it
    /// is reported per user like `failed_users` would be (docs/platforms.md, Cloud API).
    pub fn is_per_user(code: i64) -> bool {
        matches!(code, NOT_MESSAGED_24H | CANNOT_BLOCK_SELF)
    }
}

/// Counters every client keeps for the apply report, the benchmark and the
/// progress bars ([`crate::progress`] polls them; nothing here draws).
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    retries: AtomicU64,
    /// Pages and distinct users of the listing in progress.
    pages_read: AtomicU64,
    users_listed: AtomicU64,
    /// Planned users whose outcome is known: answered by the platform
    /// (each provider counts them as its answers come), or not sent because
    /// the list is full (apply counts those).
    users_answered: AtomicU64,
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

    /// A listing starts, or starts over after 139102: what earlier attempts
    /// read is discarded, so the counts start again from zero.
    pub fn listing_started(&self) {
        self.pages_read.store(0, Ordering::Relaxed);
        self.users_listed.store(0, Ordering::Relaxed);
    }
    /// One list page read, holding `new_users` users not seen on earlier pages.
    pub fn page_read(&self, new_users: u64) {
        self.pages_read.fetch_add(1, Ordering::Relaxed);
        self.users_listed.fetch_add(new_users, Ordering::Relaxed);
    }
    /// `users` more planned users have their outcome.
    pub fn answered(&self, users: u64) {
        self.users_answered.fetch_add(users, Ordering::Relaxed);
    }
    pub fn pages_read(&self) -> u64 {
        self.pages_read.load(Ordering::Relaxed)
    }
    pub fn users_listed(&self) -> u64 {
        self.users_listed.load(Ordering::Relaxed)
    }
    pub fn users_answered(&self) -> u64 {
        self.users_answered.load(Ordering::Relaxed)
    }
}

/// A boxed future, so every backend can sit behind `dyn Provider`: dispatch
/// is the vtable, written once, rather than a `match` per method. One
/// allocation per call is nothing beside the HTTP request it stands for.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What every backend can do, and everything backends differ in. Each
/// implementation keeps one HTTP client and reuses it. The futures are
/// `Send` so targets can be reconciled on tokio's worker threads.
pub trait Provider: Send + Sync {
    /// The whole live block list, in the order served: each user with the
    /// ids the platform gave (phones as canonical digits).
    fn list(&self) -> BoxFuture<'_, anyhow::Result<Vec<User>>>;
    /// Block at most [`Provider::max_batch`] users in one call. A call that
    /// stops part-way hands back what was answered ([`Interrupted`]).
    fn block<'a>(&'a self, users: &'a [User]) -> BoxFuture<'a, Batch>;
    /// Unblock at most [`Provider::max_batch`] users in one call, likewise.
    fn unblock<'a>(&'a self, users: &'a [User]) -> BoxFuture<'a, Batch>;
    /// The largest batch one call accepts.
    fn max_batch(&self) -> usize;
    /// Counters for the report and the progress bars. Every provider adds
    /// each user to [`Stats::answered`] as it is answered (one that spends a
    /// request per user, like WAHA, per contact, or progress would stand
    /// still for minutes).
    fn stats(&self) -> &Stats;
    /// Listed users whose last change the provider may or may not have
    /// made, so plans send them again ([`crate::plan::Plan::resend`]): WAHA
    /// contacts left pending in the ledger by a run that stopped. A platform
    /// that lists its own blocks has none.
    fn unconfirmed(&self) -> BoxFuture<'_, anyhow::Result<Vec<User>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Lines every plan shows under this target, e.g. that WAHA's live list
    /// is the tool's ledger. Asked after listing: what is said may depend on
    /// what the listing found.
    fn notes(&self, unconfirmed: &[User]) -> Vec<String> {
        let _ = unconfirmed;
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Stats;

    #[test]
    fn a_listing_that_starts_over_counts_from_zero() {
        let stats = Stats::default();
        stats.listing_started();
        stats.page_read(1000);
        stats.page_read(250);
        assert_eq!((stats.pages_read(), stats.users_listed()), (2, 1250));
        stats.listing_started();
        stats.page_read(7);
        assert_eq!((stats.pages_read(), stats.users_listed()), (1, 7));
    }

    #[test]
    fn answered_users_add_up_and_survive_a_relisting() {
        let stats = Stats::default();
        stats.answered(1000);
        stats.answered(3);
        stats.listing_started();
        assert_eq!(stats.users_answered(), 1003);
    }
}
