//! WAHA's contact-blocking routes (docs/platforms.md, WAHA): one contact per
//! request, `X-Api-Key`, and HTTP 201 with no body on success.
//!
//! WAHA drives a WhatsApp Web session, so Meta's Cloud API rules do not
//! apply: no 24-hour rule, no batches, no wa_id rewriting. And there is no
//! route to list blocked contacts, because WAHA has none; an emulator that
//! offered one would let a client come to depend on it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::phone::{Change, is_valid_number};
use super::server::Shared;
use crate::provider::sign::signatures_match;

const BLOCK: &str = "/api/contacts/block";
const UNBLOCK: &str = "/api/contacts/unblock";
const CONTACT_SUFFIX: &str = "@c.us";

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(BLOCK, post(block))
        .route(UNBLOCK, post(unblock))
}

async fn block(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    respond(BLOCK, change(&s, &headers, &body, Change::Block).await)
}

async fn unblock(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    respond(UNBLOCK, change(&s, &headers, &body, Change::Unblock).await)
}

fn respond(route: &str, result: Result<(), WahaError>) -> Response {
    // Success is 201 with an empty body: there is nothing to parse.
    let reply = match result {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(e) => e.into_response(),
    };
    crate::debug!("emulator: POST {route} -> HTTP {}", reply.status());
    reply
}

enum WahaError {
    Unauthorized,
    BadRequest(&'static str),
    NoSession(String),
    NotRunning(String),
    NotImplemented,
    /// WAHA's exception while handling one contact.
    ContactException,
    Internal,
}

impl IntoResponse for WahaError {
    fn into_response(self) -> Response {
        let plain = |status: StatusCode, message: &str| {
            (status, Json(json!({ "message": message }))).into_response()
        };
        match self {
            WahaError::Unauthorized => plain(StatusCode::UNAUTHORIZED, "Unauthorized"),
            WahaError::BadRequest(message) => nest_error(StatusCode::BAD_REQUEST, message),
            WahaError::NoSession(name) => plain(
                StatusCode::NOT_FOUND,
                &format!(
                    "We didn't find a session with name '{name}'. Please start it first by using POST /api/sessions/{name}/start request{}",
                    super::UNKNOWN_HINT
                ),
            ),
            WahaError::NotRunning(name) => {
                let body = json!({
                    "error": "Session status is not as expected. Try again later or restart the session",
                    "session": name,
                    "status": "STOPPED",
                    "expected": ["WORKING"],
                });
                (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
            }
            // NOWEB and GOWS do not implement blocking (docs/platforms.md, WAHA).
            WahaError::NotImplemented => nest_error(
                StatusCode::NOT_IMPLEMENTED,
                "The method is not implemented by 'NOWEB' engine. Try another engine",
            ),
            WahaError::ContactException => {
                let body = json!({
                    "statusCode": 500,
                    "timestamp": "2026-01-01T00:00:00.000Z",
                    "exception": {"message": "Evaluation failed: Error: Chat not found", "name": "Error"},
                    "request": {"path": "/api/contacts/block", "method": "POST"},
                    "version": {"version": "2026.1.1", "engine": "WEBJS", "tier": "CORE"},
                });
                (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
            }
            WahaError::Internal => {
                nest_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        }
    }
}

/// WAHA's errors mostly come from NestJS: `{"statusCode", "message", "error"}`.
fn nest_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "message": message,
        "error": status.canonical_reason().unwrap_or("Error"),
    });
    (status, Json(body)).into_response()
}

/// The checks in the order WAHA makes them: the API key guard, then body
/// validation, then the session lookup, then the engine.
async fn change(s: &Shared, headers: &HeaderMap, body: &[u8], op: Change) -> Result<(), WahaError> {
    authenticate(s, headers)?;
    let (session_name, contact) = parse(body)?;
    let mut store = s.store.lock().await;
    let Some((session, created)) = store.session(&session_name, s.options.auto_create_phones)
    else {
        return Err(WahaError::NoSession(session_name));
    };
    if !session.running {
        return Err(WahaError::NotRunning(session_name));
    }
    if !session.engine_can_block {
        return Err(WahaError::NotImplemented);
    }
    if session.failing_contacts.contains(&contact) {
        return Err(WahaError::ContactException);
    }
    // Both calls are idempotent, as blocking on a phone is.
    let known = session.blocked.contains(&contact);
    let changed = match op {
        Change::Block if !known => {
            session.blocked.push(contact);
            true
        }
        Change::Unblock if known => {
            session.blocked.retain(|c| *c != contact);
            true
        }
        _ => false,
    };
    if changed || created {
        store.persist().await.map_err(|e| {
            // The change stands in memory and the next save writes it.
            eprintln!("emulator: {e:#}");
            WahaError::Internal
        })?;
    }
    Ok(())
}

/// No key configured means no request can pass.
fn authenticate(s: &Shared, headers: &HeaderMap) -> Result<(), WahaError> {
    let sent = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    match (&s.options.waha_api_key, sent) {
        (Some(key), Some(sent)) if signatures_match(key, sent) => Ok(()),
        _ => Err(WahaError::Unauthorized),
    }
}

/// `{"session": "default", "contactId": "<digits>@c.us"}` into the session
/// name and the contact's digits.
fn parse(body: &[u8]) -> Result<(String, String), WahaError> {
    let bad = WahaError::BadRequest;
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad("the body must be a JSON object"));
    };
    let session = match fields.get("session") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(bad("session must be a non-empty string")),
    };
    let digits = match fields.get("contactId") {
        Some(Value::String(id)) => id
            .strip_suffix(CONTACT_SUFFIX)
            .filter(|d| is_valid_number(d)),
        _ => None,
    };
    let Some(digits) = digits else {
        return Err(bad("contactId must be <8 to 15 digits>@c.us"));
    };
    Ok((session, digits.to_string()))
}

/// An injected fault as WAHA's NestJS server would word it.
pub fn fault_reply(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    nest_error(status, &format!("{reason} (emulated fault)"))
}
