//! The audit log: append-only (triggers refuse an update or a delete), read newest first.

use backup_domain::api::AuditEntry;
use backup_domain::audit::{AuditAction, AuditOutcome};
use rusqlite::params;

use super::{Store, StoreError};

/// What to write to the audit log; the store adds the ID. Written through `crate::audit::record`,
/// which cuts the free-text fields.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub at_ms: i64,
    pub user: String,
    pub client: String,
    pub action: AuditAction,
    pub cluster: Option<String>,
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<String>,
    pub action: Option<AuditAction>,
    pub cluster: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: usize,
}

impl Store {
    pub async fn append_audit(&self, record: AuditRecord) -> Result<i64, StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO audit (at_ms, user, client, action, cluster, target, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![record.at_ms, record.user, record.client, record.action.as_str(), record.cluster, record.target, record.outcome.as_str(), record.detail],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    /// Newest first.
    pub async fn audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        self.call(move |c| {
            let mut statement = c.prepare(
                "SELECT id, at_ms, user, client, action, cluster, target, outcome, detail FROM audit
                 WHERE (?1 IS NULL OR user = ?1) AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR cluster = ?3)
                   AND (?4 IS NULL OR at_ms >= ?4) AND (?5 IS NULL OR at_ms <= ?5)
                 ORDER BY id DESC LIMIT ?6",
            )?;
            let rows = statement.query_map(
                params![filter.user, filter.action.as_ref().map(AuditAction::as_str), filter.cluster, filter.from_ms, filter.to_ms, filter.limit as i64],
                |r| {
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        at_ms: r.get(1)?,
                        user: r.get(2)?,
                        client: r.get(3)?,
                        action: AuditAction::from(r.get::<_, String>(4)?),
                        cluster: r.get(5)?,
                        target: r.get(6)?,
                        outcome: AuditOutcome::from(r.get::<_, String>(7)?),
                        detail: r.get(8)?,
                    })
                },
            )?;
            rows.collect()
        })
        .await
    }

    /// Tries to change the audit log, to show the triggers refuse it.
    #[cfg(test)]
    pub(super) async fn try_tamper_audit(&self) -> Result<usize, StoreError> {
        self.call(|c| c.execute("DELETE FROM audit", [])).await
    }
}
