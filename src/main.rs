//! The `blocklist` binary: parse arguments, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

use blocklist::cli::Cli;
use blocklist::exit::Exit;

fn main() -> ExitCode {
    // clap exits 2 on a usage error, which pipelines read as "changes
    // remain" (README, Exit codes): a typo in CI must be an error, exit 1.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Error.into()
            } else {
                Exit::Success.into() // --help, --version
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Error.into();
        }
    };
    match runtime.block_on(blocklist::commands::run(cli)) {
        Ok(exit) => exit.into(),
        Err(e) => {
            // The whole cause chain, once. Errors never carry secrets.
            blocklist::say!("error: {e:#}");
            Exit::Error.into()
        }
    }
}
