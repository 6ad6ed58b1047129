//! The simulator's 8.8 answers checked against Camunda's `backup-management-api.8.8.yaml` (see
//! docs/camunda-apis.md): every status must be one the spec lists for
//! the operation, and every body must match the schema the spec gives for it. The one documented
//! deviation, `POST /backupHistory` answering 200 where the spec says 202 (contract §13.1), is
//! asserted as such.

use std::path::PathBuf;

use backup_console_testkit::*;
use backup_domain::api::VersionProfile;
use serde_json::{Value, json};

/// Where the official OpenAPI files are: `CAMUNDA_CONTRACT_DIR`, else `../shared/contract` beside
/// the checkout (CI has it). They are not vendored: the repository does not carry their licence.
fn contract_dir() -> PathBuf {
    std::env::var_os("CAMUNDA_CONTRACT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/contract"))
}

/// The 8.8 spec, or `None` (said on one line) when the file is not on this machine.
fn spec() -> Option<Value> {
    let path = contract_dir().join("backup-management-api.8.8.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "skipped: no official OpenAPI file at {} (set CAMUNDA_CONTRACT_DIR to check against it)",
            path.display()
        );
        return None;
    };
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("the spec is YAML");
    Some(serde_json::to_value(yaml).expect("the spec converts to JSON"))
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            resolve(
                spec,
                spec.pointer(pointer)
                    .unwrap_or_else(|| panic!("unresolved {r}")),
            )
        }
        None => schema,
    }
}

/// A small validator for the JSON-schema subset the spec uses: `$ref`, `allOf`, `type`,
/// `required`, `properties`, `items`, `enum`, `minimum`. Formats are not checked.
fn validate(spec: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            validate(spec, s, value, at, errors);
        }
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: expected {kind}, got {value}"));
            return;
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {values:?}"));
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n < min
    {
        errors.push(format!("{at}: {n} is below the minimum {min}"));
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if value.get(key).is_none() {
                errors.push(format!("{at}: required `{key}` is missing"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (key, sub) in props {
            if let Some(v) = obj.get(key) {
                validate(spec, sub, v, &format!("{at}.{key}"), errors);
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            validate(spec, items, v, &format!("{at}[{i}]"), errors);
        }
    }
}

/// A response `$ref`. The official file has one dangling reference: `GET /backupHistory/{backupId}`
/// points at `#/components/responses/HistoryBackupInfo`, which it never defines (only a schema of
/// that name exists). That one falls back to the schema of the same name, so the body is still
/// checked; any other dangling reference fails.
fn resolve_response(spec: &Value, response: &Value) -> Value {
    if let Some(r) = response.get("$ref").and_then(Value::as_str)
        && spec.pointer(r.trim_start_matches('#')).is_none()
    {
        assert_eq!(
            r, "#/components/responses/HistoryBackupInfo",
            "unexpected dangling reference"
        );
        let schema = r.replace("/responses/", "/schemas/");
        return json!({ "content": { "application/json": { "schema": { "$ref": schema } } } });
    }
    resolve(spec, response).clone()
}

/// Checks one answer of `method path` (a spec path such as `/backupRuntime/{backupId}`).
fn check(spec: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let pointer = format!("/paths/{}/{method}/responses", path.replace('/', "~1"));
    let responses = spec
        .pointer(&pointer)
        .unwrap_or_else(|| panic!("no {method} {path} in the spec"));
    let response = responses
        .get(status.to_string())
        .unwrap_or_else(|| panic!("{method} {path}: status {status} is not in the spec"));
    let response = resolve_response(spec, response);
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        assert!(
            body.is_null(),
            "{method} {path} {status}: the spec has no body, got {body}"
        );
        return;
    };
    let mut errors = Vec::new();
    validate(spec, schema, body, "body", &mut errors);
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:#?}\n{body}"
    );
}

async fn call(method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.expect("sim answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        },
    )
}

#[tokio::test]
async fn the_88_simulator_answers_as_the_official_spec_says() {
    use reqwest::Method;
    let Some(spec) = spec() else { return };
    let sim = start_sim(VersionProfile::V88, 0).await;
    let base = format!("{}/actuator", sim.endpoints.zeebe);
    control(
        &sim,
        "/sim/outcome",
        json!({"component": "zeebe", "outcome": "failed"}),
    )
    .await;

    // Runtime: take, in-progress and final states, list, errors, delete.
    let (s, b) = call(
        Method::POST,
        &format!("{base}/backupRuntime"),
        Some(json!({"backupId": 10})),
    )
    .await;
    assert_eq!(s, 202);
    check(&spec, "post", "/backupRuntime", s, &b);
    let (s, b) = call(Method::GET, &format!("{base}/backupRuntime/10"), None).await;
    check(&spec, "get", "/backupRuntime/{backupId}", s, &b);
    let (s, b) = call(
        Method::POST,
        &format!("{base}/backupRuntime"),
        Some(json!({"backupId": 20})),
    )
    .await;
    check(&spec, "post", "/backupRuntime", s, &b);
    settle().await;
    for id in [10, 20] {
        let (s, b) = call(Method::GET, &format!("{base}/backupRuntime/{id}"), None).await;
        assert_eq!(s, 200);
        check(&spec, "get", "/backupRuntime/{backupId}", s, &b);
    }
    let (s, b) = call(Method::GET, &format!("{base}/backupRuntime/10"), None).await;
    assert_eq!(b["state"], "FAILED");
    assert!(b["failureReason"].is_string());
    let (s2, list) = call(Method::GET, &format!("{base}/backupRuntime"), None).await;
    check(&spec, "get", "/backupRuntime", s2, &list);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let _ = s;
    let (s, b) = call(Method::GET, &format!("{base}/backupRuntime/99"), None).await;
    assert_eq!(s, 404);
    check(&spec, "get", "/backupRuntime/{backupId}", s, &b);
    let (s, b) = call(
        Method::POST,
        &format!("{base}/backupRuntime"),
        Some(json!({"backupId": 15})),
    )
    .await;
    assert_eq!(s, 409);
    check(&spec, "post", "/backupRuntime", s, &b);
    let (s, b) = call(
        Method::POST,
        &format!("{base}/backupRuntime"),
        Some(json!({"backupId": 0})),
    )
    .await;
    assert_eq!(s, 400);
    check(&spec, "post", "/backupRuntime", s, &b);
    let (s, b) = call(Method::DELETE, &format!("{base}/backupRuntime/20"), None).await;
    assert_eq!(s, 204);
    check(&spec, "delete", "/backupRuntime/{backupId}", s, &b);

    // History: take (200, the documented deviation), get, list, errors, delete.
    let (s, b) = call(
        Method::POST,
        &format!("{base}/backupHistory"),
        Some(json!({"backupId": 30})),
    )
    .await;
    assert_eq!(
        s, 200,
        "contract §13.1: the code answers 200 where the spec says 202"
    );
    check(&spec, "post", "/backupHistory", 202, &b);
    let (s, b) = call(Method::GET, &format!("{base}/backupHistory/30"), None).await;
    check(&spec, "get", "/backupHistory/{backupId}", s, &b);
    settle().await;
    let (s, b) = call(Method::GET, &format!("{base}/backupHistory/30"), None).await;
    assert_eq!(b["state"], "COMPLETED");
    check(&spec, "get", "/backupHistory/{backupId}", s, &b);
    let (s, b) = call(Method::GET, &format!("{base}/backupHistory"), None).await;
    check(&spec, "get", "/backupHistory", s, &b);
    let (s, b) = call(Method::GET, &format!("{base}/backupHistory/31"), None).await;
    assert_eq!(s, 404);
    check(&spec, "get", "/backupHistory/{backupId}", s, &b);
    let (s, b) = call(
        Method::POST,
        &format!("{base}/backupHistory"),
        Some(json!({"backupId": 30})),
    )
    .await;
    assert_eq!(s, 400);
    check(&spec, "post", "/backupHistory", s, &b);
    let (s, b) = call(Method::DELETE, &format!("{base}/backupHistory/30"), None).await;
    assert_eq!(s, 204);
    check(&spec, "delete", "/backupHistory/{backupId}", s, &b);
}

#[test]
fn the_validator_rejects_what_the_spec_forbids() {
    // The validator must be able to fail, or the test above proves nothing.
    let Some(spec) = spec() else { return };
    let bad = json!({"backupId": 1, "state": "SUCCESS", "details": [{"partitionId": 0, "state": "COMPLETED"}]});
    let schema = json!({"$ref": "#/components/schemas/BackupInfo"});
    let mut errors = Vec::new();
    validate(&spec, &schema, &bad, "body", &mut errors);
    assert!(errors.iter().any(|e| e.contains("SUCCESS")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("minimum")), "{errors:?}");
    let mut errors = Vec::new();
    validate(
        &spec,
        &json!({"$ref": "#/components/schemas/HistoryBackupInfo"}),
        &json!({"state": "COMPLETED"}),
        "body",
        &mut errors,
    );
    assert!(
        errors.iter().any(|e| e.contains("`backupId`")),
        "{errors:?}"
    );
}
