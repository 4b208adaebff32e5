//! Apply a plan: unblocks first, then blocks, in chunks, with per-user outcomes.

/// A user the platform did not block or unblock, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOutcome {
    pub user: String,
    /// Meta's per-user error code (e.g. 131047).
    pub code: i64,
    /// Machine-readable reason: `not_messaged_24h`, `cannot_block_self`,
    /// `block_list_full`, or `error_<code>` for codes without a name.
    pub reason: String,
    /// The platform's message, as given.
    pub message: String,
}

/// What apply did to one target (product.md §4, apply report).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetReport {
    pub blocked: Vec<String>,
    pub unblocked: Vec<String>,
    /// Refused for now (131047: the user has not messaged in 24 h): drift, not failure.
    pub deferred: Vec<UserOutcome>,
    /// Refused for good (e.g. 131021, cannot block yourself).
    pub failed: Vec<UserOutcome>,
    /// Changes in a reviewed plan that were already live when applied.
    pub skipped_already_done: usize,
    pub requests: u64,
    pub retries: u64,
}

impl TargetReport {
    /// Differences remain after this apply (exit 2 with `--detailed-exitcode`).
    pub fn left_differences(&self) -> bool {
        !self.deferred.is_empty() || !self.failed.is_empty()
    }
}
