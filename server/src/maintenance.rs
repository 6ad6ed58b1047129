//! Maintenance mode of a cluster, for the time of a restore or an upgrade: its schedules are
//! suspended and new runs and cleanups refused, by this process and every other one sharing the
//! database (the mode is kept there).

use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::schedule::{Maintenance, MaintenanceUpdate};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::store::{Store, StoreError};

/// The longest reason kept.
pub const MAX_REASON_CHARS: usize = 500;

fn key(cluster: &str) -> String {
    format!("maintenance:{cluster}")
}

/// The cluster's maintenance mode, if it is on, for what only shows it (a page, a metric): a
/// database that cannot answer is logged and read as off. What starts work asks [`gate`].
pub async fn current(store: &Store, cluster: &str) -> Option<Maintenance> {
    match gate(store, cluster).await {
        Ok(mode) => mode,
        Err(error) => {
            tracing::error!(%cluster, %error, "could not read the maintenance mode");
            None
        }
    }
}

/// The cluster's maintenance mode for a start: a database that cannot say whether it is on
/// refuses the start (an error), never reads as off, since a cleanup is destructive.
pub async fn gate(store: &Store, cluster: &str) -> Result<Option<Maintenance>, StoreError> {
    Ok(store
        .get_setting(key(cluster))
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// How every [`refusal`] begins.
const REFUSAL_START: &str = "the cluster is in maintenance mode";

/// `reason` (of a skipped due time, say) is maintenance mode's refusal.
pub fn is_refusal(reason: &str) -> bool {
    reason.starts_with(REFUSAL_START)
}

/// What a refused start says.
pub fn refusal(maintenance: &Maintenance) -> String {
    format!(
        "{REFUSAL_START} (turned on by {}{}): no runs or cleanups start until an admin ends it",
        maintenance.by,
        maintenance
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    )
}

/// Turns the mode on or off, audited; the answer is the mode now.
pub async fn set(
    store: &Store,
    clock: &Clock,
    cluster: &str,
    update: MaintenanceUpdate,
    user: &str,
    client: &str,
) -> Result<Option<Maintenance>, StoreError> {
    let reason = update
        .reason
        .map(|r| r.trim().chars().take(MAX_REASON_CHARS).collect::<String>())
        .filter(|r| !r.is_empty());
    let (now, action) = if update.enabled {
        let mode = Maintenance {
            since_ms: clock.now_ms(),
            by: user.to_string(),
            reason: reason.clone(),
        };
        let json = serde_json::to_string(&mode).unwrap_or_default();
        store.put_setting(key(cluster), json).await?;
        (Some(mode), AuditAction::MaintenanceStarted)
    } else {
        store.delete_setting(key(cluster)).await?;
        (None, AuditAction::MaintenanceEnded)
    };
    audit::record(
        store,
        clock,
        AuditEvent::new(user, client, action, AuditOutcome::Success)
            .cluster(cluster)
            .detail(reason),
    )
    .await;
    Ok(now)
}
