//! Second hostile review of part 8's notifications, after the rework: two consoles with
//! different channels clearing a condition, a pause blamed on a run that was resumed before
//! the console looked, a delivery in flight at shutdown. A failing test here is a finding.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::notify::{
    bodies, config_text_with, count, exporting, receiver, receiver_after, run_backup, run_to_end,
    webhook,
};
use backup_console::config::Config;
use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use reqwest::Method;
use serde_json::json;

async fn start_on(text: &str) -> backup_console::web::Console {
    let config = Config::parse(text, "other.toml", &|_| None).unwrap();
    backup_console::web::console_for(&config, Path::new("/nonexistent-ui"), false)
        .await
        .expect("the console starts")
}

/// README: "with two consoles whose channel lists differ, each sends its own", and `resolved`
/// goes to every channel that was sent the condition. Console B has a channel `extra` that
/// console A lacks; B re-enqueues the raise for `extra`, but when A is the one that sees the
/// completed run first, `clear_condition` queues `resolved` only for A's channels and deletes
/// the condition: `extra` (a PagerDuty incident, say) is never told it is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_only_the_other_console_has_gets_its_resolved() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (ops, ops_port, _t1) = receiver().await;
    let (extra, extra_port, _t2) = receiver().await;
    let events = "[\"run_failed\", \"resolved\"]";
    let ops_channel = webhook("ops", ops_port, events);
    let text_a = config_text_with(&sim, "", &ops_channel);
    let text_b = text_a.replace(
        &ops_channel,
        &format!("{ops_channel}{}", webhook("extra", extra_port, events)),
    );
    let a = start_console_with_env(&text_a, &|_| None).await;
    let b = start_on(&text_b).await;
    run_backup(&a, &sim, true).await;
    eventually(Duration::from_secs(10), || async {
        (count(&ops, "run_failed") == 1 && count(&extra, "run_failed") == 1).then_some(())
    })
    .await;
    // B is restarted (a rolling upgrade) while A sees the next run complete.
    b.shutdown().await;
    drop(b);
    run_backup(&a, &sim, false).await;
    eventually(Duration::from_secs(10), || async {
        (count(&ops, "resolved") == 1).then_some(())
    })
    .await;
    let b = start_on(&text_b).await;
    let deadline = Instant::now() + Duration::from_secs(4);
    while count(&extra, "resolved") == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.shutdown().await;
    assert_eq!(
        count(&extra, "resolved"),
        1,
        "`extra` was sent run_failed and never its resolved: {:?}",
        bodies(&extra)
    );
}

/// Review H2's fix blames a pause on the last run only until exporting is seen running after
/// it, but "seen" is written only when a console cleared a condition row of that run. A run of
/// the CLI or of a console without channels leaves exporting paused and an admin resumes it;
/// the console with channels never raised anything for that run. When someone later pauses
/// exporting by hand it is blamed on that old run and notified at once, instead of after
/// `paused_after_secs` as "paused ... with no backup run".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_after_the_run_was_resumed_elsewhere_is_not_blamed_on_the_run() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, port, _task) = receiver().await;
    let status = "[status]\npoll_interval_secs = 1\n[procedure]\nresume_deadline_secs = 1\n";
    let channel = webhook("ops", port, "[\"exporting_still_paused\", \"resolved\"]");
    let text_with = config_text_with(
        &sim,
        "paused_after_secs = 60\n",
        &format!("{status}{channel}"),
    );
    let text_without = text_with.replace(&channel, "");
    // A console with no channel (the CLI would do the same) runs the backup.
    let plain = start_console_with_env(&text_without, &|_| None).await;
    control(
        &sim,
        "/sim/faults",
        json!({"component": "exporting", "operation": "resume",
               "action": {"kind": "status", "status": 500}}),
    )
    .await;
    let (run_id, _) = run_to_end(&plain).await;
    let (_, run) = plain.get(&format!("/api/runs/{run_id}")).await;
    assert_eq!(
        run["report"]["outcome"]["outcome"], "exporting_still_paused",
        "{run}"
    );
    let _ = reqwest::Client::new()
        .delete(format!("{}/sim/faults", sim.endpoints.control))
        .send()
        .await;
    exporting(&plain, "resume").await;
    // The console with the channel starts and sees exporting running.
    let notifying = start_on(&text_with).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(&received, "exporting_still_paused"), 0);
    // Paused by hand, for less than paused_after_secs.
    exporting(&plain, "pause").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    notifying.shutdown().await;
    assert_eq!(
        count(&received, "exporting_still_paused"),
        0,
        "a pause of 4 s (paused_after_secs = 60) was notified at once, blamed on run {run_id}: {:?}",
        bodies(&received)
    );
}

/// `shutdown` says it waits 2 s for the loops, but the delivery loop aborts the sends in flight
/// as soon as it is told to stop: a delivery the receiver has and answers 300 ms later is
/// dropped unrecorded, its row stays leased for a minute (the channel blocked behind it for a
/// console that starts meanwhile) and it is sent again: a duplicate for every restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_in_flight_at_shutdown_is_finished_and_recorded() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, port, _task) = receiver_after(Duration::from_millis(300)).await;
    let channel = webhook("ops", port, "[\"run_failed\"]");
    let text_with = config_text_with(&sim, "", &channel);
    let text_without = text_with.replace(&channel, "");
    let plain = start_console_with_env(&text_without, &|_| None).await;
    let notifying = start_on(&text_with).await;
    run_backup(&plain, &sim, true).await;
    eventually(Duration::from_secs(10), || async {
        (!received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty())
        .then_some(())
    })
    .await;
    notifying.shutdown().await;
    let config = Config::parse(&text_with, "x.toml", &|_| None).unwrap();
    let store = backup_console::store::Store::open(&config.database_path()).unwrap();
    let (pending, last) = store.channel_deliveries("ops".into()).await.unwrap();
    assert_eq!(
        (pending, last.map(|l| l.outcome.as_str().to_string())),
        (0, Some("delivered".to_string())),
        "the receiver answered 300 ms after shutdown began; the delivery was dropped"
    );
}

/// README: a URL from `url_env` is a secret that no answer shows, and L5's cause chain is
/// meant to say why without it. A refused port and a name that does not resolve say so without
/// the host; a TLS failure names the host the certificate was checked against, which is the
/// URL's (here 127.0.0.2, a webhook host an admin put in `url_env` to keep it out of answers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_failure_does_not_name_the_secret_urls_host() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let fixture = |name: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    };
    let acceptor =
        backup_console::tls::acceptor(&fixture("server.pem"), &fixture("server.key")).unwrap();
    // The test certificate holds 127.0.0.1 and localhost, not 127.0.0.2.
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let listener = backup_console::tls::TlsListener::new(listener, acceptor);
    let app = axum::Router::new().route("/hook-SECRET", axum::routing::post(|| async { "ok" }));
    let _server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let channel = format!(
        "[[notifications]]\nname = \"tls\"\nkind = \"webhook\"\nurl_env = \"HOOK\"\nca_file = {:?}\n",
        fixture("ca.pem").display().to_string()
    );
    let text = config_text_with(&sim, "", &channel);
    let url = format!("https://127.0.0.2:{port}/hook-SECRET");
    let console = start_console_with_env(&text, &|k| (k == "HOOK").then(|| url.clone())).await;
    let (status, answer) = console
        .call(
            Method::POST,
            "/api/notifications/tls/test",
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("failed")),
        "{answer}"
    );
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        !error.contains("127.0.0.2") && !error.contains("SECRET"),
        "the error shows the secret URL's host: {error}"
    );
}
