//! The embedded SQLite database: sessions (so they survive a restart) and the append-only audit
//! log; backup runs and retention policies join them later. Every call runs on the blocking pool,
//! never on the async threads.

use std::path::Path;
use std::sync::{Arc, Mutex};

use backup_domain::api::{AuditEntry, Role};
use rusqlite::{Connection, OptionalExtension, params};

mod retention;
pub use retention::{CleanupRow, StoredPolicy};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("database task failed: {0}")]
    Task(String),
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA busy_timeout = 5000;
CREATE TABLE IF NOT EXISTS sessions (
    token_hash   TEXT PRIMARY KEY,
    user         TEXT NOT NULL,
    role         TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    user    TEXT NOT NULL,
    client  TEXT NOT NULL,
    action  TEXT NOT NULL,
    cluster TEXT,
    target  TEXT,
    outcome TEXT NOT NULL,
    detail  TEXT
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at_ms);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS retention_policies (
    cluster     TEXT PRIMARY KEY,
    policy      TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pins (
    cluster    TEXT NOT NULL,
    backup_id  INTEGER NOT NULL,
    pinned_by  TEXT NOT NULL,
    pinned_ms  INTEGER NOT NULL,
    PRIMARY KEY (cluster, backup_id)
);
CREATE TABLE IF NOT EXISTS cleanups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster     TEXT NOT NULL,
    started_by  TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    ended_ms    INTEGER,
    state       TEXT NOT NULL,
    report      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster     TEXT NOT NULL,
    backup_id   INTEGER NOT NULL,
    started_by  TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    ended_ms    INTEGER,
    state       TEXT NOT NULL,
    paused      INTEGER NOT NULL DEFAULT 0,
    report      TEXT NOT NULL
);
";

/// The database holds session CSRF tokens, the proxy secret and the audit log: only the console's
/// own user may read it. The file is created 0600 before SQLite opens it (SQLite gives its WAL
/// and journal files the database file's mode), and an existing one is narrowed to 0600.
fn restrict_to_owner(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path);
        if created.is_ok()
            && let Err(error) =
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        {
            tracing::warn!(path = %path.display(), %error, "cannot restrict the database to its owner");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

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
    /// `running`, `completed`, `failed`, `exporting_still_paused` or `interrupted`.
    pub state: String,
    /// Exporting was paused by this run and not yet confirmed resumed.
    pub paused: bool,
    pub report: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user: String,
    pub role: Role,
    pub csrf_token: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
}

/// What to write to the audit log; the store adds the ID.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord {
    pub at_ms: i64,
    pub user: String,
    pub client: String,
    pub action: String,
    pub cluster: Option<String>,
    pub target: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<String>,
    pub action: Option<String>,
    pub cluster: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: usize,
}

/// Adds to `table` those of `columns` an older database lacks.
fn add_missing_columns(
    conn: &Connection,
    table: &str,
    columns: &[(&str, &str)],
) -> rusqlite::Result<()> {
    let mut st = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
    let present: Vec<String> = st
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, kind) in columns {
        if !present.iter().any(|c| c == name) {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {name} {kind}"))?;
        }
    }
    Ok(())
}

/// Columns added to `runs` after its first version: the process running it (`owner`), when that
/// process last said it was alive (`heartbeat_ms`), and a cancel asked through another process.
fn migrate_runs(conn: &Connection) -> rusqlite::Result<()> {
    add_missing_columns(
        conn,
        "runs",
        &[
            ("owner", "TEXT"),
            ("heartbeat_ms", "INTEGER"),
            ("cancel_by", "TEXT"),
        ],
    )
}

/// Columns added to `cleanups` after its first version: the process running it and when it last
/// said it was alive (review L4). A cleanup of an older version has neither: it counts as stale.
fn migrate_cleanups(conn: &Connection) -> rusqlite::Result<()> {
    add_missing_columns(
        conn,
        "cleanups",
        &[("owner", "TEXT"), ("heartbeat_ms", "INTEGER")],
    )
}

/// Runs `f` inside `BEGIN IMMEDIATE`: the write lock is taken first, so two processes sharing the
/// database cannot both read "no run in progress" and both start one.
fn immediate<T>(
    c: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    c.execute_batch("BEGIN IMMEDIATE")?;
    match f(c) {
        Ok(value) => {
            c.execute_batch("COMMIT")?;
            Ok(value)
        }
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        restrict_to_owner(path);
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        conn.execute_batch(SCHEMA)?;
        migrate_runs(&conn)?;
        migrate_cleanups(&conn)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
        .map_err(StoreError::from)
    }

    /// A value kept across restarts, created by `init` the first time it is asked for.
    pub async fn setting(&self, key: &'static str, init: String) -> Result<String, StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)",
                params![key, init],
            )?;
            c.query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
        })
        .await
    }

    pub async fn get_setting(&self, key: String) -> Result<Option<String>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    pub async fn put_setting(&self, key: String, value: String) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
        })
        .await
    }

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

    pub async fn create_session(
        &self,
        token_hash: String,
        user: String,
        role: Role,
        csrf: String,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO sessions (token_hash, user, role, csrf_token, created_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![token_hash, user, role.label(), csrf, now_ms],
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn session(&self, token_hash: String) -> Result<Option<SessionRow>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT user, role, csrf_token, created_ms, last_seen_ms FROM sessions WHERE token_hash = ?1",
                params![token_hash],
                |r| {
                    let role: String = r.get(1)?;
                    Ok(SessionRow {
                        user: r.get(0)?,
                        // A role no longer known falls to the weakest one.
                        role: Role::parse(&role).unwrap_or(Role::Viewer),
                        csrf_token: r.get(2)?,
                        created_ms: r.get(3)?,
                        last_seen_ms: r.get(4)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    pub async fn touch_session(&self, token_hash: String, now_ms: i64) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE sessions SET last_seen_ms = ?2 WHERE token_hash = ?1",
                params![token_hash, now_ms],
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn delete_session(&self, token_hash: String) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                params![token_hash],
            )
            .map(|_| ())
        })
        .await
    }

    /// Ends every session of `user`; returns how many.
    pub async fn delete_sessions_of(&self, user: String) -> Result<usize, StoreError> {
        self.call(move |c| c.execute("DELETE FROM sessions WHERE user = ?1", params![user]))
            .await
    }

    /// Drops sessions past either timeout; returns how many.
    pub async fn purge_sessions(
        &self,
        now_ms: i64,
        idle_ms: i64,
        absolute_ms: i64,
    ) -> Result<usize, StoreError> {
        self.call(move |c| {
            c.execute(
                "DELETE FROM sessions WHERE last_seen_ms < ?1 OR created_ms < ?2",
                params![now_ms - idle_ms, now_ms - absolute_ms],
            )
        })
        .await
    }

    pub async fn append_audit(&self, record: AuditRecord) -> Result<i64, StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO audit (at_ms, user, client, action, cluster, target, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![record.at_ms, record.user, record.client, record.action, record.cluster, record.target, record.outcome, record.detail],
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
                params![filter.user, filter.action, filter.cluster, filter.from_ms, filter.to_ms, filter.limit as i64],
                |r| {
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        at_ms: r.get(1)?,
                        user: r.get(2)?,
                        client: r.get(3)?,
                        action: r.get(4)?,
                        cluster: r.get(5)?,
                        target: r.get(6)?,
                        outcome: r.get(7)?,
                        detail: r.get(8)?,
                    })
                },
            )?;
            rows.collect()
        })
        .await
    }

    /// Records a new run owned by `owner`, unless the cluster already has one running, in this
    /// process or another sharing the database: then `Err` holds that run's ID.
    pub async fn create_run(
        &self,
        cluster: String,
        backup_id: u64,
        user: String,
        now_ms: i64,
        report: String,
        owner: String,
    ) -> Result<Result<i64, i64>, StoreError> {
        self.call(move |c| {
            immediate(c, |c| {
                let running: Option<i64> = c
                    .query_row(
                        "SELECT id FROM runs WHERE cluster = ?1 AND state = 'running' ORDER BY id LIMIT 1",
                        params![cluster],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(id) = running {
                    return Ok(Err(id));
                }
                c.execute(
                    "INSERT INTO runs (cluster, backup_id, started_by, started_ms, state, report, owner, heartbeat_ms) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?4)",
                    params![cluster, backup_id as i64, user, now_ms, report, owner],
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
                "UPDATE runs SET cancel_by = COALESCE(cancel_by, ?2) WHERE id = ?1 AND state = 'running'",
                params![id, by],
            )
            .map(|n| n > 0)
        })
        .await
    }

    /// The run in progress on `cluster`, whichever process runs it.
    pub async fn running_run(&self, cluster: String) -> Result<Option<i64>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT id FROM runs WHERE cluster = ?1 AND state = 'running' ORDER BY id LIMIT 1",
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
        state: &'static str,
        paused: bool,
        ended_ms: Option<i64>,
        report: String,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE runs SET state = ?2, paused = ?3, ended_ms = ?4, report = ?5 WHERE id = ?1 AND owner = ?6",
                params![id, state, paused, ended_ms, report, owner],
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
            state: r.get(6)?,
            paused: r.get(7)?,
            report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
        })
    }

    const RUN_COLUMNS: &'static str =
        "id, cluster, backup_id, started_by, started_ms, ended_ms, state, paused, report";

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
                    "SELECT {} FROM runs WHERE state = 'running' AND (owner IS NULL OR owner != ?1) \
                     AND COALESCE(heartbeat_ms, 0) < ?2 ORDER BY id",
                    Self::RUN_COLUMNS
                ))?;
                let rows: Vec<RunRow> = st
                    .query_map(params![owner, stale_before_ms], Self::run_from)?
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

    /// Tries to change the audit log, to show the triggers refuse it.
    #[cfg(test)]
    async fn try_tamper_audit(&self) -> Result<usize, StoreError> {
        self.call(|c| c.execute("DELETE FROM audit", [])).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("bc-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("console.db")
    }

    #[tokio::test]
    async fn sessions_survive_reopening_and_expire_by_either_timeout() {
        let path = temp_db("sessions");
        let store = Store::open(&path).unwrap();
        store
            .create_session(
                "a".into(),
                "alice".into(),
                Role::Admin,
                "csrf-a".into(),
                1_000,
            )
            .await
            .unwrap();
        store
            .create_session(
                "b".into(),
                "bob".into(),
                Role::Viewer,
                "csrf-b".into(),
                1_000,
            )
            .await
            .unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        let a = store.session("a".into()).await.unwrap().unwrap();
        assert_eq!(
            (a.user.as_str(), a.role, a.csrf_token.as_str()),
            ("alice", Role::Admin, "csrf-a")
        );
        store.touch_session("a".into(), 5_000).await.unwrap();
        // Idle 2 s: b (last seen at 1 s) goes, a (seen at 5 s) stays; absolute 100 s.
        assert_eq!(
            store.purge_sessions(6_000, 2_000, 100_000).await.unwrap(),
            1
        );
        assert!(store.session("b".into()).await.unwrap().is_none());
        // Absolute 4 s: a was created at 1 s, so it goes too, however recently seen.
        assert_eq!(store.purge_sessions(6_000, 2_000, 4_000).await.unwrap(), 1);
        assert!(store.session("a".into()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_audit_log_filters_newest_first_and_cannot_be_changed() {
        let store = Store::open(&temp_db("audit")).unwrap();
        for (i, (user, action)) in [
            ("alice", "login"),
            ("bob", "login_failed"),
            ("alice", "logout"),
        ]
        .into_iter()
        .enumerate()
        {
            store
                .append_audit(AuditRecord {
                    at_ms: i as i64 * 10,
                    user: user.into(),
                    client: "127.0.0.1".into(),
                    action: action.into(),
                    outcome: "success".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let all = store
            .audit(AuditFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            vec!["logout", "login_failed", "login"]
        );
        let alice = store
            .audit(AuditFilter {
                user: Some("alice".into()),
                from_ms: Some(5),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(alice.len(), 1);
        assert_eq!(alice[0].action, "logout");
        let err = store.try_tamper_audit().await.unwrap_err().to_string();
        assert!(err.contains("append-only"), "{err}");
        assert_eq!(
            store
                .audit(AuditFilter {
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len(),
            3
        );
    }
}
