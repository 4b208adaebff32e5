//! What blocklist has blocked through a provider that cannot list its blocks.
//!
//! WAHA has no route that lists blocked contacts (providers.md §3), so the
//! tool keeps its own record, the *ledger*: plans diff the desired file
//! against it, and apply keeps it in step with every call, write-ahead:
//!
//! 1. before a contact is sent, it is recorded as *pending* (a block or an
//!    unblock), and the file is written;
//! 2. after WAHA's 201, the change is confirmed (added to or removed from
//!    `blocked`) and the pending mark cleared; after a refusal, the mark is
//!    cleared and `blocked` left as it was.
//!
//! Every write rewrites the whole file atomically (a temporary file in the
//! same directory, then a rename), so a crash leaves the old ledger or the
//! new one, never half of one; and the in-memory copy changes only once the
//! file has. What is guaranteed: a contact WAHA may have blocked is never
//! missing from the ledger. A crash (or a stop) between steps 1 and 2 leaves
//! a pending mark, and a pending contact counts as *maybe blocked*: it is
//! live for unblock decisions, so a user no longer wanted is unblocked, and
//! plans send a wanted one its block again (both calls are idempotent on
//! WAHA). What is not: the ledger cannot see blocks made outside the tool.
//!
//! The file, sorted so that it diffs well if kept in Git:
//! `{"format_version":2,"business_phone":"…","session":"…","blocked":["…"],
//! "pending_block":["…"],"pending_unblock":["…"]}`. Version 1 is the same
//! without the two pending lists; it is read as having none, and the next
//! write makes it version 2, which older versions of blocklist refuse rather
//! than misread (they would ignore the pending lists).

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::fsutil::write_atomic;
use crate::number::canonical;
use crate::user::phone_key as user_key;

pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Serialize, Deserialize)]
struct File {
    format_version: u32,
    business_phone: String,
    session: String,
    blocked: Vec<String>,
    #[serde(default)]
    pending_block: Vec<String>,
    #[serde(default)]
    pending_unblock: Vec<String>,
}

/// Which way a contact is being changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Block,
    Unblock,
}

/// The ledger's content. Users are canonical digits, each at most once per
/// set by [`user_key`], so the two spellings of a Mexican or Brazilian
/// `wa_id` are one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Record {
    blocked: BTreeSet<String>,
    pending_block: BTreeSet<String>,
    pending_unblock: BTreeSet<String>,
}

fn insert(set: &mut BTreeSet<String>, user: &str) {
    let key = user_key(user);
    if !set.iter().any(|u| user_key(u) == key) {
        set.insert(user.to_string());
    }
}

fn remove(set: &mut BTreeSet<String>, user: &str) {
    let key = user_key(user);
    set.retain(|u| user_key(u) != key);
}

#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    business_phone: String,
    session: String,
    /// Read on first use. The lock is held across each write, so concurrent
    /// calls update the file one at a time and in order.
    record: Mutex<Option<Record>>,
}

impl Ledger {
    pub fn new(path: PathBuf, business_phone: &str, session: &str) -> Self {
        Ledger {
            path,
            business_phone: business_phone.to_string(),
            session: session.to_string(),
            record: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The users that may be blocked, sorted: those recorded as blocked, and
    /// every pending one (see the module doc). A missing file is an empty
    /// ledger (nothing blocked through the tool yet); a file that cannot be
    /// read is an error naming it, never silently empty, because an empty
    /// ledger would plan to block everyone again and unblock no one.
    pub async fn blocked(&self) -> anyhow::Result<Vec<String>> {
        let record = self.current().await?;
        let mut maybe = record.blocked;
        for user in record.pending_block.iter().chain(&record.pending_unblock) {
            insert(&mut maybe, user);
        }
        Ok(maybe.into_iter().collect())
    }

    /// The users with a change recorded but never confirmed, sorted.
    pub async fn pending(&self) -> anyhow::Result<Vec<String>> {
        let record = self.current().await?;
        let mut pending = record.pending_block;
        for user in &record.pending_unblock {
            insert(&mut pending, user);
        }
        Ok(pending.into_iter().collect())
    }

    /// Step 1: `user` is about to be sent. A newer intent replaces an older
    /// one for the same user.
    pub async fn begin(&self, change: Change, user: &str) -> anyhow::Result<()> {
        self.update(|r| {
            remove(&mut r.pending_block, user);
            remove(&mut r.pending_unblock, user);
            match change {
                Change::Block => insert(&mut r.pending_block, user),
                Change::Unblock => insert(&mut r.pending_unblock, user),
            }
        })
        .await
    }

    /// Step 2 after WAHA's 201: the change is made.
    pub async fn confirm(&self, change: Change, user: &str) -> anyhow::Result<()> {
        self.update(|r| {
            remove(&mut r.pending_block, user);
            remove(&mut r.pending_unblock, user);
            match change {
                Change::Block => insert(&mut r.blocked, user),
                Change::Unblock => remove(&mut r.blocked, user),
            }
        })
        .await
    }

    /// Step 2 after WAHA refused `user`: nothing changed.
    pub async fn abandon(&self, user: &str) -> anyhow::Result<()> {
        self.update(|r| {
            remove(&mut r.pending_block, user);
            remove(&mut r.pending_unblock, user);
        })
        .await
    }

    /// A copy of the record, read from the file on first use.
    async fn current(&self) -> anyhow::Result<Record> {
        let mut state = self.record.lock().await;
        if state.is_none() {
            *state = Some(self.read().await?);
        }
        Ok(state.clone().unwrap_or_default())
    }

    /// Change a copy, write it, and only then make it the record in memory:
    /// a failed write leaves memory and file as they were, in step.
    async fn update(&self, change: impl FnOnce(&mut Record)) -> anyhow::Result<()> {
        let mut state = self.record.lock().await;
        let current = match state.as_ref() {
            Some(record) => record.clone(),
            None => {
                let record = self.read().await?;
                *state = Some(record.clone());
                record
            }
        };
        let mut next = current.clone();
        change(&mut next);
        if next == current {
            return Ok(());
        }
        self.write(&next).await?;
        *state = Some(next);
        Ok(())
    }

    async fn write(&self, record: &Record) -> anyhow::Result<()> {
        let list = |set: &BTreeSet<String>| set.iter().cloned().collect();
        let file = File {
            format_version: FORMAT_VERSION,
            business_phone: self.business_phone.clone(),
            session: self.session.clone(),
            blocked: list(&record.blocked),
            pending_block: list(&record.pending_block),
            pending_unblock: list(&record.pending_unblock),
        };
        let mut bytes = serde_json::to_vec_pretty(&file)?;
        bytes.push(b'\n');
        let path = self.path.clone();
        // Small, but still blocking file I/O: keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            // Through a symbolic link to where it leads: renaming over the
            // link itself would replace it with a file of its own.
            write_atomic(&crate::fsutil::resolved(&path), &bytes)
        })
        .await
        .context("the ledger writer stopped")?
        .with_context(|| format!("cannot update the ledger {}", self.path.display()))
    }

    async fn read(&self) -> anyhow::Result<Record> {
        let shown = self.path.display();
        let bytes = match tokio::fs::read(&self.path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Record::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read the ledger {shown}")),
        };
        let file: File = serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "the ledger {shown} is not a blocklist ledger ({e}); restore it from a backup or Git rather than deleting it: without it every blocked user looks unblocked"
            )
        })?;
        anyhow::ensure!(
            matches!(file.format_version, 1 | FORMAT_VERSION),
            "the ledger {shown} has format_version {}; this blocklist reads versions 1 and {FORMAT_VERSION}",
            file.format_version
        );
        anyhow::ensure!(
            file.business_phone == self.business_phone,
            "the ledger {shown} belongs to business phone {}, not {}; give each file its own ledger",
            file.business_phone,
            self.business_phone
        );
        if file.session != self.session {
            crate::info!(
                "{shown}: recorded through WAHA session {:?}, now used with {:?}",
                file.session,
                self.session
            );
        }
        let users = |list: &[String]| -> anyhow::Result<BTreeSet<String>> {
            let mut set = BTreeSet::new();
            for raw in list {
                let user = canonical(raw)
                    .map_err(|e| anyhow::anyhow!("the ledger {shown} lists {raw:?}, which {e}"))?;
                insert(&mut set, &user);
            }
            Ok(set)
        };
        Ok(Record {
            blocked: users(&file.blocked)?,
            pending_block: users(&file.pending_block)?,
            pending_unblock: users(&file.pending_unblock)?,
        })
    }
}

pub mod lock;
#[cfg(test)]
mod tests;
