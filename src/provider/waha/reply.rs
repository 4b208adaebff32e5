//! What a WAHA reply means for one contact (docs/platforms.md, WAHA).
//!
//! Success is HTTP 201 with no body. WAHA is a NestJS server, so errors come
//! as `{"statusCode", "message", "error"}` where `message` may be a string or
//! a list of strings. Some engines do not implement blocking at all: they
//! answer 501, or an error whose message says "not implemented".

use reqwest::StatusCode;
use serde_json::Value;

use crate::provider::retry::status_is_transient;
use crate::provider::secret::Redactor;

/// Longest piece of a non-JSON error body quoted in a message.
const QUOTE_LIMIT: usize = 200;

#[derive(Debug, PartialEq, Eq)]
pub(super) enum ContactMeaning {
    Done,
    /// This contact was refused: code = HTTP status, with WAHA's message.
    Refused {
        code: i64,
        message: String,
    },
    Transient(String),
    /// WAHA's own exception while handling this contact (HTTP 500): worth
    /// retrying, and if it persists, this contact's failure alone.
    ContactError {
        code: i64,
        message: String,
    },
    /// Stop the whole target; the text explains why (the caller names the request).
    Fatal(String),
}

/// `redactor` hides the API key in what the server wrote, before any of it
/// is quoted (and before a quote is cut, which could leave half a key).
pub(super) fn classify(
    status: StatusCode,
    body: &[u8],
    session: &str,
    key_var: &str,
    redactor: &Redactor,
) -> ContactMeaning {
    if status.is_success() {
        return ContactMeaning::Done;
    }
    let code = status.as_u16();
    let message = message(body, redactor);
    let said = message
        .as_deref()
        .unwrap_or_else(|| status.canonical_reason().unwrap_or(""));
    let lower = said.to_lowercase();
    // NOWEB and GOWS answer 501; releases from 2024 answered 422 "not
    // implemented by the engine" (WAHA's engine table: only WEBJS and WPP
    // implement blocking).
    if status == StatusCode::NOT_IMPLEMENTED || lower.contains("not implemented") {
        return ContactMeaning::Fatal(format!(
            "this WAHA session's engine does not implement blocking contacts (HTTP {code}: {said}); only the WEBJS and WPP engines can block (NOWEB and GOWS cannot): run the session on one of them"
        ));
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return ContactMeaning::Fatal(format!(
            "WAHA refused the API key: check {key_var} (HTTP {code}: {said})"
        ));
    }
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        return ContactMeaning::ContactError {
            code: i64::from(code),
            message: format!("WAHA failed on this contact (HTTP {code}: {said})"),
        };
    }
    if status_is_transient(status) {
        return ContactMeaning::Transient(format!("HTTP {code}: {said}"));
    }
    // Not this contact's fault: every other contact would meet it too.
    if lower.starts_with("cannot post") {
        return ContactMeaning::Fatal(format!(
            "WAHA has no such route (HTTP {code}: {said}); check base_url and that the WAHA version can block contacts"
        ));
    }
    if status == StatusCode::NOT_FOUND && lower.contains("session") {
        return ContactMeaning::Fatal(format!(
            "WAHA has no session named {session:?} (HTTP {code}: {said}); create and start it, or set provider.session (WAHA Core serves only \"default\")"
        ));
    }
    if status == StatusCode::UNPROCESSABLE_ENTITY && lower.contains("session") {
        return ContactMeaning::Fatal(format!(
            "WAHA session {session:?} is not running (HTTP {code}: {said}); start it (and scan its QR code if it asks), then run again"
        ));
    }
    if lower.contains("session") {
        return ContactMeaning::Fatal(format!(
            "WAHA session {session:?} cannot be used (HTTP {code}: {said}); start it, or set provider.session"
        ));
    }
    ContactMeaning::Refused {
        code: i64::from(code),
        message: said.to_string(),
    }
}

/// WAHA's `message` (joined when a list), else a short quote of the body.
fn message(body: &[u8], redactor: &Redactor) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let Ok(json) = serde_json::from_str::<Value>(text) else {
        return Some(quote(&redactor.redact(text)));
    };
    let pick = |value: &Value| match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Array(items) => {
            let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        _ => None,
    };
    let picked = json
        .get("message")
        .and_then(pick)
        .or_else(|| json.get("error").and_then(pick));
    Some(match picked {
        Some(message) => redactor.redact(&message),
        None => quote(&redactor.redact(text)),
    })
}

fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::waha::API_KEY_VAR;

    const KEY: &str = "waha-key-do-not-print";

    fn verdict(status: u16, body: &str) -> ContactMeaning {
        classify(
            StatusCode::from_u16(status).unwrap(),
            body.as_bytes(),
            "default",
            API_KEY_VAR,
            &Redactor::new([KEY]),
        )
    }

    fn fatal(status: u16, body: &str) -> String {
        match verdict(status, body) {
            ContactMeaning::Fatal(text) => text,
            other => panic!("{status} {body}: {other:?}"),
        }
    }

    #[test]
    fn success_is_any_2xx() {
        assert_eq!(verdict(201, ""), ContactMeaning::Done);
        assert_eq!(verdict(200, r#"{"success":true}"#), ContactMeaning::Done);
    }

    #[test]
    fn a_contact_refused_keeps_the_status_and_message() {
        let body = r#"{"statusCode":400,"message":["contactId must be a string","contactId should not be empty"],"error":"Bad Request"}"#;
        assert_eq!(
            verdict(400, body),
            ContactMeaning::Refused {
                code: 400,
                message: "contactId must be a string; contactId should not be empty".into()
            }
        );
        assert_eq!(
            verdict(404, r#"{"statusCode":404,"message":"Contact not found"}"#),
            ContactMeaning::Refused {
                code: 404,
                message: "Contact not found".into()
            }
        );
        assert_eq!(
            verdict(409, ""),
            ContactMeaning::Refused {
                code: 409,
                message: "Conflict".into()
            }
        );
        let long = "x".repeat(500);
        let ContactMeaning::Refused { message, .. } = verdict(400, &long) else {
            panic!()
        };
        assert_eq!(message.chars().count(), QUOTE_LIMIT + 1);
    }

    #[test]
    fn engines_without_blocking_stop_the_target() {
        for (status, body) in [
            (501, ""),
            (
                501,
                r#"{"statusCode":501,"message":"Method not implemented by NOWEB engine"}"#,
            ),
            (500, r#"{"statusCode":500,"message":"Not implemented"}"#),
            (400, r#"{"error":"Method is not implemented in GOWS"}"#),
            // Releases from 2024 said it with 422.
            (
                422,
                r#"{"statusCode":422,"message":"This method is not implemented by the engine"}"#,
            ),
        ] {
            let text = fatal(status, body);
            assert!(
                text.starts_with(
                    "this WAHA session's engine does not implement blocking contacts (HTTP "
                ),
                "{text}"
            );
            assert!(
                text.ends_with("only the WEBJS and WPP engines can block (NOWEB and GOWS cannot): run the session on one of them"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_500_concerns_the_contact_and_other_5xx_the_server() {
        let body = r#"{"statusCode":500,"timestamp":"t","exception":{"message":"Chat not found"},"version":{}}"#;
        assert_eq!(
            verdict(500, r#"{"statusCode":500,"message":"Chat not found"}"#),
            ContactMeaning::ContactError {
                code: 500,
                message: "WAHA failed on this contact (HTTP 500: Chat not found)".into()
            }
        );
        assert!(matches!(
            verdict(500, body),
            ContactMeaning::ContactError { code: 500, .. }
        ));
        for status in [502, 503, 504] {
            assert!(
                matches!(verdict(status, ""), ContactMeaning::Transient(_)),
                "{status}"
            );
        }
    }

    #[test]
    fn unknown_and_stopped_sessions_say_which() {
        let unknown = fatal(
            404,
            r#"{"message":"We didn't find a session with name 'shop'. Please start it first"}"#,
        );
        assert!(
            unknown.starts_with("WAHA has no session named \"default\" (HTTP 404"),
            "{unknown}"
        );
        let stopped = fatal(
            422,
            r#"{"error":"Session status is not as expected. Try again later or restart the session","session":"default","status":"STOPPED","expected":["WORKING"]}"#,
        );
        assert!(stopped.starts_with("WAHA session \"default\" is not running (HTTP 422: Session status is not as expected"), "{stopped}");
    }

    #[test]
    fn whole_target_problems_are_fatal_and_the_rest_retried() {
        assert!(
            fatal(401, r#"{"message":"Unauthorized"}"#)
                .starts_with("WAHA refused the API key: check WAHA_API_KEY")
        );
        assert!(fatal(403, "").contains("check WAHA_API_KEY (HTTP 403: Forbidden)"));
        assert!(fatal(404, r#"{"message":"Cannot POST /api/contacts/block","error":"Not Found","statusCode":404}"#).starts_with("WAHA has no such route"));
        assert!(
            fatal(400, r#"{"message":"Session \"default\" does not exist"}"#)
                .starts_with("WAHA session \"default\" cannot be used")
        );
        for status in [429, 502, 503, 504, 408] {
            assert!(
                matches!(verdict(status, ""), ContactMeaning::Transient(_)),
                "{status}"
            );
        }
        assert_eq!(
            verdict(503, "busy"),
            ContactMeaning::Transient("HTTP 503: busy".into())
        );
    }

    /// A server that echoes the request back must not get the key printed:
    /// in a message, in a list of messages, or in a quote of a body that is
    /// not JSON, even one cut short right inside the key.
    #[test]
    fn the_key_is_redacted_in_whatever_the_server_says() {
        let echo = format!(r#"{{"statusCode":400,"message":"bad header X-Api-Key: {KEY}"}}"#);
        assert_eq!(
            verdict(400, &echo),
            ContactMeaning::Refused {
                code: 400,
                message: "bad header X-Api-Key: ***".into()
            }
        );
        let list = format!(r#"{{"message":["x-api-key={KEY}","no"]}}"#);
        assert!(
            matches!(verdict(422, &list), ContactMeaning::Refused { message, .. } if message == "x-api-key=***; no")
        );
        let text = format!("{}{KEY} and more", "x".repeat(QUOTE_LIMIT - 5));
        let ContactMeaning::Transient(why) = verdict(503, &text) else {
            panic!()
        };
        assert!(!why.contains("waha-") && why.contains("***"), "{why}");
        let ContactMeaning::Fatal(why) = verdict(401, &format!(r#"{{"error":"wrong key {KEY}"}}"#))
        else {
            panic!()
        };
        assert!(why.ends_with("(HTTP 401: wrong key ***)"), "{why}");
    }
}
