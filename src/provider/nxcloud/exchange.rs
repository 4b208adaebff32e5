//! One signed HTTP exchange with NxCloud, and what its reply means.
//!
//! Each call serialises its body once; every attempt signs those exact bytes
//! with a fresh `ts` and sends them (the signature covers the body byte for
//! byte, providers.md §1). The reply is sorted into an [`Outcome`] for
//! [`retry::run`], the one place that decides whether to try again.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::envelope::{self, Context, Verdict};
use super::wire::Envelope;
use super::{ACTION, BIZ_TYPE, Endpoint, NxCloud};
use crate::provider::http;
use crate::provider::meta::MetaError;
use crate::provider::retry::{self, Outcome};
use crate::provider::sign::{SignedHeaders, sign};

/// What a call came to once retries are over.
pub(super) enum Answer<T> {
    Data(T),
    /// A Meta refusal the caller acts on (139101, 139102, and the per-user
    /// 131047 and 131021 when they come for the whole call).
    Refused(MetaError),
}

impl NxCloud {
    /// One call with retries: the body is signed and sent as these exact bytes
    /// on every attempt (the signature covers them, providers.md §1).
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        body: Vec<u8>,
    ) -> anyhow::Result<Answer<T>> {
        let url = self.url(endpoint);
        let what = self.what(endpoint);
        let clock_rejections = AtomicU32::new(0);
        let request = Request {
            endpoint,
            url: &url,
            what: &what,
            body: &body,
            clock_rejections: &clock_rejections,
        };
        retry::run(&self.config.retry, &self.stats, &what, move |attempt| {
            self.attempt(request, attempt)
        })
        .await
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        request: Request<'_>,
        attempt: u32,
    ) -> Outcome<Answer<T>> {
        let Request { url, what, .. } = request;
        let credentials = &self.config.credentials;
        let ts = now_ms();
        let headers = SignedHeaders {
            access_key: credentials.access_key(),
            ts: &ts,
            biz_type: BIZ_TYPE,
            action: ACTION,
        };
        let signature = sign(
            headers,
            Some(request.body),
            credentials.access_secret().expose(),
        );
        self.stats.request();
        let started = Instant::now();
        // HTTP/1 sends header names in lower case; NxCloud, like any HTTP
        // server, matches them without regard to case.
        let request_builder = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("accessKey", credentials.access_key())
            .header("ts", &ts)
            .header("bizType", BIZ_TYPE)
            .header("action", ACTION)
            .header("sign", signature)
            .body(request.body.to_vec());
        let log = |outcome: &str| {
            let path = request.endpoint.path();
            let ms = started.elapsed().as_millis();
            crate::debug!("nxcloud: POST {path} attempt {attempt}: {outcome}, {ms} ms");
        };
        let response = match http::send(request_builder).await {
            Ok(response) => response,
            Err(failure) => {
                log(&failure.log);
                return failure.into_outcome(what);
            }
        };
        let status = response.status();
        let code = status.as_u16();
        let retry_after = http::retry_after(&response);
        let bytes = match http::read_body(response).await {
            Ok(bytes) => bytes,
            Err(failure) => {
                log(&failure.log);
                return failure.into_outcome(what);
            }
        };
        if retry::status_is_transient(status) {
            log(&format!("HTTP {code}"));
            let why = format!("HTTP {code}");
            return Outcome::Transient { why, retry_after };
        }
        let envelope: Envelope = match serde_json::from_slice(&bytes) {
            Ok(envelope) => envelope,
            Err(error) if status.is_success() => {
                log(&format!("HTTP {code}, malformed reply"));
                return self.malformed(code, error);
            }
            Err(_) => {
                log(&format!("HTTP {code}"));
                return Outcome::Fatal(anyhow::anyhow!("{what}: HTTP {status}"));
            }
        };
        // Everything the server wrote is redacted before it is shown: a
        // gateway may echo the request's headers back (product.md §1).
        let redact = |text: &str| self.redactor.redact(text);
        let trace = envelope
            .trace_id()
            .map(|id| format!(", traceId {}", redact(&id)));
        log(&format!(
            "HTTP {code}, code {}{}",
            envelope.code,
            trace.unwrap_or_default()
        ));
        if !status.is_success() && envelope.code == 0 {
            return Outcome::Fatal(anyhow::anyhow!("{what}: HTTP {status}"));
        }
        let context = Context {
            appkey: &self.config.appkey,
            business_phone: &self.config.business_phone,
        };
        let message = redact(envelope.message.as_deref().unwrap_or_default());
        match envelope::classify(envelope.code, &message, &context) {
            Verdict::Partial if request.endpoint == Endpoint::List => {
                Outcome::Fatal(anyhow::anyhow!(
                    "{what}: Meta error 139100 (some users failed) in reply to a listing, which has no users to fail"
                ))
            }
            Verdict::Data | Verdict::Partial => match envelope.data() {
                Ok(data) => Outcome::Done(Answer::Data(data)),
                Err(error) => self.malformed(code, error),
            },
            Verdict::Refused(meta) => Outcome::Done(Answer::Refused(meta)),
            Verdict::Transient(why) => Outcome::Transient { why, retry_after },
            Verdict::Fatal(why) => Outcome::Fatal(anyhow::anyhow!("{what}: {why}")),
            // The clock may simply have been read late: re-sign once with a
            // fresh ts (every attempt signs anew); a second 1004 is the clock.
            Verdict::ClockSkew if request.clock_rejections.fetch_add(1, Ordering::Relaxed) == 0 => {
                Outcome::Transient {
                    why: "timestamp rejected (NxCloud code 1004)".into(),
                    retry_after: None,
                }
            }
            Verdict::ClockSkew => Outcome::Fatal(anyhow::anyhow!(
                "{what}: timestamp rejected (NxCloud code 1004) twice: check the system clock"
            )),
        }
    }
}

/// What every attempt of one call shares.
#[derive(Clone, Copy)]
struct Request<'a> {
    endpoint: Endpoint,
    url: &'a str,
    what: &'a str,
    body: &'a [u8],
    /// 1004 replies so far: the first is retried once, the second is fatal.
    clock_rejections: &'a AtomicU32,
}

impl NxCloud {
    /// A 200 whose body is not the expected JSON is most likely a reply
    /// garbled in transit; the calls are idempotent, so it is worth another
    /// try. serde quotes the values it could not read, hence the redactor.
    fn malformed<T>(&self, code: u16, error: serde_json::Error) -> Outcome<T> {
        let error = self.redactor.redact(&error.to_string());
        Outcome::Transient {
            why: format!("malformed reply (HTTP {code}): {error}"),
            retry_after: None,
        }
    }
}

/// Milliseconds since the epoch, 13 digits. A clock before 1970 gives "0",
/// which the server rejects with 1004, and the error says to check the clock.
fn now_ms() -> String {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH);
    since_epoch.unwrap_or_default().as_millis().to_string()
}
