//! Connect: a target's provider settings (and the environment) become a
//! client behind [`Provider`]. This is the one place that knows every
//! backend, the sandbox and the emulator's keys, so `provider/` depends on
//! none of them.

use std::sync::Arc;

use crate::config::{ProviderSettings, Target};
use crate::emulator::{SANDBOX_ACCESS_KEY, SANDBOX_ACCESS_SECRET, SANDBOX_APPKEY};
use crate::provider::Provider;
use crate::provider::cloud_api::{self, CloudApi, CloudApiConfig};
use crate::provider::nxcloud::{self, Credentials, NxCloud, NxCloudConfig};
use crate::provider::retry::RetryPolicy;
use crate::provider::secret;
use crate::provider::waha::{Waha, WahaConfig};
use crate::sandbox::Sandboxes;
use crate::state::TargetState;

/// A connected target's client, shared by the steps that use it.
pub type Client = Arc<dyn Provider>;

/// Build the client for `target`. Credentials come from the environment,
/// from the variables the file's `credentials:` names (the defaults
/// otherwise); a missing one is an error naming the variable, raised before
/// any request.
///
/// `state` is the state store (`--state`; `None`: `BLOCKLIST_STATE`, else
/// beside the file), where a WAHA target without `ledger:` keeps its ledger.
pub async fn connect(
    target: &Target,
    state: Option<&str>,
    sandboxes: &mut Sandboxes,
) -> anyhow::Result<Client> {
    let client: Client = match &target.provider {
        ProviderSettings::NxCloud {
            appkey,
            base_url,
            access_key_var,
            access_secret_var,
        } => {
            let base_url = base_url.as_deref().unwrap_or(nxcloud::DEFAULT_BASE_URL);
            let credentials = Credentials::from_vars(access_key_var, access_secret_var)?;
            let config = NxCloudConfig::new(base_url, appkey, &target.business_phone, credentials);
            Arc::new(NxCloud::new(config)?)
        }
        ProviderSettings::CloudApi {
            phone_number_id,
            api_version,
            base_url,
            endpoint,
            auth_header,
            chunk_size,
            token_var,
        } => {
            // A reseller's endpoint is the whole URL (docs/platforms.md, Meta-shaped resellers); the
            // loader makes sure exactly one way of naming it is given.
            let url = match (endpoint, phone_number_id) {
                (Some(endpoint), _) => endpoint.clone(),
                (None, Some(id)) => {
                    let base_url = base_url.as_deref().unwrap_or(cloud_api::DEFAULT_BASE_URL);
                    CloudApiConfig::meta_url(base_url, api_version, id)
                }
                (None, None) => anyhow::bail!("provider kind cloud-api needs phone_number_id"),
            };
            let token = secret::from_env(token_var, "cloud-api")?;
            let mut config = CloudApiConfig::new(url, token);
            config.token_var = token_var.clone();
            config.auth_header = auth_header.clone();
            config.chunk_size = *chunk_size;
            Arc::new(CloudApi::new(config)?)
        }
        ProviderSettings::Waha {
            base_url,
            session,
            ledger,
            ledger_given,
            api_key_var,
        } => {
            let config = WahaConfig {
                base_url: base_url.clone(),
                session: session.clone(),
                business_phone: target.business_phone.clone(),
                ledger: ledger.clone(),
                api_key: secret::from_env(api_key_var, "waha")?,
                api_key_var: api_key_var.clone(),
                retry: RetryPolicy::default(),
            };
            // A `ledger:` the file names stays where it is; otherwise the
            // ledger lives in the target's state, taking over the old
            // default file beside the desired-state file (README, "State").
            if *ledger_given {
                Arc::new(Waha::new(config)?)
            } else {
                let in_state = TargetState::open(state, target)?.ledger();
                Arc::new(Waha::in_state(config, in_state)?)
            }
        }
        ProviderSettings::Sandbox => {
            let config = NxCloudConfig::new(
                sandboxes.base_url(&target.file).await?,
                SANDBOX_APPKEY,
                &target.business_phone,
                Credentials::new(SANDBOX_ACCESS_KEY, SANDBOX_ACCESS_SECRET),
            );
            Arc::new(NxCloud::new(config)?)
        }
    };
    Ok(client)
}
