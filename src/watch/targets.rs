//! The files as watch uses them: each watchable target by the key its
//! webhooks carry, with a client and the users it wants blocked.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{self, Entry, ProviderSettings, Target};
use crate::date::Date;
use crate::provider::Batch;
use crate::reconcile::{Client, connect};
use crate::sandbox::Sandboxes;
use crate::state::TargetState;
use crate::user::{Lookup, User};

use super::payload::Key;

/// One watched target.
pub struct Watched {
    pub target: Target,
    pub client: Client,
    /// Index into `target.blocked` for every user it names.
    wanted: Lookup<Vec<usize>>,
    /// A WAHA target: this process's turn at its ledger.
    ledger: Option<tokio::sync::Mutex<()>>,
    /// The state store (`--state`), for a WAHA block's lock and ledger.
    state: Option<String>,
}

impl Watched {
    pub(super) fn new(target: Target, client: Client, state: Option<&str>) -> Watched {
        let mut wanted: Lookup<Vec<usize>> = Lookup::with_capacity(target.blocked.len());
        for (i, e) in target.blocked.iter().enumerate() {
            let mut at = wanted.get(&e.user).cloned().unwrap_or_default();
            at.push(i);
            wanted.insert(&e.user, at);
        }
        let ledger = match &target.provider {
            ProviderSettings::Waha { .. } => Some(tokio::sync::Mutex::new(())),
            _ => None,
        };
        Watched {
            target,
            client,
            wanted,
            ledger,
            state: state.map(str::to_string),
        }
    }

    /// Block `user` with one request through the target's client. A WAHA
    /// target's ledger is shared with `apply`, which rewrites it whole (see
    /// the README, "waha: write-only, with a ledger"): a block here takes
    /// the target's lock in the state as apply does (a held lock fails this
    /// block, and the next apply sends it), and reads the ledger afresh
    /// through a new client, so a long-running watch never writes a stale
    /// copy back over an apply's changes.
    pub async fn block(&self, user: &User) -> Batch {
        let users = [user.clone()];
        let Some(turn) = &self.ledger else {
            return self.client.block(&users).await;
        };
        let _turn = turn.lock().await;
        let state = self.state.as_deref();
        let lock = TargetState::open(state, &self.target)?.lock().await?;
        let result = match connect(&self.target, state, &mut Sandboxes::default()).await {
            Ok(client) => client.block(&users).await,
            Err(e) => Err(e.into()),
        };
        lock.release().await;
        result
    }

    /// The user as the file names them, when the file wants `sender`
    /// blocked today: listed under `blocked:`, not expired, and not named
    /// under `unblock:`. A block sends the file's spelling, as apply does.
    pub fn wanted(&self, sender: &User) -> Option<User> {
        let today = Date::today_utc();
        let live = |e: &&Entry| e.expires.is_none_or(|d| d >= today);
        let entry = self
            .wanted
            .matches(sender)
            .iter()
            .flatten()
            .map(|&i| &self.target.blocked[i])
            .find(live)?;
        if self
            .target
            .unblock
            .iter()
            .any(|u| u.user.same_person(sender))
        {
            return None;
        }
        Some(entry.user.clone())
    }
}

/// Every watched target by its webhook key.
#[derive(Default)]
pub struct Snapshot {
    by_key: HashMap<Key, Arc<Watched>>,
}

impl Snapshot {
    /// Load and validate the files, then connect every watchable target
    /// (credentials from the environment, as for apply). Any error, in a
    /// file or a credential, fails the whole load: a reload keeps the
    /// previous snapshot rather than watching half the files.
    pub async fn load(paths: &[PathBuf], state: Option<&str>) -> anyhow::Result<Snapshot> {
        let here = [PathBuf::from(".")];
        let loaded = config::load(if paths.is_empty() { &here } else { paths });
        for w in &loaded.warnings {
            crate::info!("warning: {w}");
        }
        if let Some(first) = loaded.errors.first() {
            let more = match loaded.errors.len() {
                1 => String::new(),
                n => format!(" (and {} more error(s))", n - 1),
            };
            anyhow::bail!("{}{more}", first.headline());
        }
        let mut by_key = HashMap::new();
        let mut sandboxes = Sandboxes::default();
        for target in loaded.targets {
            let file = target.file.display().to_string();
            let key = match &target.provider {
                ProviderSettings::CloudApi {
                    phone_number_id: Some(id),
                    ..
                } => Key::PhoneNumberId(id.clone()),
                ProviderSettings::CloudApi { .. } => {
                    crate::say!(
                        "{file}: not watched: a reseller endpoint names no phone_number_id to match deliveries with"
                    );
                    continue;
                }
                ProviderSettings::Waha { session, .. } => Key::Session(session.clone()),
                ProviderSettings::NxCloud { .. } | ProviderSettings::Sandbox => {
                    crate::say!(
                        "{file}: not watched: {} documents no inbound-message webhook",
                        target.provider.kind()
                    );
                    continue;
                }
            };
            if let Some(other) = by_key.get(&key) {
                let other: &Arc<Watched> = other;
                anyhow::bail!(
                    "{file} and {} both receive the deliveries of {key:?}; watch cannot tell them apart",
                    other.target.file.display()
                );
            }
            let client = connect(&target, state, &mut sandboxes)
                .await
                .map_err(|e| anyhow::anyhow!("{file}: {e:#}"))?;
            crate::info!("{file}: watching {key:?}");
            by_key.insert(key, Arc::new(Watched::new(target, client, state)));
        }
        Ok(Snapshot { by_key })
    }

    /// Targets already connected (tests give theirs a scripted client).
    #[cfg(test)]
    pub(super) fn of(watched: Vec<(Key, Watched)>) -> Snapshot {
        Snapshot {
            by_key: watched.into_iter().map(|(k, w)| (k, Arc::new(w))).collect(),
        }
    }

    pub fn find(&self, key: &Key) -> Option<&Arc<Watched>> {
        self.by_key.get(key)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}
