//! The console over HTTPS with a certificate from the configuration.

use std::path::PathBuf;

use backup_console::config::Config;
use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[tokio::test]
async fn the_console_serves_https_with_secure_cookies() {
    let sim = start_sim(VersionProfile::V88, 2).await;
    let (auth, _) = auth_section("");
    let server = format!(
        "[server]\ntls_cert = {:?}\ntls_key = {:?}\n",
        fixture("server.pem").display().to_string(),
        fixture("server.key").display().to_string()
    );
    let config = Config::parse(
        &format!("{server}{auth}{}", sim.endpoints.console_config("test")),
        "t",
        &|_| None,
    )
    .unwrap();
    let files = config.tls.clone().expect("tls configured");
    let acceptor =
        backup_console::tls::acceptor(&files.cert, &files.key).expect("certificate loads");
    let app = backup_console::web::app_for(&config, std::path::Path::new("/nonexistent"), true)
        .await
        .unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    tokio::spawn(async move {
        backup_console::web::serve(
            backup_console::tls::TlsListener::new(tcp, acceptor),
            app,
            std::future::pending(),
        )
        .await
    });

    let ca = reqwest::Certificate::from_pem(&std::fs::read(fixture("ca.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{port}");
    let health = client
        .get(format!("{base}/api/health"))
        .send()
        .await
        .expect("HTTPS works");
    assert_eq!(health.status().as_u16(), 200);
    let login = client
        .post(format!("{base}/api/login"))
        .header("x-requested-with", "backup-console")
        .json(&json!({"username": "viewer", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let clusters = client
        .get(format!("{base}/api/clusters"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(clusters.status().as_u16(), 200);
    // The audit log saw the real client address through the TLS listener.
    let admin = Console::login_at(&client, &base, "admin").await;
    let audit: serde_json::Value = client
        .get(format!("{base}/api/audit?user=viewer"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["entries"][0]["client"], "127.0.0.1");

    // Plain HTTP on the TLS port gets no answer.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{port}/api/health"))
            .await
            .is_err()
    );
}

/// Review H3: connections that never start their handshake must not stop the console accepting
/// others.
#[tokio::test]
async fn silent_connections_do_not_hold_the_listener() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (auth, _) = auth_section("");
    let config = Config::parse(
        &format!("{auth}{}", sim.endpoints.console_config("test")),
        "t",
        &|_| None,
    )
    .unwrap();
    let acceptor = backup_console::tls::acceptor(&fixture("server.pem"), &fixture("server.key"))
        .expect("certificate loads");
    let app = backup_console::web::app_for(&config, std::path::Path::new("/nonexistent"), true)
        .await
        .unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    tokio::spawn(async move {
        backup_console::web::serve(
            backup_console::tls::TlsListener::new(tcp, acceptor),
            app,
            std::future::pending(),
        )
        .await
    });
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(fixture("ca.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let health = client
        .get(format!("https://127.0.0.1:{}/api/health", addr.port()))
        .send()
        .await
        .expect("answers within 2 s while three connections stay silent");
    assert_eq!(health.status().as_u16(), 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    drop(silent);
}

#[test]
fn tls_needs_both_files_and_readable_ones() {
    let one = "[server]\ntls_cert = \"/x.pem\"\n[[clusters]]\nname = \"a\"\nversion = \"8.8\"\n[clusters.orchestration]\nurl = \"http://h:9600\"\n";
    let err = Config::parse(one, "t", &|_| None).unwrap_err().to_string();
    assert!(
        err.starts_with("configuration key `server.tls_key`: is required"),
        "{err}"
    );
    let err = backup_console::tls::acceptor(&fixture("missing.pem"), &fixture("server.key"))
        .err()
        .expect("a missing certificate is refused")
        .to_string();
    assert!(err.starts_with("cannot read the TLS certificate"), "{err}");
    let err = backup_console::tls::acceptor(&fixture("server.pem"), &fixture("ca.pem"))
        .err()
        .expect("a certificate is not a key")
        .to_string();
    assert!(err.starts_with("cannot read the TLS key"), "{err}");
}
