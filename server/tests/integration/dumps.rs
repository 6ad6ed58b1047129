//! Database dumps as steps of a run (`[[clusters.databases]]`), against a real PostgreSQL that
//! the testkit starts once for the whole binary: the Web Modeler dump is taken after exporting
//! is resumed, verified, listed as a component of its set and deleted by retention with it; a
//! missing `pg_dump` stops the run in the preflight; a refused password fails the step without
//! the password (or the URL) reaching any answer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use reqwest::Method;
use serde_json::{Value, json};

const URL_ENV: &str = "BC_TEST_MODELER_DB";

async fn postgres() -> &'static postgres::Postgres {
    tokio::task::spawn_blocking(postgres::server)
        .await
        .expect("the PostgreSQL harness starts")
}

fn dump_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bc-dumps-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dump dir");
    dir
}

/// The simulator's cluster `test` with a Web Modeler database and `extra` keys under it, the
/// URL in `URL_ENV`.
async fn console_with_dump(
    sim: &camunda_sim::SimCluster,
    url: &str,
    dir: &Path,
    extra: &str,
) -> Console {
    let (auth, _) = auth_section("");
    let text = format!(
        "{auth}[catalog]\nmin_refresh_gap_secs = 0\n{}\n[[clusters.databases]]\nname = \"web-modeler\"\nurl_env = \"{URL_ENV}\"\ndirectory = {:?}\n{extra}",
        sim.endpoints.console_config("test"),
        dir.display().to_string(),
    );
    let url = url.to_string();
    start_console_with_env(&text, &move |key| (key == URL_ENV).then(|| url.clone())).await
}

async fn start_run(console: &Console) -> (u16, Value) {
    console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({})),
        )
        .await
}

async fn run_ends(console: &Console, run_id: i64) -> Value {
    eventually(Duration::from_secs(30), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] != "running").then_some(run)
    })
    .await
}

/// Starts a run and waits for its end.
async fn one_run(console: &Console) -> (u64, Value) {
    let (status, started) = start_run(console).await;
    assert_eq!(status, 202, "{started}");
    let run = run_ends(console, started["run_id"].as_i64().expect("run id")).await;
    (started["backup_id"].as_u64().expect("backup id"), run)
}

fn sha256_of(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_run_dumps_web_modeler_after_the_resume_verified_listed_and_deleted_with_its_set() {
    let pg = postgres().await;
    let sim = start_sim(VersionProfile::V88, 0).await;
    let dir = dump_dir("run");
    // Retention keeps the newest set only.
    let retention = "\n[clusters.retention]\nkeep_last = 1\nmin_restorable = 1\n";
    let console = console_with_dump(&sim, &pg.url, &dir, retention).await;

    let (older, run) = one_run(&console).await;
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
    let steps = run["report"]["steps"].as_array().expect("steps");
    let dump_at = steps
        .iter()
        .position(|s| {
            s["description"]
                .as_str()
                .unwrap_or_default()
                .contains("Web Modeler")
        })
        .unwrap_or_else(|| panic!("no dump step in {run}"));
    let resume_at = steps
        .iter()
        .position(|s| {
            s["description"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .contains("resume")
        })
        .unwrap_or_else(|| panic!("no resume step in {run}"));
    assert!(dump_at > resume_at, "the dump follows the resume: {run}");
    let detail = steps[dump_at]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(" bytes, sha256 "), "{detail}");
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);

    // The file is where the README says, a valid custom-format archive of the seeded table.
    let file = dir
        .join("test")
        .join(older.to_string())
        .join("web-modeler.dump");
    let meta = std::fs::metadata(&file).expect("the dump file exists");
    let size = meta.len();
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "the dump is private"
        );
        let set_dir = std::fs::metadata(file.parent().expect("set dir")).expect("set dir");
        assert_eq!(set_dir.permissions().mode() & 0o777, 0o700);
    }
    let listed = std::process::Command::new(pg.pg_restore())
        .arg("--list")
        .arg(&file)
        .output()
        .expect("pg_restore runs");
    assert!(listed.status.success());
    let toc = String::from_utf8_lossy(&listed.stdout);
    assert!(toc.contains("TABLE DATA public diagrams"), "{toc}");
    let sha = sha256_of(&file);
    assert_eq!(sha.len(), 64);
    assert!(
        detail.contains(&format!("{size} bytes, sha256 {}", &sha[..12])),
        "{detail}"
    );
    assert!(
        !dir.join("test")
            .join(older.to_string())
            .join("web-modeler.dump.partial")
            .exists()
    );

    // The set's detail carries the dump, as its manifest recorded it.
    let (status, set) = console
        .get(&format!("/api/clusters/test/backups/{older}"))
        .await;
    assert_eq!(status, 200, "{set}");
    let dump = component(&set["set"], "web_modeler_dump");
    assert_eq!(dump["state"], "completed", "{set}");
    assert_eq!(dump["dump"]["sha256"], sha.as_str());
    assert_eq!(dump["dump"]["size_bytes"], size);
    assert_eq!(set["set"]["verdict"], "restorable", "{set}");

    // A second run, so that the first set is not the newest restorable one.
    let (newer, run) = one_run(&console).await;
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    let listed = component(set_of(&history, older), "web_modeler_dump");
    assert_eq!(listed["state"], "completed", "{history}");
    assert!(
        history["components"]
            .as_array()
            .is_some_and(|c| c.contains(&json!("web_modeler_dump")))
    );

    let (status, started) = console
        .call(
            Method::POST,
            "/api/clusters/test/cleanups",
            Some(&console.session),
            Some(json!({"delete": [older], "selected": [], "confirm": 1, "acknowledge_warning": true})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let cleanup_id = started["cleanup_id"].as_i64().expect("cleanup id");
    let view = eventually(Duration::from_secs(20), || async {
        let (_, view) = console.get(&format!("/api/cleanups/{cleanup_id}")).await;
        (view["report"].is_object() && view["report"]["outcome"] != "running").then_some(view)
    })
    .await;
    let items = view["report"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let dump_item = items
        .iter()
        .find(|i| i["artifact"]["component"] == "web_modeler_dump")
        .unwrap_or_else(|| panic!("the cleanup deletes the dump: {view}"));
    assert_eq!(dump_item["state"], "deleted", "{view}");
    assert!(!file.exists(), "retention removed the dump");
    assert!(!dir.join("test").join(older.to_string()).exists());
    assert!(
        dir.join("test")
            .join(newer.to_string())
            .join("web-modeler.dump")
            .exists()
    );

    // Neither the URL nor its password reached an answer.
    let (_, audit) = console.get("/api/audit?cluster=test").await;
    let (_, clusters) = console.get("/api/clusters").await;
    for answer in [&run, &set, &history, &view, &audit, &clusters] {
        let text = answer.to_string();
        assert!(!text.contains(postgres::ROLE_PASSWORD), "{text}");
        assert!(!text.contains(&pg.url), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn set_of(history: &Value, id: u64) -> &Value {
    set(history, id)
}

#[tokio::test]
async fn a_missing_pg_dump_is_a_preflight_failure_naming_the_fix() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let dir = dump_dir("missing");
    let console = console_with_dump(
        &sim,
        "postgres://modeler:unused@127.0.0.1:1/modeler",
        &dir,
        "pg_dump = \"/nonexistent/bin/pg_dump\"\n",
    )
    .await;
    let (status, preflight) = console.get("/api/clusters/test/preflight").await;
    assert_eq!(status, 200, "{preflight}");
    let check = preflight["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["component"] == "web_modeler_dump"))
        .unwrap_or_else(|| panic!("no dump check: {preflight}"))
        .clone();
    assert_eq!(check["status"], "fail", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("/nonexistent/bin/pg_dump"),
        "{check}"
    );
    let fix = check["fix"].as_str().unwrap_or_default();
    assert!(fix.contains("apt-get install postgresql-client"), "{fix}");
    assert!(fix.contains("[[clusters.databases]] pg_dump"), "{fix}");

    let (status, refused) = start_run(&console).await;
    assert!((400..500).contains(&status), "{status} {refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("postgresql-client"),
        "{refused}"
    );
    // Nothing was started: exporting never paused, no run holds the cluster.
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_refused_password_stops_the_run_at_the_preflight_without_the_password() {
    // The preflight connects (pg_dump of a table that does not exist): a password the database
    // refuses stops the run before exporting is paused, not after the backup at the dump step.
    let pg = postgres().await;
    let sim = start_sim(VersionProfile::V88, 0).await;
    let dir = dump_dir("password");
    let wrong = "Wrong-Pass-9c1e77";
    let url = pg.url_with_password(wrong);
    let console = console_with_dump(&sim, &url, &dir, "").await;
    let (status, preflight) = console.get("/api/clusters/test/preflight").await;
    assert_eq!(status, 200, "{preflight}");
    let check = preflight["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["component"] == "web_modeler_dump"))
        .unwrap_or_else(|| panic!("no dump check: {preflight}"))
        .clone();
    assert_eq!(check["status"], "fail", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("password authentication failed"),
        "{check}"
    );
    let (status, refused) = start_run(&console).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "preflight_failed", "{refused}");
    // Nothing was started: exporting never paused, and no dump or partial file exists.
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    assert!(
        !dir.join("test").exists()
            || std::fs::read_dir(dir.join("test"))
                .map(|d| d.count())
                .unwrap_or(0)
                == 0
    );
    let (_, audit) = console.get("/api/audit?cluster=test").await;
    for answer in [&preflight, &refused, &audit] {
        let text = answer.to_string();
        assert!(!text.contains(wrong), "{text}");
        assert!(!text.contains(&url), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_rdbms_run_dumps_the_secondary_storage_before_the_zeebe_backup() {
    use backup_console::procedure::runner::{CancelSignal, RunOutcome, initial_report, run};
    use backup_domain::Component;
    use backup_domain::api::SecondaryStorage;
    use backup_domain::procedure::{ProcedureStep, plan_for};

    let pg = postgres().await;
    let mut sim_config = camunda_sim::SimConfig::rdbms(None);
    sim_config.timings = fast_timings();
    let sim = camunda_sim::SimCluster::start(sim_config)
        .await
        .expect("simulator starts");
    let dir = dump_dir("rdbms");
    let text = sim.endpoints.console_config("t");
    let text = format!(
        "{text}\n[[clusters.databases]]\nname = \"rdbms\"\nurl_env = \"{URL_ENV}\"\ndirectory = {:?}\n",
        dir.display().to_string()
    );
    let url = pg.url.clone();
    let config = backup_console::config::Config::parse(&text, "t", &move |k| {
        (k == URL_ENV).then(|| url.clone())
    })
    .expect("config parses");
    let clusters = backup_console::cluster::Clusters::from_config(&config).expect("clients");
    let cluster = clusters.get("t").expect("cluster t").clone();
    let plan = plan_for(
        cluster.profile,
        SecondaryStorage::Rdbms,
        &cluster.components(),
    );
    assert_eq!(
        plan.steps[0],
        ProcedureStep::DumpDatabase(Component::RdbmsDump)
    );
    let id = 4242;
    let (tx, _rx) = tokio::sync::watch::channel(initial_report(&plan, id));
    let report = run(
        cluster.clone(),
        plan,
        id,
        backup_console::procedure::runner::RunSettings::default(),
        CancelSignal::never(),
        tx,
        None,
    )
    .await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{:?}", report.steps);
    let dump = &report.steps[0];
    let zeebe = report
        .steps
        .iter()
        .find(|s| s.step == ProcedureStep::StartZeebe)
        .expect("a Zeebe step");
    assert!(
        dump.ended_ms <= zeebe.started_ms,
        "the dump is taken before the Zeebe backup"
    );
    assert!(report.paused_ms.is_none(), "no pause on RDBMS");
    let file = dir.join("t").join(id.to_string()).join("rdbms.dump");
    assert!(file.exists() && dir.join("t/4242/rdbms.dump.json").exists());

    let history = backup_console::history::history(&cluster).await;
    let set = history
        .sets
        .iter()
        .find(|s| s.backup_id == id)
        .expect("the set is listed");
    let listed = set
        .components
        .iter()
        .find(|c| c.component == Component::RdbmsDump)
        .expect("the dump is a component of the set");
    assert_eq!(listed.state, backup_domain::ComponentState::Completed);

    // A dump whose set is gone from Zeebe is an orphan like any other artifact.
    let orphan = dir.join("t/4000");
    std::fs::create_dir_all(&orphan).expect("orphan dir");
    for name in ["rdbms.dump", "rdbms.dump.json"] {
        std::fs::copy(dir.join("t/4242").join(name), orphan.join(name)).expect("copy");
    }
    let history = backup_console::history::history(&cluster).await;
    let set = history
        .sets
        .iter()
        .find(|s| s.backup_id == 4000)
        .expect("the orphan is listed");
    assert!(set.is_orphan(), "{set:?}");
    assert_ne!(set.verdict, backup_domain::Verdict::Restorable);
    let _ = std::fs::remove_dir_all(&dir);
}
