//! The web-apps backup service (contract §5): Operate and Tasklist `/actuator/backups` in 8.7,
//! the Orchestration Cluster's `/actuator/backupHistory` in 8.8+. Also Optimize (§6), whose API has
//! the same shape with its own status codes, error body and two parts.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use backup_domain::api::VersionProfile;
use backup_domain::upstream_state::{
    ArtifactState, SnapshotState, optimize_aggregate, optimize_failure_reason, webapps_aggregate,
    webapps_failure_reason,
};
use serde_json::{Value, json};

use super::faults::Operation;
use super::respond::{
    Sim, Style, backup_id_from_body, error_response, injected_fault, json_response, list_latency,
    now_ms, raw_response, spring_bad_request, spring_default_error, webapps_time,
};
use super::state::{NotFoundStyle, SimComponent, SimState, Snapshot};

#[derive(Clone)]
struct App {
    sim: Sim,
    component: SimComponent,
    path: &'static str,
}

/// The backup path of a web-apps component or Optimize.
pub fn backup_path(component: SimComponent) -> &'static str {
    match component {
        SimComponent::Webapps => "/actuator/backupHistory",
        _ => "/actuator/backups",
    }
}

pub fn router(sim: Sim, component: SimComponent) -> Router {
    let path = backup_path(component);
    let app = App {
        sim,
        component,
        path,
    };
    Router::new()
        .route(path, get(list).post(take))
        .route(&format!("{path}/{{id}}"), get(get_one).delete(delete))
        .with_state(app)
}

/// `/actuator/backupHistory` where it is not active (RDBMS secondary storage, §5.2): Spring's
/// default 404 for an endpoint that does not exist.
pub fn absent_router() -> Router {
    let path = backup_path(SimComponent::Webapps);
    let absent = |uri: axum::http::Uri| async move {
        spring_default_error(StatusCode::NOT_FOUND, uri.path())
    };
    Router::new()
        .route(path, get(absent).post(absent))
        .route(&format!("{path}/{{id}}"), get(absent).delete(absent))
}

/// `/actuator/health` for a component on its own port (Operate, Tasklist and Optimize in 8.7).
pub fn health_router(sim: Sim, component: SimComponent) -> Router {
    Router::new().route(
        "/actuator/health",
        get(move |headers: HeaderMap| async move {
            if let Some(fault) = injected_fault(&sim, component, Operation::Health).await {
                return fault;
            }
            json_response(
                Style::Mvc,
                &headers,
                StatusCode::OK,
                &json!({"status": "UP"}),
            )
        }),
    )
}

impl App {
    fn is_optimize(&self) -> bool {
        self.component == SimComponent::Optimize
    }

    /// `@WebEndpoint` for 8.8 `backupHistory`; MVC for the others (§1).
    fn style(&self) -> Style {
        if self.component == SimComponent::Webapps {
            Style::WebEndpoint
        } else {
            Style::Mvc
        }
    }

    fn err(&self, s: &SimState, status: StatusCode, message: &str) -> Response {
        error_response(
            self.component,
            s.profile == VersionProfile::V87,
            status,
            message,
        )
    }
}

/// Groups visible snapshots of the component by backup ID.
fn grouped<'a>(s: &'a SimState, prefix: &'a str, now: i64) -> BTreeMap<u64, Vec<&'a Snapshot>> {
    let mut by_id: BTreeMap<u64, Vec<&Snapshot>> = BTreeMap::new();
    for snap in s.snapshots_with_prefix(prefix, now) {
        if let Some(meta) = snap.meta {
            by_id.entry(meta.backup_id).or_default().push(snap);
        }
    }
    by_id
}

/// One backup's info body; state and reason follow §5.3 (web-apps) or §6 (Optimize).
fn info(app: &App, s: &SimState, id: u64, parts: &[&Snapshot], now: i64, verbose: bool) -> Value {
    let states: Vec<SnapshotState> = parts.iter().map(|p| p.state(now)).collect();
    let named: Vec<(&str, SnapshotState)> = parts
        .iter()
        .zip(&states)
        .map(|(p, st)| (p.name.as_str(), *st))
        .collect();
    let expected = parts
        .first()
        .and_then(|p| p.meta)
        .map_or(0, |m| m.part_count as usize);
    let (state, reason) = if app.is_optimize() {
        let state = optimize_aggregate(&states);
        let reason = (state == ArtifactState::Failed)
            .then(|| optimize_failure_reason(&named))
            .flatten();
        (state, reason)
    } else {
        let last_end = parts.iter().map(|p| p.end_ms()).max().unwrap_or(now);
        let elapsed = now - last_end >= s.timings.incomplete_check_timeout_ms;
        let state = webapps_aggregate(&states, expected, elapsed);
        (state, webapps_failure_reason(&named, expected, state))
    };
    let details: Vec<Value> = parts
        .iter()
        .zip(&states)
        .map(|(p, st)| {
            let mut d = json!({ "snapshotName": p.name, "state": st });
            if verbose {
                d["startTime"] = json!(webapps_time(p.start_ms));
                d["failures"] = json!(p.failures);
            }
            d
        })
        .collect();
    let mut body = json!({ "backupId": id, "state": state, "details": details });
    // 8.7 answers show `"failureReason": null`; the 8.8 @WebEndpoint leaves it out (§1).
    match (reason, verbose, app.style()) {
        (Some(r), true, _) => body["failureReason"] = json!(r),
        (None, true, Style::Mvc) => body["failureReason"] = Value::Null,
        _ => {}
    }
    body
}

/// `POST {path}` (§5.1 to §5.3, §6).
async fn take(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(fault) = injected_fault(&app.sim, app.component, Operation::Take).await {
        return fault;
    }
    let now = now_ms();
    let mut s = app.sim.write();
    let id = match (backup_id_from_body(&body), app.component) {
        (Ok(Some(id)), _) => id,
        (Ok(None), SimComponent::Operate | SimComponent::Tasklist) => {
            return app.err(&s, StatusCode::BAD_REQUEST, "BackupId must be provided");
        }
        (Ok(None), SimComponent::Optimize) => {
            return app.err(&s, StatusCode::BAD_REQUEST, "backupId must not be null");
        }
        _ => return spring_bad_request(app.path),
    };
    // 8.7 Operate/Tasklist accept 0; 8.8 web-apps reject it; Optimize validates a positive ID.
    let too_low = match app.component {
        SimComponent::Operate | SimComponent::Tasklist => id < 0,
        _ => id <= 0,
    };
    if too_low {
        let message = if app.is_optimize() {
            "backupId must be greater than or equal to 0".to_string()
        } else {
            format!("BackupId must be a non-negative Integer. Received value: {id}")
        };
        return app.err(&s, StatusCode::BAD_REQUEST, &message);
    }
    let id = id as u64;
    let Some(repository) = s.repository.clone() else {
        return if app.is_optimize() {
            app.err(&s, StatusCode::BAD_REQUEST, "Cannot execute backup request because no Elasticsearch snapshot repository name found in Optimize configuration.")
        } else {
            app.err(
                &s,
                StatusCode::NOT_FOUND,
                "No repository with name [camunda] could be found.",
            )
        };
    };
    let prefix = format!("{}{id}_", app.component.snapshot_prefix());
    let existing: Vec<String> = s
        .snapshots_with_prefix(&prefix, now)
        .map(|p| p.name.clone())
        .collect();
    if !existing.is_empty() {
        let message = format!(
            "A backup with ID [{id}] already exists. Found snapshots: [{}]",
            existing.join(", ")
        );
        let status = if app.is_optimize() {
            StatusCode::CONFLICT
        } else {
            StatusCode::BAD_REQUEST
        };
        return app.err(&s, status, &message);
    }
    if !app.is_optimize() && s.webapps_busy(app.component, now) {
        return app.err(
            &s,
            StatusCode::BAD_REQUEST,
            "Another backup is running at the moment",
        );
    }
    let _ = repository;
    let outcome = s.take_outcome(app.component);
    let names = s.add_parts(app.component, id, now, outcome);
    if app.is_optimize() {
        // A raw string with a space before the colon (§6).
        let text = format!(
            "{{\"message\" : \"Backup creation for ID {id} has been scheduled. Use the GET API to monitor completion of backup process\"}}"
        );
        return raw_response(StatusCode::ACCEPTED, "application/json", text);
    }
    // 200, not the 202 the 8.8 spec says (§13.1).
    json_response(
        app.style(),
        &headers,
        StatusCode::OK,
        &json!({ "scheduledSnapshots": names }),
    )
}

/// `GET {path}[?verbose=false]`: newest first (§5.3).
async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(fault) = injected_fault(&app.sim, app.component, Operation::List).await {
        return fault;
    }
    let verbose = q.get("verbose").is_none_or(|v| v != "false");
    let latency = {
        let s = app.sim.read();
        if app.is_optimize() {
            s.timings.optimize_list_ms
        } else {
            s.timings.webapps_list_ms
        }
    };
    list_latency(latency).await;
    let now = now_ms();
    let s = app.sim.read();
    if s.repository.is_none() {
        return app.err(
            &s,
            StatusCode::NOT_FOUND,
            "No repository with name [camunda] could be found.",
        );
    }
    let by_id = grouped(&s, app.component.snapshot_prefix(), now);
    let mut entries: Vec<(i64, Value)> = by_id
        .iter()
        .map(|(id, parts)| {
            let start = parts.iter().map(|p| p.start_ms).max().unwrap_or(0);
            (start, info(&app, &s, *id, parts, now, verbose))
        })
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
    let body = Value::Array(entries.into_iter().map(|(_, v)| v).collect());
    json_response(app.style(), &headers, StatusCode::OK, &body)
}

/// `GET {path}/{id}`, including the not-found quirks of 8.6/8.7 (§5.1).
async fn get_one(State(app): State<App>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(fault) = injected_fault(&app.sim, app.component, Operation::Get).await {
        return fault;
    }
    let now = now_ms();
    let s = app.sim.read();
    let Ok(id) = id.parse::<u64>() else {
        return spring_bad_request(&format!("{}/{id}", app.path));
    };
    let prefix = format!("{}{id}_", app.component.snapshot_prefix());
    let parts: Vec<&Snapshot> = s.snapshots_with_prefix(&prefix, now).collect();
    if parts.is_empty() {
        return not_found(&app, &s, id);
    }
    let body = info(&app, &s, id, &parts, now, true);
    json_response(app.style(), &headers, StatusCode::OK, &body)
}

fn not_found(app: &App, s: &SimState, id: u64) -> Response {
    let path = format!("{}/{id}", app.path);
    match (app.component, s.not_found_style) {
        (SimComponent::Optimize, _) => app.err(
            s,
            StatusCode::NOT_FOUND,
            &format!("No Optimize backup with ID [{id}] could be found."),
        ),
        // Operate's generic handler: 400 problem+json (fixed by PR #43632).
        (SimComponent::Operate, NotFoundStyle::Quirky) => app.err(
            s,
            StatusCode::BAD_REQUEST,
            "Index 0 out of bounds for length 0",
        ),
        // Tasklist 8.6: Spring's default 500 (#37591).
        (SimComponent::Tasklist, NotFoundStyle::Quirky) => {
            spring_default_error(StatusCode::INTERNAL_SERVER_ERROR, &path)
        }
        _ => app.err(
            s,
            StatusCode::NOT_FOUND,
            &format!("No backup with id [{id}] found."),
        ),
    }
}

/// `DELETE {path}/{id}`: 204, the ES deletes run after it (§5.2, §5.3).
async fn delete(State(app): State<App>, Path(id): Path<String>) -> Response {
    if let Some(fault) = injected_fault(&app.sim, app.component, Operation::Delete).await {
        return fault;
    }
    let latency = app.sim.read().timings.delete_ms;
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency as u64)).await;
    }
    let now = now_ms();
    let mut s = app.sim.write();
    let Ok(id) = id.parse::<u64>() else {
        return spring_bad_request(&format!("{}/{id}", app.path));
    };
    let prefix = format!("{}{id}_", app.component.snapshot_prefix());
    let names: Vec<String> = s
        .snapshots_with_prefix(&prefix, now)
        .map(|p| p.name.clone())
        .collect();
    if names.is_empty() && !app.is_optimize() {
        let message = match s.profile {
            VersionProfile::V87 => {
                "Not a single snapshot corresponding to given ID exist.".to_string()
            }
            VersionProfile::V88 => {
                format!("Expected to find backup with ID '{id}', but no metadata for it found")
            }
        };
        return app.err(&s, StatusCode::NOT_FOUND, &message);
    }
    let due = now + s.timings.async_delete_ms;
    for name in names {
        if let Some(snap) = s.snapshots.get_mut(&name) {
            snap.deleting_at_ms = Some(due);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}
