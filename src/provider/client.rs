//! Turn a target's provider settings (and the environment) into a client.

use crate::config::{ProviderSettings, Target};
use crate::emulator::{SANDBOX_ACCESS_KEY, SANDBOX_ACCESS_SECRET, SANDBOX_APPKEY};
use crate::provider::cloud_api::{self, CloudApi, CloudApiConfig};
use crate::provider::nxcloud::{self, Credentials, NxCloud, NxCloudConfig};
use crate::provider::retry::RetryPolicy;
use crate::provider::secret;
use crate::provider::waha::{self, Waha, WahaConfig};
use crate::provider::{Batch, Provider, Stats};
use crate::sandbox::Sandboxes;
use crate::user::User;

/// One client per target, whatever its provider.
pub enum Client {
    NxCloud(NxCloud),
    CloudApi(CloudApi),
    Waha(Waha),
}

/// Build the client for `target`. Credentials come from the environment; a
/// missing one is an error naming the variable, raised before any request.
pub async fn connect(target: &Target, sandboxes: &mut Sandboxes) -> anyhow::Result<Client> {
    match &target.provider {
        ProviderSettings::NxCloud { appkey, base_url } => {
            let base_url = base_url.as_deref().unwrap_or(nxcloud::DEFAULT_BASE_URL);
            let credentials = Credentials::from_env()?;
            let config = NxCloudConfig::new(base_url, appkey, &target.business_phone, credentials);
            Ok(Client::NxCloud(NxCloud::new(config)?))
        }
        ProviderSettings::CloudApi {
            phone_number_id,
            api_version,
            base_url,
            endpoint,
            auth_header,
            chunk_size,
        } => {
            // A reseller's endpoint is the whole URL (providers.md §4); the
            // loader makes sure exactly one way of naming it is given.
            let url = match (endpoint, phone_number_id) {
                (Some(endpoint), _) => endpoint.clone(),
                (None, Some(id)) => {
                    let base_url = base_url.as_deref().unwrap_or(cloud_api::DEFAULT_BASE_URL);
                    CloudApiConfig::meta_url(base_url, api_version, id)
                }
                (None, None) => anyhow::bail!("provider kind cloud-api needs phone_number_id"),
            };
            let token = secret::from_env(cloud_api::TOKEN_VAR, "cloud-api")?;
            let mut config = CloudApiConfig::new(url, token);
            config.auth_header = auth_header.clone();
            config.chunk_size = *chunk_size;
            Ok(Client::CloudApi(CloudApi::new(config)?))
        }
        ProviderSettings::Waha {
            base_url,
            session,
            ledger,
        } => {
            let config = WahaConfig {
                base_url: base_url.clone(),
                session: session.clone(),
                business_phone: target.business_phone.clone(),
                ledger: ledger.clone(),
                api_key: secret::from_env(waha::API_KEY_VAR, "waha")?,
                retry: RetryPolicy::default(),
            };
            Ok(Client::Waha(Waha::new(config)?))
        }
        ProviderSettings::Sandbox => {
            let config = NxCloudConfig::new(
                sandboxes.base_url(&target.file).await?,
                SANDBOX_APPKEY,
                &target.business_phone,
                Credentials::new(SANDBOX_ACCESS_KEY, SANDBOX_ACCESS_SECRET),
            );
            Ok(Client::NxCloud(NxCloud::new(config)?))
        }
    }
}

impl Client {
    /// Listed users whose last change the provider may or may not have
    /// made, so plans send them again ([`crate::plan::Plan::resend`]): WAHA
    /// contacts left pending in the ledger by a run that stopped. A platform
    /// that lists its own blocks has none.
    pub async fn unconfirmed(&self) -> anyhow::Result<Vec<User>> {
        match self {
            Client::Waha(c) => c.unconfirmed().await,
            Client::NxCloud(_) | Client::CloudApi(_) => Ok(Vec::new()),
        }
    }

    /// Lines every plan shows under this target, e.g. that WAHA's live list
    /// is the tool's ledger (providers.md §3). Ask after listing: what is
    /// said may depend on what the listing found.
    pub fn notes(&self, unconfirmed: &[User]) -> Vec<String> {
        match self {
            Client::Waha(c) => c.notes(unconfirmed),
            Client::NxCloud(_) | Client::CloudApi(_) => Vec::new(),
        }
    }
}

impl Provider for Client {
    async fn list(&self) -> anyhow::Result<Vec<User>> {
        match self {
            Client::NxCloud(c) => c.list().await,
            Client::CloudApi(c) => c.list().await,
            Client::Waha(c) => c.list().await,
        }
    }

    async fn block(&self, users: &[User]) -> Batch {
        match self {
            Client::NxCloud(c) => c.block(users).await,
            Client::CloudApi(c) => c.block(users).await,
            Client::Waha(c) => c.block(users).await,
        }
    }

    async fn unblock(&self, users: &[User]) -> Batch {
        match self {
            Client::NxCloud(c) => c.unblock(users).await,
            Client::CloudApi(c) => c.unblock(users).await,
            Client::Waha(c) => c.unblock(users).await,
        }
    }

    fn max_batch(&self) -> usize {
        match self {
            Client::NxCloud(c) => c.max_batch(),
            Client::CloudApi(c) => c.max_batch(),
            Client::Waha(c) => c.max_batch(),
        }
    }

    fn counts_answers(&self) -> bool {
        match self {
            Client::NxCloud(c) => c.counts_answers(),
            Client::CloudApi(c) => c.counts_answers(),
            Client::Waha(c) => c.counts_answers(),
        }
    }

    fn stats(&self) -> &Stats {
        match self {
            Client::NxCloud(c) => c.stats(),
            Client::CloudApi(c) => c.stats(),
            Client::Waha(c) => c.stats(),
        }
    }
}
