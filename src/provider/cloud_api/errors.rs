//! Meta's error envelope and what each code means for the client
//! (docs/platforms.md, Cloud API, the code table).
//!
//! Which codes are worth retrying is decided in one place,
//! [`crate::provider::retry`]; this table adds the user-facing wording, the
//! partial result of HTTP 400 + 139100, and the refusals the client acts on.

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use crate::provider::codes;
use crate::provider::meta::{MetaError, meta_error};
use crate::provider::retry::{
    meta_code_is_transient, meta_code_shrinks_batch, meta_flag_is_transient, status_is_transient,
};
use crate::provider::secret::Redactor;

/// `{"error": {...}}`, on its own or beside a partial `block_users`.
#[derive(Debug, Deserialize)]
pub(super) struct ErrorReply {
    pub error: GraphError,
}

#[derive(Debug, Deserialize)]
pub(super) struct GraphError {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    /// Meta's own "retry this" ([`meta_flag_is_transient`]); any JSON, so a
    /// flag in an unexpected form cannot make the whole error unreadable.
    #[serde(default)]
    pub is_transient: Option<Value>,
    /// A string or an object, depending on the error.
    #[serde(default)]
    pub error_data: Option<Value>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

impl GraphError {
    /// Hide the client's credentials in every field that is ever shown.
    pub fn redact(&mut self, redactor: &Redactor) {
        for text in [&mut self.message, &mut self.kind, &mut self.fbtrace_id]
            .into_iter()
            .flatten()
        {
            *text = redactor.redact(text);
        }
        if let Some(Value::String(details)) = &mut self.error_data {
            *details = redactor.redact(details);
        }
    }

    /// The message without Meta's `(#code)` prefix, which repeats the code.
    pub fn text(&self) -> String {
        let message = self.message.as_deref().unwrap_or_default();
        match meta_error(message) {
            Some(meta) if meta.code == self.code => meta.message,
            _ => message.trim().to_string(),
        }
    }

    /// `Meta error 190 (OAuthException, subcode 463): Session has expired`.
    fn describe(&self) -> String {
        let mut what = Vec::new();
        what.extend(self.kind.clone());
        what.extend(self.error_subcode.map(|s| format!("subcode {s}")));
        let what = if what.is_empty() {
            String::new()
        } else {
            format!(" ({})", what.join(", "))
        };
        let mut text = format!("Meta error {}{what}: {}", self.code, self.text());
        if let Some(Value::String(details)) = &self.error_data
            && !details.is_empty()
        {
            text.push_str(&format!(" ({details})"));
        }
        text
    }
}

/// What the client does with an error reply.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ErrorMeaning {
    /// 139100: some users failed; `block_users` beside the error holds the
    /// per-user results, read like a success (docs/platforms.md, Cloud API).
    Partial,
    /// 139101 (list full), 139102 (list changed while paging), or a per-user
    /// code for the whole call ([`codes::is_per_user`]).
    Refused(MetaError),
    /// Retry after backing off; `shrink` also halves the batch (130429).
    Transient { why: String, shrink: bool },
    /// Give up; the text explains why (the caller prefixes the endpoint).
    Fatal(String),
}

/// `token_var` names the variable the token came from, for "check …".
pub(super) fn classify(status: StatusCode, error: &GraphError, token_var: &str) -> ErrorMeaning {
    let code = error.code;
    let flagged = meta_flag_is_transient(error.is_transient.as_ref());
    match code {
        codes::PARTIAL_FAILURE => ErrorMeaning::Partial,
        codes::LIST_FULL | codes::LIST_CHANGED => ErrorMeaning::Refused(MetaError {
            code,
            message: error.text(),
        }),
        _ if codes::is_per_user(code) => ErrorMeaning::Refused(MetaError {
            code,
            message: error.text(),
        }),
        _ if meta_code_is_transient(code, flagged) => ErrorMeaning::Transient {
            why: error.describe(),
            shrink: meta_code_shrinks_batch(code),
        },
        0 | 190 => ErrorMeaning::Fatal(token_refused(error, token_var)),
        _ if status == StatusCode::UNAUTHORIZED => {
            ErrorMeaning::Fatal(token_refused(error, token_var))
        }
        10 | 200..=299 => ErrorMeaning::Fatal(permission(error, token_var)),
        _ if status == StatusCode::FORBIDDEN => ErrorMeaning::Fatal(permission(error, token_var)),
        _ if status_is_transient(status) => ErrorMeaning::Transient {
            why: format!("HTTP {}, {}", status.as_u16(), error.describe()),
            shrink: false,
        },
        _ => ErrorMeaning::Fatal(error.describe()),
    }
}

fn token_refused(error: &GraphError, token_var: &str) -> String {
    format!(
        "the access token was refused (invalid or expired): check {token_var} ({})",
        error.describe()
    )
}

fn permission(error: &GraphError, token_var: &str) -> String {
    format!(
        "permission denied: the token in {token_var} may not manage this phone number's block list ({})",
        error.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cloud_api::TOKEN_VAR;

    fn error(json: &str) -> GraphError {
        serde_json::from_str::<ErrorReply>(json).unwrap().error
    }

    fn with_code(code: i64) -> GraphError {
        error(&format!(
            r#"{{"error":{{"message":"(#{code}) boom","type":"OAuthException","code":{code},"fbtrace_id":"AbC"}}}}"#
        ))
    }

    fn verdict(status: u16, error: &GraphError) -> ErrorMeaning {
        classify(StatusCode::from_u16(status).unwrap(), error, TOKEN_VAR)
    }

    #[test]
    fn documented_envelope() {
        let e = error(
            r#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,
            "error_data":{"messaging_product":"whatsapp","details":"Too many"},"error_subcode":2494055,
            "is_transient":false,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#,
        );
        assert_eq!(e.code, 130429);
        assert_eq!(e.fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
        assert_eq!(e.text(), "Rate limit hit");
        assert_eq!(
            e.describe(),
            "Meta error 130429 (OAuthException, subcode 2494055): Rate limit hit"
        );
        let bare = error(
            r#"{"error":{"code":1,"message":"An unknown error occurred","error_data":"try later"}}"#,
        );
        assert_eq!(
            bare.describe(),
            "Meta error 1: An unknown error occurred (try later)"
        );
        assert!(serde_json::from_str::<ErrorReply>(r#"{"data":[]}"#).is_err());
    }

    #[test]
    fn code_table() {
        assert_eq!(verdict(400, &with_code(139100)), ErrorMeaning::Partial);
        for code in [139101, 139102, 131047, 131021] {
            let expected = MetaError {
                code,
                message: "boom".into(),
            };
            assert_eq!(
                verdict(400, &with_code(code)),
                ErrorMeaning::Refused(expected)
            );
        }
        for code in [4, 80007, 139103, 1, 2, 131000, 131016] {
            assert!(
                matches!(
                    verdict(400, &with_code(code)),
                    ErrorMeaning::Transient { shrink: false, .. }
                ),
                "{code}"
            );
        }
        assert!(matches!(
            verdict(429, &with_code(130429)),
            ErrorMeaning::Transient { shrink: true, .. }
        ));
        for (status, code) in [(401, 190), (401, 0), (401, 42), (400, 190)] {
            let ErrorMeaning::Fatal(text) = verdict(status, &with_code(code)) else {
                panic!("{status} {code}")
            };
            assert!(
                text.starts_with(
                    "the access token was refused (invalid or expired): check WHATSAPP_TOKEN"
                ),
                "{text}"
            );
        }
        for (status, code) in [(403, 10), (403, 200), (400, 299), (403, 42)] {
            let ErrorMeaning::Fatal(text) = verdict(status, &with_code(code)) else {
                panic!("{status} {code}")
            };
            assert!(
                text.starts_with("permission denied: the token in WHATSAPP_TOKEN"),
                "{text}"
            );
        }
        assert!(matches!(
            verdict(503, &with_code(100)),
            ErrorMeaning::Transient { shrink: false, .. }
        ));
        assert_eq!(
            verdict(400, &with_code(100)),
            ErrorMeaning::Fatal("Meta error 100 (OAuthException): boom".into())
        );
    }

    /// docs/platforms.md, Cloud API: the partial failure is HTTP 400 with both an error
    /// and the per-user lists; each reader takes its half of the same bytes.
    #[test]
    fn the_partial_body_is_an_error_and_a_result_at_once() {
        let body = r#"{"messaging_product":"whatsapp",
            "block_users":{"added_users":[{"input":"8613300000001","wa_id":"8613300000001"}],
                "failed_users":[{"input":"8613300000002","errors":[{"message":"Re-engagement check failed","code":131047}]}]},
            "error":{"message":"(#139100) Failed to block/unblock users","type":"OAuthException",
                "code":139100,"error_data":{"details":"Failed to block some users"},"fbtrace_id":"A1"}}"#;
        let reply: ErrorReply = serde_json::from_str(body).unwrap();
        assert_eq!(verdict(400, &reply.error), ErrorMeaning::Partial);
        let data: crate::provider::meta::BatchData = serde_json::from_str(body).unwrap();
        let sent = crate::user::phones(&["8613300000001", "8613300000002"]);
        let direction = crate::provider::meta::Direction::Block;
        let result = crate::provider::meta::batch_result(&sent, data, direction);
        assert_eq!(result.done, ["8613300000001"]);
        assert_eq!(
            (result.failed[0].user.id(), result.failed[0].code),
            ("8613300000002", 131047)
        );
    }

    #[test]
    fn is_transient_wins() {
        let e = error(r#"{"error":{"code":100,"message":"x","is_transient":true}}"#);
        assert!(matches!(verdict(400, &e), ErrorMeaning::Transient { .. }));
        // A flag turned into a string by a proxy still counts, and never
        // makes the whole error unreadable.
        let e = error(r#"{"error":{"code":100,"message":"x","is_transient":"true"}}"#);
        assert!(matches!(verdict(400, &e), ErrorMeaning::Transient { .. }));
        let e = error(r#"{"error":{"code":100,"message":"x","is_transient":false}}"#);
        assert!(matches!(verdict(400, &e), ErrorMeaning::Fatal(_)));
        // But never over a code the client must act on.
        let e = error(r#"{"error":{"code":139102,"message":"x","is_transient":true}}"#);
        assert!(matches!(verdict(400, &e), ErrorMeaning::Refused(_)));
    }
}
