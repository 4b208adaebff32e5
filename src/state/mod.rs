//! The state store: what cannot be read back from any platform, kept per
//! target (README, "State").
//!
//! Where it lives: `--state URL` or `BLOCKLIST_STATE`, a directory path or a
//! `file://` URL, or `s3://BUCKET/PREFIX` for any S3-compatible store
//! (credentials and region from the usual `AWS_*` variables,
//! `AWS_ENDPOINT_URL` for stores other than AWS). Without either, the
//! directory `.blocklist/` beside each desired-state file. One crate,
//! `object_store`, does both kinds of store.
//!
//! Object layout, under the store's prefix, one folder per target (provider
//! kind and business phone digits, e.g. `nxcloud-8615800001795/`):
//!
//! - `lock.json`: the apply lock, created with a conditional create
//!   (`O_EXCL` locally, `If-None-Match: *` on S3) and deleted when the
//!   apply ends; it names its holder ([`Holder`]).
//! - `deferrals.json`: the blocks the platform refused under the 24-hour
//!   rule ([`Deferral`]s, with since, last tried, attempts and last code).
//! - `ledger.json`: the WAHA ledger of a target whose file names no
//!   `ledger:` (the ledger's own format, see `provider::ledger`).
//! - `journal/<time>-<pid>-<n>.json`: one object per entry ([`Entry`]),
//!   what an apply or a `watch` block did. One object each, since S3 cannot
//!   append; names sort by time.
//!
//! Every document has a `format_version`; one this version does not know,
//! or one that does not parse, is an error naming the object, never read as
//! empty. Every write is atomic (a whole object, or a rename locally).
//! Nothing secret is written: users, codes, times, the tool version, pid,
//! host and the CI's `GITHUB_SHA`/`GITHUB_RUN_ID`/`GITHUB_ACTOR`.
//!
//! # The API, for `apply`, `watch` and `why`
//!
//! ```text
//! let state = TargetState::open(url, &target)?;   // url: --state; None: BLOCKLIST_STATE, else .blocklist/
//! let lock = state.lock().await?;                 // apply: refuses naming the holder and since when
//! state.deferrals().await?                        // planning: blocks waiting for the user to write
//! state.record_apply(&plan.block, &report).await? // apply: deferrals updated, one journal entry
//! state.record_block(&user, Outcome::Blocked, None, "watch").await?
//!                                                 // watch, after a block: deferral cleared, journal entry
//! state.journal().await?                          // why: every entry, oldest first (Entry::outcome_for)
//! state.ledger()                                  // the WAHA ledger's object (provider::ledger)
//! state.unlock().await?                           // `blocklist unlock`: what the lock said
//! lock.release().await;                           // or drop it
//! ```
//!
//! `watch` takes no lock: it only clears deferrals and appends journal
//! entries. Journal entries are objects of their own, so nobody overwrites
//! them; how a cleared deferral and an apply's update meet is below.
//!
//! Deferrals are one document, rewritten by `record_apply` (under the apply
//! lock) and by `record_block` (from `watch`, which takes no lock). Both do
//! read-modify-write with a conditional update on the object's ETag where
//! the store has one (S3), retrying on a conflict, so neither loses the
//! other's change. A local directory has no conditional update; there the
//! last writer wins, and what it can lose heals by itself: a deferral
//! `watch` cleared and an apply wrote back is for a user now blocked, so no
//! plan shows it and the next apply drops it.

mod lock;
mod store;

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::apply::TargetReport;
use crate::config::Target;
use crate::deferral::Deferral;
use crate::user::{Lookup, User};

pub use lock::{Holder, Lock, release_all};
use store::Store;

/// The environment variable naming the state store when `--state` does not.
pub const STATE_VAR: &str = "BLOCKLIST_STATE";

/// The version of every state document this blocklist writes.
pub const FORMAT_VERSION: u32 = 1;

/// One target's state: its folder in the store.
#[derive(Debug, Clone)]
pub struct TargetState {
    store: Store,
    /// `kind-digits`, the target's folder.
    folder: String,
}

/// What happened to one user, in a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Blocked,
    Unblocked,
    Deferred,
    Failed,
}

/// One user's outcome in a journal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserOutcome {
    /// Phone digits, or the BSUID when no phone is known.
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
}

/// One journal entry: what one apply (or one `watch` block) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub format_version: u32,
    /// RFC 3339, UTC.
    pub time: String,
    /// `apply` or `watch`.
    pub by: String,
    pub tool_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_sha: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_actor: Option<String>,
    pub users: Vec<UserOutcome>,
}

impl Entry {
    fn new(by: &str, users: Vec<UserOutcome>) -> Entry {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Entry {
            format_version: FORMAT_VERSION,
            time: crate::date::now_rfc3339(),
            by: by.to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            github_sha: var("GITHUB_SHA"),
            github_run_id: var("GITHUB_RUN_ID"),
            github_actor: var("GITHUB_ACTOR"),
            users,
        }
    }

    /// This entry's outcome for `user`, if it names them.
    pub fn outcome_for(&self, user: &User) -> Option<&UserOutcome> {
        self.users
            .iter()
            .find(|u| stored_user(u).is_some_and(|s| s.same_person(user)))
    }
}

fn stored_user(u: &UserOutcome) -> Option<User> {
    User::from_id(&u.user).map(|user| user.with_user_id(u.user_id.clone()))
}

/// The deferrals document.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Deferrals {
    format_version: u32,
    deferrals: Vec<StoredDeferral>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredDeferral {
    user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    /// When the platform first refused it: RFC 3339, UTC.
    since: String,
    last_tried: String,
    attempts: u32,
    code: i64,
}

impl StoredDeferral {
    fn user(&self) -> Option<User> {
        User::from_id(&self.user).map(|u| u.with_user_id(self.user_id.clone()))
    }
}

impl TargetState {
    /// The state of `target`: in the store `url` names (`--state`), else in
    /// the one `BLOCKLIST_STATE` names, else in `.blocklist/` beside the
    /// target's file.
    pub fn open(url: Option<&str>, target: &Target) -> anyhow::Result<TargetState> {
        let env = std::env::var(STATE_VAR).ok().filter(|v| !v.is_empty());
        let store = match url.map(str::to_string).or(env) {
            Some(url) => Store::open(&url)?,
            None => Store::local(&default_dir(&target.file))?,
        };
        let digits: String = target
            .business_phone
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        Ok(TargetState {
            store,
            folder: format!("{}-{digits}", target.provider.kind().name()),
        })
    }

    fn object(&self, name: &str) -> String {
        format!("{}/{name}", self.folder)
    }

    /// Where this target's state is, for messages.
    pub fn shown(&self) -> String {
        self.store.shown(&self.folder)
    }

    /// The target's WAHA ledger object (`ledger.json`), for
    /// [`crate::provider::ledger::Ledger`]; only an apply holding the lock
    /// writes it.
    pub fn ledger(&self) -> StateObject {
        StateObject {
            store: self.store.clone(),
            name: self.object("ledger.json"),
        }
    }

    /// Take the apply lock, or fail naming its holder and since when.
    pub async fn lock(&self) -> anyhow::Result<Lock> {
        Lock::acquire(&self.store, &self.object("lock.json")).await
    }

    /// Remove the apply lock whoever holds it; what it said, if it was there.
    pub async fn unlock(&self) -> anyhow::Result<Option<Result<Holder, String>>> {
        lock::remove(&self.store, &self.object("lock.json")).await
    }

    /// The deferrals remembered, in the order they were first refused.
    pub async fn deferrals(&self) -> anyhow::Result<Vec<Deferral>> {
        let (doc, _) = self.read_deferrals().await?;
        Ok(doc
            .deferrals
            .iter()
            .filter_map(|d| {
                Some(Deferral {
                    user: d.user()?,
                    since: d.since.clone(),
                    attempts: d.attempts,
                    code: d.code,
                })
            })
            .collect())
    }

    async fn read_deferrals(&self) -> anyhow::Result<(Deferrals, Option<store::Version>)> {
        let name = self.object("deferrals.json");
        let Some((bytes, version)) = self.store.get(&name).await? else {
            return Ok((
                Deferrals {
                    format_version: FORMAT_VERSION,
                    deferrals: Vec::new(),
                },
                None,
            ));
        };
        let doc: Deferrals = parse(&self.store.shown(&name), &bytes)?;
        Ok((doc, Some(version)))
    }

    /// Change the deferrals document, retrying when another writer changed
    /// it in between (where the store can tell).
    async fn update_deferrals(
        &self,
        mut change: impl FnMut(&mut Vec<StoredDeferral>),
    ) -> anyhow::Result<()> {
        let name = self.object("deferrals.json");
        for _ in 0..10 {
            let (mut doc, version) = self.read_deferrals().await?;
            let before = serde_json::to_vec(&doc.deferrals)?;
            change(&mut doc.deferrals);
            if serde_json::to_vec(&doc.deferrals)? == before {
                return Ok(());
            }
            doc.format_version = FORMAT_VERSION;
            let bytes = to_bytes(&doc)?;
            if self.store.put_if(&name, bytes, version).await? {
                return Ok(());
            }
        }
        anyhow::bail!(
            "cannot update {}: it kept changing under this run",
            self.store.shown(&name)
        )
    }

    /// After an apply: remember the users it saw deferred (first refused,
    /// last tried, attempts, code), forget those it blocked or that failed
    /// for good, and forget those no longer planned (`blocks`, the blocks
    /// the plan sent: a user outside it is blocked already or no longer
    /// desired). Then add a journal entry of what it did.
    pub async fn record_apply(&self, blocks: &[User], report: &TargetReport) -> anyhow::Result<()> {
        let now = crate::date::now_rfc3339();
        let mut planned = Lookup::with_capacity(blocks.len());
        for u in blocks {
            planned.insert(u, ());
        }
        let mut settled = Lookup::with_capacity(report.blocked.len() + report.failed.len());
        for u in report
            .blocked
            .iter()
            .chain(report.failed.iter().map(|f| &f.user))
        {
            settled.insert(u, ());
        }
        self.update_deferrals(|list| {
            list.retain(|d| {
                d.user()
                    .is_some_and(|u| planned.contains(&u) && !settled.contains(&u))
            });
            for outcome in &report.deferred {
                let found = list
                    .iter_mut()
                    .find(|d| d.user().is_some_and(|u| u.same_person(&outcome.user)));
                match found {
                    Some(d) => {
                        d.attempts = d.attempts.saturating_add(1);
                        d.last_tried = now.clone();
                        d.code = outcome.code;
                    }
                    None => list.push(StoredDeferral {
                        user: outcome.user.id().to_string(),
                        user_id: outcome.user.extra_user_id().map(str::to_string),
                        since: now.clone(),
                        last_tried: now.clone(),
                        attempts: 1,
                        code: outcome.code,
                    }),
                }
            }
        })
        .await?;
        let mut users = Vec::new();
        let mut add = |user: &User, outcome: Outcome, code: Option<i64>| {
            users.push(UserOutcome {
                user: user.id().to_string(),
                user_id: user.extra_user_id().map(str::to_string),
                outcome,
                code,
            })
        };
        for u in &report.blocked {
            add(u, Outcome::Blocked, None);
        }
        for u in &report.unblocked {
            add(u, Outcome::Unblocked, None);
        }
        for o in &report.deferred {
            add(&o.user, Outcome::Deferred, Some(o.code));
        }
        for o in &report.failed {
            add(&o.user, Outcome::Failed, Some(o.code));
        }
        if users.is_empty() {
            return Ok(());
        }
        self.append(Entry::new("apply", users)).await
    }

    /// What `watch` calls once it has sent `user`'s block: the deferral is
    /// cleared when the block landed, and a journal entry says what
    /// happened. `by` names the caller in the journal (`watch`).
    pub async fn record_block(
        &self,
        user: &User,
        outcome: Outcome,
        code: Option<i64>,
        by: &str,
    ) -> anyhow::Result<()> {
        if outcome == Outcome::Blocked {
            self.update_deferrals(|list| {
                list.retain(|d| !d.user().is_some_and(|u| u.same_person(user)))
            })
            .await?;
        }
        let entry = UserOutcome {
            user: user.id().to_string(),
            user_id: user.extra_user_id().map(str::to_string),
            outcome,
            code,
        };
        self.append(Entry::new(by, vec![entry])).await
    }

    async fn append(&self, entry: Entry) -> anyhow::Result<()> {
        let name = self.object(&format!("journal/{}", journal_name(&entry.time)));
        self.store.create(&name, to_bytes(&entry)?).await
    }

    /// Every journal entry, oldest first.
    pub async fn journal(&self) -> anyhow::Result<Vec<Entry>> {
        let mut names = self.store.list(&self.object("journal")).await?;
        names.sort();
        let mut entries = Vec::with_capacity(names.len());
        for name in names {
            let Some((bytes, _)) = self.store.get(&name).await? else {
                continue;
            };
            let entry: Entry = parse(&self.store.shown(&name), &bytes)?;
            entries.push(entry);
        }
        Ok(entries)
    }
}

/// One object of a target's state, read and written whole.
#[derive(Debug, Clone)]
pub struct StateObject {
    store: Store,
    name: String,
}

impl StateObject {
    /// Where it is: a path, or an `s3://` URL.
    pub fn shown(&self) -> String {
        self.store.shown(&self.name)
    }

    /// Its bytes, or `None` when there is none yet.
    pub async fn get(&self) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.store.get(&self.name).await?.map(|(bytes, _)| bytes))
    }

    /// Replace it whole, atomically.
    pub async fn put(&self, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.store.put(&self.name, bytes).await
    }
}

/// `.blocklist/` beside `file`.
pub fn default_dir(file: &Path) -> std::path::PathBuf {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.join(".blocklist")
}

/// A journal object's name: sorts by time, unique within and across runs.
fn journal_name(time: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}.{nanos:09}-{}-{n}.json",
        time.trim_end_matches('Z').replace(':', ""),
        std::process::id()
    )
}

fn to_bytes<T: Serialize>(doc: &T) -> anyhow::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(doc)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Parse a state document, checking its `format_version` first so a newer
/// one is refused as such rather than as damaged.
fn parse<T: serde::de::DeserializeOwned>(shown: &str, bytes: &[u8]) -> anyhow::Result<T> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        anyhow::anyhow!("the state object {shown} is damaged: it is not JSON ({e}); restore it from a backup, or remove it knowing what it held is lost")
    })?;
    match value.get("format_version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => anyhow::bail!(
            "the state object {shown} has format_version {v}; this blocklist reads version {FORMAT_VERSION}: use a newer blocklist"
        ),
        None => anyhow::bail!(
            "the state object {shown} is damaged: it has no format_version; restore it from a backup, or remove it knowing what it held is lost"
        ),
    }
    serde_json::from_value(value).with_context(|| format!("the state object {shown} is damaged"))
}

#[cfg(test)]
mod tests;
