//! Fault injection in front of the provider routes: latency, 503 bursts and
//! dice, a per-second rate limit answered with 429 and `Retry-After`, and
//! replies truncated in transit. One set of dice for all providers; each
//! provider's file words the fault in its own wire format ([`Dialect`]).
//!
//! The client's retry rules (docs/platforms.md, NxCloud: 429 and 5xx are retryable,
//! honour `Retry-After`) are only as good as the faults they were tested
//! against, so every one of them is reproducible from a seed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::server::Shared;
use super::{Faults, graph, nxcloud, waha};

/// Whose wire format a faulted reply is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    NxCloud,
    CloudApi,
    Waha,
}

impl Dialect {
    /// A 503 or 429 reply as this provider would word it.
    fn reply(self, status: StatusCode) -> Response {
        match self {
            Dialect::NxCloud => nxcloud::fault_reply(status),
            Dialect::CloudApi => graph::fault_reply(status),
            Dialect::Waha => waha::fault_reply(status),
        }
    }
}

/// What happens to one request, decided when it arrives.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    Serve,
    /// Served normally (the change happens) but the reply is cut short.
    Truncate,
    Unavailable,
    RateLimited,
}

pub struct Injector {
    faults: Faults,
    dice: Mutex<Dice>,
}

struct Dice {
    /// xorshift64* state: small, seedable, and no `rand` dependency.
    rng: u64,
    /// Requests received since start, for `fail_first`.
    received: u64,
    window_start: Instant,
    in_window: u32,
}

impl Dice {
    /// Uniform in [0, 1).
    fn roll(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Injector {
    pub fn new(faults: Faults) -> Injector {
        // xorshift never leaves 0, so seed 0 takes a fixed odd constant instead.
        let rng = if faults.seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            faults.seed
        };
        Injector {
            faults,
            dice: Mutex::new(Dice {
                rng,
                received: 0,
                window_start: Instant::now(),
                in_window: 0,
            }),
        }
    }

    fn verdict(&self) -> Fate {
        self.verdict_at(Instant::now())
    }

    /// The verdict for a request arriving at `now`: the rate-limit window is
    /// checked against a given instant so tests need no real second to pass.
    fn verdict_at(&self, now: Instant) -> Fate {
        let f = &self.faults;
        let mut dice = self.dice.lock().unwrap_or_else(|e| e.into_inner());
        dice.received += 1;
        if dice.received <= f.fail_first {
            return Fate::Unavailable;
        }
        if dice.received <= f.fail_first.saturating_add(f.rate_limit_first) {
            return Fate::RateLimited;
        }
        if let Some(limit) = f.rate_limit {
            if now.duration_since(dice.window_start) >= Duration::from_secs(1) {
                dice.window_start = now;
                dice.in_window = 0;
            }
            dice.in_window = dice.in_window.saturating_add(1);
            if dice.in_window > limit {
                return Fate::RateLimited;
            }
        }
        if f.fail_rate > 0.0 && dice.roll() < f.fail_rate {
            return Fate::Unavailable;
        }
        if f.malformed_rate > 0.0 && dice.roll() < f.malformed_rate {
            return Fate::Truncate;
        }
        Fate::Serve
    }
}

/// Middleware on the provider routes. 503 and 429 are answered before the
/// handler runs, so a faulted request changes nothing.
pub async fn inject(
    State((shared, dialect)): State<(Arc<Shared>, Dialect)>,
    request: Request,
    next: Next,
) -> Response {
    let injector = &shared.injector;
    let verdict = injector.verdict();
    if injector.faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(injector.faults.latency_ms)).await;
    }
    match verdict {
        Fate::Serve => next.run(request).await,
        Fate::Truncate => truncate(next.run(request).await).await,
        Fate::Unavailable => dialect.reply(StatusCode::SERVICE_UNAVAILABLE),
        Fate::RateLimited => {
            let mut reply = dialect.reply(StatusCode::TOO_MANY_REQUESTS);
            reply
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            reply
        }
    }
}

/// The handler's reply, HTTP 200, with only the first half of its body: the
/// change was made but the client cannot tell, so its retry must be harmless.
async fn truncate(reply: Response) -> Response {
    let (mut parts, body) = reply.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    parts.status = StatusCode::OK;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(faults: Faults, n: usize) -> Vec<Fate> {
        let injector = Injector::new(faults);
        (0..n).map(|_| injector.verdict()).collect()
    }

    #[test]
    fn the_dice_replay_from_the_seed() {
        let faults = Faults {
            fail_rate: 0.5,
            seed: 42,
            ..Faults::default()
        };
        let first = verdicts(faults.clone(), 200);
        assert_eq!(first, verdicts(faults, 200));
        let failed = first.iter().filter(|v| **v == Fate::Unavailable).count();
        assert!((60..=140).contains(&failed), "{failed} of 200 failed");
    }

    /// The window is one second from its first request; the clock is given,
    /// so this holds however slowly a busy machine runs the test.
    #[test]
    fn the_rate_limit_counts_per_one_second_window() {
        let faults = Faults {
            rate_limit: Some(2),
            ..Faults::default()
        };
        let injector = Injector::new(faults);
        let start = injector.dice.lock().unwrap().window_start;
        let at = |ms| injector.verdict_at(start + Duration::from_millis(ms));
        assert_eq!(at(0), Fate::Serve);
        assert_eq!(at(10), Fate::Serve);
        assert_eq!(at(999), Fate::RateLimited);
        // The window passes; the next request opens a new one.
        assert_eq!(at(1000), Fate::Serve);
        assert_eq!(at(1500), Fate::Serve);
        assert_eq!(at(1999), Fate::RateLimited);
        assert_eq!(at(2000), Fate::Serve);
    }

    #[test]
    fn rate_limit_first_follows_the_503_burst() {
        let faults = Faults {
            fail_first: 1,
            rate_limit_first: 2,
            ..Faults::default()
        };
        use Fate::*;
        let expected = [Unavailable, RateLimited, RateLimited, Serve, Serve];
        assert_eq!(verdicts(faults, 5), expected);
    }

    #[test]
    fn no_faults_by_default() {
        assert!(
            verdicts(Faults::default(), 100)
                .iter()
                .all(|v| *v == Fate::Serve)
        );
    }
}
