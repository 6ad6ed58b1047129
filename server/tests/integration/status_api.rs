//! `GET /api/clusters/{name}/status`: one poller per cluster, shared by every viewer, against the
//! simulator over real HTTP. Zeebe's `/actuator/partitions` is read through a counting proxy
//! (configured as the cluster's broker endpoint) so that upstream reads can be counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use backup_console_testkit::*;
use backup_domain::api::ErrorCode;
use backup_domain::api::VersionProfile;
use camunda_sim::SimCluster;
use reqwest::Method;
use serde_json::{Value, json};

/// Counts the exporting reads (`GET /actuator/partitions`) and passes them on to the simulator,
/// after `delay_ms` if set.
#[derive(Clone)]
struct Counter {
    upstream: String,
    reads: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
}

async fn partitions(State(c): State<Counter>) -> Response {
    c.reads.fetch_add(1, Ordering::SeqCst);
    let delay = c.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let answer = reqwest::Client::new()
        .get(format!("{}/actuator/partitions", c.upstream))
        .header("accept", "application/json")
        .send()
        .await
        .expect("sim answers");
    let status = answer.status();
    let body = answer.bytes().await.unwrap_or_default();
    (
        axum::http::StatusCode::from_u16(status.as_u16()).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn start_counter(sim: &SimCluster) -> (String, Counter) {
    let counter = Counter {
        upstream: sim.endpoints.zeebe.clone(),
        reads: Arc::new(AtomicUsize::new(0)),
        delay_ms: Arc::new(AtomicU64::new(0)),
    };
    let app = axum::Router::new()
        .route("/actuator/partitions", axum::routing::get(partitions))
        .with_state(counter.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, counter)
}

/// A console on `sim` with a `[status]` section, its exporting reads going through a counter.
async fn console_with_status(sim: &SimCluster, status: &str) -> (Console, Counter) {
    let (proxy, counter) = start_counter(sim).await;
    let cluster = sim.endpoints.console_config("test");
    let url_line = format!("url = \"{}\"\n", sim.endpoints.zeebe);
    assert!(cluster.contains(&url_line), "{cluster}");
    let cluster = cluster.replacen(
        &url_line,
        &format!("{url_line}brokers = [\"{proxy}\"]\n"),
        1,
    );
    let console = start_console(&format!("[status]\n{status}\n{cluster}")).await;
    (console, counter)
}

async fn status(console: &Console) -> Value {
    let (code, body) = console.get("/api/clusters/test/status").await;
    assert_eq!(code, 200, "{body}");
    body
}

fn component<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["components"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["component"] == name))
        .unwrap_or_else(|| panic!("{name} not in {status}"))
}

#[tokio::test]
async fn a_pause_made_behind_the_consoles_back_shows_within_one_interval() {
    let sim = start_sim(VersionProfile::V87, 0).await;
    let (console, _) =
        console_with_status(&sim, "poll_interval_secs = 1\nprobe_timeout_secs = 1").await;
    let first = status(&console).await;
    assert_eq!(first["phase"], "exporting", "{first}");
    assert_eq!(first["interval_ms"], 1000);
    assert!(first["held_by"].is_null(), "{first}");
    for c in first["components"].as_array().unwrap() {
        assert_eq!(c["probe"], "reachable", "{c}");
    }
    assert_eq!(
        first["components"].as_array().unwrap().len(),
        5,
        "Zeebe, Operate, Tasklist, Optimize, records: {first}"
    );

    // Paused with Zeebe's own API, as the CLI or another tool would: the console is not told.
    let (code, text) = post(
        &format!("{}/actuator/exporting/pause", sim.endpoints.zeebe),
        json!({}),
    )
    .await;
    assert_eq!(code, 200, "{text}");
    let paused_at = Instant::now();
    let seen = eventually(Duration::from_secs(3), || async {
        let s = status(&console).await;
        (s["phase"] == "paused").then_some(s)
    })
    .await;
    // One interval, plus the round itself and this test's own polling.
    assert!(
        paused_at.elapsed() < Duration::from_millis(1_600),
        "{:?}",
        paused_at.elapsed()
    );
    assert_eq!(seen["exporting"]["partitions"][0]["phase"], "PAUSED");
    assert!(seen["taken_at_ms"].as_i64() > first["taken_at_ms"].as_i64());

    // A resume through the console refreshes the status before it answers: no interval to wait.
    let (code, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/resume",
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&console).await["phase"], "exporting");
    let (code, _) = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/pause",
            Some(&console.session),
            Some(json!({"soft": true})),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(status(&console).await["phase"], "soft_paused");

    // A viewer may read it; an unknown cluster is a 404; anonymous is refused.
    let viewer = console.login("viewer", PASSWORD).await.unwrap();
    let (code, _) = console
        .call(
            Method::GET,
            "/api/clusters/test/status",
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(code, 200);
    let (code, body) = console.get("/api/clusters/nope/status").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some(ErrorCode::ClusterNotFound.as_str()))
    );
    let (code, _) = console
        .call(Method::GET, "/api/clusters/test/status", None, None)
        .await;
    assert_eq!(code, 401);
}

#[tokio::test]
async fn twenty_viewers_share_one_upstream_read_per_round() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (console, counter) =
        console_with_status(&sim, "poll_interval_secs = 1\nprobe_timeout_secs = 1").await;
    status(&console).await;
    let viewer = console.login("viewer", PASSWORD).await.unwrap();
    let before = counter.reads.load(Ordering::SeqCst);
    let start = Instant::now();
    let mut viewers = Vec::new();
    for _ in 0..20 {
        let http = console.http.clone();
        let url = format!("{}/api/clusters/test/status", console.base);
        let cookie = viewer.cookie.clone();
        viewers.push(tokio::spawn(async move {
            let mut rounds = std::collections::BTreeSet::new();
            for _ in 0..25 {
                let r = http
                    .get(&url)
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
                let body: Value = r.json().await.unwrap();
                rounds.insert(body["taken_at_ms"].as_i64().unwrap());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            rounds
        }));
    }
    let mut rounds = std::collections::BTreeSet::new();
    for v in viewers {
        rounds.extend(v.await.unwrap());
    }
    let reads = counter.reads.load(Ordering::SeqCst) - before;
    let elapsed = start.elapsed();
    // 500 requests over about 2.5 s; the poller reads once a second whoever asks.
    let intervals = elapsed.as_secs_f64().ceil() as usize;
    assert!(
        reads <= intervals + 1,
        "{reads} exporting reads in {elapsed:?} for 500 status requests"
    );
    assert!(reads >= 1, "the poller kept polling");
    assert!(
        rounds.len() >= 2,
        "viewers saw the rounds change: {rounds:?}"
    );
    assert!(rounds.len() <= reads + 1, "{rounds:?} vs {reads} reads");
}

#[tokio::test]
async fn viewers_before_the_first_round_wait_for_it_and_start_none_of_their_own() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (proxy, counter) = start_counter(&sim).await;
    // The first exporting read takes 1.5 s: viewers arrive while it is in flight.
    counter.delay_ms.store(1_500, Ordering::SeqCst);
    let cluster = sim.endpoints.console_config("test").replacen(
        &format!("url = \"{}\"\n", sim.endpoints.zeebe),
        &format!(
            "url = \"{}\"\nbrokers = [\"{proxy}\"]\n",
            sim.endpoints.zeebe
        ),
        1,
    );
    let console = start_console(&format!(
        "[status]\npoll_interval_secs = 30\nprobe_timeout_secs = 5\n{cluster}"
    ))
    .await;
    let answers = futures_util::future::join_all((0..20).map(|_| status(&console))).await;
    for a in &answers {
        assert_eq!(a["phase"], "exporting", "{a}");
        assert_eq!(a["taken_at_ms"], answers[0]["taken_at_ms"]);
    }
    assert_eq!(counter.reads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_component_that_goes_down_reads_unreachable_or_unknown_never_healthy() {
    let sim = start_sim(VersionProfile::V87, 0).await;
    let (console, _) =
        console_with_status(&sim, "poll_interval_secs = 1\nprobe_timeout_secs = 1").await;
    let first = status(&console).await;
    assert_eq!(component(&first, "optimize")["probe"], "reachable");

    // Optimize drops every connection, Elasticsearch hangs, Zeebe's partitions answer 503.
    for rule in [
        json!({"component": "optimize", "operation": "health", "action": {"kind": "drop"}}),
        json!({"component": "elasticsearch", "operation": "health", "action": {"kind": "hang"}}),
        json!({"component": "zeebe", "operation": "partitions", "action": {"kind": "status", "status": 503}}),
    ] {
        control(&sim, "/sim/faults", rule).await;
    }
    let down = eventually(Duration::from_secs(5), || async {
        let s = status(&console).await;
        (s["phase"] == "unknown" && component(&s, "records_snapshot")["probe"] == "unknown")
            .then_some(s)
    })
    .await;
    let optimize = component(&down, "optimize");
    assert!(
        optimize["probe"] == "unreachable" || optimize["probe"] == "unknown",
        "{optimize}"
    );
    assert!(
        optimize["error"].as_str().unwrap().contains("Optimize"),
        "{optimize}"
    );
    let records = component(&down, "records_snapshot");
    assert!(
        records["error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1 s"),
        "{records}"
    );
    assert!(
        down["exporting"]["error"].as_str().unwrap().contains("503"),
        "{down}"
    );
    assert_eq!(down["exporting"]["partitions"], json!([]));
    // The others are still up, and the round did not wait for the hung one past its timeout.
    assert_eq!(component(&down, "zeebe")["probe"], "reachable");
    assert_eq!(component(&down, "operate")["probe"], "reachable");
    assert!(down["took_ms"].as_i64().unwrap() < 2_000, "{down}");

    // Back up: the next round says so.
    reqwest::Client::new()
        .delete(format!("{}/sim/faults", sim.endpoints.control))
        .send()
        .await
        .unwrap();
    eventually(Duration::from_secs(5), || async {
        let s = status(&console).await;
        (s["phase"] == "exporting"
            && s["components"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["probe"] == "reachable"))
        .then_some(())
    })
    .await;
}

#[tokio::test]
async fn during_a_run_the_status_names_the_run_and_its_step() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    // The records snapshot holds the run between the pause and the Zeebe backup.
    let mut timings = fast_timings();
    timings.records_snapshot_ms = 3_000;
    control(&sim, "/sim/settings", json!({"timings": timings})).await;
    let (console, _) =
        console_with_status(&sim, "poll_interval_secs = 1\nprobe_timeout_secs = 1").await;
    assert!(status(&console).await["held_by"].is_null());
    let (code, started) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({})),
        )
        .await;
    assert_eq!(code, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    let held = eventually(Duration::from_secs(5), || async {
        let s = status(&console).await;
        (s["phase"] == "soft_paused" && s["held_by"]["run_id"] == run_id).then_some(s)
    })
    .await;
    let hold = &held["held_by"];
    assert!(hold["backup_id"].as_u64().is_some(), "{hold}");
    assert!(
        hold["phase"].as_str().unwrap().contains("Snapshot"),
        "the records snapshot step: {hold}"
    );
    assert_eq!(hold["resuming"], false);

    // Once the run has ended it no longer holds the cluster.
    eventually(Duration::from_secs(20), || async {
        let s = status(&console).await;
        (s["held_by"].is_null() && s["phase"] == "exporting").then_some(())
    })
    .await;
}

/// A history read lists nothing (the catalog answers) but brings the status round forward, so the
/// exporting phase beside it is current.
#[tokio::test]
async fn a_history_read_brings_the_next_round_forward() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (console, counter) =
        console_with_status(&sim, "poll_interval_secs = 60\nprobe_timeout_secs = 1").await;
    let first = status(&console).await;
    let (code, _) = console.get("/api/clusters/test/backups").await;
    assert_eq!(code, 200);
    let first = eventually(Duration::from_secs(3), || async {
        let s = status(&console).await;
        (s["taken_at_ms"] != first["taken_at_ms"]).then_some(s)
    })
    .await;
    control(&sim, "/sim/exporting", json!({"phase": "SOFT_PAUSED"})).await;
    // Without a reason the poller would wait a minute.
    assert_eq!(status(&console).await["taken_at_ms"], first["taken_at_ms"]);
    let before = counter.reads.load(Ordering::SeqCst);
    let (code, history) = console.get("/api/clusters/test/backups").await;
    assert_eq!(code, 200, "{history}");
    let seen = eventually(Duration::from_secs(3), || async {
        let s = status(&console).await;
        (s["phase"] == "soft_paused").then_some(s)
    })
    .await;
    assert!(seen["taken_at_ms"].as_i64() > first["taken_at_ms"].as_i64());
    // The poller's round read the phases once; the history itself read nothing.
    assert_eq!(counter.reads.load(Ordering::SeqCst) - before, 1);
}
