//! The one writer of the audit log, for the API handlers and the services alike:
//! `audit::record(&store, &clock, AuditEvent::new(user, client, action, outcome).cluster(..).target(..))`.

use backup_domain::audit::{AuditAction, AuditOutcome};

use crate::clock::Clock;
use crate::store::{AuditRecord, Store};

/// The longest user name kept: a login attempt can send any name, and the log must not become
/// the place to store it.
pub const MAX_USER_CHARS: usize = 200;
/// Targets are backup IDs or short lists of them (a cleanup names at most 20 and a count).
pub const MAX_TARGET_CHARS: usize = 500;
/// Details carry upstream messages and policies; longer ones are cut.
pub const MAX_DETAIL_CHARS: usize = 4_000;

/// One line of the audit log, before it is written: who (`user` from `client`), what, and how it
/// ended, with the cluster, target and detail where they apply.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    user: String,
    client: String,
    action: AuditAction,
    outcome: AuditOutcome,
    cluster: Option<String>,
    target: Option<String>,
    detail: Option<String>,
}

impl AuditEvent {
    /// `client` is the address the console saw (or `-` and `cli` for the console's own work).
    pub fn new(user: &str, client: &str, action: AuditAction, outcome: AuditOutcome) -> Self {
        AuditEvent {
            user: user.to_string(),
            client: client.to_string(),
            action,
            outcome,
            cluster: None,
            target: None,
            detail: None,
        }
    }

    pub fn cluster(mut self, cluster: impl Into<String>) -> Self {
        self.cluster = Some(cluster.into());
        self
    }

    /// What the action was about: a backup ID, the IDs of a cleanup.
    pub fn target(mut self, target: impl Into<Option<String>>) -> Self {
        self.target = target.into();
        self
    }

    pub fn detail(mut self, detail: impl Into<Option<String>>) -> Self {
        self.detail = detail.into();
        self
    }

    /// The row to store, stamped `at_ms`, with every free-text field cut to its limit.
    fn into_record(self, at_ms: i64) -> AuditRecord {
        AuditRecord {
            at_ms,
            user: cut(self.user, MAX_USER_CHARS),
            client: self.client,
            action: self.action,
            cluster: self.cluster,
            target: self.target.map(|t| cut(t, MAX_TARGET_CHARS)),
            outcome: self.outcome,
            detail: self.detail.map(|d| cut(d, MAX_DETAIL_CHARS)),
        }
    }
}

fn cut(text: String, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => text[..end].to_string(),
        None => text,
    }
}

/// Appends one line. A failure to write is logged loudly, not returned: the action itself
/// already happened, and its caller must still answer it.
pub async fn record(store: &Store, clock: &Clock, event: AuditEvent) {
    let record = event.into_record(clock.now_ms());
    let action = record.action.clone();
    if let Err(error) = store.append_audit(record).await {
        tracing::error!(%error, %action, "could not write the audit log");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_free_text_field_is_cut_at_its_limit() {
        let long = "é".repeat(10_000);
        let record = AuditEvent::new(
            &long,
            "127.0.0.1",
            AuditAction::Login,
            AuditOutcome::Success,
        )
        .cluster("c")
        .target(long.clone())
        .detail(long.clone())
        .into_record(5);
        assert_eq!(record.user.chars().count(), MAX_USER_CHARS);
        assert_eq!(
            record.target.map(|t| t.chars().count()),
            Some(MAX_TARGET_CHARS)
        );
        assert_eq!(
            record.detail.map(|d| d.chars().count()),
            Some(MAX_DETAIL_CHARS)
        );
        assert_eq!(record.at_ms, 5);
        assert_eq!(record.cluster.as_deref(), Some("c"));
    }

    #[test]
    fn short_fields_and_absent_ones_are_kept_as_they_are() {
        let record = AuditEvent::new("alice", "-", AuditAction::Logout, AuditOutcome::Success)
            .target(None)
            .detail(Some("fine".to_string()))
            .into_record(0);
        assert_eq!(record.user, "alice");
        assert_eq!(record.client, "-");
        assert_eq!(record.target, None);
        assert_eq!(record.detail.as_deref(), Some("fine"));
        assert_eq!(record.cluster, None);
        assert_eq!(record.action, AuditAction::Logout);
    }
}
