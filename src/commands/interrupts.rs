//! SIGINT and SIGTERM during a run, and how a stopped run ends.
//!
//! The first signal asks the run to stop (see `crate::stop`): nothing new is
//! sent, requests in flight get a few seconds, and the command then reports
//! what was done as usual (summary, `--report`, job summary) before exiting
//! 130 or 143. A second signal ends the process at once. CI runners cancel
//! a job with exactly these signals, so a cancelled apply still leaves its
//! record.

use crate::exit::Exit;
use crate::stop::{self, GRACE, Reason, Signal, Stop, show_duration};

/// Listen for SIGINT and SIGTERM for the rest of the run. The handlers are
/// installed before this returns, so no signal can slip by between here
/// and the first request. If one cannot be installed, that signal keeps its
/// default effect (the process ends), which is how it was before.
pub fn listen(stop: &'static Stop) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        tokio::spawn(async move {
            let (mut interrupt, mut terminate) = (interrupt, terminate);
            loop {
                let got = tokio::select! {
                    Some(()) = recv(&mut interrupt) => Signal::Interrupt,
                    Some(()) = recv(&mut terminate) => Signal::Terminate,
                    else => return,
                };
                on_signal(stop, got);
            }
        });
    }
    #[cfg(not(unix))]
    {
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                on_signal(stop, Signal::Interrupt);
            }
        });
    }
}

#[cfg(unix)]
async fn recv(stream: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match stream {
        Some(stream) => stream.recv().await,
        None => None,
    }
}

fn on_signal(stop: &Stop, signal: Signal) {
    let name = signal.name();
    if stop::AT_PROMPT.load(std::sync::atomic::Ordering::SeqCst) {
        // Nothing has been sent yet: there is nothing to report.
        eprintln!("\n{name}: apply cancelled; nothing was changed.");
        end_now(signal);
    }
    if stop.signal(signal) {
        crate::progress::suspend(|| {
            eprintln!(
                "{name}: stopping. No new requests are sent; requests in flight get up to {} to finish, then what was done is reported. Send it again to stop at once, without the report.",
                show_duration(GRACE)
            )
        });
    } else {
        crate::progress::Progress::current().clear();
        eprintln!("{name} again: stopping at once; the report is not written.");
        end_now(signal);
    }
}

/// End the process now, removing the apply locks it holds (destructors
/// do not run on `exit`).
fn end_now(signal: Signal) -> ! {
    crate::state::release_all();
    std::process::exit(i32::from(signal.exit_code()))
}

/// The exit of a command that ran under `stop`: 130 or 143 after a signal
/// (its error, if any, is printed first, as `main` would), and an error
/// that names the deadline if the deadline cut the run short.
pub fn outcome(stop: &Stop, result: anyhow::Result<Exit>) -> anyhow::Result<Exit> {
    match stop.reason() {
        Some(Reason::Signal(signal)) => {
            if let Err(e) = &result {
                eprintln!("error: {e:#}");
            }
            eprintln!(
                "Interrupted by {}: the run stopped early; what was done is reported above.",
                signal.name()
            );
            Ok(Exit::Interrupted(signal.exit_code()))
        }
        _ => match stop.cut_short() {
            Some(Reason::Deadline(timeout)) => {
                let exit = result?;
                eprintln!(
                    "error: the run's deadline (--timeout {}) was reached: it stopped sending, and what was done is reported above.",
                    show_duration(timeout)
                );
                Ok(exit.max(Exit::Error))
            }
            _ => result,
        },
    }
}
