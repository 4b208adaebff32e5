//! Meta's Block Users JSON, shared by every Meta-shaped backend (docs/platforms.md:
//! NxCloud, Cloud API, Meta-shaped resellers): NxCloud carries it inside its envelope's
//! `data`, the Cloud API and its resellers send it as the whole reply.
//!
//! Replies are read tolerantly: optional lists may be missing or null, unknown
//! fields are ignored, and list items come in Meta's shape or a reseller's.
//! The one exception is a list page's `data`: a page without it is malformed,
//! never an empty last page (see [`ListData`]).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::number::canonical;
use crate::provider::retry::meta_flag_is_transient;
use crate::provider::{BatchResult, UserError};
use crate::user::{self, User, Wire, phone_key};

/// Meta's own error: its code and message (without a `(#code)` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaError {
    pub code: i64,
    pub message: String,
}

/// Meta's code from a message that starts with `(#<code>)`, e.g.
/// `(#139102) Block list changed during paging`.
pub fn meta_error(message: &str) -> Option<MetaError> {
    let rest = message.trim_start().strip_prefix("(#")?;
    let (digits, rest) = rest.split_once(')')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(MetaError {
        code: digits.parse().ok()?,
        message: rest.trim().to_string(),
    })
}

/// Meta's error as NxCloud passes it through in a 9099 `message`
/// (docs/platforms.md, NxCloud), and Meta's `is_transient` flag when it came along.
/// Usually the message is `(#<code>) text`; some replies carry Meta's error
/// JSON itself instead (`{"error": {...}}` or just the inner object), and
/// only then can the flag be read.
pub fn passed_through(message: &str) -> Option<(MetaError, bool)> {
    let Ok(Value::Object(mut json)) = serde_json::from_str::<Value>(message.trim()) else {
        return meta_error(message).map(|error| (error, false));
    };
    let error = match json.remove("error") {
        Some(Value::Object(error)) => error,
        _ => json,
    };
    let text = error.get("message").and_then(Value::as_str).unwrap_or("");
    let prefixed = meta_error(text);
    let error_code = error.get("code").and_then(Value::as_i64);
    let code = error_code.or(prefixed.as_ref().map(|meta| meta.code))?;
    let message = match prefixed {
        Some(meta) if meta.code == code => meta.message,
        _ => text.trim().to_string(),
    };
    let flagged = meta_flag_is_transient(error.get("is_transient"));
    Some((MetaError { code, message }, flagged))
}

/// One item of the block and unblock request body's `block_users`:
/// `{"user": "<phone>"}` or `{"user_id": "<BSUID>"}` (see [`User::wire`]).
/// NxCloud adds its own fields around the same list.
#[derive(Serialize)]
pub(super) struct UserRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
}

pub(super) fn user_refs(users: &[User]) -> Vec<UserRef<'_>> {
    users
        .iter()
        .map(|u| match u.wire() {
            Wire::Phone(phone) => UserRef {
                user: Some(phone),
                user_id: None,
            },
            Wire::UserId(id) => UserRef {
                user: None,
                user_id: Some(id),
            },
        })
        .collect()
}

/// How many of `users` would be sent by BSUID alone.
pub(super) fn by_bsuid_only(users: &[User]) -> usize {
    users.iter().filter(|u| u.phone_digits().is_none()).count()
}

/// A refusal of the whole call that concerns every user of it: each distinct
/// user is reported failed with it. For 139101 (the block list is full) apply
/// then stops further blocks for this phone; 131047 and 131021 are read as
/// if `failed_users` had named each user (docs/platforms.md, Cloud API).
pub(super) fn refuse_all(users: &[User], error: &MetaError) -> BatchResult {
    let mut seen = HashSet::new();
    let failed = users
        .iter()
        .filter(|user| seen.insert(*user))
        .map(|user| UserError {
            user: user.clone(),
            code: error.code,
            message: error.message.clone(),
        })
        .collect();
    BatchResult {
        done: Vec::new(),
        failed,
    }
}

/// A block or unblock reply (NxCloud: its `data`).
#[derive(Debug, Deserialize)]
pub(super) struct BatchData {
    pub(super) block_users: BlockUsers,
}

#[derive(Debug, Deserialize)]
pub(super) struct BlockUsers {
    #[serde(default)]
    added_users: Option<Vec<Entry>>,
    #[serde(default)]
    removed_users: Option<Vec<Entry>>,
    #[serde(default)]
    failed_users: Option<Vec<Failed>>,
}

/// `added_users` and `removed_users` items: `input` is what was sent;
/// `wa_id` comes when the user was named by phone, `user_id` when by BSUID
/// (each may be missing, docs/platforms.md "Users without a visible phone").
#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    wa_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Failed {
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    wa_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    errors: Option<Vec<FailedError>>,
}

/// Meta's guide prints a per-user code as a string (`"131047"`) where its
/// field table says integer; both are read. A code that is missing or not a
/// number leaves the user failed with [`UNKNOWN_CODE`]: one odd entry must
/// not make the whole reply malformed.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Code {
    Number(i64),
    Text(String),
    Other(serde::de::IgnoredAny),
}

impl Code {
    fn value(code: Option<Code>) -> i64 {
        match code {
            Some(Code::Number(n)) => n,
            Some(Code::Text(text)) => text.trim().parse().unwrap_or(UNKNOWN_CODE),
            Some(Code::Other(_)) | None => UNKNOWN_CODE,
        }
    }
}

/// The code of a per-user failure the platform gave no (numeric) code for.
pub const UNKNOWN_CODE: i64 = -1;

#[derive(Debug, Deserialize)]
struct FailedError {
    #[serde(default)]
    code: Option<Code>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Debug, Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: Option<String>,
}

/// Which success list a reply carries: `added_users` for blocks,
/// `removed_users` for unblocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Block,
    Unblock,
}

/// Per-user outcomes for the users sent, in the order sent (each once).
/// The platform's `input` is matched back to what was sent; users it mentions
/// that were not sent are ignored, and a sent user it does not mention at all
/// is reported failed, so no user silently counts as done.
pub(super) fn batch_result(sent: &[User], data: BatchData, direction: Direction) -> BatchResult {
    let index = SentIndex::new(sent);
    let mut failed: HashMap<usize, UserError> = HashMap::new();
    for entry in data.block_users.failed_users.into_iter().flatten() {
        let ids = [
            entry.input.as_deref(),
            entry.wa_id.as_deref(),
            entry.user_id.as_deref(),
        ];
        let Some(at) = ids.into_iter().flatten().find_map(|id| index.find(id)) else {
            continue;
        };
        let first = entry.errors.into_iter().flatten().next();
        let (code, message) = match first {
            Some(mut error) => {
                let code = Code::value(error.code.take());
                let mut message = describe(error);
                if code == UNKNOWN_CODE && message.is_empty() {
                    message = "the platform gave no error code".to_string();
                }
                (code, message)
            }
            None => (UNKNOWN_CODE, "the platform gave no reason".to_string()),
        };
        let user = sent[at].clone();
        failed.entry(at).or_insert(UserError {
            user,
            code,
            message,
        });
    }
    let succeeded = match direction {
        Direction::Block => data.block_users.added_users,
        Direction::Unblock => data.block_users.removed_users,
    };
    let done: HashSet<usize> = succeeded
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let ids = [
                entry.input.as_deref(),
                entry.wa_id.as_deref(),
                entry.user_id.as_deref(),
            ];
            ids.into_iter().flatten().find_map(|id| index.find(id))
        })
        .collect();

    let mut result = BatchResult::default();
    for at in index.distinct {
        if let Some(error) = failed.remove(&at) {
            // Reported both ways: trust the failure, the next read shows the truth.
            result.failed.push(error);
        } else if done.contains(&at) {
            result.done.push(sent[at].clone());
        } else {
            result.failed.push(UserError {
                user: sent[at].clone(),
                code: UNKNOWN_CODE,
                message: "the platform returned no result for this user".to_string(),
            });
        }
    }
    result
}

fn describe(error: FailedError) -> String {
    let message = error.message.unwrap_or_default();
    match error.error_data.and_then(|data| data.details) {
        Some(details) if !details.is_empty() && details != message => {
            if message.is_empty() {
                details
            } else {
                format!("{message}: {details}")
            }
        }
        _ => message,
    }
}

/// Finds a sent user from the platform's spelling of it: a BSUID as sent,
/// or a phone as sent, as canonical digits, or as a known `wa_id` variant.
struct SentIndex {
    /// As sent, for replies that echo a value exactly (even one that is
    /// neither a phone nor a BSUID, as documentation examples do).
    by_sent: HashMap<String, usize>,
    by_phone: HashMap<String, usize>,
    by_user_id: HashMap<String, usize>,
    /// Indexes of the first occurrence of each distinct sent user, in order.
    distinct: Vec<usize>,
}

impl SentIndex {
    fn new(sent: &[User]) -> Self {
        let mut index = SentIndex {
            by_sent: HashMap::new(),
            by_phone: HashMap::new(),
            by_user_id: HashMap::new(),
            distinct: Vec::new(),
        };
        let mut seen = HashSet::new();
        for (at, user) in sent.iter().enumerate() {
            if !seen.insert(user) {
                continue;
            }
            index.distinct.push(at);
            index.by_sent.entry(user.id().to_string()).or_insert(at);
            if let Some(phone) = user.phone_digits() {
                index.by_phone.entry(phone_key(phone)).or_insert(at);
            }
            if let Some(id) = user.user_id() {
                index.by_user_id.entry(id.to_string()).or_insert(at);
            }
        }
        index
    }

    fn find(&self, spelled: &str) -> Option<usize> {
        let spelled = spelled.trim();
        if let Some(&at) = self.by_sent.get(spelled) {
            return Some(at);
        }
        if user::looks_like_bsuid(spelled) {
            return self.by_user_id.get(spelled).copied();
        }
        let digits = canonical(spelled).ok()?;
        self.by_phone.get(&phone_key(&digits)).copied()
    }
}

/// A list reply (NxCloud: its `data`): `data` items and `paging`.
///
/// `data` is required, even as `[]`: a reply without it (`{}`, or an error
/// body that slipped through) is malformed. Read as an empty last page, it
/// would make `import --write --force` drop every entry and drift report
/// every user missing.
#[derive(Debug, Deserialize)]
pub(super) struct ListData {
    data: Vec<ListItem>,
    #[serde(default)]
    paging: Option<Paging>,
}

/// Meta's `{messaging_product, wa_id?, user_id?, parent_user_id?}`, or a
/// reseller's `{block_users: [{input, wa_id}]}` (docs/platforms.md: accept
/// both shapes). `wa_id` is left out for a user who hides their phone
/// behind a username: an item without it is normal, not malformed. One
/// struct reads both shapes, so no item is buffered to guess its shape.
#[derive(Debug, Deserialize)]
struct ListItem {
    #[serde(default)]
    wa_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    block_users: Option<Vec<Entry>>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

/// One listed user's ids, as served: not yet checked or canonical.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Listed {
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
}

/// One page as the pager sees it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Page {
    pub users: Vec<Listed>,
    pub after: Option<String>,
    pub has_next: bool,
}

impl From<ListData> for Page {
    fn from(data: ListData) -> Page {
        let mut users = Vec::with_capacity(data.data.len());
        for item in data.data {
            match item.block_users {
                Some(block_users) => users.extend(block_users.into_iter().map(|entry| {
                    // `input` is what was sent to block them: a phone or a BSUID.
                    let (phone, id) = match entry.input {
                        Some(input) if user::looks_like_bsuid(&input) => (None, Some(input)),
                        input => (input, None),
                    };
                    Listed {
                        wa_id: entry.wa_id.or(phone),
                        user_id: entry.user_id.or(id),
                    }
                })),
                None => users.push(Listed {
                    wa_id: item.wa_id,
                    user_id: item.user_id,
                }),
            }
        }
        let paging = data.paging;
        let has_next = paging
            .as_ref()
            .and_then(|p| p.next.as_deref())
            .is_some_and(|next| !next.is_empty());
        let after = paging.and_then(|p| p.cursors).and_then(|c| c.after);
        Page {
            users,
            after,
            has_next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_code_extraction() {
        let parsed = meta_error("(#139102) Block list changed during paging").unwrap();
        assert_eq!(parsed.code, 139102);
        assert_eq!(parsed.message, "Block list changed during paging");
        assert_eq!(meta_error("  (#4)").unwrap().code, 4);
        assert_eq!(meta_error("(#4)").unwrap().message, "");
        for bad in [
            "",
            "139102",
            "(139102) x",
            "(#) x",
            "(#12a) x",
            "(#139102 x",
            "x (#1) y",
        ] {
            assert_eq!(meta_error(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn passed_through_as_text_or_as_metas_json() {
        let meta = |code: i64, message: &str| MetaError {
            code,
            message: message.into(),
        };
        assert_eq!(
            passed_through("(#131000) Something went wrong"),
            Some((meta(131000, "Something went wrong"), false))
        );
        let json = r#"{"error":{"message":"(#100) Busy","type":"OAuthException","code":100,"is_transient":true,"fbtrace_id":"A1"}}"#;
        assert_eq!(passed_through(json), Some((meta(100, "Busy"), true)));
        let inner = r#"{"message":"Busy","code":100,"is_transient":false}"#;
        assert_eq!(passed_through(inner), Some((meta(100, "Busy"), false)));
        // The code may sit only in the message's prefix.
        let unnumbered = r#"{"message":"(#139102) Changed","is_transient":"true"}"#;
        assert_eq!(
            passed_through(unnumbered),
            Some((meta(139102, "Changed"), true))
        );
        for bad in ["", "odd", r#"{"message":"no code"}"#, "[1]"] {
            assert_eq!(passed_through(bad), None, "{bad:?}");
        }
    }
}
