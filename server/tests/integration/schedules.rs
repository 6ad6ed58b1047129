//! Backup schedules, the one scheduler rule and maintenance mode (part 8), against the simulator
//! over real HTTP: a due time fires once across two processes and a restart, a due time while
//! the cluster is busy is skipped with the reason, missed due times are recorded and the newest
//! runs, runs carry their trigger, and maintenance refuses runs, cleanups and due times.

use std::sync::Arc;
use std::time::Duration;

use backup_console::clock::Clock;
use backup_console::config::Config;
use backup_console::scheduler::Scheduler;
use backup_console::services::Services;
use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use backup_domain::schedule::{FireOutcome, RunTrigger, ScheduleKind};
use reqwest::Method;
use serde_json::json;

pub(crate) const MIN: i64 = 60_000;
/// 2026-12-03 10:05:00 UTC: five minutes before a due time of `*/10 * * * *`.
pub(crate) const T0: i64 = 1_796_292_300_000;

/// The services of one console process on `db`, on `clock`, with the cluster's file schedule.
pub(crate) fn process_on(
    cluster: &str,
    db: &std::path::Path,
    clock: &Clock,
) -> (Services, Arc<Scheduler>) {
    process_with(
        &format!("{cluster}\n[clusters.backup]\nschedule = \"*/10 * * * *\"\n"),
        db,
        clock,
    )
}

/// The services of one console process on `db`, on `clock`, for `clusters` (the file's text).
pub(crate) fn process_with(
    clusters: &str,
    db: &std::path::Path,
    clock: &Clock,
) -> (Services, Arc<Scheduler>) {
    let text = format!(
        "[store]\ndatabase = {:?}\n{clusters}",
        db.display().to_string()
    );
    let config = Config::parse(&text, "t", &|_| None).unwrap();
    let services = Services::open_with_clock(&config, clock.clone()).unwrap();
    let scheduler = Arc::new(Scheduler::new(
        services.clusters.clone(),
        services.store.clone(),
        services.runs.clone(),
        services.retention.clone(),
    ));
    (services, scheduler)
}

pub(crate) async fn wait_for_runs_to_end(services: &Services) {
    eventually(Duration::from_secs(30), || async {
        services
            .store
            .running_run("test".into())
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
}

async fn call_as(
    console: &Console,
    session: &Session,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    console.call(method, path, Some(session), Some(body)).await
}

pub(crate) async fn fires(services: &Services) -> Vec<backup_domain::schedule::ScheduleFire> {
    services
        .store
        .recent_fires("test".into(), 50)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_due_time_fires_once_across_two_processes_and_a_restart() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (_, db) = auth_section("");
    let clock = Clock::manual(T0);
    let config = sim.endpoints.console_config("test");
    let (a, scheduler_a) = process_on(&config, &db, &clock);
    let (_b, scheduler_b) = process_on(&config, &db, &clock);
    // Nothing is due before 10:10.
    assert!(scheduler_a.run_due_backups(T0 + 4 * MIN).await.is_empty());

    let due = T0 + 5 * MIN;
    clock.set_ms(due + 1_000);
    let (x, y) = tokio::join!(
        scheduler_a.run_due_backups(due + 1_000),
        scheduler_b.run_due_backups(due + 1_000)
    );
    let handled: Vec<_> = x.into_iter().chain(y).collect();
    assert_eq!(handled.len(), 1, "{handled:?}");
    assert_eq!(handled[0].due_ms, due);
    assert_eq!(handled[0].outcome, FireOutcome::Started, "{handled:?}");
    let run_id = handled[0].started_id.unwrap();
    wait_for_runs_to_end(&a).await;
    let row = a.store.run(run_id).await.unwrap().unwrap();
    assert_eq!(row.trigger, RunTrigger::Schedule);
    assert_eq!(row.started_by, "schedule");
    assert_eq!(
        row.state.as_str(),
        "completed",
        "the scheduled run did not complete: {:?}",
        row.report
    );

    // A restart (a new process on the same database) 20 s later: the due time is not fired again.
    clock.set_ms(due + 20_000);
    let (_c, scheduler_c) = process_on(&config, &db, &clock);
    assert!(scheduler_c.run_due_backups(due + 20_000).await.is_empty());
    assert!(scheduler_a.run_due_backups(due + 30_000).await.is_empty());
    let rows = fires(&a).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let audit = a
        .store
        .audit(backup_console::store::AuditFilter {
            action: Some(backup_domain::audit::AuditAction::BackupStarted),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].detail.as_deref(), Some("trigger: schedule"));
}

#[tokio::test]
async fn a_due_time_while_a_run_holds_the_cluster_is_skipped_with_the_reason_not_queued() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (_, db) = auth_section("");
    let clock = Clock::manual(T0);
    let (a, scheduler) = process_on(&sim.endpoints.console_config("test"), &db, &clock);
    // A run of another process (a `backup` CLI) holds the cluster.
    let other = a
        .store
        .create_run(
            "test".into(),
            5,
            "cli-user".into(),
            T0,
            json!({"backup_id": 5, "steps": [], "outcome": {"outcome": "running"}}).to_string(),
            "another process".into(),
            RunTrigger::Cli,
        )
        .await
        .unwrap()
        .unwrap();
    let due = T0 + 5 * MIN;
    let handled = scheduler.run_due_backups(due + 1_000).await;
    assert_eq!(handled.len(), 1, "{handled:?}");
    assert_eq!(handled[0].outcome, FireOutcome::Skipped);
    let reason = handled[0].reason.clone().unwrap();
    assert!(reason.contains(&format!("run {other}")), "{reason}");
    // Not queued: once the run is gone, the skipped due time does not fire, the next one does.
    a.store
        .update_run(
            other,
            "another process".into(),
            backup_domain::run::RunState::Completed,
            false,
            Some(T0 + 6 * MIN),
            "{}".into(),
        )
        .await
        .unwrap();
    assert!(scheduler.run_due_backups(due + 2 * MIN).await.is_empty());
    let next = scheduler.run_due_backups(due + 10 * MIN + 1_000).await;
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].due_ms, due + 10 * MIN);
    assert_eq!(next[0].outcome, FireOutcome::Started, "{next:?}");
    wait_for_runs_to_end(&a).await;
    let skipped = a
        .store
        .audit(backup_console::store::AuditFilter {
            action: Some(backup_domain::audit::AuditAction::ScheduleSkipped),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(skipped.len(), 1);
}

#[tokio::test]
async fn after_an_outage_the_newest_due_time_runs_and_the_older_ones_are_recorded_missed() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (_, db) = auth_section("");
    let clock = Clock::manual(T0);
    let config = sim.endpoints.console_config("test");
    let (a, scheduler) = process_on(&config, &db, &clock);
    let first = T0 + 5 * MIN;
    assert_eq!(scheduler.run_due_backups(first + 1_000).await.len(), 1);
    wait_for_runs_to_end(&a).await;
    drop(scheduler);

    // Down from 10:11 to 10:45: 10:20 and 10:30 passed more than an interval ago, 10:40 did not.
    let back = first + 35 * MIN;
    clock.set_ms(back);
    let (b, scheduler) = process_on(&config, &db, &clock);
    let handled = scheduler.run_due_backups(back).await;
    assert_eq!(handled.len(), 2, "{handled:?}");
    let missed = &handled[0];
    assert_eq!(missed.outcome, FireOutcome::Missed);
    assert_eq!(missed.due_ms, first + 20 * MIN);
    assert!(
        missed.reason.as_deref().unwrap().starts_with("2 due times"),
        "{missed:?}"
    );
    assert_eq!(handled[1].outcome, FireOutcome::Started, "{handled:?}");
    assert_eq!(handled[1].due_ms, first + 30 * MIN);
    wait_for_runs_to_end(&b).await;
    // Handled once: another tick finds nothing.
    assert!(scheduler.run_due_backups(back + 30_000).await.is_empty());

    // The panel shows the newest due time and the next.
    let view = scheduler
        .schedules(b.clusters.get("test").unwrap())
        .await
        .unwrap();
    let backup = &view.schedules[0];
    assert_eq!(backup.kind, ScheduleKind::Backup);
    assert_eq!(backup.next_ms, Some(first + 40 * MIN));
    assert_eq!(
        backup.last.as_ref().map(|l| l.due_ms),
        Some(first + 30 * MIN)
    );
    assert_eq!(view.recent.len(), 3, "{:?}", view.recent);
}

#[tokio::test]
async fn maintenance_mode_refuses_runs_and_cleanups_skips_due_times_and_is_shown() {
    let sim = start_sim(VersionProfile::V88, 3).await;
    let console = console_for(&sim).await;
    let operator = console.session_for("operator").await;
    let (status, _) = call_as(
        &console,
        &operator,
        Method::PUT,
        "/api/clusters/test/maintenance",
        json!({"enabled": true}),
    )
    .await;
    assert_eq!(status, 403, "an operator may not switch maintenance mode");
    let (status, mode) = call_as(
        &console,
        &console.session,
        Method::PUT,
        "/api/clusters/test/maintenance",
        json!({"enabled": true, "reason": "restore of 8.8 to 3 December"}),
    )
    .await;
    assert_eq!(status, 200, "{mode}");
    assert_eq!(mode["by"], "admin");
    let (_, clusters) = console.get("/api/clusters").await;
    assert_eq!(
        clusters["clusters"][0]["maintenance"]["reason"],
        "restore of 8.8 to 3 December"
    );

    let (status, body) = call_as(
        &console,
        &operator,
        Method::POST,
        "/api/clusters/test/runs",
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "maintenance", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("restore of 8.8"),
        "{body}"
    );
    let (status, body) = call_as(
        &console,
        &console.session,
        Method::POST,
        "/api/clusters/test/cleanups",
        json!({"delete": [], "selected": [1], "confirm": 1}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "maintenance", "{body}");

    let (status, _) = call_as(
        &console,
        &console.session,
        Method::PUT,
        "/api/clusters/test/maintenance",
        json!({"enabled": false}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, clusters) = console.get("/api/clusters").await;
    assert!(clusters["clusters"][0].get("maintenance").is_none());
    let (status, body) = call_as(
        &console,
        &operator,
        Method::POST,
        "/api/clusters/test/runs",
        json!({}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (_, audit) = console.get("/api/audit?action=maintenance_started").await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(1),
        "{audit}"
    );
}

#[tokio::test]
async fn a_due_time_in_maintenance_is_skipped() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (_, db) = auth_section("");
    let clock = Clock::manual(T0);
    let (a, scheduler) = process_on(&sim.endpoints.console_config("test"), &db, &clock);
    backup_console::maintenance::set(
        &a.store,
        &clock,
        "test",
        backup_domain::schedule::MaintenanceUpdate {
            enabled: true,
            reason: Some("upgrade".into()),
        },
        "admin",
        "t",
    )
    .await
    .unwrap();
    let handled = scheduler.run_due_backups(T0 + 5 * MIN + 1_000).await;
    assert_eq!(handled[0].outcome, FireOutcome::Skipped, "{handled:?}");
    assert!(
        handled[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("maintenance")
    );
    assert!(a.store.running_run("test".into()).await.unwrap().is_none());
}

#[tokio::test]
async fn an_admin_saves_pauses_and_enables_the_backup_schedule() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = start_console(&format!(
        "{}\n[clusters.backup]\nschedule = \"0 */6 * * *\"\n",
        sim.endpoints.console_config("test")
    ))
    .await;
    let (status, view) = console.get("/api/clusters/test/schedules").await;
    assert_eq!(status, 200, "{view}");
    let backup = &view["schedules"][0];
    assert_eq!(backup["kind"], "backup");
    assert_eq!(backup["source"], "file");
    assert_eq!(backup["expression"], "0 */6 * * *");
    let next = backup["next_ms"].as_i64().unwrap();
    assert_eq!(next % (6 * 60 * MIN), 0, "{backup}");
    assert_eq!(view["schedules"][1]["kind"], "cleanup");
    assert_eq!(view["schedules"][1]["source"], "none");

    let operator = console.session_for("operator").await;
    let (status, _) = call_as(
        &console,
        &operator,
        Method::PUT,
        "/api/clusters/test/schedules/backup",
        json!({"expression": "*/5 * * * *", "enabled": true}),
    )
    .await;
    assert_eq!(status, 403);
    for bad in [
        json!({"expression": "every day", "enabled": true}),
        json!({"expression": "61 * * * *", "enabled": true}),
        json!({"enabled": true, "cron": "* * * * *"}),
    ] {
        let (status, body) = call_as(
            &console,
            &console.session,
            Method::PUT,
            "/api/clusters/test/schedules/backup",
            bad.clone(),
        )
        .await;
        assert_eq!(status, 400, "{bad} -> {body}");
    }
    let (status, body) = call_as(
        &console,
        &console.session,
        Method::PUT,
        "/api/clusters/test/schedules/weekly",
        json!({"enabled": true}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // The bad requests changed nothing.
    let (_, unchanged) = console.get("/api/clusters/test/schedules").await;
    assert_eq!(unchanged["schedules"][0]["source"], "file");

    let (status, saved) = call_as(
        &console,
        &console.session,
        Method::PUT,
        "/api/clusters/test/schedules/backup",
        json!({"expression": "30 2 * * *", "enabled": true}),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["source"], "console");
    assert_eq!(saved["updated_by"], "admin");
    assert_eq!(
        saved["next_ms"].as_i64().unwrap() % (24 * 60 * MIN),
        (2 * 60 + 30) * MIN
    );
    let (_, paused) = call_as(
        &console,
        &console.session,
        Method::PUT,
        "/api/clusters/test/schedules/backup",
        json!({"enabled": false}),
    )
    .await;
    assert_eq!(paused["enabled"], false);
    assert_eq!(paused["expression"], "30 2 * * *", "pausing keeps it");
    assert!(paused["next_ms"].is_null(), "{paused}");
    // A cleanup schedule's expression is the retention policy's.
    let (status, body) = call_as(
        &console,
        &console.session,
        Method::PUT,
        "/api/clusters/test/schedules/cleanup",
        json!({"expression": "0 3 * * *", "enabled": true}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (_, audit) = console.get("/api/audit?action=schedule_changed").await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(2),
        "{audit}"
    );
}

/// A cluster whose Zeebe schedules its own backups (`zeebe_scheduler = true`): the console takes
/// no backup schedule of its own, says why, and never fires one saved before the switch.
#[tokio::test]
async fn a_console_schedule_is_refused_where_zeebe_schedules_its_own_backups() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let cluster = sim.endpoints.console_config("test");
    let dir = std::env::temp_dir().join(format!("bc-zeebe-sched-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("console.db");
    let clock = Clock::manual(T0);
    let open = |extra: &str| process_with(&format!("{cluster}\n{extra}"), &db, &clock);
    // First without the switch: an admin saves a schedule due every minute.
    let (services, scheduler) = open("");
    let test = services.clusters.get("test").unwrap();
    let every_minute = backup_domain::schedule::ScheduleUpdate {
        expression: Some("* * * * *".into()),
        enabled: true,
    };
    scheduler
        .update(
            test,
            ScheduleKind::Backup,
            every_minute.clone(),
            "admin",
            "-",
        )
        .await
        .unwrap();
    drop((services, scheduler));

    let (services, scheduler) = open("[clusters.backup]\nzeebe_scheduler = true\n");
    let test = services.clusters.get("test").unwrap();
    let view = scheduler.schedules(test).await.unwrap();
    let backup = &view.schedules[0];
    assert!(
        backup
            .refused
            .as_deref()
            .is_some_and(|r| r.contains("Zeebe schedules this cluster's backups itself")),
        "{backup:?}"
    );
    assert_eq!(backup.next_ms, None, "{backup:?}");
    let refused = scheduler
        .update(test, ScheduleKind::Backup, every_minute, "admin", "-")
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("zeebe_scheduler = true"),
        "{refused}"
    );
    // The minute schedule saved before does not fire.
    clock.advance(Duration::from_secs(180));
    scheduler.tick(clock.now_ms()).await;
    assert!(fires(&services).await.is_empty());
    assert!(
        services
            .store
            .running_run("test".into())
            .await
            .unwrap()
            .is_none()
    );

    // Over the API the refusal is a 400 with the reason.
    let console = start_console(&format!(
        "{cluster}\n[clusters.backup]\nzeebe_scheduler = true\n"
    ))
    .await;
    let (status, body) = call_as(
        &console,
        &console.session,
        Method::PUT,
        "/api/clusters/test/schedules/backup",
        json!({"expression": "0 */6 * * *", "enabled": true}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("zeebe_scheduler = true"),
        "{body}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
