//! `blocklist import`: bootstrap a desired-state file from the live list.

use crate::cli::ImportArgs;
use crate::exit::Exit;

use super::output::Output;

pub async fn run(args: ImportArgs, out: &Output) -> anyhow::Result<Exit> {
    let _ = (args, out);
    anyhow::bail!("import is not implemented yet")
}
