//! Hostile review of the RDBMS profile and Zeebe's own scheduler (branch p9-rdbms): the generated
//! ID learned while Zeebe's scheduler takes backups too, two consoles at once, a run interrupted
//! before it learned its ID, an 8.8 Elasticsearch cluster with `zeebe_scheduler`, an unreadable
//! `backupRuntime/state`, and IDs at the edges. Failing tests are `#[ignore = "finding N: ..."]`.

use std::time::Duration;

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use camunda_sim::state::{CheckpointType, Outcome, ZeebeScheduler};
use camunda_sim::{SimCluster, SimConfig};
use serde_json::{Value, json};

fn idle_scheduler() -> Option<ZeebeScheduler> {
    Some(ZeebeScheduler {
        interval_ms: 3_600_000,
        offset: 0,
    })
}

async fn start_rdbms(
    scheduler: Option<ZeebeScheduler>,
    seed: usize,
    registration_ms: i64,
) -> SimCluster {
    let mut config = SimConfig::rdbms(scheduler);
    config.timings = fast_timings();
    config.timings.zeebe_registration_ms = registration_ms;
    config.seed_count = seed;
    SimCluster::start(config).await.expect("simulator starts")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
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
    eventually(Duration::from_secs(30), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] != "running").then_some(run)
    })
    .await
}

fn trigger_in(history: &Value, id: u64) -> String {
    sets_of(history)
        .iter()
        .find(|s| s["backup_id"] == id)
        .map(|s| s["trigger"].as_str().unwrap_or("<none>").to_string())
        .unwrap_or_else(|| "<no set>".into())
}

/// Finding 1. Zeebe's scheduler fires just before a console run on a build whose take answer
/// names no ID (the listing fallback). Its checkpoint is not yet processed when the console lists
/// "before" (invisible), and it registers before the console's own: "the lowest new ID above the
/// pre-run highest" is the scheduler's. The run then waits on, records and reports a backup it
/// did not take, and the console's own backup is shown as Zeebe's.
#[tokio::test]
async fn a_scheduled_backup_landing_during_the_take_is_not_learned_as_the_runs_id() {
    let sim = start_rdbms(idle_scheduler(), 0, 400).await;
    // A build whose 202 carries only the message (the fallback path the branch tests).
    sim.sim.write().camunda_version = "8.8.3".into();
    let console = console_for(&sim).await;
    let scheduled = sim
        .sim
        .write()
        .take_scheduled_backup(now_ms())
        .expect("a scheduled backup");
    let (status, started) = start_run(&console, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run = run_ends(&console, started["run_id"].as_i64().unwrap_or_default()).await;
    let learned = run["report"]["backup_id"].as_u64().unwrap_or_default();
    let kind = sim
        .sim
        .read()
        .zeebe_backups
        .get(&learned)
        .map(|b| b.checkpoint_type);
    assert_ne!(
        learned, scheduled,
        "the run learned Zeebe's scheduled backup {scheduled}"
    );
    assert_eq!(
        kind,
        Some(CheckpointType::ManualBackup),
        "the run's ID {learned} must be the backup the console asked for: {run}"
    );
}

/// Finding 1 (two consoles). Two consoles (their own databases, one cluster) start a run each
/// at once on the listing fallback: both list the same "before", both learn the lowest new ID,
/// and two runs claim one backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consoles_starting_at_once_do_not_learn_the_same_generated_id() {
    let sim = start_rdbms(idle_scheduler(), 0, 400).await;
    sim.sim.write().camunda_version = "8.8.3".into();
    let a = console_for(&sim).await;
    let b = console_for(&sim).await;
    let (ra, rb) = tokio::join!(start_run(&a, json!({})), start_run(&b, json!({})));
    assert_eq!(ra.0, 202, "{}", ra.1);
    assert_eq!(rb.0, 202, "{}", rb.1);
    let run_a = run_ends(&a, ra.1["run_id"].as_i64().unwrap_or_default()).await;
    let run_b = run_ends(&b, rb.1["run_id"].as_i64().unwrap_or_default()).await;
    let id_a = run_a["report"]["backup_id"].as_u64().unwrap_or_default();
    let id_b = run_b["report"]["backup_id"].as_u64().unwrap_or_default();
    assert_eq!(sim.sim.read().zeebe_backups.len(), 2, "two backups taken");
    assert_ne!(id_a, id_b, "two runs claim one backup: {run_a} / {run_b}");
}

/// Finding 2. A console killed after Zeebe accepted a take without an ID and before the learned
/// ID reached the run's row (SIGTERM between the 202 and the write; on the listing fallback a
/// window of up to the poll timeout). Recovery marks the run interrupted with backup ID 0, its
/// audit row targets "0", and the backup it did take is attributed to Zeebe's scheduler once the
/// state names a later one. Simulated here by putting the row back as the dead process left it.
#[tokio::test]
#[ignore = "finding 2: an interrupted generated-ID run names backup 0; its backup is shown as Zeebe's"]
async fn a_run_interrupted_before_it_learned_its_id_still_owns_its_backup() {
    let sim = start_rdbms(idle_scheduler(), 0, 20).await;
    let (auth, db) = auth_section("");
    let text = format!(
        "{auth}[catalog]\nmin_refresh_gap_secs = 0\n{}",
        sim.endpoints.console_config("test")
    );
    let console = start_console_with(&text).await;
    let (status, started) = start_run(&console, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap_or_default();
    let run = run_ends(&console, run_id).await;
    let generated = run["report"]["backup_id"].as_u64().unwrap_or_default();
    assert!(generated > 0, "{run}");
    // As a process killed right after Zeebe's 202 leaves it: running, no ID yet, heartbeat old.
    {
        let c = rusqlite::Connection::open(&db).expect("db");
        c.execute(
            "UPDATE runs SET state = 'running', backup_id = 0, ended_ms = NULL, owner = 'dead', \
             heartbeat_ms = 1, report = json_set(report, '$.backup_id', 0, '$.outcome', json('{\"outcome\":\"running\"}')) WHERE id = ?1",
            [run_id],
        )
        .expect("update");
    }
    // Zeebe's scheduler takes the next one: the state now names that one only.
    tokio::time::sleep(Duration::from_millis(5)).await;
    sim.sim
        .write()
        .take_scheduled_backup(now_ms())
        .expect("a scheduled backup");
    let run = eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["state"] == "interrupted" || run["report"]["outcome"]["outcome"] == "interrupted")
            .then_some(run)
    })
    .await;
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    let trigger = trigger_in(&history, generated);
    assert!(
        run["backup_id"] == generated || trigger == "manual",
        "the interrupted run names {} and its backup {generated} shows as {trigger}",
        run["backup_id"]
    );
}

/// Finding 3 (regression). An 8.8 Elasticsearch cluster with `[clusters.backup] zeebe_scheduler
/// = true` (valid on main, where it only refused a console schedule; Zeebe has no scheduler
/// before 8.9 and the file does not refuse it): the run now takes the web-apps backup and the
/// records snapshot under ID 0 before StartZeebe, inside the pause, then asks Zeebe for a
/// generated ID Zeebe 8.8 cannot make. On main the same run completed.
#[tokio::test]
async fn an_88_elasticsearch_cluster_with_zeebe_scheduler_still_backs_up() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let config = format!(
        "{}\n[clusters.backup]\nzeebe_scheduler = true\n",
        sim.endpoints.console_config("test")
    );
    let console = start_console(&config).await;
    let (status, started) = start_run(&console, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run = run_ends(&console, started["run_id"].as_i64().unwrap_or_default()).await;
    let id = run["report"]["backup_id"].as_u64().unwrap_or_default();
    let text = run["report"].to_string();
    assert!(
        !text.contains("backupId must be greater") && id > 0,
        "web apps asked for backup 0: {text}"
    );
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
}

/// Finding 4. `backupRuntime/state` unreadable (malformed body): someone takes a backup over the
/// API (MANUAL_BACKUP, a generated 13-digit ID). The console cannot know who took it, yet shows
/// `zeebe_scheduler` as a fact; with the state readable it says `external`. Unknown must not be
/// shown as a known answer.
#[tokio::test]
async fn an_unreadable_checkpoint_state_does_not_name_zeebes_scheduler() {
    let sim = start_rdbms(idle_scheduler(), 0, 20).await;
    let console = console_for(&sim).await;
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "get", "action": {"kind": "malformed"}}),
    )
    .await;
    let r = reqwest::Client::new()
        .post(format!("{}/actuator/backupRuntime", sim.endpoints.zeebe))
        .send()
        .await
        .expect("sim answers");
    assert_eq!(r.status().as_u16(), 202);
    let body: Value = r.json().await.expect("JSON");
    let external = body["backupId"].as_u64().expect("generated ID");
    assert_eq!(
        sim.sim.read().zeebe_backups[&external].checkpoint_type,
        CheckpointType::ManualBackup
    );
    let history = eventually(Duration::from_secs(5), || async {
        let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
        (trigger_in(&history, external) != "<no set>").then_some(history)
    })
    .await;
    assert_ne!(
        trigger_in(&history, external),
        "zeebe_scheduler",
        "state unreadable: who took it is unknown"
    );
}

/// Held: with the state readable, the same backup is `external` (the state's MANUAL_BACKUP wins
/// over the ID's shape).
#[tokio::test]
async fn a_readable_state_types_a_generated_api_backup_external() {
    let sim = start_rdbms(idle_scheduler(), 0, 20).await;
    let console = console_for(&sim).await;
    let r = reqwest::Client::new()
        .post(format!("{}/actuator/backupRuntime", sim.endpoints.zeebe))
        .send()
        .await
        .expect("sim answers");
    let body: Value = r.json().await.expect("JSON");
    let external = body["backupId"].as_u64().expect("generated ID");
    let history = eventually(Duration::from_secs(5), || async {
        let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
        (sets_of(&history)
            .iter()
            .any(|s| s["backup_id"] == external && s["verdict"] == "restorable"))
        .then_some(history)
    })
    .await;
    assert_eq!(trigger_in(&history, external), "external");
}

/// Finding 5. An ID above i64::MAX in Zeebe's listing (outside input: Zeebe's IDs are longs):
/// the runs lookup for the page's triggers casts the range's ends to i64, the range turns
/// inside out, and the console's own set on the same page is shown as `external`.
#[tokio::test]
async fn an_id_above_i64_max_does_not_hide_the_consoles_own_runs() {
    let sim = start_rdbms(None, 0, 20).await;
    let console = console_for(&sim).await;
    let (status, started) = start_run(&console, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run = run_ends(&console, started["run_id"].as_i64().unwrap_or_default()).await;
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
    let mine = run["report"]["backup_id"].as_u64().unwrap_or_default();
    sim.sim
        .write()
        .add_zeebe_backup(u64::MAX, now_ms() - 60_000, Outcome::Completed);
    let (status, history) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(trigger_in(&history, mine), "manual", "{history}");
}

/// Held: the 8.8 Elasticsearch profile is unchanged on the wire: no trigger on its sets, no
/// `zeebe_generates_id` in its preflight, a proposed ID, and the pause in its plan.
#[tokio::test]
async fn an_88_elasticsearch_cluster_keeps_its_wire_and_plan() {
    let sim = start_sim(VersionProfile::V88, 5).await;
    let console = console_for(&sim).await;
    let (status, history) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(status, 200);
    assert!(sets_of(&history).iter().all(|s| s.get("trigger").is_none()));
    let (_, preflight) = console.get("/api/clusters/test/preflight").await;
    assert!(preflight.get("zeebe_generates_id").is_none(), "{preflight}");
    assert!(preflight["proposed_backup_id"].as_u64().unwrap_or(0) > 0);
    assert!(
        preflight["steps"].to_string().contains("Soft-pause"),
        "{preflight}"
    );
}

/// Held: on a Zeebe-scheduled RDBMS cluster the cleanup keeps the newest restorable set even
/// when the policy would keep none of the console's own, and plans over Zeebe only.
#[tokio::test]
async fn rdbms_cleanup_keeps_the_newest_restorable_set() {
    let sim = start_rdbms(idle_scheduler(), 6, 20).await;
    let console = console_for(&sim).await;
    let (status, body) = console
        .call(
            reqwest::Method::PUT,
            "/api/clusters/test/retention",
            Some(&console.session),
            Some(json!({"keep_last": 1, "min_restorable": 1, "keep_failed": 0})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    let newest_restorable = sets_of(&history)
        .iter()
        .filter(|s| s["verdict"] == "restorable")
        .filter_map(|s| s["backup_id"].as_u64())
        .max()
        .expect("a restorable set");
    let (_, plan) = console.get("/api/clusters/test/cleanup-plan").await;
    let plan: backup_domain::retention::RetentionPlan =
        serde_json::from_value(plan).expect("a plan");
    assert!(!plan.to_delete().contains(&newest_restorable), "{plan:?}");
    let text = serde_json::to_string(&plan).unwrap_or_default();
    assert!(
        !text.contains("webapps") && !text.contains("records"),
        "{text}"
    );
}

/// Finding 7. `backupRuntime/state` hangs (an optional read: it only names who triggered the
/// newest sets). The refresh waits for it after the listings, outside the claim's select and with
/// the cluster's whole request timeout, so a new backup reaches the history only after the hang:
/// every refresh of the cluster is as slow as its slowest optional endpoint.
#[tokio::test]
async fn a_hanging_checkpoint_state_does_not_hold_up_the_history() {
    let mut config = SimConfig::rdbms(idle_scheduler());
    config.timings = fast_timings();
    config.timings.hang_ms = 4_000;
    let sim = SimCluster::start(config).await.expect("simulator starts");
    let console = console_for(&sim).await;
    let (status, _) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(status, 200);
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "get", "action": {"kind": "hang"}}),
    )
    .await;
    let id = sim
        .sim
        .write()
        .take_scheduled_backup(now_ms())
        .expect("a scheduled backup");
    let began = std::time::Instant::now();
    eventually(Duration::from_secs(15), || async {
        let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
        (trigger_in(&history, id) != "<no set>").then_some(())
    })
    .await;
    let took = began.elapsed();
    assert!(
        took < Duration::from_millis(2_500),
        "the new set took {took:?} to reach the history"
    );
}

/// Finding 2 (over the real API). A run cancelled (the CLI's SIGTERM does the same) after Zeebe
/// accepted the take and while the run looks for the generated ID in the listing: the run ends
/// naming backup 0, and the backup Zeebe did take for it shows as Zeebe's scheduler's.
#[tokio::test]
#[ignore = "finding 2: a run cancelled while learning its ID names backup 0; its backup is shown as Zeebe's"]
async fn a_run_cancelled_while_learning_its_id_still_names_its_backup() {
    let sim = start_rdbms(idle_scheduler(), 0, 1_500).await;
    sim.sim.write().camunda_version = "8.8.3".into();
    let console = console_for(&sim).await;
    let (status, started) = start_run(&console, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap_or_default();
    eventually(Duration::from_secs(5), || async {
        (!sim.sim.read().zeebe_backups.is_empty()).then_some(())
    })
    .await;
    let (status, body) = console
        .call(
            reqwest::Method::POST,
            &format!("/api/runs/{run_id}/cancel"),
            Some(&console.session),
            Some(json!({})),
        )
        .await;
    assert!(status < 300, "{status} {body}");
    let run = run_ends(&console, run_id).await;
    let taken = *sim
        .sim
        .read()
        .zeebe_backups
        .keys()
        .next()
        .expect("Zeebe took the backup");
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    let trigger = trigger_in(&history, taken);
    assert!(
        run["backup_id"] == taken || trigger == "manual",
        "the {} run names {} and the backup {taken} it took shows as {trigger}",
        run["report"]["outcome"]["outcome"],
        run["backup_id"]
    );
}

/// Held: a cluster whose file does not say `zeebe_scheduler` keeps, over refreshes, what the
/// state said of a scheduled backup it no longer names (the state names only the latest).
#[tokio::test]
async fn scheduled_types_seen_by_earlier_refreshes_are_kept() {
    let sim = start_rdbms(idle_scheduler(), 0, 20).await;
    let config = sim
        .endpoints
        .console_config("test")
        .replace("\n[clusters.backup]\nzeebe_scheduler = true\n", "");
    let console = start_console(&config).await;
    let first = sim
        .sim
        .write()
        .take_scheduled_backup(now_ms())
        .expect("a scheduled backup");
    eventually(Duration::from_secs(5), || async {
        let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
        (trigger_in(&history, first) == "zeebe_scheduler").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = sim
        .sim
        .write()
        .take_scheduled_backup(now_ms())
        .expect("a scheduled backup");
    let history = eventually(Duration::from_secs(5), || async {
        let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
        (trigger_in(&history, second) == "zeebe_scheduler").then_some(history)
    })
    .await;
    assert_eq!(trigger_in(&history, first), "zeebe_scheduler", "{history}");
}

/// Held: a listing that fails refuses a generated-ID run at its preflight (409), before
/// anything is asked of Zeebe (the run's own listing "before the take" adds no new failure).
#[tokio::test]
async fn a_failing_listing_refuses_a_generated_id_run_before_any_take() {
    let sim = start_rdbms(idle_scheduler(), 0, 20).await;
    let console = console_for(&sim).await;
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "list", "action": {"kind": "status", "status": 504}}),
    )
    .await;
    let (status, body) = start_run(&console, json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(sim.sim.read().zeebe_backups.is_empty());
}
