//! The downloadable script of a run is runnable: taken from a completed run against the
//! simulator, run with bash under a new backup ID, it takes that backup in every component and
//! leaves exporting running; when a step fails, its trap resumes exporting.

use std::time::Duration;

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use camunda_sim::SimCluster;
use reqwest::Method;
use serde_json::{Value, json};

/// Whether bash, curl and jq are all installed; the script needs them.
fn tools_present() -> bool {
    ["bash", "curl", "jq"].iter().all(|tool| {
        std::process::Command::new("bash")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Runs a backup through the console and downloads its script.
async fn completed_run_script(console: &Console) -> (u64, String) {
    let (status, started) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    let run = eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] != "running").then_some(run)
    })
    .await;
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
    let response = console
        .http
        .get(format!("{}/api/runs/{run_id}/script", console.base))
        .header("cookie", &console.session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    (
        started["backup_id"].as_u64().unwrap(),
        response.text().await.unwrap(),
    )
}

/// Runs `script` with bash under `backup_id`, with quick polls and an Authorization header value
/// that word-splitting or globbing would break. Returns (exit code, stdout, stderr).
async fn run_script(script: &str, backup_id: u64) -> (i32, String, String) {
    let script = script.to_string();
    tokio::task::spawn_blocking(move || {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("bc-script-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("backup.sh");
        std::fs::write(&path, script).unwrap();
        let output = std::process::Command::new("bash")
            .arg(&path)
            .current_dir(&dir)
            .env("BACKUP_ID", backup_id.to_string())
            .env("POLL_SLEEP", "0.05")
            .env("POLL_ATTEMPTS", "400")
            .env("RESUME_ATTEMPTS", "5")
            .env("CAMUNDA_AUTH_HEADER", "Bearer a  b * ?")
            .output()
            .expect("bash runs");
        let _ = std::fs::remove_dir_all(&dir);
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

async fn get_json(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.expect("sim answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Each component's own API says backup `id` is complete.
async fn assert_completed_everywhere(sim: &SimCluster, id: u64) {
    let e = &sim.endpoints;
    let mut status_urls = vec![];
    match e.profile {
        VersionProfile::V87 => {
            status_urls.push(format!("{}/actuator/backups/{id}", e.zeebe));
            status_urls.push(format!(
                "{}/actuator/backups/{id}",
                e.operate.as_ref().unwrap()
            ));
            status_urls.push(format!(
                "{}/actuator/backups/{id}",
                e.tasklist.as_ref().unwrap()
            ));
        }
        VersionProfile::V88 => {
            status_urls.push(format!("{}/actuator/backupRuntime/{id}", e.zeebe));
            status_urls.push(format!("{}/actuator/backupHistory/{id}", e.zeebe));
        }
    }
    status_urls.push(format!(
        "{}/actuator/backups/{id}",
        e.optimize.as_ref().unwrap()
    ));
    for url in status_urls {
        let (status, body) = get_json(&url).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert_eq!(body["state"], "COMPLETED", "{url}: {body}");
    }
    let url = format!(
        "{}/_snapshot/{}/camunda_zeebe_records_backup_{id}",
        e.elasticsearch, e.repository
    );
    let (status, body) = get_json(&url).await;
    assert_eq!(status, 200, "{url}: {body}");
    assert_eq!(body["snapshots"][0]["state"], "SUCCESS", "{url}: {body}");
}

async fn the_script_takes_a_new_backup(profile: VersionProfile) {
    if !tools_present() {
        eprintln!("bash, curl or jq missing: the script is not run");
        return;
    }
    let sim = start_sim(profile, 0).await;
    let console = console_for(&sim).await;
    let (run_backup, script) = completed_run_script(&console).await;
    assert!(
        script.contains(&format!("BACKUP_ID=${{BACKUP_ID:-{run_backup}}}")),
        "{script}"
    );
    // Every step of the run, each started within milliseconds of the others, kept its requests.
    assert!(!script.contains("has no recorded request"), "{script}");
    for block in script.split("\n# == ").skip(1) {
        assert!(
            block.lines().skip(1).any(|l| l.starts_with("request ")
                || l.starts_with("wait_for ")
                || l.starts_with("exporting_request ")
                || l.starts_with("resume_exporting ")),
            "a step without its request: {block}"
        );
    }
    let new_id = run_backup + 1;
    let (code, stdout, stderr) = run_script(&script, new_id).await;
    assert_eq!(
        code, 0,
        "the script failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- script\n{script}"
    );
    assert!(stdout.contains(&format!("backup {new_id}: every step done")));
    assert!(stdout.contains("exporting resumed"), "{stdout}");
    assert_completed_everywhere(&sim, new_id).await;
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    // The console agrees: the set the script took is restorable.
    let detail = eventually(Duration::from_secs(10), || async {
        let (_, d) = console
            .get(&format!("/api/clusters/test/backups/{new_id}"))
            .await;
        (d["set"]["verdict"] == "restorable").then_some(d)
    })
    .await;
    assert_eq!(detail["set"]["backup_id"], new_id);
}

#[tokio::test]
async fn the_87_script_of_a_run_takes_a_new_backup_against_the_simulator() {
    the_script_takes_a_new_backup(VersionProfile::V87).await;
}

#[tokio::test]
async fn the_88_script_of_a_run_takes_a_new_backup_against_the_simulator() {
    the_script_takes_a_new_backup(VersionProfile::V88).await;
}

#[tokio::test]
async fn a_failed_zeebe_backup_stops_the_script_and_its_trap_resumes_exporting() {
    if !tools_present() {
        eprintln!("bash, curl or jq missing: the script is not run");
        return;
    }
    let sim = start_sim(VersionProfile::V87, 0).await;
    let console = console_for(&sim).await;
    let (run_backup, script) = completed_run_script(&console).await;
    control(
        &sim,
        "/sim/outcome",
        json!({"component": "zeebe", "outcome": "failed"}),
    )
    .await;
    let (code, stdout, stderr) = run_script(&script, run_backup + 1).await;
    eprintln!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_ne!(code, 0, "a failed Zeebe backup fails the script\n{stdout}");
    assert!(stderr.contains("Zeebe backup: FAILED"), "{stderr}");
    assert!(
        stderr.contains("with exporting paused: resuming it"),
        "{stderr}"
    );
    assert!(stdout.contains("exporting resumed"), "{stdout}");
    assert!(!stdout.contains("every step done"));
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
}
