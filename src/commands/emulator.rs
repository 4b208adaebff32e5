//! `blocklist emulator`: the local provider emulator as a server.

use anyhow::{Context as _, bail};

use crate::cli::{CodeStyleArg, EmulatorArgs, ListShapeArg, PagingArg};
use crate::emulator::{
    self, CloudApiOptions, CodeStyle, Faults, ListShape, NxCloudKeys, Options, Paging,
};
use crate::exit::Exit;

pub async fn run(args: EmulatorArgs) -> anyhow::Result<Exit> {
    let credentials =
        Credentials::from_lookup(|name| std::env::var(name).ok()).context("emulator")?;
    crate::info!("emulator: {}", credentials.summary());
    let options = Options {
        state_path: args.state,
        nxcloud: credentials.nxcloud,
        cloud_api: CloudApiOptions {
            token: credentials.whatsapp_token,
            auth_header: args.cloud_api_auth_header,
            reseller_phone_id: args.cloud_api_reseller_phone_id,
            list_shape: match args.cloud_api_list_shape {
                ListShapeArg::Graph => ListShape::Graph,
                ListShapeArg::BlockUsers => ListShape::BlockUsers,
            },
        },
        waha_api_key: credentials.waha_api_key,
        faults: Faults {
            latency_ms: args.latency_ms,
            fail_rate: args.fail_rate,
            fail_first: args.fail_first,
            rate_limit_first: args.rate_limit_first,
            rate_limit: args.rate_limit,
            malformed_rate: args.malformed_rate,
            seed: args.seed,
            max_page_size: args.max_page_size,
            paging: match args.paging {
                PagingArg::Next => Paging::Next,
                PagingArg::CursorsOnly => Paging::CursorsOnly,
            },
            change_list_after_pages: args.change_list_after_pages,
            usage_percent: Some(args.usage_percent),
            failed_code_style: match args.failed_code_style {
                CodeStyleArg::Number => CodeStyle::Number,
                CodeStyleArg::String => CodeStyle::String,
                CodeStyleArg::Missing => CodeStyle::Missing,
            },
            nxcloud_refuses_user_id: args.nxcloud_refuses_user_id,
        },
        auto_create_phones: args.auto_create_phones,
    };
    // "error: emulator: …": the message may name only a file or an address.
    emulator::serve_until_ctrl_c(args.listen, options)
        .await
        .context("emulator")?;
    Ok(Exit::Success)
}

/// The credentials the emulator accepts. It reads the same variables the
/// clients read, so one shell can run both. Each provider is optional (its
/// routes answer 401 without them), but an emulator that accepts nothing is
/// a mistake worth stopping for.
struct Credentials {
    nxcloud: Option<NxCloudKeys>,
    whatsapp_token: Option<String>,
    waha_api_key: Option<String>,
}

impl Credentials {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Credentials> {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        // Half a pair is a typo, not a choice: say which half is missing.
        let nxcloud = match (var("NXCLOUD_ACCESS_KEY"), var("NXCLOUD_ACCESS_SECRET")) {
            (Some(access_key), Some(access_secret)) => Some(NxCloudKeys {
                access_key,
                access_secret,
            }),
            (None, None) => None,
            (Some(_), None) => bail!("NXCLOUD_ACCESS_KEY is set but NXCLOUD_ACCESS_SECRET is not"),
            (None, Some(_)) => bail!("NXCLOUD_ACCESS_SECRET is set but NXCLOUD_ACCESS_KEY is not"),
        };
        let credentials = Credentials {
            nxcloud,
            whatsapp_token: var("WHATSAPP_TOKEN"),
            waha_api_key: var("WAHA_API_KEY"),
        };
        if credentials.nxcloud.is_none()
            && credentials.whatsapp_token.is_none()
            && credentials.waha_api_key.is_none()
        {
            bail!(
                "no provider credentials: set NXCLOUD_ACCESS_KEY and NXCLOUD_ACCESS_SECRET (NxCloud), \
                 WHATSAPP_TOKEN (Cloud API) or WAHA_API_KEY (WAHA); the emulator accepts the \
                 credentials the client will send"
            );
        }
        Ok(credentials)
    }

    /// Which providers will accept requests; names variables, never values.
    fn summary(&self) -> String {
        let providers = [
            ("NxCloud", self.nxcloud.is_some()),
            ("Cloud API", self.whatsapp_token.is_some()),
            ("WAHA", self.waha_api_key.is_some()),
        ];
        let list = |served: bool| {
            let names: Vec<&str> = providers
                .iter()
                .filter(|(_, s)| *s == served)
                .map(|(name, _)| *name)
                .collect();
            names.join(", ")
        };
        match list(false) {
            none if none.is_empty() => format!("serving {}", list(true)),
            unserved => format!(
                "serving {}; no credentials for {unserved}, whose routes answer 401",
                list(true)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> anyhow::Result<Credentials> {
        Credentials::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn any_one_provider_is_enough() {
        let c = from(&[("WHATSAPP_TOKEN", "t")]).expect("a token is enough");
        assert!(c.nxcloud.is_none() && c.waha_api_key.is_none());
        assert_eq!(c.whatsapp_token.as_deref(), Some("t"));
        assert_eq!(
            c.summary(),
            "serving Cloud API; no credentials for NxCloud, WAHA, whose routes answer 401"
        );
        let c = from(&[("WAHA_API_KEY", "k"), ("WHATSAPP_TOKEN", "")]).expect("a key is enough");
        assert!(c.whatsapp_token.is_none(), "empty means unset");
        let c = from(&[
            ("NXCLOUD_ACCESS_KEY", "a"),
            ("NXCLOUD_ACCESS_SECRET", "s"),
            ("WHATSAPP_TOKEN", "t"),
            ("WAHA_API_KEY", "k"),
        ])
        .expect("all three");
        assert_eq!(c.summary(), "serving NxCloud, Cloud API, WAHA");
    }

    #[test]
    fn none_at_all_names_every_variable() {
        let Err(e) = from(&[("NXCLOUD_ACCESS_KEY", "")]) else {
            panic!("no credentials were accepted");
        };
        let message = e.to_string();
        for name in [
            "NXCLOUD_ACCESS_KEY",
            "NXCLOUD_ACCESS_SECRET",
            "WHATSAPP_TOKEN",
            "WAHA_API_KEY",
        ] {
            assert!(message.contains(name), "{message}");
        }
    }

    #[test]
    fn half_an_nxcloud_pair_is_refused() {
        let Err(e) = from(&[("NXCLOUD_ACCESS_KEY", "a"), ("WHATSAPP_TOKEN", "t")]) else {
            panic!("half a pair was accepted");
        };
        assert!(
            e.to_string().contains("NXCLOUD_ACCESS_SECRET is not"),
            "{e}"
        );
    }
}
