//! The apply lock: one apply at a time per target, across processes and
//! machines sharing the state.
//!
//! The lock is the object `lock.json` in the target's folder, created only
//! if it does not exist (`O_EXCL` locally, `If-None-Match: *` on S3): that
//! is atomic, and the object says who holds it (pid, host, CI run, since
//! when), which a refusal then shows. A process killed outright (SIGKILL, a
//! lost runner) leaves its lock behind; the refusal says so when it can
//! tell, and `blocklist unlock` removes it. SIGINT and SIGTERM end an apply
//! cleanly and release it.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::store::Store;

/// Locks this process holds, so a forced exit (a second interrupt) can
/// still remove them on its way out.
static HELD: Mutex<Vec<(Store, String)>> = Mutex::new(Vec::new());

/// What the lock object says about its holder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub format_version: u32,
    pub pid: u32,
    pub host: String,
    /// RFC 3339, UTC.
    pub since: String,
    pub tool_version: String,
    /// `GITHUB_RUN_ID` (and actor) when the holder runs in GitHub Actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_actor: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on {}", self.pid, self.host)?;
        if let Some(run) = &self.github_run_id {
            write!(f, " (GitHub Actions run {run}")?;
            if let Some(actor) = &self.github_actor {
                write!(f, " by {actor}")?;
            }
            write!(f, ")")?;
        }
        write!(f, " since {} (blocklist {})", self.since, self.tool_version)
    }
}

/// A held lock. [`Lock::release`] removes it; dropping it does too.
#[derive(Debug)]
pub struct Lock {
    store: Store,
    name: String,
    released: bool,
}

impl Lock {
    pub(super) async fn acquire(store: &Store, name: &str) -> anyhow::Result<Lock> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let holder = Holder {
            format_version: super::FORMAT_VERSION,
            pid: std::process::id(),
            host: hostname(),
            since: crate::date::now_rfc3339(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            github_run_id: var("GITHUB_RUN_ID"),
            github_actor: var("GITHUB_ACTOR"),
        };
        let bytes = super::to_bytes(&holder)?;
        if !store.create_new(name, bytes).await? {
            let shown = store.shown(name);
            let who = match read(store, name).await {
                Ok(Some(h)) => {
                    let dead = h.host == hostname()
                        && h.pid != std::process::id()
                        && process_is_gone(h.pid);
                    let stale = if dead {
                        " That process is no longer running on this host, so the lock is stale (an apply was killed)."
                    } else {
                        ""
                    };
                    format!("held by {h}.{stale}")
                }
                Ok(None) => "released just now; run again.".to_string(),
                Err(e) => format!("held, by a holder it does not name ({e})."),
            };
            anyhow::bail!(
                "the target's state is locked by another apply: {shown} is {who} Two applies on one target could undo each other's work, so this target was not applied. If no apply is running on it, run `blocklist unlock` on its file."
            );
        }
        if let Ok(mut held) = HELD.lock() {
            held.push((store.clone(), name.to_string()));
        }
        Ok(Lock {
            store: store.clone(),
            name: name.to_string(),
            released: false,
        })
    }

    /// Remove the lock, saying so on stderr if it cannot.
    pub async fn release(mut self) {
        self.released = true;
        forget(&self.name);
        if let Err(e) = self.store.delete(&self.name).await {
            warn(&self.store, &self.name, &e);
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if !self.released {
            forget(&self.name);
            delete_now(&self.store, &self.name);
        }
    }
}

fn forget(name: &str) {
    if let Ok(mut held) = HELD.lock() {
        held.retain(|(_, n)| n != name);
    }
}

fn warn(store: &Store, name: &str, e: &anyhow::Error) {
    eprintln!(
        "warning: cannot remove the apply lock {} ({e:#}); run `blocklist unlock` on its file before the next apply",
        store.shown(name)
    );
}

/// Delete from synchronous code (a destructor, a forced exit): on a thread
/// of its own with a small runtime, whatever runtime the caller is in.
fn delete_now(store: &Store, name: &str) {
    let (store, name) = (store.fresh(), name.to_string());
    let done = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)?;
        runtime.block_on(store.delete(&name)).map(|_| ())
    })
    .join();
    if let Ok(Err(e)) = done {
        eprintln!(
            "warning: cannot remove the apply lock ({e:#}); run `blocklist unlock` on its file before the next apply"
        );
    }
}

/// Remove every lock this process holds, for a forced exit that skips
/// destructors. Only ever our own objects: the list holds what we created.
pub fn release_all() {
    let held: Vec<(Store, String)> = match HELD.lock() {
        Ok(mut held) => held.drain(..).collect(),
        Err(_) => return,
    };
    for (store, name) in held {
        delete_now(&store, &name);
    }
}

/// What the lock object `name` says, or `None` when there is none.
pub(super) async fn read(store: &Store, name: &str) -> anyhow::Result<Option<Holder>> {
    match store.get(name).await? {
        None => Ok(None),
        Some((bytes, _)) => super::parse(&store.shown(name), &bytes).map(Some),
    }
}

/// Remove the lock `name` whoever holds it. What it said (or why that
/// could not be read), or `None` when there was no lock.
pub(super) async fn remove(
    store: &Store,
    name: &str,
) -> anyhow::Result<Option<Result<Holder, String>>> {
    let holder = match read(store, name).await {
        Ok(None) => return Ok(None),
        Ok(Some(h)) => Ok(h),
        Err(e) => Err(format!("{e:#}")),
    };
    store.delete(name).await?;
    Ok(Some(holder))
}

/// Only where `/proc` says so; elsewhere nobody can tell, and the lock is
/// assumed alive.
fn process_is_gone(pid: u32) -> bool {
    std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The machine's name, for the lock; not secret.
pub(super) fn hostname() -> String {
    let from_file = |p: &str| std::fs::read_to_string(p).ok();
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unknown host".to_string())
}
