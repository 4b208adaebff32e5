//! The recording seam: every block attempt reaches the [`Recorder`] with
//! the target, the user as the file names them, and the outcome.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::provider::{Batch, BatchResult, BoxFuture, Provider, Stats, UserError};

/// Blocks everyone but `refuse`, who gets 131047.
struct Scripted {
    refuse: User,
    stats: Stats,
}

impl Provider for Scripted {
    fn list(&self) -> BoxFuture<'_, anyhow::Result<Vec<User>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn block<'a>(&'a self, users: &'a [User]) -> BoxFuture<'a, Batch> {
        Box::pin(async move {
            let mut result = BatchResult::default();
            for u in users {
                if u.same_person(&self.refuse) {
                    result.failed.push(UserError {
                        user: u.clone(),
                        code: 131047,
                        message: "Re-engagement message".into(),
                    });
                } else {
                    result.done.push(u.clone());
                }
            }
            Ok(result)
        })
    }
    fn unblock<'a>(&'a self, _users: &'a [User]) -> BoxFuture<'a, Batch> {
        Box::pin(async { Ok(BatchResult::default()) })
    }
    fn max_batch(&self) -> usize {
        1
    }
    fn stats(&self) -> &Stats {
        &self.stats
    }
}

#[derive(Default)]
struct Remember(Mutex<Vec<(String, String, Outcome)>>);

impl Recorder for Remember {
    fn record<'a>(
        &'a self,
        target: &'a crate::config::Target,
        user: &'a User,
        outcome: &'a Outcome,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let file = target.file.display().to_string();
            lock(&self.0).push((file, user.to_string(), outcome.clone()));
            Ok(())
        })
    }
}

#[tokio::test]
async fn every_attempt_is_recorded_with_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.yaml");
    std::fs::write(
        &file,
        "business_phone: \"+8615800001795\"\nprovider: {kind: cloud-api, phone_number_id: \"77\"}\nblocked:\n  - user: \"+86 133 0000 0001\"\n    user_id: CN.7Hq2Lm90aZ\n  - \"8613300000002\"\n",
    )
    .unwrap();
    let loaded = crate::config::load(&[file]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let target = loaded.targets.into_iter().next().unwrap();
    let client: crate::reconcile::Client = Arc::new(Scripted {
        refuse: User::phone("8613300000002"),
        stats: Stats::default(),
    });
    let key = Key::PhoneNumberId("77".into());
    let snapshot = Snapshot::of(vec![(key.clone(), Watched::new(target, client, None))]);
    let remember = Arc::new(Remember::default());
    let options = Options {
        paths: Vec::new(),
        queue: 10,
        workers: 2,
        dedupe: 10,
        reload_every: None,
        secrets: Secrets::default(),
        state: None,
    };
    let app = App::spawn(snapshot, &options, remember.clone());
    let message = |id: &str, sender: User| Inbound {
        key: key.clone(),
        message_id: id.into(),
        sender,
    };
    let delivery = payload::Delivery {
        messages: vec![
            // Known to the file by phone and BSUID; writes by BSUID only.
            message("m1", User::bsuid("CN.7Hq2Lm90aZ")),
            message("m2", User::phone("8613300000002")),
            message("m3", User::phone("8613300000003")),
        ],
        unreadable: 0,
    };
    let reply = accept(&app, "cloud-api", Ok(delivery), Instant::now());
    assert_eq!(reply.status(), StatusCode::OK);
    let started = Instant::now();
    while lock(&remember.0).len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(30), "not recorded");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut seen = lock(&remember.0).clone();
    seen.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        seen.iter()
            .map(|(_, u, o)| (u.as_str(), o.clone()))
            .collect::<Vec<_>>(),
        [
            ("8613300000001 (CN.7Hq2Lm90aZ)", Outcome::Blocked),
            (
                "8613300000002",
                Outcome::Refused {
                    code: 131047,
                    message: "Re-engagement message".into()
                }
            ),
        ]
    );
    assert!(seen[0].0.ends_with("shop.yaml"));
    let metrics = app.metrics.render(0, 1);
    assert!(
        metrics.contains("blocklist_watch_blocks_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("blocklist_watch_failures_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("blocklist_watch_ignored_total 1\n"),
        "{metrics}"
    );
}
