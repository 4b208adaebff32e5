//! One HTTP exchange with the Cloud API (or a Meta-shaped reseller), and
//! what its reply means.
//!
//! Each call serialises its body once and sends those bytes on every attempt.
//! The reply is sorted into an [`Outcome`] for [`retry::run`], the one place
//! that decides whether to try again; a 130429 on a batch of several users is
//! handed back instead, so the caller can halve the batch (providers.md §2).

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::errors::{self, ErrorReply, Verdict};
use super::{CloudApi, TOKEN_VAR, usage};
use crate::provider::http;
use crate::provider::meta::MetaError;
use crate::provider::retry::{self, Outcome};

/// What a call came to once retries are over.
pub(super) enum Answer<T> {
    Data(T),
    /// A Meta refusal the caller acts on (139101, 139102, and the per-user
    /// 131047 and 131021 when they come for the whole call).
    Refused(MetaError),
    /// 130429 on a batch that can still be split: back off, then send halves.
    TooMany {
        why: String,
        retry_after: Option<Duration>,
    },
}

/// One request as every attempt sends it.
pub(super) struct Request<'a> {
    pub method: Method,
    pub url: &'a reqwest::Url,
    pub body: Option<&'a [u8]>,
    /// May a 130429 be answered with [`Answer::TooMany`]? Only for a write
    /// of more than one user.
    pub can_shrink: bool,
}

impl CloudApi {
    /// One call with retries. `what` names it in errors: `POST https://…`.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        request: Request<'_>,
        what: &str,
    ) -> anyhow::Result<Answer<T>> {
        let request = &request;
        retry::run(&self.config.retry, &self.stats, what, |attempt| {
            self.attempt(request, what, attempt)
        })
        .await
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        request: &Request<'_>,
        what: &str,
        attempt: u32,
    ) -> Outcome<Answer<T>> {
        if let Err(why) = self.throttle.wait().await {
            return Outcome::Fatal(anyhow::anyhow!("{what}: {why}"));
        }
        self.stats.request();
        let started = Instant::now();
        // Meta's OpenAPI description marks Content-Type required on all
        // three methods, GET included; a server that enforces it refuses a
        // listing without it.
        let mut builder = self
            .client
            .request(request.method.clone(), request.url.clone())
            .header(&self.auth.0, &self.auth.1)
            .header(CONTENT_TYPE, "application/json");
        if let Some(body) = request.body {
            builder = builder.body(body.to_vec());
        }
        let log = |outcome: &str| {
            let method = &request.method;
            let path = request.url.path();
            let ms = started.elapsed().as_millis();
            crate::debug!("cloud-api: {method} {path} attempt {attempt}: {outcome}, {ms} ms");
        };
        let response = match http::send(builder).await {
            Ok(response) => response,
            Err(failure) => {
                log(&failure.log);
                return failure.into_outcome(what);
            }
        };
        let status = response.status();
        let code = status.as_u16();
        let retry_after = http::retry_after(&response);
        let usage = response.headers().get(usage::HEADER);
        self.throttle
            .observe(usage.and_then(|value| value.to_str().ok()));
        let bytes = match http::read_body(response).await {
            Ok(bytes) => bytes,
            Err(failure) => {
                log(&failure.log);
                return failure.into_outcome(what);
            }
        };
        if status.is_success() {
            log(&format!("HTTP {code}"));
            return self.parse(code, &bytes);
        }
        let Ok(ErrorReply { mut error }) = serde_json::from_slice::<ErrorReply>(&bytes) else {
            log(&format!("HTTP {code}, no Meta error"));
            if retry::status_is_transient(status) {
                let why = format!("HTTP {code}");
                return Outcome::Transient { why, retry_after };
            }
            // A reseller's own error shape: the status still says whose fault it is.
            let hint = match code {
                401 | 403 => format!(": check {TOKEN_VAR}"),
                _ => String::new(),
            };
            return Outcome::Fatal(anyhow::anyhow!("{what}: HTTP {status}{hint}"));
        };
        // Everything the server wrote is redacted before it is shown: a
        // gateway may echo the request's headers back (product.md §1).
        error.redact(&self.redactor);
        // fbtrace_id is what Meta support asks for; it is not a secret.
        let trace = error.fbtrace_id.as_deref().unwrap_or("none");
        log(&format!(
            "HTTP {code}, Meta error {}, fbtrace_id {trace}",
            error.code
        ));
        match errors::classify(status, &error) {
            // The per-user results sit beside the error (HTTP 400, providers.md §2).
            Verdict::Partial if request.method != Method::GET => self.parse(code, &bytes),
            // A listing has no per-user results: whatever came beside the
            // error is not a page to trust.
            Verdict::Partial => Outcome::Fatal(anyhow::anyhow!(
                "{what}: Meta error {} (some users failed) in reply to a listing, which has no users to fail",
                error.code
            )),
            Verdict::Refused(meta) => Outcome::Done(Answer::Refused(meta)),
            Verdict::Transient { why, shrink: true } if request.can_shrink => {
                Outcome::Done(Answer::TooMany { why, retry_after })
            }
            Verdict::Transient { why, .. } => Outcome::Transient { why, retry_after },
            Verdict::Fatal(why) => Outcome::Fatal(anyhow::anyhow!("{what}: {why}")),
        }
    }
}

impl CloudApi {
    /// A reply whose body is not the expected JSON is most likely garbled in
    /// transit; every call is idempotent, so it is worth another try. serde
    /// quotes the values it could not read, hence the redactor.
    fn parse<T: DeserializeOwned>(&self, code: u16, bytes: &[u8]) -> Outcome<Answer<T>> {
        match serde_json::from_slice(bytes) {
            Ok(data) => Outcome::Done(Answer::Data(data)),
            Err(error) => Outcome::Transient {
                why: format!(
                    "malformed reply (HTTP {code}): {}",
                    self.redactor.redact(&error.to_string())
                ),
                retry_after: None,
            },
        }
    }
}
