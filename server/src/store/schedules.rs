//! Due times of the schedules: one row per (cluster, kind, due time), inserted once. The insert
//! is the claim, so of several processes sharing the database exactly one handles a due time.

use backup_domain::schedule::{FireOutcome, ScheduleFire, ScheduleKind};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

const FIRE_COLUMNS: &str = "kind, due_ms, at_ms, outcome, reason, started_id";

fn fire_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScheduleFire> {
    Ok(ScheduleFire {
        kind: ScheduleKind::from(r.get::<_, String>(0)?),
        due_ms: r.get(1)?,
        at_ms: r.get(2)?,
        outcome: FireOutcome::from(r.get::<_, String>(3)?),
        reason: r.get(4)?,
        started_id: r.get(5)?,
    })
}

impl Store {
    /// Records `fire` for `cluster` unless its due time already has a row; the answer says
    /// whether this call wrote it (and so owns the due time).
    pub async fn claim_due(
        &self,
        cluster: String,
        fire: ScheduleFire,
        owner: String,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO schedule_fires (cluster, kind, due_ms, at_ms, outcome, reason, started_id, owner) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    cluster,
                    fire.kind.as_str(),
                    fire.due_ms,
                    fire.at_ms,
                    fire.outcome.as_str(),
                    fire.reason,
                    fire.started_id,
                    owner
                ],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// What a claimed due time came to, written by the process that claimed it.
    pub async fn finish_due(
        &self,
        cluster: String,
        fire: ScheduleFire,
        owner: String,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE schedule_fires SET outcome = ?4, reason = ?5, started_id = ?6, at_ms = ?7 \
                 WHERE cluster = ?1 AND kind = ?2 AND due_ms = ?3 AND owner = ?8",
                params![
                    cluster,
                    fire.kind.as_str(),
                    fire.due_ms,
                    fire.outcome.as_str(),
                    fire.reason,
                    fire.started_id,
                    fire.at_ms,
                    owner
                ],
            )
            .map(|_| ())
        })
        .await
    }

    /// Due times of this schedule still `claimed` since before `before_ms`: their process stopped
    /// before it recorded what they came to.
    pub async fn stale_claims(
        &self,
        cluster: String,
        kind: ScheduleKind,
        before_ms: i64,
    ) -> Result<Vec<ScheduleFire>, StoreError> {
        self.call(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {FIRE_COLUMNS} FROM schedule_fires WHERE cluster = ?1 AND kind = ?2 \
                 AND outcome = ?3 AND at_ms < ?4 ORDER BY due_ms"
            ))?;
            st.query_map(
                params![
                    cluster,
                    kind.as_str(),
                    FireOutcome::Claimed.as_str(),
                    before_ms
                ],
                fire_from,
            )?
            .collect()
        })
        .await
    }

    /// Records what a stale claim came to, unless another process did first; the answer says
    /// whether this call did.
    pub async fn settle_claim(
        &self,
        cluster: String,
        fire: ScheduleFire,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE schedule_fires SET outcome = ?4, reason = ?5, started_id = ?6, at_ms = ?7 \
                 WHERE cluster = ?1 AND kind = ?2 AND due_ms = ?3 AND outcome = ?8",
                params![
                    cluster,
                    fire.kind.as_str(),
                    fire.due_ms,
                    fire.outcome.as_str(),
                    fire.reason,
                    fire.started_id,
                    fire.at_ms,
                    FireOutcome::Claimed.as_str()
                ],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// The first run (backup) or cleanup a schedule started at or after `since_ms`.
    pub async fn scheduled_start_since(
        &self,
        cluster: String,
        kind: ScheduleKind,
        since_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.call(move |c| {
            let sql = match kind {
                ScheduleKind::Cleanup => {
                    "SELECT id FROM cleanups WHERE cluster = ?1 AND started_by = 'schedule' \
                     AND started_ms >= ?2 ORDER BY id LIMIT 1"
                }
                _ => {
                    "SELECT id FROM runs WHERE cluster = ?1 AND run_trigger = 'schedule' \
                     AND started_ms >= ?2 ORDER BY id LIMIT 1"
                }
            };
            c.query_row(sql, params![cluster, since_ms], |r| r.get(0))
                .optional()
        })
        .await
    }

    /// The newest due time of this schedule that has a row, whatever it came to.
    pub async fn last_due(
        &self,
        cluster: String,
        kind: ScheduleKind,
    ) -> Result<Option<i64>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT MAX(due_ms) FROM schedule_fires WHERE cluster = ?1 AND kind = ?2",
                params![cluster, kind.as_str()],
                |r| r.get(0),
            )
        })
        .await
    }

    /// The newest due time of this schedule with `outcome` (any, when `None`).
    pub async fn last_fire(
        &self,
        cluster: String,
        kind: ScheduleKind,
        outcome: Option<FireOutcome>,
    ) -> Result<Option<ScheduleFire>, StoreError> {
        self.call(move |c| {
            c.query_row(
                &format!(
                    "SELECT {FIRE_COLUMNS} FROM schedule_fires WHERE cluster = ?1 AND kind = ?2 \
                     AND (?3 IS NULL OR outcome = ?3) ORDER BY due_ms DESC LIMIT 1"
                ),
                params![cluster, kind.as_str(), outcome.as_ref().map(|o| o.as_str())],
                fire_from,
            )
            .optional()
        })
        .await
    }

    /// The newest `limit` due times of `cluster`, both kinds, newest first.
    pub async fn recent_fires(
        &self,
        cluster: String,
        limit: usize,
    ) -> Result<Vec<ScheduleFire>, StoreError> {
        self.call(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {FIRE_COLUMNS} FROM schedule_fires WHERE cluster = ?1 \
                 ORDER BY due_ms DESC, kind LIMIT ?2"
            ))?;
            st.query_map(params![cluster, limit as i64], fire_from)?
                .collect()
        })
        .await
    }
}
