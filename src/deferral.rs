//! Deferred blocks: users the platform refused for now because they have
//! not messaged the business in the last 24 hours (131047). A deferral is
//! not drift: the block lands as soon as the user writes. The state store
//! remembers each one (when it was first refused, how often it was tried),
//! so plans and drift reports show them apart from real changes.

use crate::user::User;

/// One block the platform refused under the 24-hour rule, as remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferral {
    pub user: User,
    /// When the platform first refused it: RFC 3339, UTC.
    pub since: String,
    /// Apply runs that tried it and were refused.
    pub attempts: u32,
    /// The platform's last code (131047).
    pub code: i64,
}

impl Deferral {
    /// The day part of `since`, for one-line renderings.
    pub fn since_day(&self) -> &str {
        self.since.get(..10).unwrap_or(&self.since)
    }
}
