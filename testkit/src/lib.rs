//! Test harness of the integration tests and the benches: a simulated cluster and a console
//! pointed at it through a configuration file's text, both on real ports, talked to over real
//! HTTP. Dropping a [`Console`] stops its server; dropping the `SimCluster` stops the simulator.

pub mod postgres;

use std::time::{Duration, Instant};

use backup_console::config::Config;
use backup_domain::api::VersionProfile;
use camunda_sim::state::Timings;
use camunda_sim::{SimCluster, SimConfig};
use serde_json::{Value, json};

/// Short durations so that asynchronous states pass in milliseconds.
pub fn fast_timings() -> Timings {
    Timings {
        zeebe_registration_ms: 20,
        zeebe_backup_ms: 150,
        zeebe_checkpoint_ms: 5,
        webapps_part_ms: 25,
        webapps_gap_ms: 10,
        optimize_part_ms: 40,
        optimize_gap_ms: 30,
        records_snapshot_ms: 40,
        incomplete_check_timeout_ms: 300_000,
        async_delete_ms: 20,
        hang_ms: 30_000,
        ..Timings::default()
    }
}

pub async fn start_sim(profile: VersionProfile, seed: usize) -> SimCluster {
    let mut config = SimConfig::new(profile);
    config.timings = fast_timings();
    config.seed_count = seed;
    SimCluster::start(config).await.expect("simulator starts")
}

pub const PASSWORD: &str = "correct horse battery";

/// One Argon2id hash of [`PASSWORD`], computed once per test binary (hashing is slow on purpose).
pub fn password_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| backup_console::auth::password::hash_password(PASSWORD).expect("hash"))
}

/// An `[auth]` section with an admin, an operator and a viewer, all with [`PASSWORD`], and a
/// fresh database file.
pub fn auth_section(extra: &str) -> (String, std::path::PathBuf) {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("bc-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("console.db");
    let mut text = format!(
        "[store]\ndatabase = {:?}\n[auth]\n{extra}",
        db.display().to_string()
    );
    for (user, role) in [
        ("admin", "admin"),
        ("operator", "operator"),
        ("viewer", "viewer"),
    ] {
        text.push_str(&format!(
            "[[auth.users]]\nname = \"{user}\"\npassword_hash = \"{}\"\nrole = \"{role}\"\n",
            password_hash()
        ));
    }
    (text, db)
}

pub struct Console {
    pub base: String,
    pub http: reqwest::Client,
    /// The admin session the plain helpers use.
    pub session: Session,
    /// Where the console's `/metrics` listener answers.
    pub metrics_base: String,
    task: tokio::task::JoinHandle<()>,
    metrics_task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone, Default)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl Drop for Console {
    fn drop(&mut self) {
        self.task.abort();
        self.metrics_task.abort();
    }
}

impl Console {
    /// Logs `user` in at `base` with `client`; returns the cookie pair.
    pub async fn login_at(client: &reqwest::Client, base: &str, user: &str) -> String {
        let r = client
            .post(format!("{base}/api/login"))
            .header("x-requested-with", "backup-console")
            .json(&json!({"username": user, "password": PASSWORD}))
            .send()
            .await
            .expect("console answers");
        assert_eq!(r.status().as_u16(), 200, "login {user}");
        r.headers()["set-cookie"]
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// Asks the console to list the path's cluster again (`POST .../catalog/refresh`, what a
    /// viewer's Refresh does), then GETs `path`: a history read that sees what changed upstream.
    pub async fn fresh_get(&self, path: &str) -> (u16, Value) {
        if let Some(cluster) = path
            .strip_prefix("/api/clusters/")
            .and_then(|rest| rest.split(['/', '?']).next())
        {
            let refresh = format!("/api/clusters/{cluster}/catalog/refresh");
            let (status, body) = self
                .call(
                    reqwest::Method::POST,
                    &refresh,
                    Some(&self.session),
                    Some(serde_json::json!({})),
                )
                .await;
            assert!(status == 200 || status == 404, "{refresh}: {status} {body}");
        }
        self.get(path).await
    }

    /// GET as the logged-in admin.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(&self.session), None)
            .await
    }

    /// Any call, with or without a session; a session's CSRF token goes along.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        session: Option<&Session>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(s) = session {
            request = request
                .header("cookie", &s.cookie)
                .header("x-csrf-token", &s.csrf);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.expect("console answers");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Logs `user` in with [`PASSWORD`]; a user of [`auth_section`] always gets in.
    pub async fn session_for(&self, user: &str) -> Session {
        self.login(user, PASSWORD)
            .await
            .unwrap_or_else(|(status, body)| panic!("{user} logs in: {status} {body}"))
    }

    /// Logs in; `Err((status, body))` when refused.
    pub async fn login(&self, user: &str, password: &str) -> Result<Session, (u16, Value)> {
        let response = self
            .http
            .post(format!("{}/api/login", self.base))
            .header("x-requested-with", "backup-console")
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .expect("console answers");
        let status = response.status().as_u16();
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or_default()
            .to_string();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != 200 {
            return Err((status, body));
        }
        Ok(Session {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap_or_default().to_string(),
        })
    }
}

/// Starts the console on a configuration text, exactly as `serve --config` would read it, with an
/// `[auth]` section added, and logs in as admin.
pub async fn start_console(config_text: &str) -> Console {
    let (auth, _) = auth_section("");
    // A test refreshes the catalog whenever it changed the cluster, however recently it did.
    let catalog = if config_text.contains("[catalog]") {
        ""
    } else {
        "[catalog]\nmin_refresh_gap_secs = 0\n"
    };
    start_console_with(&format!("{auth}{catalog}{config_text}")).await
}

/// Starts the console on a full configuration text (with its own `[auth]`), logged in as admin.
pub async fn start_console_with(full_text: &str) -> Console {
    start_console_with_env(full_text, &|_| None).await
}

/// The same, with the environment variables the configuration names (credentials).
pub async fn start_console_with_env(
    full_text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Console {
    let config = Config::parse(full_text, "test.toml", env).expect("config parses");
    let started = backup_console::web::console_for(
        &config,
        std::path::Path::new("/nonexistent-ui"),
        config.https_only,
    )
    .await
    .expect("console starts");
    let app = started.router.clone();
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let metrics_base = format!("http://{}", metrics_listener.local_addr().expect("addr"));
    let metrics_router = started.metrics_router.clone();
    let metrics_task = tokio::spawn(async move {
        let _ = axum::serve(metrics_listener, metrics_router).await;
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = backup_console::web::serve(listener, app, std::future::pending()).await;
    });
    let mut console = Console {
        base,
        http: reqwest::Client::new(),
        session: Session::default(),
        metrics_base,
        task,
        metrics_task,
    };
    console.session = console
        .login("admin", PASSWORD)
        .await
        .expect("admin logs in");
    console
}

pub async fn console_for(sim: &SimCluster) -> Console {
    start_console(&sim.endpoints.console_config("test")).await
}

/// A POST to one of the simulator's endpoints, returning status and body text.
pub async fn post(url: &str, body: Value) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("sim answers");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

pub async fn control(sim: &SimCluster, path: &str, body: Value) {
    let (status, text) = post(&format!("{}{path}", sim.endpoints.control), body).await;
    assert!(status < 300, "control {path}: {status} {text}");
}

/// Takes a backup through the real APIs of the chosen components, in the documented order.
pub async fn take_backup(sim: &SimCluster, id: u64, components: &[&str]) {
    let e = &sim.endpoints;
    let body = json!({ "backupId": id });
    for c in components {
        let (status, text) = match *c {
            "operate" => {
                post(
                    &format!("{}/actuator/backups", e.operate.as_ref().unwrap()),
                    body.clone(),
                )
                .await
            }
            "tasklist" => {
                post(
                    &format!("{}/actuator/backups", e.tasklist.as_ref().unwrap()),
                    body.clone(),
                )
                .await
            }
            "webapps" => post(&format!("{}/actuator/backupHistory", e.zeebe), body.clone()).await,
            "optimize" => {
                post(
                    &format!("{}/actuator/backups", e.optimize.as_ref().unwrap()),
                    body.clone(),
                )
                .await
            }
            "records" => {
                let url = format!(
                    "{}/_snapshot/camunda/camunda_zeebe_records_backup_{id}?wait_for_completion=true",
                    e.elasticsearch
                );
                let r = reqwest::Client::new()
                    .put(url)
                    .json(&json!({"indices": "zeebe-record*"}))
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.text().await.unwrap_or_default())
            }
            "zeebe" => {
                let path = if e.operate.is_some() {
                    "backups"
                } else {
                    "backupRuntime"
                };
                post(&format!("{}/actuator/{path}", e.zeebe), body.clone()).await
            }
            other => panic!("unknown component {other}"),
        };
        assert!(status < 300, "{c} take {id}: {status} {text}");
    }
}

/// Waits until every part of the last backup has finished: the web apps take one backup at a
/// time and refuse another meanwhile (contract §5.3). 6 parts of 25 + 10 ms each is 210 ms.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

/// Polls `check` until it returns `Some`, or fails after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub fn set(history: &Value, id: u64) -> &Value {
    history["sets"]
        .as_array()
        .and_then(|sets| sets.iter().find(|s| s["backup_id"] == id))
        .unwrap_or_else(|| panic!("set {id} not in history"))
}

pub fn component<'a>(set: &'a Value, name: &str) -> &'a Value {
    set["components"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["component"] == name))
        .unwrap_or_else(|| panic!("component {name} not in set"))
}

/// The simulator's exporter phase per partition.
pub async fn phases(sim: &SimCluster) -> Vec<String> {
    let state: Value = reqwest::get(format!("{}/sim/state", sim.endpoints.control))
        .await
        .expect("sim answers")
        .json()
        .await
        .expect("sim state is JSON");
    state["exporting"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The configuration of the simulator's cluster `test` with these `[catalog]` settings.
pub fn catalog_config(sim: &SimCluster, catalog: &str) -> String {
    format!(
        "[catalog]\n{catalog}\n{}",
        sim.endpoints.console_config("test")
    )
}

/// What a fresh merge of every component of the cluster `test` in `cluster_config` says now,
/// without any console: what the catalog must match.
pub async fn fresh_merge_of(cluster_config: &str) -> backup_domain::api::HistoryResponse {
    let (auth, _) = auth_section("");
    let text = format!("{auth}{cluster_config}");
    let config = Config::parse(&text, "t", &|_| None).expect("config parses");
    let clusters = backup_console::cluster::Clusters::from_config(&config).expect("clients");
    let cluster = clusters.get("test").expect("cluster `test`");
    backup_console::history::history(cluster).await
}

/// [`fresh_merge_of`] the simulator's own cluster.
pub async fn fresh_merge(sim: &SimCluster) -> backup_domain::api::HistoryResponse {
    fresh_merge_of(&sim.endpoints.console_config("test")).await
}

/// The listings the simulator served per component (`/sim/state`'s `list_calls`).
pub async fn list_calls(sim: &SimCluster) -> Value {
    let state: Value = reqwest::get(format!("{}/sim/state", sim.endpoints.control))
        .await
        .expect("simulator answers")
        .json()
        .await
        .expect("simulator state");
    state["list_calls"].clone()
}

/// The `sets` of a history answer.
pub fn sets_of(history: &Value) -> Vec<Value> {
    history["sets"].as_array().cloned().unwrap_or_default()
}

impl Console {
    /// `POST /api/clusters/test/catalog/refresh` as the admin, with no body.
    pub async fn refresh_catalog(&self) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            "/api/clusters/test/catalog/refresh",
            Some(&self.session),
            None,
        )
        .await
    }
}
