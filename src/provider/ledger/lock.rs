//! One apply at a time per WAHA ledger, across processes.
//!
//! A ledger is read once and then rewritten whole after every call, so two
//! applies on one ledger would each write back their own copy and the last
//! writer would drop the other's entries: users blocked on WAHA that no
//! ledger remembers, never unblocked afterwards. An apply therefore holds
//! `<ledger>.lock` from before it reads the ledger until it ends.
//!
//! The lock is a file created with `create_new` (`O_CREAT|O_EXCL`): that
//! is atomic on every local and network file system, and the file says who
//! holds it (pid, host, since when), which an error can then show. An
//! advisory `flock` would vanish with a killed process, but it says nothing
//! about its holder, and on network mounts it may not lock at all. The cost
//! is that a process killed outright (SIGKILL, a lost machine) leaves its
//! lock behind; the error then says so and how to remove it. SIGINT and
//! SIGTERM end an apply cleanly and release it.
//!
//! The lock sits beside the ledger's real file (symbolic links resolved),
//! so two spellings of one ledger take one lock.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// Locks this process holds, so a forced exit (a second interrupt) can
/// still remove them on its way out.
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// What the lock file says about its holder.
#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    pid: u32,
    host: String,
    /// RFC 3339, UTC.
    since: String,
    tool_version: String,
}

/// A held ledger lock; dropping it removes the lock file.
#[derive(Debug)]
pub struct LedgerLock {
    path: PathBuf,
}

impl LedgerLock {
    /// Take the lock of the ledger at `ledger`, or fail naming the holder.
    ///
    /// Once it is held, temporary files that an earlier run killed mid-write
    /// left beside the ledger are removed: nobody else can be writing them.
    pub fn acquire(ledger: &Path) -> anyhow::Result<LedgerLock> {
        let real = crate::fsutil::resolved(ledger);
        let path = lock_path(&real);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                anyhow::bail!("{}", held_message(ledger, &path))
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create the lock {}", path.display()));
            }
        };
        let lock = LedgerLock { path };
        if let Ok(mut held) = HELD.lock() {
            held.push(lock.path.clone());
        }
        let holder = Holder {
            pid: std::process::id(),
            host: hostname(),
            since: crate::date::now_rfc3339(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let mut bytes = serde_json::to_vec(&holder)?;
        bytes.push(b'\n');
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write the lock {}", lock.path.display()))?;
        crate::fsutil::remove_stale_temps(&real);
        Ok(lock)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LedgerLock {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != ErrorKind::NotFound
        {
            eprintln!(
                "warning: cannot remove the ledger lock {} ({e}); remove it by hand before the next apply",
                self.path.display()
            );
        }
        if let Ok(mut held) = HELD.lock() {
            held.retain(|p| p != &self.path);
        }
    }
}

/// Remove every lock this process holds, for a forced exit that skips
/// destructors. Only ever our own files: the list holds what we created.
pub fn release_all() {
    let Ok(mut held) = HELD.lock() else { return };
    for path in held.drain(..) {
        let _ = std::fs::remove_file(path);
    }
}

fn lock_path(real: &Path) -> PathBuf {
    let mut name = real.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    real.with_file_name(name)
}

/// Why the lock is refused: who holds it and since when, and what to do
/// if that apply is dead.
fn held_message(ledger: &Path, lock: &Path) -> String {
    let (ledger, shown) = (ledger.display(), lock.display());
    let holder = std::fs::read(lock)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Holder>(&bytes).ok());
    let who = match &holder {
        Some(h) => format!(
            "held by pid {} on {} since {} (blocklist {})",
            h.pid, h.host, h.since, h.tool_version
        ),
        None => {
            "held, by a holder it does not name (the lock file is being written, or is damaged)"
                .to_string()
        }
    };
    let dead = holder
        .as_ref()
        .filter(|h| h.host == hostname() && h.pid != std::process::id())
        .is_some_and(|h| process_is_gone(h.pid));
    let stale = if dead {
        " That process is no longer running on this host, so the lock is stale (an apply was killed)."
    } else {
        ""
    };
    format!(
        "the WAHA ledger {ledger} is locked by another apply: {shown} is {who}. Two applies on one ledger would drop each other's entries, so this target was not applied.{stale} If no apply is running on this ledger, remove {shown} and run again."
    )
}

/// Only where `/proc` says so; elsewhere nobody can tell, and the lock is
/// assumed alive.
fn process_is_gone(pid: u32) -> bool {
    Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// The machine's name, for the lock file; not secret, and only ever shown
/// to whoever can read the ledger's directory anyway.
fn hostname() -> String {
    let from_file = |p: &str| std::fs::read_to_string(p).ok();
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unknown host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_naming_the_first_and_the_lock_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("bot.ledger.json");
        let first = LedgerLock::acquire(&ledger).unwrap();
        let lock = dir
            .path()
            .canonicalize()
            .unwrap()
            .join("bot.ledger.json.lock");
        assert_eq!(first.path(), lock);
        let error = LedgerLock::acquire(&ledger).unwrap_err().to_string();
        let pid = std::process::id();
        assert!(
            error.contains(&format!(
                "is locked by another apply: {} is held by pid {pid} on ",
                lock.display()
            )),
            "{error}"
        );
        assert!(
            error.ends_with(&format!(
                "If no apply is running on this ledger, remove {} and run again.",
                lock.display()
            )),
            "{error}"
        );
        drop(first);
        assert!(!lock.exists());
        LedgerLock::acquire(&ledger).unwrap();
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_called_stale() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("bot.ledger.json");
        let holder = Holder {
            // Above any pid_max Linux allows (2^22), so never running.
            pid: 4_999_999,
            host: hostname(),
            since: "2026-11-26T10:00:00Z".into(),
            tool_version: "0.1.0".into(),
        };
        let lock = dir.path().join("bot.ledger.json.lock");
        std::fs::write(&lock, serde_json::to_vec(&holder).unwrap()).unwrap();
        let error = LedgerLock::acquire(&ledger).unwrap_err().to_string();
        assert!(
            error.contains("held by pid 4999999 on ")
                && error.contains(" since 2026-11-26T10:00:00Z (blocklist 0.1.0)"),
            "{error}"
        );
        if Path::new("/proc/self").exists() {
            assert!(error.contains("the lock is stale"), "{error}");
        }
        // A damaged lock still refuses, and says it cannot name the holder.
        std::fs::write(&lock, "").unwrap();
        let error = LedgerLock::acquire(&ledger).unwrap_err().to_string();
        assert!(error.contains("a holder it does not name"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_ledger_takes_the_lock_of_its_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.ledger.json");
        std::fs::write(&real, "{}").unwrap();
        let link = dir.path().join("link.ledger.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let _held = LedgerLock::acquire(&real).unwrap();
        assert!(LedgerLock::acquire(&link).is_err());
    }

    #[test]
    fn taking_the_lock_removes_temporary_files_a_killed_write_left() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("bot.ledger.json");
        crate::fsutil::write_atomic(&ledger, b"{}").unwrap();
        let prefix = crate::fsutil::temp_prefix(&ledger);
        let left = dir.path().join(format!("{prefix}Ab12Cd"));
        std::fs::write(&left, "half a ledger").unwrap();
        let other = dir.path().join(".tmpXy12Zw");
        std::fs::write(&other, "not ours").unwrap();
        let _held = LedgerLock::acquire(&ledger).unwrap();
        assert!(!left.exists(), "our leftover is removed");
        assert!(other.exists(), "files that are not ours stay");
    }
}
