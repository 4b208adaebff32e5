//! The plan: desired set versus live set. A pure function, no I/O, so it can
//! be tested exhaustively and its output is the same on every run.

use std::collections::{HashMap, HashSet};

use md5::{Digest, Md5};

use crate::config::{Entry, Mode, Target};
use crate::date::Date;
use crate::number::user_key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnblockReason {
    /// Exclusive mode: live, but no entry in the files.
    NotInFile,
    /// Exclusive mode: the entry's `expires` date has passed.
    Expired,
    /// Named in `unblock:`.
    ListedInUnblock,
}

impl UnblockReason {
    /// The spelling in JSON plans (product.md §4).
    pub fn as_str(self) -> &'static str {
        match self {
            UnblockReason::NotInFile => "not_in_file",
            UnblockReason::Expired => "expired",
            UnblockReason::ListedInUnblock => "listed_in_unblock",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unblock {
    /// The live spelling (the `wa_id` the platform knows).
    pub user: String,
    pub reason: UnblockReason,
}

/// What it takes to make one target's live list match its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The effective desired set (after includes, expiry and mode), sorted.
    pub desired: Vec<String>,
    /// The live list as read, sorted and deduplicated (for `--format diff`).
    pub live: Vec<String>,
    /// Users to block, in the spelling the files use, sorted.
    pub block: Vec<String>,
    /// Users to unblock, in the live spelling, sorted by user.
    pub unblock: Vec<Unblock>,
    /// Live users that stay blocked.
    pub unchanged: usize,
    /// MD5 hex of the sorted desired numbers joined by `\n` (product.md §4).
    pub desired_fingerprint: String,
    /// MD5 hex of the sorted live numbers joined by `\n`.
    pub live_fingerprint: String,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.block.is_empty() || !self.unblock.is_empty()
    }

    /// Send again the changes the provider never confirmed (WAHA contacts
    /// left pending in the ledger by a run that stopped). Such a user is
    /// *maybe blocked*: it is in `live`, so one the files no longer want is
    /// already planned for unblocking; one they want is planned for
    /// blocking instead of counted unchanged, as it may never have been
    /// blocked. Both calls are idempotent on the platform.
    pub fn resend(&mut self, unconfirmed: &[String]) {
        if unconfirmed.is_empty() {
            return;
        }
        let unsure: HashSet<String> = unconfirmed.iter().map(|u| user_key(u)).collect();
        let live: HashSet<String> = self.live.iter().map(|u| user_key(u)).collect();
        let mut planned: HashSet<String> = self.block.iter().map(|u| user_key(u)).collect();
        for user in &self.desired {
            let key = user_key(user);
            if unsure.contains(&key) && live.contains(&key) && planned.insert(key) {
                self.block.push(user.clone());
                self.unchanged = self.unchanged.saturating_sub(1);
            }
        }
        self.block.sort_unstable();
    }
}

/// Compare what the files want with what is live.
///
/// Users are compared by [`user_key`], so the two spellings of a Mexican or
/// Brazilian `wa_id` never show up as a block and an unblock of one person.
pub fn plan(target: &Target, live: &[String], today: Date) -> Plan {
    let is_live = |e: &&Entry| e.expires.is_none_or(|d| d >= today);
    let desired: Vec<&Entry> = target.blocked.iter().filter(is_live).collect();
    let desired_keys: HashSet<String> = desired.iter().map(|e| user_key(&e.user)).collect();
    let expired_keys: HashSet<String> = target
        .blocked
        .iter()
        .filter(|e| !is_live(e))
        .map(|e| user_key(&e.user))
        .collect();
    let unblock_keys: HashSet<String> = target.unblock.iter().map(|e| user_key(&e.user)).collect();

    let mut live_by_key: HashMap<String, &str> = HashMap::with_capacity(live.len());
    for user in live {
        live_by_key.entry(user_key(user)).or_insert(user);
    }

    let mut block: Vec<String> = desired
        .iter()
        .filter(|e| !live_by_key.contains_key(&user_key(&e.user)))
        .map(|e| e.user.clone())
        .collect();
    block.sort_unstable();
    block.dedup();

    let mut unblock = Vec::new();
    let mut unchanged = 0;
    for (key, user) in &live_by_key {
        if desired_keys.contains(key) {
            unchanged += 1;
            continue;
        }
        let reason = if unblock_keys.contains(key) {
            Some(UnblockReason::ListedInUnblock)
        } else if target.mode == Mode::Additive {
            None
        } else if expired_keys.contains(key) {
            Some(UnblockReason::Expired)
        } else {
            Some(UnblockReason::NotInFile)
        };
        match reason {
            Some(reason) => unblock.push(Unblock {
                user: user.to_string(),
                reason,
            }),
            None => unchanged += 1,
        }
    }
    unblock.sort_unstable();

    let mut desired_users: Vec<String> = desired.iter().map(|e| e.user.clone()).collect();
    desired_users.sort_unstable();
    desired_users.dedup();
    let mut live_sorted: Vec<String> = live.to_vec();
    live_sorted.sort_unstable();
    live_sorted.dedup();

    Plan {
        desired_fingerprint: fingerprint(desired_users.iter().map(String::as_str)),
        live_fingerprint: fingerprint(live_sorted.iter().map(String::as_str)),
        live: live_sorted,
        desired: desired_users,
        block,
        unblock,
        unchanged,
    }
}

/// MD5 hex of the (already sorted) numbers joined by `\n`.
pub fn fingerprint<'a>(sorted: impl Iterator<Item = &'a str>) -> String {
    let mut md5 = Md5::new();
    for (i, n) in sorted.enumerate() {
        if i > 0 {
            md5.update(b"\n");
        }
        md5.update(n.as_bytes());
    }
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
