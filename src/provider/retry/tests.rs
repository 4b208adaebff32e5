//! The classifiers' tables and the backoff loop, on tokio's paused clock.

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
    outcomes: Vec<Attempt<&'static str>>,
) -> (anyhow::Result<&'static str>, u32, Duration) {
    let outcomes = std::cell::RefCell::new(outcomes.into_iter());
    let calls = Cell::new(0);
    let started = Instant::now();
    let result = run(policy, stats, WHAT, |n| {
        calls.set(calls.get() + 1);
        assert_eq!(n, calls.get(), "attempts are numbered from 1");
        let next = outcomes.borrow_mut().next();
        async move { next.unwrap_or(Attempt::Done("ok")) }
    })
    .await;
    (result, calls.get(), started.elapsed())
}

fn transient(retry_after: Option<Duration>) -> Attempt<&'static str> {
    Attempt::Transient {
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
    let outcomes = vec![Attempt::Fatal(anyhow::anyhow!("{WHAT}: invalid signature"))];
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

/// One `Retry-After: 999999` (capped at two minutes) under a 10 s deadline:
/// the wait is not started, and the error says why, at once.
#[tokio::test(start_paused = true)]
async fn a_wait_past_the_deadline_is_not_started() {
    let stop = crate::stop::Stop::new(Some(Duration::from_secs(10)));
    let stats = Stats::default();
    let calls = Cell::new(0);
    let started = Instant::now();
    let result: anyhow::Result<()> =
        run_until(&stop, &RetryPolicy::default(), &stats, WHAT, |_| {
            calls.set(calls.get() + 1);
            async {
                Attempt::Transient {
                    why: "HTTP 429".into(),
                    retry_after: parse_retry_after("999999"),
                }
            }
        })
        .await;
    assert_eq!(
        result.unwrap_err().to_string(),
        format!(
            "{WHAT}: attempt 1 failed (HTTP 429); the run's deadline (--timeout 10s) was reached; not waiting 2m to retry, as that would end past it"
        )
    );
    assert_eq!((calls.get(), stats.retries()), (1, 0));
    assert_eq!(started.elapsed(), Duration::ZERO);
}

/// A server that never answers costs the run at most its deadline.
#[tokio::test(start_paused = true)]
async fn an_attempt_is_abandoned_at_the_deadline() {
    let stop = crate::stop::Stop::new(Some(Duration::from_secs(10)));
    let stats = Stats::default();
    let started = Instant::now();
    let result: anyhow::Result<()> =
        run_until(&stop, &RetryPolicy::default(), &stats, WHAT, |_| {
            std::future::pending()
        })
        .await;
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    assert_eq!(
        result.unwrap_err().to_string(),
        format!(
            "{WHAT}: the run's deadline (--timeout 10s) was reached; the request in flight was abandoned unanswered"
        )
    );
}
