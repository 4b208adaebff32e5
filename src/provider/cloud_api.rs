//! The Meta WhatsApp Cloud API block-list client (docs/platforms.md, Cloud API), and the
//! Meta-shaped resellers that speak the same bodies under their own URL,
//! header and batch size (docs/platforms.md, Meta-shaped resellers).
//!
//! One resource, three methods: `POST` blocks, `DELETE` unblocks (same body),
//! `GET ?limit=&after=` lists one page. Replies are Meta's Block Users JSON
//! ([`super::meta`]); a partial failure comes as HTTP 400 with code 139100
//! and is read like a success.

mod errors;
mod exchange;
#[cfg(test)]
mod http_tests;
mod usage;

use crate::user::User;
use std::fmt;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use serde::Serialize;

use super::batch;
use super::exchange::{Answer, unexpected};
use super::http::{self, BaseUrl};
use super::meta::{self, BatchData, Direction, ListData, UserRef};
use super::pager::{self, Fetched};
use super::retry::{self, RetryPolicy};
use super::secret::{Redactor, Secret};
use super::{Batch, BatchResult, BoxFuture, Interrupted, Provider, Stats, codes};
use exchange::{Request, TooMany};
use usage::Throttle;

/// Where the token comes from (docs/file-format.md).
pub const TOKEN_VAR: &str = "WHATSAPP_TOKEN";
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// Meta's limit per block or unblock request (docs/platforms.md, Cloud API).
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Clone)]
pub struct CloudApiConfig {
    /// The block-users resource: see [`CloudApiConfig::meta_url`], or a
    /// reseller's own URL (e.g. `https://waba-v2.360dialog.io/block_users`).
    pub url: String,
    pub token: Secret,
    /// The variable the token was read from, for messages ("check …").
    pub token_var: String,
    /// The header that carries the token as is (360dialog: `D360-API-KEY`);
    /// `None` sends Meta's `Authorization: Bearer <token>`.
    pub auth_header: Option<String>,
    /// Users per block or unblock call, and per list page: 1 to 1 000
    /// (YCloud and Kaleyra take at most 100, docs/platforms.md, Meta-shaped resellers).
    pub chunk_size: usize,
    pub retry: RetryPolicy,
    /// The most this client waits in all when Meta's usage header asks it to
    /// slow down ([`usage::WAIT_BUDGET`]); past it, calls fail instead.
    pub usage_wait_budget: Duration,
}

impl CloudApiConfig {
    /// Meta's own endpoint, Bearer token, 1 000 users per call.
    pub fn new(url: impl Into<String>, token: Secret) -> Self {
        CloudApiConfig {
            url: url.into(),
            token,
            token_var: TOKEN_VAR.to_string(),
            auth_header: None,
            chunk_size: MAX_BATCH,
            retry: RetryPolicy::default(),
            usage_wait_budget: usage::WAIT_BUDGET,
        }
    }

    /// `{base_url}/{api_version}/{phone_number_id}/block_users`.
    pub fn meta_url(base_url: &str, api_version: &str, phone_number_id: &str) -> String {
        let base_url = base_url.trim_end_matches('/');
        format!("{base_url}/{api_version}/{phone_number_id}/block_users")
    }
}

pub struct CloudApi {
    config: CloudApiConfig,
    url: BaseUrl,
    /// Hides the token in whatever the server says.
    redactor: Redactor,
    /// Built once; the value is marked sensitive so no debug output shows it.
    auth: (HeaderName, HeaderValue),
    /// Shared by every target of this kind ([`http::client`]).
    client: reqwest::Client,
    throttle: Throttle,
    stats: Stats,
}

impl fmt::Debug for CloudApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudApi")
            .field("url", &self.url.shown())
            .field("auth_header", &self.auth.0)
            .field("chunk_size", &self.config.chunk_size)
            .finish_non_exhaustive()
    }
}

/// Block and unblock bodies (docs/platforms.md, Cloud API).
#[derive(Serialize)]
struct Body<'a> {
    messaging_product: &'static str,
    block_users: Vec<UserRef<'a>>,
}

impl CloudApi {
    pub fn new(mut config: CloudApiConfig) -> anyhow::Result<Self> {
        let url = BaseUrl::parse("cloud-api URL", &config.url)?;
        config.chunk_size = config.chunk_size.clamp(1, MAX_BATCH);
        let auth = auth(&config)?;
        let client = http::client(http::Pool::CloudApi)?;
        let redactor = Redactor::new([config.token.expose()]);
        let throttle = Throttle::new(config.usage_wait_budget);
        Ok(CloudApi {
            config,
            url,
            redactor,
            auth,
            client,
            throttle,
            stats: Stats::default(),
        })
    }

    /// Block (`POST`) or unblock (`DELETE`) one batch. A batch that meets
    /// 130429 is sent again as two halves after backing off, down to single
    /// users (docs/platforms.md, Cloud API: "back off; shrink the chunk"); the halves go
    /// depth first, so a limit that never lifts fails after a few calls.
    ///
    /// Halves already answered when a later one fails are handed back with
    /// the error ([`Interrupted`]): those users were blocked or unblocked.
    async fn write(&self, direction: Direction, users: &[User]) -> Batch {
        if users.is_empty() {
            return Ok(BatchResult::default());
        }
        let method = match direction {
            Direction::Block => Method::POST,
            Direction::Unblock => Method::DELETE,
        };
        let what = self.url.what(method.as_str(), "");
        let most = self.config.chunk_size;
        if users.len() > most {
            let error = anyhow::anyhow!(
                "{what}: {} users in one call; at most {most} are allowed",
                users.len()
            );
            return Err(error.into());
        }
        let mut result = BatchResult::default();
        let mut pending: Vec<(&[User], u32)> = vec![(users, 0)];
        while let Some((piece, splits)) = pending.pop() {
            let answer = match self.send_piece(&method, piece, &what).await {
                Ok(answer) => answer,
                Err(error) => return Err(Interrupted::stopped(result, error)),
            };
            match answer {
                Ok(Answer::Data(data)) => {
                    merge(&mut result, meta::batch_result(piece, data, direction))
                }
                // The list is full: the rest of this batch would be refused
                // too, and apply stops further blocks (docs/platforms.md, Cloud API).
                Ok(Answer::Refused(meta))
                    if meta.code == codes::LIST_FULL && direction == Direction::Block =>
                {
                    let rest = pending.iter().rev().map(|(p, _)| *p);
                    let rest: Vec<User> = std::iter::once(piece)
                        .chain(rest)
                        .flatten()
                        .cloned()
                        .collect();
                    merge(&mut result, meta::refuse_all(&rest, &meta));
                    break;
                }
                // 131047 or 131021 for this piece as a whole: its users are
                // deferred or failed, and the other pieces go on.
                Ok(Answer::Refused(meta)) if codes::is_per_user(meta.code) => {
                    merge(&mut result, meta::refuse_all(piece, &meta))
                }
                Ok(Answer::Refused(meta)) => {
                    return Err(Interrupted::stopped(result, unexpected(&what, &meta)));
                }
                Err(TooMany { why, retry_after }) => {
                    let splits = splits + 1;
                    let log = |delay: Duration| {
                        crate::debug!(
                            "{what}: {why}; sending these {} users as two halves in {} ms",
                            piece.len(),
                            delay.as_millis()
                        )
                    };
                    let (stop, policy) = (crate::stop::current(), &self.config.retry);
                    let halves = "to send them as two halves";
                    let waited =
                        retry::pause(stop, policy, &self.stats, splits, retry_after, halves, log);
                    if let Err(stopped) = waited.await {
                        let error = anyhow::anyhow!("{what}: {why}; {stopped}");
                        return Err(Interrupted::stopped(result, error));
                    }
                    let (first, second) = piece.split_at(piece.len() / 2);
                    pending.push((second, splits));
                    pending.push((first, splits));
                }
            }
        }
        Ok(result)
    }

    /// One batch, with a second chance for users refused for now ([`batch::call`]).
    async fn batch(&self, direction: Direction, users: &[User]) -> Batch {
        let result = batch::call(self, direction, &self.config.retry, &self.stats, users).await;
        self.redactor.batch_result(result)
    }

    /// One block or unblock request for `piece`, with retries.
    async fn send_piece(
        &self,
        method: &Method,
        piece: &[User],
        what: &str,
    ) -> anyhow::Result<Result<Answer<BatchData>, TooMany>> {
        let body = serde_json::to_vec(&Body {
            messaging_product: "whatsapp",
            block_users: meta::user_refs(piece),
        })?;
        let request = Request {
            method: method.clone(),
            url: self.url.url(),
            body: Some(&body),
            can_shrink: piece.len() > 1,
        };
        self.call::<BatchData>(request, what).await
    }

    /// Read every page. The next page is asked for with the `after` cursor on
    /// the configured URL, never by following `paging.next`: that URL could
    /// point at another host, and the token must go nowhere else.
    async fn read_all(&self) -> anyhow::Result<Vec<User>> {
        let what = self.url.what("GET", "");
        let what = what.as_str();
        let limit = self.config.chunk_size.to_string();
        pager::read_all(what, &self.stats, |cursor| {
            let limit = &limit;
            async move {
                let mut url = self.url.url().clone();
                url.query_pairs_mut().append_pair("limit", limit);
                if let Some(cursor) = cursor {
                    url.query_pairs_mut().append_pair("after", &cursor);
                }
                let request = Request {
                    method: Method::GET,
                    url: &url,
                    body: None,
                    can_shrink: false,
                };
                match self.call::<ListData>(request, what).await? {
                    Ok(Answer::Data(data)) => Ok(Fetched::Page(data.into())),
                    Ok(Answer::Refused(meta)) if meta.code == codes::LIST_CHANGED => {
                        Ok(Fetched::Changed)
                    }
                    Ok(Answer::Refused(meta)) => Err(unexpected(what, &meta)),
                    Err(TooMany { why, .. }) => anyhow::bail!("{what}: {why}"),
                }
            }
        })
        .await
    }
}

impl batch::Write for CloudApi {
    async fn write(&self, direction: Direction, users: &[User]) -> Batch {
        CloudApi::write(self, direction, users).await
    }
}

/// Every result passes the redactor on its way out: server text is redacted
/// where it is read, and this catches what was quoted on the way (a listed
/// value in a malformed-reply error, a per-user message).
impl Provider for CloudApi {
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
        self.config.chunk_size
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// The auth header: Meta's `Authorization: Bearer <token>`, or the token as
/// is under a reseller's header name. Errors name the variable, never the value.
fn auth(config: &CloudApiConfig) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let (name, value) = match &config.auth_header {
        None => (AUTHORIZATION, format!("Bearer {}", config.token.expose())),
        Some(name) => {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| anyhow::anyhow!("auth_header {name:?} is not an HTTP header name"))?;
            (name, config.token.expose().to_string())
        }
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| {
        anyhow::anyhow!(
            "{} holds characters that cannot be sent in an HTTP header",
            config.token_var
        )
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

fn merge(into: &mut BatchResult, from: BatchResult) {
    into.done.extend(from.done);
    into.failed.extend(from.failed);
}
