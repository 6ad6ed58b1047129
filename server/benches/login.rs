//! `cargo bench -p backup-console --bench login`: a burst of parallel wrong-password logins against
//! the release server (`backup-console serve`, started as its own process), twice:
//!
//! 1. one client sends all of them (the per-(user, address) limit answers most at once);
//! 2. every login comes from another client address (through a trusted `X-Forwarded-For`), so
//!    that only the Argon2 gate bounds the work;
//! 3. four more such bursts, each from 50 addresses not seen before: the peak must not grow with
//!    the number of checks or addresses.
//!
//! Prints how many passwords were checked (401) and refused (429), the median and slowest answer
//! time, and the process's peak resident memory (`VmHWM`); at the end, the resident memory before
//! and after the bursts (`VmRSS`: the idle `VmHWM` includes the start-up dummy hash's Argon2 run).

use std::time::{Duration, Instant};

use backup_domain::api::VersionProfile;
use camunda_sim::{SimCluster, SimConfig};
use serde_json::json;

const BURST: usize = 50;

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Burst {
    checked: usize,
    refused: usize,
    other: usize,
    p50: Duration,
    slowest: Duration,
    total: Duration,
}

/// `addresses`: `None` for one client, or the third octet of 50 client addresses.
async fn burst(client: &reqwest::Client, base: &str, addresses: Option<u8>) -> Burst {
    let started = Instant::now();
    let tasks: Vec<_> = (0..BURST)
        .map(|i| {
            let mut request = client
                .post(format!("{base}/api/login"))
                .header("x-requested-with", "backup-console")
                .json(&json!({"username": "bench", "password": "wrong"}));
            if let Some(net) = addresses {
                request = request.header("x-forwarded-for", format!("198.51.{net}.{}", i + 1));
            }
            tokio::spawn(async move {
                let sent = Instant::now();
                let status = request
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                (status, sent.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        if let Ok(a) = t.await {
            answers.push(a);
        }
    }
    let total = started.elapsed();
    let mut times: Vec<Duration> = answers.iter().map(|(_, d)| *d).collect();
    times.sort();
    Burst {
        checked: answers.iter().filter(|(s, _)| *s == 401).count(),
        refused: answers.iter().filter(|(s, _)| *s == 429).count(),
        other: answers
            .iter()
            .filter(|(s, _)| *s != 401 && *s != 429)
            .count(),
        p50: times.get(times.len() / 2).copied().unwrap_or_default(),
        slowest: times.last().copied().unwrap_or_default(),
        total,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sim = SimCluster::start(SimConfig::new(VersionProfile::V88))
            .await
            .expect("simulator starts");
        let dir = std::env::temp_dir().join(format!("bc-bench-login-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config_path = dir.join("console.toml");
        let hash = backup_console::auth::password::hash_password("bench").expect("hash");
        let auth = format!(
            "[store]\ndatabase = {:?}\n[auth]\ntrusted_forwarded_for = true\nforwarded_for_proxies = [\"127.0.0.1\"]\n[[auth.users]]\nname = \"bench\"\npassword_hash = \"{hash}\"\nrole = \"viewer\"\n",
            dir.join("console.db").display().to_string()
        );
        std::fs::write(
            &config_path,
            format!("{auth}{}", sim.endpoints.console_config("bench")),
        )
        .expect("config written");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
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
            .expect("server starts");
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if client.get(format!("{base}/api/health")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pid = child.id();
        let idle = status_kib(pid, "VmHWM:");
        let idle_rss = status_kib(pid, "VmRSS:");
        println!("\nLogin burst: {BURST} parallel wrong-password logins, release server, default login settings");
        println!("| burst | checked (401) | refused (429) | other | p50 answer | slowest answer | whole burst | peak RSS after (VmHWM) |");
        println!("|---|---|---|---|---|---|---|---|");
        let mut bursts = vec![
            ("one client".to_string(), None),
            ("50 client addresses (trusted X-Forwarded-For)".to_string(), Some(100)),
        ];
        for n in 2..=5u8 {
            bursts.push((format!("50 other addresses, burst {n}"), Some(100 + n)));
        }
        for (label, addresses) in bursts {
            let b = burst(&client, &base, addresses).await;
            let hwm = status_kib(pid, "VmHWM:").map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
            println!(
                "| {label} | {} | {} | {} | {} | {} | {} | {hwm} |",
                b.checked,
                b.refused,
                b.other,
                ms(b.p50),
                ms(b.slowest),
                ms(b.total)
            );
        }
        let mib = |k: Option<u64>| k.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        println!("\nPeak RSS before the bursts (VmHWM): {}", mib(idle));
        println!(
            "Resident before the bursts (VmRSS): {}; after them: {}",
            mib(idle_rss),
            mib(status_kib(pid, "VmRSS:"))
        );
        let _ = child.kill();
        let _ = child.wait();
    });
}
