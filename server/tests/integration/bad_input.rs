//! Every request the console cannot read answers 400 (or 413/415) with the error envelope, and
//! changes nothing: no run, no pause, no policy, no pin, no cleanup, no audit entry.

use backup_console::api::{ROUTES, Route};
use backup_console_testkit::*;
use backup_domain::api::ErrorCode;
use backup_domain::api::VersionProfile;
use camunda_sim::SimCluster;
use reqwest::Method;
use serde_json::Value;

/// The bodies a careless or hostile client sends that no route may act on.
const BAD_BODIES: &[&str] = &[
    "[]",
    "\"x\"",
    "{\"backup_id\":\"1\"}",
    "{\"backup_id\": 1",
    "7",
    "null",
    // A misspelt field must not read as "unset" (a run with a proposed ID, a hard pause).
    "{\"backupId\": 5, \"Soft\": true}",
];

fn concrete(path: &str) -> String {
    path.replace("{name}", "test").replace("{id}", "1")
}

async fn send(
    console: &Console,
    method: &Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String, Value) {
    let response = console
        .http
        .request(method.clone(), format!("{}{path}", console.base))
        .header("cookie", &console.session.cookie)
        .header("x-csrf-token", &console.session.csrf)
        .header("x-requested-with", "backup-console")
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("console answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, text, json)
}

fn is_envelope(body: &Value) -> bool {
    body["error"]["code"]
        .as_str()
        .is_some_and(|c| !c.is_empty())
        && body["error"]["message"].as_str().is_some()
}

/// What the console and the cluster look like; a refused request must leave it all as it was.
async fn snapshot(console: &Console, sim: &SimCluster) -> Value {
    let (_, latest) = console.get("/api/clusters/test/runs/latest").await;
    let (_, retention) = console.get("/api/clusters/test/retention").await;
    let (_, audit) = console.get("/api/audit").await;
    serde_json::json!({
        "latest_run": latest,
        "policy": retention["policy"],
        "source": retention["source"],
        "pins": retention["pins"],
        "last_cleanup": retention["last_cleanup"],
        "audit": audit["entries"].as_array().map(Vec::len),
        "exporting": phases(sim).await,
    })
}

#[tokio::test]
async fn every_mutating_route_refuses_a_body_it_cannot_read_with_the_envelope() {
    let sim = start_sim(VersionProfile::V88, 3).await;
    let console = console_for(&sim).await;
    let before = snapshot(&console, &sim).await;
    let mut failures = Vec::new();
    for Route { method, path, .. } in ROUTES {
        if *method == Method::GET {
            continue;
        }
        let url = concrete(path);
        for body in BAD_BODIES {
            let (status, text, json) = send(
                &console,
                method,
                &url,
                "application/json",
                body.as_bytes().to_vec(),
            )
            .await;
            if status != 400 || !is_envelope(&json) {
                failures.push(format!("{method} {url} with {body}: {status} {text}"));
            }
        }
        // A body that is not JSON at all is refused as such, with the envelope too.
        let (status, text, json) = send(&console, method, &url, "text/plain", b"{}".to_vec()).await;
        if !(status == 400 || status == 415) || !is_envelope(&json) {
            failures.push(format!("{method} {url} as text/plain: {status} {text}"));
        }
    }
    assert!(
        failures.is_empty(),
        "refused badly:\n{}",
        failures.join("\n")
    );
    settle().await;
    assert_eq!(
        snapshot(&console, &sim).await,
        before,
        "a refused request changed something"
    );
    // The session survived the refused logouts.
    let (status, _) = console.get("/api/session").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_the_envelope() {
    let sim = start_sim(VersionProfile::V88, 3).await;
    let console = console_for(&sim).await;
    let before = snapshot(&console, &sim).await;
    let big = format!(
        "{{\"backup_id\": 5, \"pad\": \"{}\"}}",
        "x".repeat(3 * 1024 * 1024)
    );
    let (status, text, json) = send(
        &console,
        &Method::POST,
        "/api/clusters/test/runs",
        "application/json",
        big.into_bytes(),
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(is_envelope(&json), "{text}");
    assert_eq!(snapshot(&console, &sim).await, before);
}

#[tokio::test]
async fn bad_path_parameters_and_queries_answer_the_envelope() {
    let sim = start_sim(VersionProfile::V88, 3).await;
    let console = console_for(&sim).await;
    let before = snapshot(&console, &sim).await;
    for (method, path) in [
        (Method::GET, "/api/runs/abc"),
        (Method::GET, "/api/runs/abc/events"),
        (Method::GET, "/api/runs/abc/script"),
        (Method::POST, "/api/runs/abc/cancel"),
        (Method::GET, "/api/runs/99999999999999999999999"),
        (Method::GET, "/api/cleanups/abc"),
        (Method::POST, "/api/cleanups/abc/retry"),
        (Method::GET, "/api/clusters/test/backups/abc"),
        (Method::PUT, "/api/clusters/test/pins/abc"),
        (Method::DELETE, "/api/clusters/test/pins/-1"),
        (Method::PUT, "/api/clusters/test/pins/0"),
        (Method::PUT, "/api/clusters/test/pins/9223372036854775808"),
        (Method::GET, "/api/clusters/test/backups/0"),
        (
            Method::GET,
            "/api/clusters/test/backups/9223372036854775808",
        ),
        (Method::GET, "/api/audit?action=no_such_action"),
        (Method::GET, "/api/audit?limit=abc"),
        (Method::GET, "/api/audit?from=yesterday"),
    ] {
        let (status, text, json) =
            send(&console, &method, path, "application/json", Vec::new()).await;
        assert_eq!(status, 400, "{method} {path}: {text}");
        assert!(is_envelope(&json), "{method} {path}: {text}");
        assert_eq!(
            json["error"]["code"],
            ErrorCode::BadRequest.as_str(),
            "{method} {path}: {text}"
        );
    }
    assert_eq!(snapshot(&console, &sim).await, before);
}

#[tokio::test]
async fn an_empty_body_still_starts_a_run_with_a_proposed_id() {
    let sim = start_sim(VersionProfile::V88, 3).await;
    let console = console_for(&sim).await;
    let (status, text, json) = send(
        &console,
        &Method::POST,
        "/api/clusters/test/runs",
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    assert!(json["backup_id"].as_i64().is_some(), "{text}");
}

#[tokio::test]
async fn routes_without_a_body_accept_an_empty_object() {
    let sim = start_sim(VersionProfile::V88, 3).await;
    let console = console_for(&sim).await;
    let (status, text, _) = send(
        &console,
        &Method::POST,
        "/api/clusters/test/exporting/resume",
        "application/json",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let (status, text, _) = send(
        &console,
        &Method::PUT,
        "/api/clusters/test/pins/5",
        "application/json",
        b" {} ".to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
}
