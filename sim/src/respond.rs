//! How each simulated component answers: its media type, its error body, and injected faults.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::faults::{FaultAction, Operation};
use super::state::{SimComponent, SimState};

/// Spring Boot actuator's default media type for `@WebEndpoint` operations (contract §1).
pub const ACTUATOR_V3: &str = "application/vnd.spring-boot.actuator.v3+json";

/// The simulated cluster, shared by every component's router.
#[derive(Clone)]
pub struct Sim {
    /// Readers (every list and get) run side by side, as separate components would.
    inner: Arc<RwLock<SimState>>,
}

impl Sim {
    pub fn new(state: SimState) -> Self {
        Sim {
            inner: Arc::new(RwLock::new(state)),
        }
    }

    /// The state, shared. A handler that panicked while holding the lock cannot leave it
    /// half-written in a way that matters to a simulator, so a poisoned lock is taken over.
    pub fn read(&self) -> RwLockReadGuard<'_, SimState> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, SimState> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Holds a list answer for the configured time: the components' own work (a Zeebe list scans
/// the backup store of every partition, §3.4; web apps and Optimize query Elasticsearch).
pub async fn list_latency(ms: i64) {
    if ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(ms as u64)).await;
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The two ways Spring answers JSON (§1): `@WebEndpoint` operations default to the actuator media
/// type unless the client asks for `application/json`; MVC controllers always say `application/json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    WebEndpoint,
    Mvc,
}

pub fn json_response(
    style: Style,
    headers: &HeaderMap,
    status: StatusCode,
    body: &Value,
) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let content_type = match style {
        Style::WebEndpoint if !wants_json => ACTUATOR_V3,
        _ => "application/json",
    };
    raw_response(status, content_type, body.to_string())
}

pub fn raw_response(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    let mut response = (status, body.into()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/json")),
    );
    response
}

/// The error body each component uses (§1): Zeebe and 8.8 web-apps `{"message"}`, Operate ≤8.7
/// `application/problem+json`, Optimize `{errorCode, errorMessage, detailedMessage}`, ES its error
/// envelope.
pub fn error_response(
    component: SimComponent,
    profile_87: bool,
    status: StatusCode,
    message: &str,
) -> Response {
    match component {
        SimComponent::Operate if profile_87 => raw_response(
            status,
            "application/problem+json",
            json!({
                "status": status.as_u16(),
                "message": message,
                "instance": format!("{:08x}-sim0-4000-8000-000000000000", status.as_u16()),
                "type": status.canonical_reason().unwrap_or("Error"),
            })
            .to_string(),
        ),
        SimComponent::Optimize => raw_response(
            status,
            "application/json",
            json!({
                "errorCode": optimize_error_code(status),
                "errorMessage": optimize_error_message(status),
                "detailedMessage": message,
            })
            .to_string(),
        ),
        SimComponent::Elasticsearch => {
            let kind = es_error_type(status, message);
            raw_response(
                status,
                "application/json",
                json!({
                    "error": {
                        "root_cause": [{"type": kind, "reason": message}],
                        "type": kind,
                        "reason": message,
                    },
                    "status": status.as_u16(),
                })
                .to_string(),
            )
        }
        SimComponent::Exporting => exporting_envelope(status.as_u16(), Some(message)),
        SimComponent::Zeebe | SimComponent::Webapps => raw_response(
            status,
            // Error bodies of @WebEndpoint operations are sent as plain JSON.
            "application/json",
            json!({ "message": message }).to_string(),
        ),
        SimComponent::Operate | SimComponent::Tasklist => raw_response(
            status,
            "application/json",
            json!({ "message": message }).to_string(),
        ),
    }
}

fn optimize_error_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "notFoundError",
        409 => "conflict",
        400 => "badRequestError",
        _ => "serverError",
    }
}

fn optimize_error_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "The server could not find the requested resource.",
        409 => "The request could not be completed due to a conflict with the current state.",
        400 => "The request was invalid.",
        _ => "An unexpected error occurred. Please check the Optimize logs for more information.",
    }
}

fn es_error_type(status: StatusCode, message: &str) -> &'static str {
    if message.contains("] missing") {
        return "repository_missing_exception";
    }
    if message.contains("is missing") {
        return "snapshot_missing_exception";
    }
    match status.as_u16() {
        400 => "invalid_snapshot_name_exception",
        503 => "concurrent_snapshot_execution_exception",
        _ => "exception",
    }
}

/// The exporting endpoint's envelope: HTTP 200 always, the real status inside (§4.1).
pub fn exporting_envelope(status: u16, message: Option<&str>) -> Response {
    let body = match message {
        None => Value::Null,
        Some(m) => json!({
            "message": m,
            "localizedMessage": m,
            "stackTrace": [],
            "suppressed": [],
        }),
    };
    raw_response(
        StatusCode::OK,
        "application/json",
        json!({ "body": body, "status": status, "contentType": Value::Null }).to_string(),
    )
}

/// Spring's own 400 for a missing or unconvertible parameter of an `@WebEndpoint` (§1).
pub fn spring_bad_request(path: &str) -> Response {
    spring_default_error(StatusCode::BAD_REQUEST, path)
}

/// Spring's default error JSON, e.g. Tasklist 8.6's 500 for an unknown backup (§5.1, #37591).
pub fn spring_default_error(status: StatusCode, path: &str) -> Response {
    raw_response(
        status,
        "application/json",
        json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "status": status.as_u16(),
            "error": status.canonical_reason().unwrap_or("Error"),
            "path": path,
        })
        .to_string(),
    )
}

/// A component's own message for an injected status, close to what the real one says (§3.8).
fn default_fault_message(component: SimComponent, status: u16, partitions: u32) -> String {
    match (component, status) {
        (SimComponent::Zeebe, 502) => format!(
            "Expected to send request to all {partitions} partitions, but found only {} partitions in topology.",
            partitions.saturating_sub(1)
        ),
        (SimComponent::Zeebe, 504) => {
            "Request from gateway to broker timed out. Timed out after PT15S".to_string()
        }
        (SimComponent::Zeebe, 503) => "Broker is out of disk space".to_string(),
        (SimComponent::Exporting, _) => format!(
            "Expected {partitions} members of partition 1 but found {}, current topology: sim",
            partitions.saturating_sub(1)
        ),
        (SimComponent::Elasticsearch, 503) => {
            "[camunda:snapshot] another snapshot is currently running cannot delete".to_string()
        }
        (SimComponent::Operate | SimComponent::Tasklist | SimComponent::Webapps, 502) => {
            "Encountered an error connecting to Elasticsearch while retrieving snapshots. Repository name: [camunda].".to_string()
        }
        (SimComponent::Optimize, 502) => {
            "Encountered an error connecting to Elasticsearch while retrieving repository with name [camunda].".to_string()
        }
        (_, s) => format!("Simulated failure (HTTP {s})"),
    }
}

/// Applies an injected fault to this call, if one matches.
pub async fn injected_fault(
    sim: &Sim,
    component: SimComponent,
    operation: Operation,
) -> Option<Response> {
    let (action, profile_87, partitions, hang_ms) = {
        let mut state = sim.write();
        if operation == Operation::List {
            *state.list_calls.entry(component).or_default() += 1;
        }
        let action = state.faults.take(component, operation)?;
        (
            action,
            state.profile == backup_domain::api::VersionProfile::V87,
            state.partitions,
            state.timings.hang_ms,
        )
    };
    Some(match action {
        FaultAction::Status { status, message } => {
            let message =
                message.unwrap_or_else(|| default_fault_message(component, status, partitions));
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error_response(component, profile_87, code, &message)
        }
        FaultAction::Hang => {
            tokio::time::sleep(Duration::from_millis(hang_ms.max(0) as u64)).await;
            error_response(component, profile_87, StatusCode::GATEWAY_TIMEOUT, "hung")
        }
        FaultAction::Drop => dropped_connection(),
        FaultAction::Malformed => raw_response(
            StatusCode::OK,
            "application/json",
            "{\"backupId\": 1, \"state\": ",
        ),
    })
}

/// A response whose body fails at once: the server aborts the connection mid-answer, which the
/// caller sees as a dropped connection.
fn dropped_connection() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated connection drop",
        ))
    });
    raw_response(
        StatusCode::OK,
        "application/json",
        Body::from_stream(stream),
    )
}

/// Reads `{"backupId": N}`, accepting a numeric string as Spring does (§1). `Ok(None)` when the
/// key is absent; `Err` when the body or value cannot be converted.
pub fn backup_id_from_body(body: &Bytes) -> Result<Option<i64>, ()> {
    if body.is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| ())?;
    match value.get("backupId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or(()),
        Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| ()),
        Some(_) => Err(()),
    }
}

/// `2024-11-01T10:00:00.000000000Z`: Zeebe's timestamps, with nanoseconds (§3.3).
pub fn zeebe_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// `2025-06-03T07:55:15.685+0000`: the web-apps and Optimize `startTime` (§5.2).
pub fn webapps_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3f%z")
        .to_string()
}

/// `2025-06-03T08:05:10.633Z`: Elasticsearch's `start_time` (§7.1).
pub fn es_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_ids_are_read_like_spring_does() {
        assert_eq!(
            backup_id_from_body(&Bytes::from_static(b"{\"backupId\": 100}")),
            Ok(Some(100))
        );
        assert_eq!(
            backup_id_from_body(&Bytes::from_static(b"{\"backupId\": \"100\"}")),
            Ok(Some(100))
        );
        assert_eq!(backup_id_from_body(&Bytes::from_static(b"{}")), Ok(None));
        assert_eq!(backup_id_from_body(&Bytes::from_static(b"")), Ok(None));
        assert_eq!(
            backup_id_from_body(&Bytes::from_static(b"{\"backupId\": \"x\"}")),
            Err(())
        );
        assert_eq!(
            backup_id_from_body(&Bytes::from_static(b"not json")),
            Err(())
        );
    }

    #[test]
    fn time_formats_match_the_components() {
        let ms = 1_748_937_310_633;
        assert_eq!(zeebe_time(ms), "2025-06-03T07:55:10.633000000Z");
        assert_eq!(webapps_time(ms), "2025-06-03T07:55:10.633+0000");
        assert_eq!(es_time(ms), "2025-06-03T07:55:10.633Z");
    }
}
