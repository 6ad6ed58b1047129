//! The embedded SQLite database of the console: sessions (so they survive a restart), the
//! append-only audit log, backup runs, retention (policies, pins, cleanups) and small settings.
//! One `Store` per process; several processes may share the file (the console and the CLI).
//! Every call runs on the blocking pool, never on the async threads.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

mod audit;
mod catalog;
mod notify;
mod retention;
mod runs;
mod schedules;
mod schema;
mod sessions;
mod settings;

pub use audit::{AuditFilter, AuditRecord};
pub use catalog::{CHUNK as CATALOG_CHUNK, CatalogFilter, CatalogHead, CatalogPage, CatalogWrite};
pub use notify::{Attempt, ConditionRow, OutboxInsert, OutboxRow};
pub use retention::{CleanupRow, StoredPolicy};
pub use runs::{Lease, RunRow};
pub use sessions::SessionRow;

/// How long a statement waits for another process's write lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "the database was written by a newer console (schema version {found}; this one knows {known}): run that version, or restore the database from before the upgrade"
    )]
    Newer { found: usize, known: usize },
    #[error("database task failed: {0}")]
    Task(String),
}

/// The database holds session CSRF tokens, the proxy secret and the audit log: only the console's
/// own user may read it. A new file is created 0600 before SQLite opens it (SQLite gives its WAL
/// and journal files the database file's mode), and an existing one is narrowed to 0600.
///
/// An existing file is never opened here: closing any descriptor of a file drops every POSIX lock
/// this process holds on it, those of its open SQLite connections included, and another process
/// could then checkpoint and delete the WAL under them (the database reads as malformed after).
fn restrict_to_owner(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        // Fails harmlessly when the file exists; then no descriptor was opened.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        if path.exists()
            && let Err(error) =
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        {
            tracing::warn!(path = %path.display(), %error, "cannot restrict the database to its owner");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
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

/// Switches to write-ahead logging, so readers never wait for the writer. SQLite does not wait for
/// a lock to change the journal mode (it answers "locked" at once while another process creates
/// the database), so this retries for as long as any statement would wait.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let started = std::time::Instant::now();
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// The catalog's own connection: a page read or a refresh chunk never queues in this
    /// process behind sessions, heartbeats or the pause checkpoint, nor they behind it.
    catalog: Arc<Mutex<Connection>>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        restrict_to_owner(path);
        let open_error = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_error)?;
        // The wait comes first: another process may hold the lock while it creates or migrates
        // the database, and every statement below must wait for it rather than fail.
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        use_wal(&conn).map_err(open_error)?;
        schema::migrate(&mut conn)?;
        let catalog = Connection::open(path).map_err(open_error)?;
        catalog.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            catalog: Arc::new(Mutex::new(catalog)),
        })
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        Store::call_on(self.conn.clone(), f).await
    }

    async fn call_catalog<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        Store::call_on(self.catalog.clone(), f).await
    }

    async fn call_on<T: Send + 'static>(
        conn: Arc<Mutex<Connection>>,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
        .map_err(StoreError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backup_domain::api::Role;

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("bc-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("console.db")
    }

    /// The console and a `cleanup` CLI started together on a new database (a pod and its
    /// CronJob) both create and migrate it: neither may fail for the other's lock or columns.
    #[test]
    fn processes_opening_a_new_database_together_all_succeed() {
        for round in 0..20 {
            let path = temp_db(&format!("together-{round}"));
            let opened: Vec<Result<Store, StoreError>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..6).map(|_| s.spawn(|| Store::open(&path))).collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("open panicked"))
                    .collect()
            });
            for result in opened {
                if let Err(error) = result {
                    panic!("round {round}: {error}");
                }
            }
        }
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
        use backup_domain::audit::{AuditAction, AuditOutcome};
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
                    cluster: None,
                    target: None,
                    outcome: AuditOutcome::Success,
                    detail: None,
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
        assert_eq!(alice[0].action, AuditAction::Logout);
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

    /// Rows written by a later version (an action or outcome this build does not know) read back
    /// with their text, rather than failing the whole page.
    #[tokio::test]
    async fn unknown_stored_actions_and_outcomes_read_back_as_written() {
        use backup_domain::audit::{AuditAction, AuditOutcome};
        let store = Store::open(&temp_db("audit-unknown")).unwrap();
        store
            .append_audit(AuditRecord {
                at_ms: 1,
                user: "alice".into(),
                client: "-".into(),
                action: AuditAction::from("restore_started"),
                cluster: None,
                target: None,
                outcome: AuditOutcome::from("partial"),
                detail: None,
            })
            .await
            .unwrap();
        let filter = |action: Option<AuditAction>| AuditFilter {
            action,
            limit: 10,
            ..Default::default()
        };
        let read = store.audit(filter(None)).await.unwrap();
        assert_eq!(
            read[0].action,
            AuditAction::Unknown("restore_started".into())
        );
        assert_eq!(read[0].outcome.as_str(), "partial");
        assert_eq!(
            store
                .audit(filter(Some(AuditAction::Login)))
                .await
                .unwrap()
                .len(),
            0
        );
    }
}
