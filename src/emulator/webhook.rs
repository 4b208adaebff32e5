//! `POST /_emulator/write`: a user writes to a business, so the whole
//! "deferred, then blocked the moment they write" loop runs in tests.
//!
//! ```json
//! {"provider": "cloud-api" | "waha",
//!  "phone_number_id" | "business_phone" | "session": "…",
//!  "user": "<phone or BSUID>", "deliver_to": "http://127.0.0.1:…/webhooks/…",
//!  "message_id"?: "…", "text"?: "…", "secret"?: "…"}
//! ```
//!
//! The user is marked as having written (a Cloud API or NxCloud phone adds
//! them to its recent contacts, so a block now succeeds; WAHA has no
//! 24-hour rule), then the provider's inbound-message webhook is POSTed to
//! `deliver_to`, signed as the provider signs it (see `docs/platforms.md`,
//! "Inbound-message webhooks"): Cloud API with `X-Hub-Signature-256` under
//! `WHATSAPP_APP_SECRET`, WAHA with `X-Webhook-Hmac` (SHA-512) under
//! `WAHA_WEBHOOK_SECRET`, both read from the emulator's environment (or
//! `secret`, to send a wrongly signed delivery on purpose). Only loopback
//! URLs are delivered to. The answer is `{"message_id", "status"}`: the id
//! sent and the HTTP status `deliver_to` answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::server::Shared;
use crate::provider::sign::{hmac_sha256_hex, hmac_sha512_hex};
use crate::user::User;

pub const ROUTE: &str = "/_emulator/write";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Write {
    provider: String,
    #[serde(default)]
    phone_number_id: Option<String>,
    #[serde(default)]
    business_phone: Option<String>,
    #[serde(default)]
    session: Option<String>,
    user: String,
    deliver_to: String,
    #[serde(default)]
    message_id: Option<String>,
    /// The message text; a fixed sentence when left out.
    #[serde(default)]
    text: Option<String>,
    /// Sign with this key instead of the environment's.
    #[serde(default)]
    secret: Option<String>,
}

const DEFAULT_TEXT: &str = "hello, this is the text of a message";

fn refuse(status: StatusCode, why: impl Into<String>) -> Response {
    (status, Json(json!({"error": why.into()}))).into_response()
}

pub async fn write(State(shared): State<Arc<Shared>>, Json(w): Json<Write>) -> Response {
    if !is_loopback(&w.deliver_to) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "deliver_to must be an http:// URL on loopback",
        );
    }
    let Some(sender) = User::from_id(&w.user) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "user is neither a phone number nor a BSUID",
        );
    };
    let message_id = w.message_id.clone().unwrap_or_else(next_message_id);
    let text = w.text.as_deref().unwrap_or(DEFAULT_TEXT);
    let (body, header, signature) = match w.provider.as_str() {
        "cloud-api" => {
            let body = {
                let mut store = shared.store.lock().await;
                let phone = match (&w.phone_number_id, &w.business_phone) {
                    (Some(id), _) => store.phone_by_id(id).map(|(n, p)| (n.to_string(), p)),
                    (None, Some(number)) => {
                        store.phone(number, None).map(|(p, _)| (number.clone(), p))
                    }
                    (None, None) => None,
                };
                let Some((number, phone)) = phone else {
                    return refuse(StatusCode::NOT_FOUND, "no such business phone");
                };
                let Some(phone_number_id) = phone.phone_number_id.clone() else {
                    return refuse(StatusCode::BAD_REQUEST, "the phone has no phone_number_id");
                };
                phone.wrote(sender.id());
                let body = cloud_api_body(
                    &number,
                    &phone_number_id,
                    &sender,
                    phone.person(sender.id()),
                    &message_id,
                    text,
                );
                if let Err(e) = store.persist().await {
                    return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"));
                }
                body
            };
            let Some(key) = w.secret.clone().or_else(|| env("WHATSAPP_APP_SECRET")) else {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "WHATSAPP_APP_SECRET is not set on the emulator",
                );
            };
            let signature = format!("sha256={}", hmac_sha256_hex(key.as_bytes(), &body));
            (body, "X-Hub-Signature-256", signature)
        }
        "waha" => {
            let Some(session) = &w.session else {
                return refuse(StatusCode::BAD_REQUEST, "waha needs a session");
            };
            if shared.store.lock().await.session(session, false).is_none() {
                return refuse(StatusCode::NOT_FOUND, "no such session");
            }
            let Some(digits) = sender.phone_digits() else {
                return refuse(StatusCode::BAD_REQUEST, "WAHA names senders by phone only");
            };
            let body = serde_json::to_vec(&json!({
                "event": "message",
                "session": session,
                "payload": {
                    "id": message_id,
                    "timestamp": now_secs(),
                    "from": format!("{digits}@c.us"),
                    "fromMe": false,
                    "body": text,
                },
            }))
            .unwrap_or_default();
            let Some(key) = w.secret.clone().or_else(|| env("WAHA_WEBHOOK_SECRET")) else {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "WAHA_WEBHOOK_SECRET is not set on the emulator",
                );
            };
            let signature = hmac_sha512_hex(key.as_bytes(), &body);
            (body, "X-Webhook-Hmac", signature)
        }
        other => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("unknown provider {other:?}"),
            );
        }
    };
    let mut request = client()
        .post(&w.deliver_to)
        .header("content-type", "application/json")
        .header(header, signature);
    if header == "X-Webhook-Hmac" {
        request = request.header("X-Webhook-Hmac-Algorithm", "sha512");
    }
    match request.body(body).send().await {
        Ok(reply) => Json(json!({"message_id": message_id, "status": reply.status().as_u16()}))
            .into_response(),
        Err(e) => refuse(StatusCode::BAD_GATEWAY, format!("delivery failed: {e}")),
    }
}

/// Meta's shape: the sender's `wa_id` unless their phone is hidden, their
/// BSUID when the directory knows one, and `from` the phone when shown.
fn cloud_api_body(
    number: &str,
    phone_number_id: &str,
    sender: &User,
    person: Option<&super::Person>,
    message_id: &str,
    text: &str,
) -> Vec<u8> {
    let hidden = person.is_some_and(|p| p.phone_hidden);
    let phone = sender
        .phone_digits()
        .map(str::to_string)
        .or_else(|| person.and_then(|p| p.phone.clone()))
        .filter(|_| !hidden)
        .map(|p| super::phone::wa_id(&p));
    let user_id = sender
        .user_id()
        .map(str::to_string)
        .or_else(|| person.and_then(|p| p.user_id.clone()));
    let mut contact = json!({"profile": {"name": "Emulated Sender Name"}});
    if let Some(p) = &phone {
        contact["wa_id"] = json!(p);
    }
    if let Some(u) = &user_id {
        contact["user_id"] = json!(u);
    }
    let from = phone.or(user_id).unwrap_or_else(|| sender.id().to_string());
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": number, "phone_number_id": phone_number_id},
            "contacts": [contact],
            "messages": [{"from": from, "id": message_id, "timestamp": now_secs().to_string(),
                          "type": "text", "text": {"body": text}}],
        }}]}],
    }))
    .unwrap_or_default()
}

fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    url.scheme() == "http" && matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn next_message_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("wamid.emulated.{}.{n}", now_secs())
}

fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        // No redirects: a loopback URL must not lead the delivery elsewhere.
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_is_delivered_to() {
        assert!(super::is_loopback("http://127.0.0.1:9/webhooks/waha"));
        assert!(super::is_loopback("http://localhost:9/x"));
        assert!(!super::is_loopback("https://127.0.0.1:9/x"));
        assert!(!super::is_loopback("http://example.com/x"));
        assert!(!super::is_loopback("http://127.0.0.1.example.com/x"));
    }
}
