//! Backup runs: one row per run with its state and last progress report, owned by the process
//! running it (a lease renewed by its heartbeat) so that two processes sharing the database
//! never run the same cluster at once nor write over each other.

use backup_domain::run::RunState;
use backup_domain::schedule::RunTrigger;
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, immediate};

/// What a run's heartbeat found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// Still this process's run; `cancel_by` is who asked to cancel it, if anyone did.
    Held { cancel_by: Option<String> },
    /// Another process claimed the run (this one was silent too long): it resumes exporting and
    /// writes the outcome, so this one must stop without writing anything.
    Lost,
}

/// A backup run as stored: its state and the last progress report (JSON).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRow {
    pub id: i64,
    pub cluster: String,
    pub backup_id: u64,
    pub started_by: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub state: RunState,
    /// Exporting was paused by this run and not yet confirmed resumed.
    pub paused: bool,
    pub report: serde_json::Value,
    /// What started it; rows from before part 8 read as manual.
    pub trigger: RunTrigger,
}

impl Store {
    /// The highest backup ID any run of this console used on `cluster`: spent, even if deleted.
    pub async fn highest_run_backup_id(&self, cluster: String) -> Result<Option<u64>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT MAX(backup_id) FROM runs WHERE cluster = ?1",
                params![cluster],
                |r| r.get::<_, Option<i64>>(0),
            )
        })
        .await
        .map(|v| v.map(|id| id as u64))
    }

    /// What started each of `ids` on `cluster`, for the IDs some run of this console took (the
    /// latest run per ID wins): the history's "who triggered it". One read of the runs between
    /// the lowest and the highest ID.
    pub async fn run_triggers(
        &self,
        cluster: String,
        ids: Vec<u64>,
    ) -> Result<std::collections::HashMap<u64, RunTrigger>, StoreError> {
        // The rows hold IDs as SQLite integers (i64): an ID above i64::MAX (outside input) is
        // no run's, and must not turn the range inside out for the others.
        let wanted: std::collections::HashSet<u64> = ids
            .into_iter()
            .filter(|&id| i64::try_from(id).is_ok())
            .collect();
        let (Some(&low), Some(&high)) = (wanted.iter().min(), wanted.iter().max()) else {
            return Ok(std::collections::HashMap::new());
        };
        self.call(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT backup_id, run_trigger FROM runs WHERE cluster = ?1 AND backup_id BETWEEN ?2 AND ?3 ORDER BY id",
            )?;
            let rows = statement.query_map(params![cluster, low as i64, high as i64], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Option<String>>(1)?))
            })?;
            let mut found = std::collections::HashMap::new();
            for row in rows {
                let (id, trigger) = row?;
                if wanted.contains(&id) {
                    // Rows from before part 8 have no trigger: they were started in the console.
                    let trigger = trigger.map_or(RunTrigger::Manual, |t| RunTrigger::from(t.as_str()));
                    found.insert(id, trigger);
                }
            }
            Ok(found)
        })
        .await
    }

    /// A run whose ID Zeebe generated learns it after its StartZeebe step: the row takes it, so
    /// that the runs list, the history's triggers and the next proposal see it.
    pub async fn set_run_backup_id(&self, id: i64, backup_id: u64) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE runs SET backup_id = ?2 WHERE id = ?1",
                params![id, backup_id as i64],
            )
            .map(|_| ())
        })
        .await
    }

    /// Records a new run owned by `owner`, unless the cluster already has one running, in this
    /// process or another sharing the database: then `Err` holds that run's ID.
    #[expect(
        clippy::too_many_arguments,
        reason = "one column each; a struct would only rename them"
    )]
    pub async fn create_run(
        &self,
        cluster: String,
        backup_id: u64,
        user: String,
        now_ms: i64,
        report: String,
        owner: String,
        trigger: RunTrigger,
    ) -> Result<Result<i64, i64>, StoreError> {
        self.call(move |c| {
            immediate(c, |c| {
                let running: Option<i64> = c
                    .query_row(
                        "SELECT id FROM runs WHERE cluster = ?1 AND state = ?2 ORDER BY id LIMIT 1",
                        params![cluster, RunState::Running.as_str()],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(id) = running {
                    return Ok(Err(id));
                }
                c.execute(
                    "INSERT INTO runs (cluster, backup_id, started_by, started_ms, state, report, owner, heartbeat_ms, run_trigger) VALUES (?1, ?2, ?3, ?4, ?7, ?5, ?6, ?4, ?8)",
                    params![cluster, backup_id as i64, user, now_ms, report, owner, RunState::Running.as_str(), trigger.as_str()],
                )?;
                Ok(Ok(c.last_insert_rowid()))
            })
        })
        .await
    }

    /// The owner of a run says it is alive. The answer is who asked to cancel it, if anyone did,
    /// or that the run is no longer `owner`'s: another process took it over (review M3).
    pub async fn heartbeat(
        &self,
        id: i64,
        owner: String,
        now_ms: i64,
    ) -> Result<Lease, StoreError> {
        self.call(move |c| {
            let held = c.execute(
                "UPDATE runs SET heartbeat_ms = ?2 WHERE id = ?1 AND owner = ?3",
                params![id, now_ms, owner],
            )?;
            if held == 0 {
                return Ok(Lease::Lost);
            }
            c.query_row(
                "SELECT cancel_by FROM runs WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map(|by| Lease::Held {
                cancel_by: by.flatten(),
            })
        })
        .await
    }

    /// Asks the process running `id` to cancel it; false if the run is not running.
    pub async fn request_cancel(&self, id: i64, by: String) -> Result<bool, StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE runs SET cancel_by = COALESCE(cancel_by, ?2) WHERE id = ?1 AND state = ?3",
                params![id, by, RunState::Running.as_str()],
            )
            .map(|n| n > 0)
        })
        .await
    }

    /// The run in progress on `cluster`, whichever process runs it.
    pub async fn running_run(&self, cluster: String) -> Result<Option<i64>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT id FROM runs WHERE cluster = ?1 AND state = ?2 ORDER BY id LIMIT 1",
                params![cluster, RunState::Running.as_str()],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    /// When the last run of `cluster` that completed ended.
    pub async fn last_completed_run_end(&self, cluster: String) -> Result<Option<i64>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT MAX(ended_ms) FROM runs WHERE cluster = ?1 AND state = ?2",
                params![cluster, RunState::Completed.as_str()],
                |r| r.get(0),
            )
        })
        .await
    }

    /// The state of the latest run of `cluster` that ended.
    pub async fn last_ended_run_state(
        &self,
        cluster: String,
    ) -> Result<Option<RunState>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT state FROM runs WHERE cluster = ?1 AND state != ?2 ORDER BY id DESC LIMIT 1",
                params![cluster, RunState::Running.as_str()],
                |r| r.get::<_, String>(0),
            )
            .optional()
        })
        .await
        .map(|s| s.map(RunState::from))
    }

    /// The state of the latest cleanup of `cluster` that ended.
    pub async fn last_ended_cleanup_state(
        &self,
        cluster: String,
    ) -> Result<Option<String>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT state FROM cleanups WHERE cluster = ?1 AND state != 'running' ORDER BY id DESC LIMIT 1",
                params![cluster],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    /// Whether a cleanup of `cluster` is running, in any process, and which.
    pub async fn running_cleanup(&self, cluster: String) -> Result<Option<i64>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT id FROM cleanups WHERE cluster = ?1 AND state = 'running' ORDER BY id LIMIT 1",
                params![cluster],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    /// Stores a run's progress or end, only while `owner` holds it: `Ok(false)` means another
    /// process took the run over, and this write was not made (review M3).
    pub async fn update_run(
        &self,
        id: i64,
        owner: String,
        state: RunState,
        paused: bool,
        ended_ms: Option<i64>,
        report: String,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE runs SET state = ?2, paused = ?3, ended_ms = ?4, report = ?5 WHERE id = ?1 AND owner = ?6",
                params![id, state.as_str(), paused, ended_ms, report, owner],
            )
            .map(|n| n > 0)
        })
        .await
    }

    fn run_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
        let report: String = r.get(8)?;
        Ok(RunRow {
            id: r.get(0)?,
            cluster: r.get(1)?,
            backup_id: r.get::<_, i64>(2)? as u64,
            started_by: r.get(3)?,
            started_ms: r.get(4)?,
            ended_ms: r.get(5)?,
            state: RunState::from(r.get::<_, String>(6)?),
            paused: r.get(7)?,
            report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
            trigger: r
                .get::<_, Option<String>>(9)?
                .map_or(RunTrigger::Manual, RunTrigger::from),
        })
    }

    const RUN_COLUMNS: &'static str = "id, cluster, backup_id, started_by, started_ms, ended_ms, state, paused, report, run_trigger";

    pub async fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        self.call(move |c| {
            c.query_row(
                &format!("SELECT {} FROM runs WHERE id = ?1", Self::RUN_COLUMNS),
                params![id],
                Self::run_from,
            )
            .optional()
        })
        .await
    }

    pub async fn latest_run(&self, cluster: String) -> Result<Option<RunRow>, StoreError> {
        self.call(move |c| {
            c.query_row(
                &format!(
                    "SELECT {} FROM runs WHERE cluster = ?1 ORDER BY id DESC LIMIT 1",
                    Self::RUN_COLUMNS
                ),
                params![cluster],
                Self::run_from,
            )
            .optional()
        })
        .await
    }

    /// The latest run of `cluster` that ended, whatever it came to.
    pub async fn last_ended_run(&self, cluster: String) -> Result<Option<RunRow>, StoreError> {
        self.call(move |c| {
            c.query_row(
                &format!(
                    "SELECT {} FROM runs WHERE cluster = ?1 AND state != ?2 ORDER BY id DESC LIMIT 1",
                    Self::RUN_COLUMNS
                ),
                params![cluster, RunState::Running.as_str()],
                Self::run_from,
            )
            .optional()
        })
        .await
    }

    /// Takes over the runs whose process stopped saying it was alive before `stale_before_ms`
    /// (it stopped or was killed mid-run): they become `owner`'s to recover, and only its.
    pub async fn claim_stale_runs(
        &self,
        owner: String,
        now_ms: i64,
        stale_before_ms: i64,
    ) -> Result<Vec<RunRow>, StoreError> {
        self.call(move |c| {
            immediate(c, |c| {
                let mut st = c.prepare(&format!(
                    "SELECT {} FROM runs WHERE state = ?3 AND (owner IS NULL OR owner != ?1) \
                     AND COALESCE(heartbeat_ms, 0) < ?2 ORDER BY id",
                    Self::RUN_COLUMNS
                ))?;
                let rows: Vec<RunRow> = st
                    .query_map(
                        params![owner, stale_before_ms, RunState::Running.as_str()],
                        Self::run_from,
                    )?
                    .collect::<rusqlite::Result<_>>()?;
                for row in &rows {
                    c.execute(
                        "UPDATE runs SET owner = ?2, heartbeat_ms = ?3 WHERE id = ?1",
                        params![row.id, owner, now_ms],
                    )?;
                }
                Ok(rows)
            })
        })
        .await
    }
}
