//! Graph's error envelope, `{"error": {message, type, code, …, fbtrace_id}}`,
//! which the Cloud API routes and the fault layer both answer with
//! (docs/platforms.md, Cloud API: the code decides what the client does).

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::phone::MetaError;

/// A Graph error: `{"error": {message, type, code, …, fbtrace_id}}`.
pub struct GraphError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    /// `OAuthException` but for a few Graph method errors.
    pub kind: &'static str,
    pub subcode: Option<i64>,
    /// `error_data.details`.
    pub details: Option<String>,
    /// `is_transient: true`: the client retries (docs/platforms.md, Cloud API).
    pub transient: bool,
}

impl GraphError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> GraphError {
        GraphError {
            status,
            code,
            message: message.into(),
            kind: "OAuthException",
            subcode: None,
            details: None,
            transient: false,
        }
    }

    /// Code 100, Graph's "invalid parameter".
    pub fn param(message: impl std::fmt::Display) -> GraphError {
        GraphError::new(StatusCode::BAD_REQUEST, 100, format!("(#100) {message}"))
    }

    pub fn to_json(&self) -> Value {
        let mut error = json!({"message": self.message, "type": self.kind, "code": self.code});
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = json!(subcode);
        }
        if let Some(details) = &self.details {
            error["error_data"] = json!({ "details": details });
        }
        if self.transient {
            error["is_transient"] = json!(true);
        }
        error["fbtrace_id"] = json!(fbtrace_id());
        error
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.to_json()}))).into_response()
    }
}

/// A whole-call refusal from `phone.rs` (130429, 139101, 139102): HTTP 400.
impl From<MetaError> for GraphError {
    fn from(e: MetaError) -> GraphError {
        let message = format!("(#{}) {}", e.code, e.message);
        GraphError {
            details: Some(e.message.to_string()),
            ..GraphError::new(StatusCode::BAD_REQUEST, e.code, message)
        }
    }
}

/// Meta quotes `fbtrace_id` in support requests; it only has to differ
/// between replies, so a process-wide counter will do.
fn fbtrace_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("Aemu{:012X}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// An injected fault in Graph's words: 429 is the WABA rate limit (80007),
/// 503 the transient "temporarily down" (2); both retryable (docs/platforms.md, Cloud API).
pub fn fault_reply(status: StatusCode) -> Response {
    let error = if status == StatusCode::TOO_MANY_REQUESTS {
        GraphError::new(
            status,
            80007,
            "(#80007) There have been too many calls to this WhatsApp Business account. Wait a bit and try again. (emulated fault)",
        )
    } else {
        GraphError {
            transient: true,
            ..GraphError::new(
                status,
                2,
                "(#2) Service temporarily unavailable (emulated fault)",
            )
        }
    };
    error.into_response()
}
