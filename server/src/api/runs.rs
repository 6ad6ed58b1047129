//! Backup runs: start one (operator), read one or the latest (viewer).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::procedure::service::StartError;

#[derive(Debug, Default, Deserialize)]
pub struct StartRequest {
    /// Omitted: the console proposes max(now in Unix seconds, highest known ID + 1).
    backup_id: Option<i64>,
}

/// `POST /api/clusters/{name}/runs`: 202 with the run and its plan; 409 while another runs.
pub async fn start(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Option<Json<StartRequest>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let cluster = state
        .clusters
        .get(&name)
        .ok_or_else(|| ApiError::ClusterNotFound(name.clone()))?;
    let requested = body.and_then(|Json(b)| b.backup_id);
    let started = state
        .runs
        .start(cluster, &p.user, &p.client, requested)
        .await
        .map_err(|e| match e {
            StartError::InProgress { run_id } => ApiError::RunInProgress { run_id },
            StartError::Preflight(m) => ApiError::Preflight(m),
            StartError::BadId(m) => ApiError::BadRequest(m),
            StartError::Store(s) => ApiError::Store(s),
        })?;
    let steps: Vec<String> = started.plan.steps.iter().map(|s| s.describe()).collect();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "run_id": started.run_id,
            "backup_id": started.backup_id,
            "steps": steps,
            "skipped": started.plan.skipped,
        })),
    ))
}

async fn with_live(state: &AppState, row: crate::store::RunRow) -> Value {
    let mut value = serde_json::to_value(&row).unwrap_or(Value::Null);
    if let Some(live) = state.runs.live(row.id) {
        value["report"] = serde_json::to_value(live).unwrap_or(Value::Null);
    }
    value
}

/// `GET /api/runs/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let row = state
        .auth
        .store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::BadRequest(format!("no run {id}")))?;
    Ok(Json(with_live(&state, row).await))
}

/// `GET /api/clusters/{name}/runs/latest`.
pub async fn latest(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .clusters
        .get(&name)
        .ok_or_else(|| ApiError::ClusterNotFound(name.clone()))?;
    match state.auth.store.latest_run(name).await? {
        Some(row) => Ok(Json(with_live(&state, row).await)),
        None => Ok(Json(Value::Null)),
    }
}
