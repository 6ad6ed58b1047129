//! Hostile review of part 8 (schedules, maintenance, fleet/RPO, status, metrics): what production
//! does to the scheduler and the monitoring surface. A failing test here is a finding.

use std::process::Command;
use std::time::Duration;

use backup_console::clock::Clock;
use backup_console::services::Services;
use backup_console_testkit::*;
use backup_domain::api::{LatestRestorable, VersionProfile};
use backup_domain::fleet::{RpoState, rpo_status};
use backup_domain::schedule::{
    FireOutcome, RunTrigger, ScheduleFire, ScheduleKind, ScheduleUpdate,
};
use reqwest::Method;
use serde_json::{Value, json};

use super::schedules::{MIN, T0, fires, process_on, wait_for_runs_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_backup-console");

async fn runs_count(services: &Services) -> usize {
    let db = rusqlite::Connection::open(db_of(services)).unwrap();
    db.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize
}

thread_local! {
    static DB: std::cell::RefCell<Option<std::path::PathBuf>> = const { std::cell::RefCell::new(None) };
}
fn db_of(_: &Services) -> std::path::PathBuf {
    DB.with(|d| d.borrow().clone().unwrap())
}

/// Runs a statement on the console's database, as a console with another clock would leave it.
fn sqlite(db: &std::path::Path, sql: &str) {
    let db = rusqlite::Connection::open(db).unwrap();
    db.execute_batch(sql).unwrap();
}

fn update(expression: Option<&str>, enabled: bool) -> ScheduleUpdate {
    ScheduleUpdate {
        expression: expression.map(str::to_string),
        enabled,
    }
}

// ---------------------------------------------------------------------------------------------
// Scheduler races and restarts
// ---------------------------------------------------------------------------------------------

/// Three processes on one database tick at the same instant, for two due times in a row: each
/// due time comes to exactly one row and one run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_racing_two_due_times_start_exactly_one_run_each() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (_, db) = auth_section("");
    DB.with(|d| *d.borrow_mut() = Some(db.clone()));
    let clock = Clock::manual(T0);
    let config = sim.endpoints.console_config("test");
    let (a, sa) = process_on(&config, &db, &clock);
    let (_b, sb) = process_on(&config, &db, &clock);
    let (_c, sc) = process_on(&config, &db, &clock);
    for n in 0..2 {
        let due = T0 + 5 * MIN + n * 10 * MIN;
        clock.set_ms(due + 500);
        let (x, y, z) = tokio::join!(
            sa.run_due_backups(due + 500),
            sb.run_due_backups(due + 500),
            sc.run_due_backups(due + 500)
        );
        let handled: Vec<_> = x.into_iter().chain(y).chain(z).collect();
        assert_eq!(handled.len(), 1, "due {n}: {handled:?}");
        assert_eq!(handled[0].outcome, FireOutcome::Started, "{handled:?}");
        wait_for_runs_to_end(&a).await;
    }
    assert_eq!(fires(&a).await.len(), 2);
    assert_eq!(runs_count(&a).await, 2, "one run per due time");
}

/// A process claims a due time and dies before it records what it came to (kill -9, OOM, a
/// node drained). The row must not stay "claimed" forever with nobody telling the admin: the
/// next process should settle it (failed/interrupted, audited) or fire it.
#[tokio::test]
async fn a_due_time_claimed_by_a_process_that_died_is_not_left_claimed_forever() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (_, db) = auth_section("");
    let clock = Clock::manual(T0);
    let config = sim.endpoints.console_config("test");
    let (a, _) = process_on(&config, &db, &clock);
    let due = T0 + 5 * MIN;
    // What handle_due writes first, by a process that then died.
    assert!(
        a.store
            .claim_due(
                "test".into(),
                ScheduleFire {
                    kind: ScheduleKind::Backup,
                    due_ms: due,
                    at_ms: due + 200,
                    outcome: FireOutcome::Claimed,
                    reason: None,
                    started_id: None,
                },
                "pid 4242 deadbeef".into(),
            )
            .await
            .unwrap()
    );
    drop(a);
    // The console is restarted three minutes later and ticks for a while.
    clock.set_ms(due + 3 * MIN);
    let (b, scheduler) = process_on(&config, &db, &clock);
    for s in 0..5 {
        scheduler.run_due_backups(due + 3 * MIN + s * 1_000).await;
    }
    wait_for_runs_to_end(&b).await;
    let rows = fires(&b).await;
    let row = rows.iter().find(|f| f.due_ms == due).unwrap();
    let started_a_run = b.store.latest_run("test".into()).await.unwrap().is_some();
    assert!(
        row.outcome != FireOutcome::Claimed || started_a_run,
        "the due time at {due} is still `claimed` by a dead process, no run was started and \
         nothing says so: {rows:?}"
    );
    if row.outcome != FireOutcome::Started {
        let audit = b
            .store
            .audit(backup_console::store::AuditFilter {
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            audit.iter().any(|e| e
                .target
                .as_deref()
                .is_some_and(|t| t.contains(&due.to_string()))),
            "no audit entry for the lost due time: {audit:?}"
        );
    }
    // The Schedules panel must not show a due time "claimed" minutes later.
    let view = scheduler
        .schedules(b.clusters.get("test").unwrap())
        .await
        .unwrap();
    assert_ne!(
        view.schedules[0].last.as_ref().map(|l| l.outcome.clone()),
        Some(FireOutcome::Claimed),
        "{:?}",
        view.schedules[0]
    );
}

/// A manual run is still *starting* (its preflight is waiting on Zeebe, no row in the database
/// yet) when a due time comes: the due time is skipped with that reason, not started beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_time_while_a_run_is_starting_is_skipped_and_one_run_results() {
    let mut config = camunda_sim::SimConfig::new(VersionProfile::V88);
    config.timings = fast_timings();
    config.timings.hang_ms = 3_000;
    let sim = camunda_sim::SimCluster::start(config).await.unwrap();
    let (_, db) = auth_section("");
    DB.with(|d| *d.borrow_mut() = Some(db.clone()));
    let clock = Clock::manual(T0);
    let text = sim.endpoints.console_config("test");
    let (a, scheduler) = process_on(&text, &db, &clock);
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "any", "count": 1, "action": {"kind": "hang"}}),
    )
    .await;
    let runs = a.runs.clone();
    let clusters = a.clusters.clone();
    let manual = tokio::spawn(async move {
        let cluster = clusters.get("test").unwrap();
        runs.start_as(cluster, "operator", "t", None, RunTrigger::Manual)
            .await
            .map(|s| s.run_id)
            .map_err(|e| e.to_string())
    });
    eventually(Duration::from_secs(2), || async {
        a.runs.holding("test").await.map(|_| ())
    })
    .await;
    let due = T0 + 5 * MIN;
    clock.set_ms(due + 1_000);
    let handled = scheduler.run_due_backups(due + 1_000).await;
    assert_eq!(handled.len(), 1, "{handled:?}");
    assert_eq!(handled[0].outcome, FireOutcome::Skipped, "{handled:?}");
    assert!(
        handled[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("starting"),
        "{handled:?}"
    );
    let _ = manual.await.unwrap();
    wait_for_runs_to_end(&a).await;
    assert!(runs_count(&a).await <= 1, "two runs on one cluster");
}

/// A schedule paused before two due times and enabled again between due times does not fire the
/// due times that passed while it was paused; the next one fires.
#[tokio::test]
async fn a_paused_then_re_enabled_schedule_does_not_fire_the_due_times_that_passed() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (_, db) = auth_section("");
    let clock = Clock::manual(T0);
    let (a, scheduler) = process_on(&sim.endpoints.console_config("test"), &db, &clock);
    let cluster = a.clusters.get("test").unwrap();
    scheduler
        .update(
            cluster,
            ScheduleKind::Backup,
            update(None, false),
            "admin",
            "t",
        )
        .await
        .unwrap();
    // 10:10 and 10:20 pass while paused; ticks do nothing.
    for at in [T0 + 5 * MIN + 1_000, T0 + 15 * MIN + 1_000] {
        clock.set_ms(at);
        assert!(scheduler.run_due_backups(at).await.is_empty());
    }
    // Enabled again at 10:22: neither 10:10 nor 10:20 fires, not even as "late".
    clock.set_ms(T0 + 17 * MIN);
    let view = scheduler
        .update(
            cluster,
            ScheduleKind::Backup,
            update(None, true),
            "admin",
            "t",
        )
        .await
        .unwrap();
    assert_eq!(view.next_ms, Some(T0 + 25 * MIN), "{view:?}");
    let handled = scheduler.run_due_backups(T0 + 17 * MIN + 1_000).await;
    assert!(
        handled.iter().all(|f| f.outcome != FireOutcome::Started),
        "{handled:?}"
    );
    assert!(a.store.latest_run("test".into()).await.unwrap().is_none());
    clock.set_ms(T0 + 25 * MIN + 1_000);
    let next = scheduler.run_due_backups(T0 + 25 * MIN + 1_000).await;
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0].due_ms, T0 + 25 * MIN);
    assert_eq!(next[0].outcome, FireOutcome::Started, "{next:?}");
    wait_for_runs_to_end(&a).await;
}

/// An admin replaces `*/10` by a daily 03:00 one minute before 10:10: 10:10 (the old
/// expression's) does not fire, and the next due time is 03:00.
#[tokio::test]
async fn a_new_expression_does_not_fire_a_due_time_of_the_old_one() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (_, db) = auth_section("");
    let clock = Clock::manual(T0);
    let (a, scheduler) = process_on(&sim.endpoints.console_config("test"), &db, &clock);
    let cluster = a.clusters.get("test").unwrap();
    clock.set_ms(T0 + 4 * MIN);
    assert!(scheduler.run_due_backups(T0 + 4 * MIN).await.is_empty());
    let view = scheduler
        .update(
            cluster,
            ScheduleKind::Backup,
            update(Some("0 3 * * *"), true),
            "admin",
            "t",
        )
        .await
        .unwrap();
    let next = view.next_ms.unwrap();
    assert_eq!(next % (24 * 60 * MIN), 3 * 60 * MIN, "{view:?}");
    for s in [5 * MIN + 1_000, 6 * MIN, 14 * MIN] {
        clock.set_ms(T0 + s);
        let handled = scheduler.run_due_backups(T0 + s).await;
        assert!(handled.is_empty(), "the old expression fired: {handled:?}");
    }
    // Saved in the same second as the old due time, before the tick: still not fired.
    let due = T0 + 15 * MIN;
    scheduler
        .update(
            cluster,
            ScheduleKind::Backup,
            update(Some("*/10 * * * *"), true),
            "admin",
            "t",
        )
        .await
        .unwrap();
    clock.set_ms(due + 100);
    scheduler
        .update(
            cluster,
            ScheduleKind::Backup,
            update(Some("0 3 * * *"), true),
            "admin",
            "t",
        )
        .await
        .unwrap();
    let handled = scheduler.run_due_backups(due + 200).await;
    assert!(handled.is_empty(), "{handled:?}");
    assert!(a.store.latest_run("test".into()).await.unwrap().is_none());
}

// ---------------------------------------------------------------------------------------------
// Maintenance
// ---------------------------------------------------------------------------------------------

/// Maintenance turned on while a run is underway: the run is not cut off halfway (exporting
/// would stay paused); it completes and exporting runs again; the next start is refused.
#[tokio::test]
async fn maintenance_turned_on_during_a_run_lets_it_finish_and_resume_exporting() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let operator = console.session_for("operator").await;
    let (status, started) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&operator),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    let (status, mode) = console
        .call(
            Method::PUT,
            "/api/clusters/test/maintenance",
            Some(&console.session),
            Some(json!({"enabled": true, "reason": "upgrade"})),
        )
        .await;
    assert_eq!(status, 200, "{mode}");
    let run = eventually(Duration::from_secs(30), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] != "running").then_some(run)
    })
    .await;
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
    assert!(
        phases(&sim).await.iter().all(|p| p == "EXPORTING"),
        "{:?}",
        phases(&sim).await
    );
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&operator),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "maintenance");
}

// ---------------------------------------------------------------------------------------------
// Bad input to the PUT endpoints
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_schedule_and_maintenance_endpoints_refuse_bad_input_and_change_nothing() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = start_console(&format!(
        "{}\n[clusters.backup]\nschedule = \"0 */6 * * *\"\n",
        sim.endpoints.console_config("test")
    ))
    .await;
    let put = |path: &'static str, body: Value| {
        let console = &console;
        async move {
            console
                .call(Method::PUT, path, Some(&console.session), Some(body))
                .await
        }
    };
    let huge = "0 ".repeat(600_000);
    let long_valid = format!("{} * * * *", vec!["0"; 3_000].join(","));
    let mut failures = Vec::new();
    for (path, body) in [
        (
            "/api/clusters/test/schedules/backup",
            json!({"expression": huge, "enabled": true}),
        ),
        (
            "/api/clusters/test/schedules/backup",
            json!({"expression": long_valid, "enabled": true}),
        ),
        (
            "/api/clusters/test/schedules/backup",
            json!({"expression": "0 0 31 2 *", "enabled": true}),
        ),
        (
            "/api/clusters/test/schedules/backup",
            json!({"expression": "0 0 30 2 *", "enabled": true}),
        ),
        (
            "/api/clusters/test/schedules/backup",
            json!({"expression": "* * * * * *", "enabled": true}),
        ),
        (
            "/api/clusters/test/schedules/backup",
            json!({"expression": "@daily", "enabled": true}),
        ),
        (
            "/api/clusters/test/schedules/backup",
            json!({"expression": "0 3 * * *\n0 4 * * *", "enabled": true}),
        ),
        (
            "/api/clusters/test/schedules/backup",
            json!({"expression": 5, "enabled": true}),
        ),
        (
            "/api/clusters/test/schedules/backup",
            json!({"enabled": "yes"}),
        ),
        (
            "/api/clusters/test/schedules/backup",
            json!({"expression": "0 3 * * *"}),
        ),
        (
            "/api/clusters/test/schedules/backup",
            json!({"enabled": true, "timezone": "Europe/Berlin"}),
        ),
        ("/api/clusters/test/schedules/backup", json!([])),
        (
            "/api/clusters/test/schedules/Backup",
            json!({"enabled": true}),
        ),
        (
            "/api/clusters/test/schedules/unknown",
            json!({"enabled": true}),
        ),
        (
            "/api/clusters/test/maintenance",
            json!({"enabled": true, "until": 5}),
        ),
        ("/api/clusters/test/maintenance", json!({"enabled": "on"})),
        ("/api/clusters/test/maintenance", json!({"reason": "x"})),
    ] {
        let (status, answer) = put(path, body.clone()).await;
        if !(status == 400 || status == 413 || status == 422) {
            let shown: String = body.to_string().chars().take(80).collect();
            failures.push(format!("{path} {shown} -> {status} {answer}"));
        }
    }
    let (status, _) = put(
        "/api/clusters/nope/schedules/backup",
        json!({"enabled": true}),
    )
    .await;
    if status != 404 {
        failures.push(format!("unknown cluster -> {status}"));
    }
    let (_, view) = console.get("/api/clusters/test/schedules").await;
    let backup = &view["schedules"][0];
    if backup["source"] != "file" || backup["expression"] != "0 */6 * * *" {
        failures.push(format!("a refused request changed the schedule: {backup}"));
    }
    let (_, clusters) = console.get("/api/clusters").await;
    if clusters["clusters"][0]
        .get("maintenance")
        .is_some_and(|m| !m.is_null())
    {
        failures.push(format!(
            "a refused request turned maintenance on: {clusters}"
        ));
    }
    // A viewer and an operator may change neither.
    for user in ["viewer", "operator"] {
        let session = console.session_for(user).await;
        for path in [
            "/api/clusters/test/schedules/backup",
            "/api/clusters/test/maintenance",
        ] {
            let (status, _) = console
                .call(
                    Method::PUT,
                    path,
                    Some(&session),
                    Some(json!({"enabled": false})),
                )
                .await;
            if status != 403 {
                failures.push(format!("{user} PUT {path} -> {status}"));
            }
        }
    }
    // A huge maintenance reason is kept short (or refused), never stored whole.
    let (status, mode) = put(
        "/api/clusters/test/maintenance",
        json!({"enabled": true, "reason": "r".repeat(200_000)}),
    )
    .await;
    if status == 200 {
        let len = mode["reason"].as_str().map(str::len).unwrap_or(0);
        if len > 500 {
            failures.push(format!("a reason of {len} chars was kept"));
        }
    } else if status != 400 && status != 413 {
        failures.push(format!("huge reason -> {status}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// RPO
// ---------------------------------------------------------------------------------------------

#[test]
fn an_rpo_from_a_set_without_a_start_time_is_unknown_never_ok() {
    let now = T0;
    let set = LatestRestorable {
        backup_id: 7,
        started_at_ms: None,
        age_seconds: None,
    };
    let rpo = rpo_status(26, Some(&set), None, None, now);
    assert_eq!(rpo.state, RpoState::Unknown, "{rpo:?}");
}

/// A set stamped a year in the future (a component's clock, a hand-made ID): its age is not
/// known, and it must not hold the RPO at "ok" for a year while no new backup is taken.
#[test]
fn an_rpo_from_a_set_started_in_the_future_is_not_ok() {
    let now = T0;
    let set = LatestRestorable {
        backup_id: 7,
        started_at_ms: Some(now + 365 * 24 * 3_600_000),
        age_seconds: None,
    };
    let rpo = rpo_status(26, Some(&set), None, None, now);
    assert_ne!(rpo.state, RpoState::Ok, "{rpo:?}");
    // A few seconds of clock skew is fine.
    let skewed = LatestRestorable {
        started_at_ms: Some(now + 5_000),
        ..set
    };
    assert_eq!(
        rpo_status(26, Some(&skewed), None, None, now).state,
        RpoState::Ok
    );
}

// ---------------------------------------------------------------------------------------------
// `backup-console status` against the database's catalog
// ---------------------------------------------------------------------------------------------

fn status_blocking(config: &str, db: &std::path::Path) -> (i32, Value) {
    let path = db.with_file_name("status-review.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\ndatabase = {:?}\n{config}",
            db.display().to_string()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["status", "--json", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text})),
    )
}

async fn status_on(config: &str, db: &std::path::Path) -> (i32, Value) {
    let (c, d) = (config.to_string(), db.to_path_buf());
    tokio::task::spawn_blocking(move || status_blocking(&c, &d))
        .await
        .unwrap()
}

/// The console listed backup 100 and stopped; backup 200 was taken since. With the database's
/// catalog fresh the command may use it; stale (older than the refresh interval) or stamped in
/// the future (a console whose clock ran ahead), it must list the cluster itself and see 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_command_uses_a_fresh_catalog_and_lists_past_a_stale_or_future_one() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    take_backup(&sim, 100, &["webapps", "optimize", "records", "zeebe"]).await;
    settle().await;
    let cluster = sim.endpoints.console_config("test");
    let (auth, db) = auth_section("");
    {
        let console = start_console_with(&format!(
            "{auth}[catalog]\nmin_refresh_gap_secs = 0\n{cluster}"
        ))
        .await;
        let (status, _) = console.refresh_catalog().await;
        assert_eq!(status, 200);
        let (_, h) = console.get("/api/clusters/test/backups?per_page=5").await;
        assert_eq!(h["latest_restorable"]["backup_id"], 100, "{h}");
    }
    take_backup(&sim, 200, &["webapps", "optimize", "records", "zeebe"]).await;
    settle().await;

    let newest = |v: &Value| v["clusters"][0]["rpo"]["newest_restorable"]["backup_id"].clone();
    let (code, fresh) = status_on(&cluster, &db).await;
    assert_eq!(code, 0, "{fresh}");
    assert!(newest(&fresh) == 100 || newest(&fresh) == 200, "{fresh}");

    let now = chrono::Utc::now().timestamp_millis();
    sqlite(
        &db,
        &format!(
            "UPDATE catalog_state SET refreshed_ms = {}",
            now - 3 * 3_600_000
        ),
    );
    let (code, stale) = status_on(&cluster, &db).await;
    assert_eq!(code, 0, "{stale}");
    assert_eq!(newest(&stale), 200, "a stale catalog was used: {stale}");

    sqlite(
        &db,
        &format!(
            "UPDATE catalog_state SET refreshed_ms = {}",
            now + 24 * 3_600_000
        ),
    );
    let (code, future) = status_on(&cluster, &db).await;
    assert_eq!(code, 0, "{future}");
    assert_eq!(
        newest(&future),
        200,
        "a catalog stamped a day in the future was taken as fresh: {future}"
    );
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

async fn scrape(console: &Console) -> (u16, String) {
    let response = tokio::time::timeout(
        Duration::from_secs(3),
        reqwest::get(format!("{}/metrics", console.metrics_base)),
    )
    .await
    .expect("a scrape answers within 3 s")
    .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// After runs (one failed), listings and a cleanup, no backup ID appears anywhere in the
/// exposition (label values included), and each operation label is a bounded path.
#[tokio::test]
async fn no_backup_id_appears_anywhere_in_the_metrics() {
    let sim = start_sim(VersionProfile::V88, 6).await;
    let console = console_for(&sim).await;
    let operator = console.session_for("operator").await;
    for fault in [false, true] {
        if fault {
            control(
                &sim,
                "/sim/faults",
                json!({"component": "elasticsearch", "operation": "take", "count": 1,
                       "action": {"kind": "status", "status": 500}}),
            )
            .await;
        }
        let (status, started) = console
            .call(
                Method::POST,
                "/api/clusters/test/runs",
                Some(&operator),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 202, "{started}");
        let id = started["run_id"].as_i64().unwrap();
        eventually(Duration::from_secs(30), || async {
            let (_, run) = console.get(&format!("/api/runs/{id}")).await;
            (run["report"]["outcome"]["outcome"] != "running").then_some(())
        })
        .await;
    }
    let (_, history) = console
        .fresh_get("/api/clusters/test/backups?per_page=100")
        .await;
    let ids: Vec<String> = sets_of(&history)
        .iter()
        .map(|s| s["backup_id"].to_string())
        .collect();
    assert!(ids.len() >= 7, "{history}");
    let (status, text) = scrape(&console).await;
    assert_eq!(status, 200);
    let mut leaks = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let series = line.rsplit_once(' ').map(|(s, _)| s).unwrap_or(line);
        for id in &ids {
            if series.contains(id.as_str()) {
                leaks.push(format!("{id} in {line}"));
            }
        }
        if let Some(start) = series.find("operation=\"") {
            let op = &series[start + 11..];
            let op = &op[..op.find('"').unwrap_or(op.len())];
            // An API version segment (`/v2/...`) is fixed, not an ID.
            let unversioned: String = op
                .split('/')
                .filter(|seg| {
                    !(seg.len() > 1
                        && seg.starts_with('v')
                        && seg[1..].chars().all(|c| c.is_ascii_digit()))
                })
                .collect();
            if unversioned.chars().any(|c| c.is_ascii_digit()) || op.len() > 120 {
                leaks.push(format!("unbounded operation label {op}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

/// A scrape while a listing fails, and while one hangs: it answers at once, says the listing
/// failed, and leaves the set figures out rather than showing stale or zero ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_while_a_listing_fails_or_hangs_answers_and_says_so() {
    let sim = start_sim(VersionProfile::V88, 4).await;
    let console = console_for(&sim).await;
    console.refresh_catalog().await;
    let (_, before) = scrape(&console).await;
    assert!(
        before.contains("c8bc_backup_sets{cluster=\"test\",verdict=\"restorable\"}"),
        "{before}"
    );
    control(
        &sim,
        "/sim/faults",
        json!({"component": "optimize", "operation": "list",
               "action": {"kind": "status", "status": 503}}),
    )
    .await;
    console.refresh_catalog().await;
    let (status, text) = scrape(&console).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("c8bc_catalog_listing_failed{cluster=\"test\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains("c8bc_backup_sets{cluster=\"test\""),
        "{text}"
    );
    assert!(
        !text.contains("c8bc_newest_restorable_backup_timestamp_seconds{cluster=\"test\"}"),
        "{text}"
    );
    // A listing that hangs: the scrape must not wait for it.
    reqwest::Client::new()
        .delete(format!("{}/sim/faults", sim.endpoints.control))
        .send()
        .await
        .unwrap();
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "list", "action": {"kind": "hang"}}),
    )
    .await;
    let refresh = {
        let http = console.http.clone();
        let url = format!("{}/api/clusters/test/catalog/refresh", console.base);
        let s = console.session.clone();
        tokio::spawn(async move {
            let _ = http
                .post(url)
                .header("cookie", s.cookie)
                .header("x-csrf-token", s.csrf)
                .send()
                .await;
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = scrape(&console).await;
    assert_eq!(status, 200);
    refresh.abort();
}

/// The operation label of the upstream histogram: IDs become `{id}`, and nothing else does.
#[test]
fn upstream_operation_labels_replace_ids_and_only_ids() {
    use backup_console::metrics::operation_of;
    assert_eq!(
        operation_of("/actuator/backupRuntime/1733000000"),
        "/actuator/backupRuntime/{id}"
    );
    assert_eq!(
        operation_of("/actuator/backups/17?verbose=true"),
        "/actuator/backups/{id}"
    );
    assert_eq!(
        operation_of("/_snapshot/camunda/camunda_zeebe_records_backup_1733000000"),
        "/_snapshot/camunda/{id}"
    );
    assert_eq!(
        operation_of("/_snapshot/camunda/camunda_operate_1733_2_of_6,camunda_operate_1733_3_of_6"),
        "/_snapshot/camunda/{id}"
    );
    // A trailing slash or a doubled one does not make a new series per ID.
    assert_eq!(
        operation_of("/actuator/backups/17/"),
        "/actuator/backups/{id}/"
    );
    assert_eq!(
        operation_of("/_snapshot/camunda/_all"),
        "/_snapshot/camunda/_all"
    );
}

/// A version segment (Camunda's `/v2/` REST API) is not an ID: `GET /{id}/topology` would be a
/// misleading label (a latent flaw while no client calls a versioned path).
#[test]
fn a_version_segment_is_not_taken_for_an_id() {
    use backup_console::metrics::operation_of;
    assert_eq!(operation_of("/v2/topology"), "/v2/topology");
}

/// The same across two processes on one database: an operator's run is starting in process A
/// (its preflight waits on Zeebe; no row yet) when process B's scheduler reaches a due time.
/// Nothing in the database says A is starting, so B may start; what must hold is that there is
/// never more than one run and B's due time is started or skipped, never failed. (The simulator
/// has no "slow but successful" fault, so A's preflight fails on its 504 here either way.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_time_in_another_process_while_a_run_is_starting_never_makes_two_runs() {
    let mut config = camunda_sim::SimConfig::new(VersionProfile::V88);
    config.timings = fast_timings();
    config.timings.hang_ms = 3_000;
    let sim = camunda_sim::SimCluster::start(config).await.unwrap();
    let (_, db) = auth_section("");
    DB.with(|d| *d.borrow_mut() = Some(db.clone()));
    let clock = Clock::manual(T0);
    let text = sim.endpoints.console_config("test");
    let (a, _) = process_on(&text, &db, &clock);
    let (b, scheduler_b) = process_on(&text, &db, &clock);
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "any", "count": 1, "action": {"kind": "hang"}}),
    )
    .await;
    let runs = a.runs.clone();
    let clusters = a.clusters.clone();
    let manual = tokio::spawn(async move {
        let cluster = clusters.get("test").unwrap();
        runs.start_as(cluster, "operator", "t", None, RunTrigger::Manual)
            .await
            .map(|s| s.run_id)
            .map_err(|e| e.to_string())
    });
    eventually(Duration::from_secs(2), || async {
        a.runs.holding("test").await.map(|_| ())
    })
    .await;
    let due = T0 + 5 * MIN;
    clock.set_ms(due + 1_000);
    let handled = scheduler_b.run_due_backups(due + 1_000).await;
    let manual = manual.await.unwrap();
    wait_for_runs_to_end(&a).await;
    wait_for_runs_to_end(&b).await;
    assert!(runs_count(&a).await <= 1, "two runs on one cluster");
    assert_eq!(handled.len(), 1, "{handled:?}");
    assert!(
        matches!(
            handled[0].outcome,
            FireOutcome::Started | FireOutcome::Skipped
        ),
        "A got {manual:?}; B: {handled:?}"
    );
}

/// In maintenance no due time fires: the fleet view shows no next backup, and the `status`
/// command, reading the same database, must agree rather than promise one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_maintenance_neither_the_fleet_view_nor_the_status_command_shows_a_next_backup() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    take_backup(&sim, 100, &["webapps", "optimize", "records", "zeebe"]).await;
    settle().await;
    let cluster = format!(
        "{}\n[clusters.backup]\nschedule = \"*/10 * * * *\"\n",
        sim.endpoints.console_config("test")
    );
    let (auth, db) = auth_section("");
    {
        let console = start_console_with(&format!(
            "{auth}[catalog]\nmin_refresh_gap_secs = 0\n{cluster}"
        ))
        .await;
        let (_, fleet) = console.get("/api/fleet").await;
        assert!(fleet["clusters"][0]["next_backup_ms"].is_i64(), "{fleet}");
        let (status, _) = console
            .call(
                Method::PUT,
                "/api/clusters/test/maintenance",
                Some(&console.session),
                Some(json!({"enabled": true, "reason": "restore"})),
            )
            .await;
        assert_eq!(status, 200);
        let (_, fleet) = console.get("/api/fleet").await;
        assert!(fleet["clusters"][0]["next_backup_ms"].is_null(), "{fleet}");
    }
    let (_, out) = status_on(&cluster, &db).await;
    assert_eq!(
        out["clusters"][0]["maintenance"]["reason"], "restore",
        "{out}"
    );
    assert!(
        out["clusters"][0]["next_backup_ms"].is_null(),
        "the status command promises a scheduled backup during maintenance: {out}"
    );
}
