//! `cargo bench -p backup-console --bench history`: the figures of BENCHMARKS.md.
//!
//! 1. The history API with 1,000 seeded sets against the slowest single upstream list call of the
//!    same iteration (each upstream call timed alone, one after another, then the console's call,
//!    which makes them all in parallel). Run twice: with list latencies standing in for the
//!    components' own work (a real Zeebe list scans the backup store of every partition), and with
//!    none, where the simulated components compete with the console for the same two cores.
//! 2. The resident memory of the release server at idle, before and after serving history.

use std::time::{Duration, Instant};

use backup_console_testkit::start_console;
use backup_domain::api::VersionProfile;
use camunda_sim::state::Timings;
use camunda_sim::{SimCluster, SimConfig};

const SETS: usize = 1_000;
const WARMUP: usize = 3;
const ITERATIONS: usize = 20;

struct Run {
    label: &'static str,
    slowest_upstream: Vec<Duration>,
    console: Vec<Duration>,
    body_bytes: usize,
    sets: usize,
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[s.len() / 2]
}

fn p90(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[(s.len() * 9 / 10).min(s.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

async fn timed_get(client: &reqwest::Client, url: &str, cookie: &str) -> (Duration, usize) {
    let start = Instant::now();
    let response = client
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .expect("answer");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let body = response.bytes().await.expect("body");
    (start.elapsed(), body.len())
}

async fn history_run(label: &'static str, timings: Timings) -> Run {
    let mut config = SimConfig::new(VersionProfile::V87);
    config.seed_count = SETS;
    config.timings = timings;
    let sim = SimCluster::start(config).await.expect("sim");
    let console = start_console(&sim.endpoints.console_config("bench")).await;
    let base = console.base.clone();
    let cookie = console.session_for("viewer").await.cookie;
    let e = &sim.endpoints;
    let upstream = [
        format!("{}/actuator/backups", e.zeebe),
        format!("{}/actuator/backups", e.operate.as_ref().expect("operate")),
        format!(
            "{}/actuator/backups",
            e.tasklist.as_ref().expect("tasklist")
        ),
        format!(
            "{}/actuator/backups",
            e.optimize.as_ref().expect("optimize")
        ),
        format!(
            "{}/_snapshot/camunda/camunda_zeebe_records_backup_*",
            e.elasticsearch
        ),
        format!("{}/actuator/partitions", e.zeebe),
    ];
    let history = format!("{base}/api/clusters/bench/backups");
    let client = reqwest::Client::new();
    let mut run = Run {
        label,
        slowest_upstream: Vec::new(),
        console: Vec::new(),
        body_bytes: 0,
        sets: 0,
    };
    for i in 0..WARMUP + ITERATIONS {
        let mut slowest = Duration::ZERO;
        for url in &upstream {
            slowest = slowest.max(timed_get(&client, url, "").await.0);
        }
        let (took, bytes) = timed_get(&client, &history, &cookie).await;
        if i >= WARMUP {
            run.slowest_upstream.push(slowest);
            run.console.push(took);
            run.body_bytes = bytes;
        }
    }
    let body: serde_json::Value = client
        .get(&history)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    run.sets = body["sets"].as_array().map_or(0, Vec::len);
    drop(console);
    run
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn idle_memory() -> Option<(u64, u64)> {
    let mut config = SimConfig::new(VersionProfile::V87);
    config.seed_count = SETS;
    let sim = SimCluster::start(config).await.ok()?;
    let dir = std::env::temp_dir().join(format!("bc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let config_path = dir.join("console.toml");
    let hash = backup_console::auth::password::hash_password("bench").ok()?;
    let auth = format!(
        "[store]\ndatabase = {:?}\n[auth]\n[[auth.users]]\nname = \"bench\"\npassword_hash = \"{hash}\"\nrole = \"viewer\"\n",
        dir.join("console.db").display().to_string()
    );
    std::fs::write(
        &config_path,
        format!("{auth}{}", sim.endpoints.console_config("bench")),
    )
    .ok()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_backup-console"))
        .args(["serve", "--config"])
        .arg(&config_path)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--ui-dir",
            "/nonexistent",
        ])
        .env("RUST_LOG", "error")
        .spawn()
        .ok()?;
    let client = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/api/health");
    for _ in 0..100 {
        if client.get(&health).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fresh = rss_kib(child.id());
    for _ in 0..5 {
        let _ = client
            .get(format!(
                "http://127.0.0.1:{port}/api/clusters/bench/backups"
            ))
            .send()
            .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    Some((fresh?, after?))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let latencies = Timings {
            zeebe_list_ms: 150,
            webapps_list_ms: 100,
            optimize_list_ms: 80,
            es_list_ms: 60,
            ..Timings::default()
        };
        let runs = [
            history_run("stand-in list latencies (Zeebe 150, web apps 100, Optimize 80, ES 60 ms)", latencies).await,
            history_run("no added latency (simulator and console share 2 cores)", Timings::default()).await,
        ];
        println!("\nHistory API, {SETS} seeded sets, 8.7 profile, {ITERATIONS} iterations after {WARMUP} warm-up");
        println!("| scenario | slowest upstream median (ms) | console median (ms) | console p90 (ms) | ratio of medians | sets | body (KiB) |");
        println!("|---|---|---|---|---|---|---|");
        for r in &runs {
            let ratio = median(&r.console).as_secs_f64() / median(&r.slowest_upstream).as_secs_f64();
            println!(
                "| {} | {} | {} | {} | {:.2} | {} | {} |",
                r.label,
                ms(median(&r.slowest_upstream)),
                ms(median(&r.console)),
                ms(p90(&r.console)),
                ratio,
                r.sets,
                r.body_bytes / 1024
            );
        }
        match idle_memory().await {
            Some((fresh, after)) => println!(
                "\nRelease server resident memory (VmRSS): {:.1} MiB idle after start, {:.1} MiB idle after 5 history calls of {SETS} sets",
                fresh as f64 / 1024.0,
                after as f64 / 1024.0
            ),
            None => println!("\nRelease server resident memory: could not be measured"),
        }
    });
}
