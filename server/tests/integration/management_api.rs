//! Exporting and rebalancing through the console, against the simulator over real HTTP.

use std::time::Duration;

use backup_console_testkit::*;
use backup_domain::api::ErrorCode;
use backup_domain::api::VersionProfile;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn an_operator_pauses_and_resumes_exporting_and_each_action_is_audited() {
    let sim = start_sim(VersionProfile::V87, 0).await;
    let console = console_for(&sim).await;
    let operator = console.login("operator", PASSWORD).await.unwrap();

    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/pause",
            Some(&operator),
            Some(json!({"soft": true})),
        )
        .await;
    assert_eq!((status, body["ok"].as_bool()), (200, Some(true)), "{body}");
    assert_eq!(phases(&sim).await, vec!["SOFT_PAUSED"; 3]);
    let (_, h) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(h["exporting"]["partitions"][0]["phase"], "SOFT_PAUSED");

    let (status, _) = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/pause",
            Some(&operator),
            Some(json!({"soft": false})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(phases(&sim).await, vec!["PAUSED"; 3]);
    let (status, _) = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/resume",
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    let (status, _) = console
        .call(
            Method::POST,
            "/api/clusters/test/rebalance",
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(status, 200);

    // A viewer cannot, and nothing changes.
    let viewer = console.login("viewer", PASSWORD).await.unwrap();
    let (status, _) = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/pause",
            Some(&viewer),
            Some(json!({"soft": true})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);

    let (_, audit) = console.get("/api/audit?user=operator").await;
    let actions: Vec<(String, String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["cluster"].as_str().unwrap_or("").into(),
                e["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expect = |a: &str| (a.to_string(), "test".to_string(), "success".to_string());
    assert_eq!(
        actions[..4],
        [
            expect("rebalance"),
            expect("exporting_resumed"),
            expect("exporting_paused"),
            expect("exporting_soft_paused")
        ]
    );
}

#[tokio::test]
async fn a_failed_pause_reports_the_status_inside_the_200_and_is_audited_as_failed() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    control(&sim, "/sim/settings", json!({"topology_complete": false})).await;
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/pause",
            Some(&console.session),
            Some(json!({"soft": true})),
        )
        .await;
    assert_eq!(
        status, 502,
        "HTTP 200 from Zeebe with status 500 inside is a failure (§4.1): {body}"
    );
    assert_eq!(body["error"]["code"], ErrorCode::UpstreamFailed.as_str());
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 500: Expected 3 members of partition 1 but found 2"),
        "{body}"
    );
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    let (_, audit) = console.get("/api/audit?action=exporting_soft_paused").await;
    let entry = &audit["entries"][0];
    assert_eq!(
        (entry["outcome"].as_str(), entry["cluster"].as_str()),
        (Some("failure"), Some("test"))
    );
    assert!(
        entry["detail"]
            .as_str()
            .unwrap()
            .contains("Expected 3 members")
    );
}

#[tokio::test]
async fn a_pause_that_does_not_say_soft_or_hard_is_refused() {
    // An empty body used to mean a hard pause, which stops exporting altogether (review L9).
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    for body in [None, Some(json!({}))] {
        let (status, answer) = console
            .call(
                Method::POST,
                "/api/clusters/test/exporting/pause",
                Some(&console.session),
                body.clone(),
            )
            .await;
        assert_eq!(status, 400, "{body:?}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("soft"),
            "{answer}"
        );
    }
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
}

async fn post(console: &Console, path: &str, body: Option<Value>) -> (u16, Value) {
    console
        .call(Method::POST, path, Some(&console.session), body)
        .await
}

#[tokio::test]
async fn a_run_holds_the_cluster_pause_rebalance_and_resume_are_refused_and_a_forced_resume_fails_the_run()
 {
    let sim = start_sim(VersionProfile::V88, 0).await;
    // The records snapshot holds the run between the pause and the Zeebe backup.
    let mut timings = fast_timings();
    timings.records_snapshot_ms = 4_000;
    control(&sim, "/sim/settings", json!({"timings": timings})).await;
    let console = console_for(&sim).await;
    let (status, started) = post(&console, "/api/clusters/test/runs", Some(json!({}))).await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    eventually(Duration::from_secs(10), || async {
        (phases(&sim).await == vec!["SOFT_PAUSED"; 3]).then_some(())
    })
    .await;

    for (path, body) in [
        (
            "/api/clusters/test/exporting/pause",
            Some(json!({"soft": true})),
        ),
        (
            "/api/clusters/test/exporting/pause",
            Some(json!({"soft": false})),
        ),
        ("/api/clusters/test/rebalance", None),
        ("/api/clusters/test/exporting/resume", None),
        (
            "/api/clusters/test/exporting/resume",
            Some(json!({"force": false})),
        ),
    ] {
        let (status, answer) = post(&console, path, body.clone()).await;
        assert_eq!(status, 409, "{path} {body:?}: {answer}");
        assert_eq!(
            answer["error"]["code"],
            ErrorCode::RunInProgress.as_str(),
            "{answer}"
        );
    }
    assert_eq!(
        phases(&sim).await,
        vec!["SOFT_PAUSED"; 3],
        "nothing changed"
    );

    // An emergency resume goes through, is audited as forced, and the run notices.
    let (status, answer) = post(
        &console,
        "/api/clusters/test/exporting/resume",
        Some(json!({"force": true})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    let (_, audit) = console.get("/api/audit?action=exporting_resumed").await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["outcome"], "success");
    assert!(
        entry["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("forced"),
        "{entry}"
    );

    let run = eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] != "running").then_some(run)
    })
    .await;
    let outcome = &run["report"]["outcome"];
    assert_eq!(outcome["outcome"], "failed", "{run}");
    assert!(
        outcome["reason"]
            .as_str()
            .unwrap()
            .contains("no longer paused"),
        "{outcome}"
    );
    // Stopped at the Zeebe step, before its request: no Zeebe backup after the resume.
    assert!(
        outcome["step"].as_str().unwrap().contains("Zeebe"),
        "{outcome}"
    );
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
}

#[tokio::test]
async fn the_exporting_controls_work_again_once_the_run_has_ended() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let (status, started) = post(&console, "/api/clusters/test/runs", Some(json!({}))).await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] == "completed").then_some(())
    })
    .await;
    let (status, answer) = post(&console, "/api/clusters/test/rebalance", None).await;
    assert_eq!(status, 200, "{answer}");
}
