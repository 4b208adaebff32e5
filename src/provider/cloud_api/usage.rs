//! Slowing down before Meta's rate limit rather than hitting it.
//!
//! Cloud API replies carry `x-business-use-case-usage`: a JSON object of
//! arrays of `{call_count, total_cputime, total_time,
//! estimated_time_to_regain_access}`, the first three in percent of the
//! allowance, the last in minutes (docs/platforms.md, Cloud API: "when it is present and
//! high, slow down rather than hit the wall"). The client pauses before its
//! next request: nothing below 75 %, then from ~100 ms at 75 % up to 2 s at
//! 100 %; when Meta names a time to regain access, that long (capped).
//!
//! Each pause is capped, but a long listing could still add them up to
//! hours. So a client waits at most [`WAIT_BUDGET`] in all for these pauses;
//! past that it fails, saying when Meta expects access back, and the run can
//! be repeated then.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

pub const HEADER: &str = "x-business-use-case-usage";

/// Below this share of the allowance, no pause at all.
const SLOW_FROM: f64 = 75.0;
const PAUSE_AT_SLOW_FROM: Duration = Duration::from_millis(100);
const PAUSE_AT_FULL: Duration = Duration::from_secs(2);
/// Meta may ask for an hour; a CI job should rather fail and be re-run.
pub const MAX_REGAIN_WAIT: Duration = Duration::from_secs(120);
/// The most one client waits for usage pauses over its whole life (one run).
pub const WAIT_BUDGET: Duration = Duration::from_secs(300);

/// The highest figures found in one header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// The largest of every `call_count`, `total_cputime` and `total_time`.
    pub percent: f64,
    /// The largest `estimated_time_to_regain_access`, in minutes.
    pub regain_minutes: f64,
}

/// Read the header; `None` when it is not the JSON described above.
pub fn parse(header: &str) -> Option<Usage> {
    let Value::Object(by_business) = serde_json::from_str(header).ok()? else {
        return None;
    };
    let mut usage = Usage {
        percent: 0.0,
        regain_minutes: 0.0,
    };
    let mut found = false;
    for entries in by_business.values() {
        for entry in entries.as_array().into_iter().flatten() {
            for field in ["call_count", "total_cputime", "total_time"] {
                if let Some(value) = number(entry.get(field)) {
                    usage.percent = usage.percent.max(value);
                    found = true;
                }
            }
            if let Some(minutes) = number(entry.get("estimated_time_to_regain_access")) {
                usage.regain_minutes = usage.regain_minutes.max(minutes);
                found = true;
            }
        }
    }
    found.then_some(usage)
}

/// A figure as a number, or as a string holding one (seen from some proxies).
fn number(value: Option<&Value>) -> Option<f64> {
    let value = match value? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    value.is_finite().then_some(value.max(0.0))
}

/// How long to wait before the next request.
pub fn pause(usage: &Usage) -> Duration {
    let by_percent = if usage.percent < SLOW_FROM {
        Duration::ZERO
    } else {
        let share = ((usage.percent - SLOW_FROM) / (100.0 - SLOW_FROM)).min(1.0);
        PAUSE_AT_SLOW_FROM + (PAUSE_AT_FULL - PAUSE_AT_SLOW_FROM).mul_f64(share)
    };
    let regain = Duration::from_secs_f64((usage.regain_minutes * 60.0).min(1e6));
    by_percent.max(regain.min(MAX_REGAIN_WAIT))
}

/// When the next request may go out; shared by every call of one client.
#[derive(Debug)]
pub struct Throttle {
    budget: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    not_before: Option<Instant>,
    /// Usage pauses waited so far, against the budget.
    waited: Duration,
    /// The latest reading, for the error once the budget is spent.
    last: Option<Usage>,
}

impl Throttle {
    /// A throttle that waits at most `budget` in all.
    pub fn new(budget: Duration) -> Self {
        Throttle {
            budget,
            state: Mutex::new(State::default()),
        }
    }

    /// Take in a reply's header (if any) and push the next request back.
    pub fn observe(&self, header: Option<&str>) {
        let Some(usage) = header.and_then(parse) else {
            return;
        };
        let pause = pause(&usage);
        if pause.is_zero() {
            return;
        }
        let percent = usage.percent.round();
        crate::debug!("slowing down: business use case usage {percent}%");
        if usage.regain_minutes > 0.0 {
            let capped = if pause == MAX_REGAIN_WAIT {
                " (capped)"
            } else {
                ""
            };
            crate::info!(
                "cloud-api: Meta says access returns in {} minute(s); waiting {} s{capped} before the next request",
                usage.regain_minutes,
                pause.as_secs()
            );
        }
        let until = Instant::now() + pause;
        if let Ok(mut state) = self.state.lock() {
            state.not_before = Some(state.not_before.map_or(until, |t| t.max(until)));
            state.last = Some(usage);
        }
    }

    /// Wait until the next request may go out. `Err` (the reason, for the
    /// caller to prefix with the endpoint) when that wait would take this
    /// client past its budget: nothing is waited then.
    pub async fn wait(&self) -> Result<(), String> {
        let pause = {
            let Ok(mut state) = self.state.lock() else {
                return Ok(());
            };
            let Some(until) = state.not_before else {
                return Ok(());
            };
            let pause = until.saturating_duration_since(Instant::now());
            if state.waited + pause > self.budget {
                return Err(spent(&state, pause, self.budget));
            }
            state.waited += pause;
            pause
        };
        // Usage pauses count against the run's deadline like any wait.
        crate::stop::current()
            .sleep(pause, "for Meta's usage to come down")
            .await
            .map_err(|stopped| stopped.to_string())
    }
}

fn spent(state: &State, pause: Duration, budget: Duration) -> String {
    let (percent, regain) = state
        .last
        .map_or((0.0, 0.0), |u| (u.percent.round(), u.regain_minutes));
    let when = if regain > 0.0 {
        format!(
            "Meta estimates access returns in {regain} minute(s) (estimated_time_to_regain_access)"
        )
    } else {
        format!("business use case usage is at {percent}%")
    };
    format!(
        "Meta asks this client to slow down (x-business-use-case-usage) and it has already waited {} s; \
         another {} s would pass the {} s one run may wait, so it stops here: {when}; run again then",
        state.waited.as_secs(),
        pause.as_secs(),
        budget.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(percent: f64, regain_minutes: f64) -> Usage {
        Usage {
            percent,
            regain_minutes,
        }
    }

    #[test]
    fn the_header_takes_the_highest_figures() {
        let header = r#"{"102290129340398":[
            {"type":"whatsapp_business_management","call_count":28,"total_cputime":81,"total_time":40,"estimated_time_to_regain_access":0},
            {"type":"whatsapp_business_messaging","call_count":"90","total_cputime":1,"total_time":1,"estimated_time_to_regain_access":3}
        ],"5":[]}"#;
        assert_eq!(parse(header), Some(usage(90.0, 3.0)));
        assert_eq!(parse(r#"{"1":[{"call_count":5}]}"#), Some(usage(5.0, 0.0)));
        for junk in ["", "[]", "{}", r#"{"1":[{"type":"x"}]}"#, "{\"1\":", "75"] {
            assert_eq!(parse(junk), None, "{junk:?}");
        }
        assert_eq!(
            parse(r#"{"1":[{"call_count":-4,"total_time":null}]}"#),
            Some(usage(0.0, 0.0))
        );
    }

    #[test]
    fn the_pause_grows_from_75_to_100_percent() {
        assert_eq!(pause(&usage(0.0, 0.0)), Duration::ZERO);
        assert_eq!(pause(&usage(74.9, 0.0)), Duration::ZERO);
        assert_eq!(pause(&usage(75.0, 0.0)), Duration::from_millis(100));
        let middle = pause(&usage(87.5, 0.0));
        assert!(middle > Duration::from_millis(1000) && middle < Duration::from_millis(1100));
        assert_eq!(pause(&usage(100.0, 0.0)), Duration::from_secs(2));
        assert_eq!(pause(&usage(250.0, 0.0)), Duration::from_secs(2));
    }

    #[test]
    fn a_time_to_regain_access_is_waited_capped() {
        assert_eq!(pause(&usage(10.0, 1.0)), Duration::from_secs(60));
        assert_eq!(pause(&usage(100.0, 0.01)), Duration::from_secs(2));
        assert_eq!(pause(&usage(100.0, 60.0)), MAX_REGAIN_WAIT);
        assert_eq!(pause(&usage(0.0, 1e300)), MAX_REGAIN_WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn the_throttle_delays_the_next_request() {
        let throttle = Throttle::new(WAIT_BUDGET);
        let started = Instant::now();
        throttle.wait().await.unwrap();
        throttle.observe(None);
        throttle.observe(Some("not json"));
        throttle.observe(Some(r#"{"1":[{"call_count":10}]}"#));
        throttle.wait().await.unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);

        throttle.observe(Some(r#"{"1":[{"call_count":100}]}"#));
        // A lower reading later does not shorten a pause already asked for.
        throttle.observe(Some(r#"{"1":[{"call_count":75}]}"#));
        throttle.wait().await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_stop_at_the_budget_instead_of_waiting_for_hours() {
        let throttle = Throttle::new(WAIT_BUDGET);
        let started = Instant::now();
        let regain = r#"{"1":[{"call_count":100,"estimated_time_to_regain_access":45}]}"#;
        for _ in 0..2 {
            throttle.observe(Some(regain));
            throttle.wait().await.unwrap();
        }
        assert_eq!(started.elapsed(), 2 * MAX_REGAIN_WAIT);
        throttle.observe(Some(regain));
        let why = throttle.wait().await.unwrap_err();
        assert_eq!(
            started.elapsed(),
            2 * MAX_REGAIN_WAIT,
            "nothing more waited"
        );
        assert_eq!(
            why,
            "Meta asks this client to slow down (x-business-use-case-usage) and it has already waited 240 s; \
             another 120 s would pass the 300 s one run may wait, so it stops here: \
             Meta estimates access returns in 45 minute(s) (estimated_time_to_regain_access); run again then"
        );
        // Short pauses count too, and are refused once they no longer fit.
        let throttle = Throttle::new(Duration::from_secs(3));
        let full = r#"{"1":[{"call_count":100}]}"#;
        throttle.observe(Some(full));
        throttle.wait().await.unwrap();
        throttle.observe(Some(full));
        let why = throttle.wait().await.unwrap_err();
        assert!(
            why.ends_with("business use case usage is at 100%; run again then"),
            "{why}"
        );
    }
}
