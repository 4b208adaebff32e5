//! NxCloud's request bodies and reply envelope (docs/platforms.md, NxCloud;
//! the exact examples are those of NxCloud's Block Users API page). What `data` holds is Meta's Block Users JSON,
//! read by [`crate::provider::meta`].

use crate::user::User;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::provider::meta::{UserRef, user_refs};

/// The request body. Field order is fixed by this struct and the bytes are
/// signed as sent, so the body is serialised exactly once per call.
#[derive(Serialize)]
struct Body<'a> {
    appkey: &'a str,
    business_phone: &'a str,
    messaging_product: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    block_users: Option<Vec<UserRef<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<&'a str>,
}

pub(super) fn users_body(
    appkey: &str,
    business_phone: &str,
    users: &[User],
) -> anyhow::Result<Vec<u8>> {
    to_bytes(&Body {
        block_users: Some(user_refs(users)),
        ..body(appkey, business_phone)
    })
}

pub(super) fn list_body(
    appkey: &str,
    phone: &str,
    limit: usize,
    after: Option<&str>,
) -> anyhow::Result<Vec<u8>> {
    to_bytes(&Body {
        limit: Some(limit),
        after,
        ..body(appkey, phone)
    })
}

fn body<'a>(appkey: &'a str, business_phone: &'a str) -> Body<'a> {
    Body {
        appkey,
        business_phone,
        messaging_product: "whatsapp",
        block_users: None,
        limit: None,
        after: None,
    }
}

fn to_bytes(body: &Body<'_>) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(body)?)
}

/// `{code, message, data, traceId?}` around every reply. `D` is what `data`
/// is read as: the expected type, in one pass over the reply (what nearly
/// every reply is), or, when that fails, the raw text, so the envelope's
/// code still says what went wrong ([`Envelope::data`] then reads it).
#[derive(Debug, Deserialize)]
pub(super) struct Envelope<D = Box<serde_json::value::RawValue>> {
    pub code: i64,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default = "none")]
    pub data: Option<D>,
    #[serde(default, rename = "traceId")]
    pub trace_id: Option<Value>,
}

fn none<D>() -> Option<D> {
    None
}

impl Envelope {
    /// `data` as `T`; a missing or null `data` is read as `null`.
    pub fn data<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.data.as_deref().map_or("null", |raw| raw.get()))
    }
}

impl<D> Envelope<D> {
    pub fn trace_id(&self) -> Option<String> {
        match self.trace_id.as_ref()? {
            Value::Null => None,
            Value::String(id) => Some(id.clone()),
            other => Some(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
