//! The fleet view and `backup-console status` (part 8): the RPO of each cluster against its
//! newest restorable set, unknown (never ok) when a listing fails or a component does not answer,
//! and the command's monitoring-plugin exit codes, on the real binary.

use std::process::Command;
use std::time::Duration;

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_backup-console");

async fn full_backup(sim: &camunda_sim::SimCluster, id: u64) {
    take_backup(sim, id, &["webapps", "optimize", "records", "zeebe"]).await;
    settle().await;
}

fn row<'a>(fleet: &'a Value, cluster: &str) -> &'a Value {
    fleet["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cluster"] == cluster)
        .unwrap_or_else(|| panic!("no row for {cluster}: {fleet}"))
}

#[tokio::test]
async fn the_fleet_view_shows_each_clusters_rpo_and_never_reads_a_failed_listing_as_ok() {
    let good = start_sim(VersionProfile::V88, 0).await;
    let empty = start_sim(VersionProfile::V88, 0).await;
    full_backup(&good, 100).await;
    let config = format!(
        "{}\n{}",
        good.endpoints.console_config("good"),
        empty.endpoints.console_config("empty")
    );
    let console = start_console(&config).await;
    let (status, fleet) = console.get("/api/fleet").await;
    assert_eq!(status, 200, "{fleet}");
    let good_row = row(&fleet, "good");
    assert_eq!(good_row["rpo"]["state"], "ok", "{good_row}");
    assert_eq!(good_row["rpo"]["rpo_hours"], 26);
    assert_eq!(good_row["rpo"]["newest_restorable"]["backup_id"], 100);
    assert_eq!(good_row["exporting"], "EXPORTING");
    assert!(
        good_row["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["reachability"] == "up"),
        "{good_row}"
    );
    let empty_row = row(&fleet, "empty");
    assert_eq!(empty_row["rpo"]["state"], "breached", "{empty_row}");
    // One cluster's row, as its Overview reads it, is the same row.
    let (status, one) = console.get("/api/fleet/empty").await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["rpo"], empty_row["rpo"], "{one}");
    assert_eq!(one["cluster"], "empty");
    let (status, missing) = console.get("/api/fleet/nope").await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["error"]["code"], "cluster_not_found", "{missing}");
    assert!(
        empty_row["rpo"]["reason"]
            .as_str()
            .unwrap()
            .contains("no fully restorable"),
        "{empty_row}"
    );

    // Optimize's listing fails from now on: the next listing makes the RPO unknown, not ok.
    control(
        &good,
        "/sim/faults",
        json!({"component": "optimize", "operation": "list", "count": 1000,
               "action": {"kind": "status", "status": 503}}),
    )
    .await;
    let (_, history) = console
        .fresh_get("/api/clusters/good/backups?per_page=5")
        .await;
    assert_eq!(
        history["component_errors"][0]["component"], "optimize",
        "{history}"
    );
    let fleet = eventually(Duration::from_secs(10), || async {
        let (_, fleet) = console.get("/api/fleet").await;
        (row(&fleet, "good")["rpo"]["state"] == "unknown").then_some(fleet)
    })
    .await;
    assert!(
        row(&fleet, "good")["rpo"]["reason"]
            .as_str()
            .unwrap()
            .contains("Optimize"),
        "{fleet}"
    );
}

/// Runs the command beside the test's simulator (which needs the test's runtime to answer).
async fn status_command(config_text: &str, extra: &[&str]) -> (i32, String) {
    let (config_text, extra) = (
        config_text.to_string(),
        extra.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
    );
    tokio::task::spawn_blocking(move || status_command_blocking(&config_text, &extra))
        .await
        .unwrap()
}

fn status_command_blocking(config_text: &str, extra: &[String]) -> (i32, String) {
    let (_, db) = auth_section("");
    let path = db.with_file_name("status.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\ndatabase = {:?}\n{config_text}",
            db.display().to_string()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["status", "--config"])
        .arg(&path)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_command_exits_like_a_monitoring_plugin() {
    let good = start_sim(VersionProfile::V88, 0).await;
    let empty = start_sim(VersionProfile::V87, 0).await;
    full_backup(&good, 100).await;
    let good_config = good.endpoints.console_config("good");

    let (code, out) = status_command(&good_config, &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("OK good - the newest restorable backup (100)"),
        "{out}"
    );

    let (code, out) = status_command(&good_config, &["--json"]).await;
    assert_eq!(code, 0, "{out}");
    let body: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(body["state"], "ok");
    assert_eq!(
        body["clusters"][0]["rpo"]["newest_restorable"]["backup_id"],
        100
    );

    // No restorable set: critical, also when another cluster is fine.
    let both = format!("{good_config}\n{}", empty.endpoints.console_config("empty"));
    let (code, out) = status_command(&both, &[]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("CRITICAL empty"), "{out}");
    let (code, _) = status_command(&both, &["--cluster", "good"]).await;
    assert_eq!(code, 0);

    // Zeebe does not answer: unknown, never ok.
    let down = good_config.replace(&good.endpoints.zeebe, "http://127.0.0.1:9");
    let (code, out) = status_command(&down, &[]).await;
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with("UNKNOWN good"), "{out}");

    // A configuration error or an unknown cluster is unknown too.
    let (code, out) = status_command("[[clusters]]\nname = \"x\"\n", &[]).await;
    assert_eq!(code, 3, "{out}");
    let (code, out) = status_command(&good_config, &["--cluster", "nope"]).await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("nope"), "{out}");
}
