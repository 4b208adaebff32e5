//! The one place that decides what is transient, and the one backoff loop.
//!
//! Every backend sorts each attempt into [`Attempt::Done`], [`Attempt::Transient`]
//! or [`Attempt::Fatal`] using the classifiers below, and [`run`] does the rest:
//! capped exponential backoff with jitter, `Retry-After`, a bounded number of
//! attempts, and one clear error when it gives up.
//!
//! Writes are retried too. That is safe because blocking and unblocking are
//! idempotent on the platform (docs/platforms.md, NxCloud, Cloud API): blocking a blocked user or
//! unblocking an unblocked one changes nothing, so a write whose reply was lost
//! can simply be sent again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;

use super::Stats;
use crate::stop::{self, Stop, Stopped};

/// A `Retry-After` longer than this is a server asking us to go away; we wait
/// this long at most and let the attempt budget decide.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// How hard to try before giving up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least one is always made).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles with each further retry.
    pub base_delay: Duration,
    /// The backoff never exceeds this (a `Retry-After` may).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(8),
        }
    }
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// Worth another try. `why` is what the final error shows if none is left.
    Transient {
        why: String,
        retry_after: Option<Duration>,
    },
    /// Never retried; returned as is, so it should name the endpoint itself.
    Fatal(anyhow::Error),
}

/// HTTP 429 and 5xx are transient (docs/platforms.md, NxCloud: "treat HTTP 429 and 5xx as
/// retryable"); so is 408, the server's own request timeout.
pub fn status_is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

/// Network failures and timeouts are transient: connection refused or reset,
/// a timeout, a reply cut short may all pass. Failures that will happen the
/// same way again are not: a request that could not even be built (bad URL,
/// bad header), a redirect loop, and a TLS handshake that failed
/// ([`is_tls_failure`]).
pub fn reqwest_error_is_transient(error: &reqwest::Error) -> bool {
    !(error.is_builder() || error.is_redirect() || is_tls_failure(error))
}

/// A request that got no reply: why, for the log and the error, and
/// whether another try may help.
#[derive(Debug)]
pub struct NoReply {
    pub why: String,
    pub transient: bool,
}

/// Sort a request's failure, with a hint for the failures that need the
/// user to act.
pub fn no_reply(error: reqwest::Error) -> NoReply {
    let transient = reqwest_error_is_transient(&error);
    let tls = is_tls_failure(&error);
    let mut why = describe(error);
    if tls {
        why.push_str(
            " (the TLS handshake failed, and trying again will not fix it: check that the URL's scheme matches the server, https:// only where it speaks TLS, and that its certificate is valid)",
        );
    }
    NoReply { why, transient }
}

/// Did connecting fail in the TLS handshake: a server that does not speak
/// TLS ("received corrupt message of type InvalidContentType" from an HTTP
/// port), a certificate that does not verify, a protocol mismatch?
///
/// rustls is not a direct dependency, so its error type cannot be named;
/// tokio-rustls reports every rustls error as an I/O error of kind
/// `InvalidData` (hyper-util wraps that in one of kind `Other`, whose
/// `source()` skips it, hence the walk through `get_ref`). No other part of
/// connecting over TCP reports `InvalidData`.
pub fn is_tls_failure(error: &reqwest::Error) -> bool {
    if !error.is_connect() {
        return false;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let mut io = cause.downcast_ref::<std::io::Error>();
        while let Some(inner) = io {
            if inner.kind() == std::io::ErrorKind::InvalidData {
                return true;
            }
            io = inner
                .get_ref()
                .and_then(|e| e.downcast_ref::<std::io::Error>());
        }
        source = cause.source();
    }
    false
}

/// NxCloud envelope codes worth retrying (docs/platforms.md, NxCloud): -1 "request
/// failed" and 9007 "downstream failure".
pub fn nxcloud_code_is_transient(code: i64) -> bool {
    matches!(code, -1 | 9007)
}

/// Meta error codes worth retrying (docs/platforms.md, Cloud API): 139103 internal error,
/// 130429 and 4/80007 rate limits, 1/2/131000/131016 unknown or temporarily down.
/// `flagged` is Meta's own `is_transient`, which wins when set.
pub fn meta_code_is_transient(code: i64, flagged: bool) -> bool {
    flagged || matches!(code, 139103 | 130429 | 4 | 80007 | 1 | 2 | 131000 | 131016)
}

/// Meta's own `is_transient` flag (docs/platforms.md, Cloud API: "Errors may carry
/// `is_transient: true`: treat as retryable"), read leniently: a proxy that
/// turns it into the string `"true"` still means it.
pub fn meta_flag_is_transient(flag: Option<&serde_json::Value>) -> bool {
    match flag {
        Some(serde_json::Value::Bool(flag)) => *flag,
        Some(serde_json::Value::String(flag)) => flag.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Meta's 130429, "too many numbers or requests": besides backing off, a
/// batch that met it is split in halves before it is sent again (docs/platforms.md
///: "back off; shrink the chunk").
pub fn meta_code_shrinks_batch(code: i64) -> bool {
    code == 130429
}

/// A network error with its causes, without the URL (the caller names it).
/// reqwest errors never carry request headers, so no credential can leak here.
pub fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` in its seconds form (the HTTP-date form is ignored), capped
/// at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// The pause before retry number `retry` (1 for the first retry): exponential,
/// capped at `max_delay`, with "equal jitter" (half fixed, half random) so
/// that clients failing together do not retry together, yet never retry at once.
pub fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
    let doublings = retry.saturating_sub(1).min(31);
    let ceiling = policy
        .base_delay
        .saturating_mul(1u32 << doublings)
        .min(policy.max_delay);
    let half = ceiling / 2;
    let spread = (ceiling - half).as_micros() as u64;
    let jitter = if spread == 0 {
        0
    } else {
        next_random() % (spread + 1)
    };
    half + Duration::from_micros(jitter)
}

/// The pause before retry number `retry`: the backoff, or longer when the
/// server asked for longer (already capped); waited by [`pause`].
pub fn delay(policy: &RetryPolicy, retry: u32, retry_after: Option<Duration>) -> Duration {
    backoff(policy, retry).max(retry_after.unwrap_or_default())
}

/// Run `attempt(n)` for n = 1, 2, … until it is done, fatal, or the policy's
/// attempts are spent. `what` names the operation in the final error and in
/// the debug log, e.g. `POST https://…/api/wa/getBlockUsers`.
///
/// The run's [`stop`] is obeyed throughout: no attempt starts once the run
/// is stopping, an attempt is abandoned at the deadline, and a pause that
/// would end past the deadline is not started (the error says so).
pub async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    stats: &Stats,
    what: &str,
    attempt: F,
) -> anyhow::Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    run_until(stop::current(), policy, stats, what, attempt).await
}

/// [`run`] under a given [`Stop`].
pub async fn run_until<T, F, Fut>(
    stop: &Stop,
    policy: &RetryPolicy,
    stats: &Stats,
    what: &str,
    mut attempt: F,
) -> anyhow::Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let max_attempts = policy.max_attempts.max(1);
    let mut number = 1;
    loop {
        if let Err(stopped) = stop.check() {
            anyhow::bail!("{what}: {stopped}");
        }
        let outcome = match stop.bounded(attempt(number)).await {
            Ok(outcome) => outcome,
            Err(stopped) => anyhow::bail!("{what}: {stopped}"),
        };
        match outcome {
            Attempt::Done(value) => return Ok(value),
            Attempt::Fatal(error) => return Err(error),
            Attempt::Transient { why, retry_after } => {
                if number >= max_attempts {
                    let plural = if max_attempts == 1 { "" } else { "s" };
                    anyhow::bail!("{what}: gave up after {max_attempts} attempt{plural}: {why}");
                }
                let log = |delay: Duration| {
                    crate::debug!(
                        "{what}: attempt {number} of {max_attempts} failed ({why}); retrying in {} ms",
                        delay.as_millis()
                    )
                };
                let waited = pause(stop, policy, stats, number, retry_after, "to retry", log);
                if let Err(stopped) = waited.await {
                    anyhow::bail!("{what}: attempt {number} failed ({why}); {stopped}");
                }
                number += 1;
            }
        }
    }
}

/// Wait before retry number `retry` (1 for the first), then count it.
/// Every pause before trying again goes through here: [`run`]'s, the Cloud
/// API's before it sends a batch as halves, and the second chance for users
/// refused for now ([`super::batch`]). Each is [`delay`] (the policy's
/// backoff, or the server's `Retry-After` when longer), and none is started
/// when it would end past the run's deadline. `log` writes the debug line,
/// given the pause; `purpose` ends the error a stop gives ("to retry").
pub async fn pause(
    stop: &Stop,
    policy: &RetryPolicy,
    stats: &Stats,
    retry: u32,
    retry_after: Option<Duration>,
    purpose: &str,
    log: impl FnOnce(Duration),
) -> Result<(), Stopped> {
    let delay = delay(policy, retry, retry_after);
    log(delay);
    stop.sleep(delay, purpose).await?;
    stats.retry();
    Ok(())
}

/// A tiny xorshift64 generator for jitter, seeded from the clock: jitter needs
/// spread, not quality, and this spares a dependency.
fn next_random() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        x = nanos | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    // Racing threads may reuse a state; for jitter that does no harm.
    STATE.store(x, Ordering::Relaxed);
    x
}

#[cfg(test)]
mod tests;
