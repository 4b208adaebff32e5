//! One business phone's block list and Meta's rules for changing and reading
//! it (docs/platforms.md). NxCloud wraps these endpoints, so every provider
//! route of the emulator shares this file and only translates the wire format.
//!
//! Users are persons as WhatsApp knows them in 2026: a phone, a
//! business-scoped user ID (BSUID), or both, and a person who adopted a
//! username may hide their phone. The phone's `users` directory says who is
//! who; a user it does not name is known by the id it was sent with only.
//! The block list holds one *handle* per person: the BSUID when the person
//! has one, else the `wa_id`, so blocking a person by phone and unblocking
//! them by BSUID meet in one entry, as on the real platform.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::cursor::Cursor;
use crate::user::{self, BsuidError, phone_key};

/// At most this many users per block or unblock call (docs/platforms.md, Cloud API).
pub const MAX_USERS_PER_CALL: usize = 1000;
/// At most this many blocked users per business phone (docs/platforms.md, Cloud API).
pub const MAX_BLOCKED: usize = 64_000;
/// List page size when the client names no `limit`.
pub const DEFAULT_PAGE: usize = 100;
/// Graph's largest page; the emulated server's own page size may be smaller.
pub const MAX_PAGE: usize = 1000;

/// A refusal of a whole call, in Meta's vocabulary. NxCloud passes these
/// through as code 9099 with `(#<code>) <message>` (docs/platforms.md, NxCloud).
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

/// A user the call handled: `added_users` or `removed_users`. Meta gives
/// `wa_id` for a user named by phone and `user_id` for one named by BSUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub input: String,
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
}

/// One item of a request's `block_users`: `{"user": …}` (a phone) or
/// `{"user_id": …}` (a BSUID); given both, the phone wins, as Meta says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Phone(String),
    Bsuid(String),
}

impl Named {
    /// What was sent, as `input` echoes it.
    pub fn input(&self) -> &str {
        match self {
            Named::Phone(s) | Named::Bsuid(s) => s,
        }
    }
}

/// `block_users` items of a request body; `Err` names the item that is
/// neither. Shared by the NxCloud and Cloud API routes.
pub fn named_users(items: &[Value]) -> Result<Vec<Named>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match (item.get("user"), item.get("user_id")) {
            (Some(Value::String(phone)), _) => Ok(Named::Phone(phone.clone())),
            (None, Some(Value::String(id))) => Ok(Named::Bsuid(id.clone())),
            _ => Err(format!(
                "block_users[{i}] must have user (a phone number) or user_id (a BSUID) as a string"
            )),
        })
        .collect()
}

/// A person in the phone's directory (the state file's `users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Digits as dialled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// A username adopter: listings leave `wa_id` out for them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub phone_hidden: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// How per-user error codes are written in `failed_users` (docs/platforms.md:
/// Meta's guide prints them as strings, its table says integers, and some
/// replies carry none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodeStyle {
    #[default]
    Number,
    String,
    Missing,
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
    /// (docs/platforms.md). `failed_users` only when someone failed.
    pub fn into_json(self, op: Change, codes: CodeStyle) -> Value {
        let done_key = match op {
            Change::Block => "added_users",
            Change::Unblock => "removed_users",
        };
        let done: Vec<Value> = self
            .done
            .into_iter()
            .map(|d| {
                let mut item = json!({"input": d.input});
                if let Some(wa_id) = d.wa_id {
                    item["wa_id"] = json!(wa_id);
                }
                if let Some(user_id) = d.user_id {
                    item["user_id"] = json!(user_id);
                }
                item
            })
            .collect();
        let mut users = json!({ done_key: done });
        if !self.failed.is_empty() {
            let failed: Vec<Value> = self
                .failed
                .into_iter()
                .map(|f| {
                    let mut error = json!({
                        "message": f.message,
                        "error_data": {"details": f.details},
                    });
                    match codes {
                        CodeStyle::Number => error["code"] = json!(f.code),
                        CodeStyle::String => error["code"] = json!(f.code.to_string()),
                        CodeStyle::Missing => {}
                    }
                    json!({"input": f.input, "errors": [error]})
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

/// One listed person: Meta always gives `user_id` where the person has one,
/// and `wa_id` only where the phone may be shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
}

impl Listed {
    /// `{"messaging_product": "whatsapp", "wa_id"?, "user_id"?}`.
    pub fn to_json(&self) -> Value {
        let mut item = json!({"messaging_product": "whatsapp"});
        if let Some(wa_id) = &self.wa_id {
            item["wa_id"] = json!(wa_id);
        }
        if let Some(user_id) = &self.user_id {
            item["user_id"] = json!(user_id);
        }
        item
    }
}

pub struct Page {
    pub items: Vec<Listed>,
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
    /// Meta's id for the phone in Cloud API paths; a phone without one is
    /// unknown to the Cloud API routes.
    pub phone_number_id: Option<String>,
    /// Who is who: persons by phone key and by BSUID.
    users: Vec<Person>,
    by_phone: HashMap<String, usize>,
    by_user_id: HashMap<String, usize>,
    /// Handles (see the module doc) in blocking order, which is the order
    /// listing serves.
    blocked: Vec<String>,
    /// The key of every blocked handle, so a 64 000-entry list answers
    /// membership without a scan.
    blocked_keys: HashSet<String>,
    recent_contacts: Vec<String>,
    /// Keys of every id that messaged recently.
    recent_keys: HashSet<String>,
    /// Moves on with every change; cursors carry it (see `cursor.rs`).
    version: u64,
}

/// Who a request named, resolved against the directory.
struct Resolved {
    /// The block-list entry for this person.
    handle: String,
    /// Every key this person is known by (for the 24-hour rule).
    keys: Vec<String>,
    /// The person's phone, if known (for "cannot block yourself").
    phone: Option<String>,
}

/// The membership key of a handle or id: phones by their variant key,
/// BSUIDs as they are.
fn key_of(id: &str) -> String {
    if user::looks_like_bsuid(id) {
        id.to_string()
    } else {
        phone_key(id)
    }
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
/// (docs/platforms.md, Cloud API); the emulator reproduces that so clients must compare
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
        details: "The user must be a phone number of 8 to 15 digits, or a BSUID",
    }
}

/// No BSUID-specific code is documented; Meta says only that a request with
/// a parent BSUID fails, so it is refused as an invalid parameter.
fn parent(input: &str) -> Failed {
    Failed {
        input: input.to_string(),
        code: 131009,
        message: "Parameter value is not valid",
        details: "Parent BSUIDs are not supported for blocking or unblocking",
    }
}

impl Phone {
    pub fn empty(appkey: Option<String>, version: u64) -> Phone {
        Phone {
            appkey,
            phone_number_id: None,
            users: Vec::new(),
            by_phone: HashMap::new(),
            by_user_id: HashMap::new(),
            blocked: Vec::new(),
            blocked_keys: HashSet::new(),
            recent_contacts: Vec::new(),
            recent_keys: HashSet::new(),
            version,
        }
    }

    /// Build from the state file. `Err` says what is inconsistent: a person
    /// named twice, or an entry blocked twice (as two spellings of one user).
    pub fn new(
        appkey: Option<String>,
        users: Vec<Person>,
        blocked: Vec<String>,
        recent_contacts: Vec<String>,
        version: u64,
    ) -> Result<Phone, String> {
        let mut phone = Phone::empty(appkey, version);
        for person in users {
            phone.add_person(person)?;
        }
        for entry in blocked {
            // An entry written as the phone of a person with a BSUID is
            // stored under the BSUID, so both ids reach it.
            let handle = phone.handle_of(&entry);
            if !phone.blocked_keys.insert(key_of(&handle)) {
                return Err(format!(
                    "{entry:?} is blocked twice (as two spellings of one user)"
                ));
            }
            phone.blocked.push(handle);
        }
        phone.recent_keys = recent_contacts.iter().map(|u| key_of(u)).collect();
        phone.recent_contacts = recent_contacts;
        Ok(phone)
    }

    fn add_person(&mut self, person: Person) -> Result<(), String> {
        let at = self.users.len();
        if person.phone.is_none() && person.user_id.is_none() {
            return Err("a user needs a phone, a user_id or both".to_string());
        }
        if let Some(phone) = &person.phone
            && self.by_phone.insert(phone_key(phone), at).is_some()
        {
            return Err(format!("the phone {phone} is given to two users"));
        }
        if let Some(id) = &person.user_id
            && self.by_user_id.insert(id.clone(), at).is_some()
        {
            return Err(format!("the user_id {id} is given to two users"));
        }
        self.users.push(person);
        Ok(())
    }

    pub fn users(&self) -> &[Person] {
        &self.users
    }

    pub fn blocked(&self) -> &[String] {
        &self.blocked
    }

    pub fn recent_contacts(&self) -> &[String] {
        &self.recent_contacts
    }

    /// `id` (a phone or a BSUID) messaged the business just now: from now
    /// on they can be blocked (the 24-hour rule). The person the directory
    /// knows behind `id` is then recent by either id.
    pub fn wrote(&mut self, id: &str) {
        if self.recent_keys.insert(key_of(id)) {
            self.recent_contacts.push(id.to_string());
        }
    }

    /// The person the directory knows by `id` (a phone or a BSUID).
    pub fn person(&self, id: &str) -> Option<&Person> {
        let at = if user::looks_like_bsuid(id) {
            self.by_user_id.get(id)
        } else {
            self.by_phone.get(&phone_key(id))
        };
        at.map(|&at| &self.users[at])
    }

    /// Make every outstanding cursor stale, as a change made elsewhere would.
    pub fn bump_version(&mut self) {
        self.version += 1;
    }

    /// The block-list handle of an id: the person's BSUID when the
    /// directory knows one, else the id itself (a phone as its wa_id).
    fn handle_of(&self, id: &str) -> String {
        if user::looks_like_bsuid(id) {
            return id.to_string();
        }
        let person = self.by_phone.get(&phone_key(id)).map(|&at| &self.users[at]);
        match person.and_then(|p| p.user_id.clone()) {
            Some(user_id) => user_id,
            None => wa_id(id),
        }
    }

    /// Who `named` is, or Meta's per-user refusal of the value.
    fn resolve(&self, named: &Named) -> Result<Resolved, Failed> {
        match named {
            Named::Phone(input) => {
                if !is_valid_number(input) {
                    return Err(invalid(input));
                }
                let person = self
                    .by_phone
                    .get(&phone_key(input))
                    .map(|&at| &self.users[at]);
                let mut keys = vec![phone_key(input)];
                keys.extend(person.and_then(|p| p.user_id.clone()));
                Ok(Resolved {
                    handle: self.handle_of(input),
                    keys,
                    phone: Some(input.clone()),
                })
            }
            Named::Bsuid(input) => {
                match user::bsuid(input) {
                    Ok(_) => {}
                    Err(BsuidError::Parent) => return Err(parent(input)),
                    Err(BsuidError::Form) => return Err(invalid(input)),
                }
                let person = self.by_user_id.get(input).map(|&at| &self.users[at]);
                let phone = person.and_then(|p| p.phone.clone());
                let mut keys = vec![input.clone()];
                keys.extend(phone.as_deref().map(phone_key));
                Ok(Resolved {
                    handle: input.clone(),
                    keys,
                    phone,
                })
            }
        }
    }

    /// Block `users` for `business_phone`. Per-user refusals are results, not
    /// errors; only a call that would overflow the list fails as a whole,
    /// and then nothing changes.
    pub fn block(&mut self, business_phone: &str, users: &[Named]) -> Result<Batch, MetaError> {
        if users.len() > MAX_USERS_PER_CALL {
            return Err(TOO_MANY_USERS);
        }
        let own_key = phone_key(business_phone);
        let mut batch = Batch::default();
        let mut new_keys = HashSet::new();
        let mut new_entries = Vec::new();
        for named in users {
            let input = named.input().to_string();
            let who = match self.resolve(named) {
                Ok(who) => who,
                Err(failed) => {
                    batch.failed.push(failed);
                    continue;
                }
            };
            if who.phone.as_deref().map(phone_key) == Some(own_key.clone()) {
                batch.failed.push(Failed {
                    input,
                    code: 131021,
                    message: "Cannot block yourself",
                    details: "A business phone cannot block its own number",
                });
                continue;
            }
            // The 24-hour rule: only users who messaged recently can be blocked.
            if !who.keys.iter().any(|k| self.recent_keys.contains(k)) {
                batch.failed.push(Failed {
                    input,
                    code: 131047,
                    message: "Re-engagement check failed",
                    details: "Failed to block due to re-engagement check failed",
                });
                continue;
            }
            let key = key_of(&who.handle);
            // Blocking a blocked user succeeds again: the call is idempotent.
            if !self.blocked_keys.contains(&key) && new_keys.insert(key) {
                new_entries.push(who.handle);
            }
            batch.done.push(done(named));
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
    /// it was blocked, and the 24-hour rule does not apply (the sources
    /// contradict each other; the emulator takes the lenient side).
    pub fn unblock(&mut self, users: &[Named]) -> Result<Batch, MetaError> {
        if users.len() > MAX_USERS_PER_CALL {
            return Err(TOO_MANY_USERS);
        }
        let mut batch = Batch::default();
        let mut keys = HashSet::new();
        for named in users {
            match self.resolve(named) {
                Ok(who) => {
                    keys.insert(key_of(&who.handle));
                    batch.done.push(done(named));
                }
                Err(failed) => batch.failed.push(failed),
            }
        }
        let count_before = self.blocked_keys.len();
        for key in &keys {
            self.blocked_keys.remove(key);
        }
        if self.blocked_keys.len() < count_before {
            // One pass over the list per call, however many users it names:
            // keep the entries whose key is still in the set.
            let still_blocked = &self.blocked_keys;
            self.blocked.retain(|h| still_blocked.contains(&key_of(h)));
            self.bump_version();
            batch.changed = true;
        }
        Ok(batch)
    }

    /// How a handle is listed: Meta gives `user_id` always (where the
    /// directory knows one) and `wa_id` only where the phone may be shared.
    fn listed(&self, handle: &str) -> Listed {
        if !user::looks_like_bsuid(handle) {
            return Listed {
                wa_id: Some(handle.to_string()),
                user_id: None,
            };
        }
        let person = self.by_user_id.get(handle).map(|&at| &self.users[at]);
        let wa_id = person
            .filter(|p| !p.phone_hidden)
            .and_then(|p| p.phone.as_deref())
            .map(wa_id);
        Listed {
            wa_id,
            user_id: Some(handle.to_string()),
        }
    }

    /// One page of at most `limit` entries, after or before a cursor.
    pub fn page(
        &self,
        after: Option<&str>,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Page, PageError> {
        let len = self.blocked.len();
        let (start, end) = match (after, before) {
            (Some(c), _) => {
                let at = self.resolve_cursor(c)?;
                (at, len.min(at.saturating_add(limit)))
            }
            (None, Some(c)) => {
                let at = self.resolve_cursor(c)?;
                (at.saturating_sub(limit), at)
            }
            (None, None) => (0, len.min(limit)),
        };
        let items: Vec<Listed> = self.blocked[start..end]
            .iter()
            .map(|h| self.listed(h))
            .collect();
        let cursor = |offset| {
            let c = Cursor {
                version: self.version,
                offset,
            };
            (!items.is_empty()).then(|| c.encode())
        };
        Ok(Page {
            before: cursor(start),
            after: cursor(end),
            more: end < len,
            items,
        })
    }

    fn resolve_cursor(&self, text: &str) -> Result<usize, PageError> {
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

/// Meta's result item for a user it handled: `wa_id` when named by phone,
/// `user_id` when named by BSUID.
fn done(named: &Named) -> Done {
    match named {
        Named::Phone(input) => Done {
            input: input.clone(),
            wa_id: Some(wa_id(input)),
            user_id: None,
        },
        Named::Bsuid(input) => Done {
            input: input.clone(),
            wa_id: None,
            user_id: Some(input.clone()),
        },
    }
}
