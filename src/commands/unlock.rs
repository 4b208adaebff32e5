//! `blocklist unlock PATH…`: remove the apply lock a killed apply left in
//! each target's state, saying who held it and since when (README,
//! "Locking").

use crate::cli::UnlockArgs;
use crate::exit::Exit;
use crate::state::TargetState;

use super::targets;

pub async fn run(args: UnlockArgs) -> anyhow::Result<Exit> {
    let Some(loaded) = targets::load(&args.paths) else {
        return Ok(Exit::Error);
    };
    let mut exit = Exit::Success;
    for target in &loaded {
        let file = target.file.display();
        let removed = match TargetState::open(args.state.url.as_deref(), target) {
            Ok(state) => state.unlock().await.map(|held| (state, held)),
            Err(e) => Err(e),
        };
        match removed {
            Ok((state, None)) => crate::say!("{file}: not locked ({})", state.shown()),
            Ok((state, Some(Ok(holder)))) => crate::say!(
                "{file}: removed the apply lock in {}, held by {holder}",
                state.shown()
            ),
            Ok((state, Some(Err(why)))) => crate::say!(
                "{file}: removed the apply lock in {}, whose holder could not be read ({why})",
                state.shown()
            ),
            Err(e) => {
                crate::say!("{file}: error: {e:#}");
                exit = Exit::Error;
            }
        }
    }
    Ok(exit)
}
