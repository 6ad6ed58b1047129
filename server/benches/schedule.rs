//! `cargo bench -p backup-console --bench schedule [-- lateness|scrape|realtime]`: the part 8
//! figures of BENCHMARKS.md.
//!
//! - `lateness`: a backup schedule of every minute on an accelerated clock (60 times the wall's,
//!   a due time every wall second) and a 50 ms tick, against a simulated 8.8 cluster: for 100
//!   due times, how late each run started after its due time, in wall milliseconds.
//! - `realtime`: the same on the wall clock and the production tick (1 s), for two due times
//!   (about two minutes).
//! - `scrape`: `/metrics` of a console with 10 clusters of 10,000 sets each, catalogs listed:
//!   200 scrapes (p50, p90, max), and the listings the simulators counted meanwhile (must be 0).

use std::sync::Arc;
use std::time::{Duration, Instant};

use backup_console::clock::Clock;
use backup_console::config::Config;
use backup_console::scheduler::Scheduler;
use backup_console::services::Services;
use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use backup_domain::schedule::FireOutcome;

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((s.len() as f64 * q) as usize).min(s.len() - 1)]
}

/// A runtime of its own for the simulators, so that they do not share the measured runtime's
/// thread; shut down in the background when dropped (a runtime cannot be dropped in another's
/// task).
struct SimRuntime(Option<tokio::runtime::Runtime>);

impl Drop for SimRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Starts `count` simulators seeded with `seed` sets each on a [`SimRuntime`].
fn sims(count: usize, seed: usize) -> (Vec<camunda_sim::SimCluster>, SimRuntime) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let started = rt.block_on(async {
            let mut v = Vec::new();
            for _ in 0..count {
                v.push(start_sim(VersionProfile::V88, seed).await);
            }
            v
        });
        (started, SimRuntime(Some(rt)))
    })
    .join()
    .unwrap()
}

async fn lateness(factor: u32, tick: Duration, fires: usize) {
    let (sims, _rt) = sims(1, 0);
    let (_, db) = auth_section("");
    let text = format!(
        "[store]\ndatabase = {:?}\n{}\n[clusters.backup]\nschedule = \"* * * * *\"\n",
        db.display().to_string(),
        sims[0].endpoints.console_config("bench")
    );
    let config = Config::parse(&text, "bench", &|_| None).unwrap();
    let clock = if factor > 1 {
        Clock::accelerated(factor)
    } else {
        Clock::System
    };
    let services = Services::open_with_clock(&config, clock).unwrap();
    let scheduler = Arc::new(Scheduler::new(
        services.clusters.clone(),
        services.store.clone(),
        services.runs.clone(),
        services.retention.clone(),
    ));
    scheduler.spawn_every(tick);
    let deadline =
        Instant::now() + Duration::from_secs(fires as u64 * 60 / u64::from(factor) + 120);
    let mut late_ms = Vec::new();
    let mut other = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    while late_ms.len() < fires && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        for fire in services
            .store
            .recent_fires("bench".into(), 50)
            .await
            .unwrap()
        {
            if fire.outcome == FireOutcome::Claimed || !seen.insert(fire.due_ms) {
                continue;
            }
            match (fire.outcome, fire.started_id) {
                (FireOutcome::Started, Some(run_id)) => {
                    let row = services.store.run(run_id).await.unwrap().unwrap();
                    late_ms.push((row.started_ms - fire.due_ms) as f64 / f64::from(factor));
                }
                (outcome, _) => other.push(format!("{outcome}: {:?}", fire.reason)),
            }
        }
    }
    println!(
        "lateness factor={factor} tick={} ms: {} runs started; wall ms late p50 {:.1}, max {:.1}; \
         not started: {} {:?}",
        tick.as_millis(),
        late_ms.len(),
        quantile(&late_ms, 0.5),
        quantile(&late_ms, 1.0),
        other.len(),
        other.iter().take(3).collect::<Vec<_>>()
    );
}

async fn scrape() {
    let (sims, _rt) = sims(10, 10_000);
    let config: String = sims
        .iter()
        .enumerate()
        .map(|(i, s)| s.endpoints.console_config(&format!("c{i}")))
        .collect::<Vec<_>>()
        .join("\n");
    let console = start_console(&config).await;
    let started = Instant::now();
    for i in 0..10 {
        let (status, _) = console
            .fresh_get(&format!("/api/clusters/c{i}/backups?per_page=1"))
            .await;
        assert_eq!(status, 200);
    }
    println!(
        "scrape: 10 catalogs of 10,000 sets listed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut calls_before = Vec::new();
    for s in &sims {
        calls_before.push(list_calls(s).await);
    }
    let client = reqwest::Client::new();
    let url = format!("{}/metrics", console.metrics_base);
    let mut took = Vec::new();
    let mut bytes = 0;
    for _ in 0..200 {
        let t = Instant::now();
        let body = client.get(&url).send().await.unwrap().text().await.unwrap();
        took.push(t.elapsed().as_secs_f64() * 1000.0);
        bytes = body.len();
    }
    let mut calls_after = Vec::new();
    for s in &sims {
        calls_after.push(list_calls(s).await);
    }
    println!(
        "scrape: 200 scrapes of {bytes} B: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms; listings during \
         the scrapes: {}",
        quantile(&took, 0.5),
        quantile(&took, 0.9),
        quantile(&took, 1.0),
        if calls_before == calls_after {
            "none"
        } else {
            "SOME (a scrape called a cluster)"
        }
    );
}

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    if want("lateness") {
        rt.block_on(lateness(60, Duration::from_millis(50), 100));
    }
    if want("scrape") {
        rt.block_on(scrape());
    }
    // Two minutes of wall time: only when asked for.
    if which.iter().any(|w| w == "realtime") {
        rt.block_on(lateness(1, backup_console::scheduler::TICK, 2));
    }
}
