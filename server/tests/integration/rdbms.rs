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

async fn start_run(console: &Console, body: Value) -> (u16, Value) {
    console
        .call(
            reqwest::Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(body),
        )
        .await
}

async fn run_ends(console: &Console, run_id: i64) -> Value {
    eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] != "running").then_some(run)
    })
    .await
}

fn trigger_of(history: &Value, id: u64) -> String {
    set(history, id)["trigger"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn an_rdbms_history_is_judged_on_zeebe_alone_without_orphans() {
    let sim = start_rdbms(None, 30).await;
    let console = console_for(&sim).await;
    let (status, history) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["components"], json!(["zeebe"]));
    let sets = sets_of(&history);
    assert!(sets.len() >= 20, "{}", sets.len());
    assert!(
        sets.iter()
            .all(|s| s["components"].as_array().map(Vec::len) == Some(1)),
        "one column: Zeebe"
    );
    assert_eq!(history["counts"]["restorable_partial"], 0, "no orphans");
    assert!(history["counts"]["restorable"].as_u64().unwrap_or(0) >= 20);
    assert!(
        history["component_errors"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{}",
        history["component_errors"]
    );
    // Seeded backups were not taken by this console: external.
    assert!(sets.iter().all(|s| s["trigger"] == "external"), "{sets:?}");
    // The Overview's status shows Zeebe alone, healthy.
    let (_, clusters) = console.get("/api/clusters").await;
    let text = clusters.to_string();
    assert!(text.contains("\"secondary_storage\":\"rdbms\""), "{text}");
    assert!(!text.contains("\"webapps\""), "{text}");
}

#[tokio::test]
async fn a_full_rdbms_backup_runs_without_a_pause_and_shows_who_triggered_each_set() {
    let sim = start_rdbms(None, 3).await;
    let console = console_for(&sim).await;
    let (_, preflight) = console.get("/api/clusters/test/preflight").await;
    assert_eq!(
        preflight["steps"],
        json!([
            "Start the Zeebe backup",
            "Wait until the Zeebe backup completes"
        ]),
        "{preflight}"
    );
    assert!(preflight.get("zeebe_generates_id").is_none());

    let (status, started) = start_run(&console, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap_or_default();
    let manual = started["backup_id"].as_u64().unwrap_or_default();
    // Exporting never leaves EXPORTING while the run goes.
    let run = loop {
        assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        if run["report"]["outcome"]["outcome"] != "running" {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
    assert!(run["report"]["paused_ms"].is_null());
    let transcript = run["report"]["transcript"].to_string();
    assert!(!transcript.contains("exporting/pause"), "{transcript}");

    // One taken by direct HTTP to the cluster, by someone else.
    let external = manual + 10;
    take_backup(&sim, external, &["zeebe"]).await;
    let history = eventually(Duration::from_secs(5), || async {
        let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
        let done = sets_of(&history)
            .iter()
            .any(|s| s["backup_id"] == external && s["verdict"] == "restorable");
        done.then_some(history)
    })
    .await;
    assert_eq!(set(&history, manual)["verdict"], "restorable");
    assert_eq!(trigger_of(&history, manual), "manual");
    assert_eq!(trigger_of(&history, external), "external");
    // The detail, read fresh from the cluster, says it too.
    let (_, detail) = console
        .get(&format!("/api/clusters/test/backups/{manual}"))
        .await;
    assert_eq!(detail["set"]["trigger"], "manual", "{detail}");
}

#[tokio::test]
async fn with_zeebes_scheduler_the_console_lets_zeebe_generate_the_id() {
    let sim = start_rdbms(idle_scheduler(), 0).await;
    let console = console_for(&sim).await;

    // A backup of Zeebe's own scheduler, seen by a refresh while the state names it.
    let scheduled = sim
        .sim
        .write()
        .take_scheduled_backup(camunda_sim_now())
        .expect("a scheduled backup");
    eventually(Duration::from_secs(5), || async {
        let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
        (sets_of(&history)
            .iter()
            .any(|s| s["backup_id"] == scheduled && s["verdict"] == "restorable"))
        .then_some(())
    })
    .await;

    let (_, preflight) = console.get("/api/clusters/test/preflight").await;
    assert_eq!(preflight["zeebe_generates_id"], true, "{preflight}");
    assert_eq!(preflight["proposed_backup_id"], 0);

    // An ID is refused before anything reaches Zeebe.
    let (status, body) = start_run(&console, json!({"backup_id": scheduled + 5})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("Zeebe generates the backup ID"),
        "{body}"
    );

    let (status, started) = start_run(&console, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run = run_ends(&console, started["run_id"].as_i64().unwrap_or_default()).await;
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
    let generated = run["report"]["backup_id"].as_u64().unwrap_or_default();
    assert!(
        generated > scheduled && generated.to_string().len() == 13,
        "learned from Zeebe's answer: {generated}"
    );
    assert_eq!(
        run["backup_id"], generated,
        "the run's row took the learned ID"
    );
    // With the scheduler on, the simulator refuses a named ID (400): its 202 says none was sent.
    let posts: Vec<&Value> = run["report"]["transcript"]
        .as_array()
        .map(|t| t.iter().filter(|e| e["method"] == "POST").collect())
        .unwrap_or_default();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["status"], 202);

    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(set(&history, generated)["verdict"], "restorable");
    assert_eq!(trigger_of(&history, generated), "manual");
    assert_eq!(trigger_of(&history, scheduled), "zeebe_scheduler");
}

#[tokio::test]
async fn cleanup_on_rdbms_deletes_zeebe_backups_with_the_runtime_api() {
    let sim = start_rdbms(None, 20).await;
    let console = console_for(&sim).await;
    let (status, body) = console
        .call(
            reqwest::Method::PUT,
            "/api/clusters/test/retention",
            Some(&console.session),
            Some(json!({"keep_last": 5, "min_restorable": 2, "keep_failed": 0})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    let before = sets_of(&history).len();
    let (_, plan) = console.get("/api/clusters/test/cleanup-plan").await;
    let plan: backup_domain::retention::RetentionPlan =
        serde_json::from_value(plan).expect("a plan");
    let delete = plan.to_delete();
    assert!(delete.len() >= 10, "{}", delete.len());
    let (status, started) = console
        .call(
            reqwest::Method::POST,
            "/api/clusters/test/cleanups",
            Some(&console.session),
            Some(json!({"delete": delete, "selected": [], "confirm": delete.len(), "acknowledge_warning": true})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let id = started["cleanup_id"].as_i64().unwrap_or_default();
    let view = eventually(Duration::from_secs(20), || async {
        let (_, view) = console.get(&format!("/api/cleanups/{id}")).await;
        let view: backup_domain::retention::CleanupView = serde_json::from_value(view).ok()?;
        (view.report.outcome.state_name() != "running").then_some(view)
    })
    .await;
    assert_eq!(view.report.outcome.state_name(), "completed");
    let text = serde_json::to_string(&view.report).unwrap_or_default();
    assert!(
        !text.contains("webapps") && !text.contains("records") && text.contains("zeebe"),
        "{text}"
    );
    // Gone from Zeebe itself.
    let left = sim.sim.read().zeebe_backups.len();
    assert_eq!(left, before - delete.len());
    for id in &delete {
        assert!(!sim.sim.read().zeebe_backups.contains_key(id));
    }
}

#[tokio::test]
async fn a_generated_id_the_answer_does_not_name_is_found_in_the_listing() {
    let sim = start_rdbms(idle_scheduler(), 2).await;
    // A build whose 202 carries only the message (before 8.9's `backupId` field) and no state.
    sim.sim.write().camunda_version = "8.8.3".into();
    let console = console_for(&sim).await;
    let highest_before = sim
        .sim
        .read()
        .zeebe_backups
        .keys()
        .next_back()
        .copied()
        .unwrap_or_default();
    let (status, started) = start_run(&console, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run = run_ends(&console, started["run_id"].as_i64().unwrap_or_default()).await;
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
    let learned = run["report"]["backup_id"].as_u64().unwrap_or_default();
    assert!(learned > highest_before, "{learned} above {highest_before}");
    assert!(sim.sim.read().zeebe_backups.contains_key(&learned));
    assert_eq!(run["backup_id"], learned);
    let start_step = &run["report"]["steps"][0];
    assert_eq!(
        start_step["detail"],
        format!("Zeebe generated the backup ID {learned}")
    );
}

#[tokio::test]
async fn a_cluster_whose_zeebe_generates_ids_but_the_file_does_not_say_so_gets_the_fix() {
    let sim = start_rdbms(idle_scheduler(), 0).await;
    let config = sim
        .endpoints
        .console_config("test")
        .replace("\n[clusters.backup]\nzeebe_scheduler = true\n", "");
    assert!(!config.contains("zeebe_scheduler"));
    let console = start_console(&config).await;
    let (status, started) = start_run(&console, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run = run_ends(&console, started["run_id"].as_i64().unwrap_or_default()).await;
    assert_eq!(run["report"]["outcome"]["outcome"], "failed", "{run}");
    let reason = run["report"]["outcome"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("predetermined backupId")
            && reason.contains("set [clusters.backup] zeebe_scheduler = true"),
        "{reason}"
    );
    assert!(sim.sim.read().zeebe_backups.is_empty(), "nothing was taken");
}
