//! The schema and its numbered migrations. `PRAGMA user_version` holds the number of steps a
//! database has taken; opening one runs the steps it lacks, all in one `BEGIN IMMEDIATE`
//! transaction, so two processes opening a new database together (the console and a `cleanup`
//! CronJob) migrate it once: the second waits for the first and then finds nothing to do.
//!
//! A new step goes at the end of `STEPS`; a step never changes once released.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// The tables of the first version. `IF NOT EXISTS`: a database from before the numbering has
/// them already.
const BASE_TABLES: &str = "
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

type Step = fn(&Connection) -> rusqlite::Result<()>;

/// Step `i` brings a database from version `i` to `i + 1`.
const STEPS: &[Step] = &[
    |c| c.execute_batch(BASE_TABLES),
    // Runs gain their owning process, its heartbeat, and a cancel asked through another process.
    |c| {
        add_missing_columns(
            c,
            "runs",
            &[
                ("owner", "TEXT"),
                ("heartbeat_ms", "INTEGER"),
                ("cancel_by", "TEXT"),
            ],
        )
    },
    // Cleanups gain their owning process and its heartbeat (review L4); a cleanup of an older
    // version has neither, so it counts as stale.
    |c| {
        add_missing_columns(
            c,
            "cleanups",
            &[("owner", "TEXT"), ("heartbeat_ms", "INTEGER")],
        )
    },
    // The backup catalog (part 7): versioned set rows and each cluster's current generation.
    |c| c.execute_batch(CATALOG_TABLES),
    // Schedules (part 8): every due time of a backup or cleanup schedule and what it came to,
    // and what started each run.
    |c| c.execute_batch(SCHEDULE_TABLES),
    // Notifications (part 8): the conditions notified and not yet cleared, and the outbox of
    // deliveries with their retries and lease.
    |c| c.execute_batch(NOTIFY_TABLES),
];

const NOTIFY_TABLES: &str = "
CREATE TABLE notify_conditions (
    cluster     TEXT NOT NULL,
    condition   TEXT NOT NULL,
    -- What raised it (a run's or cleanup's ID, a phase); another value is a new occurrence.
    ref         TEXT NOT NULL,
    since_ms    INTEGER NOT NULL,
    -- Whether any channel was sent it: only then does clearing it send `resolved`.
    notified    INTEGER NOT NULL DEFAULT 0,
    summary     TEXT NOT NULL,
    PRIMARY KEY (cluster, condition)
);
CREATE TABLE notify_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- One occurrence's message to one channel: inserted once, whichever console saw it first.
    dedup_key       TEXT NOT NULL,
    channel         TEXT NOT NULL,
    event           TEXT NOT NULL,
    cluster         TEXT,
    payload         TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    due_ms          INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL,
    last_error      TEXT,
    last_attempt_ms INTEGER,
    lease_owner     TEXT,
    lease_until     INTEGER,
    ended_ms        INTEGER
);
CREATE UNIQUE INDEX notify_outbox_key ON notify_outbox (channel, dedup_key);
CREATE INDEX notify_outbox_due ON notify_outbox (state, due_ms);
";

const SCHEDULE_TABLES: &str = "
CREATE TABLE schedule_fires (
    cluster    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    due_ms     INTEGER NOT NULL,
    at_ms      INTEGER NOT NULL,
    outcome    TEXT NOT NULL,
    reason     TEXT,
    started_id INTEGER,
    owner      TEXT NOT NULL,
    -- One row per due time: inserting it is the claim that makes it fire once.
    PRIMARY KEY (cluster, kind, due_ms)
);
ALTER TABLE runs ADD COLUMN run_trigger TEXT;
";

const CATALOG_TABLES: &str = "
CREATE TABLE catalog_state (
    cluster      TEXT PRIMARY KEY,
    generation   INTEGER NOT NULL,
    refreshed_ms INTEGER NOT NULL,
    summary      TEXT NOT NULL,
    writer       TEXT,
    writer_until INTEGER
);
CREATE TABLE catalog_sets (
    cluster    TEXT NOT NULL,
    backup_id  INTEGER NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to   INTEGER,
    verdict    TEXT NOT NULL,
    digest     INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE UNIQUE INDEX catalog_sets_key ON catalog_sets (cluster, backup_id, valid_from);
-- Covers a page's filter and order, so skipping to a deep page reads no set's body.
CREATE INDEX catalog_sets_page ON catalog_sets (cluster, backup_id, valid_from, valid_to, verdict);
CREATE INDEX catalog_sets_ended ON catalog_sets (cluster, valid_to);
";

/// The version this build writes.
pub(super) const VERSION: usize = STEPS.len();

/// Brings the database to `VERSION`. A database written by a newer console is refused rather
/// than used: this build would not keep what the newer one relies on.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(StoreError::Newer {
            found,
            known: VERSION,
        });
    }
    for step in &STEPS[found..] {
        step(&tx)?;
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Adds those of `columns` that `table` lacks. The steps written before the numbering probe,
/// because a database of that time may have had some of their columns already (it carries
/// version 0 whatever it holds); later steps need not.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn version(c: &Connection) -> usize {
        c.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    fn columns(c: &Connection, table: &str) -> Vec<String> {
        let mut st = c
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_database_from_before_the_numbering_keeps_its_rows_and_gains_what_it_lacks() {
        // As a console of part 4 left it: version 0, `runs` probed to its owner columns already,
        // `cleanups` not yet, one run stored.
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(BASE_TABLES).unwrap();
        STEPS[1](&c).unwrap();
        c.execute(
            "INSERT INTO runs (cluster, backup_id, started_by, started_ms, state, report) VALUES ('prod', 7, 'alice', 1, 'completed', '{}')",
            [],
        )
        .unwrap();
        assert_eq!(version(&c), 0);

        migrate(&mut c).unwrap();
        assert_eq!(version(&c), VERSION);
        assert!(columns(&c, "cleanups").contains(&"heartbeat_ms".to_string()));
        let runs = columns(&c, "runs");
        assert_eq!(runs.iter().filter(|n| *n == "owner").count(), 1);
        let kept: i64 = c
            .query_row(
                "SELECT backup_id FROM runs WHERE cluster = 'prod'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 7);
        // Opening it again takes no step: a step that ran twice would fail on its columns.
        migrate(&mut c).unwrap();
        assert_eq!(version(&c), VERSION);
    }

    #[test]
    fn a_database_of_a_newer_console_is_refused_untouched() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        c.pragma_update(None, "user_version", VERSION + 1).unwrap();
        let error = migrate(&mut c).unwrap_err();
        assert!(
            matches!(error, StoreError::Newer { found, known } if found == VERSION + 1 && known == VERSION),
            "{error}"
        );
        assert!(error.to_string().contains("newer console"), "{error}");
        assert_eq!(version(&c), VERSION + 1);
    }
}
