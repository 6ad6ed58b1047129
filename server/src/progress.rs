//! Long operations (backup runs, cleanups) publish their progress on a watch channel; this writes
//! it to the database as it changes, so that a reload or another process sees it.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

/// Calls `write` with each change of `progress`, at most once per `every`, until `stop` fires or
/// the sender is gone. The caller writes the final state itself, after stopping this.
pub async fn persist_changes<T, F, Fut>(
    mut progress: watch::Receiver<T>,
    mut stop: oneshot::Receiver<()>,
    every: Duration,
    write: F,
) where
    T: Clone,
    F: Fn(T) -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        tokio::select! {
            changed = progress.changed() => if changed.is_err() { return },
            _ = &mut stop => return,
        }
        let value = progress.borrow_and_update().clone();
        write(value).await;
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = &mut stop => return,
        }
    }
}
