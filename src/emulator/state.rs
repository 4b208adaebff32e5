//! The emulator's state: business phones, their block lists and recent
//! contacts, kept in one JSON file.
//!
//! ```json
//! {"phones": {"8615800001795": {"appkey": "…", "blocked": ["…"], "recent_contacts": ["…"]}}}
//! ```
//!
//! `blocked` holds wa_ids in the order they were blocked (the order listing
//! serves). `recent_contacts` names the users who messaged the business in
//! the last 24 hours; only they can be blocked (providers.md §2). The file is
//! rewritten atomically after every change, so a crash never leaves half a
//! file for the next run to choke on.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::phone::{Phone, is_valid_number};

/// The file as written: wire types apart from the in-memory [`Phone`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    #[serde(default)]
    phones: BTreeMap<String, PhoneFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneFile {
    appkey: String,
    #[serde(default)]
    blocked: Vec<String>,
    #[serde(default)]
    recent_contacts: Vec<String>,
}

/// The same shape, borrowed, so saving a 64 000-entry list copies nothing.
#[derive(Serialize)]
struct StateFileRef<'a> {
    phones: BTreeMap<&'a str, PhoneFileRef<'a>>,
}

#[derive(Serialize)]
struct PhoneFileRef<'a> {
    appkey: &'a str,
    blocked: &'a [String],
    recent_contacts: &'a [String],
}

pub struct Store {
    path: PathBuf,
    phones: BTreeMap<String, Phone>,
    /// First version of every list in this run. Versions are not persisted;
    /// starting from the clock (microseconds, like Meta's `versionId`) means a
    /// cursor minted by an earlier run is stale, not silently accepted.
    epoch: u64,
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
            },
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let mut phones = BTreeMap::new();
        for (number, p) in file.phones {
            check_numbers(path, &number, &p)?;
            let phone = Phone::new(p.appkey, p.blocked, p.recent_contacts, epoch)
                .map_err(|dup| {
                    anyhow::anyhow!(
                        "{}: phone {number}: {dup:?} is blocked twice (as two spellings of one user)",
                        path.display()
                    )
                })?;
            phones.insert(number, phone);
        }
        Ok(Store {
            path: path.to_path_buf(),
            phones,
            epoch,
        })
    }

    /// The phone registered under `number`. An unknown phone is registered
    /// with empty lists when `create_with` names its appkey (the sandbox's
    /// auto-create); the flag says it was, so the caller saves the state.
    pub fn phone(&mut self, number: &str, create_with: Option<&str>) -> Option<(&mut Phone, bool)> {
        let created = !self.phones.contains_key(number);
        if created {
            let phone = Phone::empty(create_with?.to_string(), self.epoch);
            self.phones.insert(number.to_string(), phone);
        }
        self.phones.get_mut(number).map(|p| (p, created))
    }

    /// The state in the file's format (also served by `GET /_emulator/state`).
    pub fn to_json(&self) -> Vec<u8> {
        let view = StateFileRef {
            phones: self
                .phones
                .iter()
                .map(|(number, p)| {
                    let phone = PhoneFileRef {
                        appkey: &p.appkey,
                        blocked: p.blocked(),
                        recent_contacts: p.recent_contacts(),
                    };
                    (number.as_str(), phone)
                })
                .collect(),
        };
        let mut bytes = serde_json::to_vec_pretty(&view)
            .unwrap_or_else(|e| unreachable!("strings always serialise: {e}"));
        bytes.push(b'\n');
        bytes
    }

    /// Write the state atomically. Called with the store locked, so writes
    /// land in the order the changes were made.
    pub async fn persist(&self) -> anyhow::Result<()> {
        let bytes = self.to_json();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .context("state writer panicked")?
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
    for (what, list) in lists {
        if let Some(bad) = list.iter().find(|n| !is_valid_number(n)) {
            bail!(
                "{}: phone {number}: {what} entry {bad:?} is not 8 to 15 digits",
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
