//! Test harness: a simulated cluster and a console pointed at it through a configuration file's
//! text, both on real ports, talked to over real HTTP.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use backup_console::config::Config;
use backup_console::sim::state::Timings;
use backup_console::sim::{SimCluster, SimConfig};
use backup_domain::api::VersionProfile;
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

pub struct Console {
    pub base: String,
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Console {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Console {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("console answers");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

/// Starts the console on a configuration text, exactly as `serve --config` would read it.
pub async fn start_console(config_text: &str) -> Console {
    let config = Config::parse(config_text, "test.toml", &|_| None).expect("config parses");
    let app = backup_console::web::app_for(&config, std::path::Path::new("/nonexistent-ui"))
        .expect("client builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Console {
        base,
        http: reqwest::Client::new(),
        task,
    }
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
