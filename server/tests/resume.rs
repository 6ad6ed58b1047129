//! Resuming exporting survives the ways it fails: a status 500 inside the HTTP 200, a 502, a
//! dropped connection, a hang past the timeout; and reports honestly when it cannot.

mod common;

use std::time::Duration;

use backup_console::procedure::resume::{Backoff, resume_until_confirmed};
use backup_domain::api::VersionProfile;
use common::*;
use serde_json::json;

fn quick() -> Backoff {
    Backoff {
        first: Duration::from_millis(20),
        max: Duration::from_millis(100),
        deadline: Duration::from_secs(8),
    }
}

async fn zeebe_client(
    sim: &backup_console::sim::SimCluster,
    timeout_secs: u64,
) -> backup_console::upstream::ZeebeClient {
    let text = sim.endpoints.console_config("t").replace(
        "version = \"8.8\"",
        &format!("version = \"8.8\"\nrequest_timeout_secs = {timeout_secs}"),
    );
    let config = backup_console::config::Config::parse(&text, "t", &|_| None).unwrap();
    let clusters = backup_console::cluster::Clusters::from_config(&config).unwrap();
    clusters.get("t").unwrap().zeebe.clone()
}

#[tokio::test]
async fn resume_retries_through_every_kind_of_failure_until_the_body_says_204() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let zeebe = zeebe_client(&sim, 1).await;
    control(&sim, "/sim/exporting", json!({"phase": "SOFT_PAUSED"})).await;
    for action in [
        json!({"kind": "status", "status": 500}),
        json!({"kind": "status", "status": 502}),
        json!({"kind": "drop"}),
        json!({"kind": "hang"}),
        json!({"kind": "malformed"}),
    ] {
        control(
            &sim,
            "/sim/faults",
            json!({"component": "exporting", "operation": "resume", "count": 1, "action": action}),
        )
        .await;
    }
    // A status fault on exporting is the envelope: HTTP 200 with the failure inside (§4.1).
    let attempts = resume_until_confirmed(&zeebe, quick())
        .await
        .expect("resumed in the end");
    assert_eq!(attempts, 6, "five failures, then success");
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
}

#[tokio::test]
async fn an_unconfirmable_resume_is_reported_as_still_paused() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let zeebe = zeebe_client(&sim, 1).await;
    control(&sim, "/sim/exporting", json!({"phase": "SOFT_PAUSED"})).await;
    control(&sim, "/sim/settings", json!({"topology_complete": false})).await;
    let backoff = Backoff {
        first: Duration::from_millis(20),
        max: Duration::from_millis(50),
        deadline: Duration::from_millis(400),
    };
    let err = resume_until_confirmed(&zeebe, backoff).await.unwrap_err();
    assert!(err.attempts >= 3, "{err}");
    assert!(
        err.to_string().starts_with("exporting is still paused"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("Expected 3 members of partition 1"),
        "{err}"
    );
    assert_eq!(
        phases(&sim).await,
        vec!["SOFT_PAUSED"; 3],
        "the simulator confirms nothing was resumed"
    );
    // Once the topology is whole again, the same call gets through.
    control(&sim, "/sim/settings", json!({"topology_complete": true})).await;
    assert_eq!(resume_until_confirmed(&zeebe, quick()).await.unwrap(), 1);
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
}
