//! The backup procedure against a simulator whose work takes as long as a real cluster's, scaled
//! down: no step may depend on an answer arriving within one request timeout (review H2).

use std::time::Duration;

use backup_console::cluster::Clusters;
use backup_console::config::Config;
use backup_console::procedure::runner::{
    CancelSignal, RunOutcome, RunReport, RunSettings, StepState, initial_report, run,
};
use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use backup_domain::procedure::plan;
use camunda_sim::state::Timings;
use camunda_sim::{SimCluster, SimConfig};

async fn sim_with(profile: VersionProfile, timings: Timings) -> SimCluster {
    let mut config = SimConfig::new(profile);
    config.timings = timings;
    SimCluster::start(config).await.expect("simulator starts")
}

/// A console configuration for `sim` with this request timeout and the default polling of a
/// real run (`[procedure]`), as a file would give it.
fn config(sim: &SimCluster, request_timeout_secs: u64) -> Config {
    let text = format!(
        "[procedure]\nstep_timeout_secs = 60\nresume_deadline_secs = 10\n{}",
        sim.endpoints.console_config("t").replacen(
            "\n[clusters.",
            &format!("\nrequest_timeout_secs = {request_timeout_secs}\n[clusters."),
            1
        )
    );
    Config::parse(&text, "t", &|_| None).expect("config parses")
}

async fn run_backup(config: &Config, id: u64) -> RunReport {
    let clusters = Clusters::from_config(config).expect("clients build");
    let cluster = clusters.get("t").expect("cluster").clone();
    let p = plan(cluster.profile, &cluster.components());
    let (tx, _rx) = tokio::sync::watch::channel(initial_report(&p, id));
    run(
        cluster,
        p,
        id,
        RunSettings::from_config(&config.procedure),
        CancelSignal::never(),
        tx,
        None,
    )
    .await
}

fn assert_completed(report: &RunReport, what: &str) {
    assert_eq!(report.outcome, RunOutcome::Completed, "{what}: {report:#?}");
    assert!(
        report.steps.iter().all(|s| s.state == StepState::Done),
        "{what}: {report:#?}"
    );
}

#[tokio::test]
async fn both_procedures_complete_against_realistic_timings() {
    for profile in [VersionProfile::V87, VersionProfile::V88] {
        let sim = sim_with(profile, Timings::realistic(0.01)).await;
        let config = config(&sim, 2);
        let report = run_backup(&config, 5000).await;
        assert_completed(&report, &format!("{profile:?}"));
        assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3], "{profile:?}");
        let clusters = Clusters::from_config(&config).unwrap();
        let history = backup_console::history::history(clusters.get("t").unwrap()).await;
        let set = history
            .sets
            .iter()
            .find(|s| s.backup_id == 5000)
            .expect("the new set is listed");
        assert_eq!(
            set.verdict,
            backup_domain::Verdict::Restorable,
            "{profile:?}: {set:?}"
        );
    }
}

/// A records snapshot that takes longer than the request timeout (30 s at a scale of 0.1,
/// against a 2 s timeout) still completes: the console starts it and polls, rather than holding
/// one request open until the snapshot ends.
#[tokio::test]
async fn a_records_snapshot_longer_than_the_request_timeout_completes() {
    let timings = Timings {
        records_snapshot_ms: Timings::realistic(0.1).records_snapshot_ms,
        ..Timings::realistic(0.01)
    };
    assert!(timings.records_snapshot_ms > 2_000);
    let sim = sim_with(VersionProfile::V87, timings).await;
    let started = std::time::Instant::now();
    let report = run_backup(&config(&sim, 2), 6000).await;
    assert_completed(&report, "records snapshot of 3 s");
    let records = report
        .steps
        .iter()
        .find(|s| s.description.starts_with("Snapshot the zeebe-record"))
        .expect("the records step");
    let took = records.ended_ms.unwrap() - records.started_ms.unwrap();
    assert!(
        (3_000..6_000).contains(&took),
        "the step took as long as the snapshot, not more: {took} ms"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
}

/// A poll that hangs cannot stretch a step past its timeout: with a 60 s request timeout and a
/// 2 s step timeout, a Zeebe status call that never answers fails the step after about 2 s, and
/// exporting is resumed.
#[tokio::test]
async fn a_hung_poll_is_cut_at_the_step_timeout() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let text = format!(
        "[procedure]\nstep_timeout_secs = 2\nresume_deadline_secs = 10\n{}",
        sim.endpoints.console_config("t").replacen(
            "\n[clusters.",
            "\nrequest_timeout_secs = 60\n[clusters.",
            1
        )
    );
    let config = Config::parse(&text, "t", &|_| None).expect("config parses");
    control(
        &sim,
        "/sim/faults",
        serde_json::json!({"component": "zeebe", "operation": "get", "action": {"kind": "hang"}}),
    )
    .await;
    let report = run_backup(&config, 7000).await;
    let wait = report
        .steps
        .iter()
        .find(|s| s.description.starts_with("Wait until the Zeebe backup"))
        .expect("the wait step");
    assert_eq!(wait.state, StepState::Failed, "{report:#?}");
    let took = wait.ended_ms.unwrap() - wait.started_ms.unwrap();
    assert!(took < 3_500, "the step took {took} ms");
    assert!(
        matches!(&report.outcome, RunOutcome::Failed { step, .. } if step.starts_with("Wait until the Zeebe")),
        "{:?}",
        report.outcome
    );
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
}
