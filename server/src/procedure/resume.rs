//! Resuming exporting until Zeebe confirms it. A soft pause left behind stops log compaction and
//! fills the brokers' disks (contract §4.1, §11 #8), and the endpoint answers HTTP 200 even when it
//! failed, with the real status in the body; so success is only the body's 204, and everything
//! else is retried with backoff until a deadline.

use std::time::Duration;

use tokio::time::Instant;

use crate::upstream::{ExportingOperation, UpstreamError, ZeebeClient};

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// Give up after this long; the caller then reports exporting as still paused.
    pub deadline: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(200),
            max: Duration::from_secs(10),
            deadline: Duration::from_secs(300),
        }
    }
}

/// Exporting could not be confirmed resumed before the deadline.
#[derive(Debug, thiserror::Error)]
#[error(
    "exporting is still paused: resume was not confirmed after {attempts} attempts; last error: {last}"
)]
pub struct StillPaused {
    pub attempts: u32,
    pub last: UpstreamError,
}

/// Resumes exporting, retrying until the body says 204. Returns the number of attempts made.
pub async fn resume_until_confirmed(
    zeebe: &ZeebeClient,
    backoff: Backoff,
) -> Result<u32, StillPaused> {
    let started = Instant::now();
    let mut wait = backoff.first;
    let mut attempts = 0;
    loop {
        attempts += 1;
        // One hung attempt must not outlive the deadline: each gets the request timeout (set on
        // the client) or what is left of the deadline, whichever is shorter.
        let left = backoff.deadline.saturating_sub(started.elapsed());
        let attempt = tokio::time::timeout(left, zeebe.exporting(ExportingOperation::Resume))
            .await
            .unwrap_or_else(|_| {
                Err(UpstreamError::Timeout {
                    call: zeebe.exporting_call(ExportingOperation::Resume),
                    timeout_secs: left.as_secs().max(1),
                })
            });
        match attempt {
            Ok(()) => {
                if attempts > 1 {
                    tracing::info!(attempts, "exporting resumed after retries");
                }
                return Ok(attempts);
            }
            Err(last) => {
                tracing::warn!(attempts, error = %last, "resuming exporting failed; retrying");
                if started.elapsed() + wait >= backoff.deadline {
                    return Err(StillPaused { attempts, last });
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(backoff.max);
            }
        }
    }
}
