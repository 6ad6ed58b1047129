//! Retention in the database: the policy an admin saved per cluster, pinned sets, and cleanups
//! with their per-artifact results.

use backup_domain::retention::{Pin, RetentionPolicy};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// A policy saved from the console, with who saved it and when.
#[derive(Debug, Clone)]
pub struct StoredPolicy {
    pub policy: RetentionPolicy,
    pub updated_by: String,
    pub updated_ms: i64,
}

#[derive(Debug, Clone)]
pub struct CleanupRow {
    pub id: i64,
    pub cluster: String,
    pub started_by: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub state: String,
    pub report: serde_json::Value,
    /// The process running it (none for a cleanup of an older version).
    pub owner: Option<String>,
    /// When that process last said it was alive.
    pub heartbeat_ms: Option<i64>,
}

const CLEANUP_COLUMNS: &str =
    "id, cluster, started_by, started_ms, ended_ms, state, report, owner, heartbeat_ms";

fn cleanup_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<CleanupRow> {
    let report: String = r.get(6)?;
    Ok(CleanupRow {
        id: r.get(0)?,
        cluster: r.get(1)?,
        started_by: r.get(2)?,
        started_ms: r.get(3)?,
        ended_ms: r.get(4)?,
        state: r.get(5)?,
        report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
        owner: r.get(7)?,
        heartbeat_ms: r.get(8)?,
    })
}

impl Store {
    pub async fn policy(&self, cluster: String) -> Result<Option<StoredPolicy>, StoreError> {
        let row: Option<(String, String, i64)> = self
            .call(move |c| {
                c.query_row(
                    "SELECT policy, updated_by, updated_ms FROM retention_policies WHERE cluster = ?1",
                    params![cluster],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
            })
            .await?;
        // A row this version cannot read is treated as absent: the file's or the default policy
        // applies, which is never less safe than a half-read one.
        Ok(row.and_then(|(text, updated_by, updated_ms)| {
            serde_json::from_str(&text).ok().map(|policy| StoredPolicy {
                policy,
                updated_by,
                updated_ms,
            })
        }))
    }

    pub async fn save_policy(
        &self,
        cluster: String,
        policy: &RetentionPolicy,
        by: String,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(policy).unwrap_or_default();
        self.call(move |c| {
            c.execute(
                "INSERT INTO retention_policies (cluster, policy, updated_by, updated_ms) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(cluster) DO UPDATE SET policy = excluded.policy, updated_by = excluded.updated_by, updated_ms = excluded.updated_ms",
                params![cluster, text, by, now_ms],
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn pins(&self, cluster: String) -> Result<Vec<Pin>, StoreError> {
        self.call(move |c| {
            let mut st = c.prepare(
                "SELECT backup_id, pinned_by, pinned_ms FROM pins WHERE cluster = ?1 ORDER BY backup_id DESC",
            )?;
            let rows = st.query_map(params![cluster], |r| {
                Ok(Pin {
                    backup_id: r.get::<_, i64>(0)? as u64,
                    pinned_by: r.get(1)?,
                    pinned_ms: r.get(2)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Pins (`true`) or unpins a set; the answer says whether anything changed.
    pub async fn set_pin(
        &self,
        cluster: String,
        backup_id: u64,
        pinned: bool,
        by: String,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            let changed = if pinned {
                c.execute(
                    "INSERT OR IGNORE INTO pins (cluster, backup_id, pinned_by, pinned_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![cluster, backup_id as i64, by, now_ms],
                )?
            } else {
                c.execute(
                    "DELETE FROM pins WHERE cluster = ?1 AND backup_id = ?2",
                    params![cluster, backup_id as i64],
                )?
            };
            Ok(changed > 0)
        })
        .await
    }

    /// Records a new cleanup, run (and heartbeated) by `owner`.
    pub async fn create_cleanup(
        &self,
        cluster: String,
        by: String,
        now_ms: i64,
        report: String,
        owner: String,
    ) -> Result<i64, StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO cleanups (cluster, started_by, started_ms, state, report, owner, heartbeat_ms) VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?3)",
                params![cluster, by, now_ms, report, owner],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    /// Stores a cleanup's progress or end, only while it is running and `owner` holds it:
    /// `Ok(false)` means it was taken over (marked interrupted by another process) and this write
    /// was not made (review L4).
    pub async fn update_cleanup(
        &self,
        id: i64,
        owner: String,
        state: &'static str,
        ended_ms: Option<i64>,
        report: String,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE cleanups SET state = ?2, ended_ms = ?3, report = ?4 WHERE id = ?1 AND owner = ?5 AND state = 'running'",
                params![id, state, ended_ms, report, owner],
            )
            .map(|n| n > 0)
        })
        .await
    }

    /// The owner of a running cleanup says it is alive; false once it no longer holds it.
    pub async fn heartbeat_cleanup(
        &self,
        id: i64,
        owner: String,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE cleanups SET heartbeat_ms = ?2 WHERE id = ?1 AND owner = ?3 AND state = 'running'",
                params![id, now_ms, owner],
            )
            .map(|n| n > 0)
        })
        .await
    }

    pub async fn cleanup(&self, id: i64) -> Result<Option<CleanupRow>, StoreError> {
        self.call(move |c| {
            c.query_row(
                &format!("SELECT {CLEANUP_COLUMNS} FROM cleanups WHERE id = ?1"),
                params![id],
                cleanup_from,
            )
            .optional()
        })
        .await
    }

    /// The newest cleanup of `cluster`; `by` narrows it to one starter (`schedule`).
    pub async fn latest_cleanup(
        &self,
        cluster: String,
        by: Option<String>,
    ) -> Result<Option<CleanupRow>, StoreError> {
        self.call(move |c| {
            c.query_row(
                &format!(
                    "SELECT {CLEANUP_COLUMNS} FROM cleanups WHERE cluster = ?1 AND (?2 IS NULL OR started_by = ?2) ORDER BY id DESC LIMIT 1"
                ),
                params![cluster, by],
                cleanup_from,
            )
            .optional()
        })
        .await
    }

    /// Takes over the running cleanups whose process stopped saying it was alive before
    /// `stale_before_ms` (killed, crashed, hung) and marks them interrupted, in one statement: the
    /// row becomes `owner`'s, so a late write of the old process does not land. A cleanup whose
    /// process is alive, in this process or another sharing the database, is left alone. `only`
    /// narrows it to one cleanup. Returns the IDs interrupted.
    pub async fn interrupt_stale_cleanups(
        &self,
        owner: String,
        now_ms: i64,
        stale_before_ms: i64,
        only: Option<i64>,
    ) -> Result<Vec<i64>, StoreError> {
        self.call(move |c| {
            let mut st = c.prepare(
                "UPDATE cleanups SET state = 'interrupted', ended_ms = ?2, owner = ?1 \
                 WHERE state = 'running' AND (owner IS NULL OR owner != ?1) \
                 AND COALESCE(heartbeat_ms, 0) < ?3 AND (?4 IS NULL OR id = ?4) RETURNING id",
            )?;
            let ids = st
                .query_map(params![owner, now_ms, stale_before_ms, only], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            Ok(ids)
        })
        .await
    }

    /// This process's own running cleanups, marked interrupted as it stops; those of other
    /// processes sharing the database go on.
    pub async fn interrupt_own_cleanups(
        &self,
        owner: String,
        now_ms: i64,
    ) -> Result<usize, StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE cleanups SET state = 'interrupted', ended_ms = ?2 WHERE state = 'running' AND owner = ?1",
                params![owner, now_ms],
            )
        })
        .await
    }
}
