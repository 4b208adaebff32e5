//! `blocklist watch`: the webhook service (see `crate::watch`).

use std::io::Write;
use std::sync::Arc;

use crate::cli::WatchArgs;
use crate::exit::Exit;
use crate::watch::{
    self, APP_SECRET_VAR, Options, Secrets, StateRecorder, VERIFY_TOKEN_VAR, WAHA_SECRET_VAR,
};

pub async fn run(args: WatchArgs) -> anyhow::Result<Exit> {
    let secrets = Secrets::from_env();
    // Names variables, never values.
    for (name, set) in [
        (APP_SECRET_VAR, secrets.app_secret.is_some()),
        (VERIFY_TOKEN_VAR, secrets.verify_token.is_some()),
        (WAHA_SECRET_VAR, secrets.waha_secret.is_some()),
    ] {
        if !set {
            crate::say!("watch: {name} is not set: {}", unset(name));
        }
    }
    let options = Options {
        paths: args.paths,
        queue: args.queue as usize,
        workers: usize::from(args.workers),
        dedupe: args.dedupe as usize,
        reload_every: args.reload_every.0,
        secrets,
        state: args.state.url.clone(),
    };
    let recorder = Arc::new(StateRecorder {
        state: args.state.url,
    });
    let running = watch::start(args.listen, options, recorder).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "watch listening on http://{}", running.addr)?;
    stdout.flush()?;
    // Ctrl-C or SIGTERM: stop accepting, finish the replies in flight.
    running.serve(crate::emulator::shutdown_signal()).await?;
    Ok(Exit::Success)
}

fn unset(name: &str) -> &'static str {
    match name {
        APP_SECRET_VAR => "every Cloud API delivery will be refused 401",
        VERIFY_TOKEN_VAR => "Meta's callback verification will be refused",
        _ => "every WAHA delivery will be refused 401",
    }
}
