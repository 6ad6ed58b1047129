//! Hostile review of part 8's notifications: conditions that flap, channels added or missing
//! on one database, replaced occurrences, a hanging receiver. A failing test here is a finding.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::notify::{
    Received, bodies, closed_port, config_text_with, count, exporting, receiver, run_backup,
    webhook,
};
use backup_console::config::Config;
use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use reqwest::Method;
use serde_json::{Value, json};

/// A receiver that accepts connections and never answers.
async fn hanging_receiver() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

/// A condition that flaps (raised, resolved, raised again) is a new occurrence each time: the
/// second raise must reach the receiver, with an `id` the receiver has not seen (it drops
/// copies by `id`), and so must its `resolved`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_paused_again_after_it_was_resolved_is_notified_again() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, port, _task) = receiver().await;
    let text = config_text_with(
        &sim,
        "paused_after_secs = 1\n",
        &format!(
            "[status]\npoll_interval_secs = 1\n{}",
            webhook("ops", port, "[\"exporting_still_paused\", \"resolved\"]")
        ),
    );
    let console = start_console_with_env(&text, &|_| None).await;
    for round in 1..=2 {
        exporting(&console, "pause").await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while count(&received, "exporting_still_paused") < round {
            assert!(
                Instant::now() < deadline,
                "raise number {round} never arrived: {:?}",
                bodies(&received)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        exporting(&console, "resume").await;
        eventually(Duration::from_secs(10), || async {
            (count(&received, "resolved") >= round).then_some(())
        })
        .await;
    }
    let ids: Vec<Value> = bodies(&received).iter().map(|b| b["id"].clone()).collect();
    let mut unique = ids.clone();
    unique.sort_by_key(|v| v.to_string());
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "a receiver drops repeated ids: {ids:?}"
    );
}

/// `resolved` goes only to channels that were sent the condition (README, Notifications). A
/// channel added to the configuration while a condition is active is told of it first (it
/// holds now), then gets its `resolved`; never a `resolved` alone, and no older occurrence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_added_later_gets_no_resolved_for_a_condition_it_never_got() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (old, old_port, _t1) = receiver().await;
    let (new, new_port, _t2) = receiver().await;
    let events = "[\"rpo_breached\", \"resolved\"]";
    let text = config_text_with(&sim, "", &webhook("old", old_port, events));
    // The first console: nothing is restorable yet, so the RPO is breached and `old` is told.
    let config = Config::parse(&text, "first.toml", &|_| None).unwrap();
    let first = backup_console::web::console_for(&config, Path::new("/nonexistent-ui"), false)
        .await
        .expect("the first console starts");
    eventually(Duration::from_secs(10), || async {
        (count(&old, "rpo_breached") == 1).then_some(())
    })
    .await;
    first.shutdown().await;
    drop(first);

    // The same database, with a channel added: it is told of the breach that holds.
    let text = format!("{text}{}", webhook("new", new_port, events));
    let console = start_console_with_env(&text, &|_| None).await;
    eventually(Duration::from_secs(10), || async {
        (count(&new, "rpo_breached") == 1).then_some(())
    })
    .await;
    assert_eq!(
        count(&old, "rpo_breached"),
        1,
        "the old channel was told twice"
    );
    run_backup(&console, &sim, false).await;
    let _ = console
        .fresh_get("/api/clusters/test/backups?per_page=1")
        .await;
    eventually(Duration::from_secs(10), || async {
        (count(&old, "resolved") == 1).then_some(())
    })
    .await;
    eventually(Duration::from_secs(10), || async {
        (count(&new, "resolved") == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids = |r: &Received| {
        bodies(r)
            .iter()
            .map(|b| b["id"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    // The same occurrence, the same ids, on both channels: raise first, then resolved.
    assert_eq!(ids(&new), ids(&old), "{:?}", bodies(&new));
}

/// Two failed runs and then a completed one: PagerDuty was sent a `trigger` per failed run,
/// each on its own `dedup_key`; the completed run must resolve every incident it opened, not
/// only the last (README: "so the incident closes itself").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pagerduty_incident_opened_for_a_failed_run_is_resolved() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, port, _task) = receiver().await;
    let channel = format!(
        "[[notifications]]\nname = \"pager\"\nkind = \"pagerduty\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         routing_key_env = \"PD_KEY\"\nevents = [\"run_failed\", \"resolved\"]\n"
    );
    let text = config_text_with(&sim, "", &channel);
    let console = start_console_with_env(&text, &|key| {
        (key == "PD_KEY").then(|| "pd-routing-key".to_string())
    })
    .await;
    let actions = |action: &'static str| {
        let received = received.clone();
        move || {
            bodies(&received)
                .into_iter()
                .filter(|b| b["event_action"] == action)
                .map(|b| b["dedup_key"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        }
    };
    for n in 1..=2 {
        run_backup(&console, &sim, true).await;
        eventually(Duration::from_secs(10), || async {
            (actions("trigger")().len() >= n).then_some(())
        })
        .await;
    }
    run_backup(&console, &sim, false).await;
    eventually(Duration::from_secs(10), || async {
        (!actions("resolve")().is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // PagerDuty keeps one incident per dedup_key: the second failure adds to the first's.
    let mut triggered = actions("trigger")();
    let mut resolved = actions("resolve")();
    triggered.sort();
    triggered.dedup();
    resolved.sort();
    resolved.dedup();
    assert_eq!(
        resolved, triggered,
        "an incident PagerDuty opened is never resolved"
    );
    assert_eq!(triggered.len(), 1, "{triggered:?}");
}

/// Two consoles on one database whose configurations differ (a rolling change adding a
/// channel, or a console that lists other channels): the one that does not know a channel
/// must not take that channel's deliveries and give them up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_without_a_channel_does_not_give_up_its_deliveries() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let port = closed_port().await;
    let (_other, other_port, _t) = receiver().await;
    let ops = webhook("ops", port, "[\"run_failed\"]");
    let text = config_text_with(&sim, "", &ops);
    // The console that has `ops` (its receiver is down) ...
    let config = Config::parse(&text, "first.toml", &|_| None).unwrap();
    let first = backup_console::web::console_for(&config, Path::new("/nonexistent-ui"), false)
        .await
        .expect("the first console starts");
    // ... and one on the same database with another channel only.
    let second_text = text.replace(
        &ops,
        &webhook("other", other_port, "[\"schedule_skipped\"]"),
    );
    assert_ne!(second_text, text);
    let console = start_console_with_env(&second_text, &|_| None).await;
    run_backup(&console, &sim, true).await;
    let store = backup_console::store::Store::open(&config.database_path()).unwrap();
    eventually(Duration::from_secs(10), || async {
        let (pending, last) = store.channel_deliveries("ops".into()).await.unwrap();
        (pending == 1 && last.is_some()).then_some(())
    })
    .await;
    // The first console stops (a restart, a rolling upgrade): the second one goes on alone.
    first.shutdown().await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let (pending, last) = store.channel_deliveries("ops".into()).await.unwrap();
    let (_, failed) = console.get("/api/audit?action=notification_failed").await;
    assert_eq!(
        pending, 1,
        "the delivery was given up by a console that does not know the channel: {last:?} {failed}"
    );
}

/// A receiver that hangs holds its attempt for 10 s; that must not hold the other channels'
/// messages or the next look at the clusters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_does_not_delay_another_channels_messages() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, port, _t1) = receiver().await;
    let (slow_port, _t2) = hanging_receiver().await;
    let events = "[\"run_failed\", \"resolved\"]";
    let text = config_text_with(
        &sim,
        "",
        &format!(
            "{}{}",
            webhook("ops", port, events),
            webhook("slow", slow_port, events)
        ),
    );
    let console = start_console_with_env(&text, &|_| None).await;
    run_backup(&console, &sim, true).await;
    eventually(Duration::from_secs(10), || async {
        (count(&received, "run_failed") == 1).then_some(())
    })
    .await;
    // The slow channel's attempt of the same message is now hanging.
    run_backup(&console, &sim, false).await;
    let ended = Instant::now();
    eventually(Duration::from_secs(20), || async {
        (count(&received, "resolved") == 1).then_some(())
    })
    .await;
    let waited = ended.elapsed();
    assert!(
        waited < Duration::from_secs(3),
        "the healthy channel's resolved waited {waited:?} behind the hanging receiver"
    );
}

/// A skipped due time has no `resolved`: sent to PagerDuty as a `trigger`, it opens an incident
/// that nothing ever closes (one more per skipped due time, e.g. every due time of a
/// maintenance window). A one-off event must not leave an incident open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_due_time_leaves_no_pagerduty_incident_open() {
    use backup_domain::schedule::{FireOutcome, ScheduleFire, ScheduleKind};
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, port, _task) = receiver().await;
    let channel = format!(
        "[[notifications]]\nname = \"pager\"\nkind = \"pagerduty\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         routing_key_env = \"PD_KEY\"\nevents = [\"schedule_skipped\", \"resolved\"]\n"
    );
    let text = config_text_with(&sim, "", &channel);
    let env = |key: &str| (key == "PD_KEY").then(|| "pd-routing-key".to_string());
    let console = start_console_with_env(&text, &env).await;
    let config = Config::parse(&text, "t", &env).unwrap();
    let store = backup_console::store::Store::open(&config.database_path()).unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    // A due time that maintenance mode suspended is not news: nothing is sent for it.
    let suspended = ScheduleFire {
        kind: ScheduleKind::Backup,
        due_ms: now - now % 60_000 - 60_000,
        at_ms: now - 1,
        outcome: FireOutcome::Skipped,
        reason: Some(backup_console::maintenance::refusal(
            &backup_domain::schedule::Maintenance {
                since_ms: now - 3_600_000,
                by: "admin".into(),
                reason: Some("upgrade".into()),
            },
        )),
        started_id: None,
    };
    assert!(
        store
            .claim_due("test".into(), suspended, "the-test".into())
            .await
            .unwrap()
    );
    let fire = ScheduleFire {
        kind: ScheduleKind::Backup,
        due_ms: now - now % 60_000,
        at_ms: now,
        outcome: FireOutcome::Skipped,
        reason: Some("the cluster is in maintenance: upgrade".into()),
        started_id: None,
    };
    assert!(
        store
            .claim_due("test".into(), fire, "the-test".into())
            .await
            .unwrap()
    );
    eventually(Duration::from_secs(10), || async {
        bodies(&received)
            .iter()
            .any(|b| b["event_action"] == "trigger")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let keys = |action: &str| {
        bodies(&received)
            .into_iter()
            .filter(|b| b["event_action"] == action)
            .map(|b| b["dedup_key"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys("resolve"),
        keys("trigger"),
        "the skipped due time's incident is left open"
    );
    assert_eq!(keys("trigger").len(), 1, "{:?}", bodies(&received));
    drop(console);
}

/// A plain SMTP server on localhost: the first connection is dropped in the middle of DATA,
/// later ones take the message. Answers the whole DATA of every accepted message.
async fn flaky_smtp() -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let store = got.clone();
    tokio::spawn(async move {
        let mut connection = 0;
        while let Ok((socket, _)) = listener.accept().await {
            connection += 1;
            let drop_mid_data = connection == 1;
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 fake ESMTP\r\n").await;
                let mut data = None::<String>;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            store.lock().unwrap().push(data.take().unwrap());
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                            if drop_mid_data && body.len() > 40 {
                                return;
                            }
                        }
                        continue;
                    }
                    let reply: &[u8] =
                        match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
                            "EHLO" => b"250-fake\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go on\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 ok\r\n",
                        };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, got)
}

/// Held up: a mail server that drops the connection in the middle of DATA gets the message
/// again, whole, and the delivery is audited once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_dropping_mid_data_gets_the_message_whole_on_the_retry() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (port, got) = flaky_smtp().await;
    let channel = format!(
        "[[notifications]]\nname = \"mail\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\n\
         smtp_port = {port}\nstarttls = \"off\"\nfrom = \"console@example.com\"\n\
         to = [\"ops@example.com\"]\nevents = [\"run_failed\"]\n"
    );
    let text = config_text_with(&sim, "", &channel);
    let console = start_console_with_env(&text, &|_| None).await;
    run_backup(&console, &sim, true).await;
    eventually(Duration::from_secs(10), || async {
        (!got.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mails = got.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0].contains("Subject: [backup-console] test: backup run"),
        "{}",
        mails[0]
    );
    assert!(
        mails[0].contains("(event run_failed, id test:run_failed:run-1:"),
        "{}",
        mails[0]
    );
    let (_, audit) = console
        .get("/api/audit?action=notification_delivered")
        .await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert!(
        entries[0]["detail"]
            .as_str()
            .unwrap()
            .contains("after 2 attempt(s)"),
        "{audit}"
    );
}

/// README: `starttls = "off"` is "only for a relay on localhost". A remote server with it off
/// would get every message (cluster names, failure reasons) in plain text over the network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_off_is_refused_for_a_mail_server_that_is_not_on_localhost() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let channel = "[[notifications]]\nname = \"mail\"\nkind = \"email\"\nsmtp_host = \"smtp.example.com\"\n\
                   starttls = \"off\"\nfrom = \"console@example.com\"\nto = [\"ops@example.com\"]\n";
    let text = config_text_with(&sim, "", channel);
    let parsed = Config::parse(&text, "t.toml", &|_| None);
    let error = parsed.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.contains("notifications.mail.starttls"),
        "accepted plain SMTP to a remote server: {error:?}"
    );
}

/// A run ended with exporting still paused (notified, then resolved when exporting ran again).
/// Later someone pauses exporting by hand and leaves it: that is a new occurrence. It is
/// taken for the old run's (the reference is the last ended run, `run-N`) and its message has
/// the id of the one already delivered, so nothing is sent, then or ever, until another run ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_pause_after_a_run_left_exporting_paused_is_still_notified() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (received, port, _task) = receiver().await;
    let text = config_text_with(
        &sim,
        "paused_after_secs = 1\n",
        &format!(
            "[status]\npoll_interval_secs = 1\n[procedure]\nresume_deadline_secs = 1\n{}",
            webhook("ops", port, "[\"exporting_still_paused\", \"resolved\"]")
        ),
    );
    let console = start_console_with_env(&text, &|_| None).await;
    control(
        &sim,
        "/sim/faults",
        json!({"component": "exporting", "operation": "resume",
               "action": {"kind": "status", "status": 500}}),
    )
    .await;
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
    eventually(Duration::from_secs(30), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] == "exporting_still_paused").then_some(())
    })
    .await;
    eventually(Duration::from_secs(10), || async {
        (count(&received, "exporting_still_paused") == 1).then_some(())
    })
    .await;
    let _ = reqwest::Client::new()
        .delete(format!("{}/sim/faults", sim.endpoints.control))
        .send()
        .await;
    exporting(&console, "resume").await;
    eventually(Duration::from_secs(10), || async {
        (count(&received, "resolved") == 1).then_some(())
    })
    .await;

    exporting(&console, "pause").await;
    let deadline = Instant::now() + Duration::from_secs(8);
    while count(&received, "exporting_still_paused") < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count(&received, "exporting_still_paused"),
        2,
        "exporting paused by hand for 8 s (paused_after_secs = 1) was never notified: {:?}",
        bodies(&received)
    );
}

/// "Send test" is how an admin finds out what is wrong with a channel: a name that does not
/// resolve and a port that refuses must say so, not only "error sending request".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_says_why_the_request_failed() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let port = closed_port().await;
    let channels = format!(
        "{}[[notifications]]\nname = \"dns\"\nkind = \"webhook\"\nurl = \"http://no-such-host.invalid/hook\"\n",
        webhook("refused", port, "[\"run_failed\"]")
    );
    let text = config_text_with(&sim, "", &channels);
    let console = start_console_with_env(&text, &|_| None).await;
    let mut errors = Vec::new();
    for name in ["refused", "dns"] {
        let (status, answer) = console
            .call(
                Method::POST,
                &format!("/api/notifications/{name}/test"),
                Some(&console.session),
                None,
            )
            .await;
        assert_eq!((status, answer["outcome"].as_str()), (200, Some("failed")));
        errors.push(answer["error"].as_str().unwrap_or_default().to_lowercase());
    }
    assert!(
        errors[0].contains("refused")
            && (errors[1].contains("dns") || errors[1].contains("resolve")),
        "{errors:?}"
    );
}
