//! The Elasticsearch snapshot APIs the procedure uses (contract §7): create (optionally waiting
//! for completion), get by name or pattern, `_status`, delete, plus the repository and root.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use backup_domain::upstream_state::SnapshotState;
use serde_json::{Value, json};

use super::faults::Operation;
use super::respond::{
    Sim, error_response, es_time, injected_fault, list_latency, now_ms, raw_response,
};
use super::state::{SimComponent, SimState, Snapshot};

const ES: SimComponent = SimComponent::Elasticsearch;

pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/_cluster/health", get(cluster_health))
        .route("/_snapshot/{repo}", get(repository))
        .route(
            "/_snapshot/{repo}/{snapshot}",
            get(get_snapshots).put(create).post(create).delete(delete),
        )
        .route("/_snapshot/{repo}/{snapshot}/_status", get(status))
        .with_state(sim)
}

fn ok(body: Value) -> Response {
    raw_response(StatusCode::OK, "application/json", body.to_string())
}

fn err(status: StatusCode, message: &str) -> Response {
    error_response(ES, false, status, message)
}

fn missing_repository(repo: &str) -> Response {
    err(StatusCode::NOT_FOUND, &format!("[{repo}] missing"))
}

/// The 404 of a repository that does not exist, if `repo` is not the configured one.
fn repository_missing(s: &SimState, repo: &str) -> Option<Response> {
    match &s.repository {
        Some(r) if r == repo => None,
        _ => Some(missing_repository(repo)),
    }
}

async fn root(State(sim): State<Sim>) -> Response {
    if let Some(fault) = injected_fault(&sim, ES, Operation::Health).await {
        return fault;
    }
    ok(json!({
        "name": "sim-es-0",
        "cluster_name": "camunda-sim",
        "version": { "number": "8.17.4", "build_flavor": "default" },
        "tagline": "You Know, for Search",
    }))
}

async fn cluster_health(State(sim): State<Sim>) -> Response {
    if let Some(fault) = injected_fault(&sim, ES, Operation::Health).await {
        return fault;
    }
    ok(json!({ "cluster_name": "camunda-sim", "status": "green", "number_of_nodes": 1 }))
}

async fn repository(State(sim): State<Sim>, Path(repo): Path<String>) -> Response {
    if let Some(fault) = injected_fault(&sim, ES, Operation::Health).await {
        return fault;
    }
    let s = sim.read();
    if let Some(response) = repository_missing(&s, &repo) {
        return response;
    }
    ok(json!({ repo: { "type": "fs", "settings": { "location": "/var/backups/camunda" } } }))
}

/// `SnapshotInfo` (§7.1, §7.2).
fn snapshot_info(s: &SimState, repo: &str, snap: &Snapshot, now: i64) -> Value {
    let state = snap.state(now);
    let mut info = json!({
        "snapshot": snap.name,
        "uuid": snap.uuid,
        "repository": repo,
        "version_id": 8_521_000,
        "version": "8.17.0-8.17.4",
        "indices": snap.indices,
        "data_streams": [],
        "include_global_state": true,
        "state": state,
        "start_time": es_time(snap.start_ms),
        "start_time_in_millis": snap.start_ms,
        "failures": snap.failures.iter().map(|f| json!({"reason": f, "status": "INTERNAL_SERVER_ERROR"})).collect::<Vec<_>>(),
        "shards": { "total": 9, "failed": if state == SnapshotState::Success || state == SnapshotState::InProgress { 0 } else { 3 }, "successful": if state == SnapshotState::InProgress { 0 } else { 9 } },
        "feature_states": [],
    });
    if let Some(meta) = snap.meta {
        info["metadata"] = json!({
            "backupId": meta.backup_id,
            "version": s.camunda_version,
            "partNo": meta.part_no,
            "partCount": meta.part_count,
        });
    }
    if state != SnapshotState::InProgress {
        info["end_time"] = json!(es_time(snap.end_ms()));
        info["end_time_in_millis"] = json!(snap.end_ms());
        info["duration_in_millis"] = json!(snap.duration_ms);
    }
    info
}

/// `PUT _snapshot/{repo}/{name}[?wait_for_completion=true]` (§7.1).
async fn create(
    State(sim): State<Sim>,
    Path((repo, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Some(fault) = injected_fault(&sim, ES, Operation::Take).await {
        return fault;
    }
    let wait = q.get("wait_for_completion").is_some_and(|v| v == "true");
    let indices = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("indices")
                .and_then(|i| i.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "*".to_string());
    let duration = {
        let mut s = sim.write();
        if let Some(response) = repository_missing(&s, &repo) {
            return response;
        }
        let now = now_ms();
        s.reap(now);
        if s.snapshots.contains_key(&name) {
            return err(
                StatusCode::BAD_REQUEST,
                &format!(
                    "[{repo}:{name}] Invalid snapshot name [{name}], snapshot with the same name already exists"
                ),
            );
        }
        let outcome = s.take_outcome(ES);
        s.add_records_snapshot(&name, now, &indices, outcome);
        s.timings.records_snapshot_ms
    };
    if !wait {
        return ok(json!({ "accepted": true }));
    }
    tokio::time::sleep(Duration::from_millis(duration.max(0) as u64)).await;
    let now = now_ms();
    let s = sim.read();
    match s.snapshots.get(&name) {
        Some(snap) => ok(json!({ "snapshot": snapshot_info(&s, &repo, snap, now) })),
        None => err(
            StatusCode::NOT_FOUND,
            &format!("[{repo}:{name}] is missing"),
        ),
    }
}

/// `GET _snapshot/{repo}/{names}`: comma-separated names or patterns; an exact name that does not
/// exist is a 404, a pattern without matches an empty list (§7.2).
async fn get_snapshots(
    State(sim): State<Sim>,
    Path((repo, names)): Path<(String, String)>,
) -> Response {
    if let Some(fault) = injected_fault(&sim, ES, Operation::List).await {
        return fault;
    }
    let latency = sim.read().timings.es_list_ms;
    if names.contains('*') {
        list_latency(latency).await;
    }
    let now = now_ms();
    let s = sim.read();
    if let Some(response) = repository_missing(&s, &repo) {
        return response;
    }
    let mut found: Vec<Value> = Vec::new();
    for pattern in names.split(',') {
        if pattern == "_all" || pattern == "*" {
            found.extend(
                s.snapshots
                    .values()
                    .filter(|x| x.visible(now))
                    .map(|x| snapshot_info(&s, &repo, x, now)),
            );
        } else if let Some(prefix) = pattern.strip_suffix('*') {
            found.extend(
                s.snapshots_with_prefix(prefix, now)
                    .map(|x| snapshot_info(&s, &repo, x, now)),
            );
        } else {
            match s.snapshots.get(pattern).filter(|x| x.visible(now)) {
                Some(x) => found.push(snapshot_info(&s, &repo, x, now)),
                None => {
                    return err(
                        StatusCode::NOT_FOUND,
                        &format!("[{repo}:{pattern}] is missing"),
                    );
                }
            }
        }
    }
    let total = found.len();
    ok(json!({ "snapshots": found, "total": total, "remaining": 0 }))
}

/// `GET _snapshot/{repo}/{name}/_status` (§7.3).
async fn status(State(sim): State<Sim>, Path((repo, name)): Path<(String, String)>) -> Response {
    if let Some(fault) = injected_fault(&sim, ES, Operation::Get).await {
        return fault;
    }
    let now = now_ms();
    let s = sim.read();
    if let Some(response) = repository_missing(&s, &repo) {
        return response;
    }
    let Some(snap) = s.snapshots.get(&name).filter(|x| x.visible(now)) else {
        return err(
            StatusCode::NOT_FOUND,
            &format!("[{repo}:{name}] is missing"),
        );
    };
    let state = match snap.state(now) {
        SnapshotState::InProgress => "STARTED",
        SnapshotState::Success => "SUCCESS",
        SnapshotState::Partial | SnapshotState::Failed => "FAILED",
        _ => "UNKNOWN",
    };
    let done = if snap.state(now) == SnapshotState::InProgress {
        4
    } else {
        9
    };
    ok(json!({ "snapshots": [{
        "snapshot": snap.name,
        "repository": repo,
        "uuid": snap.uuid,
        "state": state,
        "include_global_state": true,
        "shards_stats": { "initializing": 0, "started": 9 - done, "finalizing": 0, "done": done, "failed": 0, "total": 9 },
        "stats": {
            "incremental": { "file_count": 42, "size_in_bytes": 1_048_576 },
            "total": { "file_count": 42, "size_in_bytes": 1_048_576 },
            "start_time_in_millis": snap.start_ms,
            "time_in_millis": (now.min(snap.end_ms()) - snap.start_ms).max(0),
        },
        "indices": {},
    }]}))
}

/// `DELETE _snapshot/{repo}/{name}` (§7.4).
async fn delete(State(sim): State<Sim>, Path((repo, name)): Path<(String, String)>) -> Response {
    if let Some(fault) = injected_fault(&sim, ES, Operation::Delete).await {
        return fault;
    }
    let latency = sim.read().timings.delete_ms;
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency as u64)).await;
    }
    let now = now_ms();
    let mut s = sim.write();
    if let Some(response) = repository_missing(&s, &repo) {
        return response;
    }
    s.reap(now);
    match s.snapshots.get(&name) {
        Some(snap) if snap.visible(now) => {
            s.snapshots.remove(&name);
            ok(json!({ "acknowledged": true }))
        }
        _ => err(
            StatusCode::NOT_FOUND,
            &format!("[{repo}:{name}] is missing"),
        ),
    }
}
