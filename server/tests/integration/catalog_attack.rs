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

/// (generation's time, query) -> page -> its IDs.
type PagesSeen = HashMap<(i64, String), HashMap<usize, Vec<u64>>>;

const QUIET: &str = "refresh_secs = 3600\nidle_refresh_secs = 3600\nmin_refresh_gap_secs = 0";
const VERDICTS: [&str; 5] = [
    "restorable",
    "restorable_partial",
    "in_progress",
    "not_restorable",
    "unknown",
];

fn ids(sets: &[Value]) -> Vec<u64> {
    sets.iter()
        .map(|s| s["backup_id"].as_u64().unwrap())
        .collect()
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

fn zeebe_url(sim: &SimCluster, id: u64) -> String {
    let path = if sim.endpoints.operate.is_some() {
        "backups"
    } else {
        "backupRuntime"
    };
    format!("{}/actuator/{path}/{id}", sim.endpoints.zeebe)
}

async fn delete_part(sim: &SimCluster, component: &str, id: u64) {
    let e = &sim.endpoints;
    let url = match component {
        "zeebe" => zeebe_url(sim, id),
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
                let per_page = if verdict.is_none() && q.is_empty() {
                    333
                } else {
                    40
                };
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
                assert_eq!(errors(&first), errors(&fresh_v), "{label}: {query}: errors");
            }
        }
    }
}

/// Attack 1: a random history of new sets, deleted parts, whole sets gone, failing and
/// recovering listings; after each refresh every page sequence equals a fresh merge.
#[tokio::test]
async fn random_upstream_changes_pages_equal_a_fresh_merge() {
    let sim = start_sim(VersionProfile::V87, 1_100).await;
    let console = start_console(&catalog_config(&sim, QUIET)).await;
    let mut rng = Lcg(42);
    let mut next_id = u64::from(u32::MAX);
    let (status, _) = console.refresh_catalog().await;
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
        let (status, body) = console.refresh_catalog().await;
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
    let ordered = got
        .windows(2)
        .all(|w| if newest { w[0] > w[1] } else { w[0] < w[1] });
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
        return Err(format!(
            "{path}: total {total} but counts say {counted}: {counts}"
        ));
    }
    if let Some(v) = verdict
        && let Some(bad) = sets.iter().find(|s| s["verdict"] != v)
    {
        return Err(format!(
            "{path}: a {} set under verdict={v}",
            bad["verdict"]
        ));
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
    let console = Arc::new(start_console(&catalog_config(&sim, QUIET)).await);
    let (status, _) = console.refresh_catalog().await;
    assert_eq!(status, 200);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reads = Arc::new(AtomicUsize::new(0));
    // generated_at_ms + query -> page -> ids: pages of one generation must not overlap.
    let seen: Arc<std::sync::Mutex<PagesSeen>> = Arc::default();
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
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{path}: {status} {body}"));
                    continue;
                }
                if let Err(e) = check_page(&path, &body, verdict, newest) {
                    failures.lock().unwrap().push(e);
                }
                let key = (body["generated_at_ms"].as_i64().unwrap_or(0), query);
                seen.lock().unwrap().entry(key).or_default().insert(
                    body["page"].as_u64().unwrap_or(0) as usize,
                    ids(&sets_of(&body)),
                );
            }
        }));
    }
    let mut rng = Lcg(7);
    for (round, next_id) in (0..6).zip(u64::from(u32::MAX)..) {
        // Upstream changes between refreshes: a new set, a set losing its Zeebe part.
        take_backup(&sim, next_id, &["zeebe", "webapps", "optimize"]).await;
        let (_, all) = console.get("/api/clusters/test/backups?per_page=500").await;
        let some = ids(&sets_of(&all));
        let victim = some[rng.next(some.len() as u64) as usize];
        let _ = reqwest::Client::new()
            .delete(zeebe_url(&sim, victim))
            .send()
            .await;
        settle().await;
        let clicks = (0..8).map(|_| console.refresh_catalog());
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
    assert!(
        failures.is_empty(),
        "{} bad answers of {}: {:#?}",
        failures.len(),
        reads.load(Ordering::SeqCst),
        &failures[..failures.len().min(10)]
    );
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
    console.refresh_catalog().await;
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
    st.query_map([], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)?))
    })
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
        take_backup(
            &sim,
            u64::from(u32::MAX) + round,
            &["zeebe", "operate", "tasklist"],
        )
        .await;
        settle().await;
        let clicks = (0..6).flat_map(|_| [a.refresh_catalog(), b.refresh_catalog()]);
        for (status, body) in futures_util::future::join_all(clicks).await {
            assert_eq!(status, 200, "round {round}: {body}");
        }
        // Whichever lost the lease answered at once; both get the published catalog after
        // one more refresh each.
        eventually(Duration::from_secs(20), || async {
            let (s, body) = a.refresh_catalog().await;
            (s == 200 && body["refreshed"] == true).then_some(())
        })
        .await;
        let fresh = serde_json::to_value(fresh_merge(&sim).await).unwrap();
        for (name, console) in [("a", &a), ("b", &b)] {
            let (got, first) = all_pages(console, "sort=newest", 500).await;
            assert_eq!(
                ids(&got),
                ids(&sets_of(&fresh)),
                "round {round}: console {name}"
            );
            assert_eq!(got, sets_of(&fresh), "round {round}: console {name}");
            assert_eq!(first["counts"], fresh["counts"], "round {round}: {name}");
        }
        let rows = open_rows(&path);
        assert!(
            rows.iter().all(|(_, n)| *n == 1),
            "duplicated rows: {:?}",
            rows.iter().filter(|(_, n)| *n != 1).collect::<Vec<_>>()
        );
        assert_eq!(
            rows.len(),
            sets_of(&fresh).len(),
            "round {round}: rows left over"
        );
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
            .query_row(
                "SELECT generation FROM catalog_state WHERE cluster = 'test'",
                [],
                |r| r.get(0),
            )
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
    let (status, body) = console.refresh_catalog().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refreshed"], false, "{body}");
    let (_, during) = console.get("/api/clusters/test/backups?per_page=500").await;
    assert_eq!(
        ids(&sets_of(&during)),
        ids(&first),
        "the dead refresher's rows are not shown"
    );
    assert_eq!(during["total"], first.len());
    // Once it expires, this console takes over.
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let (status, body) = console.refresh_catalog().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refreshed"], true, "{body}");
    let fresh = serde_json::to_value(fresh_merge(&sim).await).unwrap();
    let (got, _) = all_pages(&console, "sort=newest", 500).await;
    assert_eq!(got, sets_of(&fresh));
    let rows = open_rows(&path);
    assert!(
        rows.iter().all(|(id, n)| *n == 1 && *id != 987_654_321),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|(id, _)| *id == ended),
        "the ended row is back"
    );
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
    assert_eq!(
        after["catalog"]["refreshed_at_ms"],
        before["catalog"]["refreshed_at_ms"]
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(list_calls(&sim).await, calls, "the restart listed again");
}

/// Attack 7: bad input never answers 500, bad values answer 400 with the envelope, and nothing
/// lists upstream.
#[tokio::test]
async fn bad_paging_input_never_fails_the_server_or_lists() {
    let sim = start_sim(VersionProfile::V88, 12).await;
    let console = start_console(&catalog_config(&sim, QUIET)).await;
    let (_, all) = console.get("/api/clusters/test/backups").await;
    let total = sets_of(&all).len();
    let calls = list_calls(&sim).await;
    let mut problems = Vec::new();
    for (query, expect) in [
        ("page=18446744073709551615", 200),
        ("page=18446744073709551616", 400),
        ("page=-1", 400),
        ("page=1.5", 400),
        ("per_page=500&page=18446744073709551615", 200),
        ("per_page=18446744073709551615", 400),
        ("per_page=", 400),
        ("page=", 400),
        ("verdict=", 400),
        ("verdict=Restorable", 400),
        ("verdict=restorable&verdict=unknown", 400),
        ("page=1&page=2", 400),
        ("sort=oldest&sort=newest", 400),
        ("q=abc", 200),
        ("q=%E2%91%A0%D9%A1", 200),
        ("q=1'%20OR%201=1--", 200),
        ("q=%25", 200),
        ("q=%00", 200),
        ("nope=1", 400),
    ] {
        let path = format!("/api/clusters/test/backups?{query}");
        let (status, body) = console.get(&path).await;
        if status != expect {
            problems.push(format!("{query}: {status} (expected {expect}) {body}"));
        } else if status == 400 && body["error"]["code"].as_str().is_none() {
            problems.push(format!("{query}: 400 without the envelope: {body}"));
        } else if status == 200 && body["page"] != body["pages"] && query.starts_with("page=18") {
            problems.push(format!("{query}: not clamped to the last page {body}"));
        }
    }
    // A search of a very long run of digits matches nothing, quickly.
    let long = "9".repeat(20_000);
    let (status, body) = console
        .get(&format!("/api/clusters/test/backups?q={long}"))
        .await;
    if status != 200 || body["total"] != 0 {
        problems.push(format!("q=9x20000: {status} total {}", body["total"]));
    }
    // Non-digits are ignored (as the fresh history always did): every set.
    let (_, body) = console
        .get("/api/clusters/test/backups?q=abc&per_page=500")
        .await;
    if body["total"] != total {
        problems.push(format!("q=abc: total {} of {total}", body["total"]));
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(list_calls(&sim).await, calls, "bad input listed upstream");
}

/// Attack 8: the refresh POST's guards: no session 401, no CSRF 403, a body that is not an
/// empty JSON object refused; a viewer may refresh (VIEWER route).
#[tokio::test]
async fn the_refresh_post_is_guarded_and_open_to_viewers() {
    let sim = start_sim(VersionProfile::V88, 5).await;
    let console = start_console(&catalog_config(&sim, QUIET)).await;
    let url = format!("{}/api/clusters/test/catalog/refresh", console.base);
    let s = &console.session;
    let mut problems = Vec::new();
    let client = &console.http;
    let r = client.post(&url).send().await.unwrap();
    if r.status() != 401 {
        problems.push(format!("no session: {}", r.status()));
    }
    let r = client
        .post(&url)
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    if r.status() != 403 {
        problems.push(format!("no csrf: {}", r.status()));
    }
    let r = client
        .post(&url)
        .header("cookie", &s.cookie)
        .header("x-csrf-token", "wrong")
        .send()
        .await
        .unwrap();
    if r.status() != 403 {
        problems.push(format!("wrong csrf: {}", r.status()));
    }
    for (ctype, body) in [
        ("application/json", "{\"force\": true}"),
        ("application/json", "[1]"),
        ("application/json", "{"),
        ("text/plain", "hello"),
    ] {
        let r = client
            .post(&url)
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        if !(400..500).contains(&status) {
            problems.push(format!("{ctype} {body}: {status}"));
        }
    }
    let viewer = console.session_for("viewer").await;
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/catalog/refresh",
            Some(&viewer),
            None,
        )
        .await;
    if status != 200 {
        problems.push(format!("viewer refresh: {status} {body}"));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Attack 9: a component answering its listing with garbage (the simulator's malformed body, a
/// dropped connection): that component is unknown with an error, the others are as listed,
/// nothing is restorable, the last good time is kept, and the next good listing clears it.
#[tokio::test]
async fn a_garbage_listing_makes_that_component_unknown_and_nothing_else() {
    let sim = start_sim(VersionProfile::V88, 15).await;
    let console = start_console(&catalog_config(&sim, QUIET)).await;
    let (_, good) = console
        .fresh_get("/api/clusters/test/backups?per_page=50")
        .await;
    let listed = |h: &Value, c: &str| {
        h["catalog"]["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["component"] == c)
            .cloned()
            .unwrap()
    };
    let mut good_time = listed(&good, "optimize")["listed_at_ms"].clone();
    assert!(good_time.as_i64().is_some());
    for action in [json!({"kind": "malformed"}), json!({"kind": "drop"})] {
        control(
            &sim,
            "/sim/faults",
            json!({"component": "optimize", "operation": "list", "count": 1, "action": action}),
        )
        .await;
        let (status, body) = console.refresh_catalog().await;
        assert_eq!(status, 200, "{action}: {body}");
        let (status, bad) = console.get("/api/clusters/test/backups?per_page=50").await;
        assert_eq!(status, 200, "{action}: {bad}");
        let o = listed(&bad, "optimize");
        assert!(
            o["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{action}: {o}"
        );
        assert_eq!(o["listed_at_ms"], good_time, "{action}: the last good time");
        assert!(listed(&bad, "zeebe")["error"].is_null(), "{action}");
        assert_eq!(
            bad["component_errors"].as_array().unwrap().len(),
            1,
            "{action}: {bad}"
        );
        assert_eq!(bad["counts"]["restorable"], 0, "{action}");
        assert!(bad["latest_restorable"].is_null(), "{action}");
        for (set, before) in sets_of(&bad).iter().zip(sets_of(&good).iter()) {
            assert_eq!(
                part(set, "optimize").unwrap()["state"],
                "unknown",
                "{action}"
            );
            assert_eq!(
                part(set, "zeebe"),
                part(before, "zeebe"),
                "{action}: zeebe as listed"
            );
        }
        let (_, again) = console
            .fresh_get("/api/clusters/test/backups?per_page=50")
            .await;
        assert!(listed(&again, "optimize")["error"].is_null(), "{action}");
        assert_eq!(again["counts"], good["counts"], "{action}");
        assert_eq!(sets_of(&again), sets_of(&good), "{action}");
        good_time = listed(&again, "optimize")["listed_at_ms"].clone();
    }
}

/// A fake Optimize whose listing answers whatever `body` says (other calls: `{}`).
async fn fake_optimize(body: Arc<std::sync::Mutex<Vec<u8>>>) -> String {
    use axum::routing::get;
    let app = axum::Router::new().fallback(get(move || {
        let body = body.lock().unwrap().clone();
        async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

/// Attack 10: an Optimize answering a non-array, an array of garbage elements, a truncated
/// array, or an answer over the listing cap: Optimize unknown with an error, no panic, no 500.
#[tokio::test]
async fn an_optimize_answering_nonsense_reads_unknown() {
    let sim = start_sim(VersionProfile::V88, 10).await;
    let body = Arc::new(std::sync::Mutex::new(b"[]".to_vec()));
    let url = fake_optimize(body.clone()).await;
    let real = sim.endpoints.optimize.clone().unwrap();
    let cluster = sim.endpoints.console_config("test").replace(&real, &url);
    assert!(cluster.contains(&url));
    let console = start_console(&format!(
        "[upstream]\nmax_listing_bytes = 1000000\n[catalog]\n{QUIET}\n{cluster}"
    ))
    .await;
    let (status, baseline) = console
        .fresh_get("/api/clusters/test/backups?per_page=50")
        .await;
    assert_eq!(status, 200, "{baseline}");
    let huge = {
        let mut s = String::from("[");
        let mut i = 0u64;
        while s.len() < 3_000_000 {
            i += 1;
            s.push_str(&format!(
                "{{\"backupId\":{i},\"state\":\"COMPLETED\",\"failureReason\":null,\"details\":[]}},"
            ));
        }
        s.push_str("{\"backupId\":0}]");
        s
    };
    let mut problems = Vec::new();
    for (label, answer) in [
        ("object", "{\"backups\": 7}".to_string()),
        ("number", "42".to_string()),
        ("null", "null".to_string()),
        (
            "garbage elements",
            "[1, \"x\", {\"backupId\": \"no\"}]".to_string(),
        ),
        (
            "negative id",
            "[{\"backupId\": -5, \"state\": \"COMPLETED\"}]".to_string(),
        ),
        (
            "truncated",
            "[{\"backupId\": 1, \"state\": \"COMP".to_string(),
        ),
        ("trailing garbage", "[] trailing".to_string()),
        ("over the cap", huge),
    ] {
        *body.lock().unwrap() = answer.into_bytes();
        let (status, r) = console.refresh_catalog().await;
        if status != 200 {
            problems.push(format!("{label}: refresh {status} {r}"));
            continue;
        }
        let (status, h) = console.get("/api/clusters/test/backups?per_page=50").await;
        if status != 200 {
            problems.push(format!("{label}: page {status} {h}"));
            continue;
        }
        let optimize_error = h["component_errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["component"] == "optimize"));
        if !optimize_error {
            problems.push(format!(
                "{label}: no optimize error; errors {} counts {}",
                h["component_errors"], h["counts"]
            ));
        }
        if h["counts"]["restorable"] != 0 {
            problems.push(format!("{label}: restorable sets {}", h["counts"]));
        }
        if ids(&sets_of(&h)) != ids(&sets_of(&baseline)) {
            problems.push(format!("{label}: other components' sets changed"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Attack 11: the detail endpoint reads fresh, whatever the catalog says.
#[tokio::test]
async fn the_detail_reads_fresh_while_the_catalog_is_stale() {
    let sim = start_sim(VersionProfile::V88, 8).await;
    let console = start_console(&catalog_config(&sim, QUIET)).await;
    let (_, h) = console.get("/api/clusters/test/backups").await;
    let id = ids(&sets_of(&h))[0];
    let _ = reqwest::Client::new()
        .delete(zeebe_url(&sim, id))
        .send()
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, stale) = console.get("/api/clusters/test/backups").await;
    assert_eq!(
        set(&stale, id)["verdict"],
        set(&h, id)["verdict"],
        "the catalog is stale"
    );
    let (status, detail) = console
        .get(&format!("/api/clusters/test/backups/{id}"))
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_ne!(detail["set"]["verdict"], "restorable", "{detail}");
    assert_eq!(
        component(&detail["set"], "zeebe")["state"],
        "missing",
        "{detail}"
    );
}

/// Attack 12: a console restarted on the same database with the cluster's configuration
/// changed (here: pointed at another Camunda under the same name) must not serve the catalog
/// listed from the old one.
#[tokio::test]
async fn a_restart_pointing_the_cluster_elsewhere_does_not_serve_the_old_catalog() {
    let old = start_sim(VersionProfile::V88, 10).await;
    let new = start_sim(VersionProfile::V88, 25).await;
    let (auth, _) = auth_section("");
    let text = |sim: &SimCluster| {
        format!(
            "{auth}[catalog]\n\n{}",
            sim.endpoints.console_config("test")
        )
    };
    let first = start_console_with(&text(&old)).await;
    let (status, before) = first.get("/api/clusters/test/backups").await;
    assert_eq!(status, 200, "{before}");
    drop(first);
    let second = start_console_with(&text(&new)).await;
    let (status, after) = second.get("/api/clusters/test/backups").await;
    assert_eq!(status, 200, "{after}");
    let fresh = serde_json::to_value(fresh_merge(&new).await).unwrap();
    assert_eq!(
        ids(&sets_of(&after)),
        ids(&sets_of(&fresh)),
        "the first page after the restart shows the other cluster's backups ({} sets, the new cluster has {})",
        sets_of(&after).len(),
        sets_of(&fresh).len()
    );
}

/// Attack 13: the same with a component added to the configuration (Optimize deployed): the
/// catalog listed without it must not be served as the history of the new configuration.
#[tokio::test]
async fn a_restart_with_a_component_added_does_not_serve_a_catalog_without_it() {
    let sim = start_sim(VersionProfile::V88, 10).await;
    let full = sim.endpoints.console_config("test");
    let optimize = format!(
        "\n[clusters.optimize]\nurl = \"{}\"\n",
        sim.endpoints.optimize.as_ref().unwrap()
    );
    assert!(full.contains(&optimize), "{full}");
    let without = full.replace(&optimize, "\n");
    let (auth, _) = auth_section("");
    let first = start_console_with(&format!("{auth}[catalog]\n\n{without}")).await;
    let (status, before) = first.get("/api/clusters/test/backups").await;
    assert_eq!(status, 200, "{before}");
    assert!(
        !before["components"]
            .as_array()
            .unwrap()
            .contains(&json!("optimize"))
    );
    drop(first);
    let second = start_console_with(&format!("{auth}[catalog]\n\n{full}")).await;
    let (status, after) = second.get("/api/clusters/test/backups").await;
    assert_eq!(status, 200, "{after}");
    assert!(
        after["components"]
            .as_array()
            .unwrap()
            .contains(&json!("optimize")),
        "the configured Optimize is missing from the history: components {}",
        after["components"]
    );
}

/// Attack 14 (slow, about 70 s): a refresh whose listing outlasts the lease (`LEASE_MS`, 60 s;
/// the catalog's own doc says a web-apps listing of thousands of snapshots takes a minute) is
/// still alive, yet a second console sharing the database takes the cluster over and the live
/// refresh fails. Correct: the live refresher keeps its claim; the other answers at once.
#[tokio::test]
async fn a_listing_longer_than_the_lease_is_not_taken_over_by_another_console() {
    let sim = start_sim(VersionProfile::V88, 10).await;
    let (auth, _) = auth_section("");
    let text = format!(
        "{auth}[upstream]\nlisting_timeout_secs = 300\n[catalog]\n{QUIET}\n{}",
        sim.endpoints.console_config("test")
    );
    let a = Arc::new(start_console_with(&text).await);
    let b = Arc::new(start_console_with(&text).await);
    let (status, _) = a.get("/api/clusters/test/backups").await;
    assert_eq!(status, 200);
    let mut slow = fast_timings();
    slow.webapps_list_ms = 63_000;
    control(&sim, "/sim/settings", json!({ "timings": slow })).await;
    let a_refresh = {
        let a = a.clone();
        tokio::spawn(async move { a.refresh_catalog().await })
    };
    tokio::time::sleep(Duration::from_millis(61_500)).await;
    let b_refresh = {
        let b = b.clone();
        tokio::spawn(async move { b.refresh_catalog().await })
    };
    let b_quick = tokio::time::timeout(Duration::from_secs(5), b_refresh).await;
    let (a_status, a_body) = a_refresh.await.unwrap();
    let b_result: Option<(u16, Value)> = b_quick.ok().map(|r| r.unwrap());
    let b_ok = matches!(&b_result, Some((200, body)) if body["refreshed"] == false);
    let b_answer = match &b_result {
        Some((status, body)) => format!("answered {status} {body}"),
        None => "no answer within 5 s: it took the lease over and lists itself".to_string(),
    };
    assert!(
        b_ok,
        "console b, while a is still listing: {b_answer}; console a's live refresh answered {a_status} {a_body}"
    );
    assert_eq!(
        (a_status, &a_body["refreshed"]),
        (200, &json!(true)),
        "console a's live refresh: {a_body}"
    );
}

/// Attack 15: a console shut down (gracefully: `CatalogService::shutdown`) while its refresh
/// lists leaves its claim behind: the next console (a restart) cannot list for `LEASE_MS`.
/// Correct: a refresh given up on releases its claim, so the restart lists at once.
#[tokio::test]
async fn a_refresh_dropped_at_shutdown_does_not_block_the_restart() {
    use backup_console::catalog::CatalogService;
    use backup_console::clock::Clock;
    use backup_console::store::Store;
    let sim = start_sim(VersionProfile::V88, 10).await;
    let (auth, path) = auth_section("");
    let text = format!("{auth}{}", sim.endpoints.console_config("test"));
    let config = Config::parse(&text, "t", &|_| None).unwrap();
    let clusters = Clusters::from_config(&config).unwrap();
    let mut slow = fast_timings();
    slow.webapps_list_ms = 5_000;
    control(&sim, "/sim/settings", json!({ "timings": slow })).await;
    let store = Store::open(&path).unwrap();
    // Its keeper refreshes at once (nothing listed yet) and lists for 5 s.
    let first = CatalogService::start(&clusters, store.clone(), config.catalog, Clock::System);
    tokio::time::sleep(Duration::from_millis(800)).await;
    first.shutdown().await;
    drop(first);
    control(&sim, "/sim/settings", json!({ "timings": fast_timings() })).await;
    let restarted = std::sync::Arc::new(CatalogService::new(
        &clusters,
        Store::open(&path).unwrap(),
        config.catalog,
        Clock::System,
    ));
    let listed = restarted.refresh("test").await;
    assert!(
        matches!(listed, Ok(true)),
        "the restarted console's refresh: {listed:?} (the stopped one's claim still holds)"
    );
}

/// Attack 16: the paged list's ETag: a client's If-None-Match gets 304 while nothing changed,
/// and never once the catalog changed.
#[tokio::test]
async fn the_etag_changes_with_the_catalog_and_only_then() {
    let sim = start_sim(VersionProfile::V88, 12).await;
    let console = start_console(&catalog_config(&sim, QUIET)).await;
    let url = format!("{}/api/clusters/test/backups?per_page=5", console.base);
    let get = |tag: Option<String>| {
        let mut r = console
            .http
            .get(&url)
            .header("cookie", &console.session.cookie);
        if let Some(t) = tag {
            r = r.header("if-none-match", t);
        }
        async move {
            let r = r.send().await.unwrap();
            let tag = r
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), tag)
        }
    };
    // Steady first: the first listing and status round done (a page read while either is under
    // way says so, and its tag rightly differs from the next one's).
    assert_eq!(console.refresh_catalog().await.0, 200);
    let (status, tag) = get(None).await;
    assert_eq!(status, 200);
    let tag = tag.expect("an etag");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(get(Some(tag.clone())).await.0, 304, "nothing changed");
    // A change upstream, refreshed.
    take_backup(&sim, u64::from(u32::MAX), &["zeebe", "webapps", "optimize"]).await;
    settle().await;
    console.refresh_catalog().await;
    let (changed, new_tag) = get(Some(tag.clone())).await;
    assert_eq!(
        changed, 200,
        "the catalog changed: the old tag must not match"
    );
    assert_ne!(new_tag.as_deref(), Some(tag.as_str()));
}

/// Attack 17: a Refresh clicked after a change upstream, while an earlier refresh (begun before
/// the change) is still listing, waits for that refresh and answers `refreshed: true` with a
/// catalog that lacks the change. Correct: what a Refresh answers was listed after it was asked.
#[tokio::test]
async fn a_refresh_asked_after_a_change_shows_the_change() {
    let sim = start_sim(VersionProfile::V88, 10).await;
    let console = Arc::new(start_console(&catalog_config(&sim, QUIET)).await);
    let (status, _) = console.get("/api/clusters/test/backups").await;
    assert_eq!(status, 200);
    let mut slow = fast_timings();
    slow.webapps_list_ms = 2_000;
    control(&sim, "/sim/settings", json!({ "timings": slow })).await;
    // Someone's refresh: Zeebe is listed at once, the web apps take 2 s.
    let earlier = {
        let console = console.clone();
        tokio::spawn(async move { console.refresh_catalog().await })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    // An operator takes a backup (Zeebe part), then clicks Refresh.
    let id = u64::from(u32::MAX);
    take_backup(&sim, id, &["zeebe"]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !earlier.is_finished(),
        "the earlier refresh is still listing"
    );
    let (status, answer) = console.refresh_catalog().await;
    assert_eq!(status, 200, "{answer}");
    earlier.await.unwrap();
    let fresh = fresh_merge(&sim).await;
    assert!(
        fresh.sets.iter().any(|s| s.backup_id == id),
        "upstream has it"
    );
    let (_, page) = console.get("/api/clusters/test/backups?per_page=5").await;
    assert!(
        ids(&sets_of(&page)).contains(&id),
        "the Refresh answered {answer} but the catalog lacks {id}: {:?}",
        ids(&sets_of(&page))
    );
}

/// Attack 18: a second console on the same (new) database, opened while the first one makes
/// the very first listing, answers its viewers' first page (waits, or serves once published)
/// rather than an error.
#[tokio::test]
async fn a_second_console_during_the_first_listing_answers_its_first_page() {
    let sim = start_sim(VersionProfile::V88, 10).await;
    let mut slow = fast_timings();
    slow.webapps_list_ms = 1_500;
    control(&sim, "/sim/settings", json!({ "timings": slow })).await;
    let (text, _) = shared_config(&sim, QUIET);
    let a = start_console_with(&text).await;
    // a's keeper lists at once (nothing listed yet).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = start_console_with(&text).await;
    let (status, body) = b.get("/api/clusters/test/backups?per_page=5").await;
    drop(a);
    assert_eq!(status, 200, "{body}");
}

/// Attack 19: a component failing on the very first listing: no listed time, its error, every
/// set unknown in it, nothing restorable.
#[tokio::test]
async fn a_component_failing_the_first_listing_ever_reads_unknown() {
    let sim = start_sim(VersionProfile::V88, 8).await;
    control(
        &sim,
        "/sim/faults",
        json!({"component": "webapps", "operation": "list", "count": 1,
               "action": {"kind": "status", "status": 503}}),
    )
    .await;
    let console = start_console(&catalog_config(&sim, QUIET)).await;
    let (status, h) = console.get("/api/clusters/test/backups?per_page=50").await;
    assert_eq!(status, 200, "{h}");
    let webapps = h["catalog"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "webapps")
        .cloned()
        .unwrap();
    assert!(webapps["listed_at_ms"].is_null(), "{webapps}");
    assert!(webapps["error"].as_str().is_some(), "{webapps}");
    assert_eq!(h["counts"]["restorable"], 0, "{h}");
    assert!(!sets_of(&h).is_empty());
    for set in sets_of(&h) {
        assert_eq!(part(&set, "webapps").unwrap()["state"], "unknown", "{set}");
    }
}

/// Attack 20: while a refresh hangs on one component, pages are answered at once from the
/// catalog, with `refreshing: true`.
#[tokio::test]
async fn pages_answer_at_once_while_a_refresh_hangs() {
    let sim = start_sim(VersionProfile::V88, 8).await;
    let console = Arc::new(start_console(&catalog_config(&sim, QUIET)).await);
    let (_, before) = console.get("/api/clusters/test/backups?per_page=50").await;
    let mut t = fast_timings();
    t.hang_ms = 4_000;
    control(&sim, "/sim/settings", json!({ "timings": t })).await;
    control(
        &sim,
        "/sim/faults",
        json!({"component": "optimize", "operation": "list", "count": 1,
               "action": {"kind": "hang"}}),
    )
    .await;
    let hanging = {
        let console = console.clone();
        tokio::spawn(async move { console.refresh_catalog().await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let (status, during) = console.get("/api/clusters/test/backups?per_page=50").await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{during}");
    assert!(
        took < Duration::from_secs(1),
        "a page took {took:?} during a refresh"
    );
    assert_eq!(sets_of(&during), sets_of(&before));
    assert_eq!(
        during["catalog"]["refreshing"], true,
        "{}",
        during["catalog"]
    );
    let (status, _) = hanging.await.unwrap();
    assert!(status == 200 || status >= 500);
}

/// Attack 21: a run made through one console shows in the other console sharing the database,
/// without a Refresh click.
#[tokio::test]
async fn a_run_on_one_console_shows_on_the_other_without_a_click() {
    let sim = start_sim(VersionProfile::V88, 3).await;
    let (text, _) = shared_config(&sim, "refresh_secs = 3600\nidle_refresh_secs = 3600");
    let a = start_console_with(&text).await;
    let b = start_console_with(&text).await;
    let (status, _) = b.get("/api/clusters/test/backups").await;
    assert_eq!(status, 200);
    let (status, run) = a
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&a.session),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let id = run["backup_id"].as_u64().unwrap();
    eventually(Duration::from_secs(25), || async {
        let (_, h) = b.get("/api/clusters/test/backups?per_page=5").await;
        sets_of(&h)
            .into_iter()
            .find(|s| s["backup_id"] == id && s["verdict"] == "restorable")
    })
    .await;
}

/// Attack 22: backup IDs at the edges (1 and `i64::MAX`, as Zeebe's Java `long` allows) sort,
/// search and count as the fresh merge does.
#[tokio::test]
async fn extreme_backup_ids_page_as_the_fresh_merge() {
    let sim = start_sim(VersionProfile::V87, 20).await;
    let console = start_console(&catalog_config(&sim, QUIET)).await;
    let max = i64::MAX as u64;
    for id in [max - 1, max] {
        take_backup(&sim, id, &["zeebe", "operate", "tasklist", "optimize"]).await;
        settle().await;
    }
    let (status, body) = console.refresh_catalog().await;
    assert_eq!(status, 200, "{body}");
    let fresh = fresh_merge(&sim).await;
    assert!(
        fresh.sets.iter().any(|s| s.backup_id == max),
        "upstream took {max}"
    );
    compare_with(&console, &fresh, "extreme IDs").await;
    let (_, h) = console
        .get(&format!("/api/clusters/test/backups?q={max}"))
        .await;
    assert_eq!(ids(&sets_of(&h)), vec![max], "{h}");
}

/// Attack 23: two clusters in one console: each catalog is its own cluster's fresh merge, and
/// changing or failing one leaves the other alone.
#[tokio::test]
async fn two_clusters_catalogs_stay_apart() {
    let one = start_sim(VersionProfile::V88, 12).await;
    let two = start_sim(VersionProfile::V87, 30).await;
    let console = start_console(&format!(
        "[catalog]\n{QUIET}\n{}\n{}",
        one.endpoints.console_config("test"),
        two.endpoints.console_config("other")
    ))
    .await;
    let fresh_other = || async {
        let v = serde_json::to_value(fresh_merge_of(&two.endpoints.console_config("test")).await)
            .unwrap();
        sets_of(&v)
    };
    let (status, other_before) = console.get("/api/clusters/other/backups").await;
    assert_eq!(status, 200, "{other_before}");
    assert_eq!(sets_of(&other_before), fresh_other().await);
    take_backup(&one, u64::from(u32::MAX), &["zeebe", "webapps", "optimize"]).await;
    settle().await;
    control(
        &one,
        "/sim/faults",
        json!({"component": "optimize", "operation": "list", "count": 1,
               "action": {"kind": "status", "status": 500}}),
    )
    .await;
    let (status, _) = console.refresh_catalog().await;
    assert_eq!(status, 200);
    let (_, test_now) = console.get("/api/clusters/test/backups").await;
    assert!(ids(&sets_of(&test_now)).contains(&u64::from(u32::MAX)));
    let (_, other_after) = console.get("/api/clusters/other/backups").await;
    assert_eq!(sets_of(&other_after), sets_of(&other_before));
    assert!(
        other_after["component_errors"]
            .as_array()
            .is_none_or(|e| e.is_empty()),
        "{}",
        other_after["component_errors"]
    );
    let (_, other_page) = console
        .get("/api/clusters/other/backups?per_page=7&page=2&sort=oldest")
        .await;
    let mut expected = fresh_other().await;
    expected.reverse();
    assert_eq!(sets_of(&other_page), expected[7..14].to_vec());
}
