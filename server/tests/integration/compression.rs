//! Answers are gzipped when the client accepts it, except those that carry the session's CSRF
//! token (login and session), which must not be compressed beside reflected text (BREACH).

use std::io::Read;

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use serde_json::Value;

/// GET `path` as the admin with or without `Accept-Encoding: gzip`: the status, the
/// `Content-Encoding` and the body, ungzipped when it came gzipped.
async fn get(console: &Console, path: &str, gzip: bool) -> (u16, Option<String>, Vec<u8>) {
    let mut request = console
        .http
        .get(format!("{}{path}", console.base))
        .header("cookie", &console.session.cookie);
    if gzip {
        request = request.header("accept-encoding", "gzip");
    }
    let response = request.send().await.expect("console answers");
    let status = response.status().as_u16();
    let encoding = response
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let raw = response.bytes().await.expect("body").to_vec();
    let body = if encoding.as_deref() == Some("gzip") {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut plain)
            .expect("a gzip body");
        plain
    } else {
        raw
    };
    (status, encoding, body)
}

#[tokio::test]
async fn the_history_is_gzipped_when_accepted_and_reads_the_same() {
    let sim = start_sim(VersionProfile::V88, 40).await;
    let console = console_for(&sim).await;
    let path = "/api/clusters/test/backups";
    let (status, encoding, plain) = get(&console, path, false).await;
    assert_eq!((status, encoding), (200, None));
    let (status, encoding, unzipped) = get(&console, path, true).await;
    assert_eq!((status, encoding.as_deref()), (200, Some("gzip")));
    let a: Value = serde_json::from_slice(&plain).unwrap();
    let b: Value = serde_json::from_slice(&unzipped).unwrap();
    assert!(a["sets"].as_array().map_or(0, Vec::len) > 30, "{a}");
    assert_eq!(a["sets"], b["sets"]);
}

#[tokio::test]
async fn answers_carrying_the_csrf_token_are_never_compressed() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let (status, encoding, body) = get(&console, "/api/session", true).await;
    assert_eq!((status, encoding), (200, None));
    let session: Value = serde_json::from_slice(&body).unwrap();
    assert!(session["csrf_token"].is_string(), "{session}");
    let response = console
        .http
        .post(format!("{}/api/login", console.base))
        .header("x-requested-with", "backup-console")
        .header("accept-encoding", "gzip")
        .json(&serde_json::json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .expect("console answers");
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().get("content-encoding").is_none());
    let login: Value = response.json().await.unwrap();
    assert!(login["csrf_token"].is_string(), "{login}");
}
