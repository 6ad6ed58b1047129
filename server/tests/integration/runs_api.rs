//! Backup runs through the API: started on the server, one per cluster, validated before any
//! call, and recovered after the console stops mid-run.

use std::time::Duration;

use backup_console::procedure::service::STALE_AFTER_MS;
use backup_console_testkit::*;
use backup_domain::api::ErrorCode;
use backup_domain::api::VersionProfile;
use backup_domain::run::{PreflightCheckId, RunState};
use reqwest::Method;
use serde_json::{Value, json};

/// `POST /api/clusters/test/runs` as `session`.
async fn start_run(console: &Console, session: &Session, body: Value) -> (u16, Value) {
    console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(session),
            Some(body),
        )
        .await
}

fn state(run: &Value) -> &str {
    run["report"]["outcome"]["outcome"]
        .as_str()
        .unwrap_or_default()
}

async fn run_ends(console: &Console, run_id: i64) -> Value {
    eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (state(&run) != "running").then_some(run)
    })
    .await
}

#[tokio::test]
async fn an_operator_runs_a_backup_on_the_server_to_a_restorable_set() {
    let sim = start_sim(VersionProfile::V87, 3).await;
    let console = console_for(&sim).await;
    let operator = console.login("operator", PASSWORD).await.unwrap();
    let (status, started) = start_run(&console, &operator, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let backup_id = started["backup_id"].as_u64().unwrap();
    let now = chrono::Utc::now().timestamp() as u64;
    assert!(
        backup_id >= now - 5,
        "the proposal follows the clock: {backup_id}"
    );
    let run = run_ends(&console, started["run_id"].as_i64().unwrap()).await;
    assert_eq!(state(&run), "completed", "{run}");
    assert_eq!(run["report"]["steps"].as_array().unwrap().len(), 11);
    assert_eq!(run["started_by"], "operator");
    assert!(
        run["report"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "done")
    );
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    let (_, detail) = console
        .get(&format!("/api/clusters/test/backups/{backup_id}"))
        .await;
    assert_eq!(detail["set"]["verdict"], "restorable", "{detail}");
    let (_, latest) = console.get("/api/clusters/test/runs/latest").await;
    assert_eq!(latest["id"], run["id"]);
    // The audit entry is written as the run's task ends, just after the report says so.
    let audit = eventually(Duration::from_secs(5), || async {
        let (_, audit) = console.get("/api/audit?cluster=test").await;
        (audit["entries"].as_array().unwrap().len() >= 2).then_some(audit)
    })
    .await;
    let actions: Vec<(&str, &str)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions[..2],
        [
            ("backup_finished", "success"),
            ("backup_started", "success")
        ]
    );
    assert_eq!(audit["entries"][0]["target"], backup_id.to_string());
}

#[tokio::test]
async fn one_run_per_cluster_even_when_two_starts_race() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let mut slow = fast_timings();
    slow.zeebe_backup_ms = 1_500;
    control(&sim, "/sim/settings", json!({"timings": slow})).await;
    let console = console_for(&sim).await;
    let start = || {
        console.call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({})),
        )
    };
    let ((a, body_a), (b, body_b)) = tokio::join!(start(), start());
    let mut statuses = [a, b];
    statuses.sort();
    assert_eq!(statuses, [202, 409], "{body_a} {body_b}");
    let winner = if a == 202 { &body_a } else { &body_b };
    let (status, again) = start().await;
    assert_eq!(status, 409);
    assert_eq!(again["error"]["code"], ErrorCode::RunInProgress.as_str());
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("(run {})", winner["run_id"])),
        "{again}"
    );
    let run = run_ends(&console, winner["run_id"].as_i64().unwrap()).await;
    assert_eq!(state(&run), "completed");
    settle().await;
    let (status, _) = start().await;
    assert_eq!(status, 202, "the cluster is free again");
}

#[tokio::test]
async fn ids_and_preflight_are_checked_before_any_call() {
    let sim = start_sim(VersionProfile::V87, 5).await;
    let console = console_for(&sim).await;
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    let highest = history["highest_backup_id"].as_u64().unwrap();
    for id in [json!(0), json!(highest), json!(highest - 10)] {
        let (status, body) = start_run(&console, &console.session, json!({"backup_id": id})).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(ErrorCode::BadRequest.as_str())),
            "{id}: {body}"
        );
    }
    let (_, body) = start_run(&console, &console.session, json!({"backup_id": highest})).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("never reused"),
        "{body}"
    );
    let (_, latest) = console.get("/api/clusters/test/runs/latest").await;
    assert!(latest.is_null(), "nothing was started");

    control(&sim, "/sim/exporting", json!({"phase": "SOFT_PAUSED"})).await;
    let (status, body) = start_run(&console, &console.session, json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some(ErrorCode::PreflightFailed.as_str())),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SOFT_PAUSED")
    );
    control(&sim, "/sim/exporting", json!({"phase": "EXPORTING"})).await;
    control(&sim, "/sim/faults", json!({"component": "optimize", "operation": "list", "action": {"kind": "status", "status": 502}})).await;
    let (status, body) = start_run(&console, &console.session, json!({})).await;
    assert_eq!(status, 409);
    assert!(
        body["error"]["message"].as_str().unwrap().starts_with(
            "Optimize answers and has backup storage: Optimize GET /actuator/backups: HTTP 502"
        ),
        "{body}"
    );
}

#[tokio::test]
async fn a_run_interrupted_after_the_pause_is_resumed_and_marked_at_restart() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let cluster = sim.endpoints.console_config("test");
    let (auth, db) = auth_section("");
    // What a console killed mid-run leaves behind: a running run that had paused exporting.
    {
        let store = backup_console::store::Store::open(&db).unwrap();
        let report = json!({"backup_id": 77, "steps": [], "outcome": {"outcome": "running"}, "paused_ms": 1});
        store
            .create_run(
                "test".into(),
                77,
                "operator".into(),
                1,
                report.to_string(),
                "a killed process".into(),
                backup_domain::schedule::RunTrigger::Cli,
            )
            .await
            .unwrap()
            .unwrap();
    }
    control(&sim, "/sim/exporting", json!({"phase": "SOFT_PAUSED"})).await;
    let started = std::time::Instant::now();
    let console = start_console_with(&format!("{auth}{cluster}")).await;
    eventually(Duration::from_secs(5), || async {
        (phases(&sim).await == vec!["EXPORTING"; 3]).then_some(())
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let run = eventually(Duration::from_secs(5), || async {
        let (_, run) = console.get("/api/runs/1").await;
        (state(&run) == "interrupted").then_some(run)
    })
    .await;
    assert!(
        run["report"]["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains("exporting was resumed at restart"),
        "{run}"
    );
    let (_, audit) = console.get("/api/audit?action=backup_interrupted").await;
    assert_eq!(audit["entries"][0]["user"], "system");
}

#[tokio::test]
async fn preflight_lists_every_check_with_a_fix_and_proposes_an_id() {
    let sim = start_sim(VersionProfile::V88, 3).await;
    let console = console_for(&sim).await;
    let (status, preflight) = console.get("/api/clusters/test/preflight").await;
    assert_eq!(status, 200, "{preflight}");
    let checks = preflight["checks"].as_array().unwrap();
    // Zeebe, web apps, Optimize, records snapshot, exporting, no other run.
    assert_eq!(checks.len(), 6, "{preflight}");
    assert!(checks.iter().all(|c| c["status"] == "pass"), "{preflight}");
    assert_eq!(preflight["steps"][0], "Soft-pause Zeebe exporting");
    let proposed = preflight["proposed_backup_id"].as_u64().unwrap();
    assert!(proposed > preflight["highest_known_id"].as_u64().unwrap());

    control(&sim, "/sim/exporting", json!({"phase": "PAUSED"})).await;
    let (_, preflight) = console.get("/api/clusters/test/preflight").await;
    let exporting = preflight["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == PreflightCheckId::Exporting.as_str())
        .unwrap();
    assert_eq!(exporting["status"], "fail");
    assert!(exporting["detail"].as_str().unwrap().contains("PAUSED"));
    assert!(
        exporting["fix"]
            .as_str()
            .unwrap()
            .contains("resume exporting")
    );
    let (_, latest) = console.get("/api/clusters/test/runs/latest").await;
    assert!(latest.is_null(), "preflight has no side effect");
}

#[tokio::test]
async fn a_cancelled_run_stops_and_resumes_exporting() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let mut slow = fast_timings();
    slow.zeebe_backup_ms = 20_000;
    control(&sim, "/sim/settings", json!({"timings": slow})).await;
    let console = console_for(&sim).await;
    let operator = console.login("operator", PASSWORD).await.unwrap();
    let (status, started) = start_run(&console, &operator, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    // Wait until it is waiting for Zeebe, with exporting soft-paused.
    eventually(Duration::from_secs(10), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        let waiting = run["report"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step"]["kind"] == "wait_for_zeebe" && s["state"] == "running");
        waiting.then_some(())
    })
    .await;
    assert_eq!(phases(&sim).await, vec!["SOFT_PAUSED"; 3]);
    let viewer = console.login("viewer", PASSWORD).await.unwrap();
    let (status, _) = console
        .call(
            Method::POST,
            &format!("/api/runs/{run_id}/cancel"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(status, 403, "a viewer cannot cancel");
    let asked = std::time::Instant::now();
    let (status, body) = console
        .call(
            Method::POST,
            &format!("/api/runs/{run_id}/cancel"),
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let run = run_ends(&console, run_id).await;
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the cancel does not wait for the backup"
    );
    assert_eq!(state(&run), "cancelled", "{run}");
    assert_eq!(run["report"]["outcome"]["by"], "operator");
    assert_eq!(
        run["report"]["outcome"]["step"],
        "Wait until the Zeebe backup completes"
    );
    assert!(run["report"]["resumed_ms"].is_i64());
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    let (status, _) = console
        .call(
            Method::POST,
            &format!("/api/runs/{run_id}/cancel"),
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(status, 409, "a finished run cannot be cancelled");
    let (_, audit) = console.get("/api/audit?action=backup_cancelled").await;
    assert_eq!(audit["entries"][0]["user"], "operator");
}

/// Reads server-sent events until the stream ends; returns each `report` event's data.
async fn read_events(console: &Console, run_id: i64) -> Vec<Value> {
    let mut response = console
        .http
        .get(format!("{}/api/runs/{run_id}/events", console.base))
        .header("cookie", &console.session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the stream ends with the run");
    text.split("\n\n")
        .filter(|e| e.contains("event: report"))
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn progress_streams_live_and_the_transcript_becomes_a_curl_script() {
    let sim = start_sim(VersionProfile::V87, 0).await;
    // Slow enough that the waits poll several times and their progress can be seen moving.
    let mut slow = fast_timings();
    slow.webapps_part_ms = 150;
    slow.zeebe_backup_ms = 900;
    control(&sim, "/sim/settings", json!({"timings": slow})).await;
    let mut slow = fast_timings();
    slow.zeebe_backup_ms = 3_000;
    control(&sim, "/sim/settings", json!({"timings": slow})).await;
    let console = console_for(&sim).await;
    let (_, started) = start_run(&console, &console.session, json!({})).await;
    let run_id = started["run_id"].as_i64().unwrap();
    let events = read_events(&console, run_id).await;
    assert!(
        events.len() >= 3,
        "several changes streamed: {}",
        events.len()
    );
    let last = events.last().unwrap();
    assert_eq!(last["outcome"]["outcome"], "completed", "{last}");
    let done_counts: Vec<usize> = events
        .iter()
        .map(|e| {
            e["steps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["state"] == "done")
                .count()
        })
        .collect();
    assert!(
        done_counts.windows(2).all(|w| w[0] <= w[1]),
        "progress only moves forward: {done_counts:?}"
    );
    // While a wait runs, its step shows the component's own progress ("2 of 6 parts").
    let partial = events.iter().any(|e| {
        e["steps"].as_array().unwrap().iter().any(|s| {
            s["state"] == "running"
                && s["detail"].as_str().is_some_and(|d| {
                    let numbers: Vec<u32> = d
                        .split_whitespace()
                        .filter_map(|w| w.parse().ok())
                        .collect();
                    d.contains(" of ") && numbers.len() == 2 && numbers[0] < numbers[1]
                })
        })
    });
    assert!(partial, "some event shows a wait in progress: {events:?}");
    assert!(
        events
            .iter()
            .all(|e| e["transcript"].as_array().is_none_or(|t| t.is_empty())),
        "the transcript stays out of the stream"
    );
    // A finished run streams once and ends.
    assert_eq!(read_events(&console, run_id).await.len(), 1);

    let response = console
        .http
        .get(format!("{}/api/runs/{run_id}/script", console.base))
        .header("cookie", &console.session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("backup-test-{}.sh", started["backup_id"]))
    );
    let script = response.text().await.unwrap();
    let position = |needle: &str| {
        script
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} missing from\n{script}"))
    };
    let operate = position("-X POST 'http://127.0.0.1");
    let pause = position("/actuator/exporting/pause?soft=true'");
    let records = position("-X PUT ");
    let resume = position("/actuator/exporting/resume'");
    assert!(operate < pause && pause < records && records < resume);
    assert!(script.contains("# polled "), "polls are folded:\n{script}");
}

#[tokio::test]
async fn zeebes_409_reveals_its_latest_id_and_the_next_proposal_goes_above_it() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    // A Zeebe backup far in the future, then deleted: Zeebe remembers it, no listing shows it.
    let hidden = chrono::Utc::now().timestamp() as u64 + 1_000_000;
    take_backup(&sim, hidden, &["zeebe"]).await;
    settle().await;
    let r = reqwest::Client::new()
        .delete(format!(
            "{}/actuator/backupRuntime/{hidden}",
            sim.endpoints.zeebe
        ))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let (_, preflight) = console.get("/api/clusters/test/preflight").await;
    let proposed = preflight["proposed_backup_id"].as_u64().unwrap();
    assert!(proposed < hidden, "the console cannot know yet");

    let (status, started) = start_run(&console, &console.session, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run = run_ends(&console, started["run_id"].as_i64().unwrap()).await;
    assert_eq!(state(&run), "failed");
    let reason = run["report"]["outcome"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("Zeebe's latest backup ID is {hidden}")),
        "{reason}"
    );
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    let (_, preflight) = console.get("/api/clusters/test/preflight").await;
    assert_eq!(preflight["highest_known_id"].as_u64(), Some(hidden));
    assert_eq!(preflight["proposed_backup_id"].as_u64(), Some(hidden + 1));
    settle().await;
    let (status, started) = start_run(&console, &console.session, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run = run_ends(&console, started["run_id"].as_i64().unwrap()).await;
    assert_eq!(state(&run), "completed", "{run}");
}

#[tokio::test]
async fn a_run_of_another_process_blocks_starts_takes_cancels_and_is_recovered_once_it_falls_silent()
 {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let cluster = sim.endpoints.console_config("test");
    let (auth, db) = auth_section("");
    // Another process sharing the database (a `backup` CLI run) is mid-run, exporting paused.
    let store = backup_console::store::Store::open(&db).unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let report =
        json!({"backup_id": 88, "steps": [], "outcome": {"outcome": "running"}, "paused_ms": now});
    let other = store
        .create_run(
            "test".into(),
            88,
            "cli".into(),
            now,
            report.to_string(),
            "the other process".into(),
            backup_domain::schedule::RunTrigger::Cli,
        )
        .await
        .unwrap()
        .unwrap();
    control(&sim, "/sim/exporting", json!({"phase": "SOFT_PAUSED"})).await;
    let (stop_tx, mut stop) = tokio::sync::oneshot::channel::<()>();
    let beating = store.clone();
    let (cancel_tx, cancel_seen) = tokio::sync::oneshot::channel::<String>();
    let heart = tokio::spawn(async move {
        let mut cancel_tx = Some(cancel_tx);
        loop {
            let now = chrono::Utc::now().timestamp_millis();
            if let Ok(backup_console::store::Lease::Held {
                cancel_by: Some(by),
            }) = beating
                .heartbeat(other, "the other process".into(), now)
                .await
                && let Some(tx) = cancel_tx.take()
            {
                let _ = tx.send(by);
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(300)) => {}
                _ = &mut stop => return,
            }
        }
    });

    let console = start_console_with(&format!("{auth}{cluster}")).await;
    // Alive: not recovered, and it holds the cluster (for longer than the stale threshold).
    let stale = Duration::from_millis(STALE_AFTER_MS as u64);
    tokio::time::sleep(stale + Duration::from_millis(1_000)).await;
    assert_eq!(
        phases(&sim).await,
        vec!["SOFT_PAUSED"; 3],
        "a live run is left alone"
    );
    let (_, preflight) = console.get("/api/clusters/test/preflight").await;
    assert_eq!(preflight["running_run"], other);
    let (status, body) = start_run(&console, &console.session, json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("run {other}")),
        "{body}"
    );
    // A cancel from the console reaches the other process through the database.
    let (status, _) = console
        .call(
            Method::POST,
            &format!("/api/runs/{other}/cancel"),
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let by = tokio::time::timeout(Duration::from_secs(3), cancel_seen)
        .await
        .expect("the other process hears the cancel")
        .unwrap();
    assert_eq!(by, "admin");

    // Silent (killed without finishing): recovered, exporting resumed.
    let _ = stop_tx.send(());
    heart.await.unwrap();
    let silent = std::time::Instant::now();
    eventually(stale + Duration::from_secs(6), || async {
        (phases(&sim).await == vec!["EXPORTING"; 3]).then_some(())
    })
    .await;
    assert!(
        silent.elapsed() < stale + Duration::from_secs(3),
        "{:?}",
        silent.elapsed()
    );
    let run = eventually(Duration::from_secs(5), || async {
        let (_, run) = console.get(&format!("/api/runs/{other}")).await;
        (state(&run) == "interrupted").then_some(run)
    })
    .await;
    assert_eq!(run["backup_id"], 88);
}

#[tokio::test]
async fn a_stale_owner_cannot_overwrite_the_outcome_once_another_process_took_the_run_over() {
    // Review M3: a stopped owner (SIGSTOP, a VM pause) is taken over; when it carries on, its
    // heartbeat and writes find the lease gone and change nothing.
    let (_, db) = auth_section("");
    let store = backup_console::store::Store::open(&db).unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let id = store
        .create_run(
            "test".into(),
            7,
            "cli".into(),
            now,
            "{}".into(),
            "old".into(),
            backup_domain::schedule::RunTrigger::Cli,
        )
        .await
        .unwrap()
        .unwrap();
    let later = now + STALE_AFTER_MS + 1;
    let claimed = store
        .claim_stale_runs("new".into(), later, later - STALE_AFTER_MS)
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id]);
    assert!(
        store
            .update_run(
                id,
                "new".into(),
                RunState::Interrupted,
                false,
                Some(later),
                "{}".into()
            )
            .await
            .unwrap()
    );

    // The old owner wakes up.
    assert_eq!(
        store.heartbeat(id, "old".into(), later + 1).await.unwrap(),
        backup_console::store::Lease::Lost
    );
    let written = store
        .update_run(
            id,
            "old".into(),
            RunState::Completed,
            false,
            Some(later + 2),
            r#"{"outcome":{"outcome":"completed"}}"#.into(),
        )
        .await
        .unwrap();
    assert!(!written, "the stale owner's write is refused");
    let row = store.run(id).await.unwrap().unwrap();
    assert_eq!(row.state, RunState::Interrupted);
    assert_eq!(row.ended_ms, Some(later));
    assert_eq!(
        store.heartbeat(id, "new".into(), later + 3).await.unwrap(),
        backup_console::store::Lease::Held { cancel_by: None }
    );
}

#[tokio::test]
async fn a_user_can_hold_only_a_few_live_streams_and_a_closed_one_frees_its_slot() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let mut slow = fast_timings();
    slow.zeebe_backup_ms = 20_000;
    control(&sim, "/sim/settings", json!({"timings": slow})).await;
    let console = console_for(&sim).await;
    let operator = console.login("operator", PASSWORD).await.unwrap();
    let (status, started) = start_run(&console, &operator, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    let open = |session: &Session| {
        console
            .http
            .get(format!("{}/api/runs/{run_id}/events", console.base))
            .header("cookie", &session.cookie)
            .send()
    };
    let mut held = Vec::new();
    for _ in 0..backup_console::api::streams::StreamLimits::PER_USER {
        let response = open(&console.session).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        held.push(response);
    }
    let refused = open(&console.session).await.unwrap();
    assert_eq!(refused.status().as_u16(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["error"]["code"],
        ErrorCode::TooManyStreams.as_str(),
        "{body}"
    );
    // Another user is not held back by this one.
    let other = open(&operator).await.unwrap();
    assert_eq!(other.status().as_u16(), 200);
    // A stream the client closed gives its slot back.
    drop(held.pop());
    let again = eventually(Duration::from_secs(5), || async {
        let response = open(&console.session).await.unwrap();
        (response.status().as_u16() == 200).then_some(response)
    })
    .await;
    drop(again);
    let (status, _) = console
        .call(
            Method::POST,
            &format!("/api/runs/{run_id}/cancel"),
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(status, 202);
    run_ends(&console, run_id).await;
}
