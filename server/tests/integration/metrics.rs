//! `/metrics` (part 8): the exposition passes promtool's parser and linter, its figures match
//! the catalog after a run, a failure and a cleanup, no series carries a backup ID, and a scrape
//! calls no cluster.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use reqwest::Method;
use serde_json::json;

async fn scrape(console: &Console) -> String {
    let response = reqwest::get(format!("{}/metrics", console.metrics_base))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

/// `promtool check metrics`: Prometheus's own parser, and its linter of the naming rules.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (scripts/setup.sh --browser installs Debian's prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every sample as `name{labels}` to value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

#[tokio::test]
async fn the_metrics_parse_and_match_the_catalog_after_a_run_a_failure_and_a_cleanup() {
    let sim = start_sim(VersionProfile::V88, 12).await;
    let console = console_for(&sim).await;
    let (_, history) = console
        .fresh_get("/api/clusters/test/backups?per_page=1")
        .await;
    let text = scrape(&console).await;
    promtool_check(&text);
    let s = samples(&text);
    let counts = &history["counts"];
    for verdict in [
        "restorable",
        "restorable_partial",
        "in_progress",
        "not_restorable",
        "unknown",
    ] {
        assert_eq!(
            value(
                &s,
                &format!("c8bc_backup_sets{{cluster=\"test\",verdict=\"{verdict}\"}}")
            ),
            counts[verdict].as_f64().unwrap(),
            "{verdict}"
        );
    }
    assert_eq!(
        value(&s, r#"c8bc_rpo_seconds{cluster="test"}"#),
        26.0 * 3600.0
    );
    let latest = history["latest_restorable"]["started_at_ms"]
        .as_f64()
        .unwrap();
    assert_eq!(
        value(
            &s,
            r#"c8bc_newest_restorable_backup_timestamp_seconds{cluster="test"}"#
        ),
        latest / 1000.0
    );
    assert!(text.contains("c8bc_build_info{version="), "{text}");

    // A run that completes.
    let operator = console.session_for("operator").await;
    let (status, started) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&operator),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] == "completed").then_some(())
    })
    .await;
    // A run that fails at the records snapshot.
    control(
        &sim,
        "/sim/faults",
        json!({"component": "elasticsearch", "operation": "take", "count": 1,
               "action": {"kind": "status", "status": 500}}),
    )
    .await;
    let (_, failed) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&operator),
            Some(json!({})),
        )
        .await;
    let failed_id = failed["run_id"].as_i64().unwrap();
    let outcome = eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{failed_id}")).await;
        let outcome = run["report"]["outcome"].clone();
        (outcome["outcome"] != "running").then_some(outcome)
    })
    .await;
    assert_eq!(outcome["outcome"], "failed", "{outcome}");

    let (_, history) = console
        .fresh_get("/api/clusters/test/backups?per_page=1")
        .await;
    let text = scrape(&console).await;
    promtool_check(&text);
    let s = samples(&text);
    assert_eq!(
        value(
            &s,
            r#"c8bc_backup_runs_total{cluster="test",trigger="manual"}"#
        ),
        2.0
    );
    assert_eq!(
        value(&s, r#"c8bc_backup_run_successes_total{cluster="test"}"#),
        1.0
    );
    let step = outcome["step"].as_str().unwrap();
    assert_eq!(
        value(
            &s,
            &format!("c8bc_backup_run_failures_total{{cluster=\"test\",step=\"{step}\"}}")
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &s,
            r#"c8bc_backup_run_duration_seconds_count{cluster="test"}"#
        ),
        2.0
    );
    assert!(
        value(
            &s,
            r#"c8bc_exporting_soft_pause_window_seconds_count{cluster="test"}"#
        ) >= 1.0
    );
    assert!(
        value(
            &s,
            r#"c8bc_last_successful_backup_timestamp_seconds{cluster="test"}"#
        ) > 0.0
    );
    assert_eq!(value(&s, r#"c8bc_exporting_paused{cluster="test"}"#), 0.0);
    assert_eq!(
        value(&s, r#"c8bc_last_run_failed{cluster="test"}"#),
        1.0,
        "the latest run failed"
    );
    assert_eq!(
        value(
            &s,
            r#"c8bc_backup_sets{cluster="test",verdict="restorable"}"#
        ),
        history["counts"]["restorable"].as_f64().unwrap()
    );
    assert_eq!(
        value(&s, r#"c8bc_component_up{cluster="test",component="Zeebe"}"#),
        1.0,
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("c8bc_upstream_request_duration_seconds_count{component=")),
        "{text}"
    );

    // A cleanup of two sets, counted per component.
    let ids: Vec<u64> = sets_of(&console.fresh_get("/api/clusters/test/backups").await.1)
        .iter()
        .rev()
        .take(2)
        .map(|s| s["backup_id"].as_u64().unwrap())
        .collect();
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/cleanups",
            Some(&console.session),
            Some(json!({"delete": [], "selected": ids, "confirm": 2, "acknowledge_warning": true})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let cleanup_id = body["cleanup_id"].as_i64().unwrap();
    let cleanup = eventually(Duration::from_secs(20), || async {
        let (_, c) = console.get(&format!("/api/cleanups/{cleanup_id}")).await;
        (c["report"]["outcome"] != "running").then_some(c)
    })
    .await;
    let artifacts = cleanup["report"]["items"].as_array().unwrap().len() as f64;
    let (_, history) = console
        .fresh_get("/api/clusters/test/backups?per_page=1")
        .await;
    let text = scrape(&console).await;
    promtool_check(&text);
    let s = samples(&text);
    let deleted: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with(r#"c8bc_cleanup_deleted_artifacts_total{cluster="test""#))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(deleted, artifacts, "{cleanup}\n{text}");
    let outcome = cleanup["report"]["outcome"].as_str().unwrap();
    assert_eq!(
        value(
            &s,
            &format!("c8bc_cleanup_runs_total{{cluster=\"test\",outcome=\"{outcome}\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(&s, r#"c8bc_last_cleanup_failed{cluster="test"}"#),
        if outcome == "completed" { 0.0 } else { 1.0 }
    );
    let total: f64 = [
        "restorable",
        "restorable_partial",
        "in_progress",
        "not_restorable",
        "unknown",
    ]
    .iter()
    .map(|v| {
        value(
            &s,
            &format!("c8bc_backup_sets{{cluster=\"test\",verdict=\"{v}\"}}"),
        )
    })
    .sum();
    assert_eq!(total, history["total"].as_f64().unwrap());

    // No series names a backup ID.
    for id in ids {
        assert!(!text.contains(&id.to_string()), "backup ID {id} in {text}");
    }
}

#[tokio::test]
async fn a_scrape_calls_no_cluster_and_a_failing_listing_is_not_shown_as_figures() {
    let sim = start_sim(VersionProfile::V88, 5).await;
    let console = console_for(&sim).await;
    console
        .fresh_get("/api/clusters/test/backups?per_page=1")
        .await;
    let before = list_calls(&sim).await;
    for _ in 0..5 {
        scrape(&console).await;
    }
    assert_eq!(
        list_calls(&sim).await,
        before,
        "a scrape listed the cluster"
    );

    control(
        &sim,
        "/sim/faults",
        json!({"component": "optimize", "operation": "list", "count": 1000,
               "action": {"kind": "status", "status": 503}}),
    )
    .await;
    console
        .fresh_get("/api/clusters/test/backups?per_page=1")
        .await;
    let text = scrape(&console).await;
    let s = samples(&text);
    assert_eq!(
        value(&s, r#"c8bc_catalog_listing_failed{cluster="test"}"#),
        1.0
    );
    assert!(
        !text.contains("c8bc_backup_sets{"),
        "figures of an unknown listing are left out: {text}"
    );
    assert!(!text.contains("c8bc_newest_restorable_backup_timestamp_seconds{"));
}
