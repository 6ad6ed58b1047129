//! Waiting for a component's backup to complete: polls quickly at first and backs off, so no step
//! waits much longer than the work takes (exporting stays soft-paused only as long as needed), and
//! reads the transient answers right after a start (404, INCOMPLETE, contract §3.6, §6) as
//! "starting", not as failure.

use std::future::Future;
use std::time::Duration;

use backup_domain::backup_set::{ComponentBackup, ComponentState, settle_transient};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::upstream::UpstreamError;

/// Who asked to stop a run, if anyone. The run stops after the request in flight.
#[derive(Debug, Clone)]
pub struct CancelSignal(watch::Receiver<Option<String>>);

impl CancelSignal {
    pub fn new() -> (watch::Sender<Option<String>>, CancelSignal) {
        let (tx, rx) = watch::channel(None);
        (tx, CancelSignal(rx))
    }

    /// A signal nobody can raise, for runs without a cancel button.
    pub fn never() -> CancelSignal {
        let (tx, signal) = Self::new();
        std::mem::forget(tx);
        signal
    }

    pub fn by(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    /// Resolves once a cancel is requested; never, if the sender is gone without one.
    pub async fn requested(&mut self) {
        if self.0.wait_for(Option::is_some).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PollPolicy {
    pub first: Duration,
    pub max: Duration,
    /// The step fails when the backup has not completed in this time.
    pub timeout: Duration,
    /// How long "not there yet" (404, DOES_NOT_EXIST) is accepted after the start.
    pub registration_grace: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            first: Duration::from_millis(100),
            max: Duration::from_secs(1),
            timeout: Duration::from_secs(3600),
            registration_grace: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("the backup ended {state}: {reason}")]
    Failed { state: &'static str, reason: String },
    #[error("cancelled")]
    Cancelled,
    #[error("no backup was registered within {0:?} of the start")]
    NeverRegistered(Duration),
    #[error("not completed within {after:?}{}", last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default())]
    TimedOut {
        after: Duration,
        last_error: Option<String>,
    },
}

/// Polls `probe` (the component's get-by-ID) until the backup completes. Upstream errors are
/// retried until the timeout: a component restarting mid-backup is not a failed backup.
pub async fn wait_until_completed<F, Fut>(
    policy: PollPolicy,
    cancel: &mut CancelSignal,
    mut probe: F,
) -> Result<ComponentBackup, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<ComponentBackup>, UpstreamError>>,
{
    let started = Instant::now();
    let mut wait = policy.first;
    let mut last_error = None;
    loop {
        // A probe gets its request timeout, but never more than what is left of the step's: a
        // status call that hangs must not hold the step (and the soft pause) past its timeout.
        let left = policy.timeout.saturating_sub(started.elapsed());
        let answer = match tokio::time::timeout(left, probe()).await {
            Ok(answer) => answer,
            Err(_) => {
                return Err(WaitError::TimedOut {
                    after: policy.timeout,
                    last_error: Some("the last status call got no answer".into()),
                });
            }
        };
        match answer {
            Ok(Some(found)) => {
                let found = settle_transient(found, chrono::Utc::now().timestamp_millis());
                let reason = || {
                    found
                        .failure_reason
                        .clone()
                        .or(found.upstream_state.clone())
                        .unwrap_or_default()
                };
                match found.state {
                    ComponentState::Completed => return Ok(found),
                    ComponentState::Failed => {
                        return Err(WaitError::Failed {
                            state: "FAILED",
                            reason: reason(),
                        });
                    }
                    ComponentState::Incomplete => {
                        return Err(WaitError::Failed {
                            state: "INCOMPLETE",
                            reason: reason(),
                        });
                    }
                    ComponentState::Incompatible => {
                        return Err(WaitError::Failed {
                            state: "INCOMPATIBLE",
                            reason: reason(),
                        });
                    }
                    ComponentState::Missing if started.elapsed() > policy.registration_grace => {
                        return Err(WaitError::NeverRegistered(policy.registration_grace));
                    }
                    ComponentState::InProgress
                    | ComponentState::Missing
                    | ComponentState::NotExpected
                    | ComponentState::Unknown => {}
                }
                last_error = None;
            }
            Ok(None) if started.elapsed() > policy.registration_grace => {
                return Err(WaitError::NeverRegistered(policy.registration_grace));
            }
            Ok(None) => {}
            Err(e) => last_error = Some(e.to_string()),
        }
        if started.elapsed() + wait > policy.timeout {
            return Err(WaitError::TimedOut {
                after: policy.timeout,
                last_error,
            });
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.requested() => return Err(WaitError::Cancelled),
        }
        wait = (wait.mul_f64(1.5)).min(policy.max);
    }
}
