//! One block or unblock of a provider that answers a whole batch per request
//! (NxCloud, the Cloud API), as the caller sees it: the call, a second
//! chance for the users refused only for now, and the count of users
//! answered, which progress bars read.
//!
//! A provider that spends a request per user (WAHA) needs neither: it
//! retries each user until its answer is final, and counts each as it comes.

use std::collections::HashSet;

use super::meta::Direction;
use super::retry::{self, RetryPolicy};
use super::{Batch, BatchResult, Interrupted, Stats};
use crate::user::User;

/// One block or unblock request (or, for the Cloud API, the halves it
/// becomes) with its own retries: what [`call`] sends.
pub(super) trait Write: Sync {
    fn write(&self, direction: Direction, users: &[User]) -> impl Future<Output = Batch> + Send;
}

/// `users` written, then written once more for the users the platform refused
/// with a transient per-user code (130429, 131000…): those mean "not now",
/// not "never", so they get a second chance, after the first backoff of the
/// client's own `policy`, before they are reported failed. If the second
/// call stops part-way, users it did not answer keep the first call's
/// answer.
///
/// Every user of `users` the answer speaks for is added to
/// [`Stats::answered`]; users the platform names but was not sent are not.
pub(super) async fn call<W: Write>(
    writer: &W,
    direction: Direction,
    policy: &RetryPolicy,
    stats: &Stats,
    users: &[User],
) -> Batch {
    let outcome = async {
        let mut result = writer.write(direction, users).await?;
        let again: Vec<User> = result
            .failed
            .iter()
            .filter(|f| retry::meta_code_is_transient(f.code, false))
            .map(|f| f.user.clone())
            .collect();
        if again.is_empty() {
            return Ok(result);
        }
        let (stop, purpose) = (crate::stop::current(), "to resend refused users");
        if let Err(stopped) = retry::pause(stop, policy, stats, 1, None, purpose, |_| {}).await {
            return Err(Interrupted::stopped(result, stopped.into()));
        }
        let (second, error) = match writer.write(direction, &again).await {
            Ok(second) => (second, None),
            Err(Interrupted { partial, error }) => (partial, Some(error)),
        };
        let answered: HashSet<&User> = (second.done.iter())
            .chain(second.failed.iter().map(|f| &f.user))
            .collect();
        result.failed.retain(|f| !answered.contains(&f.user));
        let BatchResult { done, failed } = second;
        result.done.extend(done);
        result.failed.extend(failed);
        match error {
            None => Ok(result),
            Some(error) => Err(Interrupted::stopped(result, error)),
        }
    }
    .await;
    let (Ok(result)
    | Err(Interrupted {
        partial: result, ..
    })) = &outcome;
    let sent: HashSet<&User> = users.iter().collect();
    let answered = (result.done.iter())
        .chain(result.failed.iter().map(|f| &f.user))
        .filter(|user| sent.contains(user))
        .count();
    stats.answered(answered as u64);
    outcome
}

#[cfg(test)]
mod tests;
