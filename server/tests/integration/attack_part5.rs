//! Hostile review of part 5 (enveloped extractors, live stream limits, the status poller,
//! origin/session hardening, the reused Argon2 buffer). Tests marked `// FAILED before the fix:` show a
//! problem on the current code and pass once it is fixed; the others pin what holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use camunda_sim::SimCluster;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn raw(
    console: &Console,
    session: &Session,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = console
        .http
        .request(method, format!("{}{path}", console.base))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header("x-requested-with", "backup-console");
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.body(body).send().await.expect("console answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn is_envelope(body: &Value) -> bool {
    body["error"]["code"]
        .as_str()
        .is_some_and(|c| !c.is_empty())
        && body["error"]["message"].as_str().is_some()
}

async fn audit_len(console: &Console) -> usize {
    let (_, audit) = console.get("/api/audit?limit=100000").await;
    audit["entries"].as_array().map_or(0, Vec::len)
}

// ---------------------------------------------------------------------------------------------
// 1. Enveloped extractors
// ---------------------------------------------------------------------------------------------

// FAILED before the fix: server/src/api/extract.rs read_object parses into serde_json::Value, whose map
// keeps the LAST of duplicate keys. `{"soft": true, "soft": false}` is a hard pause (exporting
// stops) although a reader (a log, a WAF, a reviewer) taking the first value sees a soft pause.
// A strict reader refuses duplicate keys.
#[tokio::test]
async fn a_body_with_a_duplicate_key_is_refused_and_pauses_nothing() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let operator = console.login("operator", PASSWORD).await.unwrap();
    let (status, body) = raw(
        &console,
        &operator,
        Method::POST,
        "/api/clusters/test/exporting/pause",
        Some("application/json"),
        br#"{"soft": true, "soft": false}"#.to_vec(),
    )
    .await;
    let phases_after = phases(&sim).await;
    // Leave the simulator as it was whatever happened.
    control(&sim, "/sim/exporting", json!({"phase": "EXPORTING"})).await;
    assert_eq!(
        status, 400,
        "duplicate keys must be refused; got {status} {body}, exporting now {phases_after:?}"
    );
    assert!(is_envelope(&body), "{body}");
    assert!(
        phases_after.iter().all(|p| p == "EXPORTING"),
        "{phases_after:?}"
    );
}

// FAILED before the fix: server/src/api/audit.rs AuditQuery has no deny_unknown_fields, and ApiQuery
// (extract.rs) does not track ignored keys as `fit` does for bodies: `?usr=alice` (a typo)
// silently means "no user filter" and returns every user's rows, the very "typo reads as unset"
// the body extractor was made to refuse.
#[tokio::test]
async fn an_unknown_audit_query_parameter_is_refused_not_ignored() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let (status, body) = console.get("/api/audit?usr=nobody").await;
    assert_eq!(
        status, 400,
        "a misspelt filter must not read as unset: {body}"
    );
    assert!(is_envelope(&body), "{body}");
}

#[tokio::test]
async fn hostile_bodies_and_paths_are_refused_with_the_envelope_and_change_nothing() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let operator = console.login("operator", PASSWORD).await.unwrap();
    let audit_before = audit_len(&console).await;
    let deep = format!("{{\"backup_id\": {}1{}}}", "[".repeat(300), "]".repeat(300));
    let mut latin1 = br#"{"backup_id": ""#.to_vec();
    latin1.push(0xE9);
    latin1.extend_from_slice(br#""}"#);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("application/json", deep.into_bytes(), 400),
        ("application/json", br#"{"backup_id": 1e400}"#.to_vec(), 400),
        (
            "application/json",
            br#"{"backup_id": 18446744073709551616}"#.to_vec(),
            400,
        ),
        ("application/json", br#"{"backup_id": 5.5}"#.to_vec(), 400),
        ("application/json", br#"{"backup_id": -5}"#.to_vec(), 400),
        ("application/json", br#"{"backup_id": 0}"#.to_vec(), 400),
        ("application/json", b"\xEF\xBB\xBF{}".to_vec(), 400),
        ("application/json; charset=latin1", latin1, 400),
        ("text/plain", b"{}".to_vec(), 415),
        (
            "application/x-www-form-urlencoded",
            b"backup_id=5".to_vec(),
            415,
        ),
    ];
    for (ct, body, expected) in cases {
        let shown = String::from_utf8_lossy(&body)
            .chars()
            .take(60)
            .collect::<String>();
        let (status, answer) = raw(
            &console,
            &operator,
            Method::POST,
            "/api/clusters/test/runs",
            Some(ct),
            body,
        )
        .await;
        assert_eq!(status, expected, "{ct} {shown}: {answer}");
        assert!(is_envelope(&answer), "{ct} {shown}: {answer}");
    }
    // Paths: percent-encoded slashes, invalid UTF-8, negative and overflowing IDs.
    for (path, expected) in [
        ("/api/clusters/a%2Fb/backups", 404),
        ("/api/clusters/%FF/backups", 400),
        ("/api/runs/-1", 404),
        ("/api/runs/99999999999999999999", 400),
        ("/api/cleanups/1e3", 400),
        ("/api/audit?from=yesterday", 400),
        ("/api/audit?user=a&user=b", 400),
    ] {
        let (status, answer) = console.get(path).await;
        assert_eq!(status, expected, "{path}: {answer}");
        assert!(is_envelope(&answer), "{path}: {answer}");
    }
    // Nothing started, nothing audited.
    let (_, latest) = console.get("/api/clusters/test/runs/latest").await;
    assert_eq!(latest, Value::Null, "no run was started");
    assert_eq!(audit_len(&console).await, audit_before, "no audit row");
    assert!(phases(&sim).await.iter().all(|p| p == "EXPORTING"));
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_answers_413_with_the_envelope() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let addr = console.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/clusters/test/runs HTTP/1.1\r\nHost: {addr}\r\nCookie: {}\r\nX-CSRF-Token: {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        console.session.cookie, console.session.csrf
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 65_536, " ".repeat(65_536));
    for _ in 0..48 {
        // The server may answer and close before the whole body is sent.
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 413"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(text.contains("\"error\""), "{text}");
    let (_, latest) = console.get("/api/clusters/test/runs/latest").await;
    assert_eq!(latest, Value::Null);
}

// ---------------------------------------------------------------------------------------------
// 2. Live stream limits
// ---------------------------------------------------------------------------------------------

// FAILED before the fix: server/src/api/streams.rs buckets password users by session (the token hash,
// runs.rs `events`), and a successful login is not rate limited, so one viewer (the lowest
// role) logs in 64 times, opens 4 streams per session and holds all 256: every other user,
// including the operator running the backup, gets 429 too_many_streams until the run ends.
// A proxy user is bucketed by user name; a password user should be too (per user, not only
// per session).
#[tokio::test]
async fn one_viewer_cannot_take_every_live_stream_slot_by_logging_in_again() {
    use backup_console::api::streams::StreamLimits;
    let sim = start_sim(VersionProfile::V88, 0).await;
    let mut slow = fast_timings();
    slow.zeebe_backup_ms = 60_000;
    control(&sim, "/sim/settings", json!({"timings": slow})).await;
    let console = console_for(&sim).await;
    let operator = console.login("operator", PASSWORD).await.unwrap();
    let (status, started) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&operator),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    let open = |cookie: String| {
        let http = console.http.clone();
        let url = format!("{}/api/runs/{run_id}/events", console.base);
        async move { http.get(url).header("cookie", cookie).send().await.unwrap() }
    };
    let sessions = StreamLimits::TOTAL / StreamLimits::PER_USER;
    let mut held = Vec::new();
    'outer: for _ in 0..sessions {
        let viewer = console
            .login("viewer", PASSWORD)
            .await
            .expect("viewer logs in");
        for _ in 0..StreamLimits::PER_USER {
            let response = open(viewer.cookie.clone()).await;
            if response.status().as_u16() != 200 {
                break 'outer;
            }
            held.push(response);
        }
    }
    let viewer_streams = held.len();
    let other = open(operator.cookie.clone()).await;
    let other_status = other.status().as_u16();
    drop(other);
    drop(held);
    let _ = console
        .call(
            Method::POST,
            &format!("/api/runs/{run_id}/cancel"),
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(
        other_status, 200,
        "the viewer holds {viewer_streams} streams and the operator following its own run is refused"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Status poller
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Counter {
    upstream: String,
    reads: Arc<AtomicUsize>,
}

async fn partitions(State(c): State<Counter>) -> Response {
    c.reads.fetch_add(1, Ordering::SeqCst);
    let answer = reqwest::Client::new()
        .get(format!("{}/actuator/partitions", c.upstream))
        .send()
        .await
        .expect("sim answers");
    let status = answer.status().as_u16();
    let body = answer.bytes().await.unwrap_or_default();
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn console_with_counter(sim: &SimCluster, status: &str) -> (Console, Counter) {
    let counter = Counter {
        upstream: sim.endpoints.zeebe.clone(),
        reads: Arc::new(AtomicUsize::new(0)),
    };
    let app = axum::Router::new()
        .route("/actuator/partitions", axum::routing::get(partitions))
        .with_state(counter.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let cluster = sim.endpoints.console_config("test");
    let url_line = format!("url = \"{}\"\n", sim.endpoints.zeebe);
    assert!(cluster.contains(&url_line), "{cluster}");
    let cluster = cluster.replacen(
        &url_line,
        &format!("{url_line}brokers = [\"{proxy}\"]\n"),
        1,
    );
    let console = start_console(&format!("[status]\n{status}\n{cluster}")).await;
    (console, counter)
}

// FAILED before the fix: server/src/api/status.rs refresh_after takes the cluster from the raw,
// percent-encoded path (`split('/').nth(3)`), while the handler's ApiPath decodes it. A pause
// sent to `/api/clusters/te%73t/exporting/pause` pauses cluster `test` but refreshes no poller,
// so the Overview keeps showing EXPORTING for up to a whole interval after a successful pause.
#[tokio::test]
async fn a_pause_through_a_percent_encoded_cluster_name_refreshes_its_status() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (console, _) =
        console_with_counter(&sim, "poll_interval_secs = 60\nprobe_timeout_secs = 1").await;
    let operator = console.login("operator", PASSWORD).await.unwrap();
    let (_, before) = console.get("/api/clusters/test/status").await;
    assert_eq!(before["phase"], "exporting", "{before}");
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/te%73t/exporting/pause",
            Some(&operator),
            Some(json!({"soft": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, after) = console.get("/api/clusters/test/status").await;
    control(&sim, "/sim/exporting", json!({"phase": "EXPORTING"})).await;
    assert_eq!(
        after["phase"], "soft_paused",
        "the pause succeeded but the status was not refreshed: {after}"
    );
}

// FAILED before the fix: server/src/api/status.rs refresh_after asks for a round after every non-2xx
// answer ("a failed call may still have changed something upstream"), including a body the
// extractor refused before anything was sent. An operator (or a script retrying a bad body)
// turns the shared, interval-bound poller into back-to-back upstream rounds.
#[tokio::test]
async fn a_refused_pause_body_starts_no_upstream_status_round() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (console, counter) =
        console_with_counter(&sim, "poll_interval_secs = 60\nprobe_timeout_secs = 1").await;
    let operator = console.login("operator", PASSWORD).await.unwrap();
    let (code, _) = console.get("/api/clusters/test/status").await;
    assert_eq!(code, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let first = counter.reads.load(Ordering::SeqCst);
    for _ in 0..20 {
        let (status, _) = raw(
            &console,
            &operator,
            Method::POST,
            "/api/clusters/test/exporting/pause",
            Some("application/json"),
            b"[]".to_vec(),
        )
        .await;
        assert_eq!(status, 400);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let extra = counter.reads.load(Ordering::SeqCst) - first;
    assert_eq!(
        extra, 0,
        "20 refused bodies (nothing sent upstream) caused {extra} extra exporting reads"
    );
}

#[tokio::test]
async fn many_viewers_share_rounds_and_an_upstream_failure_never_reads_exporting() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (console, counter) =
        console_with_counter(&sim, "poll_interval_secs = 60\nprobe_timeout_secs = 1").await;
    let (code, _) = console.get("/api/clusters/test/status").await;
    assert_eq!(code, 200);
    let first = counter.reads.load(Ordering::SeqCst);
    let reads =
        futures_util::future::join_all((0..30).map(|_| console.get("/api/clusters/test/status")))
            .await;
    assert!(reads.iter().all(|(c, _)| *c == 200));
    assert_eq!(
        counter.reads.load(Ordering::SeqCst),
        first,
        "viewers start no round"
    );
    // A resume that fails upstream refreshes; partitions answering 500 read unknown.
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "partitions", "action": {"kind": "status", "status": 500}}),
    )
    .await;
    let (status, _) = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/resume",
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, after) = console.get("/api/clusters/test/status").await;
    assert_eq!(after["phase"], "unknown", "{after}");
}

// ---------------------------------------------------------------------------------------------
// 5. Origin checks and sessions
// ---------------------------------------------------------------------------------------------

/// A mutating request with no session: 403 when the origin check refuses it, 401 when it passes
/// the origin check and is refused for want of a session.
async fn origin_verdict(console: &Console, host: Option<&str>, origin: &[u8]) -> u16 {
    let mut request = console
        .http
        .post(format!("{}/api/clusters/test/rebalance", console.base))
        .header(
            "origin",
            reqwest::header::HeaderValue::from_bytes(origin).unwrap(),
        );
    if let Some(h) = host {
        request = request.header("host", h);
    }
    request.send().await.unwrap().status().as_u16()
}

// FAILED before the fix: server/src/api/guard.rs origin_matches: an Origin that is not visible ASCII
// (`to_str()` fails) is treated as no Origin at all and the request passes the origin check.
// A header that is there but unreadable should be refused like `null`.
#[tokio::test]
async fn an_unreadable_origin_header_is_refused_not_ignored() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    assert_eq!(
        origin_verdict(&console, None, b"https://evil.example").await,
        403
    );
    assert_eq!(
        origin_verdict(&console, None, b"https://evil.example/\xC3\xA9").await,
        403,
        "a non-ASCII Origin skipped the origin check"
    );
}

// FAILED before the fix: server/src/api/guard.rs same_site takes the scheme from the Origin itself, so with
// `[server] https_only = true` an `http://console.example` page (plain HTTP on the console's
// host, which https_only says never legitimately exists) matches `Host: console.example`.
#[tokio::test]
async fn with_https_only_a_plain_http_origin_is_cross_site() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (auth, _) = auth_section("");
    let console = start_console_with(&format!(
        "[server]\nhttps_only = true\n{auth}{}",
        sim.endpoints.console_config("test")
    ))
    .await;
    let host = Some("console.example");
    assert_eq!(
        origin_verdict(&console, host, b"https://console.example").await,
        401
    );
    assert_eq!(
        origin_verdict(&console, host, b"http://console.example").await,
        403,
        "an http:// page passed the origin check of an https-only console"
    );
}

#[tokio::test]
async fn origin_edge_cases_that_hold() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let h = Some("console.example");
    assert_eq!(origin_verdict(&console, h, b"null").await, 403);
    assert_eq!(
        origin_verdict(&console, h, b"http://console.example.").await,
        403
    );
    assert_eq!(
        origin_verdict(&console, h, b"http://console.example.evil").await,
        403
    );
    assert_eq!(
        origin_verdict(&console, h, b"http://Console.Example:80").await,
        401
    );
    // Browsers serialise an IDN origin as punycode; raw UTF-8 in the header is unreadable and
    // refused like any other unreadable Origin.
    assert_eq!(
        origin_verdict(
            &console,
            Some("xn--bcher-kva.example"),
            b"http://xn--bcher-kva.example"
        )
        .await,
        401
    );
    assert_eq!(
        origin_verdict(
            &console,
            Some("xn--bcher-kva.example"),
            "http://bücher.example".as_bytes()
        )
        .await,
        403
    );
    assert_eq!(
        origin_verdict(&console, Some("[::1]:8080"), b"http://[::1]:8080").await,
        401
    );
    assert_eq!(
        origin_verdict(&console, Some("[::1]:8080"), b"http://[::2]:8080").await,
        403
    );
}

#[tokio::test]
async fn a_user_removed_then_readded_with_a_new_password_keeps_no_old_session() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let cluster = sim.endpoints.console_config("test");
    let (auth, _db) = auth_section("");
    let first = start_console_with(&format!("{auth}{cluster}")).await;
    let viewer = first.login("viewer", PASSWORD).await.unwrap();
    assert_eq!(
        first
            .call(Method::GET, "/api/session", Some(&viewer), None)
            .await
            .0,
        200
    );
    drop(first);
    // Removed (the session is not used meanwhile)...
    let viewer_block = format!(
        "[[auth.users]]\nname = \"viewer\"\npassword_hash = \"{}\"\nrole = \"viewer\"\n",
        password_hash()
    );
    assert!(auth.contains(&viewer_block));
    let without = auth.replace(&viewer_block, "");
    drop(start_console_with(&format!("{without}{cluster}")).await);
    // ...and re-added with another password.
    let other = backup_console::auth::password::hash_password("another password").unwrap();
    let readded = format!(
        "{without}[[auth.users]]\nname = \"viewer\"\npassword_hash = \"{other}\"\nrole = \"viewer\"\n"
    );
    let third = start_console_with(&format!("{readded}{cluster}")).await;
    let (status, body) = third
        .call(Method::GET, "/api/session", Some(&viewer), None)
        .await;
    assert_eq!(status, 401, "the old session still works: {body}");
}

// ---------------------------------------------------------------------------------------------
// 6. The reused Argon2 buffer
// ---------------------------------------------------------------------------------------------

#[test]
fn one_verifier_agrees_with_argon2_across_unusual_parameters_in_any_order() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};
    use backup_console::auth::password::Verifier;
    let hash = |alg, version, m, t, p, len: usize, password: &str| {
        let params = Params::new(m, t, p, Some(len)).unwrap();
        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        Argon2::new(alg, version, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    };
    let hashes = [
        hash(Algorithm::Argon2id, Version::V0x13, 4096, 3, 4, 32, "pw"),
        hash(Algorithm::Argon2id, Version::V0x13, 8, 1, 1, 10, "pw"),
        hash(Algorithm::Argon2id, Version::V0x13, 64, 5, 8, 64, "pw"),
        hash(Algorithm::Argon2i, Version::V0x10, 256, 2, 2, 16, "pw"),
        hash(Algorithm::Argon2d, Version::V0x13, 1024, 1, 3, 32, "pw"),
        hash(Algorithm::Argon2id, Version::V0x13, 4096, 3, 4, 32, "pw"),
    ];
    let mut verifier = Verifier::default();
    for round in 0..2 {
        for h in hashes.iter().chain(hashes.iter().rev()) {
            assert!(verifier.verify("pw", h).unwrap(), "round {round}: {h}");
            assert!(!verifier.verify("pW", h).unwrap(), "round {round}: {h}");
        }
    }
    assert_eq!(verifier.memory_bytes(), 4096 * 1024);
}

// ---------------------------------------------------------------------------------------------
// 4. The runnable script: everything recorded stays data
// ---------------------------------------------------------------------------------------------

/// A real run's report with shell metacharacters planted in everything recorded (the cluster
/// name, step descriptions, skipped notes, every URL's query, every answer and error), turned
/// into the script and run with bash against a stub curl that answers every call with success:
/// no planted command runs, and every step still replays.
#[tokio::test]
async fn nothing_recorded_in_a_transcript_runs_as_a_command_in_the_script() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let (status, started) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    let run = eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] != "running").then_some(run)
    })
    .await;
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
    let dir = std::env::temp_dir().join(format!("bc-attack5-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let m = dir.display().to_string();
    let payload = format!(
        "$(touch {m}/m1)`touch {m}/m2`'; touch {m}/m3; '\"; touch {m}/m4; \"\ntouch {m}/m5\n${{IFS}}$'\\x41'"
    );
    let mut report = run["report"].clone();
    assert!(!report["transcript"].as_array().unwrap().is_empty());
    for e in report["transcript"].as_array_mut().unwrap() {
        let url = e["url"].as_str().unwrap().to_string();
        let sep = if url.contains('?') { '&' } else { '?' };
        e["url"] = json!(format!("{url}{sep}x={payload}"));
        e["response"] = json!(payload);
        e["error"] = json!(payload);
    }
    for s in report["steps"].as_array_mut().unwrap() {
        s["description"] = json!(format!("{} {payload}", s["description"].as_str().unwrap()));
        s["detail"] = json!(payload);
    }
    report["skipped"] = json!([payload]);
    let report: backup_domain::run::RunReport = serde_json::from_value(report).unwrap();
    let script = backup_domain::run::curl_script(&format!("test {payload}"), &report);
    let stub = format!(
        "#!/bin/bash\nurl=; w=0\nfor a in \"$@\"; do case $a in http*) url=$a;; -w) w=1;; esac; done\n\
         echo \"$url\" >> {m}/calls\n\
         if [[ $url == */actuator/partitions* ]]; then body='[{{\"exporterPhase\":\"SOFT_PAUSED\"}}]';\n\
         else body='{{\"state\":\"COMPLETED\",\"snapshots\":[{{\"state\":\"SUCCESS\"}}],\"status\":204}}'; fi\n\
         printf '%s' \"$body\"; if ((w)); then printf '\\n200'; fi\n"
    );
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("curl"), stub).unwrap();
    std::fs::write(dir.join("backup.sh"), &script).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("chmod +x {m}/bin/curl && bash {m}/backup.sh"))
        .env("PATH", path)
        .env("BACKUP_ID", "1700000001")
        .env("POLL_SLEEP", "0")
        .output()
        .unwrap();
    let planted: Vec<String> = (1..=5)
        .map(|n| format!("{m}/m{n}"))
        .filter(|f| std::path::Path::new(f).exists())
        .collect();
    let calls = std::fs::read_to_string(dir.join("calls")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        planted.is_empty(),
        "planted commands ran: {planted:?}\n{script}"
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}\n{script}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(calls.lines().count() >= 8, "{calls}");
    assert!(
        calls.contains("touch"),
        "the planted query went to curl as data: {calls}"
    );
}

/// Ctrl-C while the script waits with exporting paused runs the trap: exporting is resumed and
/// the script exits 130.
#[tokio::test]
async fn sigint_during_a_wait_after_the_pause_resumes_exporting() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let (status, started) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] == "completed").then_some(())
    })
    .await;
    let script = console
        .http
        .get(format!("{}/api/runs/{run_id}/script", console.base))
        .header("cookie", &console.session.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("bc-attack5-int-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let m = dir.display().to_string();
    // Everything completes until the pause is sent; after it, every wait stays in progress.
    let stub = format!(
        "#!/bin/bash\nurl=; w=0\nfor a in \"$@\"; do case $a in http*) url=$a;; -w) w=1;; esac; done\n\
         echo \"$url\" >> {m}/calls\n\
         if [[ $url == */exporting/* ]]; then body='{{\"status\":204}}';\n\
         elif [[ $url == */actuator/partitions* ]]; then body='[{{\"exporterPhase\":\"SOFT_PAUSED\"}}]';\n\
         elif grep -q /exporting/pause {m}/calls; then body='{{\"state\":\"IN_PROGRESS\",\"snapshots\":[{{\"state\":\"IN_PROGRESS\"}}]}}';\n\
         else body='{{\"state\":\"COMPLETED\",\"snapshots\":[{{\"state\":\"SUCCESS\"}}]}}'; fi\n\
         printf '%s' \"$body\"; if ((w)); then printf '\\n200'; fi\n"
    );
    std::fs::write(dir.join("bin/curl"), stub).unwrap();
    std::fs::write(dir.join("backup.sh"), &script).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(format!("{m}/bin/curl"))
        .status()
        .unwrap();
    let path = format!("{m}/bin:{}", std::env::var("PATH").unwrap_or_default());
    let mut child = std::process::Command::new("bash")
        .arg(format!("{m}/backup.sh"))
        .env("PATH", path)
        .env("BACKUP_ID", "1700000002")
        .env("POLL_SLEEP", "0.1")
        .env("RESUME_ATTEMPTS", "2")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let calls = || std::fs::read_to_string(format!("{m}/calls")).unwrap_or_default();
    let paused_and_polling = eventually(Duration::from_secs(15), || async {
        let c = calls();
        let after = c
            .split_once("/exporting/pause")
            .map(|(_, rest)| rest.lines().count());
        after.filter(|n| *n >= 3).map(|_| c)
    })
    .await;
    assert!(!paused_and_polling.contains("/exporting/resume"));
    std::process::Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let after = calls();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status.code(), Some(130), "{after}");
    assert!(
        after
            .split_once("/exporting/pause")
            .unwrap()
            .1
            .contains("/exporting/resume"),
        "the trap did not resume exporting: {after}"
    );
}
