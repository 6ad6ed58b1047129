//! The restore runbook over real HTTP against the simulator (8.7 and 8.8), and through the built
//! binary's `runbook` command: every snapshot the detail lists is in it, the deployment's facts
//! fill it, unknown ones are marked, and a missing set answers 404 with the envelope.

use std::path::PathBuf;
use std::process::Command;

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use camunda_sim::SimCluster;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_backup-console");

const DEPLOYMENT: &str = "\n[clusters.deployment]\nhelm_release = \"camunda-prod\"\nnamespace = \"camunda-ns\"\nchart_version = \"12.13.3\"\nvalues_file = \"values-prod.yaml\"\nbackup_store = \"s3\"\nbackup_store_bucket = \"zeebe-backups\"\nbackup_store_secret = \"s3-credentials\"\n";

/// A GET that keeps the body as text, with the headers.
async fn get_text(
    console: &Console,
    session: &Session,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let r = console
        .http
        .get(format!("{}{path}", console.base))
        .header("cookie", &session.cookie)
        .send()
        .await
        .expect("console answers");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap_or_default())
}

/// Every snapshot name and partition snapshot the detail view shows for `id`.
async fn names_in_detail(console: &Console, id: u64) -> Vec<String> {
    let (status, body) = console
        .get(&format!("/api/clusters/test/backups/{id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let mut names = Vec::new();
    for c in body["set"]["components"].as_array().into_iter().flatten() {
        for p in c["parts"].as_array().into_iter().flatten() {
            names.extend(p["name"].as_str().map(str::to_string));
        }
        for p in c["partitions"].as_array().into_iter().flatten() {
            names.extend(p["snapshot_id"].as_str().map(str::to_string));
        }
    }
    names
}

async fn backed_up(profile: VersionProfile, id: u64, components: &[&str]) -> SimCluster {
    let sim = start_sim(profile, 0).await;
    take_backup(&sim, id, components).await;
    settle().await;
    sim
}

#[tokio::test]
async fn a_87_runbook_names_every_snapshot_and_the_deployment() {
    let all = ["operate", "tasklist", "optimize", "records", "zeebe"];
    let sim = backed_up(VersionProfile::V87, 100, &all).await;
    let console = start_console(&format!(
        "{}{DEPLOYMENT}",
        sim.endpoints.console_config("test")
    ))
    .await;
    let names = names_in_detail(&console, 100).await;
    assert!(
        names.iter().any(|n| n.starts_with("camunda_operate_100_")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n == "camunda_zeebe_records_backup_100"),
        "{names:?}"
    );

    // A viewer may read it.
    let viewer = console.session_for("viewer").await;
    let (status, headers, md) =
        get_text(&console, &viewer, "/api/clusters/test/backups/100/runbook").await;
    assert_eq!(status, 200, "{md}");
    assert_eq!(headers["content-type"], "text/markdown; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        md.starts_with("# Restore runbook: backup 100 of cluster test\n"),
        "{md}"
    );
    for name in &names {
        assert!(
            md.contains(name.as_str()),
            "{name} missing from the runbook"
        );
    }
    // The deployment's facts, in the 8.7 procedure's own keys and variables.
    assert!(md.contains(
        "helm upgrade \"camunda-prod\" camunda/camunda-platform --namespace \"camunda-ns\""
    ));
    assert!(md.contains("--version \"12.13.3\" -f \"values-prod.yaml\""));
    assert!(md.contains("zeebeGateway:\n  enabled: false"));
    assert!(md.contains(
        "- name: ZEEBE_BROKER_DATA_BACKUP_S3_BUCKETNAME\n      value: \"zeebe-backups\""
    ));
    assert!(md.contains("the secret `s3-credentials`"));
    // Elasticsearch and the repository come from the cluster's own section.
    assert!(
        md.contains(&format!(
            "\"{}/_snapshot/camunda/camunda_operate_100_",
            sim.endpoints.elasticsearch.trim_end_matches('/')
        )),
        "{md}"
    );
    assert!(!md.contains("<HELM_RELEASE>"));

    let (status, headers, sh) = get_text(
        &console,
        &viewer,
        "/api/clusters/test/backups/100/runbook?format=sh",
    )
    .await;
    assert_eq!(status, 200, "{sh}");
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"restore-test-100.sh\""
    );
    assert!(sh.starts_with("#!/bin/sh\n"));
    for name in &names {
        assert!(sh.contains(name.as_str()), "{name} missing from the script");
    }
    assert!(sh.contains("HELM_RELEASE='camunda-prod'"));
}

#[tokio::test]
async fn an_unknown_set_or_format_answers_the_envelope() {
    let sim = backed_up(VersionProfile::V88, 100, &["zeebe", "webapps"]).await;
    let console = console_for(&sim).await;
    let (status, body) = console.get("/api/clusters/test/backups/999/runbook").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "backup_not_found");
    let (status, body) = console
        .get("/api/clusters/test/backups/100/runbook?format=pdf")
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("format"),
        "{body}"
    );
    let (status, body) = console.get("/api/clusters/nope/backups/100/runbook").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "cluster_not_found");
}

#[tokio::test]
async fn a_88_runbook_marks_what_the_file_does_not_say_and_a_failed_set_first() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    control(
        &sim,
        "/sim/outcome",
        json!({"component": "zeebe", "outcome": "failed"}),
    )
    .await;
    take_backup(&sim, 200, &["zeebe", "webapps", "optimize", "records"]).await;
    settle().await;
    let console = console_for(&sim).await;
    let (status, _, md) = get_text(
        &console,
        &console.session,
        "/api/clusters/test/backups/200/runbook",
    )
    .await;
    assert_eq!(status, 200, "{md}");
    let first_warning = md.lines().nth(2).unwrap_or_default();
    assert!(
        first_warning.starts_with("> **WARNING:** This set is NOT restorable"),
        "{md}"
    );
    // No [clusters.deployment]: every fact it would hold is a placeholder, listed at the top.
    assert!(md.contains("HELM_RELEASE ([clusters.deployment] helm_release)"));
    assert!(md.contains("helm upgrade \"<HELM_RELEASE>\""));
    assert!(md.contains("orchestration:\n  enabled: false"));
    assert!(md.contains("- name: SPRING_PROFILES_ACTIVE\n      value: \"restore\""));
    for name in names_in_detail(&console, 200).await {
        assert!(
            md.contains(name.as_str()),
            "{name} missing from the runbook"
        );
    }
}

/// A configuration file for the simulated cluster `test`, with its database beside it.
fn config_file(sim: &SimCluster, extra: &str) -> PathBuf {
    let (auth, db) = auth_section("");
    let path = db.with_file_name("console.toml");
    std::fs::write(
        &path,
        format!("{auth}{}{extra}", sim.endpoints.console_config("test")),
    )
    .unwrap();
    path
}

fn runbook_cli(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(["runbook", "--config"])
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_prints_the_runbook_and_exits_like_the_other_commands() {
    let sim = backed_up(
        VersionProfile::V87,
        300,
        &["operate", "tasklist", "records", "zeebe"],
    )
    .await;
    let config = config_file(&sim, DEPLOYMENT);
    let path = config.clone();
    let (code, md, err) = tokio::task::spawn_blocking(move || {
        runbook_cli(&path, &["--cluster", "test", "--id", "300"])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        md.starts_with("# Restore runbook: backup 300 of cluster test\n"),
        "{md}"
    );
    assert!(md.contains("camunda_tasklist_300_"));
    assert!(md.contains("camunda_zeebe_records_backup_300"));

    let path = config.clone();
    let (code, sh, err) = tokio::task::spawn_blocking(move || {
        runbook_cli(
            &path,
            &["--cluster", "test", "--id", "300", "--format", "sh"],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(sh.starts_with("#!/bin/sh\n"));
    // The script it prints is valid shell.
    let file = config.with_file_name("runbook.sh");
    std::fs::write(&file, &sh).unwrap();
    let syntax = Command::new("sh").arg("-n").arg(&file).status().unwrap();
    assert!(syntax.success());
    // Run, it stops at the first question when nobody answers, before any command ran.
    let (code, log) = run_script(&file, "");
    assert_ne!(code, 0);
    assert!(log.is_empty(), "ran {log}");
    // Answered `yes`, it runs the read-only checks and stops at the next question (no `yes` left).
    let (_, log) = run_script(&file, "yes\n");
    assert!(log.starts_with("kubectl config current-context\n"), "{log}");
    assert!(
        !log.contains("DELETE") && !log.contains("helm upgrade"),
        "{log}"
    );

    for (args, code_wanted, says) in [
        (
            vec!["--cluster", "test", "--id", "999"],
            2,
            "holds backup 999",
        ),
        (
            vec!["--cluster", "nope", "--id", "300"],
            2,
            "no cluster named `nope`",
        ),
        (vec!["--cluster", "test", "--id", "x"], 2, ""),
        (
            vec!["--cluster", "test", "--id", "300", "--format", "pdf"],
            2,
            "md or sh",
        ),
    ] {
        let path = config.clone();
        let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (code, out, err) = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
            runbook_cli(&path, &refs)
        })
        .await
        .unwrap();
        assert_eq!(code, code_wanted, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?} printed {out}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// Runs a runbook script with `kubectl`, `helm`, `curl` and the PostgreSQL tools replaced by
/// stubs that only log their arguments; returns the exit code and that log.
fn run_script(script: &std::path::Path, stdin: &str) -> (i32, String) {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = script.with_file_name(format!("stubs-{}", stdin.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("calls.log");
    let _ = std::fs::remove_file(&log);
    for tool in ["kubectl", "helm", "curl", "psql", "pg_restore"] {
        let stub = dir.join(tool);
        std::fs::write(
            &stub,
            format!("#!/bin/sh\necho \"{tool} $*\" >> '{}'\n", log.display()),
        )
        .unwrap();
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:/usr/bin:/bin", dir.display());
    let mut child = Command::new("sh")
        .arg(script)
        .current_dir(&dir)
        .env("PATH", path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (code, std::fs::read_to_string(&log).unwrap_or_default())
}

#[tokio::test]
async fn a_script_with_an_unknown_fact_refuses_to_start() {
    let sim = backed_up(VersionProfile::V88, 400, &["zeebe", "webapps"]).await;
    let config = config_file(&sim, "");
    let path = config.clone();
    let (code, sh, err) = tokio::task::spawn_blocking(move || {
        runbook_cli(
            &path,
            &["--cluster", "test", "--id", "400", "--format", "sh"],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(sh.contains("HELM_RELEASE='__FILL_IN__'"));
    let file = config.with_file_name("unfilled.sh");
    std::fs::write(&file, &sh).unwrap();
    let (code, log) = run_script(&file, "yes\nyes\nyes\n");
    assert_eq!(code, 2, "refused as unfilled");
    assert!(log.is_empty(), "ran {log}");
    // Filled in, it goes on.
    let filled = sh.replace("='__FILL_IN__'", "='filled'");
    std::fs::write(&file, filled).unwrap();
    let (_, log) = run_script(&file, "yes\n");
    assert!(log.contains("helm -n filled status filled"), "{log}");
}

#[test]
fn a_deployment_key_it_cannot_use_is_named() {
    let (auth, _) = auth_section("");
    let base = format!(
        "{auth}[[clusters]]\nname = \"c\"\nversion = \"8.8\"\n[clusters.orchestration]\nurl = \"http://localhost:9600\"\n[clusters.deployment]\n"
    );
    for (line, key) in [
        (
            "backup_store = \"tape\"",
            "clusters.c.deployment.backup_store",
        ),
        (
            "elasticsearch_url = \"http://u:p@es:9200\"",
            "clusters.c.deployment.elasticsearch_url",
        ),
        (
            "context_path = \"camunda\"",
            "clusters.c.deployment.context_path",
        ),
        ("helm = \"x\"", "helm"),
    ] {
        let text = format!("{base}{line}\n");
        let error = backup_console::config::Config::parse(&text, "t.toml", &|_| None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains(key), "{line}: {error}");
        assert!(
            !error.contains(":p@"),
            "the password is not repeated: {error}"
        );
    }
    let ok = format!("{base}backup_store = \"gcs\"\ncontext_path = \"/camunda/\"\n");
    assert!(backup_console::config::Config::parse(&ok, "t.toml", &|_| None).is_ok());
}
