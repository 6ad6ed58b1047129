//! Backup runs through the API: started on the server, one per cluster, validated before any
//! call, and recovered after the console stops mid-run.

mod common;

use std::time::Duration;

use backup_domain::api::VersionProfile;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn phases(sim: &backup_console::sim::SimCluster) -> Vec<String> {
    let state: Value = reqwest::get(format!("{}/sim/state", sim.endpoints.control))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["exporting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

async fn run_ends(console: &Console, run_id: i64) -> Value {
    eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["state"] != "running").then_some(run)
    })
    .await
}

#[tokio::test]
async fn an_operator_runs_a_backup_on_the_server_to_a_restorable_set() {
    let sim = start_sim(VersionProfile::V87, 3).await;
    let console = console_for(&sim).await;
    let operator = console.login("operator", PASSWORD).await.unwrap();
    let (status, started) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&operator),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let backup_id = started["backup_id"].as_u64().unwrap();
    let now = chrono::Utc::now().timestamp() as u64;
    assert!(
        backup_id >= now - 5,
        "the proposal follows the clock: {backup_id}"
    );
    assert_eq!(started["steps"].as_array().unwrap().len(), 11);

    let run = run_ends(&console, started["run_id"].as_i64().unwrap()).await;
    assert_eq!(run["state"], "completed", "{run}");
    assert_eq!(run["started_by"], "operator");
    assert!(
        run["report"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "done")
    );
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    let (_, detail) = console
        .get(&format!("/api/clusters/test/backups/{backup_id}"))
        .await;
    assert_eq!(detail["set"]["verdict"], "restorable", "{detail}");
    let (_, latest) = console.get("/api/clusters/test/runs/latest").await;
    assert_eq!(latest["id"], run["id"]);
    let (_, audit) = console.get("/api/audit?cluster=test").await;
    let actions: Vec<(&str, &str)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions[..2],
        [
            ("backup_finished", "success"),
            ("backup_started", "success")
        ]
    );
    assert_eq!(audit["entries"][0]["target"], backup_id.to_string());
}

#[tokio::test]
async fn one_run_per_cluster_even_when_two_starts_race() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let mut slow = fast_timings();
    slow.zeebe_backup_ms = 1_500;
    control(&sim, "/sim/settings", json!({"timings": slow})).await;
    let console = console_for(&sim).await;
    let start = || {
        console.call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({})),
        )
    };
    let ((a, body_a), (b, body_b)) = tokio::join!(start(), start());
    let mut statuses = [a, b];
    statuses.sort();
    assert_eq!(statuses, [202, 409], "{body_a} {body_b}");
    let winner = if a == 202 { &body_a } else { &body_b };
    let (status, again) = start().await;
    assert_eq!(status, 409);
    assert_eq!(again["error"]["code"], "run_in_progress");
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("(run {})", winner["run_id"])),
        "{again}"
    );
    let run = run_ends(&console, winner["run_id"].as_i64().unwrap()).await;
    assert_eq!(run["state"], "completed");
    settle().await;
    let (status, _) = start().await;
    assert_eq!(status, 202, "the cluster is free again");
}

#[tokio::test]
async fn ids_and_preflight_are_checked_before_any_call() {
    let sim = start_sim(VersionProfile::V87, 5).await;
    let console = console_for(&sim).await;
    let (_, history) = console.get("/api/clusters/test/backups").await;
    let highest = history["highest_backup_id"].as_u64().unwrap();
    for id in [json!(0), json!(highest), json!(highest - 10)] {
        let (status, body) = console
            .call(
                Method::POST,
                "/api/clusters/test/runs",
                Some(&console.session),
                Some(json!({"backup_id": id})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{id}: {body}"
        );
    }
    let (_, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({"backup_id": highest})),
        )
        .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("never reused"),
        "{body}"
    );
    let (_, latest) = console.get("/api/clusters/test/runs/latest").await;
    assert!(latest.is_null(), "nothing was started");

    control(&sim, "/sim/exporting", json!({"phase": "SOFT_PAUSED"})).await;
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("preflight_failed")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SOFT_PAUSED")
    );
    control(&sim, "/sim/exporting", json!({"phase": "EXPORTING"})).await;
    control(&sim, "/sim/faults", json!({"component": "optimize", "operation": "list", "action": {"kind": "status", "status": 502}})).await;
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 409);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Optimize is not reachable: Optimize GET /actuator/backups: HTTP 502"),
        "{body}"
    );
}

#[tokio::test]
async fn a_run_interrupted_after_the_pause_is_resumed_and_marked_at_restart() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let cluster = sim.endpoints.console_config("test");
    let (auth, db) = auth_section("");
    // What a console killed mid-run leaves behind: a running run that had paused exporting.
    {
        let store = backup_console::store::Store::open(&db).unwrap();
        let report = json!({"backup_id": 77, "steps": [], "outcome": {"outcome": "running"}, "paused_ms": 1});
        store
            .create_run("test".into(), 77, "operator".into(), 1, report.to_string())
            .await
            .unwrap();
    }
    control(&sim, "/sim/exporting", json!({"phase": "SOFT_PAUSED"})).await;
    let started = std::time::Instant::now();
    let console = start_console_with(&format!("{auth}{cluster}")).await;
    eventually(Duration::from_secs(5), || async {
        (phases(&sim).await == vec!["EXPORTING"; 3]).then_some(())
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let run = eventually(Duration::from_secs(5), || async {
        let (_, run) = console.get("/api/runs/1").await;
        (run["state"] == "interrupted").then_some(run)
    })
    .await;
    assert!(
        run["report"]["interruption"]
            .as_str()
            .unwrap()
            .contains("exporting was resumed at restart")
    );
    let (_, audit) = console.get("/api/audit?action=backup_interrupted").await;
    assert_eq!(audit["entries"][0]["user"], "system");
}
