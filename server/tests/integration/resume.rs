//! Resuming exporting survives the ways it fails: a status 500 inside the HTTP 200, a 502, a
//! dropped connection, a hang past the timeout; and reports honestly when it cannot.

use std::time::Duration;

use backup_console::procedure::resume::{Backoff, resume_until_confirmed};
use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use serde_json::json;

fn quick() -> Backoff {
    Backoff {
        first: Duration::from_millis(20),
        max: Duration::from_millis(100),
        deadline: Duration::from_secs(8),
    }
}

async fn zeebe_client(
    sim: &camunda_sim::SimCluster,
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

/// A resume that hangs cannot outlive the resume deadline, however long the request timeout is
/// (review H2): each attempt gets what is left of the deadline at most.
#[tokio::test]
async fn a_hung_resume_attempt_is_cut_at_the_deadline() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let zeebe = zeebe_client(&sim, 60).await;
    control(&sim, "/sim/exporting", json!({"phase": "SOFT_PAUSED"})).await;
    control(
        &sim,
        "/sim/faults",
        json!({"component": "exporting", "operation": "resume", "action": {"kind": "hang"}}),
    )
    .await;
    let backoff = Backoff {
        first: Duration::from_millis(20),
        max: Duration::from_millis(100),
        deadline: Duration::from_secs(2),
    };
    let started = std::time::Instant::now();
    let err = resume_until_confirmed(&zeebe, backoff).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}: {err}");
    assert!(err.to_string().contains("no answer within"), "{err}");
    assert_eq!(phases(&sim).await, vec!["SOFT_PAUSED"; 3]);
}

/// A whole run with the file's settings (2 s resume deadline, 60 s request timeout) against a
/// simulator carrying these faults: its report and how long it took.
async fn run_with_faults(
    faults: &[(&str, &str, serde_json::Value)],
) -> (backup_console::procedure::runner::RunOutcome, Duration) {
    use backup_console::procedure::runner::{CancelSignal, RunSettings, initial_report, run};
    let sim = start_sim(VersionProfile::V88, 0).await;
    let text = format!(
        "[procedure]\nstep_timeout_secs = 10\nresume_deadline_secs = 2\n{}",
        sim.endpoints.console_config("t").replace(
            "version = \"8.8\"",
            "version = \"8.8\"\nrequest_timeout_secs = 60"
        )
    );
    let config = backup_console::config::Config::parse(&text, "t", &|_| None).unwrap();
    let clusters = backup_console::cluster::Clusters::from_config(&config).unwrap();
    let cluster = clusters.get("t").unwrap().clone();
    for (component, operation, action) in faults {
        control(
            &sim,
            "/sim/faults",
            json!({"component": component, "operation": operation, "action": action}),
        )
        .await;
    }
    let p = backup_domain::procedure::plan(cluster.profile, &cluster.components());
    let (tx, _rx) = tokio::sync::watch::channel(initial_report(&p, 77));
    let started = std::time::Instant::now();
    let report = run(
        cluster,
        p,
        77,
        RunSettings::from_config(&config.procedure),
        CancelSignal::never(),
        tx,
        None,
    )
    .await;
    (report.outcome, started.elapsed())
}

/// A step fails after the pause, the resume hangs, and the run reports exporting still paused
/// within about the deadline.
#[tokio::test]
async fn a_run_whose_resume_hangs_reports_still_paused_within_the_deadline() {
    use backup_console::procedure::runner::RunOutcome;
    let (outcome, took) = run_with_faults(&[
        ("zeebe", "take", json!({"kind": "status", "status": 500})),
        ("exporting", "resume", json!({"kind": "hang"})),
    ])
    .await;
    assert!(
        matches!(outcome, RunOutcome::ExportingStillPaused { .. }),
        "{outcome:?}"
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

/// Every step succeeds but the run's own resume step cannot confirm: it has had its deadline, and
/// the run does not start a second one after it (which would double what shutdown must wait for).
#[tokio::test]
async fn a_failed_resume_step_is_not_retried_for_a_second_deadline() {
    use backup_console::procedure::runner::RunOutcome;
    let (outcome, took) =
        run_with_faults(&[("exporting", "resume", json!({"kind": "hang"}))]).await;
    assert!(
        matches!(outcome, RunOutcome::ExportingStillPaused { .. }),
        "{outcome:?}"
    );
    assert!(took < Duration::from_millis(3_500), "took {took:?}");
}
