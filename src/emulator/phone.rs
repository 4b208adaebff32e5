//! One business phone's block list and Meta's rules for changing and reading
//! it (providers.md §2). NxCloud wraps these endpoints, so every provider
//! route of the emulator shares this file and only translates the wire format.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::cursor::Cursor;
use crate::number::user_key;

/// At most this many users per block or unblock call (providers.md §2).
pub const MAX_USERS_PER_CALL: usize = 1000;
/// At most this many blocked users per business phone (providers.md §2).
pub const MAX_BLOCKED: usize = 64_000;
/// List page size when the client names no `limit`.
pub const DEFAULT_PAGE: usize = 100;
/// Graph's largest page; the emulated server's own page size may be smaller.
pub const MAX_PAGE: usize = 1000;

/// A refusal of a whole call, in Meta's vocabulary. NxCloud passes these
/// through as code 9099 with `(#<code>) <message>` (providers.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaError {
    pub code: i64,
    pub message: &'static str,
}

pub const TOO_MANY_USERS: MetaError = MetaError {
    code: 130429,
    message: "Too many users in one request (at most 1000)",
};
pub const LIST_FULL: MetaError = MetaError {
    code: 139101,
    message: "Blocklist limit reached",
};
pub const LIST_CHANGED: MetaError = MetaError {
    code: 139102,
    message: "Block list changed during paging; restart from the first page",
};

/// A user the call handled: `added_users` or `removed_users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub input: String,
    pub wa_id: String,
}

/// A user the call refused, with Meta's per-user error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub input: String,
    pub code: i64,
    pub message: &'static str,
    pub details: &'static str,
}

/// Which way a call moves users; every provider has both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Block,
    Unblock,
}

#[derive(Debug, Default)]
pub struct Batch {
    pub done: Vec<Done>,
    pub failed: Vec<Failed>,
    /// The list changed (and its version moved on), so the state must be saved.
    pub changed: bool,
}

impl Batch {
    /// Meta's per-user results, `{"block_users": {...}, "messaging_product"}`,
    /// as the Cloud API sends them and NxCloud wraps them in `data`
    /// (providers.md §1, §2). `failed_users` only when someone failed.
    pub fn into_json(self, op: Change) -> Value {
        let done_key = match op {
            Change::Block => "added_users",
            Change::Unblock => "removed_users",
        };
        let done: Vec<Value> = self
            .done
            .into_iter()
            .map(|d| json!({"input": d.input, "wa_id": d.wa_id}))
            .collect();
        let mut users = json!({ done_key: done });
        if !self.failed.is_empty() {
            let failed: Vec<Value> = self
                .failed
                .into_iter()
                .map(|f| {
                    json!({"input": f.input, "errors": [{
                        "code": f.code,
                        "message": f.message,
                        "error_data": {"details": f.details},
                    }]})
                })
                .collect();
            users["failed_users"] = json!(failed);
        }
        json!({"block_users": users, "messaging_product": "whatsapp"})
    }
}

pub enum PageError {
    /// Not a cursor this emulator minted for this list.
    BadCursor,
    /// A cursor from an earlier version of the list (139102).
    Stale(MetaError),
}

pub struct Page<'a> {
    pub items: &'a [String],
    /// Both `None` exactly when `items` is empty.
    pub before: Option<String>,
    pub after: Option<String>,
    /// More entries follow this page.
    pub more: bool,
}

pub struct Phone {
    /// The NxCloud application the phone is bound to (9006 otherwise). A
    /// phone only reachable through the Cloud API has none.
    pub appkey: Option<String>,
    /// Meta's id for the phone in Cloud API paths (providers.md §2); a phone
    /// without one is unknown to the Cloud API routes.
    pub phone_number_id: Option<String>,
    /// wa_ids in blocking order, which is the order listing serves.
    blocked: Vec<String>,
    /// `user_key` of every blocked entry, so a 64 000-entry list answers
    /// membership without a scan.
    blocked_keys: HashSet<String>,
    recent_contacts: Vec<String>,
    recent_keys: HashSet<String>,
    /// Moves on with every change; cursors carry it (see `cursor.rs`).
    version: u64,
}

/// The page size served: `asked` (default 100), capped at Graph's 1 000 and
/// at the emulated server's own page size.
pub fn page_size(asked: Option<usize>, server_max: Option<usize>) -> usize {
    let cap = server_max.unwrap_or(MAX_PAGE).max(1);
    asked.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE).min(cap)
}

/// What the API accepts as a user: 8 to 15 digits, no `+` or separators.
pub fn is_valid_number(s: &str) -> bool {
    (8..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// The wa_id WhatsApp reports for a dialled number. Mexican mobiles are
/// dialled `52` + 10 digits but their wa_id is `521` + the 10 digits
/// (providers.md §2); the emulator reproduces that so clients must compare
/// users by `user_key`, as the real API forces them to.
pub fn wa_id(input: &str) -> String {
    match input.strip_prefix("52") {
        Some(rest) if input.len() == 12 => format!("521{rest}"),
        _ => input.to_string(),
    }
}

fn invalid(input: &str) -> Failed {
    Failed {
        input: input.to_string(),
        code: 131009,
        message: "Parameter value is not valid",
        details: "The user must be a phone number of 8 to 15 digits",
    }
}

impl Phone {
    pub fn empty(appkey: Option<String>, version: u64) -> Phone {
        Phone {
            appkey,
            phone_number_id: None,
            blocked: Vec::new(),
            blocked_keys: HashSet::new(),
            recent_contacts: Vec::new(),
            recent_keys: HashSet::new(),
            version,
        }
    }

    /// Build from the state file. `Err` names an entry blocked twice.
    pub fn new(
        appkey: Option<String>,
        blocked: Vec<String>,
        recent_contacts: Vec<String>,
        version: u64,
    ) -> Result<Phone, String> {
        let mut blocked_keys = HashSet::with_capacity(blocked.len());
        for user in &blocked {
            if !blocked_keys.insert(user_key(user)) {
                return Err(user.clone());
            }
        }
        let recent_keys = recent_contacts.iter().map(|u| user_key(u)).collect();
        Ok(Phone {
            appkey,
            phone_number_id: None,
            blocked,
            blocked_keys,
            recent_contacts,
            recent_keys,
            version,
        })
    }

    pub fn blocked(&self) -> &[String] {
        &self.blocked
    }

    pub fn recent_contacts(&self) -> &[String] {
        &self.recent_contacts
    }

    /// Make every outstanding cursor stale, as a change made elsewhere would.
    pub fn bump_version(&mut self) {
        self.version += 1;
    }

    /// Block `users` for `business_phone`. Per-user refusals are results, not
    /// errors; only a call that would overflow the list fails as a whole,
    /// and then nothing changes.
    pub fn block(&mut self, business_phone: &str, users: &[String]) -> Result<Batch, MetaError> {
        if users.len() > MAX_USERS_PER_CALL {
            return Err(TOO_MANY_USERS);
        }
        let own_key = user_key(business_phone);
        let mut batch = Batch::default();
        let mut new_keys = HashSet::new();
        let mut new_entries = Vec::new();
        for input in users {
            if !is_valid_number(input) {
                batch.failed.push(invalid(input));
                continue;
            }
            let key = user_key(input);
            if key == own_key {
                batch.failed.push(Failed {
                    input: input.clone(),
                    code: 131021,
                    message: "Cannot block yourself",
                    details: "A business phone cannot block its own number",
                });
                continue;
            }
            // The 24-hour rule: only users who messaged recently can be blocked.
            if !self.recent_keys.contains(&key) {
                batch.failed.push(Failed {
                    input: input.clone(),
                    code: 131047,
                    message: "Re-engagement check failed",
                    details: "Failed to block due to re-engagement check failed",
                });
                continue;
            }
            let wa_id = wa_id(input);
            // Blocking a blocked user succeeds again: the call is idempotent.
            if !self.blocked_keys.contains(&key) && new_keys.insert(key) {
                new_entries.push(wa_id.clone());
            }
            batch.done.push(Done {
                input: input.clone(),
                wa_id,
            });
        }
        if self.blocked.len() + new_entries.len() > MAX_BLOCKED {
            return Err(LIST_FULL);
        }
        if !new_entries.is_empty() {
            self.blocked.extend(new_entries);
            self.blocked_keys.extend(new_keys);
            self.bump_version();
            batch.changed = true;
        }
        Ok(batch)
    }

    /// Unblock `users`. Every valid user is reported removed whether or not
    /// it was blocked, and the 24-hour rule does not apply (providers.md §2
    /// calls the sources contradictory; the emulator takes the lenient side).
    pub fn unblock(&mut self, users: &[String]) -> Result<Batch, MetaError> {
        if users.len() > MAX_USERS_PER_CALL {
            return Err(TOO_MANY_USERS);
        }
        let mut batch = Batch::default();
        let mut keys = HashSet::new();
        for input in users {
            if !is_valid_number(input) {
                batch.failed.push(invalid(input));
                continue;
            }
            keys.insert(user_key(input));
            batch.done.push(Done {
                input: input.clone(),
                wa_id: wa_id(input),
            });
        }
        let count_before = self.blocked_keys.len();
        for key in &keys {
            self.blocked_keys.remove(key);
        }
        if self.blocked_keys.len() < count_before {
            // One pass over the list per call, however many users it names:
            // keep the entries whose key is still in the set.
            let still_blocked = &self.blocked_keys;
            self.blocked
                .retain(|w| still_blocked.contains(&user_key(w)));
            self.bump_version();
            batch.changed = true;
        }
        Ok(batch)
    }

    /// One page of at most `limit` entries, after or before a cursor.
    pub fn page(
        &self,
        after: Option<&str>,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Page<'_>, PageError> {
        let len = self.blocked.len();
        let (start, end) = match (after, before) {
            (Some(c), _) => {
                let at = self.resolve(c)?;
                (at, len.min(at.saturating_add(limit)))
            }
            (None, Some(c)) => {
                let at = self.resolve(c)?;
                (at.saturating_sub(limit), at)
            }
            (None, None) => (0, len.min(limit)),
        };
        let items = &self.blocked[start..end];
        let cursor = |offset| {
            let c = Cursor {
                version: self.version,
                offset,
            };
            (!items.is_empty()).then(|| c.encode())
        };
        Ok(Page {
            items,
            before: cursor(start),
            after: cursor(end),
            more: end < len,
        })
    }

    fn resolve(&self, text: &str) -> Result<usize, PageError> {
        let cursor = Cursor::decode(text).ok_or(PageError::BadCursor)?;
        if cursor.version != self.version {
            return Err(PageError::Stale(LIST_CHANGED));
        }
        if cursor.offset > self.blocked.len() {
            return Err(PageError::BadCursor);
        }
        Ok(cursor.offset)
    }
}
