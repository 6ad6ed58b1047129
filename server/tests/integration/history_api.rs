//! The history API against the simulated cluster over real HTTP: what an administrator sees when
//! backups complete, fail, are orphaned, or when a component does not answer.

use std::time::{Duration, Instant};

use backup_console_testkit::*;
use backup_domain::api::ErrorCode;
use backup_domain::api::VersionProfile;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

async fn history_when(
    console: &Console,
    cluster: &str,
    id: u64,
    verdict: &str,
) -> serde_json::Value {
    eventually(WAIT, || async {
        let (status, body) = console
            .fresh_get(&format!("/api/clusters/{cluster}/backups"))
            .await;
        assert_eq!(status, 200, "{body}");
        let found = body["sets"]
            .as_array()?
            .iter()
            .any(|s| s["backup_id"] == id && s["verdict"] == verdict);
        found.then_some(body)
    })
    .await
}

#[tokio::test]
async fn a_87_cluster_joins_every_component_and_judges_each_set() {
    let sim = start_sim(VersionProfile::V87, 0).await;
    let console = console_for(&sim).await;
    let all = ["operate", "tasklist", "optimize", "records", "zeebe"];

    take_backup(&sim, 100, &all).await;
    settle().await;
    control(
        &sim,
        "/sim/outcome",
        json!({"component": "zeebe", "outcome": "failed"}),
    )
    .await;
    take_backup(&sim, 200, &all).await;
    settle().await;
    // An aborted procedure: only the web apps were backed up.
    take_backup(&sim, 300, &["operate", "tasklist"]).await;
    settle().await;
    control(
        &sim,
        "/sim/outcome",
        json!({"component": "tasklist", "outcome": "partial"}),
    )
    .await;
    take_backup(&sim, 400, &all).await;

    let h = history_when(&console, "test", 400, "not_restorable").await;
    assert_eq!(h["profile"], "8.7");
    assert_eq!(
        h["components"],
        json!([
            "zeebe",
            "operate",
            "tasklist",
            "optimize",
            "records_snapshot"
        ])
    );
    let ids: Vec<u64> = h["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["backup_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![400, 300, 200, 100], "newest first");

    let ok = set(&h, 100);
    assert_eq!(ok["verdict"], "restorable");
    assert_eq!(
        component(ok, "zeebe")["progress"],
        json!({"done": 3, "total": 3})
    );
    assert_eq!(
        component(ok, "operate")["progress"],
        json!({"done": 6, "total": 6})
    );
    assert_eq!(component(ok, "optimize")["versions"], json!(["8.7.1"]));

    let failed = set(&h, 200);
    assert_eq!(failed["verdict"], "not_restorable");
    assert_eq!(component(failed, "zeebe")["state"], "failed");
    let reason = failed["reasons"][0].as_str().unwrap();
    assert!(reason.starts_with("Zeebe failed: Backup on partition 1 failed due to Backup is cancelled due to leader change."), "{reason}");

    let orphan = set(&h, 300);
    assert_eq!(orphan["verdict"], "not_restorable");
    for missing in ["zeebe", "optimize", "records_snapshot"] {
        assert_eq!(component(orphan, missing)["state"], "missing", "{missing}");
    }
    assert!(
        orphan["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "Zeebe has no backup with this ID (orphaned set)")
    );

    let partial = set(&h, 400);
    assert_eq!(component(partial, "tasklist")["state"], "failed");
    assert!(
        partial["reasons"][0]
            .as_str()
            .unwrap()
            .contains("Some of the snapshots are partial: camunda_tasklist_400_8.7.2_part_2_of_6")
    );

    assert_eq!(
        h["counts"],
        json!({"restorable": 1, "restorable_partial": 0, "in_progress": 0, "not_restorable": 3, "unknown": 0})
    );
    assert_eq!(h["latest_restorable"]["backup_id"], 100);
    assert_eq!(h["highest_backup_id"], 400);
    let phases: Vec<&str> = h["exporting"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, vec!["EXPORTING"; 3]);
}

#[tokio::test]
async fn a_running_backup_is_in_progress_until_every_component_completes() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let mut slow = fast_timings();
    slow.zeebe_backup_ms = 1_500;
    control(&sim, "/sim/settings", json!({"timings": slow})).await;
    take_backup(&sim, 500, &["webapps", "optimize", "records", "zeebe"]).await;

    // Every moment of the run reads in progress, never not restorable; wait for Zeebe's upload.
    let h = eventually(WAIT, || async {
        let (_, h) = console.fresh_get("/api/clusters/test/backups").await;
        let s = h["sets"]
            .as_array()?
            .iter()
            .find(|s| s["backup_id"] == 500)?
            .clone();
        assert_eq!(s["verdict"], "in_progress", "{s}");
        (component(&s, "zeebe")["state"] == "in_progress").then_some(h)
    })
    .await;
    let running = set(&h, 500);
    assert!(
        running["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("Zeebe is still running")
    );
    history_when(&console, "test", 500, "restorable").await;
}

#[tokio::test]
async fn a_88_cluster_reads_runtime_and_history_backups() {
    let sim = start_sim(VersionProfile::V88, 12).await;
    let console = console_for(&sim).await;
    let (status, h) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(status, 200);
    assert_eq!(h["profile"], "8.8");
    assert_eq!(
        h["components"],
        json!(["zeebe", "webapps", "optimize", "records_snapshot"])
    );
    let sets = h["sets"].as_array().unwrap();
    assert!(sets.len() >= 11, "seeded sets are listed: {}", sets.len());
    // The three newest seeded sets are always complete.
    for s in &sets[..3] {
        assert_eq!(s["verdict"], "restorable", "{s}");
        assert_eq!(
            component(s, "webapps")["progress"],
            json!({"done": 5, "total": 5})
        );
    }
    assert_eq!(h["latest_restorable"]["backup_id"], sets[0]["backup_id"]);
    let age = h["latest_restorable"]["age_seconds"].as_i64().unwrap();
    assert!((0..7 * 3600).contains(&age), "age {age}");
    let sum: u64 = [
        "restorable",
        "restorable_partial",
        "in_progress",
        "not_restorable",
        "unknown",
    ]
    .iter()
    .map(|k| h["counts"][k].as_u64().unwrap())
    .sum();
    assert_eq!(sum as usize, sets.len());
}

#[tokio::test]
async fn a_component_that_is_down_is_unknown_and_the_rest_still_works() {
    let sim = start_sim(VersionProfile::V87, 0).await;
    take_backup(
        &sim,
        100,
        &["operate", "tasklist", "optimize", "records", "zeebe"],
    )
    .await;
    // A port nobody listens on: connection refused, as for a pod that is down.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let optimize = sim.endpoints.optimize.clone().unwrap();
    let text = sim
        .endpoints
        .console_config("test")
        .replace(&optimize, &format!("http://127.0.0.1:{closed}"));
    let console = start_console(&text).await;

    let h = history_when(&console, "test", 100, "unknown").await;
    let s = set(&h, 100);
    assert_eq!(component(s, "optimize")["state"], "unknown");
    assert_eq!(component(s, "zeebe")["state"], "completed");
    assert_eq!(component(s, "operate")["state"], "completed");
    let error = h["component_errors"][0].clone();
    assert_eq!(error["component"], "optimize");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{error}"
    );
    assert!(
        h["latest_restorable"].is_null(),
        "an unknown set is never counted restorable"
    );

    let (status, clusters) = console.get("/api/clusters").await;
    assert_eq!(status, 200);
    let health = clusters["clusters"][0]["components"].as_array().unwrap();
    let by_name = |n: &str| health.iter().find(|c| c["component"] == n).unwrap().clone();
    assert_eq!(by_name("optimize")["reachability"], "unreachable");
    assert_eq!(by_name("zeebe")["reachability"], "up");
    assert_eq!(by_name("records_snapshot")["reachability"], "up");
}

#[tokio::test]
async fn upstream_errors_timeouts_and_dropped_connections_become_unknown() {
    let sim = start_sim(VersionProfile::V87, 0).await;
    take_backup(
        &sim,
        100,
        &["operate", "tasklist", "optimize", "records", "zeebe"],
    )
    .await;
    let text = sim.endpoints.console_config("test").replace(
        "version = \"8.7\"",
        "version = \"8.7\"\nrequest_timeout_secs = 1",
    );
    let console = start_console(&text).await;
    history_when(&console, "test", 100, "restorable").await;

    control(&sim, "/sim/faults", json!({"component": "operate", "operation": "list", "count": 1, "action": {"kind": "status", "status": 502}})).await;
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "list", "count": 1, "action": {"kind": "hang"}}),
    )
    .await;
    control(&sim, "/sim/faults", json!({"component": "elasticsearch", "operation": "list", "count": 1, "action": {"kind": "drop"}})).await;
    control(&sim, "/sim/faults", json!({"component": "optimize", "operation": "list", "count": 1, "action": {"kind": "malformed"}})).await;

    let started = Instant::now();
    let (status, h) = console.fresh_get("/api/clusters/test/backups").await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(3),
        "the hang is cut by the 1 s timeout, took {took:?}"
    );
    let messages: Vec<(String, String)> = h["component_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["component"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let message = |c: &str| {
        messages
            .iter()
            .find(|(n, _)| n == c)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    };
    assert!(
        message("operate").contains("HTTP 502: Encountered an error connecting to Elasticsearch"),
        "{messages:?}"
    );
    assert!(
        message("zeebe").contains("no answer within 1 s"),
        "{messages:?}"
    );
    assert!(
        message("records_snapshot").contains("connection failed")
            || message("records_snapshot").contains("unexpected answer"),
        "{messages:?}"
    );
    assert!(
        message("optimize").contains("unexpected answer"),
        "{messages:?}"
    );
    // Zeebe did not answer, so no set is listed from it; the others still are, and none is restorable.
    let s = set(&h, 100);
    assert_eq!(s["verdict"], "unknown");
    assert!(h["latest_restorable"].is_null());

    // The faults were for one call each: the next read is whole again.
    history_when(&console, "test", 100, "restorable").await;
}

#[tokio::test]
async fn exporting_phase_is_read_per_partition_and_unknown_when_unreadable() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let (status, body) = post(
        &format!("{}/actuator/exporting/pause?soft=true", sim.endpoints.zeebe),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("\"status\":204"), "{body}");

    let (_, h) = console.fresh_get("/api/clusters/test/backups").await;
    let phases: Vec<&str> = h["exporting"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, vec!["SOFT_PAUSED"; 3]);

    control(&sim, "/sim/faults", json!({"component": "zeebe", "operation": "partitions", "count": 1, "action": {"kind": "status", "status": 500}})).await;
    let (_, h) = console.fresh_get("/api/clusters/test/backups").await;
    assert!(h["exporting"]["partitions"].as_array().unwrap().is_empty());
    assert!(
        h["exporting"]["error"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{}",
        h["exporting"]
    );
}

#[tokio::test]
async fn detail_reads_every_partition_and_part_despite_not_found_quirks() {
    // 8.7 as shipped before the fixes of §5.1: Operate answers 400, Tasklist 500 for unknown IDs.
    let sim = start_sim(VersionProfile::V87, 0).await;
    let console = console_for(&sim).await;
    take_backup(&sim, 700, &["optimize", "records", "zeebe"]).await;
    eventually(WAIT, || async {
        let (_, d) = console.fresh_get("/api/clusters/test/backups/700").await;
        (component(&d["set"], "zeebe")["state"] == "completed").then_some(())
    })
    .await;

    let (status, d) = console.fresh_get("/api/clusters/test/backups/700").await;
    assert_eq!(status, 200);
    let s = &d["set"];
    assert_eq!(
        component(s, "operate")["state"],
        "missing",
        "a 400 quirk is read as absence, not failure"
    );
    assert_eq!(
        component(s, "tasklist")["state"],
        "missing",
        "a 500 quirk is read as absence, not failure"
    );
    let partitions = component(s, "zeebe")["partitions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(partitions.len(), 3);
    assert!(
        partitions
            .iter()
            .all(|p| p["checkpoint_position"].is_i64() && p["snapshot_id"].is_string())
    );
    let parts = component(s, "optimize")["parts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["name"], "camunda_optimize_700_8.7.1_part_1_of_2");
    assert_eq!(
        component(s, "records_snapshot")["parts"][0]["state"],
        "SUCCESS"
    );
    // Zeebe, Optimize and the records snapshot completed; the web apps have nothing under 700.
    assert_eq!(s["verdict"], "restorable_partial");
    assert_eq!(
        s["reasons"].as_array().unwrap().len(),
        2,
        "{}",
        s["reasons"]
    );

    // A 500 that is a real failure (the ID is listed) stays an error, not absence.
    take_backup(&sim, 800, &["operate", "tasklist"]).await;
    control(&sim, "/sim/faults", json!({"component": "tasklist", "operation": "get", "count": 1, "action": {"kind": "status", "status": 500}})).await;
    let (_, d) = console.fresh_get("/api/clusters/test/backups/800").await;
    assert_ne!(component(&d["set"], "tasklist")["state"], "missing");

    let (status, body) = console.fresh_get("/api/clusters/test/backups/12345").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], ErrorCode::BackupNotFound.as_str());
    let (status, body) = console.fresh_get("/api/clusters/test/backups/abc").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], ErrorCode::BadRequest.as_str());
}

#[tokio::test]
async fn unknown_clusters_and_routes_answer_with_the_error_envelope() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let (status, body) = console.get("/api/clusters/nope/backups").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], ErrorCode::ClusterNotFound.as_str());
    assert_eq!(
        body["error"]["message"],
        "no cluster named `nope` is configured"
    );
    let (status, body) = console.get("/api/nothing/here").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], ErrorCode::RouteNotFound.as_str());
    let (status, body) = console.get("/api/health").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
}
