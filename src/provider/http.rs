//! The HTTP plumbing every provider client shares: how a client is built,
//! how a request is sent, how a reply body is read, and how a URL is shown.
//!
//! Three rules live here so that no backend can forget them:
//! - Redirects are never followed. reqwest would send the request again,
//!   credential headers (NxCloud's `accessKey`, `ts`, `sign`; the Cloud API
//!   token; WAHA's key) and body included, to whatever host `Location`
//!   names. None of the documented APIs redirects (docs/platforms.md), so a 3xx is
//!   a fatal error naming the endpoint instead.
//! - A reply body is read in chunks up to [`MAX_REPLY_BYTES`], so a broken or
//!   hostile server cannot make the tool hold gigabytes in memory.
//! - Errors and logs name an endpoint by [`shown_url`], never with the
//!   `user:password@` a configured URL may carry.
//!
//! Whether a failure is worth another try is still decided in [`retry`].

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context as _;
use reqwest::header::RETRY_AFTER;
use reqwest::redirect::Policy;
use reqwest::{RequestBuilder, Response};

use super::retry::{self, Attempt};

/// The largest reply body read. A page of 1 000 users is about 60 KB and a
/// block reply for 1 000 users with an error each about 300 KB; anything near
/// this is not a block-list reply.
pub const MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const USER_AGENT: &str = concat!("blocklist/", env!("CARGO_PKG_VERSION"));

/// Which provider kind an HTTP client serves. Each kind has one client for
/// the whole process, shared by all its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    NxCloud,
    CloudApi,
    Waha,
}

/// The HTTP client every target of `pool`'s kind uses: built on first use,
/// then shared. Building one loads and decodes the system's CA certificates
/// (13% of the CPU of a 20-target run when every target built its own), and
/// a shared client also shares its connections: targets that talk to the
/// same host reuse them. A `reqwest::Client` is a handle to one shared pool,
/// so the clone each target keeps is cheap.
pub fn client(pool: Pool) -> anyhow::Result<reqwest::Client> {
    static NXCLOUD: OnceLock<reqwest::Client> = OnceLock::new();
    static CLOUD_API: OnceLock<reqwest::Client> = OnceLock::new();
    static WAHA: OnceLock<reqwest::Client> = OnceLock::new();
    let shared = match pool {
        Pool::NxCloud => &NXCLOUD,
        Pool::CloudApi => &CLOUD_API,
        Pool::Waha => &WAHA,
    };
    if let Some(client) = shared.get() {
        return Ok(client.clone());
    }
    // Two targets racing here may both build one; the first stored wins.
    let built = build()?;
    Ok(shared.get_or_init(|| built).clone())
}

/// The one way a provider client is built: the rules above, and the same
/// timeouts for every provider.
fn build() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(USER_AGENT)
        .build()
        .context("cannot set up the HTTP client")
}

/// `url` as errors and logs show it: without `user:password@`, which is a
/// credential like any other. Cut by hand rather than parsed and printed
/// again, so the rest reads exactly as configured. A value without
/// `scheme://` (the loader refuses and quotes one such as `ops:pw@host`)
/// has no parts to go by, so all of it up to its last `@` is left out.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return match url.rfind('@') {
            Some(at) => url[at + 1..].to_string(),
            None => url.to_string(),
        };
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// A configured URL (`base_url`, `endpoint`) as a message about it quotes
/// it: [`shown_url`], with a query or fragment cut to `?…`/`#…`. A query is
/// where a credential hides in a URL (`?access_token=…`), and a value that
/// is being refused is exactly the one that may hold one.
pub fn quoted_url(url: &str) -> String {
    let shown = shown_url(url);
    match shown.find(['?', '#']) {
        Some(at) => format!("{}…", &shown[..=at]),
        None => shown,
    }
}

/// What is wrong with a configured provider URL, worded to follow its
/// [`quoted_url`]; `None` when nothing is. Parsed as reqwest parses it, so
/// what passes here is what requests go to.
///
/// `user:password@` is refused because reqwest turns it into an
/// `Authorization: Basic` header (a server that echoes headers then prints
/// it), and a query string because it would ride on every request and in
/// every error, and `{base_url}/path` built from one is not the URL meant.
/// Credentials belong in the environment, where they are kept secret.
pub fn url_problem(url: &str) -> Option<String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Some("must start with http:// or https://".to_string());
    }
    let parsed = match reqwest::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("is not a URL ({e})")),
    };
    let userinfo = !parsed.username().is_empty() || parsed.password().is_some();
    let mut problems = Vec::new();
    if userinfo {
        problems.push("a user name or password (user:password@)");
    }
    if parsed.query().is_some() {
        problems.push("a query string (?…)");
    }
    if parsed.fragment().is_some() {
        problems.push("a fragment (#…)");
    }
    if problems.is_empty() {
        return None;
    }
    let mut message = format!("must not hold {}", problems.join(" or "));
    if userinfo || parsed.query().is_some() {
        message.push_str(
            ": credentials come from the environment (see the README's Providers table), never from the URL",
        );
    }
    Some(message)
}

/// A configured URL as a client uses it, checked by [`url_problem`]; `what`
/// names it in the error (`NxCloud base_url`). The loader refuses the same
/// values with their place in the file; this keeps a client built any other
/// way from sending `user:password@` as Basic authentication.
pub fn parse_url(what: &str, url: &str) -> anyhow::Result<reqwest::Url> {
    if let Some(problem) = url_problem(url) {
        anyhow::bail!("{what} {:?} {problem}", quoted_url(url));
    }
    reqwest::Url::parse(url).with_context(|| format!("{what} {:?} is not a URL", quoted_url(url)))
}

/// A provider's configured base URL (or, for the Cloud API, its whole
/// resource URL), checked once by the one set of rules every provider
/// shares ([`parse_url`]): http or https only, no `user:password@`, no query,
/// no fragment. A trailing `/` is dropped, so paths join with one.
#[derive(Debug, Clone)]
pub struct BaseUrl {
    url: reqwest::Url,
    /// As configured, less a trailing `/`.
    text: String,
    /// As errors and logs show it ([`shown_url`]).
    shown: String,
}

impl BaseUrl {
    /// `what` names the URL in the error (`NxCloud base_url`).
    pub fn parse(what: &str, configured: &str) -> anyhow::Result<Self> {
        let text = configured.trim_end_matches('/').to_string();
        let url = parse_url(what, &text)?;
        let shown = shown_url(&text);
        Ok(BaseUrl { url, text, shown })
    }

    /// The URL itself, to add a query to.
    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// `{base}{path}`, to send a request to.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.text)
    }

    /// The URL as errors and logs show it.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// `{method} {shown base}{path}`: how errors name a call.
    pub fn what(&self, method: &str, path: &str) -> String {
        format!("{method} {}{path}", self.shown)
    }
}

/// Why an attempt came to nothing usable, already sorted by the rules in
/// [`retry`]: to be tried again, or not.
#[derive(Debug)]
pub struct Failure {
    /// What the client's debug line says, e.g. `no reply (…)`.
    pub log: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Transient {
        why: String,
        retry_after: Option<Duration>,
    },
    /// The text without the endpoint; [`Failure::into_attempt`] adds it.
    Fatal(String),
}

impl Failure {
    fn transient(why: String, retry_after: Option<Duration>, log: String) -> Self {
        let kind = Kind::Transient { why, retry_after };
        Failure { log, kind }
    }

    fn fatal(why: String, log: String) -> Self {
        Failure {
            log,
            kind: Kind::Fatal(why),
        }
    }

    /// The attempt's outcome; `what` names the endpoint in a fatal error.
    pub fn into_attempt<T>(self, what: &str) -> Attempt<T> {
        match self.kind {
            Kind::Transient { why, retry_after } => Attempt::Transient { why, retry_after },
            Kind::Fatal(why) => Attempt::Fatal(anyhow::anyhow!("{what}: {why}")),
        }
    }
}

/// Send one attempt. A reply with any status comes back, except a redirect:
/// it is refused here, before anything is sent to the host it names.
pub async fn send(request: RequestBuilder) -> Result<Response, Failure> {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            let retry::NoReply { why, transient } = retry::no_reply(error);
            let log = format!("no reply ({why})");
            return Err(if transient {
                Failure::transient(why, None, log)
            } else {
                Failure::fatal(why, log)
            });
        }
    };
    let status = response.status();
    if status.is_redirection() {
        return Err(Failure::fatal(
            format!(
                "HTTP {status}: redirects are not followed: credentials must not go to another host"
            ),
            format!("HTTP {}, redirect not followed", status.as_u16()),
        ));
    }
    Ok(response)
}

/// `Retry-After` in its seconds form, capped ([`retry::parse_retry_after`]).
pub fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?;
    retry::parse_retry_after(value.to_str().ok()?)
}

/// The whole body, at most [`MAX_REPLY_BYTES`]. A body cut short is worth
/// another try (every call is idempotent); one that is too large is a
/// malformed reply, and fatal: asking again would only stream as much again.
pub async fn read_body(response: Response) -> Result<Vec<u8>, Failure> {
    read_at_most(response, MAX_REPLY_BYTES).await
}

async fn read_at_most(mut response: Response, limit: usize) -> Result<Vec<u8>, Failure> {
    let code = response.status().as_u16();
    let too_large = || {
        let mib = limit / (1024 * 1024);
        Failure::fatal(
            format!(
                "malformed reply (HTTP {code}): the body is larger than {mib} MiB, far more than any block-list reply"
            ),
            format!("HTTP {code}, reply too large"),
        )
    };
    // A declared length over the limit is refused without reading a byte.
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let retry_after = retry_after(&response);
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > limit => return Err(too_large()),
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body),
            Err(error) => {
                let why = format!("HTTP {code}, reply cut short: {}", retry::describe(error));
                let log = format!("HTTP {code}, reply cut short");
                return Err(Failure::transient(why, retry_after, log));
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
