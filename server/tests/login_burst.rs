//! Review H4: a burst of parallel logins is bounded before any password is checked, and only a few
//! Argon2 checks run at once. Its own test binary, so that the process-wide high-water mark of
//! verifications belongs to this test alone.

use std::time::{Duration, Instant};

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_wrong_logins_check_at_most_five_passwords() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let cluster = sim.endpoints.console_config("test");
    let (auth, _) = auth_section("login_verify_concurrency = 2\nlogin_verify_queue = 4\n");
    let console = start_console_with(&format!("{auth}{cluster}")).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let request = console
                .http
                .post(format!("{}/api/login", console.base))
                .header("x-requested-with", "backup-console")
                .json(&json!({"username": "operator", "password": "wrong"}));
            tokio::spawn(async move {
                let sent = Instant::now();
                let r = request.send().await.expect("console answers");
                let retry_after = r.headers().contains_key("retry-after");
                (r.status().as_u16(), retry_after, sent.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let checked = answers.iter().filter(|(s, _, _)| *s == 401).count();
    let refused: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 429).collect();
    assert!(checked <= 5, "{checked} passwords were checked");
    assert_eq!(checked + refused.len(), 50, "{answers:?}");
    assert!(refused.iter().all(|(_, retry_after, _)| *retry_after));
    // Refusals do not wait for Argon2: each is answered well within one verification's time.
    let slowest_refusal = refused.iter().map(|(_, _, d)| *d).max().unwrap();
    assert!(
        slowest_refusal < Duration::from_secs(2),
        "{slowest_refusal:?}"
    );
    assert!(
        backup_console::auth::password::peak_concurrent_verifications() <= 2,
        "{} verifications ran at once",
        backup_console::auth::password::peak_concurrent_verifications()
    );
    eprintln!("burst answered in {:?}", started.elapsed());
}
