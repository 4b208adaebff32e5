//! Ending a run early, on purpose: the `--timeout` deadline and SIGINT or
//! SIGTERM. One mechanism serves both, because both mean the same thing to
//! the code that sends requests: send nothing new, and say why.
//!
//! - The deadline covers the whole run. A wait (backoff, `Retry-After`,
//!   Meta's usage pauses) that would end past it is not started, and a
//!   request still unanswered at the deadline is abandoned.
//! - The first signal stops new requests; requests in flight get
//!   [`GRACE`] to finish, so their outcome can be reported.
//!
//! Everything that sends or waits asks [`current`]: retries in
//! [`crate::provider::retry`], the apply loop between chunks, WAHA's lanes
//! between contacts, the Cloud API's usage pauses. The command installs the
//! run's [`Stop`] once; code running without one (unit tests) never stops.

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// How long requests in flight may still take after the first signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// The default `--timeout`.
pub const DEFAULT_TIMEOUT: &str = "30m";

/// A terminating signal the run handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// 128 + the signal's number, as shells report a process it ended.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// Why a run stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `--timeout` (the duration given) ran out.
    Deadline(Duration),
    Signal(Signal),
}

/// The error every stopped request or wait ends with; callers add the
/// endpoint as context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub reason: Reason,
    /// What was not done, e.g. "not waiting 120 s to retry".
    pub skipped: Option<String>,
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Reason::Deadline(timeout) => write!(
                f,
                "the run's deadline (--timeout {}) was reached",
                show_duration(timeout)
            )?,
            Reason::Signal(signal) => write!(f, "the run was interrupted by {}", signal.name())?,
        }
        if let Some(skipped) = &self.skipped {
            write!(f, "; {skipped}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Stopped {}

#[derive(Debug, Clone, Copy, Default)]
struct Signalled {
    signal: Option<(Signal, Instant)>,
}

/// One run's deadline and signal state.
#[derive(Debug)]
pub struct Stop {
    /// When the run must end, and the `--timeout` it came from.
    deadline: Option<(Instant, Duration)>,
    signalled: watch::Sender<Signalled>,
    /// Why something was first stopped (a request, a wait, a chunk): the
    /// run did not do all it set out to.
    hit: Mutex<Option<Reason>>,
}

/// Set while `apply` waits for a typed "yes": nothing has been sent, so an
/// interrupt there ends the run at once, as it always did.
pub static AT_PROMPT: AtomicBool = AtomicBool::new(false);

static INSTALLED: OnceLock<Stop> = OnceLock::new();
static NEVER: OnceLock<Stop> = OnceLock::new();

/// The run's [`Stop`]; one that never stops if none was installed.
pub fn current() -> &'static Stop {
    INSTALLED
        .get()
        .unwrap_or_else(|| NEVER.get_or_init(|| Stop::new(None)))
}

impl Stop {
    /// A run that must end within `timeout` from now (`None`: no deadline).
    pub fn new(timeout: Option<Duration>) -> Stop {
        let deadline = timeout.map(|t| (Instant::now() + t, t));
        Stop {
            deadline,
            signalled: watch::Sender::new(Signalled::default()),
            hit: Mutex::new(None),
        }
    }

    /// Make this the run's stop (first call wins; one command per process).
    pub fn install(self) -> &'static Stop {
        let _ = INSTALLED.set(self);
        current()
    }

    /// Record `signal`; true if it is the first.
    pub fn signal(&self, signal: Signal) -> bool {
        self.signalled.send_if_modified(|state| {
            if state.signal.is_some() {
                return false;
            }
            state.signal = Some((signal, Instant::now()));
            true
        })
    }

    /// Why the run is stopping, if it is. A signal wins over the deadline:
    /// the exit code must tell the operator their signal was handled.
    pub fn reason(&self) -> Option<Reason> {
        if let Some((signal, _)) = self.signalled.borrow().signal {
            return Some(Reason::Signal(signal));
        }
        match self.deadline {
            Some((at, timeout)) if Instant::now() >= at => Some(Reason::Deadline(timeout)),
            _ => None,
        }
    }

    /// Why the run stopped, if the stop cut anything short; a deadline
    /// that passed after the work was done is no failure.
    pub fn cut_short(&self) -> Option<Reason> {
        self.hit.lock().ok().and_then(|hit| *hit)
    }

    fn stopped(&self, reason: Reason, skipped: Option<String>) -> Stopped {
        if let Ok(mut hit) = self.hit.lock() {
            hit.get_or_insert(reason);
        }
        Stopped { reason, skipped }
    }

    /// `Err` once the run is stopping: nothing new may be sent.
    pub fn check(&self) -> Result<(), Stopped> {
        match self.reason() {
            None => Ok(()),
            Some(reason) => Err(self.stopped(reason, None)),
        }
    }

    /// Wait `pause` (a backoff, a `Retry-After`), unless that would end past
    /// the deadline, in which case it is not started at all; a signal ends
    /// the wait early. `why` says what the wait was for, for the error.
    pub async fn sleep(&self, pause: Duration, why: &str) -> Result<(), Stopped> {
        self.check()?;
        if let Some((at, timeout)) = self.deadline
            && Instant::now() + pause > at
        {
            let skipped = format!(
                "not waiting {} {why}, as that would end past it",
                show_duration(pause)
            );
            return Err(self.stopped(Reason::Deadline(timeout), Some(skipped)));
        }
        let mut signalled = self.signalled.subscribe();
        tokio::select! {
            () = tokio::time::sleep(pause) => Ok(()),
            _ = signalled.wait_for(|s| s.signal.is_some()) => self.check(),
        }
    }

    /// Run `work` (one request) to its end, unless the deadline passes or
    /// [`GRACE`] has passed since a signal; then it is dropped, unanswered.
    pub async fn bounded<T>(&self, work: impl Future<Output = T>) -> Result<T, Stopped> {
        let deadline = async {
            match self.deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let mut signalled = self.signalled.subscribe();
        let grace_over = async move {
            let since = match signalled.wait_for(|s| s.signal.is_some()).await {
                Ok(state) => state.signal.map(|(_, at)| at),
                // The sender lives as long as this Stop: never in practice.
                Err(_) => None,
            };
            match since {
                Some(at) => tokio::time::sleep_until(at + GRACE).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            // An answer that is there is kept, however late it is.
            biased;
            done = work => Ok(done),
            () = deadline => Err(self.unanswered()),
            () = grace_over => Err(self.unanswered()),
        }
    }

    fn unanswered(&self) -> Stopped {
        let reason = self.reason().unwrap_or(Reason::Deadline(Duration::ZERO));
        let skipped = match reason {
            Reason::Deadline(_) => "the request in flight was abandoned unanswered".to_string(),
            Reason::Signal(_) => format!(
                "the request in flight was abandoned unanswered after {}",
                show_duration(GRACE)
            ),
        };
        self.stopped(reason, Some(skipped))
    }
}

/// `--timeout` values: `90s`, `20m`, `1h`, `1h30m`, or `0` for none.
pub fn parse_timeout(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    let bad =
        || format!("{text:?} is not a duration: write e.g. 90s, 20m, 1h or 1h30m, or 0 for none");
    if text == "0" {
        return Ok(None);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || text.is_empty() {
        return Err(bad());
    }
    Ok((total > 0).then(|| Duration::from_secs(total)))
}

/// A duration as people write it: `90s` → `1m30s`, `2h`, `250ms`.
pub fn show_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 && d.subsec_millis() > 0 {
        return format!("{}ms", d.subsec_millis());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_documented() {
        let secs = |s| Ok(Some(Duration::from_secs(s)));
        assert_eq!(parse_timeout("90s"), secs(90));
        assert_eq!(parse_timeout("20m"), secs(1200));
        assert_eq!(parse_timeout("1h"), secs(3600));
        assert_eq!(parse_timeout("1h30m"), secs(5400));
        assert_eq!(parse_timeout(DEFAULT_TIMEOUT), secs(1800));
        assert_eq!(parse_timeout("0"), Ok(None));
        for bad in ["", "10", "5d", "m", "1.5h", "-3s", "99999999999999999999h"] {
            assert!(parse_timeout(bad).is_err(), "{bad:?}");
        }
        assert_eq!(show_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(show_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(show_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(show_duration(Duration::ZERO), "0s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_that_would_cross_the_deadline_is_not_started() {
        let stop = Stop::new(Some(Duration::from_secs(10)));
        let started = Instant::now();
        stop.sleep(Duration::from_secs(4), "to retry")
            .await
            .unwrap();
        let error = stop.sleep(Duration::from_secs(120), "to retry").await;
        assert_eq!(started.elapsed(), Duration::from_secs(4), "no time spent");
        assert_eq!(
            error.unwrap_err().to_string(),
            "the run's deadline (--timeout 10s) was reached; not waiting 2m to retry, as that would end past it"
        );
        stop.sleep(Duration::from_secs(6), "to retry")
            .await
            .unwrap();
        assert_eq!(
            stop.check().unwrap_err().reason,
            Reason::Deadline(Duration::from_secs(10))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_is_cut_at_the_deadline() {
        let stop = Stop::new(Some(Duration::from_secs(10)));
        let started = Instant::now();
        let hung = stop.bounded(std::future::pending::<()>()).await;
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        assert!(
            hung.unwrap_err()
                .to_string()
                .ends_with("abandoned unanswered")
        );
        assert_eq!(Stop::new(None).bounded(async { 7 }).await, Ok(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_signal_ends_waits_at_once_and_requests_after_the_grace() {
        let stop = std::sync::Arc::new(Stop::new(None));
        let signaller = stop.clone();
        let started = Instant::now();
        let waiting = tokio::spawn(async move {
            let stop = signaller;
            stop.sleep(Duration::from_secs(100), "to retry").await
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(stop.signal(Signal::Interrupt));
        assert!(!stop.signal(Signal::Terminate), "the first signal counts");
        let ended = waiting.await.unwrap().unwrap_err();
        assert_eq!(ended.reason, Reason::Signal(Signal::Interrupt));
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert_eq!(
            ended.to_string(),
            "the run was interrupted by SIGINT",
            "nothing more to say"
        );
        // A request in flight gets the grace period, then is abandoned.
        let hung = stop.bounded(std::future::pending::<()>()).await;
        assert_eq!(started.elapsed(), Duration::from_secs(1) + GRACE);
        assert!(hung.is_err());
        // One that answers in time is kept.
        assert_eq!(stop.bounded(async { 7 }).await, Ok(7));
        assert!(stop.check().is_err(), "nothing new is sent");
    }
}
