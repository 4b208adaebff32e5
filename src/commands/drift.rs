//! `blocklist drift`: the scheduled check of reality against Git.

use crate::cli::DriftArgs;
use crate::exit::Exit;

use super::output::Output;

pub async fn run(args: DriftArgs, out: &Output) -> anyhow::Result<Exit> {
    let _ = (args, out);
    anyhow::bail!("drift is not implemented yet")
}
