//! The ledger on disk: created on first write, sorted, updated atomically
//! after each call, and never read as empty when it is damaged.

use std::sync::Arc;

use super::*;

const PHONE: &str = "8615800001795";

fn ledger(dir: &tempfile::TempDir) -> Ledger {
    Ledger::new(dir.path().join("shop.ledger.json"), PHONE, "default")
}

fn on_disk(ledger: &Ledger) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(ledger.path()).unwrap()).unwrap()
}

#[tokio::test]
async fn a_missing_ledger_is_empty_and_the_first_write_creates_it() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir);
    assert_eq!(ledger.blocked().await.unwrap(), Vec::<String>::new());
    assert!(!ledger.path().exists(), "reading never writes");
    ledger.add("8613300000002").await.unwrap();
    ledger.add("8613300000001").await.unwrap();
    ledger.add("8613300000002").await.unwrap();
    let text = std::fs::read_to_string(ledger.path()).unwrap();
    assert_eq!(
        text,
        "{\n  \"format_version\": 1,\n  \"business_phone\": \"8615800001795\",\n  \"session\": \"default\",\n  \"blocked\": [\n    \"8613300000001\",\n    \"8613300000002\"\n  ]\n}\n"
    );
    ledger.remove("8613300000001").await.unwrap();
    assert_eq!(
        on_disk(&ledger)["blocked"],
        serde_json::json!(["8613300000002"])
    );
    // A fresh reader sees what was written.
    let again = Ledger::new(ledger.path().to_path_buf(), PHONE, "default");
    assert_eq!(again.blocked().await.unwrap(), ["8613300000002"]);
}

#[tokio::test]
async fn wa_id_variants_are_one_user() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir);
    ledger.add("5215512345678").await.unwrap();
    ledger.add("525512345678").await.unwrap();
    assert_eq!(ledger.blocked().await.unwrap(), ["5215512345678"]);
    ledger.remove("525512345678").await.unwrap();
    assert!(ledger.blocked().await.unwrap().is_empty());
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
            ledger.add(&user).await.unwrap();
            // Whatever the other writers do, this one's user is already saved.
            let saved = on_disk(&ledger)["blocked"].as_array().unwrap().clone();
            assert!(saved.iter().any(|u| u == &user), "{user} missing");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(on_disk(&ledger)["blocked"].as_array().unwrap().len(), 40);
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
            r#"{"format_version":2,"business_phone":"8615800001795","session":"default","blocked":[]}"#,
            "has format_version 2; this blocklist reads version 1",
        ),
        (
            r#"{"format_version":1,"business_phone":"8615800009999","session":"default","blocked":[]}"#,
            "belongs to business phone 8615800009999, not 8615800001795",
        ),
        (
            r#"{"format_version":1,"business_phone":"8615800001795","session":"default","blocked":["86133xx"]}"#,
            "lists \"86133xx\", which is not a phone number",
        ),
    ] {
        std::fs::write(ledger.path(), content).unwrap();
        let fresh = Ledger::new(ledger.path().to_path_buf(), PHONE, "default");
        let error = format!("{:#}", fresh.blocked().await.unwrap_err());
        assert!(error.contains(&path), "{error}");
        assert!(error.contains(expected), "{error}");
        // Nor does a write paper over it.
        assert!(fresh.add("8613300000001").await.is_err());
        assert_eq!(std::fs::read_to_string(ledger.path()).unwrap(), content);
    }
}

#[tokio::test]
async fn a_ledger_in_a_missing_directory_is_created_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/waha/shop.ledger.json");
    let ledger = Ledger::new(path.clone(), PHONE, "s2");
    ledger.add("8613300000001").await.unwrap();
    assert_eq!(on_disk(&ledger)["session"], "s2");

    // A place that cannot hold it: the error names the ledger.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let ledger = Ledger::new(blocker.join("l.json"), PHONE, "default");
    let error = format!("{:#}", ledger.add("8613300000001").await.unwrap_err());
    assert!(
        error.contains("the ledger") && error.contains("l.json"),
        "{error}"
    );
}
