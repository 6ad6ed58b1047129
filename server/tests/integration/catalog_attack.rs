//! Hostile review of the backup catalog (part 7): random upstream histories compared page by page
//! with a fresh merge, concurrent refreshes and readers, two consoles on one database, a dead
//! refresher's lease and leftovers, a restart, bad input, and components answering garbage.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backup_console::cluster::Clusters;
use backup_console::config::Config;
use backup_console_testkit::*;
use backup_domain::api::{HistoryResponse, VersionProfile};
use camunda_sim::SimCluster;
use reqwest::Method;
use serde_json::{Value, json};

const QUIET: &str = "refresh_secs = 3600\nidle_refresh_secs = 3600\nmin_refresh_gap_secs = 0";
const VERDICTS: [&str; 5] = [
    "restorable",
    "restorable_partial",
    "in_progress",
    "not_restorable",
    "unknown",
];

fn config_text(sim: &SimCluster, catalog: &str) -> String {
    format!(
        "[catalog]\n{catalog}\n{}",
        sim.endpoints.console_config("test")
    )
}

async fn fresh_merge(sim: &SimCluster) -> HistoryResponse {
    fresh_merge_of(&sim.endpoints.console_config("test")).await
}

async fn fresh_merge_of(cluster_config: &str) -> HistoryResponse {
    let (auth, _) = auth_section("");
    let text = format!("{auth}{cluster_config}");
    let config = Config::parse(&text, "t", &|_| None).unwrap();
    let clusters = Clusters::from_config(&config).unwrap();
    backup_console::history::history(clusters.get("test").unwrap()).await
}

async fn list_calls(sim: &SimCluster) -> Value {
    let state: Value = reqwest::get(format!("{}/sim/state", sim.endpoints.control))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["list_calls"].clone()
}

async fn refresh(console: &Console) -> (u16, Value) {
    console
        .call(
            Method::POST,
            "/api/clusters/test/catalog/refresh",
            Some(&console.session),
            None,
        )
        .await
}

fn sets_of(history: &Value) -> Vec<Value> {
    history["sets"].as_array().cloned().unwrap_or_default()
}

fn ids(sets: &[Value]) -> Vec<u64> {
    sets.iter().map(|s| s["backup_id"].as_u64().unwrap()).collect()
}

fn part<'a>(set: &'a Value, name: &str) -> Option<&'a Value> {
    set["components"]
        .as_array()?
        .iter()
        .find(|c| c["component"] == name)
}

/// Every page of `query` (without `page`), concatenated; the first page's answer beside.
async fn all_pages(console: &Console, query: &str, per_page: usize) -> (Vec<Value>, Value) {
    let mut sets = Vec::new();
    let mut first = Value::Null;
    let mut page = 1;
    loop {
        let path = format!("/api/clusters/test/backups?{query}&per_page={per_page}&page={page}");
        let (status, body) = console.get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["page"], page, "{path}");
        sets.extend(sets_of(&body));
        let pages = body["pages"].as_u64().unwrap() as usize;
        if page == 1 {
            first = body;
        }
        if page >= pages {
            break;
        }
        page += 1;
    }
    (sets, first)
}

/// Small deterministic random numbers.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

async fn delete_part(sim: &SimCluster, component: &str, id: u64) {
    let e = &sim.endpoints;
    let url = match component {
        "zeebe" => format!("{}/actuator/backups/{id}", e.zeebe),
        "operate" => format!("{}/actuator/backups/{id}", e.operate.as_ref().unwrap()),
        "tasklist" => format!("{}/actuator/backups/{id}", e.tasklist.as_ref().unwrap()),
        "optimize" => format!("{}/actuator/backups/{id}", e.optimize.as_ref().unwrap()),
        other => panic!("{other}"),
    };
    let _ = reqwest::Client::new().delete(url).send().await.unwrap();
}

/// Compares every filtered, sorted, searched page sequence of the console with `fresh`.
async fn compare_with(console: &Console, fresh: &HistoryResponse, label: &str) {
    let fresh_v = serde_json::to_value(fresh).unwrap();
    let fresh_sets = sets_of(&fresh_v);
    for verdict in std::iter::once(None).chain(VERDICTS.iter().map(Some)) {
        for q in ["", "7", "10"] {
            for sort in ["newest", "oldest"] {
                let mut query = format!("sort={sort}");
                if let Some(v) = verdict {
                    query.push_str(&format!("&verdict={v}"));
                }
                if !q.is_empty() {
                    query.push_str(&format!("&q={q}"));
                }
                let mut expected: Vec<Value> = fresh_sets
                    .iter()
                    .filter(|s| verdict.is_none_or(|v| s["verdict"] == *v))
                    .filter(|s| s["backup_id"].to_string().contains(q))
                    .cloned()
                    .collect();
                if sort == "oldest" {
                    expected.reverse();
                }
                let per_page = if verdict.is_none() && q.is_empty() { 333 } else { 40 };
                let (got, first) = all_pages(console, &query, per_page).await;
                assert_eq!(
                    ids(&got),
                    ids(&expected),
                    "{label}: {query}: the IDs of every page"
                );
                assert_eq!(got, expected, "{label}: {query}: the sets");
                assert_eq!(first["total"], expected.len(), "{label}: {query}: total");
                for figure in ["counts", "highest_backup_id", "components"] {
                    assert_eq!(first[figure], fresh_v[figure], "{label}: {query}: {figure}");
                }
                assert_eq!(
                    first["latest_restorable"]["backup_id"],
                    fresh_v["latest_restorable"]["backup_id"],
                    "{label}: {query}: latest restorable"
                );
                let errors = |v: &Value| -> Vec<Value> {
                    v["component_errors"]
                        .as_array()
                        .map(|a| a.iter().map(|e| e["component"].clone()).collect())
                        .unwrap_or_default()
                };
                assert_eq!(
                    errors(&first),
                    errors(&fresh_v),
                    "{label}: {query}: errors"
                );
            }
        }
    }
}

/// Attack 1: a random history of new sets, deleted parts, whole sets gone, failing and
/// recovering listings; after each refresh every page sequence equals a fresh merge.
#[tokio::test]
async fn random_upstream_changes_pages_equal_a_fresh_merge() {
    let sim = start_sim(VersionProfile::V87, 1_100).await;
    let console = start_console(&config_text(&sim, QUIET)).await;
    let mut rng = Lcg(42);
    let mut next_id = u64::from(u32::MAX);
    let (status, _) = refresh(&console).await;
    assert_eq!(status, 200);
    compare_with(&console, &fresh_merge(&sim).await, "first").await;
    for step in 0..9 {
        let known = ids(&sets_of(&console.get("/api/clusters/test/backups").await.1));
        let pick = |rng: &mut Lcg| known[rng.next(known.len() as u64) as usize];
        let kind = step % 5;
        let mut faulted = false;
        let label = match kind {
            0 => {
                let all = ["zeebe", "operate", "tasklist", "optimize"];
                let n = 1 + rng.next(4) as usize;
                take_backup(&sim, next_id, &all[..n]).await;
                next_id += 1 + rng.next(1000);
                settle().await;
                "a new set"
            }
            1 => {
                delete_part(&sim, "zeebe", pick(&mut rng)).await;
                "zeebe part deleted"
            }
            2 => {
                delete_part(&sim, "operate", pick(&mut rng)).await;
                delete_part(&sim, "tasklist", pick(&mut rng)).await;
                "web-apps parts deleted"
            }
            3 => {
                let id = pick(&mut rng);
                for c in ["zeebe", "operate", "tasklist", "optimize"] {
                    delete_part(&sim, c, id).await;
                }
                let _ = reqwest::Client::new()
                    .delete(format!(
                        "{}/_snapshot/camunda/camunda_zeebe_records_backup_{id}",
                        sim.endpoints.elasticsearch
                    ))
                    .send()
                    .await;
                "a whole set gone"
            }
            _ => {
                let component = ["optimize", "operate", "zeebe"][rng.next(3) as usize];
                // Two failures: the console's listing and the fresh merge's.
                control(
                    &sim,
                    "/sim/faults",
                    json!({"component": component, "operation": "list", "count": 2,
                           "action": {"kind": "status", "status": 500}}),
                )
                .await;
                faulted = true;
                "a failing listing"
            }
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, body) = refresh(&console).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["refreshed"], true, "{body}");
        let fresh = fresh_merge(&sim).await;
        if faulted {
            assert!(!fresh.component_errors.is_empty(), "the fault fired twice");
        }
        compare_with(&console, &fresh, &format!("step {step}: {label}")).await;
        let _ = reqwest::Client::new()
            .delete(format!("{}/sim/faults", sim.endpoints.control))
            .send()
            .await;
    }
}
