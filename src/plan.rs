//! The plan: desired set versus live set. A pure function, no I/O, so it can
//! be tested exhaustively and its output is the same on every run.

use md5::{Digest, Md5};

use crate::config::{Entry, Mode, Target};
use crate::date::Date;
use crate::user::{Lookup, User};

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
    /// The spelling in JSON plans (docs/json-output.md).
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
    /// The user as listed: unblock sends what the live list gave.
    pub user: User,
    pub reason: UnblockReason,
}

/// What it takes to make one target's live list match its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The effective desired set (after includes, expiry and mode), sorted
    /// by [`User::id`].
    pub desired: Vec<User>,
    /// The live list as read, one item per person, sorted by [`User::id`]
    /// (for `--format diff`).
    pub live: Vec<User>,
    /// Users to block, as the files name them, sorted by [`User::id`].
    pub block: Vec<User>,
    /// Users to unblock, as listed, sorted by [`User::id`].
    pub unblock: Vec<Unblock>,
    /// Live users that stay blocked.
    pub unchanged: usize,
    /// MD5 hex of the sorted desired ids joined by `\n` (docs/json-output.md).
    pub desired_fingerprint: String,
    /// MD5 hex of the sorted live ids joined by `\n`.
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
    pub fn resend(&mut self, unconfirmed: &[User]) {
        if unconfirmed.is_empty() {
            return;
        }
        let mut unsure = Lookup::with_capacity(unconfirmed.len());
        for user in unconfirmed {
            unsure.insert(user, ());
        }
        let mut live = Lookup::with_capacity(self.live.len());
        for user in &self.live {
            live.insert(user, ());
        }
        let mut planned = Lookup::with_capacity(self.block.len());
        for user in &self.block {
            planned.insert(user, ());
        }
        for user in &self.desired {
            if unsure.contains(user) && live.contains(user) && !planned.contains(user) {
                planned.insert(user, ());
                self.block.push(user.clone());
                self.unchanged = self.unchanged.saturating_sub(1);
            }
        }
        sort_by_id(&mut self.block);
    }
}

/// Compare what the files want with what is live.
///
/// A live user matches a desired one by either id ([`crate::user`]), so the
/// two spellings of a Mexican or Brazilian `wa_id`, or a person listed by
/// phone and BSUID while the file names one of them, never show up as a
/// block and an unblock of one person.
pub fn plan(target: &Target, live: &[User], today: Date) -> Plan {
    let is_live = |e: &&Entry| e.expires.is_none_or(|d| d >= today);
    let desired: Vec<&Entry> = target.blocked.iter().filter(is_live).collect();
    let mut wanted: Lookup<usize> = Lookup::with_capacity(desired.len());
    for (i, e) in desired.iter().enumerate() {
        wanted.insert(&e.user, i);
    }
    let mut expired = Lookup::default();
    for e in target.blocked.iter().filter(|e| !is_live(e)) {
        expired.insert(&e.user, ());
    }
    let mut listed_for_unblock = Lookup::default();
    for e in &target.unblock {
        listed_for_unblock.insert(&e.user, ());
    }

    let live = one_per_person(live);
    let mut satisfied = vec![false; desired.len()];
    let mut unblock = Vec::new();
    let mut unchanged = 0;
    for user in &live {
        let matches = wanted.matches(user);
        if matches.first().is_some() {
            for &i in matches.iter() {
                satisfied[i] = true;
            }
            unchanged += 1;
            continue;
        }
        let reason = if listed_for_unblock.contains(user) {
            Some(UnblockReason::ListedInUnblock)
        } else if target.mode == Mode::Additive {
            None
        } else if expired.contains(user) {
            Some(UnblockReason::Expired)
        } else {
            Some(UnblockReason::NotInFile)
        };
        match reason {
            Some(reason) => unblock.push(Unblock {
                user: user.clone(),
                reason,
            }),
            None => unchanged += 1,
        }
    }
    unblock.sort_unstable_by(|a, b| by_id(&a.user, &b.user).then(a.reason.cmp(&b.reason)));

    let mut block: Vec<User> = (desired.iter().zip(&satisfied))
        .filter(|(_, done)| !**done)
        .map(|(e, _)| e.user.clone())
        .collect();
    sort_by_id(&mut block);

    let mut desired_users: Vec<User> = desired.iter().map(|e| e.user.clone()).collect();
    sort_by_id(&mut desired_users);
    let mut live_sorted = live;
    sort_by_id(&mut live_sorted);

    Plan {
        desired_fingerprint: fingerprint(desired_users.iter().map(User::id)),
        live_fingerprint: fingerprint(live_sorted.iter().map(User::id)),
        live: live_sorted,
        desired: desired_users,
        block,
        unblock,
        unchanged,
    }
}

/// The live list with each person once. A listing names each blocked user
/// once, but one person can come back under two items (a phone variant, or
/// a WAHA ledger beside a phone): those are merged, keeping every id.
fn one_per_person(live: &[User]) -> Vec<User> {
    let mut seen: Lookup<usize> = Lookup::with_capacity(live.len());
    let mut out: Vec<User> = Vec::with_capacity(live.len());
    for user in live {
        match seen.get(user) {
            Some(&at) => {
                let known = &out[at];
                let merged = User::new(
                    known
                        .phone_digits()
                        .or(user.phone_digits())
                        .map(str::to_string),
                    known.user_id().or(user.user_id()).map(str::to_string),
                );
                if let Some(merged) = merged {
                    seen.insert(&merged, at);
                    out[at] = merged;
                }
            }
            None => {
                seen.insert(user, out.len());
                out.push(user.clone());
            }
        }
    }
    out
}

/// The order of every user list the tool shows: by [`User::id`].
pub fn by_id(a: &User, b: &User) -> std::cmp::Ordering {
    a.id().cmp(b.id()).then_with(|| a.cmp(b))
}

pub fn sort_by_id(users: &mut [User]) {
    users.sort_unstable_by(by_id);
}

/// MD5 hex of the (already sorted) ids joined by `\n`: one line per user,
/// its phone digits when known, else its BSUID.
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
