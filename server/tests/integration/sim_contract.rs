//! The simulator against the contract (`docs/camunda-apis.md`), over real
//! HTTP: status codes per component, error bodies, media types, ID rules and the transient states
//! a console must not mistake for failure.

use std::time::Duration;

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use serde_json::{Value, json};

async fn raw(
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
    accept: Option<&str>,
) -> (u16, String, String) {
    let mut r = reqwest::Client::new().request(method, url);
    if let Some(b) = body {
        r = r.json(&b);
    }
    if let Some(a) = accept {
        r = r.header("Accept", a);
    }
    let response = r.send().await.expect("sim answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (
        status,
        content_type,
        response.text().await.unwrap_or_default(),
    )
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn take_status_codes_and_bodies_differ_per_component() {
    use reqwest::Method;
    let sim = start_sim(VersionProfile::V87, 0).await;
    let e = &sim.endpoints;
    let body = Some(json!({"backupId": "100"})); // a numeric string, as the docs' own example (§1)

    // Zeebe: 202, the message points at actuator/backups (§3.2), actuator media type by default (§1).
    let (s, ct, text) = raw(
        Method::POST,
        &format!("{}/actuator/backups", e.zeebe),
        body.clone(),
        None,
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(ct, "application/vnd.spring-boot.actuator.v3+json");
    assert_eq!(
        json_of(&text)["message"],
        "A backup with id 100 has been scheduled. Use GET actuator/backups/100 to monitor the status."
    );

    // Operate: 200 with the scheduled part names (§5.1).
    let (s, ct, text) = raw(
        Method::POST,
        &format!("{}/actuator/backups", e.operate.as_ref().unwrap()),
        body.clone(),
        None,
    )
    .await;
    assert_eq!((s, ct.as_str()), (200, "application/json"));
    let parts = json_of(&text)["scheduledSnapshots"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(parts.len(), 6);
    assert_eq!(parts[0], "camunda_operate_100_8.7.2_part_1_of_6");

    // Optimize: 202 with a raw string that has a space before the colon (§6).
    let (s, _, text) = raw(
        Method::POST,
        &format!("{}/actuator/backups", e.optimize.as_ref().unwrap()),
        body.clone(),
        None,
    )
    .await;
    assert_eq!(s, 202);
    assert!(
        text.starts_with("{\"message\" : \"Backup creation for ID 100 has been scheduled."),
        "{text}"
    );

    // Duplicates: Optimize 409 conflict, Operate 400, Zeebe 409 even for the same ID (§2, §3.2).
    let (s, _, text) = raw(
        Method::POST,
        &format!("{}/actuator/backups", e.optimize.as_ref().unwrap()),
        body.clone(),
        None,
    )
    .await;
    assert_eq!(s, 409);
    let err = json_of(&text);
    assert_eq!(err["errorCode"], "conflict");
    assert!(err["detailedMessage"].as_str().unwrap().starts_with("A backup with ID [100] already exists. Found snapshots: [camunda_optimize_100_8.7.1_part_1_of_2"));
    settle().await;
    let (s, ct, text) = raw(
        Method::POST,
        &format!("{}/actuator/backups", e.operate.as_ref().unwrap()),
        body.clone(),
        None,
    )
    .await;
    assert_eq!((s, ct.as_str()), (400, "application/problem+json"));
    assert!(
        json_of(&text)["message"]
            .as_str()
            .unwrap()
            .starts_with("A backup with ID [100] already exists.")
    );
    let (s, _, text) = raw(
        Method::POST,
        &format!("{}/actuator/backups", e.zeebe),
        Some(json!({"backupId": 100})),
        None,
    )
    .await;
    assert_eq!(s, 409);
    assert_eq!(
        json_of(&text)["message"],
        "Requested backup has ID 100. The latest backup has ID 100. The backup ID must be greater than the ID of previous backups that are completed, failed, or deleted."
    );

    // A lower ID is fine for the web apps, never for Zeebe; deleting does not free an ID (§2, §3.5).
    let (s, _, _) = raw(
        Method::POST,
        &format!("{}/actuator/backups", e.tasklist.as_ref().unwrap()),
        Some(json!({"backupId": 50})),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, _) = raw(
        Method::DELETE,
        &format!("{}/actuator/backups/100", e.zeebe),
        None,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _, _) = raw(
        Method::DELETE,
        &format!("{}/actuator/backups/424242", e.zeebe),
        None,
        None,
    )
    .await;
    assert_eq!(s, 204, "deleting an unknown ID is a no-op");
    let (s, _, _) = raw(
        Method::POST,
        &format!("{}/actuator/backups", e.zeebe),
        Some(json!({"backupId": 100})),
        None,
    )
    .await;
    assert_eq!(s, 409);

    // Zeebe ID validation and store configuration (§3.8).
    let (s, _, text) = raw(
        Method::POST,
        &format!("{}/actuator/backups", e.zeebe),
        Some(json!({"backupId": 0})),
        None,
    )
    .await;
    assert_eq!(
        (s, json_of(&text)["message"].as_str()),
        (400, Some("A backupId must be provided and it must be > 0"))
    );
    control(
        &sim,
        "/sim/settings",
        json!({"zeebe_store_configured": false}),
    )
    .await;
    let (s, _, text) = raw(
        Method::POST,
        &format!("{}/actuator/backups", e.zeebe),
        Some(json!({"backupId": 900})),
        None,
    )
    .await;
    assert_eq!(s, 400);
    assert!(text.contains("No backup store is configured"), "{text}");
}

#[tokio::test]
async fn exporting_always_answers_200_with_the_real_status_inside() {
    use reqwest::Method;
    let sim = start_sim(VersionProfile::V87, 0).await;
    let zeebe = sim.endpoints.zeebe.clone();
    let (s, _, text) = raw(
        Method::POST,
        &format!("{zeebe}/actuator/exporting/pause?soft=true"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        json_of(&text),
        json!({"body": null, "status": 204, "contentType": null})
    );
    let (_, _, text) = raw(
        Method::GET,
        &format!("{zeebe}/actuator/partitions"),
        None,
        None,
    )
    .await;
    assert_eq!(json_of(&text)["2"]["exporterPhase"], "SOFT_PAUSED");

    control(&sim, "/sim/settings", json!({"topology_complete": false})).await;
    let (s, _, text) = raw(
        Method::POST,
        &format!("{zeebe}/actuator/exporting/resume"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200, "HTTP 200 even though it failed");
    let body = json_of(&text);
    assert_eq!(body["status"], 500);
    assert!(
        body["body"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Expected 3 members of partition 1 but found 2")
    );
    let (_, _, text) = raw(
        Method::GET,
        &format!("{zeebe}/actuator/partitions"),
        None,
        None,
    )
    .await;
    assert_eq!(
        json_of(&text)["1"]["exporterPhase"],
        "SOFT_PAUSED",
        "a failed topology check changes nothing"
    );

    let (s, _, text) = raw(
        Method::POST,
        &format!("{zeebe}/actuator/exporting/foo"),
        None,
        None,
    )
    .await;
    assert_eq!((s, json_of(&text)["status"].as_i64()), (200, Some(500)));
    let (s, _, text) = raw(
        Method::POST,
        &format!("{zeebe}/actuator/rebalance"),
        None,
        None,
    )
    .await;
    assert_eq!((s, text.as_str()), (200, ""));
}

#[tokio::test]
async fn not_found_answers_follow_each_version() {
    use reqwest::Method;
    let sim = start_sim(VersionProfile::V87, 0).await;
    let e = &sim.endpoints;
    let (s, _, text) = raw(
        Method::GET,
        &format!("{}/actuator/backups/7", e.zeebe),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, json_of(&text)["message"].as_str()),
        (404, Some("Backup with id 7 does not exist"))
    );
    // 8.7 before the fixes of §5.1: Operate 400 problem+json, Tasklist Spring's default 500.
    let (s, ct, _) = raw(
        Method::GET,
        &format!("{}/actuator/backups/7", e.operate.as_ref().unwrap()),
        None,
        None,
    )
    .await;
    assert_eq!((s, ct.as_str()), (400, "application/problem+json"));
    let (s, _, text) = raw(
        Method::GET,
        &format!("{}/actuator/backups/7", e.tasklist.as_ref().unwrap()),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, json_of(&text)["error"].as_str()),
        (500, Some("Internal Server Error"))
    );
    let (s, _, text) = raw(
        Method::GET,
        &format!("{}/actuator/backups/7", e.optimize.as_ref().unwrap()),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, json_of(&text)["errorCode"].as_str()),
        (404, Some("notFoundError"))
    );
    let (s, _, text) = raw(
        Method::GET,
        &format!(
            "{}/_snapshot/camunda/camunda_zeebe_records_backup_7",
            e.elasticsearch
        ),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, json_of(&text)["error"]["type"].as_str()),
        (404, Some("snapshot_missing_exception"))
    );
    let (s, _, text) = raw(
        Method::GET,
        &format!(
            "{}/_snapshot/camunda/camunda_zeebe_records_backup_*",
            e.elasticsearch
        ),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, json_of(&text)["snapshots"].as_array().map(Vec::len)),
        (200, Some(0)),
        "a pattern with no match is empty, not 404"
    );
    let (s, _, text) = raw(
        Method::GET,
        &format!("{}/_snapshot/other/x", e.elasticsearch),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, json_of(&text)["error"]["type"].as_str()),
        (404, Some("repository_missing_exception"))
    );
    // Fixed builds answer 404.
    control(
        &sim,
        "/sim/settings",
        json!({"not_found_style": "fixed404"}),
    )
    .await;
    let (s, _, _) = raw(
        Method::GET,
        &format!("{}/actuator/backups/7", e.tasklist.as_ref().unwrap()),
        None,
        None,
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn transient_states_appear_before_completion() {
    use reqwest::Method;
    let sim = start_sim(VersionProfile::V87, 0).await;
    let mut t = fast_timings();
    t.zeebe_registration_ms = 300;
    t.zeebe_backup_ms = 600;
    t.optimize_part_ms = 150;
    t.optimize_gap_ms = 300;
    control(&sim, "/sim/settings", json!({"timings": t})).await;
    take_backup(&sim, 10, &["zeebe", "optimize"]).await;
    let e = &sim.endpoints;
    // Right after the 202, no partition has registered yet: 404 (§3.6 "console advice").
    let (s, _, _) = raw(
        Method::GET,
        &format!("{}/actuator/backups/10", e.zeebe),
        None,
        None,
    )
    .await;
    assert_eq!(s, 404);
    // Optimize between its parts: INCOMPLETE, with no grace period (§6).
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_, _, text) = raw(
        Method::GET,
        &format!("{}/actuator/backups/10", e.optimize.as_ref().unwrap()),
        None,
        None,
    )
    .await;
    assert_eq!(json_of(&text)["state"], "INCOMPLETE");
    // Past the 300 ms registration, the partitions upload.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (_, _, text) = raw(
        Method::GET,
        &format!("{}/actuator/backups/10", e.zeebe),
        None,
        None,
    )
    .await;
    assert_eq!(json_of(&text)["state"], "IN_PROGRESS");
    let zeebe = eventually(Duration::from_secs(5), || async {
        let (_, _, text) = raw(
            Method::GET,
            &format!("{}/actuator/backups/10", e.zeebe),
            None,
            None,
        )
        .await;
        let v = json_of(&text);
        (v["state"] == "COMPLETED").then_some(v)
    })
    .await;
    assert_eq!(zeebe["details"][0]["brokerVersion"], "8.7.2");
    let (_, _, text) = raw(
        Method::GET,
        &format!("{}/actuator/backups/10", e.optimize.as_ref().unwrap()),
        None,
        None,
    )
    .await;
    assert_eq!(json_of(&text)["state"], "COMPLETED");
    // The list is thinner than get-by-id (§3.4).
    let (_, _, text) = raw(
        Method::GET,
        &format!("{}/actuator/backups", e.zeebe),
        None,
        None,
    )
    .await;
    let entry = &json_of(&text)[0]["details"][0];
    assert!(
        entry.get("checkpointPosition").is_none() && entry.get("createdAt").is_some(),
        "{entry}"
    );
}

#[tokio::test]
async fn a_web_apps_backup_runs_one_at_a_time_and_a_stuck_queue_refuses_all() {
    use reqwest::Method;
    let sim = start_sim(VersionProfile::V88, 0).await;
    let url = format!("{}/actuator/backupHistory", sim.endpoints.zeebe);
    let (s, _, _) = raw(Method::POST, &url, Some(json!({"backupId": 1})), None).await;
    assert_eq!(s, 200);
    let (s, _, text) = raw(Method::POST, &url, Some(json!({"backupId": 2})), None).await;
    assert_eq!(
        (s, json_of(&text)["message"].as_str()),
        (400, Some("Another backup is running at the moment"))
    );
    settle().await;
    let (s, _, _) = raw(Method::POST, &url, Some(json!({"backupId": 2})), None).await;
    assert_eq!(s, 200);
    settle().await;
    control(&sim, "/sim/settings", json!({"stuck_queue": ["webapps"]})).await;
    let (s, _, _) = raw(Method::POST, &url, Some(json!({"backupId": 3})), None).await;
    assert_eq!(s, 400, "the #43104 bug: refused until restart");
    // Deletion is accepted at once and carried out after the 204 (§5.2).
    let (s, _, _) = raw(Method::DELETE, &format!("{url}/1"), None, None).await;
    assert_eq!(s, 204);
    let gone = eventually(Duration::from_secs(2), || async {
        let (s, _, _) = raw(Method::GET, &format!("{url}/1"), None, None).await;
        (s == 404).then_some(s)
    })
    .await;
    assert_eq!(gone, 404);
}

#[tokio::test]
async fn faults_fire_for_the_chosen_calls_only() {
    use reqwest::Method;
    let sim = start_sim(VersionProfile::V87, 0).await;
    let optimize = sim.endpoints.optimize.clone().unwrap();
    control(&sim, "/sim/faults", json!({"component": "optimize", "operation": "list", "count": 2, "action": {"kind": "status", "status": 502}})).await;
    let (s, _, text) = raw(
        Method::GET,
        &format!("{optimize}/actuator/backups/1"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 404, "a get is not a list: {text}");
    for _ in 0..2 {
        let (s, _, text) = raw(
            Method::GET,
            &format!("{optimize}/actuator/backups"),
            None,
            None,
        )
        .await;
        assert_eq!(s, 502);
        assert!(
            json_of(&text)["detailedMessage"]
                .as_str()
                .unwrap()
                .starts_with("Encountered an error connecting to Elasticsearch")
        );
    }
    let (s, _, _) = raw(
        Method::GET,
        &format!("{optimize}/actuator/backups"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200, "after two calls the fault is spent");
    let state = reqwest::get(format!("{}/sim/state", sim.endpoints.control))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(state["faults_fired"], 2);
}

/// §7.1–§7.3: a snapshot started without waiting answers at once, then reads IN_PROGRESS (GET)
/// and STARTED (`_status`) until it ends SUCCESS in both.
#[tokio::test]
async fn a_snapshot_started_without_waiting_is_accepted_then_progresses() {
    let sim = start_sim(VersionProfile::V87, 0).await;
    control(
        &sim,
        "/sim/settings",
        json!({"timings": {"records_snapshot_ms": 600}}),
    )
    .await;
    let base = format!(
        "{}/_snapshot/camunda/camunda_zeebe_records_backup_9",
        sim.endpoints.elasticsearch
    );
    let started = std::time::Instant::now();
    let (status, _, body) = raw(
        reqwest::Method::PUT,
        &format!("{base}?wait_for_completion=false"),
        Some(json!({"indices": "zeebe-record*", "feature_states": ["none"]})),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"accepted": true})
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "answered at once"
    );
    let read = |path: String| async move {
        let (status, _, body) = raw(reqwest::Method::GET, &path, None, None).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["snapshots"][0]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(read(base.clone()).await, "IN_PROGRESS");
    assert_eq!(read(format!("{base}/_status")).await, "STARTED");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(read(base.clone()).await, "SUCCESS");
    assert_eq!(read(format!("{base}/_status")).await, "SUCCESS");
}
