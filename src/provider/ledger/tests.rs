//! The ledger on disk: created on first write, sorted, written ahead of each
//! call and settled after it, never read as empty when it is damaged, and
//! never out of step with what is in memory.

use std::sync::Arc;

use super::*;

const PHONE: &str = "8615800001795";

fn ledger(dir: &tempfile::TempDir) -> Ledger {
    Ledger::new(dir.path().join("shop.ledger.json"), PHONE, "default")
}

/// The same file as another run (say, after a crash) would read it.
fn reread(ledger: &Ledger) -> Ledger {
    Ledger::new(ledger.path().to_path_buf(), PHONE, "default")
}

fn on_disk(ledger: &Ledger) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(ledger.path()).unwrap()).unwrap()
}

/// A whole successful call: recorded ahead, then confirmed.
async fn done(ledger: &Ledger, change: Change, user: &str) {
    ledger.begin(change, user).await.unwrap();
    ledger.confirm(change, user).await.unwrap();
}

#[tokio::test]
async fn a_missing_ledger_is_empty_and_the_first_write_creates_it() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir);
    assert_eq!(ledger.blocked().await.unwrap(), Vec::<String>::new());
    assert!(!ledger.path().exists(), "reading never writes");
    done(&ledger, Change::Block, "8613300000002").await;
    done(&ledger, Change::Block, "8613300000001").await;
    done(&ledger, Change::Block, "8613300000002").await;
    let text = std::fs::read_to_string(ledger.path()).unwrap();
    assert_eq!(
        text,
        "{\n  \"format_version\": 2,\n  \"business_phone\": \"8615800001795\",\n  \"session\": \"default\",\n  \"blocked\": [\n    \"8613300000001\",\n    \"8613300000002\"\n  ],\n  \"pending_block\": [],\n  \"pending_unblock\": []\n}\n"
    );
    done(&ledger, Change::Unblock, "8613300000001").await;
    assert_eq!(
        on_disk(&ledger)["blocked"],
        serde_json::json!(["8613300000002"])
    );
    assert_eq!(reread(&ledger).blocked().await.unwrap(), ["8613300000002"]);
}

/// docs/platforms.md, WAHA: "a crash loses nothing". A crash between recording a
/// change and settling it leaves the contact pending, which counts as maybe
/// blocked, whichever way it was going.
#[tokio::test]
async fn a_change_recorded_but_never_settled_is_maybe_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir);
    ledger.begin(Change::Block, "8613300000001").await.unwrap();
    // The process dies here, before or after WAHA's 201.
    let after_crash = reread(&ledger);
    assert_eq!(after_crash.blocked().await.unwrap(), ["8613300000001"]);
    assert_eq!(after_crash.pending().await.unwrap(), ["8613300000001"]);
    assert_eq!(
        on_disk(&ledger)["pending_block"],
        serde_json::json!(["8613300000001"])
    );

    after_crash
        .confirm(Change::Block, "8613300000001")
        .await
        .unwrap();
    after_crash
        .begin(Change::Unblock, "8613300000001")
        .await
        .unwrap();
    let after_crash = reread(&ledger);
    assert_eq!(after_crash.blocked().await.unwrap(), ["8613300000001"]);
    assert_eq!(after_crash.pending().await.unwrap(), ["8613300000001"]);

    // A refusal clears the mark and changes nothing else.
    after_crash.abandon("8613300000001").await.unwrap();
    after_crash
        .begin(Change::Block, "8613300000002")
        .await
        .unwrap();
    after_crash.abandon("8613300000002").await.unwrap();
    let settled = reread(&ledger);
    assert_eq!(settled.blocked().await.unwrap(), ["8613300000001"]);
    assert!(settled.pending().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_write_leaves_memory_as_the_file_was() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir);
    done(&ledger, Change::Block, "8613300000001").await;
    // The ledger's place becomes a directory: no rename can replace it.
    std::fs::remove_file(ledger.path()).unwrap();
    std::fs::create_dir_all(ledger.path().join("in-the-way")).unwrap();
    assert!(ledger.begin(Change::Block, "8613300000002").await.is_err());
    assert!(
        ledger
            .confirm(Change::Unblock, "8613300000001")
            .await
            .is_err()
    );
    assert_eq!(ledger.blocked().await.unwrap(), ["8613300000001"]);
    assert!(ledger.pending().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_version_1_ledger_is_read_and_written_back_as_version_2() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir);
    let v1 = r#"{"format_version":1,"business_phone":"8615800001795","session":"default","blocked":["8613300000001"]}"#;
    std::fs::write(ledger.path(), v1).unwrap();
    assert_eq!(ledger.blocked().await.unwrap(), ["8613300000001"]);
    assert!(ledger.pending().await.unwrap().is_empty());
    done(&ledger, Change::Block, "8613300000002").await;
    assert_eq!(on_disk(&ledger)["format_version"], 2);
    assert_eq!(
        on_disk(&ledger)["blocked"],
        serde_json::json!(["8613300000001", "8613300000002"])
    );
}

#[tokio::test]
async fn wa_id_variants_are_one_user() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir);
    done(&ledger, Change::Block, "5215512345678").await;
    done(&ledger, Change::Block, "525512345678").await;
    assert_eq!(ledger.blocked().await.unwrap(), ["5215512345678"]);
    ledger.begin(Change::Unblock, "525512345678").await.unwrap();
    assert_eq!(ledger.blocked().await.unwrap(), ["5215512345678"]);
    ledger
        .confirm(Change::Unblock, "525512345678")
        .await
        .unwrap();
    assert!(ledger.blocked().await.unwrap().is_empty());
    assert!(ledger.pending().await.unwrap().is_empty());
}

#[tokio::test]
async fn every_update_is_on_disk_when_it_returns_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(ledger(&dir));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let ledger = ledger.clone();
        tasks.spawn(async move {
            let user = format!("86133{i:08}");
            ledger.begin(Change::Block, &user).await.unwrap();
            // Whatever the other writers do, this one's intent is saved...
            let pending = on_disk(&ledger)["pending_block"]
                .as_array()
                .unwrap()
                .clone();
            assert!(pending.iter().any(|u| u == &user), "{user} not pending");
            ledger.confirm(Change::Block, &user).await.unwrap();
            // ...and then its confirmation.
            let saved = on_disk(&ledger)["blocked"].as_array().unwrap().clone();
            assert!(saved.iter().any(|u| u == &user), "{user} missing");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(on_disk(&ledger)["blocked"].as_array().unwrap().len(), 40);
    assert_eq!(on_disk(&ledger)["pending_block"], serde_json::json!([]));
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "{files:?}");
}

#[tokio::test]
async fn a_damaged_ledger_is_an_error_naming_it_never_empty() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir);
    let path = ledger.path().display().to_string();
    for (content, expected) in [
        ("{\"format_version\":1,\"busin", "is not a blocklist ledger"),
        ("", "is not a blocklist ledger"),
        ("[]", "is not a blocklist ledger"),
        (
            r#"{"format_version":3,"business_phone":"8615800001795","session":"default","blocked":[]}"#,
            "has format_version 3; this blocklist reads versions 1 and 2",
        ),
        (
            r#"{"format_version":1,"business_phone":"8615800009999","session":"default","blocked":[]}"#,
            "belongs to business phone 8615800009999, not 8615800001795",
        ),
        (
            r#"{"format_version":1,"business_phone":"8615800001795","session":"default","blocked":["86133xx"]}"#,
            "lists \"86133xx\", which is not a phone number",
        ),
        (
            r#"{"format_version":2,"business_phone":"8615800001795","session":"default","blocked":[],"pending_block":["86133xx"]}"#,
            "lists \"86133xx\", which is not a phone number",
        ),
    ] {
        std::fs::write(ledger.path(), content).unwrap();
        let fresh = reread(&ledger);
        let error = format!("{:#}", fresh.blocked().await.unwrap_err());
        assert!(error.contains(&path), "{error}");
        assert!(error.contains(expected), "{error}");
        // Nor does a write paper over it.
        assert!(fresh.begin(Change::Block, "8613300000001").await.is_err());
        assert_eq!(std::fs::read_to_string(ledger.path()).unwrap(), content);
    }
}

#[tokio::test]
async fn a_ledger_in_a_missing_directory_is_created_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/waha/shop.ledger.json");
    let ledger = Ledger::new(path.clone(), PHONE, "s2");
    done(&ledger, Change::Block, "8613300000001").await;
    assert_eq!(on_disk(&ledger)["session"], "s2");

    // A place that cannot hold it: the error names the ledger.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let ledger = Ledger::new(blocker.join("l.json"), PHONE, "default");
    let error = format!(
        "{:#}",
        ledger
            .begin(Change::Block, "8613300000001")
            .await
            .unwrap_err()
    );
    assert!(
        error.contains("the ledger") && error.contains("l.json"),
        "{error}"
    );
}

/// A ledger kept elsewhere through a symbolic link is written where the link
/// leads: renaming over the link would turn it into a file of its own, and
/// the real ledger (and its lock) would no longer see the writes.
#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_ledger_is_written_through_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("store").join("shop.ledger.json");
    std::fs::create_dir(real.parent().unwrap()).unwrap();
    let link = dir.path().join("shop.ledger.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let ledger = ledger(&dir);
    done(&ledger, Change::Block, "8613300000001").await;
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the link is kept");
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.contains("8613300000001"), "{text}");
}

/// A batch's marks are on disk once synced, before any call; its
/// settlements reach the file with the next sync, one write for many.
#[tokio::test]
async fn a_batch_marks_ahead_in_one_write_and_settles_with_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir);
    done(&ledger, Change::Block, "8613300000009").await;
    ledger
        .begin(Change::Unblock, "8613300000003")
        .await
        .unwrap();
    let users = ["8613300000001", "8613300000002", "8613300000003"];
    let (changes, was_pending) = ledger.mark(Change::Block, &users).await.unwrap();
    assert_eq!(was_pending, [false, false, true]);
    ledger.sync(changes).await.unwrap();
    assert_eq!(
        on_disk(&ledger)["pending_block"],
        serde_json::json!(users),
        "every mark is on disk before a call"
    );
    let settled = ledger
        .settle(Change::Block, users[0], Settled::Confirmed)
        .await
        .unwrap();
    ledger
        .settle(Change::Block, users[1], Settled::Abandoned)
        .await
        .unwrap();
    // Not yet written: the file still errs toward maybe blocked.
    assert_eq!(reread(&ledger).pending().await.unwrap(), users);
    let last = ledger
        .settle(Change::Block, users[2], Settled::Confirmed)
        .await
        .unwrap();
    assert!(last > settled);
    ledger.sync(settled).await.unwrap();
    // One write carried all three settlements; a later sync has nothing to do.
    let after = reread(&ledger);
    assert!(after.pending().await.unwrap().is_empty());
    assert_eq!(
        after.blocked().await.unwrap(),
        ["8613300000001", "8613300000003", "8613300000009"]
    );
    let before = std::fs::metadata(ledger.path())
        .unwrap()
        .modified()
        .unwrap();
    ledger.sync(last).await.unwrap();
    assert_eq!(
        std::fs::metadata(ledger.path())
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
}
