//! The backup runner against the simulator: both procedures to completion, and a fault matrix in
//! which every failure ends the run naming the step while exporting is back to EXPORTING.

use std::time::Duration;

use backup_console::cluster::Clusters;
use backup_console::config::Config;
use backup_console::procedure::resume::Backoff;
use backup_console::procedure::runner::{
    CancelSignal, RunOutcome, RunSettings, StepState, initial_report, run,
};
use backup_console::procedure::wait::PollPolicy;
use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use backup_domain::procedure::plan;
use serde_json::json;

/// Quick polls and short timeouts (was `runner::quick_settings`, which only these tests used).
fn quick_settings(timeout: Duration) -> RunSettings {
    RunSettings {
        poll: PollPolicy {
            first: Duration::from_millis(20),
            max: Duration::from_millis(200),
            timeout,
            registration_grace: timeout,
        },
        paused_poll_max: Duration::from_millis(100),
        resume: Backoff {
            first: Duration::from_millis(20),
            max: Duration::from_millis(200),
            deadline: Duration::from_secs(10),
        },
    }
}

fn clusters(sim: &camunda_sim::SimCluster) -> Clusters {
    let text = sim.endpoints.console_config("t");
    let text = text.replacen("\n[clusters.", "\nrequest_timeout_secs = 1\n[clusters.", 1);
    Clusters::from_config(&Config::parse(&text, "t", &|_| None).unwrap()).unwrap()
}

async fn run_once(
    clusters: &Clusters,
    id: u64,
    timeout: Duration,
) -> backup_console::procedure::runner::RunReport {
    let cluster = clusters.get("t").unwrap().clone();
    let p = plan(cluster.profile, &cluster.components());
    let (tx, _rx) = tokio::sync::watch::channel(initial_report(&p, id));
    run(
        cluster,
        p,
        id,
        quick_settings(timeout),
        CancelSignal::never(),
        tx,
        None,
    )
    .await
}

#[tokio::test]
async fn both_procedures_complete_and_leave_a_restorable_set() {
    for profile in [VersionProfile::V87, VersionProfile::V88] {
        let sim = start_sim(profile, 0).await;
        let clusters = clusters(&sim);
        let report = run_once(&clusters, 1000, Duration::from_secs(10)).await;
        assert_eq!(
            report.outcome,
            RunOutcome::Completed,
            "{profile:?}: {report:#?}"
        );
        assert!(
            report.steps.iter().all(|s| s.state == StepState::Done),
            "{report:#?}"
        );
        let (paused, resumed) = (report.paused_ms.unwrap(), report.resumed_ms.unwrap());
        assert!(resumed >= paused);
        assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
        let history = backup_console::history::history(clusters.get("t").unwrap()).await;
        let set = history
            .sets
            .iter()
            .find(|s| s.backup_id == 1000)
            .expect("the new set is listed");
        assert_eq!(
            set.verdict,
            backup_domain::Verdict::Restorable,
            "{profile:?}: {set:?}"
        );
    }
}

#[tokio::test]
async fn every_failing_step_ends_the_run_and_exporting_is_resumed() {
    let sim = start_sim(VersionProfile::V87, 0).await;
    let clusters = clusters(&sim);
    // (step description prefix, simulated component, operation)
    let cases = [
        ("Start the Operate backup", "operate", "take"),
        ("Start the Optimize backup", "optimize", "take"),
        (
            "Wait until the Tasklist backup completes",
            "tasklist",
            "get",
        ),
        ("Soft-pause Zeebe exporting", "exporting", "pause"),
        ("Snapshot the zeebe-record indices", "elasticsearch", "take"),
        ("Start the Zeebe backup", "zeebe", "take"),
        ("Wait until the Zeebe backup completes", "zeebe", "get"),
    ];
    let actions = [
        json!({"kind": "status", "status": 500}),
        json!({"kind": "status", "status": 502}),
        json!({"kind": "status", "status": 504}),
        json!({"kind": "drop"}),
        json!({"kind": "hang"}),
        json!({"kind": "malformed"}),
    ];
    let mut id = 2000;
    for (step, component, operation) in cases {
        for action in &actions {
            id += 1;
            control(
                &sim,
                "/sim/faults",
                json!({"component": component, "operation": operation, "action": action}),
            )
            .await;
            if operation == "get" && component == "tasklist" {
                // Tasklist's 500 on a get is the pre-§5.1 not-found quirk: the console then asks
                // the list, so the component is down only when both fail.
                control(
                    &sim,
                    "/sim/faults",
                    json!({"component": component, "operation": "list", "action": action}),
                )
                .await;
            }
            let report = run_once(&clusters, id, Duration::from_millis(1500)).await;
            control_delete_faults(&sim).await;
            match &report.outcome {
                RunOutcome::Failed {
                    step: failed,
                    reason,
                } => {
                    assert!(
                        failed.starts_with(step),
                        "{component} {operation} {action}: failed at {failed}: {reason}"
                    );
                }
                other => panic!("{component} {operation} {action}: {other:?}"),
            }
            let failed_step = report
                .steps
                .iter()
                .position(|s| s.state == StepState::Failed)
                .unwrap();
            assert!(
                report.steps[failed_step + 1..]
                    .iter()
                    .all(|s| s.state == StepState::NotRun)
            );
            assert_eq!(
                phases(&sim).await,
                vec!["EXPORTING"; 3],
                "{component} {operation} {action}"
            );
            settle().await;
        }
    }
}

async fn control_delete_faults(sim: &camunda_sim::SimCluster) {
    let r = reqwest::Client::new()
        .delete(format!("{}/sim/faults", sim.endpoints.control))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
}

#[tokio::test]
async fn a_backup_that_ends_failed_fails_the_run_with_the_reason_and_resumes() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let clusters = clusters(&sim);
    control(
        &sim,
        "/sim/outcome",
        json!({"component": "zeebe", "outcome": "failed"}),
    )
    .await;
    let report = run_once(&clusters, 3000, Duration::from_secs(10)).await;
    match &report.outcome {
        RunOutcome::Failed { step, reason } => {
            assert_eq!(step, "Wait until the Zeebe backup completes");
            assert!(reason.contains("leader change"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(report.resumed_ms.is_some());
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);

    control(
        &sim,
        "/sim/outcome",
        json!({"component": "webapps", "outcome": "partial"}),
    )
    .await;
    settle().await;
    let report = run_once(&clusters, 3001, Duration::from_secs(10)).await;
    assert!(
        matches!(&report.outcome, RunOutcome::Failed { step, .. } if step == "Wait until the Web apps backup completes"),
        "{:?}",
        report.outcome
    );
    assert_eq!(
        phases(&sim).await,
        vec!["EXPORTING"; 3],
        "8.8 pauses first, so a web-apps failure must resume too"
    );
}

#[tokio::test]
async fn an_unconfirmable_resume_ends_the_run_as_exporting_still_paused() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let clusters = clusters(&sim);
    control(&sim, "/sim/faults", json!({"component": "exporting", "operation": "resume", "action": {"kind": "status", "status": 500}})).await;
    let cluster = clusters.get("t").unwrap().clone();
    let p = plan(cluster.profile, &cluster.components());
    let mut settings = quick_settings(Duration::from_secs(10));
    settings.resume.deadline = Duration::from_millis(500);
    let (tx, _rx) = tokio::sync::watch::channel(initial_report(&p, 4000));
    let report = run(cluster, p, 4000, settings, CancelSignal::never(), tx, None).await;
    assert!(
        matches!(report.outcome, RunOutcome::ExportingStillPaused { .. }),
        "{:?}",
        report.outcome
    );
    assert_eq!(
        phases(&sim).await,
        vec!["SOFT_PAUSED"; 3],
        "the report matches the cluster"
    );
}

/// A TCP gate in front of one simulated component. Open, it forwards; closed, nothing listens on
/// its port (a real "connection refused") and every connection it forwarded is cut.
struct Gate {
    addr: std::net::SocketAddr,
    target: String,
    accept: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Gate {
    async fn new(target_url: &str) -> Gate {
        let target = target_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gate = Gate {
            addr: listener.local_addr().unwrap(),
            target,
            accept: std::sync::Mutex::new(None),
        };
        gate.serve(listener);
        gate
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let target = self.target.clone();
        let task = tokio::spawn(async move {
            // Dropped with the task: aborting the accept loop cuts every forwarded connection.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        *self.accept.lock().unwrap() = Some(task);
    }

    fn close(&self) {
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
        }
    }

    async fn open(&self) {
        if self.accept.lock().unwrap().is_some() {
            return;
        }
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

#[tokio::test]
async fn connection_refused_at_every_step_fails_it_and_exporting_is_resumed() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let e = sim.endpoints.clone();
    let optimize = e.optimize.clone().unwrap();
    // 8.8 serves Zeebe, exporting and the web apps' backupHistory on one management port.
    // (step index in the 8.8 plan, its component's URL, close the gate before the run or once
    // this earlier step is done, when the gate's previous use is over)
    let cases: [(usize, &str, Option<usize>); 8] = [
        (0, &e.zeebe, None),         // Soft-pause Zeebe exporting
        (1, &e.zeebe, Some(0)),      // Start the Web apps backup
        (2, &optimize, None),        // Start the Optimize backup
        (3, &e.zeebe, Some(1)),      // Wait until the Web apps backup completes
        (4, &optimize, Some(2)),     // Wait until the Optimize backup completes
        (5, &e.elasticsearch, None), // Snapshot the zeebe-record indices
        (6, &e.zeebe, Some(3)),      // Start the Zeebe backup
        (7, &e.zeebe, Some(6)),      // Wait until the Zeebe backup completes
    ];
    let mut id = 5000;
    for (index, url, close_after) in cases {
        id += 1;
        let gate = std::sync::Arc::new(Gate::new(url).await);
        let text = sim
            .endpoints
            .console_config("t")
            .replace(url, &format!("http://{}", gate.addr))
            .replacen("\n[clusters.", "\nrequest_timeout_secs = 1\n[clusters.", 1);
        let clusters =
            Clusters::from_config(&Config::parse(&text, "t", &|_| None).unwrap()).unwrap();
        let cluster = clusters.get("t").unwrap().clone();
        let p = plan(cluster.profile, &cluster.components());
        let step = p.steps[index].describe();
        let (tx, mut rx) = tokio::sync::watch::channel(initial_report(&p, id));
        if close_after.is_none() {
            gate.close();
        }
        // Closes the gate once the component's previous use is over, and opens it again once the
        // step has failed, so that the resume can get through and be confirmed.
        let watcher = {
            let gate = gate.clone();
            tokio::spawn(async move {
                let mut closed = close_after.is_none();
                while rx.changed().await.is_ok() {
                    let (before_done, failed) = {
                        let r = rx.borrow_and_update();
                        (
                            close_after.is_some_and(|j| r.steps[j].state == StepState::Done),
                            r.steps[index].state == StepState::Failed,
                        )
                    };
                    if !closed && before_done {
                        gate.close();
                        closed = true;
                    }
                    if failed {
                        gate.open().await;
                        return;
                    }
                }
            })
        };
        let report = run(
            cluster,
            p,
            id,
            quick_settings(Duration::from_millis(1500)),
            CancelSignal::never(),
            tx,
            None,
        )
        .await;
        watcher.abort();
        match &report.outcome {
            RunOutcome::Failed {
                step: failed,
                reason,
            } => {
                assert_eq!(failed, &step, "{reason}");
                // Closed right after its previous request, the gate also cuts the connection
                // the client kept alive: that request sees a reset rather than a refusal.
                let cut_mid_use = close_after == index.checked_sub(1) && index > 0;
                assert!(
                    reason.contains("cannot connect")
                        || (cut_mid_use && reason.contains("connection failed")),
                    "{step}: {reason}"
                );
            }
            other => panic!("{step}: {other:?}"),
        }
        assert!(report.resumed_ms.is_some(), "{step}: resume confirmed");
        assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3], "{step}");
        settle().await;
    }
}

#[tokio::test]
async fn a_pause_checkpoint_that_cannot_be_stored_stops_the_run_before_the_pause_is_sent() {
    // Review M2: a pause nobody could recover from after a crash is not sent.
    let sim = start_sim(VersionProfile::V88, 0).await;
    let clusters = clusters(&sim);
    let cluster = clusters.get("t").unwrap().clone();
    let p = plan(cluster.profile, &cluster.components());
    let (tx, _rx) = tokio::sync::watch::channel(initial_report(&p, 4100));
    let checkpoint: backup_console::procedure::runner::PauseCheckpoint =
        std::sync::Arc::new(|_report| Box::pin(async { Err("database is locked".to_string()) }));
    let report = run(
        cluster,
        p,
        4100,
        quick_settings(Duration::from_secs(10)),
        CancelSignal::never(),
        tx,
        Some(checkpoint),
    )
    .await;
    match &report.outcome {
        RunOutcome::Failed { reason, .. } => {
            assert!(reason.contains("could not be recorded"), "{reason}");
            assert!(reason.contains("database is locked"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !report
            .transcript
            .iter()
            .any(|e| e.url.contains("/actuator/exporting/")),
        "no pause (nor resume) was sent: {:?}",
        report.transcript
    );
    assert_eq!(report.paused_ms, None);
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
}

#[tokio::test]
async fn a_cancel_drops_the_request_in_flight_and_resumes_at_once() {
    // The Zeebe backup request hangs for 30 s; the request timeout is the default (longer).
    let sim = start_sim(VersionProfile::V88, 0).await;
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "take", "action": {"kind": "hang"}}),
    )
    .await;
    let text = sim.endpoints.console_config("t");
    let clusters = Clusters::from_config(&Config::parse(&text, "t", &|_| None).unwrap()).unwrap();
    let cluster = clusters.get("t").unwrap().clone();
    let p = plan(cluster.profile, &cluster.components());
    let (tx, mut rx) = tokio::sync::watch::channel(initial_report(&p, 4200));
    let (cancel_tx, cancel) = CancelSignal::new();
    let task = tokio::spawn(run(
        cluster,
        p,
        4200,
        quick_settings(Duration::from_secs(60)),
        cancel,
        tx,
        None,
    ));
    // Wait until the Zeebe backup request is in flight.
    tokio::time::timeout(
        Duration::from_secs(15),
        rx.wait_for(|r| {
            r.steps.iter().any(|s| {
                s.step == backup_domain::procedure::ProcedureStep::StartZeebe
                    && s.state == StepState::Running
            })
        }),
    )
    .await
    .expect("the Zeebe step starts")
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = std::time::Instant::now();
    cancel_tx.send_replace(Some("tester".into()));
    let report = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the cancel does not wait for the hung request")
        .unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    assert!(
        matches!(report.outcome, RunOutcome::Cancelled { .. }),
        "{:?}",
        report.outcome
    );
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
}
