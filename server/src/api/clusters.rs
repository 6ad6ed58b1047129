//! Clusters and their backup history.

use axum::Json;
use axum::extract::State;

use super::extract::ApiPath;
use backup_domain::api::{BackupDetailResponse, ClustersResponse, HistoryResponse};
use backup_domain::id::BackupId;
use futures_util::future::join_all;

use super::{ApiError, AppState};
use crate::cluster::Cluster;
use crate::history;

fn cluster<'a>(state: &'a AppState, name: &str) -> Result<&'a Cluster, ApiError> {
    state
        .clusters
        .get(name)
        .ok_or_else(|| ApiError::ClusterNotFound(name.to_string()))
}

/// `GET /api/clusters`: every cluster with the reachability of each component.
pub async fn list(State(state): State<AppState>) -> Json<ClustersResponse> {
    let clusters = join_all(state.clusters.all().iter().map(Cluster::health)).await;
    Json(ClustersResponse { clusters })
}

/// `GET /api/clusters/{name}/backups`.
pub async fn history(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<HistoryResponse>, ApiError> {
    let cluster = cluster(&state, &name)?;
    Ok(Json(history::history(cluster).await))
}

/// `GET /api/clusters/{name}/backups/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<Json<BackupDetailResponse>, ApiError> {
    let cluster = cluster(&state, &name)?;
    let backup_id = id
        .parse::<BackupId>()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
        .get();
    history::detail(cluster, backup_id)
        .await
        .map(Json)
        .ok_or(ApiError::BackupNotFound {
            cluster: name,
            backup_id,
        })
}
