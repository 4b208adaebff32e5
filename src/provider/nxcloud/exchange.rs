//! One signed call to NxCloud, and what its envelope means.
//!
//! Each call serialises its body once; every attempt signs those exact bytes
//! with a fresh `ts` and sends them (the signature covers the body byte for
//! byte, docs/platforms.md, NxCloud). The exchange itself is the one every
//! provider shares ([`Exchange`]); [`retry::run`] decides whether to try again.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::envelope::{self, Context, EnvelopeMeaning};
use super::wire::Envelope;
use super::{ACTION, BIZ_TYPE, Endpoint, NxCloud};
use crate::provider::exchange::{Answer, Exchange, Meaning, Reply};
use crate::provider::retry::{self, Attempt};
use crate::provider::sign::{SignedHeaders, sign};

impl NxCloud {
    /// One call with retries: the body is signed and sent as these exact bytes
    /// on every attempt (the signature covers them).
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        body: Vec<u8>,
    ) -> anyhow::Result<Answer<T>> {
        let url = self.base.join(endpoint.path());
        let what = self.what(endpoint);
        let label = format!("nxcloud: POST {}", endpoint.path());
        // 1004 replies so far: the first is retried once, the second is fatal.
        let clock_rejections = AtomicU32::new(0);
        let (url, what, label, body) = (&url, &what, &label, &body);
        retry::run(&self.config.retry, &self.stats, what, |attempt| {
            let exchange = Exchange {
                label,
                what,
                attempt,
            };
            let request = self.signed(url, body);
            let clock_rejections = &clock_rejections;
            exchange.send(
                &self.stats,
                request,
                |_| {},
                move |reply| self.meaning(endpoint, what, reply, clock_rejections),
            )
        })
        .await
    }

    /// A POST of `body`, signed with a fresh `ts`. HTTP/1 sends header
    /// names in lower case; NxCloud, like any HTTP server, matches them
    /// without regard to case.
    fn signed(&self, url: &str, body: &[u8]) -> reqwest::RequestBuilder {
        let credentials = &self.config.credentials;
        let ts = now_ms();
        let headers = SignedHeaders {
            access_key: credentials.access_key(),
            ts: &ts,
            biz_type: BIZ_TYPE,
            action: ACTION,
        };
        let signature = sign(headers, Some(body), credentials.access_secret().expose());
        self.client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("accessKey", credentials.access_key())
            .header("ts", &ts)
            .header("bizType", BIZ_TYPE)
            .header("action", ACTION)
            .header("sign", signature)
            .body(body.to_vec())
    }

    /// What one reply means: the envelope's code, read by [`envelope::classify`].
    fn meaning<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        what: &str,
        reply: Reply,
        clock_rejections: &AtomicU32,
    ) -> Meaning<Answer<T>> {
        let (status, code) = (reply.status, reply.code());
        if retry::status_is_transient(status) {
            return Meaning::new(format!("HTTP {code}"), reply.transient());
        }
        // One pass into the expected type is what nearly every reply takes;
        // only a reply whose `data` does not fit (an error, or a malformed
        // one) is read again, raw, so its code can still say what happened.
        let (envelope, typed) = match serde_json::from_slice::<Envelope<T>>(&reply.body) {
            Ok(typed) => {
                let Envelope {
                    code,
                    message,
                    data,
                    trace_id,
                } = typed;
                let head = Envelope {
                    code,
                    message,
                    data: None,
                    trace_id,
                };
                (head, Some(data))
            }
            Err(_) => match serde_json::from_slice::<Envelope>(&reply.body) {
                Ok(raw) => (raw, None),
                Err(error) => return self.unreadable(what, reply, error),
            },
        };
        let data = move |envelope: &Envelope| match typed {
            Some(Some(data)) => Ok(data),
            // A missing or null `data` reads as `null`, which most types refuse.
            Some(None) => serde_json::from_str("null"),
            None => envelope.data(),
        };
        // Everything the server wrote is redacted before it is shown: a
        // gateway may echo the request's headers back.
        let redact = |text: &str| self.redactor.redact(text);
        let trace = envelope
            .trace_id()
            .map(|id| format!(", traceId {}", redact(&id)));
        let log = format!(
            "HTTP {code}, code {}{}",
            envelope.code,
            trace.unwrap_or_default()
        );
        if !status.is_success() && envelope.code == 0 {
            return Meaning::new(
                log,
                Attempt::Fatal(anyhow::anyhow!("{what}: HTTP {status}")),
            );
        }
        let context = Context {
            appkey: &self.config.appkey,
            business_phone: &self.config.business_phone,
            key_var: self.config.credentials.key_var(),
            secret_var: self.config.credentials.secret_var(),
        };
        let message = redact(envelope.message.as_deref().unwrap_or_default());
        let outcome = match envelope::classify(envelope.code, &message, &context) {
            EnvelopeMeaning::Partial if endpoint == Endpoint::List => {
                Attempt::Fatal(anyhow::anyhow!(
                    "{what}: Meta error 139100 (some users failed) in reply to a listing, which has no users to fail"
                ))
            }
            EnvelopeMeaning::Data | EnvelopeMeaning::Partial => match data(&envelope) {
                Ok(data) => Attempt::Done(Answer::Data(data)),
                Err(error) => reply.malformed(error, &self.redactor),
            },
            EnvelopeMeaning::Refused(meta) => Attempt::Done(Answer::Refused(meta)),
            EnvelopeMeaning::Transient(why) => Attempt::Transient {
                why,
                retry_after: reply.retry_after,
            },
            EnvelopeMeaning::Fatal(why) => Attempt::Fatal(anyhow::anyhow!("{what}: {why}")),
            // The clock may simply have been read late: re-sign once with a
            // fresh ts (every attempt signs anew); a second 1004 is the clock.
            EnvelopeMeaning::ClockSkew if clock_rejections.fetch_add(1, Ordering::Relaxed) == 0 => {
                Attempt::Transient {
                    why: "timestamp rejected (NxCloud code 1004)".into(),
                    retry_after: None,
                }
            }
            EnvelopeMeaning::ClockSkew => Attempt::Fatal(anyhow::anyhow!(
                "{what}: timestamp rejected (NxCloud code 1004) twice: check the system clock"
            )),
        };
        Meaning::new(log, outcome)
    }

    /// A reply that is no envelope at all.
    fn unreadable<T>(
        &self,
        what: &str,
        reply: Reply,
        error: serde_json::Error,
    ) -> Meaning<Answer<T>> {
        let (status, code) = (reply.status, reply.code());
        if status.is_success() {
            let outcome = reply.malformed(error, &self.redactor);
            return Meaning::new(format!("HTTP {code}, malformed reply"), outcome);
        }
        let outcome = Attempt::Fatal(anyhow::anyhow!("{what}: HTTP {status}"));
        Meaning::new(format!("HTTP {code}"), outcome)
    }
}

/// Milliseconds since the epoch, 13 digits. A clock before 1970 gives "0",
/// which the server rejects with 1004, and the error says to check the clock.
fn now_ms() -> String {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH);
    since_epoch.unwrap_or_default().as_millis().to_string()
}
