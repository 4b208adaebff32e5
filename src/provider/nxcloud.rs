//! The NxCloud block-list client (docs/platforms.md, NxCloud).
//!
//! Three signed POST endpoints: block, unblock, and list one page. Each call
//! serialises its body once, and every attempt signs and sends those same
//! bytes with a fresh timestamp; [`super::retry::run`] decides when to try again.

mod credentials;
mod envelope;
mod exchange;
#[cfg(test)]
mod http_tests;
mod wire;

use crate::user::User;
use std::fmt;

use reqwest::header::HeaderValue;

use super::batch;
use super::exchange::{Answer, unexpected};
use super::http::{self, BaseUrl};
use super::meta::{self, BatchData, Direction, ListData};
pub use super::meta::{MetaError, meta_error};
pub use super::pager::MAX_LIST_RESTARTS;
use super::pager::{self, Fetched};
use super::retry::RetryPolicy;
use super::secret::Redactor;
use super::{Batch, BatchResult, BoxFuture, Provider, Stats, codes};
pub use credentials::{ACCESS_KEY_VAR, ACCESS_SECRET_VAR, Credentials};

pub const DEFAULT_BASE_URL: &str = "https://api2.nxcloud.com";
pub const DEFAULT_PAGE_SIZE: usize = 1000;
/// Meta's limit per block or unblock request (docs/platforms.md, Cloud API).
pub const MAX_BATCH: usize = 1000;

/// Fixed header values for the block endpoints: WhatsApp, message traffic.
const BIZ_TYPE: &str = "2";
const ACTION: &str = "mt";

#[derive(Debug, Clone)]
pub struct NxCloudConfig {
    /// `https://api2.nxcloud.com`, or the emulator in tests and the sandbox.
    pub base_url: String,
    /// The NxCloud application key; not a secret.
    pub appkey: String,
    /// Canonical digits, country code first.
    pub business_phone: String,
    pub credentials: Credentials,
    /// Users asked for per list page.
    pub page_size: usize,
    pub retry: RetryPolicy,
}

impl NxCloudConfig {
    /// A config with the default page size and retry policy.
    pub fn new(
        base_url: impl Into<String>,
        appkey: impl Into<String>,
        business_phone: impl Into<String>,
        credentials: Credentials,
    ) -> Self {
        NxCloudConfig {
            base_url: base_url.into(),
            appkey: appkey.into(),
            business_phone: business_phone.into(),
            credentials,
            page_size: DEFAULT_PAGE_SIZE,
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Block,
    Unblock,
    List,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Block => "/api/wa/createBlockUsers",
            Endpoint::Unblock => "/api/wa/deleteBlockUsers",
            Endpoint::List => "/api/wa/getBlockUsers",
        }
    }
}

pub struct NxCloud {
    config: NxCloudConfig,
    base: BaseUrl,
    /// Shared by every target of this kind ([`http::client`]).
    client: reqwest::Client,
    /// Hides the access key and secret in whatever the server says.
    redactor: Redactor,
    stats: Stats,
}

impl fmt::Debug for NxCloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NxCloud")
            .field("base_url", &self.base.shown())
            .field("appkey", &self.config.appkey)
            .field("business_phone", &self.config.business_phone)
            .finish_non_exhaustive()
    }
}

impl NxCloud {
    pub fn new(mut config: NxCloudConfig) -> anyhow::Result<Self> {
        let base = BaseUrl::parse("NxCloud base_url", &config.base_url)?;
        // Checked here so a bad key fails once, clearly, and without echoing it.
        anyhow::ensure!(
            HeaderValue::from_str(config.credentials.access_key()).is_ok(),
            "{} holds characters that cannot be sent in an HTTP header",
            config.credentials.key_var()
        );
        config.page_size = config.page_size.max(1);
        let client = http::client(http::Pool::NxCloud)?;
        let credentials = &config.credentials;
        let redactor = Redactor::new([
            credentials.access_key(),
            credentials.access_secret().expose(),
        ]);
        Ok(NxCloud {
            config,
            base,
            client,
            redactor,
            stats: Stats::default(),
        })
    }

    /// `POST <endpoint>`, as errors and logs name the call.
    fn what(&self, endpoint: Endpoint) -> String {
        self.base.what("POST", endpoint.path())
    }

    /// Block or unblock one batch. Both are idempotent on the platform, so
    /// [`super::retry::run`] may send them again when a reply is lost.
    async fn write(&self, direction: Direction, users: &[User]) -> anyhow::Result<BatchResult> {
        if users.is_empty() {
            return Ok(BatchResult::default());
        }
        let endpoint = match direction {
            Direction::Block => Endpoint::Block,
            Direction::Unblock => Endpoint::Unblock,
        };
        let what = self.what(endpoint);
        anyhow::ensure!(
            users.len() <= MAX_BATCH,
            "{what}: {} users in one call; at most {MAX_BATCH} are allowed",
            users.len()
        );
        let config = &self.config;
        let body = wire::users_body(&config.appkey, &config.business_phone, users)?;
        let answer = self.call::<BatchData>(endpoint, body).await;
        let answer = answer.map_err(|error| match meta::by_bsuid_only(users) {
            0 => error,
            // NxCloud documents phones only; say why before the caller
            // hunts for a bug in their file (docs/platforms.md, NxCloud).
            n => error.context(format!(
                "NxCloud refused a call that named {n} user(s) by BSUID (user_id) alone; its block-users API documents phone numbers only and may not accept BSUIDs: add those users' phones (user:) or manage them through a cloud-api target"
            )),
        })?;
        match answer {
            Answer::Data(data) => Ok(meta::batch_result(users, data, direction)),
            // 139101 concerns the whole call: every user of it is refused, and
            // the caller stops further blocks for this phone (docs/platforms.md, Cloud API).
            Answer::Refused(meta)
                if meta.code == codes::LIST_FULL && direction == Direction::Block =>
            {
                Ok(meta::refuse_all(users, &meta))
            }
            // 131047 or 131021 for the call as a whole: per user, not fatal.
            Answer::Refused(meta) if codes::is_per_user(meta.code) => {
                Ok(meta::refuse_all(users, &meta))
            }
            Answer::Refused(meta) => Err(unexpected(&what, &meta)),
        }
    }

    /// One batch, with a second chance for users refused for now
    /// ([`batch::call`]). One request per batch: it is answered whole or not
    /// at all, so an error hands back no partial result.
    async fn batch(&self, direction: Direction, users: &[User]) -> Batch {
        let result = batch::call(self, direction, &self.config.retry, &self.stats, users).await;
        self.redactor.batch_result(result)
    }

    /// Read every page. A 139102 means the list changed under the cursors, so
    /// the listing starts again from the first page (docs/platforms.md, Cloud API).
    async fn read_all(&self) -> anyhow::Result<Vec<User>> {
        let what = self.what(Endpoint::List);
        let (config, what) = (&self.config, what.as_str());
        pager::read_all(what, &self.stats, |cursor| async move {
            let (appkey, phone) = (&config.appkey, &config.business_phone);
            let body = wire::list_body(appkey, phone, config.page_size, cursor.as_deref())?;
            match self.call::<ListData>(Endpoint::List, body).await? {
                Answer::Data(data) => Ok(Fetched::Page(data.into())),
                Answer::Refused(meta) if meta.code == codes::LIST_CHANGED => Ok(Fetched::Changed),
                Answer::Refused(meta) => Err(unexpected(what, &meta)),
            }
        })
        .await
    }
}

impl batch::Write for NxCloud {
    async fn write(&self, direction: Direction, users: &[User]) -> Batch {
        Ok(NxCloud::write(self, direction, users).await?)
    }
}

/// Every result passes the redactor on its way out: server text is redacted
/// where it is read, and this catches what was quoted on the way (a listed
/// value in a malformed-reply error, a per-user message).
impl Provider for NxCloud {
    fn list(&self) -> BoxFuture<'_, anyhow::Result<Vec<User>>> {
        Box::pin(async move {
            let listed = self.read_all().await;
            listed.map_err(|error| self.redactor.error(error))
        })
    }

    fn block<'a>(&'a self, users: &'a [User]) -> BoxFuture<'a, Batch> {
        Box::pin(self.batch(Direction::Block, users))
    }

    fn unblock<'a>(&'a self, users: &'a [User]) -> BoxFuture<'a, Batch> {
        Box::pin(self.batch(Direction::Unblock, users))
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}
