//! One call to the Cloud API (or a Meta-shaped reseller), and what Meta's
//! reply means.
//!
//! Each call serialises its body once and sends those bytes on every attempt,
//! through the exchange every provider shares ([`Exchange`]); [`retry::run`]
//! decides whether to try again. A 130429 on a batch of several users is
//! handed back instead ([`TooMany`]), so the caller can halve the batch
//! (docs/platforms.md, Meta's Cloud API).

use std::time::Duration;

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::errors::{self, ErrorMeaning, ErrorReply};
use super::{CloudApi, usage};
use crate::provider::exchange::{Answer, Exchange, Meaning, Reply};
use crate::provider::retry::{self, Attempt};

/// 130429 on a batch that can still be split: back off, then send halves.
pub(super) struct TooMany {
    pub why: String,
    pub retry_after: Option<Duration>,
}

/// One request as every attempt sends it.
pub(super) struct Request<'a> {
    pub method: Method,
    pub url: &'a reqwest::Url,
    pub body: Option<&'a [u8]>,
    /// May a 130429 be answered with [`TooMany`]? Only for a write of more
    /// than one user.
    pub can_shrink: bool,
}

impl CloudApi {
    /// One call with retries. `what` names it in errors: `POST https://…`.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        request: Request<'_>,
        what: &str,
    ) -> anyhow::Result<Result<Answer<T>, TooMany>> {
        let request = &request;
        let label = format!("cloud-api: {} {}", request.method, request.url.path());
        let label = label.as_str();
        retry::run(
            &self.config.retry,
            &self.stats,
            what,
            |attempt| async move {
                // Meta's usage pauses come before the request, and count
                // against the run's deadline like every wait.
                if let Err(why) = self.throttle.wait().await {
                    return Attempt::Fatal(anyhow::anyhow!("{what}: {why}"));
                }
                let exchange = Exchange {
                    label,
                    what,
                    attempt,
                };
                // Meta's OpenAPI description marks Content-Type required on all
                // three methods, GET included; a server that enforces it refuses
                // a listing without it.
                let mut builder = self
                    .client
                    .request(request.method.clone(), request.url.clone())
                    .header(&self.auth.0, &self.auth.1)
                    .header(CONTENT_TYPE, "application/json");
                if let Some(body) = request.body {
                    builder = builder.body(body.to_vec());
                }
                let usage = |headers: &reqwest::header::HeaderMap| {
                    let usage = headers.get(usage::HEADER);
                    self.throttle
                        .observe(usage.and_then(|value| value.to_str().ok()));
                };
                let meaning = |reply| self.meaning(request, what, reply);
                exchange.send(&self.stats, builder, usage, meaning).await
            },
        )
        .await
    }

    /// What one reply means: the body on success, else Meta's error, read
    /// by [`errors::classify`].
    fn meaning<T: DeserializeOwned>(
        &self,
        request: &Request<'_>,
        what: &str,
        reply: Reply,
    ) -> Meaning<Result<Answer<T>, TooMany>> {
        let (status, code) = (reply.status, reply.code());
        if status.is_success() {
            return Meaning::new(format!("HTTP {code}"), self.data(&reply));
        }
        let Ok(ErrorReply { mut error }) = serde_json::from_slice::<ErrorReply>(&reply.body) else {
            let log = format!("HTTP {code}, no Meta error");
            if retry::status_is_transient(status) {
                return Meaning::new(log, reply.transient());
            }
            // A reseller's own error shape: the status still says whose fault it is.
            let hint = match code {
                401 | 403 => format!(": check {}", self.config.token_var),
                _ => String::new(),
            };
            let outcome = Attempt::Fatal(anyhow::anyhow!("{what}: HTTP {status}{hint}"));
            return Meaning::new(log, outcome);
        };
        // Everything the server wrote is redacted before it is shown: a
        // gateway may echo the request's headers back.
        error.redact(&self.redactor);
        // fbtrace_id is what Meta support asks for; it is not a secret.
        let trace = error.fbtrace_id.as_deref().unwrap_or("none");
        let log = format!("HTTP {code}, Meta error {}, fbtrace_id {trace}", error.code);
        let retry_after = reply.retry_after;
        let outcome = match errors::classify(status, &error, &self.config.token_var) {
            // The per-user results sit beside the error (HTTP 400).
            ErrorMeaning::Partial if request.method != Method::GET => self.data(&reply),
            // A listing has no per-user results: whatever came beside the
            // error is not a page to trust.
            ErrorMeaning::Partial => Attempt::Fatal(anyhow::anyhow!(
                "{what}: Meta error {} (some users failed) in reply to a listing, which has no users to fail",
                error.code
            )),
            ErrorMeaning::Refused(meta) => Attempt::Done(Ok(Answer::Refused(meta))),
            ErrorMeaning::Transient { why, shrink: true } if request.can_shrink => {
                Attempt::Done(Err(TooMany { why, retry_after }))
            }
            ErrorMeaning::Transient { why, .. } => Attempt::Transient { why, retry_after },
            ErrorMeaning::Fatal(why) => Attempt::Fatal(anyhow::anyhow!("{what}: {why}")),
        };
        Meaning::new(log, outcome)
    }

    fn data<T: DeserializeOwned>(&self, reply: &Reply) -> Attempt<Result<Answer<T>, TooMany>> {
        match serde_json::from_slice(&reply.body) {
            Ok(data) => Attempt::Done(Ok(Answer::Data(data))),
            Err(error) => reply.malformed(error, &self.redactor),
        }
    }
}
