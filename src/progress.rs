//! Progress bars on stderr while live lists are read and plans applied.
//!
//! Bars show only when stderr is a terminal and the run is not `--quiet`
//! (README, Commands). Otherwise every call here does nothing: no bar, no task,
//! not one byte written, which is what pipes, CI logs and tests get.
//!
//! The bars ask nothing of the code they watch: each polls its target's
//! [`Stats`] counters every [`POLL`], so providers and `apply` only bump
//! atomics and know nothing about terminals. One bar per target being worked
//! on; targets run concurrently, so the bars share one [`MultiProgress`],
//! and a bar is cleared from the screen when its target is done, before any
//! result is printed.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{HumanCount, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::provider::{Provider, Stats};

/// How often a bar reads its counters and redraws (indicatif also caps
/// redraws at 20 a second).
const POLL: Duration = Duration::from_millis(100);

const LISTING: &str = "{spinner} {prefix}: reading the live list, {msg} ({elapsed})";
const APPLYING: &str = "{prefix}: applying [{bar:30}] {human_pos}/{human_len} users, ETA {eta}";

/// The bars of this run, installed once by the command being run. Global,
/// like the verbosity in [`crate::log`], because log lines are printed from
/// deep inside the providers and must go above the bars, not through them.
static INSTALLED: OnceLock<Progress> = OnceLock::new();

/// Where a command's bars are drawn, if anywhere. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// `None`: bars are not shown and every method is a no-op.
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars only on a terminal, and never with `--quiet` (verbosity 0).
    pub fn new(verbosity: u8, stderr_is_terminal: bool) -> Progress {
        let shown = verbosity >= 1 && stderr_is_terminal;
        Progress {
            multi: shown.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// Make this the run's progress display (first call wins; one command per process).
    pub fn install(self) {
        let _ = INSTALLED.set(self);
    }

    /// The installed display; a disabled one if none was installed (tests).
    pub fn current() -> Progress {
        INSTALLED.get().cloned().unwrap_or_default()
    }

    pub fn is_enabled(&self) -> bool {
        self.multi.is_some()
    }

    /// Wipe every bar from the screen now, for a process about to exit
    /// without dropping them (a second interrupt).
    pub fn clear(&self) {
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }

    /// A spinner with pages and users read while `client` lists its target.
    /// The total is unknown until the last page, so there is no bar to fill.
    pub fn listing<P: Provider + ?Sized + 'static>(&self, label: &str, client: &Arc<P>) -> Bar {
        if !self.is_enabled() {
            return Bar::none();
        }
        let client = client.clone();
        self.track(label, LISTING, None, move |bar| {
            let stats = client.stats();
            bar.set_message(listing_message(stats.pages_read(), stats.users_listed()));
        })
    }

    /// A bar of users answered out of the `total` planned, with an ETA.
    pub fn applying<P: Provider + ?Sized + 'static>(
        &self,
        label: &str,
        total: u64,
        client: &Arc<P>,
    ) -> Bar {
        if !self.is_enabled() {
            return Bar::none();
        }
        let client = client.clone();
        self.track(label, APPLYING, Some(total), move |bar| {
            bar.set_position(applied_position(client.stats(), total));
        })
    }

    /// Add a bar and a task that calls `update` on it every [`POLL`] until
    /// the returned [`Bar`] is dropped.
    fn track(
        &self,
        label: &str,
        template: &str,
        total: Option<u64>,
        update: impl Fn(&ProgressBar) + Send + 'static,
    ) -> Bar {
        let Some(multi) = &self.multi else {
            return Bar::none();
        };
        // The templates are constants, checked by a unit test; a broken one
        // would still only cost the bar its layout.
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        // Built whole, then added, and first drawn by the poller: a bar that
        // draws before the MultiProgress knows it corrupts the screen, and
        // one drawn before its first reading shows a blank message.
        let bar = match total {
            Some(total) => ProgressBar::new(total),
            None => ProgressBar::no_length(),
        };
        let bar = multi.add(bar.with_style(style).with_prefix(label.to_string()));
        // Outside a runtime (never the case in a command) the bar just stays still.
        let poller = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let bar = bar.clone();
            runtime.spawn(async move {
                let mut every = tokio::time::interval(POLL);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    every.tick().await;
                    update(&bar);
                    // Turns the spinner; redraws the ETA of a bar that waits on a slow call.
                    bar.tick();
                }
            })
        });
        Bar {
            shown: Some(Shown { bar, poller }),
        }
    }
}

/// Print with the bars lifted off the screen, so a line written to stderr
/// lands above them instead of through them. Used by the log macros.
pub fn suspend<R>(print: impl FnOnce() -> R) -> R {
    match INSTALLED.get().and_then(|p| p.multi.as_ref()) {
        Some(multi) => multi.suspend(print),
        None => print(),
    }
}

/// One target's bar. Dropping it stops the polling and clears the bar.
#[must_use = "the bar is cleared as soon as this is dropped"]
#[derive(Debug)]
pub struct Bar {
    shown: Option<Shown>,
}

#[derive(Debug)]
struct Shown {
    bar: ProgressBar,
    poller: Option<JoinHandle<()>>,
}

impl Bar {
    fn none() -> Bar {
        Bar { shown: None }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(Shown { bar, poller }) = self.shown.take() {
            if let Some(poller) = poller {
                poller.abort();
            }
            // A poll that races the abort updates a finished, cleared bar,
            // which draws nothing.
            bar.finish_and_clear();
        }
    }
}

/// "3 pages, 2,500 users": what a listing has read so far.
fn listing_message(pages: u64, users: u64) -> String {
    format!(
        "{} {}, {} {}",
        HumanCount(pages),
        plural(pages, "page", "pages"),
        HumanCount(users),
        plural(users, "user", "users")
    )
}

/// The bar's position: users answered, never past the total (a client reused
/// for a second apply would otherwise overshoot).
fn applied_position(stats: &Stats, total: u64) -> u64 {
    stats.users_answered().min(total)
}

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enabled, but drawing nowhere: exercises the bars without a terminal.
    fn offscreen() -> Progress {
        Progress {
            multi: Some(MultiProgress::with_draw_target(ProgressDrawTarget::hidden())),
        }
    }

    #[test]
    fn quiet_or_not_a_terminal_means_no_bars() {
        assert!(!Progress::new(0, true).is_enabled(), "--quiet");
        assert!(!Progress::new(1, false).is_enabled(), "pipe");
        assert!(!Progress::new(3, false).is_enabled(), "-vv in a pipe");
        assert!(Progress::new(1, true).is_enabled());
        assert!(!Progress::default().is_enabled());
        // Nothing installed in unit tests: the log macros print straight through.
        assert!(!Progress::current().is_enabled());
        assert_eq!(suspend(|| 42), 42);
    }

    #[test]
    fn disabled_tracking_is_inert_and_needs_no_runtime() {
        // No tokio runtime here: a disabled display must not try to spawn.
        let progress = Progress::new(0, false);
        let bar = progress.track("t.yaml", LISTING, None, |_| panic!("polled"));
        assert!(bar.shown.is_none());
        drop(bar);
        let bar = progress.track("t.yaml", APPLYING, Some(10), |_| panic!("polled"));
        assert!(bar.shown.is_none());
    }

    #[test]
    fn templates_parse() {
        for template in [LISTING, APPLYING] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }

    #[test]
    fn listing_message_counts_pages_and_users() {
        assert_eq!(listing_message(0, 0), "0 pages, 0 users");
        assert_eq!(listing_message(1, 1), "1 page, 1 user");
        assert_eq!(listing_message(64, 63_999), "64 pages, 63,999 users");
    }

    #[test]
    fn applied_position_never_passes_the_total() {
        let stats = Stats::default();
        assert_eq!(applied_position(&stats, 5), 0);
        stats.answered(3);
        assert_eq!(applied_position(&stats, 5), 3);
        stats.answered(1000);
        assert_eq!(applied_position(&stats, 5), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_bar_follows_its_counters_until_dropped() {
        let stats = Arc::new(Stats::default());
        let progress = offscreen();
        let bar = {
            let stats = stats.clone();
            progress.track("t.yaml", APPLYING, Some(10), move |bar| {
                bar.set_position(applied_position(&stats, 10));
            })
        };
        let handle = bar.shown.as_ref().map(|s| s.bar.clone()).unwrap();
        stats.answered(4);
        tokio::time::sleep(POLL * 2).await;
        assert_eq!(handle.position(), 4);
        stats.answered(6);
        tokio::time::sleep(POLL * 2).await;
        assert_eq!(handle.position(), 10);

        drop(bar);
        assert!(handle.is_finished(), "dropping the guard finishes the bar");
        // The poller is gone: later counts no longer reach the bar.
        tokio::task::yield_now().await;
        stats.answered(1);
        tokio::time::sleep(POLL * 2).await;
        assert_eq!(handle.position(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn a_listing_bar_shows_pages_and_users() {
        let stats = Arc::new(Stats::default());
        let progress = offscreen();
        let bar = {
            let stats = stats.clone();
            progress.track("t.yaml", LISTING, None, move |bar| {
                bar.set_message(listing_message(stats.pages_read(), stats.users_listed()));
            })
        };
        let handle = bar.shown.as_ref().map(|s| s.bar.clone()).unwrap();
        stats.listing_started();
        stats.page_read(1000);
        stats.page_read(500);
        tokio::time::sleep(POLL * 2).await;
        assert_eq!(handle.message(), "2 pages, 1,500 users");
        assert_eq!(handle.length(), None, "a spinner: the total is unknown");
    }
}
