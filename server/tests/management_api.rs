//! Exporting and rebalancing through the console, against the simulator over real HTTP.

mod common;

use backup_domain::api::VersionProfile;
use common::*;
use reqwest::Method;
use serde_json::json;

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
    let (_, h) = console.get("/api/clusters/test/backups").await;
    assert_eq!(h["exporting"]["partitions"][0]["phase"], "SOFT_PAUSED");

    let (status, _) = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/pause",
            Some(&operator),
            Some(json!({})),
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
    assert_eq!(body["error"]["code"], "upstream_failed");
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
