//! The one place that decides what is transient, and the one backoff loop.
//!
//! Every backend sorts each attempt into [`Outcome::Done`], [`Outcome::Transient`]
//! or [`Outcome::Fatal`] using the classifiers below, and [`run`] does the rest:
//! capped exponential backoff with jitter, `Retry-After`, a bounded number of
//! attempts, and one clear error when it gives up.
//!
//! Writes are retried too. That is safe because blocking and unblocking are
//! idempotent on the platform (providers.md §1, §2): blocking a blocked user or
//! unblocking an unblocked one changes nothing, so a write whose reply was lost
//! can simply be sent again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;

use super::Stats;

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
pub enum Outcome<T> {
    Done(T),
    /// Worth another try. `why` is what the final error shows if none is left.
    Transient {
        why: String,
        retry_after: Option<Duration>,
    },
    /// Never retried; returned as is, so it should name the endpoint itself.
    Fatal(anyhow::Error),
}

/// HTTP 429 and 5xx are transient (providers.md §1: "treat HTTP 429 and 5xx as
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

/// NxCloud envelope codes worth retrying (providers.md §1): -1 "request
/// failed" and 9007 "downstream failure".
pub fn nxcloud_code_is_transient(code: i64) -> bool {
    matches!(code, -1 | 9007)
}

/// Meta error codes worth retrying (providers.md §2): 139103 internal error,
/// 130429 and 4/80007 rate limits, 1/2/131000/131016 unknown or temporarily down.
/// `flagged` is Meta's own `is_transient`, which wins when set.
pub fn meta_code_is_transient(code: i64, flagged: bool) -> bool {
    flagged || matches!(code, 139103 | 130429 | 4 | 80007 | 1 | 2 | 131000 | 131016)
}

/// Meta's own `is_transient` flag (providers.md §2: "Errors may carry
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
/// batch that met it is split in halves before it is sent again (providers.md
/// §2: "back off; shrink the chunk").
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
/// server asked for longer (already capped). Shared by [`run`] and by callers
/// that change the request between attempts (the Cloud API halves a batch).
pub fn delay(policy: &RetryPolicy, retry: u32, retry_after: Option<Duration>) -> Duration {
    backoff(policy, retry).max(retry_after.unwrap_or_default())
}

/// Run `attempt(n)` for n = 1, 2, … until it is done, fatal, or the policy's
/// attempts are spent. `what` names the operation in the final error and in
/// the debug log, e.g. `POST https://…/api/wa/getBlockUsers`.
pub async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    stats: &Stats,
    what: &str,
    mut attempt: F,
) -> anyhow::Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Outcome<T>>,
{
    let max_attempts = policy.max_attempts.max(1);
    let mut number = 1;
    loop {
        match attempt(number).await {
            Outcome::Done(value) => return Ok(value),
            Outcome::Fatal(error) => return Err(error),
            Outcome::Transient { why, retry_after } => {
                if number >= max_attempts {
                    let plural = if max_attempts == 1 { "" } else { "s" };
                    anyhow::bail!("{what}: gave up after {max_attempts} attempt{plural}: {why}");
                }
                let delay = delay(policy, number, retry_after);
                crate::debug!(
                    "{what}: attempt {number} of {max_attempts} failed ({why}); retrying in {} ms",
                    delay.as_millis()
                );
                stats.retry();
                tokio::time::sleep(delay).await;
                number += 1;
            }
        }
    }
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
mod tests {
    use super::*;
    use std::cell::Cell;
    use tokio::time::Instant;

    const WHAT: &str = "POST http://127.0.0.1:1/api/wa/getBlockUsers";

    #[test]
    fn classification_table() {
        for code in [429, 408, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(status_is_transient(status), "{code}");
        }
        for code in [200, 400, 401, 403, 404, 409] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(!status_is_transient(status), "{code}");
        }
        for code in [-1, 9007] {
            assert!(nxcloud_code_is_transient(code), "{code}");
        }
        for code in [
            0, 1001, 1002, 1003, 1004, 1005, 9000, 9002, 9006, 9099, 10003,
        ] {
            assert!(!nxcloud_code_is_transient(code), "{code}");
        }
        for code in [139103, 130429, 4, 80007, 1, 2, 131000, 131016] {
            assert!(meta_code_is_transient(code, false), "{code}");
        }
        for code in [0, 190, 10, 200, 139100, 139101, 139102, 131021, 131047] {
            assert!(!meta_code_is_transient(code, false), "{code}");
        }
        assert!(meta_code_is_transient(131021, true));
        for (flag, transient) in [
            (serde_json::json!(true), true),
            (serde_json::json!("true"), true),
            (serde_json::json!(" TRUE "), true),
            (serde_json::json!(false), false),
            (serde_json::json!("false"), false),
            (serde_json::json!(null), false),
            (serde_json::json!(1), false),
        ] {
            assert_eq!(meta_flag_is_transient(Some(&flag)), transient, "{flag}");
        }
        assert!(!meta_flag_is_transient(None));
        assert!(meta_code_shrinks_batch(130429));
        for code in [4, 80007, 139103, 131047] {
            assert!(!meta_code_shrinks_batch(code), "{code}");
        }
    }

    #[test]
    fn retry_after_seconds_form_only_and_capped() {
        assert_eq!(parse_retry_after("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("600"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-3"), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy::default();
        for retry in 1..=40 {
            let ceiling = (policy.base_delay * 2u32.pow((retry - 1).min(20))).min(policy.max_delay);
            for _ in 0..20 {
                let delay = backoff(&policy, retry);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "{retry}: {delay:?}"
                );
            }
        }
    }

    /// Runs the loop with an attempt that replays `outcomes` (then succeeds),
    /// returning the result, the attempts made and the (paused) time spent.
    async fn replay(
        policy: &RetryPolicy,
        stats: &Stats,
        outcomes: Vec<Outcome<&'static str>>,
    ) -> (anyhow::Result<&'static str>, u32, Duration) {
        let outcomes = std::cell::RefCell::new(outcomes.into_iter());
        let calls = Cell::new(0);
        let started = Instant::now();
        let result = run(policy, stats, WHAT, |n| {
            calls.set(calls.get() + 1);
            assert_eq!(n, calls.get(), "attempts are numbered from 1");
            let next = outcomes.borrow_mut().next();
            async move { next.unwrap_or(Outcome::Done("ok")) }
        })
        .await;
        (result, calls.get(), started.elapsed())
    }

    fn transient(retry_after: Option<Duration>) -> Outcome<&'static str> {
        Outcome::Transient {
            why: "HTTP 503".into(),
            retry_after,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn first_success_neither_retries_nor_waits() {
        let stats = Stats::default();
        let (result, calls, spent) = replay(&RetryPolicy::default(), &stats, vec![]).await;
        assert_eq!(result.unwrap(), "ok");
        assert_eq!((calls, stats.retries()), (1, 0));
        assert_eq!(spent, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_back_off_then_succeed() {
        let stats = Stats::default();
        let outcomes = vec![transient(None), transient(None)];
        let (result, calls, spent) = replay(&RetryPolicy::default(), &stats, outcomes).await;
        assert_eq!(result.unwrap(), "ok");
        assert_eq!((calls, stats.retries()), (3, 2));
        // Retry 1 waits 100..=200 ms, retry 2 waits 200..=400 ms.
        assert!(spent >= Duration::from_millis(300), "{spent:?}");
        assert!(spent <= Duration::from_millis(600), "{spent:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_and_capped() {
        let stats = Stats::default();
        let outcomes = vec![transient(Some(Duration::from_secs(5)))];
        let (_, _, spent) = replay(&RetryPolicy::default(), &stats, outcomes).await;
        assert!(spent >= Duration::from_secs(5), "{spent:?}");
        assert!(spent < Duration::from_secs(6), "{spent:?}");

        let outcomes = vec![transient(parse_retry_after("86400"))];
        let (_, _, spent) = replay(&RetryPolicy::default(), &stats, outcomes).await;
        assert_eq!(spent, MAX_RETRY_AFTER);
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_is_never_retried() {
        let stats = Stats::default();
        let outcomes = vec![Outcome::Fatal(anyhow::anyhow!("{WHAT}: invalid signature"))];
        let (result, calls, spent) = replay(&RetryPolicy::default(), &stats, outcomes).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            format!("{WHAT}: invalid signature")
        );
        assert_eq!((calls, stats.retries(), spent), (1, 0, Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_bounded_and_the_error_says_what_was_tried() {
        let stats = Stats::default();
        let outcomes = (0..100).map(|_| transient(None)).collect();
        let (result, calls, spent) = replay(&RetryPolicy::default(), &stats, outcomes).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            format!("{WHAT}: gave up after 6 attempts: HTTP 503")
        );
        assert_eq!((calls, stats.retries()), (6, 5));
        // 200 + 400 + 800 + 1600 + 3200 ms at most.
        assert!(spent <= Duration::from_millis(6200), "{spent:?}");
        assert!(spent >= Duration::from_millis(3100), "{spent:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn max_delay_caps_every_wait() {
        let policy = RetryPolicy {
            max_attempts: 11,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(2),
        };
        let stats = Stats::default();
        let outcomes = (0..100).map(|_| transient(None)).collect();
        let (result, calls, spent) = replay(&policy, &stats, outcomes).await;
        assert!(result.is_err());
        assert_eq!(calls, 11);
        assert!(spent <= Duration::from_secs(20), "{spent:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_attempts_still_tries_once() {
        let policy = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        let stats = Stats::default();
        let (result, calls, _) = replay(&policy, &stats, vec![transient(None)]).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            format!("{WHAT}: gave up after 1 attempt: HTTP 503")
        );
        assert_eq!(calls, 1);
    }
}
