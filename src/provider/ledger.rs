//! What blocklist has blocked through a provider that cannot list its blocks.
//!
//! WAHA has no route that lists blocked contacts (providers.md §3), so the
//! tool keeps its own record, the *ledger*: plans diff the desired file
//! against it, and apply updates it after each successful call. Every update
//! rewrites the whole file atomically (a temporary file in the same
//! directory, then a rename), so a crash leaves the old ledger or the new
//! one, never half of one, and loses at most the call in flight.
//!
//! The file, sorted so that it diffs well if kept in Git:
//! `{"format_version":1,"business_phone":"…","session":"…","blocked":["…"]}`.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::fsutil::write_atomic;
use crate::number::{canonical, user_key};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct File {
    format_version: u32,
    business_phone: String,
    session: String,
    blocked: Vec<String>,
}

#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    business_phone: String,
    session: String,
    /// Read on first use. The lock is held across each write, so concurrent
    /// calls update the file one at a time and in order.
    blocked: Mutex<Option<BTreeSet<String>>>,
}

impl Ledger {
    pub fn new(path: PathBuf, business_phone: &str, session: &str) -> Self {
        Ledger {
            path,
            business_phone: business_phone.to_string(),
            session: session.to_string(),
            blocked: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The users recorded as blocked, sorted. A missing file is an empty
    /// ledger (nothing blocked through the tool yet); a file that cannot be
    /// read is an error naming it, never silently empty, because an empty
    /// ledger would plan to block everyone again and unblock no one.
    pub async fn blocked(&self) -> anyhow::Result<Vec<String>> {
        let mut state = self.blocked.lock().await;
        let blocked = self.loaded(&mut state).await?;
        Ok(blocked.iter().cloned().collect())
    }

    /// Record `user` as blocked and write the ledger.
    pub async fn add(&self, user: &str) -> anyhow::Result<()> {
        self.update(|blocked| {
            let key = user_key(user);
            if !blocked.iter().any(|b| user_key(b) == key) {
                blocked.insert(user.to_string());
            }
        })
        .await
    }

    /// Record `user` (or a known `wa_id` variant of it) as unblocked and write the ledger.
    pub async fn remove(&self, user: &str) -> anyhow::Result<()> {
        let key = user_key(user);
        self.update(|blocked| blocked.retain(|b| user_key(b) != key))
            .await
    }

    async fn update(&self, change: impl FnOnce(&mut BTreeSet<String>)) -> anyhow::Result<()> {
        let mut state = self.blocked.lock().await;
        let blocked = self.loaded(&mut state).await?;
        change(blocked);
        let file = File {
            format_version: FORMAT_VERSION,
            business_phone: self.business_phone.clone(),
            session: self.session.clone(),
            blocked: blocked.iter().cloned().collect(),
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
            write_atomic(&path, &bytes)
        })
        .await
        .context("the ledger writer stopped")?
        .with_context(|| format!("cannot update the ledger {}", self.path.display()))
    }

    async fn loaded<'s>(
        &self,
        state: &'s mut Option<BTreeSet<String>>,
    ) -> anyhow::Result<&'s mut BTreeSet<String>> {
        if state.is_none() {
            *state = Some(self.read().await?);
        }
        state
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("ledger {} was not read", self.path.display()))
    }

    async fn read(&self) -> anyhow::Result<BTreeSet<String>> {
        let shown = self.path.display();
        let bytes = match tokio::fs::read(&self.path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(BTreeSet::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot read the ledger {shown}")),
        };
        let file: File = serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "the ledger {shown} is not a blocklist ledger ({e}); restore it from a backup or Git rather than deleting it: without it every blocked user looks unblocked"
            )
        })?;
        anyhow::ensure!(
            file.format_version == FORMAT_VERSION,
            "the ledger {shown} has format_version {}; this blocklist reads version {FORMAT_VERSION}",
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
        file.blocked
            .iter()
            .map(|raw| {
                canonical(raw)
                    .map_err(|e| anyhow::anyhow!("the ledger {shown} lists {raw:?}, which {e}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
