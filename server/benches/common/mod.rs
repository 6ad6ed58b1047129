//! Shared by the benches: the console, in process, for a simulated cluster, with one user logged in.

// Each bench uses part of it: an `expect(dead_code)` would be unfulfilled in some of them.
#![allow(dead_code, reason = "each bench uses part of it")]

use backup_console::config::Config;

pub struct BenchConsole {
    pub base: String,
    pub cookie: String,
    pub csrf: String,
    pub task: tokio::task::JoinHandle<()>,
}

/// The console for `config_text` (its `[[clusters]]`), with a user `bench` of `role`, logged in.
pub async fn start_console(config_text: &str, role: &str) -> BenchConsole {
    let hash = backup_console::auth::password::hash_password("bench").expect("hash");
    let db = std::env::temp_dir().join(format!(
        "bc-bench-console-{}-{}-{role}.db",
        std::process::id(),
        config_text.len()
    ));
    let _ = std::fs::remove_file(&db);
    let auth = format!(
        "[store]\ndatabase = {:?}\n[auth]\n[[auth.users]]\nname = \"bench\"\npassword_hash = \"{hash}\"\nrole = \"{role}\"\n",
        db.display().to_string()
    );
    let config =
        Config::parse(&format!("{auth}{config_text}"), "bench", &|_| None).expect("config");
    let app = backup_console::web::app_for(&config, std::path::Path::new("/nonexistent"), false)
        .await
        .expect("console");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = backup_console::web::serve(listener, app, std::future::pending()).await;
    });
    let login = reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .header("x-requested-with", "backup-console")
        .json(&serde_json::json!({"username": "bench", "password": "bench"}))
        .send()
        .await
        .expect("login");
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    let session: serde_json::Value = login.json().await.expect("session");
    let csrf = session["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    BenchConsole {
        base,
        cookie,
        csrf,
        task,
    }
}
