//! `cargo bench -p backup-console --bench retention`: cleaning 500 backup sets.
//!
//! Two identical simulated 8.7 clusters (same seed) in the same session. On the first, the console
//! deletes what its policy plans (`POST /api/clusters/bench/cleanups`, default concurrency 8); on
//! the second, a plain loop sends the same DELETE calls one after another, as a script would.
//! Run twice: with a stand-in latency per DELETE (a real snapshot delete rewrites repository
//! metadata), and with none, where the simulator and the console share the same two cores.

use std::time::{Duration, Instant};

use backup_console::cluster::Clusters;
use backup_console::config::Config;
use backup_console_testkit::start_console;
use backup_domain::Component;
use backup_domain::api::VersionProfile;
use backup_domain::retention::{self, Artifact, Protections, RetentionPolicy};
use camunda_sim::{SimCluster, SimConfig};

const SETS: usize = 500;

fn policy() -> RetentionPolicy {
    RetentionPolicy {
        keep_last: Some(1),
        max_age_days: None,
        min_restorable: 1,
        keep_failed: 0,
        schedule: None,
    }
}

async fn sim(delete_ms: i64) -> SimCluster {
    let mut config = SimConfig::new(VersionProfile::V87);
    config.seed_count = SETS;
    config.seed = 42;
    config.timings.delete_ms = delete_ms;
    SimCluster::start(config).await.expect("sim")
}

/// The URL of one artifact's DELETE on the 8.7 simulator.
fn url(sim: &SimCluster, a: &Artifact) -> String {
    let e = &sim.endpoints;
    let id = a.backup_id;
    match a.component {
        Component::Zeebe => format!("{}/actuator/backups/{id}", e.zeebe),
        Component::Operate => format!(
            "{}/actuator/backups/{id}",
            e.operate.as_deref().unwrap_or_default()
        ),
        Component::Tasklist => format!(
            "{}/actuator/backups/{id}",
            e.tasklist.as_deref().unwrap_or_default()
        ),
        Component::Optimize => format!(
            "{}/actuator/backups/{id}",
            e.optimize.as_deref().unwrap_or_default()
        ),
        Component::RecordsSnapshot => format!(
            "{}/_snapshot/{}/{}",
            e.elasticsearch,
            e.repository,
            backup_domain::naming::records_snapshot_name(id)
        ),
        Component::Webapps | Component::WebModelerDump | Component::RdbmsDump => {
            unreachable!("the 8.7 simulator has no {a:?}")
        }
    }
}

/// The console's cleanup of the planned sets: (wall time, sets, artifacts).
async fn console_cleanup(sim: &SimCluster) -> (Duration, usize, usize) {
    // Logged in as admin.
    let console = start_console(&sim.endpoints.console_config("bench")).await;
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{}{path}", console.base))
            .header("cookie", &console.session.cookie)
            .header("x-csrf-token", &console.session.csrf)
    };
    let saved = call(reqwest::Method::PUT, "/api/clusters/bench/retention")
        .json(&policy())
        .send()
        .await
        .expect("policy");
    assert!(saved.status().is_success());
    let plan: retention::RetentionPlan =
        call(reqwest::Method::GET, "/api/clusters/bench/cleanup-plan")
            .send()
            .await
            .expect("plan")
            .json()
            .await
            .expect("plan json");
    let delete = plan.to_delete();
    let start = Instant::now();
    let started: serde_json::Value = call(reqwest::Method::POST, "/api/clusters/bench/cleanups")
        .json(&serde_json::json!({"delete": delete, "selected": [], "confirm": delete.len()}))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("started");
    let id = started["cleanup_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{started}"));
    loop {
        let view: retention::CleanupView =
            call(reqwest::Method::GET, &format!("/api/cleanups/{id}"))
                .send()
                .await
                .expect("cleanup")
                .json()
                .await
                .expect("view");
        if view.report.outcome.state_name() != "running" {
            let took = start.elapsed();
            assert_eq!(view.report.outcome.state_name(), "completed");
            return (took, view.report.sets.len(), view.report.items.len());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The same plan's DELETE calls, one after another: (wall time, artifacts).
async fn sequential_loop(sim: &SimCluster) -> (Duration, usize) {
    let config =
        Config::parse(&sim.endpoints.console_config("bench"), "bench", &|_| None).expect("config");
    let clusters = Clusters::from_config(&config).expect("clusters");
    let cluster = clusters.get("bench").expect("cluster");
    let history = backup_console::history::history(cluster).await;
    let now = chrono::Utc::now().timestamp_millis();
    let plan = retention::plan(&history.sets, &policy(), &Protections::default(), now);
    let delete: std::collections::BTreeSet<u64> = plan.to_delete().into_iter().collect();
    let artifacts: Vec<Artifact> = history
        .sets
        .iter()
        .filter(|s| delete.contains(&s.backup_id))
        .flat_map(retention::artifacts)
        .collect();
    let http = reqwest::Client::new();
    let start = Instant::now();
    for a in &artifacts {
        let status = http
            .delete(url(sim, a))
            .send()
            .await
            .expect("delete")
            .status();
        assert!(status.is_success() || status.as_u16() == 404, "{status}");
    }
    (start.elapsed(), artifacts.len())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "| DELETE latency (stand-in) | sets | artifacts | sequential loop | console (concurrency 8) | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    for delete_ms in [20, 0] {
        let (a, b) = (sim(delete_ms).await, sim(delete_ms).await);
        let (console, sets, artifacts) = console_cleanup(&a).await;
        let (sequential, looped) = sequential_loop(&b).await;
        assert_eq!(artifacts, looped, "the same calls on both sides");
        println!(
            "| {delete_ms} ms | {sets} | {artifacts} | {:.2} s | {:.2} s | **{:.3}** |",
            sequential.as_secs_f64(),
            console.as_secs_f64(),
            console.as_secs_f64() / sequential.as_secs_f64()
        );
    }
}
