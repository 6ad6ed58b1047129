//! Exporting and rebalancing (the seeds' management API): operator actions, every one audited
//! with its outcome.

use axum::extract::State;
use axum::{Extension, Json};
use backup_domain::audit::{AuditAction, AuditOutcome};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiPath, NoBody, OptionalBody};
use super::{ApiError, AppState};
use crate::audit::{self, AuditEvent};
use crate::auth::Principal;
use crate::upstream::ExportingOperation;

#[derive(Debug, Default, Deserialize)]
pub struct PauseRequest {
    /// Soft pause keeps exporting but stops compaction (contract §4.1); the backup procedure uses
    /// it. Required: a hard pause stops exporting altogether, so it is never a default (L9).
    #[serde(default)]
    soft: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResumeRequest {
    /// Resume even though a backup run holds the cluster (an emergency: that run then fails
    /// rather than take an inconsistent backup).
    #[serde(default)]
    force: bool,
}

/// `POST /api/clusters/{name}/exporting/pause` with `{"soft": true|false}`.
pub async fn pause(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    OptionalBody(body): OptionalBody<PauseRequest>,
) -> Result<Json<Value>, ApiError> {
    let soft = body.and_then(|b| b.soft).ok_or_else(|| {
        ApiError::BadRequest(
            "say which pause: {\"soft\": true} (compaction stops, exporting goes on) or {\"soft\": false} (exporting stops)".into(),
        )
    })?;
    let (operation, action) = if soft {
        (
            ExportingOperation::SoftPause,
            AuditAction::ExportingSoftPaused,
        )
    } else {
        (ExportingOperation::Pause, AuditAction::ExportingPaused)
    };
    refuse_while_held(&state, &p, &name, action.clone(), false).await?;
    exporting(&state, &p, &name, operation, action, None).await
}

/// `POST /api/clusters/{name}/exporting/resume`, optionally with `{"force": true}`.
pub async fn resume(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    OptionalBody(body): OptionalBody<ResumeRequest>,
) -> Result<Json<Value>, ApiError> {
    let force = body.is_some_and(|b| b.force);
    let action = AuditAction::ExportingResumed;
    let forced = if force {
        state.runs.holding(&name).await.map(|held| {
            format!(
                "forced while {} held the cluster",
                held.run_id
                    .map(|id| format!("run {id}"))
                    .unwrap_or_else(|| "a starting run".into())
            )
        })
    } else {
        // Once the run is resuming itself, a hand resume only helps it.
        refuse_while_held(&state, &p, &name, action.clone(), true).await?;
        None
    };
    exporting(
        &state,
        &p,
        &name,
        ExportingOperation::Resume,
        action,
        forced,
    )
    .await
}

/// While a backup run holds the cluster, only it touches exporting or leadership: a pause or
/// rebalance would change what it backs up, and a resume makes its backup inconsistent (M1).
/// The refusal is audited.
async fn refuse_while_held(
    state: &AppState,
    p: &Principal,
    name: &str,
    action: AuditAction,
    resume: bool,
) -> Result<(), ApiError> {
    state
        .clusters
        .get(name)
        .ok_or_else(|| ApiError::ClusterNotFound(name.to_string()))?;
    match state.runs.holding(name).await {
        Some(held) if !(resume && held.resuming) => {
            let refused = ApiError::RunInProgress {
                run_id: held.run_id,
            };
            audit::record(
                &state.store,
                state.runs.clock(),
                AuditEvent::new(&p.user, &p.client, action, AuditOutcome::Failure)
                    .cluster(name)
                    .detail(format!("refused: {refused}")),
            )
            .await;
            Err(refused)
        }
        _ => Ok(()),
    }
}

async fn exporting(
    state: &AppState,
    p: &Principal,
    name: &str,
    operation: ExportingOperation,
    action: AuditAction,
    note: Option<String>,
) -> Result<Json<Value>, ApiError> {
    let cluster = state
        .clusters
        .get(name)
        .ok_or_else(|| ApiError::ClusterNotFound(name.to_string()))?;
    let result = cluster.zeebe.exporting(operation).await;
    finish(
        state,
        p,
        name,
        action,
        result.map_err(|e| e.to_string()),
        note,
    )
    .await
}

/// `POST /api/clusters/{name}/rebalance`: fire-and-forget leader elections (contract §4.4).
pub async fn rebalance(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    _: NoBody,
) -> Result<Json<Value>, ApiError> {
    let cluster = state
        .clusters
        .get(&name)
        .ok_or_else(|| ApiError::ClusterNotFound(name.clone()))?;
    refuse_while_held(&state, &p, &name, AuditAction::Rebalance, false).await?;
    let result = cluster.zeebe.rebalance().await;
    finish(
        &state,
        &p,
        &name,
        AuditAction::Rebalance,
        result.map_err(|e| e.to_string()),
        None,
    )
    .await
}

async fn finish(
    state: &AppState,
    p: &Principal,
    cluster: &str,
    action: AuditAction,
    result: Result<(), String>,
    note: Option<String>,
) -> Result<Json<Value>, ApiError> {
    let (outcome, detail) = match (&result, note) {
        (Ok(()), note) => (AuditOutcome::Success, note),
        (Err(message), None) => (AuditOutcome::Failure, Some(message.clone())),
        (Err(message), Some(note)) => (AuditOutcome::Failure, Some(format!("{note}: {message}"))),
    };
    audit::record(
        &state.store,
        state.runs.clock(),
        AuditEvent::new(&p.user, &p.client, action, outcome)
            .cluster(cluster)
            .detail(detail),
    )
    .await;
    result
        .map(|()| Json(json!({ "ok": true })))
        .map_err(ApiError::Upstream)
}
