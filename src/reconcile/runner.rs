//! The one bounded concurrent runner for targets: at most `concurrency` run
//! at once, each on tokio's worker threads, results in the order given.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Run `work` on every item, at most `concurrency` at a time, and return
/// the results in the items' order. A task that panicked is a bug: the
/// panic goes on in the caller rather than being hidden.
pub async fn run_all<T, R, F, Fut>(items: Vec<T>, concurrency: usize, work: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, item) in items.into_iter().enumerate() {
        let gate = gate.clone();
        // The future does nothing until polled, so building it here does
        // no work before a permit is held.
        let job = work(item);
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            (index, job.await)
        });
    }
    let mut results = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Tasks are only cancelled by dropping the set, which happens
            // after this loop; a cancelled one here is a bug too.
            Err(e) => panic!("target task cancelled: {e}"),
        }
    }
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn results_keep_order_and_concurrency_is_bounded() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let results = run_all((0..20).collect(), 3, |i: u32| {
            let (running, most) = (running.clone(), most.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Later items finish first, so order comes from the index.
                for _ in 0..(20 - i) {
                    tokio::task::yield_now().await;
                }
                running.fetch_sub(1, Ordering::SeqCst);
                i * 2
            }
        })
        .await;
        assert_eq!(results, (0..20).map(|i| i * 2).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 3, "{most:?}");
    }

    #[tokio::test]
    #[should_panic(expected = "a bug in one target")]
    async fn a_panic_goes_on_in_the_caller() {
        run_all(vec![1, 2], 2, |i: u32| async move {
            if i == 2 {
                panic!("a bug in one target");
            }
        })
        .await;
    }
}
