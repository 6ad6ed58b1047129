//! Secrets never reach the log: a whole login-and-history run is logged at TRACE level, every
//! crate included, and the captured output is searched for the password and the upstream secret.
//! Its own test binary: the global subscriber can be installed once per process, and in a shared
//! binary it would capture every other test's logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_is_logged_even_at_trace_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let sim = start_sim(VersionProfile::V87, 3).await;
    let cluster = sim.endpoints.console_config("test").replace(
        "repository = \"camunda\"",
        "repository = \"camunda\"\nauth = { type = \"bearer\", token_env = \"ES_TOKEN\" }",
    );
    // A notification channel whose URL (a closed port) and signing key are secrets too.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cluster = format!(
        "{cluster}\n[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl_env = \"OPS_URL\"\nsecret_env = \"OPS_HMAC\"\n"
    );
    let hook_url = format!("http://127.0.0.1:{closed}/hook-notify-token-3a2b1c");
    // A database dump whose URL holds a password (the preflight and the listing read it).
    let dumps = std::env::temp_dir().join(format!("bc-log-dumps-{}", std::process::id()));
    let cluster = cluster.replace(
        "[[notifications]]",
        &format!(
            "[[clusters.databases]]\nname = \"web-modeler\"\nurl_env = \"MODELER_DB\"\ndirectory = {:?}\n\n[[notifications]]",
            dumps.display().to_string()
        ),
    );
    let modeler_url = format!("postgres://modeler:pg-pass-4e3d2c@127.0.0.1:{closed}/modeler");
    let env = move |k: &str| match k {
        "ES_TOKEN" => Some("es-token-9f8e7d".to_string()),
        "OPS_URL" => Some(hook_url.clone()),
        "OPS_HMAC" => Some("hmac-key-7d6e5f".to_string()),
        "MODELER_DB" => Some(modeler_url.clone()),
        _ => None,
    };
    let (auth, _) = auth_section("");
    let config =
        backup_console::config::Config::parse(&format!("{auth}{cluster}"), "t", &env).unwrap();
    tracing::info!(?config, "configuration loaded");
    let console = start_console_with_env(&format!("{auth}{cluster}"), &env).await;
    let base = console.base.clone();
    let client = reqwest::Client::new();
    let login = |password: &'static str| {
        client
            .post(format!("{base}/api/login"))
            .header("x-requested-with", "backup-console")
            .json(&json!({"username": "admin", "password": password}))
            .send()
    };
    assert_eq!(
        login("wrong-password-5c4b")
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let ok = login(PASSWORD).await.unwrap();
    let cookie = ok.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = cookie.trim_start_matches("bc_session=").to_string();
    let csrf = ok.json::<serde_json::Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = client
        .post(format!("{base}/api/notifications/ops/test"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["outcome"],
        "failed"
    );
    for path in [
        "/api/clusters",
        "/api/clusters/test/backups",
        "/api/clusters/test/preflight",
    ] {
        let r = client
            .get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }

    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_string();
    assert!(
        log.contains("configuration loaded") && log.contains("/api/clusters/test/backups"),
        "the capture works"
    );
    assert!(
        log.contains("Secret(***)"),
        "the config was logged, redacted"
    );
    for secret in [
        "es-token-9f8e7d",
        PASSWORD,
        "wrong-password-5c4b",
        token.as_str(),
        "hook-notify-token-3a2b1c",
        "hmac-key-7d6e5f",
        "pg-pass-4e3d2c",
    ] {
        assert!(!log.contains(secret), "the log contains {secret}");
    }
    let _ = std::fs::remove_dir_all(&dumps);
}

#[cfg(unix)]
#[test]
fn the_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("bc-db-mode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("console.db");
    let _ = std::fs::remove_file(&path);
    let _store = backup_console::store::Store::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    // An existing database made world-readable is narrowed again.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _again = backup_console::store::Store::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}
