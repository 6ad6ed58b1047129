//! Retention cleanup against the simulator over real HTTP: the preview is exactly what gets
//! deleted, a stale preview is refused, a partial failure is retried to completion, orphans are
//! found and removed, protected sets cannot be picked, and schedules fire when due.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use backup_console::cluster::Clusters;
use backup_console::config::Config;
use backup_console::procedure::runner::RunSettings;
use backup_console::procedure::service::RunService;
use backup_console::retention::RetentionService;
use backup_console_testkit::*;
use backup_domain::api::ErrorCode;
use backup_domain::api::{HistoryResponse, VersionProfile};
use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::retention::{self, CleanupView, RetentionPlan, RetentionState};
use reqwest::Method;
use serde_json::{Value, json};

async fn plan_as_the_browser_computes_it(console: &Console) -> RetentionPlan {
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    let history: HistoryResponse = serde_json::from_value(history).unwrap();
    let (_, state) = console.get("/api/clusters/test/retention").await;
    let state: RetentionState = serde_json::from_value(state).unwrap();
    retention::plan(
        &history.sets,
        &state.policy,
        &state.protections(),
        chrono::Utc::now().timestamp_millis(),
    )
}

async fn listed_ids(console: &Console) -> BTreeSet<u64> {
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    history["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["backup_id"].as_u64().unwrap())
        .collect()
}

async fn put_policy(console: &Console, policy: Value) -> (u16, Value) {
    console
        .call(
            Method::PUT,
            "/api/clusters/test/retention",
            Some(&console.session),
            Some(policy),
        )
        .await
}

async fn start_cleanup(
    console: &Console,
    delete: &[u64],
    selected: &[u64],
    confirm: usize,
) -> (u16, Value) {
    console
        .call(
            Method::POST,
            "/api/clusters/test/cleanups",
            Some(&console.session),
            // As the page sends it, with its warning (if any) on screen beside the button.
            Some(json!({"delete": delete, "selected": selected, "confirm": confirm, "acknowledge_warning": true})),
        )
        .await
}

async fn finished(console: &Console, id: i64) -> CleanupView {
    eventually(Duration::from_secs(20), || async {
        let (_, view) = console.get(&format!("/api/cleanups/{id}")).await;
        let view: CleanupView = serde_json::from_value(view).ok()?;
        (view.report.outcome.state_name() != "running").then_some(view)
    })
    .await
}

#[tokio::test]
async fn the_preview_is_exactly_what_gets_deleted_across_every_component() {
    let sim = start_sim(VersionProfile::V87, 40).await;
    let console = console_for(&sim).await;
    let (status, body) = put_policy(
        &console,
        json!({"keep_last": 5, "min_restorable": 2, "keep_failed": 1}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["source"]["kind"], "saved");

    let preview = plan_as_the_browser_computes_it(&console).await;
    let (_, server_plan) = console.get("/api/clusters/test/cleanup-plan").await;
    let server_plan: RetentionPlan = serde_json::from_value(server_plan).unwrap();
    assert_eq!(
        preview, server_plan,
        "browser and server compute the same plan"
    );
    let delete = preview.to_delete();
    assert!(
        delete.len() > 10,
        "the seeded history has plenty to delete: {}",
        delete.len()
    );
    let before = listed_ids(&console).await;

    // A wrong confirmation count deletes nothing.
    let (status, body) = start_cleanup(&console, &delete, &[], delete.len() - 1).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&delete.len().to_string())
    );

    let (status, started) = start_cleanup(&console, &delete, &[], delete.len()).await;
    assert_eq!(status, 202, "{started}");
    let view = finished(&console, started["cleanup_id"].as_i64().unwrap()).await;
    assert_eq!(
        view.report.outcome.state_name(),
        "completed",
        "{:?}",
        view.report.failed()
    );
    assert_eq!(view.report.sets.len(), delete.len());
    let components: BTreeSet<_> = view
        .report
        .items
        .iter()
        .map(|i| i.artifact.component)
        .collect();
    assert!(
        components.len() >= 4,
        "Zeebe, web apps, Optimize and records snapshots: {components:?}"
    );

    settle().await;
    let after = listed_ids(&console).await;
    let deleted: BTreeSet<u64> = delete.iter().copied().collect();
    assert!(
        after.is_disjoint(&deleted),
        "left over: {:?}",
        after.intersection(&deleted).collect::<Vec<_>>()
    );
    assert_eq!(
        after,
        before.difference(&deleted).copied().collect(),
        "nothing else was touched"
    );

    // A second pass finds nothing more under the same policy.
    assert!(
        plan_as_the_browser_computes_it(&console)
            .await
            .to_delete()
            .is_empty()
    );
    let (_, audit) = console.get("/api/audit?action=cleanup_finished").await;
    assert_eq!(audit["entries"][0]["outcome"], "success");
}

#[tokio::test]
async fn a_preview_made_stale_by_a_pin_is_refused_with_the_difference() {
    let sim = start_sim(VersionProfile::V88, 20).await;
    let console = console_for(&sim).await;
    put_policy(
        &console,
        json!({"keep_last": 3, "min_restorable": 1, "keep_failed": 0}),
    )
    .await;
    let preview = plan_as_the_browser_computes_it(&console).await;
    let delete = preview.to_delete();
    let pinned = delete[0];
    let (status, _) = console
        .call(
            Method::PUT,
            &format!("/api/clusters/test/pins/{pinned}"),
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = start_cleanup(&console, &delete, &[], delete.len()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], ErrorCode::PlanChanged.as_str());
    assert_eq!(body["error"]["details"]["removed"], json!([pinned]));
    assert!(
        listed_ids(&console).await.contains(&pinned),
        "nothing was deleted"
    );
    let (_, audit) = console.get("/api/audit?action=backup_pinned").await;
    assert_eq!(audit["entries"][0]["target"], pinned.to_string());
}

/// A backup ID is 1 to i64::MAX (Zeebe's are Java longs); 0 or anything above was once stored as
/// a pin no backup can have, the larger ones wrapped to negative numbers (review P4).
#[tokio::test]
async fn a_pin_outside_the_backup_id_range_is_refused_and_nothing_is_pinned() {
    let sim = start_sim(VersionProfile::V88, 2).await;
    let console = console_for(&sim).await;
    let pins = |state: &Value| state["pins"].clone();
    let (_, before) = console.get("/api/clusters/test/retention").await;
    for (method, id) in [
        (Method::PUT, "0"),
        (Method::PUT, "9223372036854775808"),
        (Method::PUT, "18446744073709551615"),
        // No new pin of these is made; removing one an older version stored is allowed (and
        // changes nothing here): review_part6 checks that.
        (Method::DELETE, "-1"),
        (Method::DELETE, "x"),
    ] {
        let (status, body) = console
            .call(
                method.clone(),
                &format!("/api/clusters/test/pins/{id}"),
                Some(&console.session),
                None,
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(ErrorCode::BadRequest.as_str())),
            "{method} {id}: {body}"
        );
    }
    let (_, after) = console.get("/api/clusters/test/retention").await;
    assert_eq!(pins(&after), pins(&before));
    let (_, audit) = console.get("/api/audit?action=backup_pinned").await;
    assert_eq!(audit["entries"], json!([]), "nothing was audited as pinned");
    // The largest ID there can be is still a backup ID.
    let (status, body) = console
        .call(
            Method::PUT,
            "/api/clusters/test/pins/9223372036854775807",
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["backup_id"], 9_223_372_036_854_775_807_u64);
}

#[tokio::test]
async fn a_partial_failure_is_reported_per_artifact_and_a_retry_completes_it() {
    let sim = start_sim(VersionProfile::V87, 12).await;
    let console = console_for(&sim).await;
    put_policy(
        &console,
        json!({"keep_last": 2, "min_restorable": 1, "keep_failed": 0}),
    )
    .await;
    control(
        &sim,
        "/sim/faults",
        json!({"component": "optimize", "operation": "delete", "action": {"kind": "status", "status": 500}}),
    )
    .await;
    let delete = plan_as_the_browser_computes_it(&console).await.to_delete();
    let (_, started) = start_cleanup(&console, &delete, &[], delete.len()).await;
    let first = finished(&console, started["cleanup_id"].as_i64().unwrap()).await;
    assert_eq!(first.report.outcome.state_name(), "partial");
    let failed = first.report.failed();
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|f| f.artifact.component == backup_domain::Component::Optimize)
    );
    assert!(
        failed
            .iter()
            .all(|f| f.error.as_deref().unwrap_or_default().contains("500"))
    );
    assert!(
        first
            .report
            .items
            .iter()
            .filter(|i| i.artifact.component != backup_domain::Component::Optimize)
            .all(|i| i.state != retention::ArtifactState::Failed)
    );

    let r = reqwest::Client::new()
        .delete(format!("{}/sim/faults", sim.endpoints.control))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (status, retried) = console
        .call(
            Method::POST,
            &format!("/api/cleanups/{}/retry", first.id),
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(retried["artifacts"], failed.len());
    let second = finished(&console, retried["cleanup_id"].as_i64().unwrap()).await;
    assert_eq!(second.report.outcome.state_name(), "completed");
    settle().await;
    let after = listed_ids(&console).await;
    assert!(
        delete.iter().all(|id| !after.contains(id)),
        "the sets are gone everywhere"
    );
}

#[tokio::test]
async fn orphans_are_offered_and_removed_and_protected_sets_cannot_be_picked() {
    let sim = start_sim(VersionProfile::V87, 0).await;
    let console = console_for(&sim).await;
    // Two complete sets, and an orphan: only the web apps hold its ID, Zeebe has nothing (a set
    // Zeebe holds with a component missing is partially restorable, not an orphan).
    let everything: &[&str] = &["operate", "tasklist", "optimize", "records", "zeebe"];
    for (id, components) in [
        (100, everything),
        (150, &["operate", "tasklist"]),
        (200, everything),
    ] {
        take_backup(&sim, id, components).await;
        // The web apps run one backup at a time (contract §5.3).
        settle().await;
    }
    eventually(Duration::from_secs(10), || async {
        let (_, h) = console.fresh_get("/api/clusters/test/backups").await;
        (h["counts"]["restorable"] == 2).then_some(())
    })
    .await;
    put_policy(&console, json!({"min_restorable": 1, "keep_failed": 5})).await;
    let preview = plan_as_the_browser_computes_it(&console).await;
    assert!(preview.to_delete().is_empty());
    assert_eq!(preview.selectable_orphans(), vec![150]);

    // The newest restorable set is protected; the other may go, but not both at once.
    let (status, body) = start_cleanup(&console, &[], &[200], 1).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], ErrorCode::SelectionRefused.as_str());
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the newest restorable set")
    );

    let (status, started) = start_cleanup(&console, &[], &[150], 1).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["artifacts"], 2, "Operate and Tasklist hold it");
    let view = finished(&console, started["cleanup_id"].as_i64().unwrap()).await;
    assert_eq!(view.report.outcome.state_name(), "completed");
    settle().await;
    assert_eq!(listed_ids(&console).await, BTreeSet::from([100, 200]));
}

#[tokio::test]
async fn policies_are_validated_and_the_file_policy_applies_until_one_is_saved() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let config = sim.endpoints.console_config("test").replacen(
        "\n[clusters.",
        "\n[clusters.retention]\nkeep_last = 9\nschedule = \"0 3 * * *\"\n\n[clusters.",
        1,
    );
    let console = start_console(&config).await;
    let (_, state) = console.get("/api/clusters/test/retention").await;
    assert_eq!(state["source"]["kind"], "config_file");
    assert_eq!(state["policy"]["keep_last"], 9);
    assert!(state["next_scheduled_ms"].as_i64().is_some());

    for (policy, field) in [
        (
            json!({"min_restorable": 0, "keep_failed": 1}),
            "min_restorable",
        ),
        (
            json!({"keep_last": 0, "min_restorable": 1, "keep_failed": 1}),
            "keep_last",
        ),
        (
            json!({"min_restorable": 1, "keep_failed": 1, "schedule": "61 * * * *"}),
            "schedule",
        ),
    ] {
        let (status, body) = put_policy(&console, policy).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{body}"
        );
    }
    let (_, state) = console.get("/api/clusters/test/retention").await;
    assert_eq!(
        state["source"]["kind"], "config_file",
        "a refused policy changes nothing"
    );
    // Admin only.
    let viewer = console.login("viewer", PASSWORD).await.unwrap();
    let (status, _) = console
        .call(
            Method::PUT,
            "/api/clusters/test/retention",
            Some(&viewer),
            Some(json!({"min_restorable": 1, "keep_failed": 1})),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_due_schedule_cleans_up_once_and_records_its_run() {
    let sim = start_sim(VersionProfile::V88, 15).await;
    let (auth, db) = auth_section("");
    let text = format!("{auth}{}", sim.endpoints.console_config("test"));
    let config = Config::parse(&text, "t", &|_| None).unwrap();
    let clusters = Arc::new(Clusters::from_config(&config).unwrap());
    let store = backup_console::store::Store::open(&db).unwrap();
    let runs = Arc::new(RunService::new(store.clone(), RunSettings::default()));
    let service = Arc::new(RetentionService::new(
        store.clone(),
        clusters.clone(),
        runs,
        4,
    ));
    let cluster = clusters.get("test").unwrap();
    let mut policy = backup_domain::retention::RetentionPolicy {
        keep_last: Some(3),
        max_age_days: None,
        min_restorable: 1,
        keep_failed: 0,
        schedule: Some("*/5 * * * *".into()),
    };
    service
        .save_policy(cluster, policy.clone(), "admin", "test")
        .await
        .unwrap();
    // Keeping 3 of 15 deletes most of the history: an unattended run refuses it.
    let now = chrono::Utc::now().timestamp_millis();
    assert!(service.run_due_schedules(now + 6 * 60_000).await.is_empty());
    let refusal = service
        .state(cluster)
        .await
        .unwrap()
        .schedule_refusal
        .unwrap();
    assert!(
        refusal.reason.contains("more than half"),
        "{}",
        refusal.reason
    );
    policy.keep_last = Some(10);
    service
        .save_policy(cluster, policy, "admin", "test")
        .await
        .unwrap();
    let now = now + 6 * 60_000;
    assert!(
        service.run_due_schedules(now).await.is_empty(),
        "not due yet"
    );
    let expected = service.fresh_plan(cluster).await.unwrap().0.to_delete();
    assert!(!expected.is_empty());
    let later = now + 6 * 60_000;
    let started = service.run_due_schedules(later).await;
    assert_eq!(started.len(), 1);
    let view = eventually(Duration::from_secs(20), || async {
        let v = service.get(started[0]).await.ok()?;
        (v.report.outcome.state_name() != "running").then_some(v)
    })
    .await;
    assert_eq!(view.started_by, "schedule");
    assert_eq!(view.report.outcome.state_name(), "completed");
    let mut sets = view.report.sets.clone();
    sets.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(sets, expected);
    assert!(
        service.run_due_schedules(later).await.is_empty(),
        "once per due time"
    );
    let state = service.state(cluster).await.unwrap();
    assert_eq!(state.last_cleanup.unwrap().id, started[0]);
}

#[tokio::test]
async fn an_artifact_already_gone_counts_as_deleted() {
    let sim = start_sim(VersionProfile::V87, 8).await;
    let console = console_for(&sim).await;
    put_policy(
        &console,
        json!({"keep_last": 1, "min_restorable": 1, "keep_failed": 0}),
    )
    .await;
    // Elasticsearch refuses every delete: the records snapshots fail.
    control(
        &sim,
        "/sim/faults",
        json!({"component": "elasticsearch", "operation": "delete", "action": {"kind": "status", "status": 503}}),
    )
    .await;
    let delete = plan_as_the_browser_computes_it(&console).await.to_delete();
    let (_, started) = start_cleanup(&console, &delete, &[], delete.len()).await;
    let first = finished(&console, started["cleanup_id"].as_i64().unwrap()).await;
    assert_eq!(first.report.outcome.state_name(), "partial");
    let gone = first.report.failed()[0].artifact.backup_id;
    let r = reqwest::Client::new()
        .delete(format!("{}/sim/faults", sim.endpoints.control))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // Someone deletes one of them by hand before the retry.
    let r = reqwest::Client::new()
        .delete(format!(
            "{}/_snapshot/{}/camunda_zeebe_records_backup_{gone}",
            sim.endpoints.elasticsearch, sim.endpoints.repository
        ))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let (status, retried) = console
        .call(
            Method::POST,
            &format!("/api/cleanups/{}/retry", first.id),
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(status, 202, "{retried}");
    let second = finished(&console, retried["cleanup_id"].as_i64().unwrap()).await;
    assert_eq!(second.report.outcome.state_name(), "completed");
    let item = second
        .report
        .items
        .iter()
        .find(|i| i.artifact.backup_id == gone)
        .expect("retried");
    assert_eq!(item.state, retention::ArtifactState::AlreadyGone);
    assert!(second.report.count(retention::ArtifactState::Deleted) > 0);
}

/// A service over the configuration text, as the scheduler in `serve` runs it.
fn retention_service(
    text: &str,
) -> (
    Arc<RetentionService>,
    Arc<Clusters>,
    backup_console::store::Store,
) {
    let (auth, db) = auth_section("");
    let config = Config::parse(&format!("{auth}{text}"), "t", &|_| None).unwrap();
    let clusters = Arc::new(Clusters::from_config(&config).unwrap());
    let store = backup_console::store::Store::open(&db).unwrap();
    let runs = Arc::new(RunService::new(store.clone(), RunSettings::default()));
    let service = Arc::new(RetentionService::new(
        store.clone(),
        clusters.clone(),
        runs,
        4,
    ));
    (service, clusters, store)
}

fn due_policy(keep_last: u32) -> backup_domain::retention::RetentionPolicy {
    backup_domain::retention::RetentionPolicy {
        keep_last: Some(keep_last),
        max_age_days: None,
        min_restorable: 3,
        keep_failed: 0,
        schedule: Some("*/5 * * * *".into()),
    }
}

async fn refusals(store: &backup_console::store::Store) -> Vec<backup_domain::api::AuditEntry> {
    store
        .audit(backup_console::store::AuditFilter {
            action: Some(AuditAction::CleanupRefused),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_component_added_to_a_cluster_with_a_history_wipes_nothing() {
    // Sixty sets taken without Optimize; then Optimize is deployed (a fresh one lists nothing)
    // and added to the configuration.
    let history = start_sim(VersionProfile::V88, 60).await;
    let fresh = start_sim(VersionProfile::V88, 0).await;
    let text = history.endpoints.console_config("test").replace(
        history.endpoints.optimize.as_deref().unwrap(),
        fresh.endpoints.optimize.as_deref().unwrap(),
    );
    let (service, clusters, store) = retention_service(&text);
    let cluster = clusters.get("test").unwrap();
    let zeebe_before = backup_console::history::history(cluster)
        .await
        .sets
        .iter()
        .filter(|s| {
            s.component(backup_domain::Component::Zeebe)
                .is_some_and(|c| c.holds())
        })
        .count();
    assert!(zeebe_before > 30);

    service
        .save_policy(cluster, due_policy(3), "admin", "test")
        .await
        .unwrap();
    // The plan an admin previews: partial sets, the newest and the floor kept.
    let (plan, _, sets) = service.fresh_plan(cluster).await.unwrap();
    let partial: Vec<u64> = sets
        .iter()
        .filter(|s| s.verdict == backup_domain::Verdict::RestorablePartial)
        .map(|s| s.backup_id)
        .collect();
    assert!(partial.len() > 20, "{} partial sets", partial.len());
    let newest = *partial.iter().max().unwrap();
    assert_eq!(
        plan.decision(newest).unwrap().decision,
        retention::Decision::Keep
    );
    let kept_partial = partial
        .iter()
        .filter(|id| plan.decision(**id).unwrap().decision == retention::Decision::Keep)
        .count();
    assert!(kept_partial >= 3);
    let warning = retention::unattended_refusal(&sets, &plan).expect("a warning");
    assert!(warning.contains("Optimize"), "{warning}");

    // The schedule comes due: it refuses, says why, and audits it; nothing is deleted.
    let later = chrono::Utc::now().timestamp_millis() + 6 * 60_000;
    assert!(service.run_due_schedules(later).await.is_empty());
    let state = service.state(cluster).await.unwrap();
    let refusal = state.schedule_refusal.expect("the refusal is recorded");
    assert!(refusal.reason.contains("Optimize"), "{}", refusal.reason);
    let audited = refusals(&store).await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].outcome, AuditOutcome::Refused);
    settle().await;
    let zeebe_after = backup_console::history::history(cluster)
        .await
        .sets
        .iter()
        .filter(|s| {
            s.component(backup_domain::Component::Zeebe)
                .is_some_and(|c| c.holds())
        })
        .count();
    assert_eq!(zeebe_after, zeebe_before, "no Zeebe backup was deleted");
}

#[tokio::test]
async fn a_component_declared_as_added_later_is_not_expected_in_older_sets() {
    let history = start_sim(VersionProfile::V88, 10).await;
    let fresh = start_sim(VersionProfile::V88, 0).await;
    let first_new = 9_000_000_000u64;
    let text = history
        .endpoints
        .console_config("test")
        .replace(
            history.endpoints.optimize.as_deref().unwrap(),
            fresh.endpoints.optimize.as_deref().unwrap(),
        )
        .replacen(
            &format!(
                "url = \"{}\"\n",
                fresh.endpoints.optimize.as_deref().unwrap()
            ),
            &format!(
                "url = \"{}\"\nsince_backup_id = {first_new}\n",
                fresh.endpoints.optimize.as_deref().unwrap()
            ),
            1,
        );
    assert!(text.contains("since_backup_id"));
    let console = start_console(&text).await;
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(
        history["counts"]["restorable_partial"], 0,
        "{}",
        history["counts"]
    );
    assert!(history["counts"]["restorable"].as_u64().unwrap() > 3);
    let any = &history["sets"][0];
    assert_eq!(component(any, "optimize")["state"], "not_expected");
}

#[tokio::test]
async fn a_schedule_waits_for_the_policy_to_be_confirmed_in_this_database() {
    let sim = start_sim(VersionProfile::V88, 15).await;
    let text = sim.endpoints.console_config("test").replacen(
        "\n[clusters.",
        "\n[clusters.retention]\nkeep_last = 12\nmin_restorable = 1\nkeep_failed = 0\nschedule = \"*/5 * * * *\"\npinned = [1]\n\n[clusters.",
        1,
    );
    let (service, clusters, store) = retention_service(&text);
    let cluster = clusters.get("test").unwrap();
    let later = chrono::Utc::now().timestamp_millis() + 6 * 60_000;
    assert!(service.run_due_schedules(later).await.is_empty());
    let state = service.state(cluster).await.unwrap();
    assert!(!state.is_confirmed());
    assert!(state.schedule_refusal.unwrap().reason.contains("confirmed"));
    assert_eq!(refusals(&store).await.len(), 1);
    assert!(
        state.pins.iter().any(|p| p.backup_id == 1),
        "the file's pin is listed"
    );

    // An admin reviews the file's policy and confirms it; the next due time runs.
    let mut changed = state.policy.clone();
    changed.keep_last = Some(2);
    assert!(
        service
            .confirm_policy(cluster, changed, "admin", "t")
            .await
            .is_err()
    );
    service
        .confirm_policy(cluster, state.policy.clone(), "admin", "t")
        .await
        .unwrap();
    let started = service.run_due_schedules(later + 6 * 60_000).await;
    assert_eq!(
        started.len(),
        1,
        "{:?}",
        service.state(cluster).await.unwrap().schedule_refusal
    );
}

#[tokio::test]
async fn with_no_policy_nothing_is_planned() {
    let sim = start_sim(VersionProfile::V87, 20).await;
    let console = console_for(&sim).await;
    let (_, state) = console.get("/api/clusters/test/retention").await;
    assert_eq!(state["source"]["kind"], "default");
    let (status, plan) = console.get("/api/clusters/test/cleanup-plan").await;
    assert_eq!(status, 200);
    let plan: RetentionPlan = serde_json::from_value(plan).unwrap();
    assert!(plan.decisions.len() > 10);
    assert!(plan.to_delete().is_empty(), "{:?}", plan.to_delete());
}

#[tokio::test]
async fn a_retry_does_not_delete_what_the_policy_now_keeps() {
    let sim = start_sim(VersionProfile::V87, 12).await;
    let console = console_for(&sim).await;
    put_policy(
        &console,
        json!({"keep_last": 2, "min_restorable": 1, "keep_failed": 0}),
    )
    .await;
    // Zeebe refuses every delete: the sets stay, restorable from Zeebe's backup alone.
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "delete", "action": {"kind": "status", "status": 500}}),
    )
    .await;
    let delete = plan_as_the_browser_computes_it(&console).await.to_delete();
    let (_, started) = start_cleanup(&console, &delete, &[], delete.len()).await;
    let first = finished(&console, started["cleanup_id"].as_i64().unwrap()).await;
    assert_eq!(first.report.outcome.state_name(), "partial");
    reqwest::Client::new()
        .delete(format!("{}/sim/faults", sim.endpoints.control))
        .send()
        .await
        .unwrap();
    // The admin raises the limit: those sets are now kept, and a retry must not delete them.
    put_policy(
        &console,
        json!({"keep_last": 50, "min_restorable": 1, "keep_failed": 0}),
    )
    .await;
    let (status, body) = console
        .call(
            Method::POST,
            &format!("/api/cleanups/{}/retry", first.id),
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], ErrorCode::SelectionRefused.as_str());
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("now keeps it"),
        "{body}"
    );
}

#[tokio::test]
async fn a_cleanup_with_a_warning_runs_only_when_the_warning_was_acknowledged() {
    let sim = start_sim(VersionProfile::V88, 15).await;
    let console = console_for(&sim).await;
    put_policy(
        &console,
        json!({"keep_last": 2, "min_restorable": 1, "keep_failed": 0}),
    )
    .await;
    let before = listed_ids(&console).await;
    let delete = plan_as_the_browser_computes_it(&console).await.to_delete();
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/cleanups",
            Some(&console.session),
            Some(json!({"delete": delete, "selected": [], "confirm": delete.len()})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], ErrorCode::CleanupWarning.as_str());
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than half"),
        "{body}"
    );
    assert_eq!(listed_ids(&console).await, before, "nothing was deleted");
    let (status, body) = start_cleanup(&console, &delete, &[], delete.len()).await;
    assert_eq!(status, 202, "{body}");
}
