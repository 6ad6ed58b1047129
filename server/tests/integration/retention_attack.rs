//! Adversarial cases of the retention safety fix on the server (issue 10 item 1, review C1), against
//! the simulator over real HTTP. The first group each failed before its fix (one due time fired by
//! two consoles on one database, a refusal shown after the schedule ran again); the `holds_*` tests
//! are guarantees that held under attack.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use backup_console::cluster::Clusters;
use backup_console::config::Config;
use backup_console::procedure::runner::RunSettings;
use backup_console::procedure::service::RunService;
use backup_console::retention::RetentionService;
use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use backup_domain::retention::{RetentionPlan, RetentionPolicy};
use backup_domain::{Component, Verdict};
use reqwest::Method;
use serde_json::json;

fn service_on(
    text: &str,
    db: &std::path::Path,
) -> (
    Arc<RetentionService>,
    Arc<Clusters>,
    backup_console::store::Store,
) {
    let (auth, _) = auth_section("");
    // Same database for every service built on `db` (two consoles sharing it).
    let auth = auth.replacen(
        &auth.lines().nth(1).unwrap().to_string(),
        &format!("database = {:?}", db.display().to_string()),
        1,
    );
    let config = Config::parse(&format!("{auth}{text}"), "t", &|_| None).unwrap();
    let clusters = Arc::new(Clusters::from_config(&config).unwrap());
    let store = backup_console::store::Store::open(db).unwrap();
    let runs = Arc::new(RunService::new(store.clone(), RunSettings::default()));
    let service = Arc::new(RetentionService::new(
        store.clone(),
        clusters.clone(),
        runs,
        4,
    ));
    (service, clusters, store)
}

fn fresh_db() -> std::path::PathBuf {
    let (_, db) = auth_section("");
    db
}

fn scheduled(keep_last: u32) -> RetentionPolicy {
    RetentionPolicy {
        keep_last: Some(keep_last),
        max_age_days: None,
        min_restorable: 1,
        keep_failed: 0,
        schedule: Some("*/5 * * * *".into()),
    }
}

async fn zeebe_ids(cluster: &backup_console::cluster::Cluster) -> BTreeSet<u64> {
    backup_console::history::history(cluster)
        .await
        .sets
        .iter()
        .filter(|s| s.component(Component::Zeebe).is_some_and(|c| c.holds()))
        .map(|s| s.backup_id)
        .collect()
}

fn later() -> i64 {
    chrono::Utc::now().timestamp_millis() + 6 * 60_000
}

// ---------------------------------------------------------------------------------------------
// Found by the review, fixed
// ---------------------------------------------------------------------------------------------

/// Two consoles on one database (two replicas, or `serve` while an admin runs another), or two
/// scheduler ticks that overlap: the due time is read, then written, without a claim, so the same
/// due time fires twice and two unattended cleanups run over the same history at once (the
/// second plans on a history the first is deleting).
#[tokio::test]
async fn one_due_time_fires_once_across_consoles_sharing_a_database() {
    let sim = start_sim(VersionProfile::V88, 15).await;
    let text = sim.endpoints.console_config("test");
    let db = fresh_db();
    let (a, clusters, store) = service_on(&text, &db);
    let (b, _, _) = service_on(&text, &db);
    let cluster = clusters.get("test").unwrap();
    a.save_policy(cluster, scheduled(10), "admin", "t")
        .await
        .unwrap();
    assert!(
        !a.fresh_plan(cluster)
            .await
            .unwrap()
            .0
            .to_delete()
            .is_empty()
    );
    let due = later();
    let (x, y) = tokio::join!(a.run_due_schedules(due), b.run_due_schedules(due));
    let cleanups = store
        .audit(backup_console::store::AuditFilter {
            action: Some(backup_domain::audit::AuditAction::CleanupStarted),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        x.len() + y.len() <= 1,
        "one due time started {} cleanups ({x:?}, {y:?}); audit: {} cleanup_started",
        x.len() + y.len(),
        cleanups.len()
    );
}

/// The refusal of a schedule is stored under one key that nothing clears: after the admin fixes
/// the cause and the next due time runs and deletes, the Retention page still says the scheduled
/// cleanup refused to run (state.schedule_refusal). A CLI refusal is written under the same key
/// and shown as the schedule's.
#[tokio::test]
async fn a_refusal_is_not_shown_after_the_schedule_has_run_since() {
    let sim = start_sim(VersionProfile::V88, 15).await;
    let text = sim.endpoints.console_config("test");
    let (service, clusters, _) = service_on(&text, &fresh_db());
    let cluster = clusters.get("test").unwrap();
    // Keeping 3 of 15: refused as most of the history.
    service
        .save_policy(cluster, scheduled(3), "admin", "t")
        .await
        .unwrap();
    let first = later();
    assert!(service.run_due_schedules(first).await.is_empty());
    assert!(
        service
            .state(cluster)
            .await
            .unwrap()
            .schedule_refusal
            .is_some()
    );
    // The admin raises the limit; the next due time runs.
    service
        .save_policy(cluster, scheduled(10), "admin", "t")
        .await
        .unwrap();
    let started = service.run_due_schedules(first + 6 * 60_000).await;
    assert_eq!(started.len(), 1);
    let state = service.state(cluster).await.unwrap();
    assert!(
        state.schedule_refusal.is_none(),
        "the page still shows \"The scheduled cleanup refused to run\" ({:?}) after cleanup {} \
         ran on schedule",
        state.schedule_refusal,
        started[0]
    );
}

// ---------------------------------------------------------------------------------------------
// Guarantees that held (regressions)
// ---------------------------------------------------------------------------------------------

/// Zeebe's listing answers `[]` (a fresh or wrong gateway): every set is an orphan; the schedule
/// refuses and audits it, and no rule deletes anything.
#[tokio::test]
async fn holds_an_empty_zeebe_listing_deletes_nothing_on_schedule() {
    let history = start_sim(VersionProfile::V87, 20).await;
    let empty = start_sim(VersionProfile::V87, 0).await;
    let text = history
        .endpoints
        .console_config("test")
        .replace(&history.endpoints.zeebe, &empty.endpoints.zeebe);
    let (service, clusters, _) = service_on(&text, &fresh_db());
    let cluster = clusters.get("test").unwrap();
    service
        .save_policy(cluster, scheduled(1), "admin", "t")
        .await
        .unwrap();
    let (plan, _, sets) = service.fresh_plan(cluster).await.unwrap();
    assert!(sets.iter().all(|s| s.verdict != Verdict::Restorable));
    assert!(plan.to_delete().is_empty(), "{:?}", plan.to_delete());
    assert!(service.run_due_schedules(later()).await.is_empty());
    let refusal = service.state(cluster).await.unwrap().schedule_refusal;
    assert!(
        refusal.as_ref().is_some_and(|r| r.reason.contains("Zeebe")),
        "{refusal:?}"
    );
}

/// A component listing that errors, for one call, exactly when the schedule lists: every set is
/// unknown and nothing is deleted.
#[tokio::test]
async fn holds_a_component_unknown_when_the_schedule_fires_deletes_nothing() {
    let sim = start_sim(VersionProfile::V87, 15).await;
    let (service, clusters, _) = service_on(&sim.endpoints.console_config("test"), &fresh_db());
    let cluster = clusters.get("test").unwrap();
    service
        .save_policy(cluster, scheduled(10), "admin", "t")
        .await
        .unwrap();
    let before = zeebe_ids(cluster).await;
    control(
        &sim,
        "/sim/faults",
        json!({"component": "optimize", "operation": "list", "count": 1,
               "action": {"kind": "status", "status": 503}}),
    )
    .await;
    let started = service.run_due_schedules(later()).await;
    if let Some(id) = started.first() {
        let view = eventually(Duration::from_secs(10), || async {
            let v = service.get(*id).await.ok()?;
            (v.report.outcome.state_name() != "running").then_some(v)
        })
        .await;
        assert!(view.report.sets.is_empty(), "{:?}", view.report.sets);
    }
    settle().await;
    assert_eq!(zeebe_ids(cluster).await, before);
}

/// A pin from the file cannot be lifted from the API, and a schedule keeps it.
#[tokio::test]
async fn holds_a_file_pin_survives_an_api_unpin_and_the_schedule() {
    let sim = start_sim(VersionProfile::V88, 15).await;
    let ids: Vec<u64> = {
        let (s, c, _) = service_on(&sim.endpoints.console_config("test"), &fresh_db());
        let cluster = c.get("test").unwrap();
        s.save_policy(cluster, scheduled(10), "admin", "t")
            .await
            .unwrap();
        s.fresh_plan(cluster).await.unwrap().0.to_delete()
    };
    let target = ids[0];
    let text = sim.endpoints.console_config("test").replacen(
        "\n[clusters.",
        &format!("\n[clusters.retention]\npinned = [{target}]\n\n[clusters."),
        1,
    );
    let console = start_console(&text).await;
    let (status, body) = console
        .call(
            Method::DELETE,
            &format!("/api/clusters/test/pins/{target}"),
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (_, plan) = console.get("/api/clusters/test/cleanup-plan").await;
    let plan: RetentionPlan = serde_json::from_value(plan).unwrap();
    assert!(
        plan.to_delete().is_empty(),
        "a pins-only section is no policy"
    );
    let d = plan.decision(target).unwrap();
    assert!(d.protected && d.reason == "pinned", "{d:?}");
    // Picking it by hand is refused too.
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/cleanups",
            Some(&console.session),
            Some(json!({"delete": [], "selected": [target], "confirm": 1})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
}

/// Confirming a file policy with anything but the policy in force is refused; with no policy
/// there is nothing to confirm; and with no policy the newest restorable set cannot be hand-picked.
#[tokio::test]
async fn holds_confirm_with_a_stale_policy_and_no_policy_hand_picks() {
    let sim = start_sim(VersionProfile::V87, 12).await;
    let console = console_for(&sim).await;
    let (status, _) = console
        .call(
            Method::POST,
            "/api/clusters/test/retention/confirm",
            Some(&console.session),
            Some(json!({"min_restorable": 3, "keep_failed": 3, "keep_last": 14})),
        )
        .await;
    assert_eq!(status, 409, "no policy configured: nothing to confirm");
    let (_, plan) = console.get("/api/clusters/test/cleanup-plan").await;
    let plan: RetentionPlan = serde_json::from_value(plan).unwrap();
    assert!(plan.to_delete().is_empty());
    let newest = plan
        .decisions
        .iter()
        .find(|d| d.verdict == Verdict::Restorable)
        .unwrap()
        .backup_id;
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/cleanups",
            Some(&console.session),
            Some(json!({"delete": [], "selected": [newest], "confirm": 1})),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    let file = sim.endpoints.console_config("test").replacen(
        "\n[clusters.",
        "\n[clusters.retention]\nkeep_last = 9\nschedule = \"0 3 * * *\"\n\n[clusters.",
        1,
    );
    let console = start_console(&file).await;
    let (_, state) = console.get("/api/clusters/test/retention").await;
    let mut stale = state["policy"].clone();
    stale["keep_last"] = json!(8);
    let mut no_schedule = state["policy"].clone();
    no_schedule.as_object_mut().unwrap().remove("schedule");
    for body in [stale, no_schedule] {
        let (status, answer) = console
            .call(
                Method::POST,
                "/api/clusters/test/retention/confirm",
                Some(&console.session),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 409, "{body} -> {answer}");
    }
    let (_, state) = console.get("/api/clusters/test/retention").await;
    assert!(state["confirmed"].is_null(), "{}", state["confirmed"]);
}
