//! The real binary as an administrator runs it: the `backup` CLI (exit codes, signals, a detached
//! run), and a console killed with SIGKILL while exporting is paused, then started again.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use camunda_sim::SimCluster;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_backup-console");

/// A configuration file for the simulated cluster `test`, with its database beside it.
fn config_file(sim: &SimCluster) -> (PathBuf, PathBuf) {
    let (auth, db) = auth_section("");
    let path = db.with_file_name("console.toml");
    std::fs::write(
        &path,
        format!("{auth}{}", sim.endpoints.console_config("test")),
    )
    .unwrap();
    (path, db)
}

async fn slow_zeebe(sim: &SimCluster, ms: i64) {
    let mut timings = fast_timings();
    timings.zeebe_backup_ms = ms;
    control(sim, "/sim/settings", json!({"timings": timings})).await;
}

/// Waits for a child to exit, without blocking the runtime.
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

fn cli(config: &std::path::Path, extra: &[&str]) -> Child {
    Command::new(BIN)
        .args(["backup", "--config"])
        .arg(config)
        .args(["--cluster", "test"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn output(child: Child) -> (String, String) {
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

async fn run_state(db: &std::path::Path, backup_id: u64) -> Option<String> {
    let store = backup_console::store::Store::open(db).unwrap();
    let row = store.latest_run("test".into()).await.unwrap()?;
    (row.backup_id == backup_id).then_some(row.state.to_string())
}

fn started_id(stdout: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("started run "))
        .unwrap_or_else(|| panic!("no start line in {stdout}"));
    line.split("backup ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no backup ID in {line}"))
}

#[tokio::test]
async fn the_cli_runs_a_backup_and_its_exit_code_tells_the_outcome() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (config, db) = config_file(&sim);

    let mut child = cli(&config, &["--wait"]);
    assert_eq!(exit_code(&mut child, Duration::from_secs(30)).await, 0);
    let (stdout, stderr) = output(child);
    let id = started_id(&stdout);
    assert!(
        stdout.contains(&format!(
            "backup {id} of test completed; exporting was soft-paused for"
        )),
        "{stdout}"
    );
    assert!(stderr.contains("Resume Zeebe exporting: done"), "{stderr}");
    assert_eq!(run_state(&db, id).await.as_deref(), Some("completed"));

    // An ID at or below the highest is refused before any call: exit 2, nothing started.
    let mut child = cli(&config, &["--wait", "--id", &id.to_string()]);
    assert_eq!(exit_code(&mut child, Duration::from_secs(20)).await, 2);
    let (_, stderr) = output(child);
    assert!(stderr.contains("greater than"), "{stderr}");

    // A failing step: exit 5, named, and exporting resumed.
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "take", "action": {"kind": "status", "status": 500}}),
    )
    .await;
    let mut child = cli(&config, &["--wait"]);
    assert_eq!(exit_code(&mut child, Duration::from_secs(30)).await, 5);
    let (stdout, _) = output(child);
    assert!(
        stdout.contains("failed at \"Start the Zeebe backup\""),
        "{stdout}"
    );
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);

    // A preflight failure (Zeebe down): exit 4.
    control(&sim, "/sim/faults", json!({"component": "zeebe", "operation": "list", "action": {"kind": "status", "status": 503}})).await;
    let mut child = cli(&config, &["--wait"]);
    assert_eq!(exit_code(&mut child, Duration::from_secs(30)).await, 4);
}

#[tokio::test]
async fn sigterm_cancels_the_cli_run_and_exporting_is_resumed_before_it_exits() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    slow_zeebe(&sim, 20_000).await;
    let (config, db) = config_file(&sim);
    let mut child = cli(&config, &["--wait"]);
    eventually(Duration::from_secs(15), || async {
        (phases(&sim).await == vec!["SOFT_PAUSED"; 3]).then_some(())
    })
    .await;
    signal(&child, "TERM");
    assert_eq!(exit_code(&mut child, Duration::from_secs(15)).await, 6);
    assert_eq!(
        phases(&sim).await,
        vec!["EXPORTING"; 3],
        "resumed before the exit"
    );
    let (stdout, _) = output(child);
    let id = started_id(&stdout);
    assert!(stdout.contains("cancelled by signal SIGTERM"), "{stdout}");
    assert_eq!(run_state(&db, id).await.as_deref(), Some("cancelled"));
}

#[tokio::test]
async fn without_wait_the_run_goes_on_after_the_cli_has_returned() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    slow_zeebe(&sim, 1_500).await;
    let (config, db) = config_file(&sim);
    let mut child = cli(&config, &[]);
    assert_eq!(exit_code(&mut child, Duration::from_secs(20)).await, 0);
    let (stdout, _) = output(child);
    let id = started_id(&stdout);
    assert!(stdout.contains("continuing in process"), "{stdout}");
    eventually(Duration::from_secs(20), || async {
        (run_state(&db, id).await.as_deref() == Some("completed")).then_some(())
    })
    .await;
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);

    // While a run goes on, another start is refused with exit 3.
    slow_zeebe(&sim, 20_000).await;
    let mut first = cli(&config, &[]);
    assert_eq!(exit_code(&mut first, Duration::from_secs(20)).await, 0);
    let mut second = cli(&config, &["--wait"]);
    assert_eq!(exit_code(&mut second, Duration::from_secs(20)).await, 3);
    let (first_out, _) = output(first);
    let running = started_id(&first_out);
    // Cancel the detached run through the database, as the console's Cancel button would.
    let store = backup_console::store::Store::open(&db).unwrap();
    let run = store.latest_run("test".into()).await.unwrap().unwrap();
    assert_eq!(run.backup_id, running);
    assert!(store.request_cancel(run.id, "test".into()).await.unwrap());
    eventually(Duration::from_secs(15), || async {
        (run_state(&db, running).await.as_deref() == Some("cancelled")).then_some(())
    })
    .await;
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(config: &std::path::Path, port: u16) -> Child {
    Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--ui-dir",
            "/nonexistent",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A logged-in session on a console started with `serve`.
struct Served {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

async fn log_in(port: u16) -> Served {
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(10), || async {
        http.get(format!("{base}/api/health"))
            .send()
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    let login = http
        .post(format!("{base}/api/login"))
        .header("x-requested-with", "backup-console")
        .json(&json!({"username": "operator", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let session: Value = login.json().await.unwrap();
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    Served {
        http,
        base,
        cookie,
        csrf,
    }
}

impl Served {
    async fn start_run(&self) -> Value {
        self.http
            .post(format!("{}/api/clusters/test/runs", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn sigterm_to_the_console_resumes_exporting_and_records_the_run_before_it_exits() {
    // Review H1: a rolled pod or `systemctl stop` during a run, here while the run polls a
    // minute-long Zeebe backup.
    sigterm_during_a_run(false).await;
}

#[tokio::test]
async fn sigterm_does_not_wait_for_a_request_in_flight() {
    // The Zeebe backup request hangs (the simulator holds it 30 s): the stop drops it.
    sigterm_during_a_run(true).await;
}

async fn sigterm_during_a_run(hung_request: bool) {
    let sim = start_sim(VersionProfile::V88, 0).await;
    slow_zeebe(&sim, 60_000).await;
    if hung_request {
        control(
            &sim,
            "/sim/faults",
            json!({"component": "zeebe", "operation": "take", "action": {"kind": "hang"}}),
        )
        .await;
    }
    let (config, db) = config_file(&sim);
    let port = free_port();
    let mut console = serve(&config, port);
    let served = log_in(port).await;
    let started = served.start_run().await;
    let run_id = started["run_id"].as_i64().expect("a run started");
    let backup_id = started["backup_id"].as_u64().unwrap();
    eventually(Duration::from_secs(15), || async {
        (phases(&sim).await == vec!["SOFT_PAUSED"; 3]).then_some(())
    })
    .await;
    if hung_request {
        // Past the pause and the web-apps steps: the Zeebe request is the one in flight.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    }
    // A browser following the run: its event stream must not hold the shutdown open.
    let events = served
        .http
        .get(format!("{}/api/runs/{run_id}/events", served.base))
        .header("cookie", &served.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let follower = tokio::spawn(async move { events.bytes().await.map(|b| b.len()) });

    let signalled = Instant::now();
    signal(&console, "TERM");
    let code = exit_code(&mut console, Duration::from_secs(20)).await;
    let took = signalled.elapsed();
    eprintln!("SIGTERM to exit with a run in progress (hung request: {hung_request}): {took:?}");
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(10), "{took:?}");
    // Nothing was restarted: the stopping console resumed exporting itself.
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    let store = backup_console::store::Store::open(&db).unwrap();
    let row = store.run(run_id).await.unwrap().unwrap();
    assert_eq!(row.backup_id, backup_id);
    assert_eq!(
        row.state,
        backup_domain::run::RunState::Interrupted,
        "{:?}",
        row.report
    );
    assert!(!row.paused);
    let reason = row.report["outcome"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("console was stopped"), "{reason}");
    assert!(reason.contains("resumed"), "{reason}");
    if hung_request {
        assert!(
            reason.contains("Zeebe"),
            "stopped at the hung Zeebe step: {reason}"
        );
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(2), follower)
            .await
            .is_ok(),
        "the event stream ended with the process"
    );
}

#[tokio::test]
async fn a_console_killed_while_exporting_is_paused_resumes_it_once_restarted_and_the_lease_is_stale()
 {
    let sim = start_sim(VersionProfile::V88, 0).await;
    slow_zeebe(&sim, 60_000).await;
    let (config, _db) = config_file(&sim);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut console = serve(&config, port);
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(10), || async {
        http.get(format!("{base}/api/health"))
            .send()
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    let login = http
        .post(format!("{base}/api/login"))
        .header("x-requested-with", "backup-console")
        .json(&json!({"username": "operator", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let session: Value = login.json().await.unwrap();
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    let started: Value = http
        .post(format!("{base}/api/clusters/test/runs"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = started["run_id"].as_i64().expect("a run started");
    eventually(Duration::from_secs(15), || async {
        (phases(&sim).await == vec!["SOFT_PAUSED"; 3]).then_some(())
    })
    .await;

    console.kill().unwrap(); // SIGKILL: no cleanup of any kind runs.
    let killed = Instant::now();
    console.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        phases(&sim).await,
        vec!["SOFT_PAUSED"; 3],
        "the kill left exporting paused"
    );

    // The restarted console cannot tell a dead owner from one held up by a locked database
    // until the lease is stale (STALE_AFTER_MS, above SQLite's busy timeout); then it resumes.
    let stale = Duration::from_millis(backup_console::procedure::service::STALE_AFTER_MS as u64);
    let mut console = serve(&config, port);
    eventually(stale + Duration::from_secs(10), || async {
        (phases(&sim).await == vec!["EXPORTING"; 3]).then_some(())
    })
    .await;
    let took = killed.elapsed();
    assert!(
        took < stale + Duration::from_secs(5),
        "exporting resumed {took:?} after the kill"
    );
    let state = eventually(Duration::from_secs(5), || async {
        let r = http
            .get(format!("{base}/api/runs/{run_id}"))
            .header("cookie", &cookie)
            .send()
            .await
            .ok()?;
        let run: Value = r.json().await.ok()?;
        let state = run["report"]["outcome"]["outcome"].as_str()?.to_string();
        (state != "running").then_some(state)
    })
    .await;
    assert_eq!(state, "interrupted");
    console.kill().unwrap();
    let _ = console.wait();
}

#[tokio::test]
async fn the_cleanup_cli_previews_with_dry_run_then_deletes_the_plan() {
    let sim = start_sim(VersionProfile::V88, 12).await;
    let (auth, _db) = auth_section("");
    let path = _db.with_file_name("console.toml");
    let cluster = sim.endpoints.console_config("test").replacen(
        "\n[clusters.",
        "\n[clusters.retention]\nkeep_last = 2\nmin_restorable = 1\nkeep_failed = 0\n\n[clusters.",
        1,
    );
    std::fs::write(&path, format!("{auth}{cluster}")).unwrap();
    // On the blocking pool: the simulator answers from this test's own runtime meanwhile.
    let run = |extra: &[&str]| {
        let mut command = Command::new(BIN);
        command
            .args(["cleanup", "--config"])
            .arg(&path)
            .args(["--cluster", "test"])
            .args(extra);
        async move {
            tokio::task::spawn_blocking(move || command.output().unwrap())
                .await
                .unwrap()
        }
    };
    let listed = |sim: &SimCluster| {
        let url = format!("{}/actuator/backupRuntime", sim.endpoints.zeebe);
        async move {
            let list: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            list.as_array().map_or(0, Vec::len)
        }
    };
    let before = listed(&sim).await;
    let dry = run(&["--dry-run"]).await;
    assert_eq!(dry.status.code(), Some(0));
    let text = String::from_utf8_lossy(&dry.stdout).into_owned();
    let planned = text.lines().filter(|l| l.starts_with("delete ")).count();
    assert!(planned > 3, "{text}");
    assert!(
        text.contains(&format!("would delete {planned} sets")),
        "{text}"
    );
    assert_eq!(listed(&sim).await, before, "a dry run deletes nothing");

    // Keeping 2 of 12 deletes most of the history: without --allow-large it refuses.
    let refused = run(&[]).await;
    let err = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(err.contains("more than half"), "{err}");
    assert_eq!(
        listed(&sim).await,
        before,
        "a refused cleanup deletes nothing"
    );

    let real = run(&["--allow-large"]).await;
    let text = String::from_utf8_lossy(&real.stdout).into_owned();
    assert_eq!(real.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!(": {planned} sets,")), "{text}");
    assert!(text.contains(" 0 failed"), "{text}");
    assert!(listed(&sim).await < before);
    let again = run(&["--dry-run"]).await;
    assert!(String::from_utf8_lossy(&again.stdout).contains("would delete 0 sets"));
}
