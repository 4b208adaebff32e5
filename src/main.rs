//! The `blocklist` binary: parse arguments, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

use blocklist::cli::Cli;
use blocklist::exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            eprintln!("error: {e:#}");
            Exit::Error.into()
        }
    }
}
