//! The backup catalog (part 7) against the simulator over real HTTP: it matches a fresh merge, a
//! failed listing reads unknown with its error and the last good time, viewers coalesce into one
//! listing, a run's set comes without waiting for the interval, and a plan made on a stale
//! catalog is refused before anything is deleted.

use std::time::Duration;

use backup_console_testkit::*;
use backup_domain::api::{ErrorCode, HistoryResponse, VersionProfile};
use backup_domain::retention::{self, CleanupView, RetentionPlan, RetentionState};
use reqwest::Method;
use serde_json::{Value, json};

fn calls_of(calls: &Value, component: &str) -> u64 {
    calls[component].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn the_catalog_matches_a_fresh_merge_after_every_refresh() {
    let sim = start_sim(VersionProfile::V87, 80).await;
    let console = console_for(&sim).await;
    let check = |label: &'static str| {
        let (sim, console) = (&sim, &console);
        async move {
            let (status, catalog) = console.fresh_get("/api/clusters/test/backups").await;
            assert_eq!(status, 200, "{catalog}");
            let fresh = serde_json::to_value(fresh_merge(sim).await).unwrap();
            assert_eq!(sets_of(&catalog), sets_of(&fresh), "{label}: the sets");
            for figure in ["counts", "highest_backup_id", "components"] {
                assert_eq!(catalog[figure], fresh[figure], "{label}: {figure}");
            }
            assert_eq!(
                catalog["latest_restorable"]["backup_id"], fresh["latest_restorable"]["backup_id"],
                "{label}"
            );
            assert!(catalog["catalog"]["refreshed_at_ms"].as_i64().is_some());
        }
    };
    check("first listing").await;

    // A new set, one that changed (Zeebe's part deleted), and sets gone everywhere (a cleanup):
    // the next generation has every change and nothing else.
    take_backup(
        &sim,
        u64::from(u32::MAX),
        &["zeebe", "operate", "tasklist", "optimize"],
    )
    .await;
    let (_, before) = console.get("/api/clusters/test/backups").await;
    let changed = sets_of(&before)[3]["backup_id"].as_u64().unwrap();
    reqwest::Client::new()
        .delete(format!(
            "{}/actuator/backups/{changed}",
            sim.endpoints.zeebe
        ))
        .send()
        .await
        .unwrap();
    // The preview plans over the catalog: it must have listed the delete, or the confirm's
    // fresh plan (which has) differs from it and is refused as `plan_changed`.
    settle().await;
    assert_eq!(console.refresh_catalog().await.0, 200);
    let (status, body) = console
        .call(
            Method::PUT,
            "/api/clusters/test/retention",
            Some(&console.session),
            Some(json!({"keep_last": 60, "min_restorable": 1, "keep_failed": 0})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, plan) = console.get("/api/clusters/test/cleanup-plan").await;
    let plan: RetentionPlan = serde_json::from_value(plan).unwrap();
    let delete = plan.to_delete();
    assert!(delete.len() > 3, "{delete:?}");
    let (status, started) = console
        .call(
            Method::POST,
            "/api/clusters/test/cleanups",
            Some(&console.session),
            Some(
                json!({"delete": delete, "selected": [], "confirm": delete.len(),
                        "acknowledge_warning": true}),
            ),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let cleanup = started["cleanup_id"].as_i64().unwrap();
    eventually(Duration::from_secs(20), || async {
        let (_, view) = console.get(&format!("/api/cleanups/{cleanup}")).await;
        let view: CleanupView = serde_json::from_value(view).ok()?;
        (view.report.outcome.state_name() != "running").then_some(())
    })
    .await;
    settle().await;
    check("after a backup and a deletion").await;
    check("unchanged").await;
}

#[tokio::test]
async fn a_failed_listing_reads_unknown_with_its_error_and_the_last_good_time() {
    let sim = start_sim(VersionProfile::V88, 12).await;
    let console = console_for(&sim).await;
    let (_, good) = console
        .fresh_get("/api/clusters/test/backups?per_page=50")
        .await;
    let optimize_listed = |h: &Value| {
        h["catalog"]["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["component"] == "optimize")
            .cloned()
            .unwrap()
    };
    let listed_at = optimize_listed(&good)["listed_at_ms"].as_i64().unwrap();
    assert!(good["catalog"]["components"][0]["error"].is_null());

    control(
        &sim,
        "/sim/faults",
        json!({"component": "optimize", "operation": "list", "count": 1,
               "action": {"kind": "status", "status": 500}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (status, failed) = console
        .fresh_get("/api/clusters/test/backups?per_page=50")
        .await;
    assert_eq!(status, 200, "{failed}");
    let optimize = optimize_listed(&failed);
    assert!(
        optimize["error"].as_str().unwrap().contains("500"),
        "{optimize}"
    );
    assert_eq!(
        optimize["listed_at_ms"], listed_at,
        "the previous good time"
    );
    assert!(optimize["failed_at_ms"].as_i64().unwrap() > listed_at);
    assert_eq!(failed["component_errors"][0]["component"], "optimize");
    // Never healthy: Optimize is unknown in every set, and no set is restorable.
    for set in sets_of(&failed) {
        let part = set["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["component"] == "optimize")
            .unwrap();
        assert_eq!(part["state"], "unknown", "{set}");
        assert_ne!(set["verdict"], "restorable", "{set}");
    }
    assert_eq!(failed["counts"]["restorable"], 0);
    assert!(failed["latest_restorable"].is_null());

    // The next good listing clears it.
    let (_, again) = console
        .fresh_get("/api/clusters/test/backups?per_page=50")
        .await;
    assert!(optimize_listed(&again)["error"].is_null());
    assert_eq!(again["counts"], good["counts"]);
}

#[tokio::test]
async fn concurrent_viewers_and_refreshes_cost_one_listing_of_each_component() {
    let sim = start_sim(VersionProfile::V87, 30).await;
    let console = start_console(&catalog_config(
        &sim,
        "refresh_secs = 60\nmin_refresh_gap_secs = 1",
    ))
    .await;
    let (status, _) = console.get("/api/clusters/test/backups?per_page=5").await;
    assert_eq!(status, 200);
    let first = list_calls(&sim).await;
    for component in ["zeebe", "operate", "tasklist", "optimize", "elasticsearch"] {
        assert_eq!(calls_of(&first, component), 1, "{component}: {first}");
    }

    // Twenty viewers reading pages list nothing.
    let reads = (0..20).map(|i| {
        let console = &console;
        async move {
            console
                .get(&format!("/api/clusters/test/backups?page={}", i % 3 + 1))
                .await
                .0
        }
    });
    let codes = futures_util::future::join_all(reads).await;
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
    assert_eq!(list_calls(&sim).await, first);

    // Twenty Refresh clicks at once, the gap since the last listing passed: one listing, which
    // every click waits for.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // A listing long enough for every click to arrive during it.
    let mut slow = fast_timings();
    slow.zeebe_list_ms = 300;
    control(&sim, "/sim/settings", json!({ "timings": slow })).await;
    let clicks = (0..20).map(|_| console.refresh_catalog());
    let answers = futures_util::future::join_all(clicks).await;
    assert!(answers.iter().all(|(c, _)| *c == 200), "{answers:?}");
    let after = list_calls(&sim).await;
    for component in ["zeebe", "operate", "tasklist", "optimize", "elasticsearch"] {
        assert_eq!(calls_of(&after, component), 2, "{component}: {after}");
    }
    // A click within the gap answers the catalog as it is.
    let (status, again) = console.refresh_catalog().await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["refreshed"], false, "{again}");
    assert_eq!(list_calls(&sim).await, after);
}

#[tokio::test]
async fn viewers_over_several_intervals_cost_one_listing_per_interval() {
    let sim = start_sim(VersionProfile::V88, 10).await;
    let console = start_console(&catalog_config(
        &sim,
        "refresh_secs = 2\nidle_refresh_secs = 3600",
    ))
    .await;
    let started = std::time::Instant::now();
    let viewers = (0..20).map(|_| {
        let console = &console;
        async move {
            while started.elapsed() < Duration::from_secs(5) {
                let (status, _) = console.get("/api/clusters/test/backups?per_page=25").await;
                assert_eq!(status, 200);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    futures_util::future::join_all(viewers).await;
    let calls = list_calls(&sim).await;
    let zeebe = calls_of(&calls, "zeebe");
    // The first listing, then one per 2 s interval of the 5 s: 3, or 4 at a tick's edge.
    assert!((2..=4).contains(&zeebe), "{calls}");
    assert_eq!(calls_of(&calls, "webapps"), zeebe, "{calls}");
}

#[tokio::test]
async fn a_runs_set_appears_without_waiting_for_the_interval() {
    let sim = start_sim(VersionProfile::V88, 3).await;
    let console = start_console(&catalog_config(
        &sim,
        "refresh_secs = 3600\nidle_refresh_secs = 3600",
    ))
    .await;
    let (_, before) = console.get("/api/clusters/test/backups").await;
    let known = before["highest_backup_id"].as_u64().unwrap_or(0);
    let (status, run) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let id = run["backup_id"].as_u64().unwrap();
    assert!(id > known);
    // Plain reads, no Refresh: the run's end brings the listing forward.
    let set = eventually(Duration::from_secs(20), || async {
        let (_, h) = console.get("/api/clusters/test/backups?per_page=5").await;
        sets_of(&h)
            .into_iter()
            .find(|s| s["backup_id"] == id && s["verdict"] == "restorable")
    })
    .await;
    assert_eq!(set["backup_id"], id);
}

#[tokio::test]
async fn a_plan_made_on_a_stale_catalog_is_refused_and_nothing_is_deleted() {
    let sim = start_sim(VersionProfile::V88, 20).await;
    let console = start_console(&catalog_config(
        &sim,
        "refresh_secs = 3600\nidle_refresh_secs = 3600",
    ))
    .await;
    let (status, body) = console
        .call(
            Method::PUT,
            "/api/clusters/test/retention",
            Some(&console.session),
            Some(json!({"keep_last": 3, "min_restorable": 1, "keep_failed": 0})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, history) = console.get("/api/clusters/test/backups").await;
    // Upstream moves on; the catalog does not know yet.
    take_backup(&sim, u64::from(u32::MAX), &["zeebe", "webapps", "optimize"]).await;
    settle().await;
    let (_, stale) = console.get("/api/clusters/test/backups").await;
    assert_eq!(sets_of(&stale), sets_of(&history), "the catalog is stale");

    let history: HistoryResponse = serde_json::from_value(history).unwrap();
    let (_, state) = console.get("/api/clusters/test/retention").await;
    let state: RetentionState = serde_json::from_value(state).unwrap();
    let plan = retention::plan(
        &history.sets,
        &state.policy,
        &state.protections(),
        chrono::Utc::now().timestamp_millis(),
    );
    let delete = plan.to_delete();
    assert!(!delete.is_empty());
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/cleanups",
            Some(&console.session),
            Some(
                json!({"delete": delete, "selected": [], "confirm": delete.len(),
                        "acknowledge_warning": true}),
            ),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], ErrorCode::PlanChanged.as_str());
    let fresh = fresh_merge(&sim).await;
    for id in delete {
        assert!(
            fresh.sets.iter().any(|s| s.backup_id == id),
            "{id} was deleted"
        );
    }
}

#[tokio::test]
async fn bad_paging_and_an_unknown_cluster_answer_the_envelope_and_list_nothing() {
    let sim = start_sim(VersionProfile::V88, 5).await;
    let console = console_for(&sim).await;
    console.get("/api/clusters/test/backups?per_page=1").await;
    let before = list_calls(&sim).await;
    for query in [
        "page=0",
        "per_page=0",
        "per_page=501",
        "verdict=great",
        "sort=up",
    ] {
        let (status, body) = console
            .get(&format!("/api/clusters/test/backups?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
    }
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/nope/catalog/refresh",
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(list_calls(&sim).await, before);
    // A page past the end is the last page.
    let (_, last) = console
        .get("/api/clusters/test/backups?page=999&per_page=2")
        .await;
    assert_eq!(last["page"], last["pages"], "{last}");
}

async fn preview(console: &Console, body: Value) -> (u16, Value) {
    console
        .call(
            Method::POST,
            "/api/clusters/test/retention/preview",
            Some(&console.session),
            Some(body),
        )
        .await
}

/// The retention preview is the server's: the same planner over the catalog as the browser's
/// was over the whole history, for the policy in force and for a draft, a page at a time.
#[tokio::test]
async fn the_retention_preview_is_the_plan_a_page_at_a_time() {
    let sim = start_sim(VersionProfile::V87, 60).await;
    let console = console_for(&sim).await;
    let saved = json!({"keep_last": 10, "min_restorable": 2, "keep_failed": 1});
    let (status, body) = console
        .call(
            Method::PUT,
            "/api/clusters/test/retention",
            Some(&console.session),
            Some(saved),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    let history: HistoryResponse = serde_json::from_value(history).unwrap();
    let (_, state) = console.get("/api/clusters/test/retention").await;
    let state: RetentionState = serde_json::from_value(state).unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let draft = backup_domain::retention::RetentionPolicy {
        keep_last: Some(25),
        ..state.policy.clone()
    };
    for (request, policy) in [
        (json!({}), state.policy.clone()),
        (json!({ "policy": draft }), draft.clone()),
    ] {
        let expected = retention::plan(&history.sets, &policy, &state.protections(), now);
        let mut request = request;
        request["per_page"] = json!(7);
        let (status, first) = preview(&console, request.clone()).await;
        assert_eq!(status, 200, "{first}");
        let first: retention::RetentionPreview = serde_json::from_value(first).unwrap();
        assert_eq!(first.policy, policy);
        assert_eq!(first.delete, expected.to_delete());
        assert_eq!(first.selectable_orphans, expected.selectable_orphans());
        assert_eq!(first.sets, history.sets.len());
        assert_eq!(first.total, expected.decisions.len());
        let mut decisions = Vec::new();
        for page in 1..=first.pages {
            request["page"] = json!(page);
            let (_, p) = preview(&console, request.clone()).await;
            let p: retention::RetentionPreview = serde_json::from_value(p).unwrap();
            decisions.extend(p.decisions.into_iter().map(|d| d.decision));
        }
        // The reasons name ages, which move with the clock: the decisions themselves must match.
        let key = |d: &retention::SetDecision| (d.backup_id, d.decision, d.protected, d.orphan);
        assert_eq!(
            decisions.iter().map(key).collect::<Vec<_>>(),
            expected.decisions.iter().map(key).collect::<Vec<_>>()
        );
    }
    // Only what deletes, with what it deletes.
    let (_, deletes) = preview(&console, json!({"show": "delete", "per_page": 500})).await;
    let deletes: retention::RetentionPreview = serde_json::from_value(deletes).unwrap();
    assert_eq!(deletes.total, deletes.delete.len());
    assert!(deletes.decisions.iter().all(|d| !d.artifacts.is_empty()));

    // Bad drafts and paging are refused, and a preview changes nothing.
    let (_, audit_before) = console.get("/api/audit").await;
    for bad in [
        json!({"policy": {"keep_last": 0, "min_restorable": 0, "keep_failed": 0}}),
        json!({"per_page": 0}),
        json!({"per_page": 501}),
        json!({"page": 0}),
        json!({"show": "everything"}),
        json!({"unknown": 1}),
    ] {
        let (status, body) = preview(&console, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (_, after) = console.get("/api/clusters/test/retention").await;
    let after: RetentionState = serde_json::from_value(after).unwrap();
    assert_eq!(after.policy, state.policy);
    let (_, audit_after) = console.get("/api/audit").await;
    assert_eq!(audit_after["entries"], audit_before["entries"]);
}

/// An empty Zeebe store (a wrong bucket) makes every set an orphan, and the policy deletes
/// nothing: ticking orphans by hand must need the same acknowledged warning a policy's deletions
/// do (the review of part 7 found it did not).
#[tokio::test]
async fn ticked_orphans_need_the_warning_acknowledged_too() {
    let sim = start_sim(VersionProfile::V87, 12).await;
    let console = console_for(&sim).await;
    let ids: Vec<u64> = fresh_merge(&sim)
        .await
        .sets
        .iter()
        .map(|s| s.backup_id)
        .collect();
    for id in &ids {
        reqwest::Client::new()
            .delete(format!("{}/actuator/backups/{id}", sim.endpoints.zeebe))
            .send()
            .await
            .unwrap();
    }
    settle().await;
    let (status, body) = console
        .call(
            Method::PUT,
            "/api/clusters/test/retention",
            Some(&console.session),
            Some(json!({"keep_last": 100, "min_restorable": 1, "keep_failed": 100})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, plan) = console.get("/api/clusters/test/cleanup-plan").await;
    let plan: RetentionPlan = serde_json::from_value(plan).unwrap();
    assert!(plan.to_delete().is_empty(), "{plan:?}");
    let orphans = plan.selectable_orphans();
    assert!(!orphans.is_empty());
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/cleanups",
            Some(&console.session),
            Some(json!({"delete": [], "selected": orphans, "confirm": orphans.len()})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"]["code"],
        ErrorCode::CleanupWarning.as_str(),
        "{body}"
    );
    let left = fresh_merge(&sim).await;
    assert_eq!(left.sets.len(), ids.len(), "nothing was deleted");
}
