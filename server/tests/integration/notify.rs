//! Notifications (part 8): a webhook receiver on localhost gets a signed `run_failed` and then
//! `resolved`, also when it was down during the failure (the outbox replays it, audited once);
//! an SMTP sink with STARTTLS required receives the mail; "Send test" and the channel list never
//! echo a URL or secret; configuration mistakes name their key.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::HeaderMap;
use backup_console::config::Config;
use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

const SIGNING_KEY: &str = "test-signing-key";

/// What the test receiver got: each request's headers and body.
pub(crate) type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A webhook receiver on `listener`: every POST to `/hook` is recorded when it arrives, then
/// answered 200 after `delay`.
pub(crate) fn serve_receiver(
    listener: tokio::net::TcpListener,
    delay: Duration,
) -> (Received, tokio::task::JoinHandle<()>) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let store = store.clone();
            async move {
                store
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((headers, body));
                tokio::time::sleep(delay).await;
                "ok"
            }
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (received, task)
}

pub(crate) fn bodies(received: &Received) -> Vec<Value> {
    received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap_or(Value::Null))
        .collect()
}

/// How many of the received messages are of `event`.
pub(crate) fn count(received: &Received, event: &str) -> usize {
    bodies(received)
        .iter()
        .filter(|b| b["event"] == event)
        .count()
}

/// A port nothing listens on (bound, read, closed).
pub(crate) async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

fn env_of(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |key| {
        pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }
}

/// The console on `sim` (cluster `test`) with `channels`, looking and retrying every 100 ms.
async fn console_with(
    sim: &camunda_sim::SimCluster,
    channels: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Console {
    start_console_with_env(&config_text(sim, channels), env).await
}

/// The whole configuration of [`console_with`], with a new database.
fn config_text(sim: &camunda_sim::SimCluster, channels: &str) -> String {
    config_text_with(sim, "", channels)
}

/// The same, with more `[notify]` keys (and whatever sections `channels` adds).
pub(crate) fn config_text_with(
    sim: &camunda_sim::SimCluster,
    notify: &str,
    channels: &str,
) -> String {
    let (auth, _) = auth_section("");
    format!(
        "{auth}[catalog]\nmin_refresh_gap_secs = 0\n\
         [notify]\ninterval_ms = 100\nretry_base_ms = 100\nretry_max_ms = 400\n{notify}\
         {}\n{channels}",
        sim.endpoints.console_config("test")
    )
}

/// A receiver on a port of its own that answers at once: what it got, the port, its task.
pub(crate) async fn receiver() -> (Received, u16, tokio::task::JoinHandle<()>) {
    receiver_after(Duration::ZERO).await
}

/// The same, answering each message `delay` after it arrived.
pub(crate) async fn receiver_after(
    delay: Duration,
) -> (Received, u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (received, task) = serve_receiver(listener, delay);
    (received, port, task)
}

/// A webhook channel `name` to a receiver on `port` for `events` (a TOML array).
pub(crate) fn webhook(name: &str, port: u16, events: &str) -> String {
    format!(
        "[[notifications]]\nname = \"{name}\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         events = {events}\n"
    )
}

/// Pauses (hard) or resumes exporting of cluster `test` as the console's admin.
pub(crate) async fn exporting(console: &Console, action: &str) {
    let body = (action == "pause").then(|| json!({"soft": false}));
    let (status, answer) = console
        .call(
            Method::POST,
            &format!("/api/clusters/test/exporting/{action}"),
            Some(&console.session),
            body,
        )
        .await;
    assert_eq!(status, 200, "{action}: {answer}");
}

/// A receiver on a new port and a webhook channel `ops` to it for `events`.
async fn receiver_channel(events: &str) -> (Received, tokio::task::JoinHandle<()>, String) {
    let (received, port, task) = receiver().await;
    let channel = webhook("ops", port, events);
    (received, task, channel)
}

/// Starts a run and waits for its end; `fail` makes the records snapshot fail first. The
/// answer is the run's ID.
pub(crate) async fn run_backup(
    console: &Console,
    sim: &camunda_sim::SimCluster,
    fail: bool,
) -> i64 {
    if fail {
        control(
            sim,
            "/sim/faults",
            json!({"component": "elasticsearch", "operation": "take", "count": 1,
                   "action": {"kind": "status", "status": 500}}),
        )
        .await;
    }
    let (run_id, outcome) = run_to_end(console).await;
    assert_eq!(
        outcome["outcome"],
        if fail { "failed" } else { "completed" },
        "{outcome}"
    );
    run_id
}

/// Starts a run and waits for its end, whatever it comes to: its ID and outcome.
pub(crate) async fn run_to_end(console: &Console) -> (i64, Value) {
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
    let outcome = eventually(Duration::from_secs(30), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        let outcome = run["report"]["outcome"].clone();
        (outcome["outcome"] != "running").then_some(outcome)
    })
    .await;
    (run_id, outcome)
}

fn verify_signature(headers: &HeaderMap, body: &str) {
    let header = headers
        .get("x-backup-console-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no signature header: {headers:?}"));
    let (t, v1) = header
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("malformed signature header {header}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_KEY.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, want, "the signature does not verify");
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "signed {age} s ago");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_gets_a_signed_run_failed_and_then_resolved() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, port, _task) = receiver().await;
    let channel = "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl_env = \"OPS_URL\"\n\
                   secret_env = \"OPS_HMAC\"\nevents = [\"run_failed\", \"resolved\"]\n";
    let env = env_of(vec![
        ("OPS_URL", format!("http://127.0.0.1:{port}/hook")),
        ("OPS_HMAC", SIGNING_KEY.to_string()),
    ]);
    let console = console_with(&sim, channel, &env).await;

    run_backup(&console, &sim, true).await;
    eventually(Duration::from_secs(10), || async {
        (!bodies(&received).is_empty()).then_some(())
    })
    .await;
    let (headers, body) = received.lock().unwrap()[0].clone();
    verify_signature(&headers, &body);
    let failed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(failed["event"], "run_failed", "{failed}");
    assert_eq!(failed["cluster"], "test");
    assert_eq!(failed["resolved"], false);
    assert!(
        failed["summary"].as_str().unwrap().contains("failed"),
        "{failed}"
    );
    assert!(failed["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(
        headers["x-backup-console-delivery"].to_str().unwrap(),
        failed["id"].as_str().unwrap()
    );

    run_backup(&console, &sim, false).await;
    let resolved = eventually(Duration::from_secs(10), || async {
        bodies(&received)
            .into_iter()
            .find(|b| b["event"] == "resolved")
    })
    .await;
    assert_eq!(resolved["condition"], "run_failed", "{resolved}");
    assert_eq!(resolved["resolved"], true);
    let all = received.lock().unwrap().clone();
    for (headers, body) in &all {
        verify_signature(headers, body);
    }
    // Nothing else: one failure, one resolution, whatever the rounds in between.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events: Vec<Value> = bodies(&received)
        .iter()
        .map(|b| b["event"].clone())
        .collect();
    assert_eq!(events, vec![json!("run_failed"), json!("resolved")]);

    let (status, list) = console.get("/api/notifications").await;
    assert_eq!(status, 200, "{list}");
    let ops = &list["channels"][0];
    assert_eq!(ops["name"], "ops");
    assert_eq!(ops["kind"], "webhook");
    assert_eq!(ops["target"], "url from $OPS_URL");
    assert_eq!(ops["pending"], 0);
    assert_eq!(ops["last_delivery"]["outcome"], "delivered", "{list}");
    assert_eq!(ops["last_delivery"]["event"], "resolved", "{list}");
    // A viewer reads it too.
    let viewer = console.session_for("viewer").await;
    let (status, _) = console
        .call(Method::GET, "/api/notifications", Some(&viewer), None)
        .await;
    assert_eq!(status, 200);
}

/// Two consoles on one database (or one console and its restart: the conditions and the outbox
/// are the database's) look at the same state: each message goes out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consoles_on_one_database_send_each_message_once() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, port, _task) = receiver().await;
    let channel = format!(
        "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         events = [\"run_failed\", \"resolved\"]\n"
    );
    let text = config_text(&sim, &channel);
    let console = start_console_with_env(&text, &|_| None).await;
    let config = Config::parse(&text, "second.toml", &|_| None).unwrap();
    let second = backup_console::web::console_for(&config, Path::new("/nonexistent-ui"), false)
        .await
        .expect("the second console starts");

    run_backup(&console, &sim, true).await;
    eventually(Duration::from_secs(10), || async {
        (!bodies(&received).is_empty()).then_some(())
    })
    .await;
    run_backup(&console, &sim, false).await;
    eventually(Duration::from_secs(10), || async {
        (bodies(&received).len() >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let events: Vec<Value> = bodies(&received)
        .iter()
        .map(|b| b["event"].clone())
        .collect();
    assert_eq!(events, vec![json!("run_failed"), json!("resolved")]);
    let (_, audit) = console
        .get("/api/audit?action=notification_delivered")
        .await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 2, "{audit}");
    second.shutdown().await;
}

/// The RPO breached (nothing restorable yet), then met again after a run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breached_rpo_is_notified_and_resolved_when_a_backup_meets_it() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, port, _task) = receiver().await;
    // A Slack channel to the same receiver: its messages are `{"text": ...}`.
    let channel = format!(
        "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         events = [\"rpo_breached\", \"resolved\"]\n\
         [[notifications]]\nname = \"chat\"\nkind = \"slack\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         events = [\"rpo_breached\", \"resolved\"]\n"
    );
    let console = console_with(&sim, &channel, &|_| None).await;
    let breached = eventually(Duration::from_secs(10), || async {
        bodies(&received)
            .into_iter()
            .find(|b| b["event"] == "rpo_breached")
    })
    .await;
    let slack = eventually(Duration::from_secs(10), || async {
        bodies(&received)
            .into_iter()
            .find(|b| b["text"].is_string())
    })
    .await;
    assert_eq!(slack.as_object().unwrap().len(), 1, "{slack}");
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .starts_with("ALERT [test] rpo_breached: "),
        "{slack}"
    );
    assert_eq!(breached["cluster"], "test");
    assert!(
        breached["detail"]
            .as_str()
            .unwrap()
            .contains("no fully restorable"),
        "{breached}"
    );
    run_backup(&console, &sim, false).await;
    let (_, _) = console
        .fresh_get("/api/clusters/test/backups?per_page=1")
        .await;
    let resolved = eventually(Duration::from_secs(10), || async {
        bodies(&received)
            .into_iter()
            .find(|b| b["event"] == "resolved")
    })
    .await;
    assert_eq!(resolved["condition"], "rpo_breached", "{resolved}");
    eventually(Duration::from_secs(10), || async {
        bodies(&received).into_iter().find(|b| {
            b["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("RESOLVED [test] rpo_breached"))
        })
    })
    .await;
    assert_eq!(bodies(&received).len(), 4);
}

/// Teams gets an Adaptive Card; PagerDuty a `trigger` and then a `resolve` on the same
/// `dedup_key`, with the routing key from the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_gets_a_card_and_pagerduty_a_trigger_then_a_resolve() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, port, _task) = receiver().await;
    let channel = format!(
        "[[notifications]]\nname = \"teams\"\nkind = \"teams\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         events = [\"run_failed\", \"resolved\"]\n\
         [[notifications]]\nname = \"pager\"\nkind = \"pagerduty\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         routing_key_env = \"PD_KEY\"\nevents = [\"run_failed\", \"resolved\"]\n"
    );
    let env = env_of(vec![("PD_KEY", "pd-routing-key".to_string())]);
    let console = console_with(&sim, &channel, &env).await;
    run_backup(&console, &sim, true).await;
    eventually(Duration::from_secs(10), || async {
        (bodies(&received).len() >= 2).then_some(())
    })
    .await;
    run_backup(&console, &sim, false).await;
    eventually(Duration::from_secs(10), || async {
        (bodies(&received).len() >= 4).then_some(())
    })
    .await;
    let got = bodies(&received);
    let cards: Vec<&Value> = got.iter().filter(|b| b["type"] == "message").collect();
    let events: Vec<&Value> = got
        .iter()
        .filter(|b| b["event_action"].is_string())
        .collect();
    assert_eq!((cards.len(), events.len()), (2, 2), "{got:?}");
    let title = |card: &Value| {
        card["attachments"][0]["content"]["body"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        cards[0]["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert!(
        title(cards[0]).starts_with("ALERT [test] run_failed: "),
        "{}",
        cards[0]
    );
    assert!(
        title(cards[1]).starts_with("RESOLVED [test] run_failed: "),
        "{}",
        cards[1]
    );
    assert_eq!(events[0]["event_action"], "trigger", "{}", events[0]);
    assert_eq!(events[0]["routing_key"], "pd-routing-key");
    assert_eq!(events[0]["payload"]["severity"], "critical");
    assert_eq!(events[0]["payload"]["component"], "test");
    assert_eq!(events[1]["event_action"], "resolve", "{}", events[1]);
    assert_eq!(events[1]["dedup_key"], events[0]["dedup_key"]);

    // Send test on PagerDuty opens an incident and closes it at once.
    let (status, answer) = console
        .call(
            Method::POST,
            "/api/notifications/pager/test",
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("delivered"))
    );
    let got = bodies(&received);
    let test: Vec<&Value> = got[4..].iter().collect();
    assert_eq!(test.len(), 2, "{got:?}");
    assert_eq!(test[0]["event_action"], "trigger");
    assert_eq!(test[0]["payload"]["severity"], "info");
    assert_eq!(test[1]["event_action"], "resolve");
    assert_eq!(test[1]["dedup_key"], test[0]["dedup_key"]);
    let (_, list) = console.get("/api/notifications").await;
    assert_eq!(
        list["channels"][1]["target"], "url from the configuration file, routing key from $PD_KEY",
        "{list}"
    );
    assert!(!list.to_string().contains("pd-routing-key"), "{list}");
}

/// Exporting paused by hand, with no run, for longer than `paused_after_secs`; then resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_left_paused_is_notified_and_resolved_when_it_runs_again() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, _task, channel) =
        receiver_channel("[\"exporting_still_paused\", \"resolved\"]").await;
    let text = config_text_with(
        &sim,
        "paused_after_secs = 1\n",
        &format!("[status]\npoll_interval_secs = 1\n{channel}"),
    );
    let console = start_console_with_env(&text, &|_| None).await;
    let pause = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/pause",
            Some(&console.session),
            Some(json!({"soft": false})),
        )
        .await;
    assert_eq!(pause.0, 200, "{pause:?}");
    let paused = eventually(Duration::from_secs(10), || async {
        bodies(&received)
            .into_iter()
            .find(|b| b["event"] == "exporting_still_paused")
    })
    .await;
    assert_eq!(paused["cluster"], "test");
    let resume = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/resume",
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(resume.0, 200, "{resume:?}");
    let resolved = eventually(Duration::from_secs(10), || async {
        bodies(&received)
            .into_iter()
            .find(|b| b["event"] == "resolved")
    })
    .await;
    assert_eq!(resolved["condition"], "exporting_still_paused");
    assert_eq!(bodies(&received).len(), 2);
}

/// A due time the scheduler recorded as skipped is one message, with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_due_time_is_notified_once() {
    use backup_domain::schedule::{FireOutcome, ScheduleFire, ScheduleKind};
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, _task, channel) = receiver_channel("[\"schedule_skipped\"]").await;
    let text = config_text(&sim, &channel);
    let console = start_console_with_env(&text, &|_| None).await;
    let config = Config::parse(&text, "t", &|_| None).unwrap();
    let store = backup_console::store::Store::open(&config.database_path()).unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let due_ms = now - now % 60_000;
    let fire = ScheduleFire {
        kind: ScheduleKind::Backup,
        due_ms,
        at_ms: now,
        outcome: FireOutcome::Skipped,
        reason: Some("backup run 7 holds the cluster".into()),
        started_id: None,
    };
    assert!(
        store
            .claim_due("test".into(), fire, "the-test".into())
            .await
            .unwrap()
    );
    let skipped = eventually(Duration::from_secs(10), || async {
        bodies(&received)
            .into_iter()
            .find(|b| b["event"] == "schedule_skipped")
    })
    .await;
    assert_eq!(
        skipped["detail"], "backup run 7 holds the cluster",
        "{skipped}"
    );
    assert!(
        skipped["summary"]
            .as_str()
            .unwrap()
            .contains("scheduled backup"),
        "{skipped}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bodies(&received).len(), 1);
    drop(console);
}

/// A delivery that keeps failing is given up after `give_up_after_secs`, audited once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_failing_past_the_give_up_time_is_given_up_and_audited_once() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let port = closed_port().await;
    let channel = format!(
        "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         events = [\"run_failed\"]\n"
    );
    let text = config_text_with(&sim, "give_up_after_secs = 1\n", &channel);
    let console = start_console_with_env(&text, &|_| None).await;
    run_backup(&console, &sim, true).await;
    let list = eventually(Duration::from_secs(10), || async {
        let (_, list) = console.get("/api/notifications").await;
        (list["channels"][0]["last_delivery"]["outcome"] == "failed").then_some(list)
    })
    .await;
    assert_eq!(list["channels"][0]["pending"], 0, "{list}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, audit) = console.get("/api/audit?action=notification_failed").await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["outcome"], "failure");
    assert!(
        entries[0]["detail"]
            .as_str()
            .unwrap()
            .contains("given up after"),
        "{audit}"
    );
    let (_, delivered) = console
        .get("/api/audit?action=notification_delivered")
        .await;
    assert!(delivered["entries"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_was_down_gets_the_failure_once_from_the_outbox() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let port = closed_port().await;
    let channel = format!(
        "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         events = [\"run_failed\"]\n"
    );
    let console = console_with(&sim, &channel, &|_| None).await;
    run_backup(&console, &sim, true).await;
    // Attempts fail while the receiver is down: the delivery waits in the outbox.
    let list = eventually(Duration::from_secs(10), || async {
        let (_, list) = console.get("/api/notifications").await;
        (list["channels"][0]["last_delivery"]["outcome"] == "retrying").then_some(list)
    })
    .await;
    assert_eq!(list["channels"][0]["pending"], 1, "{list}");
    tokio::time::sleep(Duration::from_millis(600)).await;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let (received, _task) = serve_receiver(listener, Duration::ZERO);
    eventually(Duration::from_secs(10), || async {
        (!bodies(&received).is_empty()).then_some(())
    })
    .await;
    // Several rounds later it is still the one delivery.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got = bodies(&received);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"], "run_failed");

    let audit = eventually(Duration::from_secs(5), || async {
        let (_, audit) = console
            .get("/api/audit?action=notification_delivered")
            .await;
        (!audit["entries"].as_array().unwrap().is_empty()).then_some(audit)
    })
    .await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        1,
        "one row for the delivery, not one per retry: {audit}"
    );
    assert_eq!(entries[0]["target"], "ops");
    assert_eq!(entries[0]["cluster"], "test");
    assert_eq!(entries[0]["outcome"], "success");
    let (_, failed) = console.get("/api/audit?action=notification_failed").await;
    assert!(failed["entries"].as_array().unwrap().is_empty(), "{failed}");
    let (_, list) = console.get("/api/notifications").await;
    assert_eq!(list["channels"][0]["pending"], 0, "{list}");
    assert_eq!(list["channels"][0]["last_delivery"]["outcome"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_and_the_channel_list_never_echo_the_url_or_secret() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let port = closed_port().await;
    let channel = "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl_env = \"OPS_URL\"\n\
                   secret_env = \"OPS_HMAC\"\nevents = [\"run_failed\"]\n\
                   [[notifications]]\nname = \"chat\"\nkind = \"slack\"\nurl_env = \"OPS_URL\"\n";
    let env = env_of(vec![
        (
            "OPS_URL",
            format!("http://127.0.0.1:{port}/hook-SECRET-TOKEN"),
        ),
        ("OPS_HMAC", "HMAC-SECRET-VALUE".to_string()),
    ]);
    let console = console_with(&sim, channel, &env).await;
    let forbidden = [
        "SECRET-TOKEN".to_string(),
        "HMAC-SECRET-VALUE".to_string(),
        "/hook".to_string(),
        format!("127.0.0.1:{port}"),
    ];
    let check = |what: &str, text: &str| {
        for f in &forbidden {
            assert!(!text.contains(f.as_str()), "{what} shows {f}: {text}");
        }
    };

    for name in ["ops", "chat"] {
        let (status, answer) = console
            .call(
                Method::POST,
                &format!("/api/notifications/{name}/test"),
                Some(&console.session),
                None,
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["outcome"], "failed", "{answer}");
        assert_eq!(answer["channel"], name);
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
        check("the test answer", &answer.to_string());
    }
    // An operator may not send one; an unknown channel is named as such.
    let operator = console.session_for("operator").await;
    let (status, _) = console
        .call(
            Method::POST,
            "/api/notifications/ops/test",
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = console
        .call(
            Method::POST,
            "/api/notifications/nope/test",
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("channel_not_found"))
    );

    // A queued delivery that fails shows its error without the URL either.
    run_backup(&console, &sim, true).await;
    let list = eventually(Duration::from_secs(10), || async {
        let (_, list) = console.get("/api/notifications").await;
        (list["channels"][0]["last_delivery"]["outcome"] == "retrying").then_some(list)
    })
    .await;
    let error = list["channels"][0]["last_delivery"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!error.is_empty(), "{list}");
    check("the channel list", &list.to_string());
    assert_eq!(list["channels"][0]["target"], "url from $OPS_URL");

    let (_, audit) = console.get("/api/audit?action=notification_tested").await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{audit}");
    assert!(entries.iter().all(|e| e["outcome"] == "failure"), "{audit}");
    check("the audit log", &audit.to_string());
}

/// The SMTP sink: Python's aiosmtpd on localhost with STARTTLS required (the fixture
/// certificate), writing each message into a directory. Started once per test binary; it ends
/// when the binary does (its stdin closes).
fn smtp_sink() -> &'static (u16, PathBuf) {
    static SINK: OnceLock<(u16, PathBuf, std::process::Child)> = OnceLock::new();
    let (port, dir, _) = SINK.get_or_init(|| {
        use std::io::BufRead;
        let probe = std::process::Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output();
        match probe {
            Ok(out) if out.status.success() => {}
            _ => panic!(
                "the SMTP sink needs Python's aiosmtpd: run scripts/setup.sh (python3 -m pip install aiosmtpd)"
            ),
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("bc-smtp-sink-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut child = std::process::Command::new("python3")
            .args(["-c", SINK_SCRIPT])
            .arg(port.to_string())
            .arg(&dir)
            .arg(fixtures.join("server.pem"))
            .arg(fixtures.join("server.key"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY", "the SMTP sink did not start: {line}");
        // The child (and so its stdin pipe) lives as long as the static: to the binary's end.
        (port, dir, child)
    });
    // Only the port and directory are handed out; the process stays in the static.
    static VIEW: OnceLock<(u16, PathBuf)> = OnceLock::new();
    VIEW.get_or_init(|| (*port, dir.clone()))
}

const SINK_SCRIPT: &str = r#"
import ssl, sys, os, itertools, logging
# aiosmtpd logs a warning when it sets its own deprecated Session.login_data.
logging.getLogger("mail.log").setLevel(logging.ERROR)
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
port, out, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
counter = itertools.count()
def authenticator(server, session, envelope, mechanism, auth_data):
    ok = mechanism == "PLAIN" and auth_data.login == b"mailer" and auth_data.password == b"MAIL-PASSWORD"
    return AuthResult(success=ok, handled=False, auth_data=auth_data)
class Sink:
    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        with open(os.path.join(out, f"{os.getpid()}-{n}.eml"), "wb") as f:
            f.write(("X-Rcpt: " + ",".join(envelope.rcpt_tos) + "\r\n").encode())
            f.write(("X-TLS: " + str(session.ssl is not None) + "\r\n").encode())
            login = getattr(session.auth_data, "login", None)
            login = login.decode() if login else "-"
            f.write(("X-Login: " + login + "\r\n").encode())
            f.write(envelope.original_content or envelope.content)
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
               authenticator=authenticator, auth_require_tls=True)
c.start()
print("READY", flush=True)
sys.stdin.read()
c.stop()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_channel_delivers_over_starttls_to_an_smtp_sink() {
    let (port, dir) = smtp_sink().clone();
    let sim = start_sim(VersionProfile::V88, 0).await;
    let to = format!("ops-{}@example.com", std::process::id());
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ca.pem");
    let channel = format!(
        "[[notifications]]\nname = \"mail\"\nkind = \"email\"\nsmtp_host = \"localhost\"\n\
         smtp_port = {port}\nfrom = \"console@example.com\"\nto = [\"{to}\"]\nca_file = {:?}\n\
         events = [\"run_failed\"]\n",
        ca.display().to_string()
    );
    let console = console_with(&sim, &channel, &|_| None).await;
    run_backup(&console, &sim, true).await;
    let mail = eventually(Duration::from_secs(15), || async {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .find(|m| m.contains(&to))
    })
    .await;
    assert!(mail.contains("X-TLS: True"), "{mail}");
    assert!(mail.contains("run_failed"), "{mail}");
    assert!(mail.contains("Subject: [backup-console] test:"), "{mail}");
    assert!(mail.contains("From: console@example.com"), "{mail}");
    let (_, list) = console.get("/api/notifications").await;
    assert_eq!(
        list["channels"][0]["target"],
        format!("smtp localhost:{port} (STARTTLS required), 1 recipient(s)")
    );
    let delivered = eventually(Duration::from_secs(5), || async {
        let (_, list) = console.get("/api/notifications").await;
        (list["channels"][0]["last_delivery"]["outcome"] == "delivered").then_some(list)
    })
    .await;
    assert_eq!(delivered["channels"][0]["pending"], 0);

    // "Send test" goes the same way.
    let (status, answer) = console
        .call(
            Method::POST,
            "/api/notifications/mail/test",
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "delivered", "{answer}");
}

/// With credentials the channel logs in (AUTH PLAIN, after STARTTLS); wrong ones fail the send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_channel_with_credentials_logs_in_after_starttls() {
    let (port, dir) = smtp_sink().clone();
    let sim = start_sim(VersionProfile::V88, 0).await;
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ca.pem");
    let to = format!("auth-{}@example.com", std::process::id());
    let channel = |name: &str, user_env: &str| {
        format!(
            "[[notifications]]\nname = \"{name}\"\nkind = \"email\"\nsmtp_host = \"localhost\"\n\
             smtp_port = {port}\nfrom = \"console@example.com\"\nto = [\"{to}\"]\nca_file = {:?}\n\
             username_env = \"{user_env}\"\npassword_env = \"SMTP_PASSWORD\"\nevents = [\"run_failed\"]\n",
            ca.display().to_string()
        )
    };
    let env = env_of(vec![
        ("SMTP_USER", "mailer".to_string()),
        ("WRONG_USER", "intruder".to_string()),
        ("SMTP_PASSWORD", "MAIL-PASSWORD".to_string()),
    ]);
    let channels = format!(
        "{}{}",
        channel("mail", "SMTP_USER"),
        channel("wrong", "WRONG_USER")
    );
    let console = console_with(&sim, &channels, &env).await;
    let send = |name: &'static str| {
        let console = &console;
        async move {
            let (status, answer) = console
                .call(
                    Method::POST,
                    &format!("/api/notifications/{name}/test"),
                    Some(&console.session),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{answer}");
            answer
        }
    };
    let answer = send("mail").await;
    assert_eq!(answer["outcome"], "delivered", "{answer}");
    let mail = eventually(Duration::from_secs(10), || async {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .find(|m| m.contains(&to))
    })
    .await;
    assert!(mail.contains("X-Login: mailer"), "{mail}");
    assert!(mail.contains("X-TLS: True"), "{mail}");
    let refused = send("wrong").await;
    assert_eq!(refused["outcome"], "failed", "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("AUTH"),
        "{refused}"
    );
    assert!(!refused.to_string().contains("MAIL-PASSWORD"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_without_starttls_gets_nothing_when_it_is_required() {
    // A plain listener that greets and offers no STARTTLS; it records what it was sent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(String::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        while let Ok((socket, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 plain ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    log.lock().unwrap().push_str(&format!("{line}\n"));
                    let reply: &[u8] = if line.starts_with("EHLO") {
                        b"250-plain\r\n250 AUTH PLAIN\r\n"
                    } else if line.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else {
                        b"250 OK\r\n"
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    let sim = start_sim(VersionProfile::V88, 0).await;
    let channel = format!(
        "[[notifications]]\nname = \"mail\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\n\
         smtp_port = {port}\nfrom = \"console@example.com\"\nto = [\"ops@example.com\"]\n\
         username_env = \"SMTP_USER\"\npassword_env = \"SMTP_PASSWORD\"\n"
    );
    let env = env_of(vec![
        ("SMTP_USER", "u".to_string()),
        ("SMTP_PASSWORD", "SMTP-PASSWORD-VALUE".to_string()),
    ]);
    let console = console_with(&sim, &channel, &env).await;
    let (status, answer) = console
        .call(
            Method::POST,
            "/api/notifications/mail/test",
            Some(&console.session),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "failed", "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("STARTTLS"),
        "{answer}"
    );
    let seen = seen.lock().unwrap().clone();
    assert!(
        !seen.contains("AUTH"),
        "credentials went out in the clear: {seen}"
    );
    assert!(!seen.contains("MAIL FROM"), "{seen}");
}

#[test]
fn configuration_mistakes_name_their_key() {
    let cluster = "[[clusters]]\nname = \"prod\"\nversion = \"8.8\"\n[clusters.orchestration]\nurl = \"http://h:9600\"\n";
    let cases = [
        (
            "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://h/\"\nevents = [\"run_failed\", \"backup_late\"]\n",
            "configuration key `notifications.ops.events`: `backup_late` is not an event",
        ),
        (
            "[[notifications]]\nname = \"mail\"\nkind = \"email\"\nsmtp_host = \"smtp.example.com\"\nfrom = \"a@example.com\"\n",
            "configuration key `notifications.mail.to`: is required",
        ),
        (
            "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://h/\"\nurl_env = \"OPS_URL\"\n",
            "configuration key `notifications.ops.url`: give url or url_env, not both",
        ),
    ];
    for (channels, want) in cases {
        let err = Config::parse(&format!("{cluster}{channels}"), "c.toml", &|key| {
            (key == "OPS_URL").then(|| "http://h/".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(err.starts_with(want), "{err}\nwanted: {want}");
    }
}
