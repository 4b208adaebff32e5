//! One HTTP exchange, the same for every provider: count the request, send
//! it, read the reply within the cap, hand it to the provider to say what it
//! means, and write one debug line about it.
//!
//! What differs between providers is only what goes in (NxCloud signs the
//! body, the Cloud API sends a token, WAHA a key) and what a reply means
//! (NxCloud's envelope, Meta's error shapes, WAHA's statuses): each provider
//! builds the request and writes a [`Meaning`]; this module does the rest,
//! and [`retry`](super::retry) decides whether to try again.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};

use super::Stats;
use super::http;
use super::meta::MetaError;
use super::retry::Attempt;
use super::secret::Redactor;

/// One attempt of one call, as its debug line and errors name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exchange<'a> {
    /// What starts the debug line: the provider, method and path, e.g.
    /// `nxcloud: POST /api/wa/getBlockUsers` (never the host, which may
    /// carry credentials, and never a header).
    pub label: &'a str,
    /// The call as a fatal error names it, e.g. `POST https://…/block_users`.
    pub what: &'a str,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// A reply read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    /// `Retry-After` in seconds, capped ([`http::retry_after`]).
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The status code as a number, for messages.
    pub fn code(&self) -> u16 {
        self.status.as_u16()
    }

    /// Worth another try as this status alone says (`HTTP 503`).
    pub fn transient<T>(&self) -> Attempt<T> {
        Attempt::Transient {
            why: format!("HTTP {}", self.code()),
            retry_after: self.retry_after,
        }
    }

    /// The outcome of a body that is not the expected JSON: most likely a
    /// reply garbled in transit, and every call is idempotent, so it is
    /// worth another try. serde quotes the values it could not read, hence
    /// the redactor.
    pub fn malformed<T>(&self, error: serde_json::Error, redactor: &Redactor) -> Attempt<T> {
        Attempt::Transient {
            why: format!(
                "malformed reply (HTTP {}): {}",
                self.code(),
                redactor.redact(&error.to_string())
            ),
            retry_after: None,
        }
    }
}

/// What a provider makes of a reply: the attempt's outcome, and what the
/// debug line says about the reply (`HTTP 200, code 0`).
pub(crate) struct Meaning<T> {
    pub outcome: Attempt<T>,
    pub log: String,
}

impl<T> Meaning<T> {
    pub fn new(log: impl Into<String>, outcome: Attempt<T>) -> Self {
        Meaning {
            outcome,
            log: log.into(),
        }
    }
}

impl Exchange<'_> {
    /// Send `request` once and sort its reply: `head` sees the reply's
    /// headers before the body is read (the Cloud API's usage header), and
    /// `meaning` reads the reply once it is whole. A request that got no
    /// reply, a redirect and a body that could not be read are sorted here,
    /// the same way for every provider ([`http::send`], [`http::read_body`]).
    pub async fn send<T>(
        self,
        stats: &Stats,
        request: RequestBuilder,
        head: impl FnOnce(&HeaderMap),
        meaning: impl FnOnce(Reply) -> Meaning<T>,
    ) -> Attempt<T> {
        stats.request();
        let started = Instant::now();
        let log = |outcome: &str| {
            let (label, attempt) = (self.label, self.attempt);
            let ms = started.elapsed().as_millis();
            crate::debug!("{label} attempt {attempt}: {outcome}, {ms} ms");
        };
        let response = match http::send(request).await {
            Ok(response) => response,
            Err(failure) => {
                log(&failure.log);
                return failure.into_attempt(self.what);
            }
        };
        let status = response.status();
        let retry_after = http::retry_after(&response);
        head(response.headers());
        let body = match http::read_body(response).await {
            Ok(body) => body,
            Err(failure) => {
                log(&failure.log);
                return failure.into_attempt(self.what);
            }
        };
        let Meaning { outcome, log: said } = meaning(Reply {
            status,
            retry_after,
            body,
        });
        log(&said);
        outcome
    }
}

/// What a call to a Meta-shaped API (NxCloud, the Cloud API) came to once
/// retries are over.
#[derive(Debug)]
pub(crate) enum Answer<T> {
    Data(T),
    /// A Meta refusal the caller acts on (139101, 139102, and the per-user
    /// 131047 and 131021 when they come for the whole call).
    Refused(MetaError),
}

/// A Meta refusal no caller acts on: the call's error.
pub(crate) fn unexpected(what: &str, meta: &MetaError) -> anyhow::Error {
    anyhow::anyhow!(
        "{what}: unexpected Meta error {}: {}",
        meta.code,
        meta.message
    )
}
