//! One file per command; each turns parsed flags into an [`Exit`].

mod apply;
mod drift;
mod edit;
mod emulator;
mod generated;
mod import;
mod interrupts;
mod output;
mod plan;
mod show;
pub mod targets;
mod unlock;
mod validate;
mod watch;
mod why;

use std::io::IsTerminal;

use crate::cli::{Cli, Command, Timeout};
use crate::exit::Exit;
use crate::progress::Progress;
use crate::stop::Stop;
use output::Output;

pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    crate::log::set_verbosity(match (cli.quiet, cli.verbose) {
        (true, _) => 0,
        (false, v) => 1 + v.min(2),
    });
    Progress::new(crate::log::verbosity(), std::io::stderr().is_terminal()).install();
    let out = Output::new(cli.no_color, cli.quiet);
    // Commands that talk to providers run under a deadline and stop cleanly
    // on SIGINT or SIGTERM (see `crate::stop`).
    let timeout = match &cli.command {
        Command::Plan(args) => Some(args.targets.timeout.value),
        Command::Apply(args) => Some(args.targets.timeout.value),
        Command::Drift(args) => Some(args.timeout.value),
        Command::Import(args) => Some(args.timeout.value),
        Command::Why(args) => Some(args.timeout.value),
        Command::Validate(_)
        | Command::Emulator(_)
        | Command::Show(_)
        | Command::Add(_)
        | Command::Remove(_)
        | Command::Schema
        | Command::Completions(_)
        | Command::Manpage
        | Command::Watch(_)
        | Command::Unlock(_) => None,
    };
    if let Some(Timeout(timeout)) = timeout {
        interrupts::listen(Stop::new(timeout).install());
    }
    let result = match cli.command {
        Command::Validate(args) => validate::run(args, &out),
        Command::Plan(args) => plan::run(args, &out).await,
        Command::Apply(args) => apply::run(args, &out).await,
        Command::Drift(args) => drift::run(args, &out).await,
        Command::Import(args) => import::run(args, &out).await,
        Command::Why(args) => why::run(args, &out).await,
        Command::Watch(args) => watch::run(args).await,
        Command::Emulator(args) => emulator::run(args).await,
        Command::Show(args) => show::run(args, &out),
        Command::Add(args) => edit::add(args, &out),
        Command::Remove(args) => edit::remove(args, &out),
        Command::Schema => out
            .print_always(&crate::schema::text())
            .map(|()| crate::exit::Exit::Success),
        Command::Completions(args) => generated::completions(args.shell, &out),
        Command::Manpage => generated::manpage(&out),
        Command::Unlock(args) => unlock::run(args).await,
    };
    match timeout {
        Some(_) => interrupts::outcome(crate::stop::current(), result),
        None => result,
    }
}
