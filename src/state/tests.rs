use std::path::PathBuf;

use super::*;
use crate::apply::UserOutcome as Refused;
use crate::config::{Mode, ProviderSettings, Safety};

fn target(dir: &Path) -> Target {
    Target {
        file: dir.join("shop.yaml"),
        business_phone: "8615800001795".to_string(),
        provider: ProviderSettings::Sandbox,
        mode: Mode::Exclusive,
        blocked: Vec::new(),
        unblock: Vec::new(),
        safety: Safety::default(),
        includes: Vec::new(),
    }
}

fn deferred(user: &str) -> Refused {
    Refused {
        user: User::from(user),
        code: 131047,
        reason: "not_messaged_24h".into(),
        message: "Re-engagement message".into(),
    }
}

fn state(dir: &Path) -> TargetState {
    TargetState::open(Some(dir.to_str().unwrap()), &target(dir)).unwrap()
}

fn object(dir: &Path, name: &str) -> PathBuf {
    dir.join("sandbox-8615800001795").join(name)
}

#[tokio::test]
async fn deferrals_count_attempts_and_clear_when_blocked_or_no_longer_planned() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    assert!(s.deferrals().await.unwrap().is_empty());
    let blocks: Vec<User> = ["8613300000001", "8613300000002"]
        .iter()
        .map(|u| User::from(*u))
        .collect();
    let report = TargetReport {
        deferred: vec![deferred("8613300000001"), deferred("8613300000002")],
        ..Default::default()
    };
    s.record_apply(&blocks, &report).await.unwrap();
    s.record_apply(&blocks, &report).await.unwrap();
    let now = s.deferrals().await.unwrap();
    assert_eq!(now.len(), 2);
    assert!(now.iter().all(|d| d.attempts == 2 && d.code == 131047));
    // 1 is blocked at last; 2 is no longer planned (desired no more).
    let report = TargetReport {
        blocked: vec![User::from("8613300000001")],
        ..Default::default()
    };
    s.record_apply(&blocks[..1], &report).await.unwrap();
    assert!(s.deferrals().await.unwrap().is_empty());
    // The journal has all three applies, oldest first.
    let journal = s.journal().await.unwrap();
    assert_eq!(journal.len(), 3);
    let last = journal[2]
        .outcome_for(&User::from("8613300000001"))
        .unwrap();
    assert_eq!(last.outcome, Outcome::Blocked);
}

#[tokio::test]
async fn a_watch_block_clears_the_deferral_and_is_journalled() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let user = User::from("8613300000001");
    let report = TargetReport {
        deferred: vec![deferred("8613300000001")],
        ..Default::default()
    };
    s.record_apply(std::slice::from_ref(&user), &report)
        .await
        .unwrap();
    s.record_block(&user, Outcome::Blocked, None, "watch")
        .await
        .unwrap();
    assert!(s.deferrals().await.unwrap().is_empty());
    let journal = s.journal().await.unwrap();
    assert_eq!(journal.last().unwrap().by, "watch");
}

#[tokio::test]
async fn damaged_and_newer_state_are_errors_naming_the_object() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let file = object(dir.path(), "deferrals.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{\"format_version\": 1, \"deferr").unwrap();
    let e = format!("{:#}", s.deferrals().await.unwrap_err());
    assert!(
        e.contains(&format!("the state object {} is damaged", file.display())),
        "{e}"
    );
    std::fs::write(&file, "{\"format_version\": 9, \"deferrals\": []}").unwrap();
    let e = format!("{:#}", s.deferrals().await.unwrap_err());
    assert!(e.contains("has format_version 9"), "{e}");
    // Never silently reset: the object is as it was.
    assert!(std::fs::read_to_string(&file).unwrap().contains('9'));
}

#[tokio::test]
async fn a_held_lock_refuses_naming_the_holder_and_unlock_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let held = s.lock().await.unwrap();
    let e = format!("{:#}", s.lock().await.unwrap_err());
    let lock = object(dir.path(), "lock.json");
    assert!(
        e.contains(&format!(
            "{} is held by pid {} on ",
            lock.display(),
            std::process::id()
        )),
        "{e}"
    );
    held.release().await;
    assert!(!lock.exists());
    let held = s.lock().await.unwrap();
    let holder = s.unlock().await.unwrap().unwrap().unwrap();
    assert_eq!(holder.pid, std::process::id());
    assert!(s.unlock().await.unwrap().is_none());
    drop(held);
    // A dead holder's lock is called stale.
    let dead = Holder {
        format_version: FORMAT_VERSION,
        pid: 4_999_999,
        host: lock::hostname(),
        since: "2026-11-26T10:00:00Z".into(),
        tool_version: "0.1.0".into(),
        github_run_id: Some("777".into()),
        github_actor: None,
    };
    std::fs::write(&lock, serde_json::to_vec(&dead).unwrap()).unwrap();
    let e = format!("{:#}", s.lock().await.unwrap_err());
    assert!(
        e.contains("held by pid 4999999 on ")
            && e.contains("(GitHub Actions run 777) since 2026-11-26T10:00:00Z"),
        "{e}"
    );
    if Path::new("/proc/self").exists() {
        assert!(e.contains("the lock is stale"), "{e}");
    }
}

#[tokio::test]
async fn dropping_a_lock_removes_it_even_inside_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    drop(s.lock().await.unwrap());
    assert!(!object(dir.path(), "lock.json").exists());
}

#[tokio::test]
async fn nothing_secret_reaches_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let user = User::from("8613300000001");
    let report = TargetReport {
        deferred: vec![deferred("8613300000001")],
        ..Default::default()
    };
    let _held = s.lock().await.unwrap();
    s.record_apply(std::slice::from_ref(&user), &report)
        .await
        .unwrap();
    let mut all = String::new();
    for entry in walk(dir.path()) {
        all.push_str(&std::fs::read_to_string(entry).unwrap());
    }
    // What the state holds: users, codes, times, versions, pid and host;
    // never a credential or a server's message.
    for word in ["secret", "token", "password", "Re-engagement", "key"] {
        assert!(
            !all.to_lowercase().contains(&word.to_lowercase()),
            "{word}: {all}"
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_local_store_is_named_without_dots() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().canonicalize().unwrap();
    std::fs::create_dir(real.join("bl")).unwrap();
    let s = Store::local(&real.join("bl/../bl/./.blocklist/new/..")).unwrap();
    assert_eq!(
        s.shown("x/lock.json"),
        real.join("bl/.blocklist/x/lock.json").display().to_string()
    );
}

#[test]
fn state_urls() {
    assert!(Store::open("s3://").is_err());
    let e = Store::open("gs://bucket/x").unwrap_err().to_string();
    assert!(e.contains("neither a directory"), "{e}");
    let s = Store::open("file:///tmp/st").unwrap();
    assert_eq!(s.shown("a/lock.json"), "/tmp/st/a/lock.json");
}

/// A ledger in the state takes over the old default file on its first
/// write (leaving the file as it was), and a damaged one is an error
/// naming the state object.
#[tokio::test]
async fn a_ledger_in_the_state_takes_over_the_old_file_and_is_never_read_as_empty() {
    use crate::provider::ledger::{Change, Ledger};
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path());
    let legacy = dir.path().join("shop.ledger.json");
    let old = serde_json::json!({"format_version": 2, "business_phone": "8615800001795",
        "session": "default", "blocked": ["8613300000001"]});
    std::fs::write(&legacy, old.to_string()).unwrap();
    let ledger = Ledger::in_state(s.ledger(), legacy.clone(), "8615800001795", "default");
    assert_eq!(ledger.blocked().await.unwrap(), ["8613300000001"]);
    ledger.begin(Change::Block, "8613300000002").await.unwrap();
    ledger
        .confirm(Change::Block, "8613300000002")
        .await
        .unwrap();
    let stored = std::fs::read_to_string(object(dir.path(), "ledger.json")).unwrap();
    assert!(stored.contains("8613300000001") && stored.contains("8613300000002"));
    assert_eq!(std::fs::read_to_string(&legacy).unwrap(), old.to_string());
    // A new run reads the state, not the old file.
    std::fs::remove_file(&legacy).unwrap();
    let again = Ledger::in_state(s.ledger(), legacy.clone(), "8615800001795", "default");
    assert_eq!(again.blocked().await.unwrap().len(), 2);

    std::fs::write(object(dir.path(), "ledger.json"), "{\"format_ver").unwrap();
    let damaged = Ledger::in_state(s.ledger(), legacy, "8615800001795", "default");
    let e = format!("{:#}", damaged.blocked().await.unwrap_err());
    let shown = object(dir.path(), "ledger.json").display().to_string();
    assert!(
        e.contains(&format!("the ledger {shown} is not a blocklist ledger")),
        "{e}"
    );
}
