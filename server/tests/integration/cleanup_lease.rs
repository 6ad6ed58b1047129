//! A cleanup belongs to the process running it (review L4): a console starting on a database
//! that a `cleanup` CLI is using leaves the CLI's live cleanup alone and refuses to retry it; only
//! a cleanup whose process stopped saying it is alive (10 s) is marked interrupted, and once it
//! has been, the old process can no longer write to it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backup_console::store::Store;
use backup_console_testkit::*;
use backup_domain::Component;
use backup_domain::api::ErrorCode;
use backup_domain::api::VersionProfile;
use backup_domain::retention::{Artifact, CleanupReport};
use camunda_sim::SimCluster;
use reqwest::Method;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_backup-console");
/// The stale threshold of runs and cleanups, with a margin.
const STALE: Duration = Duration::from_millis(10_000 + 1_500);

/// A configuration for the simulated cluster `test` (one delete at a time, a policy that deletes
/// most of the history), its text and the paths of its file and database.
fn config_file(sim: &SimCluster) -> (String, PathBuf, PathBuf) {
    let (auth, db) = auth_section("");
    let cluster = sim.endpoints.console_config("test").replacen(
        "\n[clusters.",
        "\n[clusters.retention]\nkeep_last = 2\nmin_restorable = 1\nkeep_failed = 0\n\n[clusters.",
        1,
    );
    let text = format!("[retention]\nconcurrency = 1\n\n{auth}{cluster}");
    let path = db.with_file_name("console.toml");
    std::fs::write(&path, &text).unwrap();
    (text, path, db)
}

/// Every delete of the simulator takes `ms`.
async fn delete_latency(sim: &SimCluster, ms: i64) {
    let mut timings = fast_timings();
    timings.delete_ms = ms;
    control(sim, "/sim/settings", json!({"timings": timings})).await;
}

fn cli_cleanup(config: &Path) -> Child {
    Command::new(BIN)
        .args(["cleanup", "--config"])
        .arg(config)
        .args(["--cluster", "test", "--allow-large"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

async fn exit_code(child: &mut Child, within: Duration) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(
            started.elapsed() < within,
            "the process did not exit in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn output(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The CLI's cleanup, once it is running and has deleted at least one artifact. Fails at once,
/// with the CLI's output, when the CLI exits before that.
async fn cli_cleanup_underway(db: &Path, cli: &mut Child) -> i64 {
    let store = Store::open(db).unwrap();
    let limit = Duration::from_secs(20);
    let started = Instant::now();
    loop {
        if let Some(id) = running_with_a_delete(&store).await {
            return id;
        }
        if let Some(status) = cli.try_wait().unwrap() {
            panic!(
                "the CLI exited ({status}) before its cleanup was underway\n{}",
                exited_output(cli)
            );
        }
        assert!(
            started.elapsed() < limit,
            "the CLI's cleanup was not underway within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The latest cleanup of `test`, when it is running and has deleted at least one artifact.
async fn running_with_a_delete(store: &Store) -> Option<i64> {
    let row = store.latest_cleanup("test".into(), None).await.ok()??;
    let deleted = row.report["items"]
        .as_array()?
        .iter()
        .any(|i| i["state"] == "deleted");
    (row.state == "running" && deleted).then_some(row.id)
}

/// What an exited child wrote to its piped stdout and stderr, spelled as [`output`] does.
fn exited_output(child: &mut Child) -> String {
    use std::io::Read;
    let (mut stdout, mut stderr) = (String::new(), String::new());
    if let Some(pipe) = child.stdout.as_mut() {
        let _ = pipe.read_to_string(&mut stdout);
    }
    if let Some(pipe) = child.stderr.as_mut() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    format!("stdout: {stdout}\nstderr: {stderr}")
}

async fn stored(db: &Path, id: i64) -> (String, Value) {
    let row = Store::open(db).unwrap().cleanup(id).await.unwrap().unwrap();
    (row.state, row.report)
}

async fn outcome(console: &Console, id: i64) -> String {
    let (status, view) = console.get(&format!("/api/cleanups/{id}")).await;
    assert_eq!(status, 200, "{view}");
    view["report"]["outcome"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn retry(console: &Console, id: i64) -> (u16, Value) {
    console
        .call(
            Method::POST,
            &format!("/api/cleanups/{id}/retry"),
            Some(&console.session),
            None,
        )
        .await
}

#[tokio::test]
async fn a_cli_cleanup_in_progress_survives_a_console_start_and_its_retry_is_refused() {
    let sim = start_sim(VersionProfile::V88, 12).await;
    let (text, path, db) = config_file(&sim);
    delete_latency(&sim, 400).await;
    let mut cli = cli_cleanup(&path);
    let id = cli_cleanup_underway(&db, &mut cli).await;

    let console = start_console_with(&text).await;
    assert_eq!(
        stored(&db, id).await.0,
        "running",
        "the console's start-up left the CLI's live cleanup alone"
    );
    assert_eq!(outcome(&console, id).await, "running");
    let (status, body) = retry(&console, id).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"]["code"],
        ErrorCode::Conflict.as_str(),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("still running"), "{message}");

    // The CLI still owns it: its deletes and its outcome land.
    delete_latency(&sim, 0).await;
    let code = exit_code(&mut cli, Duration::from_secs(60)).await;
    let out = output(cli);
    assert_eq!(code, 0, "{out}");
    assert_eq!(stored(&db, id).await.0, "completed", "{out}");
    assert_eq!(outcome(&console, id).await, "completed");
}

#[tokio::test]
async fn a_silent_cli_loses_its_cleanup_and_cannot_overwrite_what_was_written_after() {
    let sim = start_sim(VersionProfile::V88, 12).await;
    let (text, path, db) = config_file(&sim);
    delete_latency(&sim, 400).await;
    let mut cli = cli_cleanup(&path);
    let id = cli_cleanup_underway(&db, &mut cli).await;

    // The CLI stops saying it is alive (frozen, as a hung or suspended process would be).
    signal(&cli, "STOP");
    tokio::time::sleep(STALE).await;
    let console = start_console_with(&text).await;
    assert_eq!(
        stored(&db, id).await.0,
        "interrupted",
        "a cleanup silent for longer than the stale threshold is interrupted at start-up"
    );
    assert_eq!(outcome(&console, id).await, "interrupted");
    let (_, taken_over) = stored(&db, id).await;

    // The retry deletes what is left; then the old process wakes up.
    delete_latency(&sim, 0).await;
    let (status, retried) = retry(&console, id).await;
    assert_eq!(status, 202, "{retried}");
    let second = retried["cleanup_id"].as_i64().unwrap();
    eventually(Duration::from_secs(20), || async {
        (outcome(&console, second).await != "running").then_some(())
    })
    .await;
    assert_eq!(outcome(&console, second).await, "completed");

    signal(&cli, "CONT");
    let code = exit_code(&mut cli, Duration::from_secs(30)).await;
    let out = output(cli);
    assert_ne!(
        code, 0,
        "the CLI does not report a cleanup it lost as done: {out}"
    );
    let (state, report) = stored(&db, id).await;
    assert_eq!(
        state, "interrupted",
        "the old owner wrote its outcome: {out}"
    );
    assert_eq!(
        report, taken_over,
        "the old owner wrote its progress: {out}"
    );
    assert_eq!(outcome(&console, id).await, "interrupted");
}

/// A cleanup row as another process sharing the database writes it.
fn insert_cleanup(db: &Path, owner: &str, heartbeat_ms: i64) -> i64 {
    let report = CleanupReport::new(
        vec![1],
        vec![Artifact {
            backup_id: 1,
            component: Component::Zeebe,
            description: "3 partitions".into(),
        }],
    );
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        "INSERT INTO cleanups (cluster, started_by, started_ms, state, report) VALUES ('test', 'cli:other', ?1, 'running', ?2)",
        rusqlite::params![heartbeat_ms, serde_json::to_string(&report).unwrap()],
    )
    .unwrap();
    let id = conn.last_insert_rowid();
    conn.execute(
        "UPDATE cleanups SET owner = ?2, heartbeat_ms = ?3 WHERE id = ?1",
        rusqlite::params![id, owner, heartbeat_ms],
    )
    .expect("cleanups have an owner and a heartbeat");
    id
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::test]
async fn only_a_stale_cleanup_is_interrupted_at_start_and_a_live_one_once_it_goes_silent() {
    let sim = start_sim(VersionProfile::V88, 4).await;
    let (text, _, db) = config_file(&sim);
    // The database exists, with its schema, before the other process writes to it.
    drop(Store::open(&db).unwrap());
    let live = insert_cleanup(&db, "pid 4000001 other", now_ms());
    let gone = insert_cleanup(&db, "pid 4000002 gone", now_ms() - 60_000);
    // The other process keeps saying it is alive until told to stop.
    let (stop_tx, mut stop) = tokio::sync::oneshot::channel::<()>();
    let beat_db = db.clone();
    let beating = tokio::spawn(async move {
        let conn = rusqlite::Connection::open(beat_db).unwrap();
        loop {
            conn.execute(
                "UPDATE cleanups SET heartbeat_ms = ?2 WHERE id = ?1",
                rusqlite::params![live, now_ms()],
            )
            .unwrap();
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = &mut stop => return,
            }
        }
    });

    let console = start_console_with(&text).await;
    assert_eq!(stored(&db, gone).await.0, "interrupted");
    assert_eq!(stored(&db, live).await.0, "running");
    assert_eq!(outcome(&console, live).await, "running");
    let (status, body) = retry(&console, live).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("still running"),
        "{body}"
    );
    assert_eq!(
        stored(&db, live).await.0,
        "running",
        "a refused retry changes nothing"
    );

    // The other process goes silent: the console's periodic check interrupts its cleanup.
    let _ = stop_tx.send(());
    beating.await.unwrap();
    let started = Instant::now();
    eventually(STALE + Duration::from_secs(5), || async {
        (stored(&db, live).await.0 == "interrupted").then_some(())
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(9_000),
        "not before its heartbeat was stale: {:?}",
        started.elapsed()
    );
    assert_eq!(outcome(&console, live).await, "interrupted");
}

#[tokio::test]
async fn an_older_database_gains_the_lease_and_only_the_owner_writes_until_taken_over() {
    // A database of a version before cleanups had an owner, with one left running.
    let (_, db) = auth_section("");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE cleanups (id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT NULL, \
         started_by TEXT NOT NULL, started_ms INTEGER NOT NULL, ended_ms INTEGER, \
         state TEXT NOT NULL, report TEXT NOT NULL);
         INSERT INTO cleanups (cluster, started_by, started_ms, state, report) \
         VALUES ('test', 'admin', 1000, 'running', '{}');",
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&db).unwrap();
    let old = store.cleanup(1).await.unwrap().unwrap();
    assert_eq!((old.owner, old.heartbeat_ms), (None, None));
    let now = now_ms();
    let stale_before = now - 10_000;
    // It has no heartbeat: stale, so the next process takes it over.
    assert_eq!(
        store
            .interrupt_stale_cleanups("b".into(), now, stale_before, None)
            .await
            .unwrap(),
        vec![1]
    );

    let id = store
        .create_cleanup("test".into(), "admin".into(), now, "{}".into(), "a".into())
        .await
        .unwrap();
    // Only its owner heartbeats it or writes to it, and nobody takes a fresh one over.
    assert!(store.heartbeat_cleanup(id, "a".into(), now).await.unwrap());
    assert!(!store.heartbeat_cleanup(id, "b".into(), now).await.unwrap());
    assert!(
        !store
            .update_cleanup(id, "b".into(), "completed", Some(now), "{}".into())
            .await
            .unwrap()
    );
    assert!(
        store
            .update_cleanup(id, "a".into(), "running", None, r#"{"n":1}"#.into())
            .await
            .unwrap()
    );
    assert!(
        store
            .interrupt_stale_cleanups("b".into(), now, stale_before, None)
            .await
            .unwrap()
            .is_empty()
    );
    // Once silent past the threshold it is taken over, and the old owner's writes stop landing.
    let later = now + 10_001;
    assert_eq!(
        store
            .interrupt_stale_cleanups("b".into(), later, later - 10_000, Some(id))
            .await
            .unwrap(),
        vec![id]
    );
    assert!(
        !store
            .heartbeat_cleanup(id, "a".into(), later)
            .await
            .unwrap()
    );
    assert!(
        !store
            .update_cleanup(id, "a".into(), "completed", Some(later), "{}".into())
            .await
            .unwrap()
    );
    let row = store.cleanup(id).await.unwrap().unwrap();
    assert_eq!(row.state, "interrupted");
    assert_eq!(row.owner.as_deref(), Some("b"));
    assert_eq!(row.report, json!({"n": 1}));
}
