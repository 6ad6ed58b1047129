//! Exporting and rebalancing (the seeds' management API): operator actions, every one audited
//! with its outcome.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, audit};
use crate::auth::Principal;
use crate::upstream::ExportingOperation;

#[derive(Debug, Default, Deserialize)]
pub struct PauseRequest {
    /// Soft pause keeps exporting but stops compaction (contract §4.1); the backup procedure uses it.
    #[serde(default)]
    soft: bool,
}

/// `POST /api/clusters/{name}/exporting/pause` with `{"soft": true|false}`.
pub async fn pause(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Option<Json<PauseRequest>>,
) -> Result<Json<Value>, ApiError> {
    let soft = body.map(|Json(b)| b.soft).unwrap_or(false);
    let (operation, action) = if soft {
        (ExportingOperation::SoftPause, "exporting_soft_paused")
    } else {
        (ExportingOperation::Pause, "exporting_paused")
    };
    exporting(&state, &p, &name, operation, action).await
}

/// `POST /api/clusters/{name}/exporting/resume`.
pub async fn resume(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    exporting(
        &state,
        &p,
        &name,
        ExportingOperation::Resume,
        "exporting_resumed",
    )
    .await
}

async fn exporting(
    state: &AppState,
    p: &Principal,
    name: &str,
    operation: ExportingOperation,
    action: &str,
) -> Result<Json<Value>, ApiError> {
    let cluster = state
        .clusters
        .get(name)
        .ok_or_else(|| ApiError::ClusterNotFound(name.to_string()))?;
    let result = cluster.zeebe.exporting(operation).await;
    finish(state, p, name, action, result.map_err(|e| e.to_string())).await
}

/// `POST /api/clusters/{name}/rebalance`: fire-and-forget leader elections (contract §4.4).
pub async fn rebalance(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let cluster = state
        .clusters
        .get(&name)
        .ok_or_else(|| ApiError::ClusterNotFound(name.clone()))?;
    let result = cluster.zeebe.rebalance().await;
    finish(
        &state,
        &p,
        &name,
        "rebalance",
        result.map_err(|e| e.to_string()),
    )
    .await
}

async fn finish(
    state: &AppState,
    p: &Principal,
    cluster: &str,
    action: &str,
    result: Result<(), String>,
) -> Result<Json<Value>, ApiError> {
    let (outcome, detail) = match &result {
        Ok(()) => ("success", None),
        Err(message) => ("failure", Some(message.clone())),
    };
    audit::record(
        state,
        &p.user,
        &p.client,
        action,
        Some(cluster.to_string()),
        None,
        outcome,
        detail,
    )
    .await;
    result
        .map(|()| Json(json!({ "ok": true })))
        .map_err(ApiError::Upstream)
}
