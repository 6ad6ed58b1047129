//! `cargo bench -p backup-console --bench catalog [-- 10000 100000]`: the catalog figures of
//! BENCHMARKS.md (part 7).
//!
//! For each size: the simulator (8.7 profile: Zeebe, Operate, Tasklist, Optimize, Elasticsearch,
//! so five listings per refresh) is seeded in this process; the release server runs as its own
//! process so that its resident memory is its own. Measured:
//! - each upstream listing alone, one after another (the slowest is the floor of a refresh);
//! - the first refresh (every set written), then one with nothing changed, then one after a few
//!   new sets, each with the server's peak resident memory while it ran (sampled every 10 ms);
//! - the longest `GET /api/session` (a session read and touch on the database) during a refresh:
//!   what a run's heartbeat or the pause checkpoint would wait;
//! - history pages (p50, p90): plain, by verdict, by search, deep pages;
//! - the server's resident memory idle after the refreshes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backup_domain::api::VersionProfile;
use camunda_sim::{SimCluster, SimConfig};

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn quantile(v: &[Duration], q: f64) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[((s.len() as f64 * q) as usize).min(s.len() - 1)]
}

/// Samples the peak resident memory of `pid` until stopped.
struct PeakSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl PeakSampler {
    fn start(pid: u32) -> PeakSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if let Some(r) = rss_kib(pid) {
                    p.fetch_max(r, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        PeakSampler { stop, peak, thread }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
        self.peak.load(Ordering::SeqCst)
    }
}

struct Server {
    child: std::process::Child,
    /// When the process was started, and its peak memory since: the first refresh begins then.
    spawned: Instant,
    since_spawn: Option<PeakSampler>,
    base: String,
    cookie: String,
    csrf: String,
    client: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server(sim: &SimCluster, sets: usize) -> Server {
    let dir = std::env::temp_dir().join(format!("bc-bench-catalog-{}-{sets}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let hash = backup_console::auth::password::hash_password("bench-password").expect("hash");
    let text = format!(
        "[store]\ndatabase = {:?}\n[catalog]\nrefresh_secs = 3600\nidle_refresh_secs = 3600\nmin_refresh_gap_secs = 0\n\
         [upstream]\nlisting_timeout_secs = 600\n\
         [auth]\n[[auth.users]]\nname = \"bench\"\npassword_hash = \"{hash}\"\nrole = \"viewer\"\n{}",
        dir.join("console.db").display().to_string(),
        sim.endpoints.console_config("bench")
    );
    let config = dir.join("console.toml");
    std::fs::write(&config, text).expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_backup-console"))
        .args(["serve", "--config"])
        .arg(&config)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--ui-dir",
            "/nonexistent",
        ])
        .env("RUST_LOG", "error")
        .spawn()
        .expect("server starts");
    let spawned = Instant::now();
    let since_spawn = Some(PeakSampler::start(child.id()));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("{base}/api/health"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let login = client
        .post(format!("{base}/api/login"))
        .header("x-requested-with", "backup-console")
        .json(&serde_json::json!({"username": "bench", "password": "bench-password"}))
        .send()
        .await
        .expect("login");
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("; ");
    assert!(login.status().is_success(), "login: {}", login.status());
    let session: serde_json::Value = login.json().await.expect("session");
    let csrf = session["csrf_token"].as_str().unwrap_or("").to_string();
    Server {
        child,
        spawned,
        since_spawn,
        base,
        cookie,
        csrf,
        client,
    }
}

impl Server {
    async fn get(&self, path: &str) -> (Duration, reqwest::StatusCode, usize) {
        let start = Instant::now();
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("answer");
        let status = r.status();
        let n = r.bytes().await.map(|b| b.len()).unwrap_or(0);
        (start.elapsed(), status, n)
    }

    /// A refresh, with the peak memory during it and the longest session read beside it.
    async fn refresh(&self) -> (Duration, u64, Duration) {
        let sampler = PeakSampler::start(self.child.id());
        let done = Arc::new(AtomicBool::new(false));
        let probe = {
            let (client, base, cookie, done) = (
                reqwest::Client::new(),
                self.base.clone(),
                self.cookie.clone(),
                done.clone(),
            );
            // A runtime of its own: the simulator's handlers keep this process's workers busy
            // while they serialize a listing, and a probe there would measure them instead.
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("probe runtime");
                runtime.block_on(async move {
                    let mut longest = Duration::ZERO;
                    while !done.load(Ordering::SeqCst) {
                        let start = Instant::now();
                        let _ = client
                            .get(format!("{base}/api/session"))
                            .header("cookie", &cookie)
                            .send()
                            .await;
                        longest = longest.max(start.elapsed());
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    longest
                })
            })
        };
        let start = Instant::now();
        let r = self
            .client
            .post(format!("{}/api/clusters/bench/catalog/refresh", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .send()
            .await
            .expect("refresh");
        assert!(r.status().is_success(), "refresh: {}", r.status());
        let took = start.elapsed();
        done.store(true, Ordering::SeqCst);
        let longest = probe.join().unwrap_or_default();
        (took, sampler.finish(), longest)
    }
}

async fn measure(sets: usize) {
    let mut config = SimConfig::new(VersionProfile::V87);
    config.seed_count = sets;
    let sim = SimCluster::start(config).await.expect("sim");
    let e = &sim.endpoints;
    let client = reqwest::Client::new();
    let listings = [
        ("Zeebe", format!("{}/actuator/backups", e.zeebe)),
        (
            "Operate",
            format!("{}/actuator/backups", e.operate.as_ref().expect("operate")),
        ),
        (
            "Tasklist",
            format!(
                "{}/actuator/backups",
                e.tasklist.as_ref().expect("tasklist")
            ),
        ),
        (
            "Optimize",
            format!(
                "{}/actuator/backups",
                e.optimize.as_ref().expect("optimize")
            ),
        ),
        (
            "Elasticsearch",
            format!(
                "{}/_snapshot/camunda/camunda_zeebe_records_backup_*",
                e.elasticsearch
            ),
        ),
    ];
    println!("\n### {sets} seeded sets (8.7 profile, five components)\n");
    let mut slowest = Duration::ZERO;
    for (name, url) in &listings {
        let start = Instant::now();
        let body = client
            .get(url)
            .send()
            .await
            .expect("list")
            .bytes()
            .await
            .expect("body");
        let took = start.elapsed();
        slowest = slowest.max(took);
        println!(
            "- {name} listing alone: {} ms, {:.1} MiB",
            ms(took),
            body.len() as f64 / 1_048_576.0
        );
    }

    let mut server = start_server(&sim, sets).await;
    // The keeper lists at start; the first page waits for that refresh (every set written).
    let (_, status, _) = server.get("/api/clusters/bench/backups?per_page=25").await;
    assert!(status.is_success(), "first page: {status}");
    let first = server.spawned.elapsed();
    let first_peak = server.since_spawn.take().map_or(0, PeakSampler::finish);
    let (unchanged, unchanged_peak, unchanged_blocked) = server.refresh().await;
    println!(
        "\n| refresh | time (ms) | slowest single listing (ms) | peak RSS (MiB) | longest session read meanwhile (ms) |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| first (from process start, every set written) | {} | {} | {} | - |",
        ms(first),
        ms(slowest),
        mib(first_peak)
    );
    println!(
        "| nothing changed | {} | {} | {} | {} |",
        ms(unchanged),
        ms(slowest),
        mib(unchanged_peak),
        ms(unchanged_blocked)
    );
    // A few new sets: only they are written.
    for i in 0..5u64 {
        let id = 4_000_000_000 + i;
        for url in [
            format!("{}/actuator/backups", e.zeebe),
            format!("{}/actuator/backups", e.operate.as_ref().expect("operate")),
        ] {
            let _ = client
                .post(url)
                .json(&serde_json::json!({"backupId": id}))
                .send()
                .await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (changed, changed_peak, changed_blocked) = server.refresh().await;
    println!(
        "| five new sets | {} | {} | {} | {} |",
        ms(changed),
        ms(slowest),
        mib(changed_peak),
        ms(changed_blocked)
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = rss_kib(server.child.id()).unwrap_or(0);

    let pages = (sets / 25).max(1);
    let scenarios: Vec<(&str, Vec<String>)> = vec![
        (
            "page of 25, spread over the history",
            (0..200)
                .map(|i| {
                    format!(
                        "/api/clusters/bench/backups?page={}&per_page=25",
                        1 + (i * 7919) % pages
                    )
                })
                .collect(),
        ),
        (
            "first page",
            (0..200)
                .map(|_| "/api/clusters/bench/backups?per_page=25".to_string())
                .collect(),
        ),
        (
            "verdict filter (not restorable)",
            (0..100)
                .map(|i| {
                    format!(
                        "/api/clusters/bench/backups?verdict=not_restorable&page={}",
                        1 + i % 20
                    )
                })
                .collect(),
        ),
        (
            "search by ID digits",
            (0..100)
                .map(|i| format!("/api/clusters/bench/backups?q={}", 10 + i % 90))
                .collect(),
        ),
        (
            "last page (deepest offset)",
            (0..50)
                .map(|_| format!("/api/clusters/bench/backups?page={pages}&sort=newest"))
                .collect(),
        ),
    ];
    println!("\n| history API call | p50 (ms) | p90 (ms) | body (KiB) |");
    println!("|---|---|---|---|");
    for (label, paths) in scenarios {
        let mut times = Vec::new();
        let mut bytes = 0;
        for path in &paths {
            let (took, status, n) = server.get(path).await;
            assert!(status.is_success(), "{path}: {status}");
            times.push(took);
            bytes = n;
        }
        println!(
            "| {label} | {} | {} | {} |",
            ms(quantile(&times, 0.5)),
            ms(quantile(&times, 0.9)),
            bytes / 1024
        );
    }
    // The retention preview plans over every set of the catalog (the browser used to).
    let sampler = PeakSampler::start(server.child.id());
    let mut times = Vec::new();
    for keep in [10, 100, 1000] {
        let start = Instant::now();
        let r = server
            .client
            .post(format!("{}/api/clusters/bench/retention/preview", server.base))
            .header("cookie", &server.cookie)
            .header("x-csrf-token", &server.csrf)
            .json(&serde_json::json!({"policy": {"keep_last": keep, "min_restorable": 2, "keep_failed": 1}}))
            .send()
            .await
            .expect("preview");
        assert!(r.status().is_success(), "preview: {}", r.status());
        let n = r.bytes().await.map(|b| b.len()).unwrap_or(0);
        times.push((keep, start.elapsed(), n));
    }
    let preview_peak = sampler.finish();
    println!("\n| retention preview (draft keep_last) | time (ms) | answer (KiB) |");
    println!("|---|---|---|");
    for (keep, took, n) in &times {
        println!("| {keep} | {} | {} |", ms(*took), n / 1024);
    }
    println!("\nPeak RSS during the previews: {} MiB", mib(preview_peak));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_after_pages = rss_kib(server.child.id()).unwrap_or(0);
    println!(
        "\nServer RSS: {} MiB idle after the refreshes, {} MiB idle after the page calls",
        mib(idle),
        mib(idle_after_pages)
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for sets in sizes {
            measure(sets).await;
        }
    });
}
