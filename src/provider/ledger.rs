//! What blocklist has blocked through a provider that cannot list its blocks.
//!
//! WAHA has no route that lists blocked contacts (docs/platforms.md, WAHA), so the
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
//! new one, never half of one. What is guaranteed: a contact WAHA may have
//! blocked is never missing from the ledger. A crash (or a stop) between
//! steps 1 and 2 leaves a pending mark, and a pending contact counts as
//! *maybe blocked*: it is live for unblock decisions, so a user no longer
//! wanted is unblocked, and plans send a wanted one its block again (both
//! calls are idempotent on WAHA). What is not: the ledger cannot see blocks
//! made outside the tool.
//!
//! One contact at a time ([`Ledger::begin`], [`Ledger::confirm`],
//! [`Ledger::abandon`]) each change is on disk when the call returns, and
//! a failed write leaves memory as the file is. A batch of contacts
//! ([`Ledger::mark`], [`Ledger::settle`], [`Ledger::sync`]) groups its
//! writes instead: marks and settlements change memory at once, and
//! [`Ledger::sync`] returns once a write holding them is on disk; one write
//! carries every change made while the previous one was under way (a group
//! commit). Step 1 still holds: a contact is sent only after a sync that
//! covers its mark. Until a sync, memory is ahead of the file, and the file
//! only ever errs toward maybe blocked: a settlement not yet written leaves
//! the mark that preceded it.
//!
//! Where it lives: the file a desired-state file names with `ledger:`, or
//! else the object `ledger.json` in the target's state (README, "State"),
//! which takes over the old default file `<file>.ledger.json` on its first
//! write. In the state a write is one whole object (a rename locally, one
//! PUT on S3), and only the apply holding the target's lock writes it.
//!
//! Users are kept by [`PhoneKey`] (a number, no string per lookup), so one
//! change costs a lookup, not a pass over the whole ledger.
//!
//! The file, sorted so that it diffs well if kept in Git:
//! `{"format_version":2,"business_phone":"…","session":"…","blocked":["…"],
//! "pending_block":["…"],"pending_unblock":["…"]}`. Version 1 is the same
//! without the two pending lists; it is read as having none, and the next
//! write makes it version 2, which older versions of blocklist refuse rather
//! than misread (they would ignore the pending lists).

use std::collections::{BTreeSet, HashMap};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::fsutil::write_atomic;
use crate::number::canonical;
use crate::state::StateObject;
use crate::user::PhoneKey;

pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Deserialize)]
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

/// The file as written, borrowing the record: a write copies no user.
#[derive(Serialize)]
struct FileRef<'a> {
    format_version: u32,
    business_phone: &'a str,
    session: &'a str,
    blocked: &'a BTreeSet<String>,
    pending_block: &'a BTreeSet<String>,
    pending_unblock: &'a BTreeSet<String>,
}

/// Which way a contact is being changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Block,
    Unblock,
}

/// One of the record's three lists: users sorted by spelling (as the file
/// lists them), each at most once by [`PhoneKey`], so the two spellings of
/// a Mexican or Brazilian `wa_id` are one user.
#[derive(Debug, Clone, Default)]
struct Users {
    sorted: BTreeSet<String>,
    by_key: HashMap<PhoneKey, String>,
}

impl Users {
    /// Add `user` unless a spelling of it is there; whether it was added.
    fn insert(&mut self, user: &str) -> bool {
        let key = PhoneKey::of(user);
        if self.by_key.contains_key(&key) {
            return false;
        }
        self.by_key.insert(key, user.to_string());
        self.sorted.insert(user.to_string());
        true
    }

    /// Remove any spelling of `user`; the spelling removed.
    fn remove(&mut self, user: &str) -> Option<String> {
        let spelled = self.by_key.remove(&PhoneKey::of(user))?;
        self.sorted.remove(&spelled);
        Some(spelled)
    }
}

#[derive(Debug, Clone, Copy)]
enum List {
    Blocked,
    PendingBlock,
    PendingUnblock,
}

/// One step of a change, to take it back if its write fails.
enum Undo {
    Added(List, String),
    Removed(List, String),
}

/// The ledger's content, and the generation of its latest change.
#[derive(Debug, Clone, Default)]
struct Record {
    blocked: Users,
    pending_block: Users,
    pending_unblock: Users,
    changes: u64,
}

impl Record {
    fn list(&mut self, list: List) -> &mut Users {
        match list {
            List::Blocked => &mut self.blocked,
            List::PendingBlock => &mut self.pending_block,
            List::PendingUnblock => &mut self.pending_unblock,
        }
    }

    fn add(&mut self, list: List, user: &str, undo: &mut Vec<Undo>) {
        if self.list(list).insert(user) {
            undo.push(Undo::Added(list, user.to_string()));
        }
    }

    fn take(&mut self, list: List, user: &str, undo: &mut Vec<Undo>) {
        if let Some(spelled) = self.list(list).remove(user) {
            undo.push(Undo::Removed(list, spelled));
        }
    }

    /// Step 1: a newer intent replaces an older one for the same user.
    fn begin(&mut self, change: Change, user: &str, undo: &mut Vec<Undo>) {
        self.take(List::PendingBlock, user, undo);
        self.take(List::PendingUnblock, user, undo);
        match change {
            Change::Block => self.add(List::PendingBlock, user, undo),
            Change::Unblock => self.add(List::PendingUnblock, user, undo),
        }
    }

    /// Step 2 after WAHA's 201.
    fn confirm(&mut self, change: Change, user: &str, undo: &mut Vec<Undo>) {
        self.take(List::PendingBlock, user, undo);
        self.take(List::PendingUnblock, user, undo);
        match change {
            Change::Block => self.add(List::Blocked, user, undo),
            Change::Unblock => self.take(List::Blocked, user, undo),
        }
    }

    /// Step 2 after a refusal: nothing changed.
    fn abandon(&mut self, user: &str, undo: &mut Vec<Undo>) {
        self.take(List::PendingBlock, user, undo);
        self.take(List::PendingUnblock, user, undo);
    }

    fn undo(&mut self, undo: Vec<Undo>) {
        for step in undo.into_iter().rev() {
            match step {
                Undo::Added(list, user) => {
                    self.list(list).remove(&user);
                }
                Undo::Removed(list, user) => {
                    self.list(list).insert(&user);
                }
            }
        }
    }
}

/// How a contact of a batch ended, for [`Ledger::settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// WAHA answered 201: the change is made.
    Confirmed,
    /// WAHA refused it, or it was never sent: nothing changed.
    Abandoned,
}

/// Where a ledger is kept.
#[derive(Debug)]
enum Place {
    /// A `ledger:` file the desired-state file names.
    File(PathBuf),
    /// The target's state (README, "State"). `legacy` is the default
    /// ledger file beside the desired-state file: while the state holds no
    /// ledger yet, it is read from there, and the first write moves it.
    State {
        object: StateObject,
        legacy: PathBuf,
    },
}

#[derive(Debug)]
pub struct Ledger {
    place: Place,
    /// A ledger was found when it was read (for the plan's notes).
    found: std::sync::atomic::AtomicBool,
    /// Read from the legacy file into a state that had no ledger: the next
    /// write moves it, and says so once.
    moving: std::sync::atomic::AtomicBool,
    business_phone: String,
    session: String,
    /// Read on first use.
    record: Mutex<Option<Record>>,
    /// Held across each write, so writes happen one at a time and in
    /// order; holds the generation of the record last written.
    written: Mutex<u64>,
    /// The same generation, readable without waiting for a write.
    on_disk: AtomicU64,
}

impl Ledger {
    pub fn new(path: PathBuf, business_phone: &str, session: &str) -> Self {
        Self::at(Place::File(path), business_phone, session)
    }

    /// A ledger kept in the target's state, taking over the one at `legacy`
    /// (the old default file) on its first write if the state has none.
    pub fn in_state(
        object: StateObject,
        legacy: PathBuf,
        business_phone: &str,
        session: &str,
    ) -> Self {
        Self::at(Place::State { object, legacy }, business_phone, session)
    }

    fn at(place: Place, business_phone: &str, session: &str) -> Self {
        Ledger {
            place,
            found: std::sync::atomic::AtomicBool::new(false),
            moving: std::sync::atomic::AtomicBool::new(false),
            business_phone: business_phone.to_string(),
            session: session.to_string(),
            record: Mutex::new(None),
            written: Mutex::new(0),
            on_disk: AtomicU64::new(0),
        }
    }

    /// The ledger file (in the state: the legacy file it may come from).
    pub fn path(&self) -> &Path {
        match &self.place {
            Place::File(path) => path,
            Place::State { legacy, .. } => legacy,
        }
    }

    /// Where the ledger is, for messages: a path or an `s3://` URL.
    pub fn shown(&self) -> String {
        match &self.place {
            Place::File(path) => path.display().to_string(),
            Place::State { object, .. } => object.shown(),
        }
    }

    /// Whether a ledger was there when it was read (false before a read).
    pub fn found(&self) -> bool {
        self.found.load(Ordering::Relaxed)
    }

    /// The users that may be blocked, sorted: those recorded as blocked, and
    /// every pending one (see the module doc). A missing file is an empty
    /// ledger (nothing blocked through the tool yet); a file that cannot be
    /// read is an error naming it, never silently empty, because an empty
    /// ledger would plan to block everyone again and unblock no one.
    pub async fn blocked(&self) -> anyhow::Result<Vec<String>> {
        let mut state = self.record.lock().await;
        let record = self.loaded(&mut state).await?;
        let mut maybe = record.blocked.clone();
        for user in record
            .pending_block
            .sorted
            .iter()
            .chain(&record.pending_unblock.sorted)
        {
            maybe.insert(user);
        }
        Ok(maybe.sorted.into_iter().collect())
    }

    /// The users with a change recorded but never confirmed, sorted.
    pub async fn pending(&self) -> anyhow::Result<Vec<String>> {
        let mut state = self.record.lock().await;
        let record = self.loaded(&mut state).await?;
        let mut pending = record.pending_block.clone();
        for user in &record.pending_unblock.sorted {
            pending.insert(user);
        }
        Ok(pending.sorted.into_iter().collect())
    }

    /// Step 1: `user` is about to be sent. A newer intent replaces an older
    /// one for the same user.
    pub async fn begin(&self, change: Change, user: &str) -> anyhow::Result<()> {
        self.update(|r, undo| r.begin(change, user, undo)).await
    }

    /// Step 2 after WAHA's 201: the change is made.
    pub async fn confirm(&self, change: Change, user: &str) -> anyhow::Result<()> {
        self.update(|r, undo| r.confirm(change, user, undo)).await
    }

    /// Step 2 after WAHA refused `user`: nothing changed.
    pub async fn abandon(&self, user: &str) -> anyhow::Result<()> {
        self.update(|r, undo| r.abandon(user, undo)).await
    }

    /// Step 1 for a batch: record `users` as about to be sent, in memory.
    /// None may be sent before a [`Ledger::sync`] of the generation returned.
    /// Also says, per user, whether it was pending already (an earlier run
    /// stopped part-way): such a mark must outlive this batch's if the user
    /// is never sent.
    pub async fn mark(&self, change: Change, users: &[&str]) -> anyhow::Result<(u64, Vec<bool>)> {
        let mut state = self.record.lock().await;
        let record = self.loaded(&mut state).await?;
        let mut undo = Vec::new();
        let mut was_pending = Vec::with_capacity(users.len());
        for user in users {
            let key = PhoneKey::of(user);
            was_pending.push(
                record.pending_block.by_key.contains_key(&key)
                    || record.pending_unblock.by_key.contains_key(&key),
            );
            record.begin(change, user, &mut undo);
        }
        if !undo.is_empty() {
            record.changes += 1;
        }
        Ok((record.changes, was_pending))
    }

    /// Step 2 for one contact of a batch, in memory; on disk with the
    /// next [`Ledger::sync`] of the generation returned.
    pub async fn settle(&self, change: Change, user: &str, how: Settled) -> anyhow::Result<u64> {
        let mut state = self.record.lock().await;
        let record = self.loaded(&mut state).await?;
        let mut undo = Vec::new();
        match how {
            Settled::Confirmed => record.confirm(change, user, &mut undo),
            Settled::Abandoned => record.abandon(user, &mut undo),
        }
        if !undo.is_empty() {
            record.changes += 1;
        }
        Ok(record.changes)
    }

    /// Whether the file holds every change up to generation `changes`.
    pub fn synced(&self, changes: u64) -> bool {
        self.on_disk.load(Ordering::Acquire) >= changes
    }

    /// Return once the file holds every change up to generation `changes`,
    /// writing it if no write has yet: one write covers every change made
    /// before it started, so callers waiting together share it.
    pub async fn sync(&self, changes: u64) -> anyhow::Result<()> {
        let mut written = self.written.lock().await;
        if *written >= changes {
            return Ok(());
        }
        let (bytes, generation) = {
            let mut state = self.record.lock().await;
            let record = self.loaded(&mut state).await?;
            (self.serialise(record)?, record.changes)
        };
        self.write(bytes).await?;
        *written = generation;
        self.on_disk.store(generation, Ordering::Release);
        Ok(())
    }

    /// The record, read from the file on first use.
    async fn loaded<'a>(&self, state: &'a mut Option<Record>) -> anyhow::Result<&'a mut Record> {
        if state.is_none() {
            *state = Some(self.read().await?);
        }
        Ok(state.get_or_insert_with(Record::default))
    }

    /// Change the record in place and write it; a failed write takes the
    /// change back, so memory and file stay in step.
    async fn update(&self, change: impl FnOnce(&mut Record, &mut Vec<Undo>)) -> anyhow::Result<()> {
        let mut written = self.written.lock().await;
        let mut state = self.record.lock().await;
        let record = self.loaded(&mut state).await?;
        let mut undo = Vec::new();
        change(record, &mut undo);
        if undo.is_empty() {
            return Ok(());
        }
        let result = match self.serialise(record) {
            Ok(bytes) => self.write(bytes).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => {
                // The whole record was written, batch changes included.
                record.changes += 1;
                *written = record.changes;
                self.on_disk.store(record.changes, Ordering::Release);
                Ok(())
            }
            Err(error) => {
                record.undo(undo);
                Err(error)
            }
        }
    }

    fn serialise(&self, record: &Record) -> anyhow::Result<Vec<u8>> {
        let file = FileRef {
            format_version: FORMAT_VERSION,
            business_phone: &self.business_phone,
            session: &self.session,
            blocked: &record.blocked.sorted,
            pending_block: &record.pending_block.sorted,
            pending_unblock: &record.pending_unblock.sorted,
        };
        let mut bytes = serde_json::to_vec_pretty(&file)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    async fn write(&self, bytes: Vec<u8>) -> anyhow::Result<()> {
        let path = match &self.place {
            Place::File(path) => path.clone(),
            Place::State { object, legacy } => {
                object
                    .put(bytes)
                    .await
                    .with_context(|| format!("cannot update the ledger {}", object.shown()))?;
                self.found.store(true, Ordering::Relaxed);
                if self.moving.swap(false, Ordering::Relaxed) {
                    crate::say!(
                        "note: the WAHA ledger {} now lives in the state, at {}; {} is no longer read and can be removed",
                        legacy.display(),
                        object.shown(),
                        legacy.display()
                    );
                }
                return Ok(());
            }
        };
        let shown = path.display().to_string();
        // Blocking file I/O: keep it off the async workers.
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
        .with_context(|| format!("cannot update the ledger {shown}"))?;
        self.found.store(true, Ordering::Relaxed);
        Ok(())
    }

    async fn read(&self) -> anyhow::Result<Record> {
        let (file, shown) = match &self.place {
            Place::File(path) => (path, path.display().to_string()),
            Place::State { object, legacy } => match object.get().await? {
                Some(bytes) => {
                    self.found.store(true, Ordering::Relaxed);
                    return self.parse(&bytes, &object.shown());
                }
                // Nothing in the state yet: the old default file, if any.
                None => (legacy, legacy.display().to_string()),
            },
        };
        let bytes = match tokio::fs::read(file).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Record::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read the ledger {shown}")),
        };
        self.found.store(true, Ordering::Relaxed);
        if matches!(self.place, Place::State { .. }) {
            self.moving.store(true, Ordering::Relaxed);
        }
        self.parse(&bytes, &shown)
    }

    fn parse(&self, bytes: &[u8], shown: &str) -> anyhow::Result<Record> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| {
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
        let users = |list: &[String]| -> anyhow::Result<Users> {
            let mut set = Users::default();
            set.by_key.reserve(list.len());
            for raw in list {
                let user = canonical(raw)
                    .map_err(|e| anyhow::anyhow!("the ledger {shown} lists {raw:?}, which {e}"))?;
                set.insert(&user);
            }
            Ok(set)
        };
        Ok(Record {
            blocked: users(&file.blocked)?,
            pending_block: users(&file.pending_block)?,
            pending_unblock: users(&file.pending_unblock)?,
            changes: 0,
        })
    }
}

#[cfg(test)]
mod tests;
