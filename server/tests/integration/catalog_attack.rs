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

/// Checks one page answer on its own: rows ordered, unique, of the filter, as many as the
/// total says, and the rows agree with the summary they are shown with.
fn check_page(path: &str, body: &Value, verdict: Option<&str>, newest: bool) -> Result<(), String> {
    let sets = sets_of(body);
    let got = ids(&sets);
    let ordered = got.windows(2).all(|w| if newest { w[0] > w[1] } else { w[0] < w[1] });
    if !ordered {
        return Err(format!("{path}: not strictly ordered: {got:?}"));
    }
    let total = body["total"].as_u64().ok_or(format!("{path}: no total"))? as usize;
    let page = body["page"].as_u64().unwrap() as usize;
    let per_page = body["per_page"].as_u64().unwrap() as usize;
    let expected_len = total.saturating_sub((page - 1) * per_page).min(per_page);
    if got.len() != expected_len {
        return Err(format!(
            "{path}: {} rows on page {page} of total {total} per {per_page}",
            got.len()
        ));
    }
    let counts = &body["counts"];
    let counted = match verdict {
        Some(v) => counts[v].as_u64().unwrap_or(0) as usize,
        None => VERDICTS
            .iter()
            .map(|v| counts[*v].as_u64().unwrap_or(0) as usize)
            .sum(),
    };
    if counted != total {
        return Err(format!("{path}: total {total} but counts say {counted}: {counts}"));
    }
    if let Some(v) = verdict
        && let Some(bad) = sets.iter().find(|s| s["verdict"] != v)
    {
        return Err(format!("{path}: a {} set under verdict={v}", bad["verdict"]));
    }
    if page == 1 && newest && !got.is_empty() {
        match verdict {
            None if body["highest_backup_id"] != got[0] => {
                return Err(format!(
                    "{path}: first row {} but highest_backup_id {}",
                    got[0], body["highest_backup_id"]
                ));
            }
            Some("restorable") if body["latest_restorable"]["backup_id"] != got[0] => {
                return Err(format!(
                    "{path}: first restorable row {} but latest_restorable {}",
                    got[0], body["latest_restorable"]
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Attack 3: refresh clicks and page readers hammering one console while refreshes write
/// generations of more than one chunk: no 500, and no page mixes two generations.
#[tokio::test]
async fn concurrent_refreshes_and_readers_never_mix_generations() {
    let sim = start_sim(VersionProfile::V88, 1_300).await;
    let console = Arc::new(start_console(&config_text(&sim, QUIET)).await);
    let (status, _) = refresh(&console).await;
    assert_eq!(status, 200);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reads = Arc::new(AtomicUsize::new(0));
    // generated_at_ms + query -> page -> ids: pages of one generation must not overlap.
    let seen: Arc<std::sync::Mutex<HashMap<(i64, String), HashMap<usize, Vec<u64>>>>> =
        Arc::default();
    let mut readers = Vec::new();
    for r in 0..4 {
        let (console, stop, failures, reads, seen) = (
            console.clone(),
            stop.clone(),
            failures.clone(),
            reads.clone(),
            seen.clone(),
        );
        readers.push(tokio::spawn(async move {
            let mut n = r;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let verdict = [None, Some("restorable"), Some("not_restorable"), None][n % 4];
                let newest = n % 3 != 0;
                let per_page = [500, 97, 250][n % 3];
                let page = n % 4 + 1;
                let mut query = format!(
                    "sort={}&per_page={per_page}",
                    if newest { "newest" } else { "oldest" }
                );
                if let Some(v) = verdict {
                    query.push_str(&format!("&verdict={v}"));
                }
                let path = format!("/api/clusters/test/backups?{query}&page={page}");
                let (status, body) = console.get(&path).await;
                reads.fetch_add(1, Ordering::SeqCst);
                if status != 200 {
                    failures.lock().unwrap().push(format!("{path}: {status} {body}"));
                    continue;
                }
                if let Err(e) = check_page(&path, &body, verdict, newest) {
                    failures.lock().unwrap().push(e);
                }
                let key = (body["generated_at_ms"].as_i64().unwrap_or(0), query);
                seen.lock()
                    .unwrap()
                    .entry(key)
                    .or_default()
                    .insert(body["page"].as_u64().unwrap_or(0) as usize, ids(&sets_of(&body)));
            }
        }));
    }
    let mut rng = Lcg(7);
    let mut next_id = u64::from(u32::MAX);
    for round in 0..6 {
        // Upstream changes between refreshes: a new set, a set losing its Zeebe part.
        take_backup(&sim, next_id, &["zeebe", "webapps", "optimize"]).await;
        next_id += 1;
        let (_, all) = console.get("/api/clusters/test/backups?per_page=500").await;
        let some = ids(&sets_of(&all));
        let victim = some[rng.next(some.len() as u64) as usize];
        let _ = reqwest::Client::new()
            .delete(format!("{}/actuator/backups/{victim}", sim.endpoints.zeebe))
            .send()
            .await;
        settle().await;
        let clicks = (0..8).map(|_| refresh(&console));
        for (status, body) in futures_util::future::join_all(clicks).await {
            if status != 200 {
                failures
                    .lock()
                    .unwrap()
                    .push(format!("round {round}: refresh {status} {body}"));
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    for r in readers {
        r.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "{} bad answers of {}: {:#?}", failures.len(),
        reads.load(Ordering::SeqCst), &failures[..failures.len().min(10)]);
    for ((generation, query), pages) in seen.lock().unwrap().iter() {
        let mut all = BTreeSet::new();
        for (page, page_ids) in pages {
            for id in page_ids {
                assert!(
                    all.insert(*id),
                    "generation {generation} {query}: {id} on two pages (page {page})"
                );
            }
        }
    }
    // And afterwards the catalog is the fresh merge.
    refresh(&console).await;
    let fresh = serde_json::to_value(fresh_merge(&sim).await).unwrap();
    let (got, _) = all_pages(&console, "sort=newest", 500).await;
    assert_eq!(ids(&got), ids(&sets_of(&fresh)));
    assert_eq!(got, sets_of(&fresh));
}

fn shared_config(sim: &SimCluster, catalog: &str) -> (String, std::path::PathBuf) {
    let (auth, db) = auth_section("");
    (
        format!(
            "{auth}[catalog]\n{catalog}\n{}",
            sim.endpoints.console_config("test")
        ),
        db,
    )
}

fn db(path: &std::path::Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

/// Every catalog row no generation has ended, by backup ID: each exactly once.
fn open_rows(path: &std::path::Path) -> Vec<(u64, i64)> {
    let c = db(path);
    let mut st = c
        .prepare("SELECT backup_id, count(*) FROM catalog_sets WHERE cluster = 'test' AND valid_to IS NULL GROUP BY backup_id ORDER BY backup_id")
        .unwrap();
    st.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Attack 4: two consoles sharing one database refresh the same cluster at once, many times:
/// no error, no duplicated row, both serve the fresh merge.
#[tokio::test]
async fn two_consoles_on_one_database_refreshing_at_once_agree() {
    let sim = start_sim(VersionProfile::V87, 700).await;
    let (text, path) = shared_config(&sim, QUIET);
    let a = start_console_with(&text).await;
    let b = start_console_with(&text).await;
    let mut slow = fast_timings();
    slow.zeebe_list_ms = 200;
    control(&sim, "/sim/settings", json!({ "timings": slow })).await;
    for round in 0..4u64 {
        take_backup(&sim, u64::from(u32::MAX) + round, &["zeebe", "operate", "tasklist"]).await;
        settle().await;
        let clicks = (0..6).flat_map(|_| [refresh(&a), refresh(&b)]);
        for (status, body) in futures_util::future::join_all(clicks).await {
            assert_eq!(status, 200, "round {round}: {body}");
        }
        // Whichever lost the lease answered at once; both get the published catalog after
        // one more refresh each.
        eventually(Duration::from_secs(20), || async {
            let (s, body) = refresh(&a).await;
            (s == 200 && body["refreshed"] == true).then_some(())
        })
        .await;
        let fresh = serde_json::to_value(fresh_merge(&sim).await).unwrap();
        for (name, console) in [("a", &a), ("b", &b)] {
            let (got, first) = all_pages(console, "sort=newest", 500).await;
            assert_eq!(ids(&got), ids(&sets_of(&fresh)), "round {round}: console {name}");
            assert_eq!(got, sets_of(&fresh), "round {round}: console {name}");
            assert_eq!(first["counts"], fresh["counts"], "round {round}: {name}");
        }
        let rows = open_rows(&path);
        assert!(rows.iter().all(|(_, n)| *n == 1), "duplicated rows: {:?}",
            rows.iter().filter(|(_, n)| *n != 1).collect::<Vec<_>>());
        assert_eq!(rows.len(), sets_of(&fresh).len(), "round {round}: rows left over");
    }
}

/// Attack 5: a refresher that died mid-refresh left a lease and half a generation. Its rows are
/// never shown, the lease blocks the others only until it expires, and the next refresh removes
/// the leftovers.
#[tokio::test]
async fn a_dead_refreshers_lease_and_leftovers_are_never_shown_and_are_replaced() {
    let sim = start_sim(VersionProfile::V88, 30).await;
    let (text, path) = shared_config(&sim, QUIET);
    let console = start_console_with(&text).await;
    let (status, before) = console.get("/api/clusters/test/backups").await;
    assert_eq!(status, 200, "{before}");
    let first = sets_of(&before);
    let ended = first[2]["backup_id"].as_u64().unwrap();
    {
        let c = db(&path);
        let generation: i64 = c
            .query_row("SELECT generation FROM catalog_state WHERE cluster = 'test'", [], |r| r.get(0))
            .unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        c.execute(
            "UPDATE catalog_state SET writer = 'pid 1 deadbeef', writer_until = ?1 WHERE cluster = 'test'",
            [now + 3_000],
        )
        .unwrap();
        let mut bogus = first[0].clone();
        bogus["backup_id"] = json!(987_654_321u64);
        c.execute(
            "INSERT INTO catalog_sets (cluster, backup_id, valid_from, verdict, digest, body) VALUES ('test', 987654321, ?1, 'restorable', 1, ?2)",
            rusqlite::params![generation + 1, bogus.to_string()],
        )
        .unwrap();
        c.execute(
            "UPDATE catalog_sets SET valid_to = ?1 WHERE cluster = 'test' AND backup_id = ?2 AND valid_to IS NULL",
            rusqlite::params![generation + 1, ended as i64],
        )
        .unwrap();
    }
    take_backup(&sim, u64::from(u32::MAX), &["zeebe", "webapps", "optimize"]).await;
    settle().await;
    // The lease is live: no refresh, and the catalog as it was (without the leftovers).
    let (status, body) = refresh(&console).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refreshed"], false, "{body}");
    let (_, during) = console.get("/api/clusters/test/backups?per_page=500").await;
    assert_eq!(ids(&sets_of(&during)), ids(&first), "the dead refresher's rows are not shown");
    assert_eq!(during["total"], first.len());
    // Once it expires, this console takes over.
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let (status, body) = refresh(&console).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refreshed"], true, "{body}");
    let fresh = serde_json::to_value(fresh_merge(&sim).await).unwrap();
    let (got, _) = all_pages(&console, "sort=newest", 500).await;
    assert_eq!(got, sets_of(&fresh));
    let rows = open_rows(&path);
    assert!(rows.iter().all(|(id, n)| *n == 1 && *id != 987_654_321), "{rows:?}");
    assert!(rows.iter().any(|(id, _)| *id == ended), "the ended row is back");
}

/// Attack 6: a console restarted on the same database serves its catalog without listing.
#[tokio::test]
async fn a_restarted_console_keeps_its_catalog_without_listing() {
    let sim = start_sim(VersionProfile::V88, 40).await;
    let (text, _) = shared_config(&sim, QUIET);
    let first = start_console_with(&text).await;
    let (status, before) = first.get("/api/clusters/test/backups?per_page=100").await;
    assert_eq!(status, 200, "{before}");
    drop(first);
    let calls = list_calls(&sim).await;
    let second = start_console_with(&text).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (status, after) = second.get("/api/clusters/test/backups?per_page=100").await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(sets_of(&after), sets_of(&before));
    assert_eq!(after["catalog"]["refreshed_at_ms"], before["catalog"]["refreshed_at_ms"]);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(list_calls(&sim).await, calls, "the restart listed again");
}
