//! The emulator's state: business phones, their block lists and recent
//! contacts, and WAHA sessions, kept in one JSON file.
//!
//! ```json
//! {"phones": {"8615800001795": {"appkey": "…", "phone_number_id": "106540352242922",
//!                               "blocked": ["…"], "recent_contacts": ["…"]}},
//!  "waha": {"default": {"blocked": ["…"], "engine_can_block": true}}}
//! ```
//!
//! `blocked` holds wa_ids in the order they were blocked (the order listing
//! serves). `recent_contacts` names the users who messaged the business in
//! the last 24 hours; only they can be blocked (docs/platforms.md, Cloud API). `appkey`
//! makes a phone reachable through NxCloud, `phone_number_id` through the
//! Cloud API; either may be left out, not both. `waha` is optional: WAHA
//! sessions hold only what was blocked through them, since WAHA cannot list
//! its block list (docs/platforms.md, WAHA). The file is rewritten atomically, so a
//! crash never leaves half a file for the next run to choke on, and off the
//! request path: a change asks the [`Saver`] thread for a save and returns;
//! the thread writes the latest state once for every change made while it
//! was writing, and a stopped emulator has written its last change
//! ([`Saver::stop`]). Rewriting 2.3 MB on every change took 22–39 ms per
//! request at 64 000 users, which distorted every benchmark.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::phone::{Person, Phone, is_valid_number};
use crate::user;

/// The file as written: wire types apart from the in-memory [`Phone`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    #[serde(default)]
    phones: BTreeMap<String, PhoneFile>,
    #[serde(default)]
    waha: BTreeMap<String, SessionFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneFile {
    #[serde(default)]
    appkey: Option<String>,
    #[serde(default)]
    phone_number_id: Option<String>,
    /// Who is who: persons with a phone, a BSUID or both.
    #[serde(default)]
    users: Vec<Person>,
    #[serde(default)]
    blocked: Vec<String>,
    #[serde(default)]
    recent_contacts: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionFile {
    #[serde(default)]
    blocked: Vec<String>,
    #[serde(default = "yes")]
    engine_can_block: bool,
    #[serde(default = "yes")]
    running: bool,
    #[serde(default)]
    failing_contacts: Vec<String>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The same shape, borrowed, so saving a 64 000-entry list copies nothing.
/// Absent keys stay absent, so a file written before they existed
/// round-trips unchanged.
#[derive(Serialize)]
struct StateFileRef<'a> {
    phones: BTreeMap<&'a str, PhoneFileRef<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    waha: &'a BTreeMap<String, Session>,
}

#[derive(Serialize)]
struct PhoneFileRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    appkey: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number_id: Option<&'a str>,
    #[serde(skip_serializing_if = "<[Person]>::is_empty")]
    users: &'a [Person],
    blocked: &'a [String],
    recent_contacts: &'a [String],
}

/// One WAHA session: the contacts blocked through it (digits, in blocking
/// order), whether its engine implements blocking at all (NOWEB and GOWS
/// answer "not implemented"), whether it is running, and contacts on which
/// WAHA throws an exception (HTTP 500) every time, as a broken chat can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub blocked: Vec<String>,
    pub engine_can_block: bool,
    /// Written only when false, so older state files round-trip unchanged.
    #[serde(skip_serializing_if = "is_true")]
    pub running: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failing_contacts: Vec<String>,
}

impl Default for Session {
    fn default() -> Session {
        Session {
            blocked: Vec::new(),
            engine_can_block: true,
            running: true,
            failing_contacts: Vec::new(),
        }
    }
}

pub struct Store {
    path: PathBuf,
    phones: BTreeMap<String, Phone>,
    waha: BTreeMap<String, Session>,
    /// First version of every list in this run. Versions are not persisted;
    /// starting from the clock (microseconds, like Meta's `versionId`) means a
    /// cursor minted by an earlier run is stale, not silently accepted.
    epoch: u64,
    saves: Arc<Saves>,
}

impl Store {
    /// Read `path`; a missing file is an empty state, created on first change.
    pub fn load(path: &Path) -> anyhow::Result<Store> {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_micros() as u64);
        let file = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice::<StateFile>(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: invalid emulator state: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFile {
                phones: BTreeMap::new(),
                waha: BTreeMap::new(),
            },
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let mut phones = BTreeMap::new();
        let mut ids = HashSet::new();
        for (number, p) in file.phones {
            check_numbers(path, &number, &p)?;
            check_ids(path, &number, &p, &mut ids)?;
            let mut phone = Phone::new(p.appkey, p.users, p.blocked, p.recent_contacts, epoch)
                .map_err(|why| anyhow::anyhow!("{}: phone {number}: {why}", path.display()))?;
            phone.phone_number_id = p.phone_number_id;
            phones.insert(number, phone);
        }
        let mut waha = BTreeMap::new();
        for (name, s) in file.waha {
            check_session(path, &name, &s)?;
            let session = Session {
                blocked: s.blocked,
                engine_can_block: s.engine_can_block,
                running: s.running,
                failing_contacts: s.failing_contacts,
            };
            waha.insert(name, session);
        }
        Ok(Store {
            path: path.to_path_buf(),
            phones,
            waha,
            epoch,
            saves: Arc::default(),
        })
    }

    /// The phone registered under `number`. An unknown phone is registered
    /// with empty lists when `create_with` names its appkey (the sandbox's
    /// auto-create); the flag says it was, so the caller saves the state.
    pub fn phone(&mut self, number: &str, create_with: Option<&str>) -> Option<(&mut Phone, bool)> {
        let created = !self.phones.contains_key(number);
        if created {
            let phone = Phone::empty(Some(create_with?.to_string()), self.epoch);
            self.phones.insert(number.to_string(), phone);
        }
        self.phones.get_mut(number).map(|p| (p, created))
    }

    /// The phone the Cloud API knows as `phone_number_id`, with its number.
    /// Never created: an id says nothing about the number behind it.
    pub fn phone_by_id(&mut self, phone_number_id: &str) -> Option<(&str, &mut Phone)> {
        self.phones
            .iter_mut()
            .find(|(_, p)| p.phone_number_id.as_deref() == Some(phone_number_id))
            .map(|(number, p)| (number.as_str(), p))
    }

    /// Register an empty phone for an unknown Cloud API `phone_number_id`
    /// (`--auto-create-phones`). An id does not say which number it stands
    /// for, so the phone is registered under the id's last 15 digits (all
    /// of them when shorter), or not at all: an id that is not 8 or more
    /// digits, or whose number is taken by another phone. Returns whether
    /// it was registered.
    pub fn create_phone_for_id(&mut self, phone_number_id: &str) -> bool {
        let digits =
            phone_number_id.len() >= 8 && phone_number_id.bytes().all(|b| b.is_ascii_digit());
        if !digits {
            return false;
        }
        let number = &phone_number_id[phone_number_id.len().saturating_sub(15)..];
        if self.phones.contains_key(number) {
            return false;
        }
        let mut phone = Phone::empty(None, self.epoch);
        phone.phone_number_id = Some(phone_number_id.to_string());
        self.phones.insert(number.to_string(), phone);
        true
    }

    /// Whether the state file exists yet.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// The WAHA session `name`, created empty (able to block) when `create`
    /// says so; the flag says it was, so the caller saves the state.
    pub fn session(&mut self, name: &str, create: bool) -> Option<(&mut Session, bool)> {
        let created = !self.waha.contains_key(name);
        if created {
            if !create {
                return None;
            }
            self.waha.insert(name.to_string(), Session::default());
        }
        self.waha.get_mut(name).map(|s| (s, created))
    }

    /// The state in the file's format (also served by `GET /_emulator/state`).
    pub fn to_json(&self) -> Vec<u8> {
        let view = StateFileRef {
            phones: self
                .phones
                .iter()
                .map(|(number, p)| {
                    let phone = PhoneFileRef {
                        appkey: p.appkey.as_deref(),
                        phone_number_id: p.phone_number_id.as_deref(),
                        users: p.users(),
                        blocked: p.blocked(),
                        recent_contacts: p.recent_contacts(),
                    };
                    (number.as_str(), phone)
                })
                .collect(),
            waha: &self.waha,
        };
        let mut bytes = serde_json::to_vec_pretty(&view)
            .unwrap_or_else(|e| unreachable!("strings always serialise: {e}"));
        bytes.push(b'\n');
        bytes
    }

    /// Ask for the state to be written (atomically, by the [`Saver`]).
    /// Called with the store locked, after a change: the save that follows
    /// holds it. It never fails here; a failed write is reported by the
    /// saver and retried with the next change.
    pub async fn persist(&self) -> anyhow::Result<()> {
        self.saves.request();
        Ok(())
    }
}

/// Saves asked for and saves made, counted; the saver thread waits on it.
#[derive(Default)]
struct Saves {
    counts: Mutex<Counts>,
    changed: Condvar,
}

#[derive(Default)]
struct Counts {
    asked: u64,
    written: u64,
    stop: bool,
    /// Someone waits for the file ([`Saver::flush`]): no pause before writing.
    hurry: bool,
}

/// The least time between two writes. Serialising 64 000 users holds the
/// store for milliseconds; a burst of requests is written once per pause
/// instead of once per request.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

impl Saves {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn request(&self) {
        self.counts().asked += 1;
        self.changed.notify_all();
    }
}

/// The thread that writes the state file, one write per burst of changes.
pub struct Saver {
    saves: Arc<Saves>,
    thread: Option<JoinHandle<()>>,
}

impl Saver {
    /// Start saving `store`, which the server shares behind `lock`.
    pub fn start<S: Send + Sync + 'static>(
        shared: Arc<S>,
        lock: fn(&S) -> &tokio::sync::Mutex<Store>,
    ) -> Saver {
        let saves = shared_saves(lock(&shared));
        let thread = {
            let saves = saves.clone();
            std::thread::Builder::new()
                .name("emulator-state".into())
                .spawn(move || save_loop(&saves, lock(&shared)))
                .ok()
        };
        Saver { saves, thread }
    }

    /// Return once every change made so far is on disk (or its write failed).
    pub fn flush(&self) {
        let mut counts = self.saves.counts();
        let wanted = counts.asked;
        counts.hurry = true;
        self.saves.changed.notify_all();
        while counts.written < wanted && self.thread.is_some() {
            counts = self
                .saves
                .changed
                .wait(counts)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Write what is left and end the thread.
    pub fn stop(&mut self) {
        self.saves.counts().stop = true;
        self.saves.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn shared_saves(store: &tokio::sync::Mutex<Store>) -> Arc<Saves> {
    // Taken once at start, before any request is served.
    match store.try_lock() {
        Ok(store) => store.saves.clone(),
        Err(_) => Arc::default(),
    }
}

fn save_loop(saves: &Saves, store: &tokio::sync::Mutex<Store>) {
    let mut last_write: Option<std::time::Instant> = None;
    loop {
        {
            let mut counts = saves.counts();
            while counts.written >= counts.asked && !counts.stop {
                counts = saves
                    .changed
                    .wait(counts)
                    .unwrap_or_else(|e| e.into_inner());
            }
            if counts.written >= counts.asked {
                return;
            }
            // Let a burst of changes gather, unless someone waits.
            while let Some(left) = last_write.and_then(|at| PAUSE.checked_sub(at.elapsed())) {
                if counts.stop || counts.hurry {
                    break;
                }
                counts = saves
                    .changed
                    .wait_timeout(counts, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            counts.hurry = false;
        }
        // Handlers never hold the store across an await, so this waits
        // only for a change being made.
        let (bytes, path, asked) = {
            let store = store.blocking_lock();
            let asked = saves.counts().asked;
            (store.to_json(), store.path.clone(), asked)
        };
        if let Err(e) = write_atomically(&path, &bytes) {
            eprintln!("emulator: {e:#}");
        }
        last_write = Some(std::time::Instant::now());
        saves.counts().written = asked;
        saves.changed.notify_all();
    }
}

/// Numbers in the file must be what the API would accept, or the emulator
/// would silently never match them.
fn check_numbers(path: &Path, number: &str, phone: &PhoneFile) -> anyhow::Result<()> {
    if !is_valid_number(number) {
        bail!(
            "{}: business phone {number:?} is not 8 to 15 digits",
            path.display()
        );
    }
    let lists = [
        ("blocked", phone.blocked.as_slice()),
        ("recent_contacts", phone.recent_contacts.as_slice()),
    ];
    let is_id = |n: &str| is_valid_number(n) || user::bsuid(n).is_ok();
    for (what, list) in lists {
        if let Some(bad) = list.iter().find(|n| !is_id(n)) {
            bail!(
                "{}: phone {number}: {what} entry {bad:?} is neither 8 to 15 digits nor a BSUID",
                path.display()
            );
        }
    }
    for person in &phone.users {
        if let Some(bad) = person.phone.as_deref().filter(|p| !is_valid_number(p)) {
            bail!(
                "{}: phone {number}: users entry phone {bad:?} is not 8 to 15 digits",
                path.display()
            );
        }
        if let Some(bad) = person
            .user_id
            .as_deref()
            .filter(|id| user::bsuid(id).is_err())
        {
            bail!(
                "{}: phone {number}: users entry user_id {bad:?} is not a BSUID",
                path.display()
            );
        }
    }
    Ok(())
}

/// Every phone must be reachable by some route, and a `phone_number_id`
/// must name one phone only, or Cloud API requests would be ambiguous.
fn check_ids(
    path: &Path,
    number: &str,
    phone: &PhoneFile,
    seen: &mut HashSet<String>,
) -> anyhow::Result<()> {
    if phone.appkey.is_none() && phone.phone_number_id.is_none() {
        bail!(
            "{}: phone {number} has neither appkey (NxCloud) nor phone_number_id (Cloud API), so no route reaches it",
            path.display()
        );
    }
    if let Some(id) = &phone.phone_number_id {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            bail!(
                "{}: phone {number}: phone_number_id {id:?} is not a string of digits",
                path.display()
            );
        }
        if !seen.insert(id.clone()) {
            bail!(
                "{}: phone_number_id {id} is given to more than one phone",
                path.display()
            );
        }
    }
    Ok(())
}

/// A WAHA session blocks contacts by number, once each.
fn check_session(path: &Path, name: &str, session: &SessionFile) -> anyhow::Result<()> {
    if name.is_empty() {
        bail!("{}: a WAHA session needs a name", path.display());
    }
    let mut seen = HashSet::new();
    for contact in &session.blocked {
        if !is_valid_number(contact) {
            bail!(
                "{}: WAHA session {name:?}: blocked entry {contact:?} is not 8 to 15 digits",
                path.display()
            );
        }
        if !seen.insert(contact.as_str()) {
            bail!(
                "{}: WAHA session {name:?}: {contact} is blocked twice",
                path.display()
            );
        }
    }
    Ok(())
}

/// Write to a temporary file in the same directory, then rename over the
/// target: readers see the old file or the new one, never a torn one. No
/// fsync: this guards against the emulator dying mid-write, not power loss,
/// and benchmarks should not measure the disk.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}
