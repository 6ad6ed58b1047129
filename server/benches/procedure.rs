//! `cargo bench -p backup-console --bench procedure`: the backup procedure's total time and its
//! soft-pause window, three ways, on the same simulated cluster in the same session:
//!
//! - **intrinsic**: what the components themselves need, computed from the simulator's fixed
//!   durations (web-apps parts one after another, Optimize's two parts, the records snapshot,
//!   Zeebe's checkpoint, registration and upload), with no polling delay at all;
//! - **console**: a run started through the console's API with its default settings;
//! - **curl**: the documented procedure as an administrator scripts it, the same requests in the
//!   same order (taken from the console's own transcript), polling every 5 seconds.

use std::time::{Duration, Instant};

use backup_console_testkit::start_console;
use backup_domain::api::VersionProfile;
use backup_domain::run::{RunView, TranscriptEntry};
use camunda_sim::state::Timings;
use camunda_sim::{SimCluster, SimConfig};

const CONSOLE_RUNS: usize = 5;
const CURL_RUNS: usize = 2;
const CURL_POLL: Duration = Duration::from_secs(5);

fn secs(ms: f64) -> String {
    format!("{:.2} s", ms / 1000.0)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MIN, f64::max)
}

/// "6 of 6 parts" in a wait step's detail: the part count of that component's backup.
fn parts(run: &RunView, component: &str) -> i64 {
    run.report
        .steps
        .iter()
        .find(|s| s.description == format!("Wait until the {component} backup completes"))
        .and_then(|s| s.detail.as_deref())
        .and_then(|d| d.split(" of ").nth(1))
        .and_then(|d| d.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no part count for {component}"))
}

/// (total, pause window) in ms that the components need, from the simulator's model
/// (`sim::state::add_parts`, `add_zeebe_backup`, the records snapshot's duration).
fn intrinsic(profile: VersionProfile, t: &Timings, run: &RunView) -> (f64, f64) {
    let webapps = |count: i64| count * t.webapps_part_ms + (count - 1) * t.webapps_gap_ms;
    let optimize = 2 * t.optimize_part_ms + t.optimize_gap_ms;
    let after_webapps =
        t.records_snapshot_ms + t.zeebe_checkpoint_ms + t.zeebe_registration_ms + t.zeebe_backup_ms;
    let webapps_phase = match profile {
        VersionProfile::V87 => webapps(parts(run, "Operate"))
            .max(webapps(parts(run, "Tasklist")))
            .max(optimize),
        VersionProfile::V88 => webapps(parts(run, "Web apps")).max(optimize),
    };
    let total = webapps_phase + after_webapps;
    let pause = match profile {
        // 8.7 backs the web apps up before the pause.
        VersionProfile::V87 => after_webapps,
        VersionProfile::V88 => total,
    };
    (total as f64, pause as f64)
}

struct Client {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Client {
    async fn get_run(&self, run_id: i64) -> RunView {
        self.http
            .get(format!("{}/api/runs/{run_id}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("run view")
    }

    /// One console run: (client-observed total, report's pause window, the run).
    async fn console_run(&self) -> (f64, f64, RunView) {
        let started = chrono::Utc::now().timestamp_millis();
        let response: serde_json::Value = self
            .http
            .post(format!("{}/api/clusters/bench/runs", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("start")
            .json()
            .await
            .expect("started");
        let run_id = response["run_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{response}"));
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let run = self.get_run(run_id).await;
            if run.report.outcome.is_finished() {
                assert_eq!(
                    run.report.outcome.state(),
                    backup_domain::run::RunState::Completed,
                    "{:?}",
                    run.report.outcome
                );
                let ended = run.ended_ms.expect("ended");
                let pause = run.report.pause_window_ms(ended).expect("paused") as f64;
                return ((ended - started) as f64, pause, run);
            }
        }
    }
}

/// The console's transcript with one backup ID swapped for another: the documented requests, in
/// the documented order, for a new backup.
fn script(
    transcript: &[TranscriptEntry],
    from_id: u64,
    to_id: u64,
) -> Vec<(String, String, Option<String>)> {
    let (from, to) = (from_id.to_string(), to_id.to_string());
    transcript
        .iter()
        .map(|e| {
            (
                e.method.clone(),
                e.url.replace(&from, &to),
                e.request_body.as_ref().map(|b| b.replace(&from, &to)),
            )
        })
        .collect()
}

/// Runs the script as a shell loop would: each request once, each status GET repeated every
/// 5 seconds until it reads COMPLETED. Returns (total, pause window) in ms.
async fn curl_run(
    http: &reqwest::Client,
    steps: &[(String, String, Option<String>)],
) -> (f64, f64) {
    let start = Instant::now();
    let (mut paused, mut resumed) = (None, None);
    let mut previous: Option<&str> = None;
    for (method, url, body) in steps {
        // The console polled; the script polls once per distinct status URL.
        if method == "GET" && previous == Some(url.as_str()) {
            continue;
        }
        previous = Some(url.as_str());
        if url.contains("/exporting/pause") {
            paused = Some(start.elapsed());
        }
        loop {
            let mut request = http.request(method.parse().expect("method"), url);
            if let Some(b) = body {
                request = request
                    .header("content-type", "application/json")
                    .body(b.clone());
            }
            let response = request.send().await.expect("upstream answers");
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            if method != "GET" {
                break;
            }
            let state = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_owned));
            match (status, state.as_deref()) {
                (200, Some("COMPLETED")) | (200, None) => break,
                _ => tokio::time::sleep(CURL_POLL).await,
            }
        }
        if url.contains("/exporting/resume") {
            resumed = Some(start.elapsed());
        }
    }
    let total = start.elapsed().as_secs_f64() * 1000.0;
    let pause = match (paused, resumed) {
        (Some(p), Some(r)) => (r - p).as_secs_f64() * 1000.0,
        _ => panic!("the script never paused and resumed"),
    };
    (total, pause)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "| API | method | total (median) | soft-pause window (median / max) | pause over intrinsic |"
    );
    println!("|---|---|---|---|---|");
    for profile in [VersionProfile::V87, VersionProfile::V88] {
        let timings = Timings::default();
        let mut config = SimConfig::new(profile);
        config.timings = timings;
        let sim = SimCluster::start(config).await.expect("sim");
        let console = start_console(&sim.endpoints.console_config("bench")).await;
        let operator = console.session_for("operator").await;
        let client = Client {
            http: reqwest::Client::new(),
            base: console.base.clone(),
            cookie: operator.cookie,
            csrf: operator.csrf,
        };
        let (mut totals, mut pauses, mut last) = (Vec::new(), Vec::new(), None);
        for _ in 0..CONSOLE_RUNS {
            let (total, pause, run) = client.console_run().await;
            totals.push(total);
            pauses.push(pause);
            last = Some(run);
        }
        let run = last.expect("a run");
        let (intrinsic_total, intrinsic_pause) = intrinsic(profile, &timings, &run);

        let mut curl_totals = Vec::new();
        let mut curl_pauses = Vec::new();
        for i in 0..CURL_RUNS {
            let id = run.backup_id + 1_000 + i as u64;
            let steps = script(&run.report.transcript, run.backup_id, id);
            let (total, pause) = curl_run(&client.http, &steps).await;
            curl_totals.push(total);
            curl_pauses.push(pause);
        }
        let label = profile.label();
        println!(
            "| {label} | intrinsic | {} | {} | - |",
            secs(intrinsic_total),
            secs(intrinsic_pause)
        );
        println!(
            "| {label} | console ({CONSOLE_RUNS} runs) | {} | {} / {} | +{} |",
            secs(median(&totals)),
            secs(median(&pauses)),
            secs(max(&pauses)),
            secs(max(&pauses) - intrinsic_pause)
        );
        println!(
            "| {label} | curl, 5 s polling ({CURL_RUNS} runs) | {} | {} / {} | +{} |",
            secs(median(&curl_totals)),
            secs(median(&curl_pauses)),
            secs(max(&curl_pauses)),
            secs(max(&curl_pauses) - intrinsic_pause)
        );
        drop(console);
    }
}
