//! `blocklist emulator`: the local provider emulator as a server.

use anyhow::Context;

use crate::cli::{EmulatorArgs, PagingArg};
use crate::emulator::{self, Faults, NxCloudKeys, Options, Paging};
use crate::exit::Exit;

pub async fn run(args: EmulatorArgs) -> anyhow::Result<Exit> {
    // The emulator accepts the same credentials the client sends, from the
    // same variables, so one shell can run both.
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .with_context(|| {
                format!(
                    "{name} is not set: the emulator accepts the credentials the client will send"
                )
            })
    };
    let options = Options {
        state_path: args.state,
        nxcloud: Some(NxCloudKeys {
            access_key: var("NXCLOUD_ACCESS_KEY")?,
            access_secret: var("NXCLOUD_ACCESS_SECRET")?,
        }),
        cloud_api: Default::default(),
        waha_api_key: None,
        faults: Faults {
            latency_ms: args.latency_ms,
            fail_rate: args.fail_rate,
            fail_first: args.fail_first,
            rate_limit: args.rate_limit,
            malformed_rate: args.malformed_rate,
            seed: args.seed,
            max_page_size: args.max_page_size,
            paging: match args.paging {
                PagingArg::Next => Paging::Next,
                PagingArg::CursorsOnly => Paging::CursorsOnly,
            },
            change_list_after_pages: args.change_list_after_pages,
            usage_percent: None,
        },
        auto_create_phones: args.auto_create_phones,
    };
    emulator::serve_until_ctrl_c(args.listen, options).await?;
    Ok(Exit::Success)
}
