//! The RDBMS profile (8.9+, research §1.5): the simulator's side against the contract (no history
//! backup, `backupRuntime/state`, Zeebe's own scheduler and its generated IDs), then the console's
//! history, a full backup without a pause, cleanup, and who triggered each set.

use std::time::Duration;

use backup_console_testkit::*;
use camunda_sim::state::ZeebeScheduler;
use camunda_sim::{SimCluster, SimConfig};
use serde_json::{Value, json};

async fn start_rdbms(scheduler: Option<ZeebeScheduler>, seed: usize) -> SimCluster {
    let mut config = SimConfig::rdbms(scheduler);
    config.timings = fast_timings();
    config.seed_count = seed;
    SimCluster::start(config).await.expect("simulator starts")
}

/// A scheduler that only fires when a test asks it to (its interval is an hour).
fn idle_scheduler() -> Option<ZeebeScheduler> {
    Some(ZeebeScheduler {
        interval_ms: 3_600_000,
        offset: 0,
    })
}

async fn get_json(url: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .expect("sim answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_simulated_rdbms_cluster_has_no_history_backup_elasticsearch_or_optimize() {
    let sim = start_rdbms(None, 0).await;
    let e = &sim.endpoints;
    assert!(e.elasticsearch.is_empty() && e.optimize.is_none() && e.operate.is_none());
    let config = e.console_config("c");
    assert!(config.contains("version = \"8.9\""), "{config}");
    assert!(config.contains("secondary_storage = \"rdbms\""), "{config}");
    assert!(!config.contains("elasticsearch") && !config.contains("zeebe_scheduler"));

    // backupHistory is active only with ES/OS (§5.2): Spring's 404 for a missing endpoint.
    let (status, body) = post(
        &format!("{}/actuator/backupHistory", e.zeebe),
        json!({"backupId": 5}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("\"path\":\"/actuator/backupHistory\""),
        "{body}"
    );
    let (status, _) = get_json(&format!("{}/actuator/backupHistory", e.zeebe)).await;
    assert_eq!(status, 404);

    // Without a scheduler a take needs its ID; the 8.9 answer carries it beside the message.
    let (status, body) = post(&format!("{}/actuator/backupRuntime", e.zeebe), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("A backupId must be provided"), "{body}");
    let (status, body) = post(
        &format!("{}/actuator/backupRuntime", e.zeebe),
        json!({"backupId": 40}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["backupId"], 40);
}

#[tokio::test]
async fn backup_runtime_state_reports_checkpoint_types_and_ranges() {
    let sim = start_rdbms(idle_scheduler(), 0).await;
    let e = &sim.endpoints;
    assert!(e.console_config("c").contains("zeebe_scheduler = true"));

    // With the scheduler on, a named ID is refused as the 8.9 code does (§3.2).
    let (status, body) = post(
        &format!("{}/actuator/backupRuntime", e.zeebe),
        json!({"backupId": 7}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("without specifying a backupId"), "{body}");

    let scheduled = sim
        .sim
        .write()
        .take_scheduled_backup(camunda_sim_now())
        .expect("a scheduled backup");
    tokio::time::sleep(Duration::from_millis(20)).await;
    // A take without a body: the ID is generated from the time (13 digits) and answered.
    let r = reqwest::Client::new()
        .post(format!("{}/actuator/backupRuntime", e.zeebe))
        .send()
        .await
        .expect("sim answers");
    assert_eq!(r.status().as_u16(), 202);
    let body: Value = r.json().await.expect("JSON");
    let manual = body["backupId"].as_u64().expect("the generated ID");
    assert!(
        manual > scheduled && manual.to_string().len() == 13,
        "{body}"
    );

    let state = eventually(Duration::from_secs(5), || async {
        let (status, state) = get_json(&format!("{}/actuator/backupRuntime/state", e.zeebe)).await;
        assert_eq!(status, 200, "{state}");
        let latest = state["backupStates"].as_array()?;
        (latest.len() == 3 && latest.iter().all(|b| b["checkpointId"] == manual)).then_some(state)
    })
    .await;
    assert_eq!(state["backupStates"][0]["checkpointType"], "MANUAL_BACKUP");
    assert!(state["backupStates"][0]["firstLogPosition"].is_i64());
    assert_eq!(state["checkpointStates"][2]["partitionId"], 3);
    assert_eq!(state["ranges"][0]["start"], scheduled);
    assert_eq!(state["ranges"][0]["end"], manual);
    assert_eq!(state["ranges"][0]["missingCheckpoints"], json!([]));
}

fn camunda_sim_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[tokio::test]
async fn the_simulators_scheduler_takes_backups_by_itself() {
    let sim = start_rdbms(
        Some(ZeebeScheduler {
            interval_ms: 150,
            offset: 1_000,
        }),
        0,
    )
    .await;
    let state = eventually(Duration::from_secs(5), || async {
        let (_, state) = get_json(&format!(
            "{}/actuator/backupRuntime/state",
            sim.endpoints.zeebe
        ))
        .await;
        state["backupStates"]
            .as_array()
            .is_some_and(|b| !b.is_empty())
            .then_some(state)
    })
    .await;
    assert_eq!(
        state["backupStates"][0]["checkpointType"],
        "SCHEDULED_BACKUP"
    );
    let id = state["backupStates"][0]["checkpointId"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        id > camunda_sim_now() as u64 - 10_000 + 1_000,
        "epoch ms plus the offset: {id}"
    );
}
