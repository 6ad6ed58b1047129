//! `GET /api/clusters/{name}/status`: the latest round of the cluster's status poller. Every
//! viewer reads the same round, so viewers cost no upstream call.

use axum::Json;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use backup_domain::status::ClusterStatus;

use super::extract::ApiPath;
use super::{ApiError, AppState};

/// `GET /api/clusters/{name}/status`.
pub async fn get(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ClusterStatus>, ApiError> {
    state.cluster(&name)?;
    let mut status = state
        .status
        .current(&name)
        .await
        .ok_or_else(|| ApiError::ClusterNotFound(name.clone()))?
        .map_err(ApiError::Upstream)?;
    status.served_at_ms = chrono::Utc::now().timestamp_millis();
    Ok(Json(status))
}

/// Around a pause or resume through the console: once it has succeeded, the cluster's status is
/// taken again before the answer goes out, so the Overview's next read shows the new phase rather
/// than the old one for up to an interval.
pub async fn refresh_after(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // `/api/clusters/{name}/...`
    let cluster = request.uri().path().split('/').nth(3).map(str::to_string);
    let response = next.run(request).await;
    if let Some(cluster) = cluster {
        if response.status().is_success() {
            state.status.refresh_and_wait(&cluster).await;
        } else {
            // A failed call may still have changed something upstream.
            state.status.refresh(&cluster);
        }
    }
    response
}
