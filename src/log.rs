//! Diagnostics on stderr, gated by `-v`/`-q`. Never given secrets to print.

use std::sync::atomic::{AtomicU8, Ordering};

static VERBOSITY: AtomicU8 = AtomicU8::new(1);

/// 0 = quiet, 1 = normal, 2 = `-v`, 3 = `-vv`.
pub fn set_verbosity(level: u8) {
    VERBOSITY.store(level, Ordering::Relaxed);
}

pub fn verbosity() -> u8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// `eprintln!` for a line that may hold a file's or a server's text: no line
/// of it can be read as a GitHub workflow command ([`crate::workflow`]).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::workflow::neutralize(&format!($($arg)*)))
    };
}

/// Print a line on stderr when verbosity is at least `level`, above any
/// progress bars rather than through them.
#[macro_export]
macro_rules! log_at {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::verbosity() >= $level {
            $crate::progress::suspend(|| $crate::say!($($arg)*));
        }
    };
}

/// `-v`: what the tool is doing (targets, requests in summary).
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log_at!(2, $($arg)*) };
}

/// `-vv`: every request and its outcome.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log_at!(3, $($arg)*) };
}
