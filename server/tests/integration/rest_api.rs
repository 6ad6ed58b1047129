//! The 8.10 REST API (`api = "rest"`): the simulator's `/v2` contract, and the console over it
//! with HTTP Basic: history, a full backup, a cleanup, a 403 naming the missing permission, and
//! the REST credentials never sent to the management port.

use std::time::Duration;

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use camunda_sim::{SimCluster, SimConfig, SimRest};
use reqwest::Method;
use serde_json::{Value, json};

const USER: &str = "backup-console";
const PASSWORD_REST: &str = "rest-secret-7f3a";

async fn rest_sim(seed: usize) -> SimCluster {
    let mut config = SimConfig::new(VersionProfile::V88);
    config.timings = fast_timings();
    config.seed_count = seed;
    config.rest = Some(SimRest {
        username: USER.into(),
        password: PASSWORD_REST.into(),
        jwks_url: None,
    });
    SimCluster::start(config).await.expect("simulator starts")
}

/// The console on `cluster_config`, with the REST credentials in its environment only.
async fn console_on(sim: &SimCluster, cluster_config: &str) -> Console {
    let (auth, _) = auth_section("");
    let text = format!("{auth}[catalog]\nmin_refresh_gap_secs = 0\n{cluster_config}");
    let endpoints = sim.endpoints.clone();
    start_console_with_env(&text, &move |k| endpoints.env(k)).await
}

async fn rest_state(sim: &SimCluster) -> Value {
    reqwest::get(format!("{}/sim/rest/state", sim.endpoints.control))
        .await
        .expect("sim answers")
        .json()
        .await
        .expect("JSON")
}

async fn permissions(sim: &SimCluster, grant: &[&str], revoke: &[&str]) {
    control(
        sim,
        "/sim/rest/permissions",
        json!({"user": USER, "grant": grant, "revoke": revoke}),
    )
    .await;
}

fn rest_url(sim: &SimCluster, path: &str) -> String {
    format!(
        "{}{path}",
        sim.endpoints.rest.as_deref().expect("REST served")
    )
}

async fn rest_call(
    sim: &SimCluster,
    method: Method,
    path: &str,
    body: Option<Value>,
    password: &str,
) -> (u16, String, Value) {
    let mut request = reqwest::Client::new()
        .request(method, rest_url(sim, path))
        .basic_auth(USER, Some(password));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("sim answers");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        kind,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_simulated_rest_api_follows_the_v2_contract() {
    let sim = rest_sim(0).await;
    // No or wrong credentials: 401 problem+json.
    let (status, kind, body) =
        rest_call(&sim, Method::GET, "/backups/runtime", None, "wrong").await;
    assert_eq!(status, 401);
    assert_eq!(kind, "application/problem+json");
    assert_eq!(body["status"], 401);

    // Take: 202 with {backupId}; the actuator sees the same backup.
    let (status, _, body) = rest_call(
        &sim,
        Method::POST,
        "/backups/runtime",
        Some(json!({"backupId": 500})),
        PASSWORD_REST,
    )
    .await;
    assert_eq!((status, &body), (202, &json!({"backupId": 500})));
    let actuator: Value = reqwest::get(format!("{}/actuator/backupRuntime", sim.endpoints.zeebe))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = eventually(Duration::from_secs(5), || async {
        let (_, _, list) =
            rest_call(&sim, Method::GET, "/backups/runtime", None, PASSWORD_REST).await;
        (!list.as_array()?.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(listed[0]["backupId"], 500);
    let info = listed[0].as_object().unwrap();
    for key in ["backupId", "state", "failureReason", "details"] {
        assert!(info.contains_key(key), "BackupInfo lacks {key}: {listed}");
    }
    let partition = listed[0]["details"][0].as_object().unwrap();
    assert!(partition.contains_key("firstLogPosition"), "{listed}");
    assert!(
        actuator.as_array().is_some(),
        "the actuator answers the same state: {actuator}"
    );
    // The same or a lower ID: 409.
    let (status, kind, _) = rest_call(
        &sim,
        Method::POST,
        "/backups/runtime",
        Some(json!({"backupId": 500})),
        PASSWORD_REST,
    )
    .await;
    assert_eq!((status, kind.as_str()), (409, "application/problem+json"));

    // History: the ID is always required; 202 with the scheduled snapshots.
    let (status, _, _) = rest_call(
        &sim,
        Method::POST,
        "/backups/history",
        Some(json!({})),
        PASSWORD_REST,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, body) = rest_call(
        &sim,
        Method::POST,
        "/backups/history",
        Some(json!({"backupId": 500})),
        PASSWORD_REST,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["backupId"], 500);
    assert_eq!(body["scheduledSnapshots"].as_array().unwrap().len(), 5);
    let actuator_history: Value = reqwest::get(format!(
        "{}/actuator/backupHistory/500",
        sim.endpoints.zeebe
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(actuator_history["backupId"], 500, "{actuator_history}");

    // Exporting: a real 204, seen by the management port's partitions.
    let (status, _, _) = rest_call(
        &sim,
        Method::POST,
        "/exporting/pause?soft=true",
        None,
        PASSWORD_REST,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(phases(&sim).await, vec!["SOFT_PAUSED"; 3]);
    let (status, _, _) =
        rest_call(&sim, Method::POST, "/exporting/resume", None, PASSWORD_REST).await;
    assert_eq!(status, 204);
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);

    // A revoked permission: 403 problem+json; granted again, the call goes through.
    permissions(&sim, &[], &["BACKUP:DELETE"]).await;
    let (status, kind, body) = rest_call(
        &sim,
        Method::DELETE,
        "/backups/runtime/500",
        None,
        PASSWORD_REST,
    )
    .await;
    assert_eq!((status, kind.as_str()), (403, "application/problem+json"));
    assert!(
        body["detail"].as_str().unwrap().contains("DELETE"),
        "{body}"
    );
    permissions(&sim, &["BACKUP:DELETE"], &[]).await;
    let (status, _, _) = rest_call(
        &sim,
        Method::DELETE,
        "/backups/runtime/500",
        None,
        PASSWORD_REST,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = rest_call(
        &sim,
        Method::GET,
        "/backups/runtime/500",
        None,
        PASSWORD_REST,
    )
    .await;
    assert_eq!(status, 404);

    // The management port counts the Authorization headers it gets (the console sends none).
    assert_eq!(rest_state(&sim).await["management_authorization"], 0);
    let r = reqwest::Client::new()
        .get(format!("{}/actuator/partitions", sim.endpoints.zeebe))
        .basic_auth(USER, Some(PASSWORD_REST))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(rest_state(&sim).await["management_authorization"], 1);
}

#[tokio::test]
async fn the_history_is_read_over_rest_and_a_403_names_the_permission() {
    let sim = rest_sim(6).await;
    let config = sim.endpoints.console_config("test");
    assert!(config.contains("api = \"rest\""), "{config}");
    let console = console_on(&sim, &config).await;
    let (status, history) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(status, 200, "{history}");
    assert!(history["sets"].as_array().unwrap().len() >= 6, "{history}");
    assert!(history.get("component_errors").is_none(), "{history}");
    assert_eq!(
        history["exporting"]["partitions"].as_array().unwrap().len(),
        3
    );

    // Without BACKUP:READ the listing fails, and says which permission is missing.
    permissions(&sim, &[], &["BACKUP:READ"]).await;
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    let errors = history["component_errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{history}");
    assert!(
        errors
            .iter()
            .all(|e| e["message"].as_str().unwrap().contains("BACKUP:READ")),
        "{history}"
    );
    let state = rest_state(&sim).await;
    assert_eq!(state["management_authorization"], 0, "{state}");
    assert_eq!(state["unauthorized"], 0, "{state}");
}

async fn run_ends(console: &Console, run_id: i64) -> Value {
    eventually(Duration::from_secs(20), || async {
        let (_, run) = console.get(&format!("/api/runs/{run_id}")).await;
        (run["report"]["outcome"]["outcome"] != "running").then_some(run)
    })
    .await
}

async fn start_run(console: &Console) -> Value {
    let (status, started) = console
        .call(
            Method::POST,
            "/api/clusters/test/runs",
            Some(&console.session),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    run_ends(console, started["run_id"].as_i64().unwrap()).await
}

#[tokio::test]
async fn a_full_backup_runs_over_rest_and_the_management_port_gets_no_credentials() {
    let sim = rest_sim(0).await;
    // The exporter phase read from a listed broker: a management port too.
    let zeebe_line = format!("url = \"{}\"\n", sim.endpoints.zeebe);
    let config = sim.endpoints.console_config("test").replacen(
        &zeebe_line,
        &format!("{zeebe_line}brokers = [\"{}\"]\n", sim.endpoints.zeebe),
        1,
    );
    assert!(config.contains("brokers = ["), "{config}");
    let console = console_on(&sim, &config).await;
    let run = start_run(&console).await;
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
    let backup_id = run["report"]["backup_id"].as_u64().unwrap();
    // The backup was taken over /v2: the REST listing has it.
    let (_, _, listed) = rest_call(
        &sim,
        Method::GET,
        &format!("/backups/runtime/{backup_id}"),
        None,
        PASSWORD_REST,
    )
    .await;
    assert_eq!(listed["state"], "COMPLETED", "{listed}");
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
    let (_, detail) = console
        .get(&format!("/api/clusters/test/backups/{backup_id}"))
        .await;
    assert_eq!(detail["set"]["verdict"], "restorable", "{detail}");
    // The transcript shows the REST calls, never the credentials.
    let text = run.to_string();
    assert!(text.contains("/v2/backups/runtime"), "{text}");
    assert!(text.contains("/v2/exporting/pause"), "{text}");
    assert!(!text.contains(PASSWORD_REST));
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(
        history["exporting"]["partitions"].as_array().unwrap().len(),
        3
    );
    let state = rest_state(&sim).await;
    assert_eq!(state["management_authorization"], 0, "{state}");

    // A 503 RESOURCE_EXHAUSTED on the take (an injected fault, as on the actuators): the run
    // fails with the gateway's problem title and detail, and exporting is resumed.
    control(
        &sim,
        "/sim/faults",
        json!({"component": "zeebe", "operation": "take", "count": 1,
               "action": {"kind": "status", "status": 503, "message": "Broker is out of disk space"}}),
    )
    .await;
    let run = start_run(&console).await;
    assert_eq!(run["report"]["outcome"]["outcome"], "failed", "{run}");
    let reason = run["report"]["outcome"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 503: RESOURCE_EXHAUSTED: Broker is out of disk space"),
        "{reason}"
    );
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);

    // Without BACKUP:CREATE the run fails at its first backup, with the permission named, and
    // exporting is resumed.
    permissions(&sim, &[], &["BACKUP:CREATE"]).await;
    let run = start_run(&console).await;
    assert_eq!(run["report"]["outcome"]["outcome"], "failed", "{run}");
    let reason = run["report"]["outcome"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("lack the permission BACKUP:CREATE"),
        "{reason}"
    );
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);

    // Without EXPORTER:PAUSE a pause fails and names both spellings of the permission.
    permissions(&sim, &[], &["EXPORTER:PAUSE"]).await;
    let (status, body) = console
        .call(
            Method::POST,
            "/api/clusters/test/exporting/pause",
            Some(&console.session),
            Some(json!({"soft": true})),
        )
        .await;
    let text = body.to_string();
    assert!(status >= 400, "{status} {text}");
    assert!(text.contains("EXPORTER:PAUSE"), "{text}");
    assert!(text.contains("SYSTEM:UPDATE"), "{text}");
    assert_eq!(phases(&sim).await, vec!["EXPORTING"; 3]);
}

#[tokio::test]
async fn a_cleanup_deletes_over_rest_and_a_missing_delete_permission_is_named() {
    let sim = rest_sim(12).await;
    let console = console_on(&sim, &sim.endpoints.console_config("test")).await;
    let (status, body) = console
        .call(
            Method::PUT,
            "/api/clusters/test/retention",
            Some(&console.session),
            Some(json!({"keep_last": 3, "min_restorable": 1, "keep_failed": 0})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, plan) = console.get("/api/clusters/test/cleanup-plan").await;
    let plan: backup_domain::retention::RetentionPlan = serde_json::from_value(plan).unwrap();
    let delete = plan.to_delete();
    assert!(delete.len() >= 2, "{delete:?}");

    let cleanup = |delete: Vec<u64>| {
        let console = &console;
        async move {
            let (status, started) = console
                .call(
                    Method::POST,
                    "/api/clusters/test/cleanups",
                    Some(&console.session),
                    Some(json!({"delete": delete, "selected": [], "confirm": delete.len(), "acknowledge_warning": true})),
                )
                .await;
            assert_eq!(status, 202, "{started}");
            let id = started["cleanup_id"].as_i64().unwrap();
            eventually(Duration::from_secs(20), || async {
                let (_, view) = console.get(&format!("/api/cleanups/{id}")).await;
                let typed: backup_domain::retention::CleanupView =
                    serde_json::from_value(view.clone()).ok()?;
                (typed.report.outcome.state_name() != "running").then_some(view)
            })
            .await
        }
    };

    // Without BACKUP:DELETE no Zeebe or web-apps backup is deleted, with the permission named.
    permissions(&sim, &[], &["BACKUP:DELETE"]).await;
    let view = cleanup(delete.clone()).await;
    assert_eq!(view["report"]["outcome"], "partial", "{view}");
    let text = view.to_string();
    assert!(text.contains("lack the permission BACKUP:DELETE"), "{text}");
    let (_, _, still) = rest_call(
        &sim,
        Method::GET,
        &format!("/backups/runtime/{}", delete[0]),
        None,
        PASSWORD_REST,
    )
    .await;
    assert_eq!(still["backupId"], delete[0], "nothing was deleted: {still}");

    permissions(&sim, &["BACKUP:DELETE"], &[]).await;
    let (_, plan) = console.get("/api/clusters/test/cleanup-plan").await;
    let plan: backup_domain::retention::RetentionPlan = serde_json::from_value(plan).unwrap();
    let delete = plan.to_delete();
    let view = cleanup(delete.clone()).await;
    assert_eq!(view["report"]["outcome"], "completed", "{view}");
    settle().await;
    for id in &delete {
        let (status, _, _) = rest_call(
            &sim,
            Method::GET,
            &format!("/backups/runtime/{id}"),
            None,
            PASSWORD_REST,
        )
        .await;
        assert_eq!(status, 404, "backup {id} is gone");
    }
    assert_eq!(rest_state(&sim).await["management_authorization"], 0);
}

#[tokio::test]
async fn without_a_management_port_the_exporter_phase_is_unknown_and_the_check_is_skipped() {
    let sim = rest_sim(0).await;
    let config = sim.endpoints.console_config("test").replacen(
        &format!(
            "[clusters.orchestration]\nurl = \"{}\"\n",
            sim.endpoints.zeebe
        ),
        "[clusters.orchestration]\n",
        1,
    );
    assert!(!config.contains(&sim.endpoints.zeebe), "{config}");
    let console = console_on(&sim, &config).await;
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    let error = history["exporting"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("no management port configured ([clusters.orchestration] url)"),
        "{history}"
    );
    // The status says unknown, never exporting, and the REST API's /status stands in for health.
    let (code, status) = console.get("/api/clusters/test/status").await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["phase"], "unknown", "{status}");
    let zeebe = status["components"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["component"] == "zeebe"))
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(zeebe["probe"], "reachable", "{status}");
    assert!(
        status["exporting"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no management port configured"),
        "{status}"
    );
    let (_, preflight) = console.get("/api/clusters/test/preflight").await;
    assert!(
        preflight["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("still paused")),
        "{preflight}"
    );
    let run = start_run(&console).await;
    assert_eq!(run["report"]["outcome"]["outcome"], "completed", "{run}");
    let start_zeebe = run["report"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"]["kind"] == "start_zeebe")
        .unwrap_or_else(|| panic!("{run}"));
    assert!(
        start_zeebe["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("skipped"),
        "{start_zeebe}"
    );
}

/// The OpenID provider of this test binary: npm's `oauth2-mock-server`, run by
/// `end2end/oidc-provider.mjs` with 4-second tokens; started once, ended with the binary (its
/// stdin closes).
struct Provider {
    issuer: String,
    stats: String,
    _child: std::sync::Mutex<std::process::Child>,
}

fn provider() -> &'static Provider {
    static PROVIDER: std::sync::OnceLock<Provider> = std::sync::OnceLock::new();
    PROVIDER.get_or_init(|| {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end/oidc-provider.mjs");
        let mut child = std::process::Command::new("node")
            .arg(script)
            .arg("4")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("node runs end2end/oidc-provider.mjs (npm ci installs oauth2-mock-server)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the provider prints its URLs");
        let urls: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| {
                panic!(
                    "the provider's first line is its URLs: {line:?}: {e} (is oauth2-mock-server in node_modules? run npm ci)"
                )
            });
        Provider {
            // It listens on 127.0.0.1 and names itself localhost.
            issuer: urls["issuer"]
                .as_str()
                .expect("issuer")
                .replace("localhost", "127.0.0.1"),
            stats: urls["stats"].as_str().expect("stats").to_string(),
            _child: std::sync::Mutex::new(child),
        }
    })
}

async fn provider_stats() -> Value {
    reqwest::get(&provider().stats)
        .await
        .expect("stats answer")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test]
async fn oidc_tokens_are_fetched_cached_refreshed_after_expiry_and_a_401_is_retried_once() {
    let issuer = provider().issuer.clone();
    let mut config = SimConfig::new(VersionProfile::V88);
    config.timings = fast_timings();
    config.seed_count = 3;
    config.rest = Some(SimRest {
        username: USER.into(),
        password: PASSWORD_REST.into(),
        jwks_url: Some(format!("{issuer}/jwks")),
    });
    let sim = SimCluster::start(config).await.expect("simulator starts");
    let basic = format!(
        "auth = {{ type = \"basic\", username_env = \"{}\", password_env = \"{}\" }}",
        camunda_sim::REST_USER_ENV,
        camunda_sim::REST_PASSWORD_ENV
    );
    let cluster_config = sim.endpoints.console_config("test").replace(
        &basic,
        &format!(
            "auth = {{ type = \"oidc\", token_url = \"{issuer}/token\", client_id_env = \"OIDC_ID\", client_secret_env = \"OIDC_SECRET\", audience = \"orchestration-api\" }}"
        ),
    );
    assert!(
        cluster_config.contains("type = \"oidc\""),
        "{cluster_config}"
    );
    let (auth, _) = auth_section("");
    let text = format!("{auth}[catalog]\nmin_refresh_gap_secs = 0\n{cluster_config}");
    let env = |k: &str| match k {
        "OIDC_ID" => Some("backup-console".to_string()),
        "OIDC_SECRET" => Some("oidc-client-secret-51e".to_string()),
        _ => None,
    };
    // Counted before the console starts: its first status round may be what fetches the token.
    let before = provider_stats().await["token_requests"].as_u64().unwrap();
    let console = start_console_with_env(&text, &env).await;

    // Fetched once for the two listings the history reads at once, with the audience.
    let (status, history) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(status, 200, "{history}");
    assert!(history.get("component_errors").is_none(), "{history}");
    assert!(history["sets"].as_array().unwrap().len() >= 3, "{history}");
    let stats = provider_stats().await;
    assert_eq!(
        stats["token_requests"].as_u64().unwrap(),
        before + 1,
        "{stats}"
    );
    assert_eq!(stats["last_client_id"], "backup-console");
    assert_eq!(stats["last_audience"], "orchestration-api");
    let rest = rest_state(&sim).await;
    assert!(rest["bearer_requests"].as_u64().unwrap() >= 2, "{rest}");
    assert_eq!(rest["unauthorized"], 0, "{rest}");

    // Cached: another read asks the provider for nothing.
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    assert!(history.get("component_errors").is_none(), "{history}");
    assert_eq!(
        provider_stats().await["token_requests"].as_u64().unwrap(),
        before + 1
    );

    // Expired (4 s tokens, used until shortly before): the next call fetches a new one.
    tokio::time::sleep(Duration::from_millis(4_100)).await;
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    assert!(history.get("component_errors").is_none(), "{history}");
    assert_eq!(
        provider_stats().await["token_requests"].as_u64().unwrap(),
        before + 2
    );
    assert_eq!(rest_state(&sim).await["unauthorized"], 0);

    // One 401: a new token and one retry, and the call succeeds.
    let pause = || async {
        console
            .call(
                Method::POST,
                "/api/clusters/test/exporting/pause",
                Some(&console.session),
                Some(json!({"soft": true})),
            )
            .await
    };
    control(&sim, "/sim/rest/reject_tokens", json!({"count": 1})).await;
    let (status, body) = pause().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(phases(&sim).await, vec!["SOFT_PAUSED"; 3]);
    assert_eq!(rest_state(&sim).await["unauthorized"], 1);
    assert_eq!(
        provider_stats().await["token_requests"].as_u64().unwrap(),
        before + 3
    );

    // Two 401s in a row: one refresh, one retry, then the failure is reported, not retried again.
    control(&sim, "/sim/rest/reject_tokens", json!({"count": 2})).await;
    let (status, body) = pause().await;
    let text = body.to_string();
    assert!(status >= 400, "{status} {text}");
    assert!(text.contains("401"), "{text}");
    let stats = provider_stats().await;
    assert_eq!(rest_state(&sim).await["unauthorized"], 3);
    assert_eq!(stats["token_requests"].as_u64().unwrap(), before + 4);
    // Neither the token nor the client secret reaches an answer or the audit log.
    let token = stats["last_token"].as_str().unwrap();
    let (_, audit) = console.get("/api/audit?cluster=test").await;
    for shown in [text, audit.to_string()] {
        assert!(!shown.contains(token), "{shown}");
        assert!(!shown.contains("oidc-client-secret-51e"), "{shown}");
    }
    assert_eq!(rest_state(&sim).await["management_authorization"], 0);
}

#[tokio::test]
async fn a_token_endpoint_failure_is_a_clear_error_without_the_secret() {
    let issuer = provider().issuer.clone();
    let sim = rest_sim(0).await;
    let basic = format!(
        "auth = {{ type = \"basic\", username_env = \"{}\", password_env = \"{}\" }}",
        camunda_sim::REST_USER_ENV,
        camunda_sim::REST_PASSWORD_ENV
    );
    // A token URL where the provider has no token endpoint: 404.
    let cluster_config = sim.endpoints.console_config("test").replace(
        &basic,
        &format!(
            "auth = {{ type = \"oidc\", token_url = \"{issuer}/no-such-endpoint\", client_id_env = \"OIDC_ID\", client_secret_env = \"OIDC_SECRET\" }}"
        ),
    );
    let (auth, _) = auth_section("");
    let text = format!("{auth}[catalog]\nmin_refresh_gap_secs = 0\n{cluster_config}");
    let env = |k: &str| match k {
        "OIDC_ID" => Some("backup-console".to_string()),
        "OIDC_SECRET" => Some("oidc-client-secret-77b".to_string()),
        _ => None,
    };
    let console = start_console_with_env(&text, &env).await;
    let (_, history) = console.fresh_get("/api/clusters/test/backups").await;
    let errors = history["component_errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{history}");
    for e in errors {
        let message = e["message"].as_str().unwrap();
        assert!(message.contains("OpenID token endpoint"), "{message}");
        assert!(message.contains("HTTP 404"), "{message}");
        assert!(!message.contains("oidc-client-secret-77b"), "{message}");
    }
    // Nothing was sent to the REST API without a token.
    assert_eq!(rest_state(&sim).await["bearer_requests"], 0);
}
