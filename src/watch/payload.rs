//! Reading the providers' inbound-message webhooks (see `docs/platforms.md`,
//! "Inbound-message webhooks"): who wrote, to which business phone, in which
//! message. Nothing else is read: message texts and profile names are left
//! in the body, never copied out, so they cannot reach a log.
//!
//! Bodies come from the network: every field is optional here, a field of
//! the wrong type is skipped, and nothing panics.

use serde_json::Value;

use crate::number;
use crate::user::{self, User};

/// Which watched target a delivery is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A Cloud API business phone, by Meta's `phone_number_id`.
    PhoneNumberId(String),
    /// A WAHA session, by name.
    Session(String),
}

/// One inbound message: who wrote, where, and the message's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub key: Key,
    pub message_id: String,
    pub sender: User,
}

/// What a delivery holds. `unreadable` counts messages whose sender or id
/// could not be read (they are skipped, never guessed at).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    pub messages: Vec<Inbound>,
    pub unreadable: usize,
}

/// A Cloud API delivery: `{"object": "whatsapp_business_account", "entry":
/// [{"changes": [{"field": "messages", "value": {"metadata":
/// {"phone_number_id"}, "contacts": [{"wa_id"?, "user_id"?}], "messages":
/// [{"from", "id", …}]}}]}]}`. Changes of other fields (statuses, template
/// updates) hold no inbound message and are skipped. `Err` only for a body
/// that is not a JSON object at all.
pub fn cloud_api(body: &[u8]) -> Result<Delivery, &'static str> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    if !doc.is_object() {
        return Err("the body is not a JSON object");
    }
    let mut delivery = Delivery::default();
    for entry in array(&doc, "entry") {
        for change in array(entry, "changes") {
            if change.get("field").and_then(Value::as_str) != Some("messages") {
                continue;
            }
            let Some(value) = change.get("value") else {
                continue;
            };
            let phone_number_id = value
                .get("metadata")
                .and_then(|m| m.get("phone_number_id"))
                .and_then(as_id);
            let contacts = array(value, "contacts");
            for message in array(value, "messages") {
                let from = message.get("from").and_then(Value::as_str);
                let id = message.get("id").and_then(Value::as_str);
                let sender = from.and_then(|from| sender(from, contacts));
                match (&phone_number_id, id, sender) {
                    (Some(pid), Some(id), Some(sender)) if is_message_id(id) => {
                        delivery.messages.push(Inbound {
                            key: Key::PhoneNumberId(pid.clone()),
                            message_id: id.to_string(),
                            sender,
                        })
                    }
                    _ => delivery.unreadable += 1,
                }
            }
        }
    }
    Ok(delivery)
}

/// The sender of a Cloud API message: `from` with the contact it names (by
/// `wa_id` or `user_id`; the only contact when there is one). A user who
/// hides their phone has only a BSUID, in `from` and in `user_id`.
fn sender(from: &str, contacts: &[Value]) -> Option<User> {
    let field = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
    let contact = contacts
        .iter()
        .find(|c| {
            field(c, "wa_id").as_deref() == Some(from)
                || field(c, "user_id").as_deref() == Some(from)
        })
        .or(match contacts {
            [only] => Some(only),
            _ => None,
        });
    let from_is_bsuid = user::looks_like_bsuid(from);
    let wa_id = contact
        .and_then(|c| field(c, "wa_id"))
        .or_else(|| (!from_is_bsuid).then(|| from.to_string()));
    let user_id = contact
        .and_then(|c| field(c, "user_id"))
        .or_else(|| from_is_bsuid.then(|| from.to_string()));
    user::from_server(wa_id.as_deref(), user_id.as_deref())
        .ok()
        .flatten()
}

/// A WAHA delivery: `{"event": "message", "session", "payload": {"from":
/// "<digits>@c.us", "id", "fromMe"?}}`. Other events, the business's own
/// messages (`fromMe`) and senders WAHA names by a group or an `@lid` are
/// not a user writing by phone, and yield nothing.
pub fn waha(body: &[u8]) -> Result<Delivery, &'static str> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    if !doc.is_object() {
        return Err("the body is not a JSON object");
    }
    let mut delivery = Delivery::default();
    if doc.get("event").and_then(Value::as_str) != Some("message") {
        return Ok(delivery);
    }
    let payload = doc.get("payload");
    if payload
        .and_then(|p| p.get("fromMe"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Ok(delivery);
    }
    let session = doc.get("session").and_then(Value::as_str);
    let id = payload.and_then(|p| p.get("id")).and_then(as_id);
    let from = payload.and_then(|p| p.get("from")).and_then(Value::as_str);
    let phone = from
        .and_then(|f| {
            f.strip_suffix("@c.us")
                .or_else(|| f.strip_suffix("@s.whatsapp.net"))
        })
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| number::canonical(digits).ok());
    match (session, id, phone) {
        (Some(session), Some(id), Some(phone)) if !session.is_empty() && is_message_id(&id) => {
            delivery.messages.push(Inbound {
                key: Key::Session(session.to_string()),
                message_id: id,
                sender: User::phone(phone),
            })
        }
        _ => delivery.unreadable += 1,
    }
    Ok(delivery)
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// An id as a string; a number is taken as its digits. WAHA has sent
/// message ids both as a string and as an object with `_serialized`.
fn as_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o
            .get("_serialized")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// Message ids are logged and remembered: bounded, and printable ASCII
/// only, so a hostile id can neither break a log line nor eat memory.
fn is_message_id(id: &str) -> bool {
    (1..=256).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(contacts: Value, messages: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
                "contacts": contacts, "messages": messages}}]}]
        }))
        .unwrap()
    }

    #[test]
    fn a_cloud_api_message_names_phone_and_bsuid() {
        let body = cloud(
            serde_json::json!([{"profile": {"name": "Secret Name"}, "wa_id": "8613300000001", "user_id": "CN.7Hq2Lm90aZ"}]),
            serde_json::json!([{"from": "8613300000001", "id": "wamid.A", "type": "text", "text": {"body": "hi"}}]),
        );
        let d = cloud_api(&body).unwrap();
        assert_eq!(d.unreadable, 0);
        assert_eq!(d.messages.len(), 1);
        let m = &d.messages[0];
        assert_eq!(m.key, Key::PhoneNumberId("106540352242922".into()));
        assert_eq!(m.message_id, "wamid.A");
        assert_eq!(m.sender.phone_digits(), Some("8613300000001"));
        assert_eq!(m.sender.user_id(), Some("CN.7Hq2Lm90aZ"));
    }

    #[test]
    fn a_hidden_phone_is_a_bsuid_only() {
        let body = cloud(
            serde_json::json!([{"profile": {"name": "x"}, "user_id": "US.13491208655302741918"}]),
            serde_json::json!([{"from": "US.13491208655302741918", "id": "wamid.B", "type": "text"}]),
        );
        let d = cloud_api(&body).unwrap();
        assert_eq!(d.messages[0].sender.phone_digits(), None);
        assert_eq!(
            d.messages[0].sender.user_id(),
            Some("US.13491208655302741918")
        );
    }

    #[test]
    fn statuses_and_odd_shapes_yield_nothing_and_never_panic() {
        for body in [
            &br#"{"entry": 5}"#[..],
            br#"{"entry": [{"changes": [{"field": "statuses", "value": {}}]}]}"#,
            br#"{"entry": [{"changes": [{"field": "messages", "value": null}]}]}"#,
            br#"{"entry": [{"changes": [{"field": "messages", "value": {"messages": [1, null, {}]}}]}]}"#,
        ] {
            let d = cloud_api(body).unwrap();
            assert!(d.messages.is_empty());
        }
        assert!(cloud_api(b"[]").is_err());
        assert!(cloud_api(b"\xff\xfe").is_err());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(cloud_api(deep.as_bytes()).is_err());
    }

    #[test]
    fn waha_messages() {
        let d = waha(br#"{"event":"message","session":"default","payload":{"id":"false_1@c.us_X","from":"8613300000001@c.us","body":"hello"}}"#).unwrap();
        assert_eq!(d.messages[0].sender, User::phone("8613300000001"));
        assert_eq!(d.messages[0].key, Key::Session("default".into()));
        for body in [
            &br#"{"event":"message","session":"default","payload":{"id":"a","from":"1203630@g.us"}}"#[..],
            br#"{"event":"message","session":"default","payload":{"id":"a","from":"8613300000001@c.us","fromMe":true}}"#,
            br#"{"event":"session.status","session":"default"}"#,
        ] {
            assert!(waha(body).unwrap().messages.is_empty());
        }
    }
}
