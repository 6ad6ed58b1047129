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
    status.served_at_ms = state.runs.clock().now_ms();
    Ok(Json(status))
}

/// Beside a history read: the poller takes a round now rather than at its next tick, so that the
/// exporting phase the page shows beside the catalog is current (a round probes, it lists
/// nothing). Rounds stay single-flight: requests during a round coalesce into one more round.
pub async fn refresh_alongside(
    State(state): State<AppState>,
    // Decoded, as in `refresh_after`.
    name: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
    request: Request,
    next: Next,
) -> Response {
    if let Ok(axum::extract::Path(cluster)) = name {
        state.status.refresh(&cluster);
    }
    next.run(request).await
}

/// Around a pause or resume through the console: once it has succeeded, the cluster's status is
/// taken again before the answer goes out, so the Overview's next read shows the new phase rather
/// than the old one for up to an interval.
pub async fn refresh_after(
    State(state): State<AppState>,
    // The decoded `{name}`, as the handler sees it (`te%73t` is the cluster `test`).
    name: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
    request: Request,
    next: Next,
) -> Response {
    let cluster = name.ok().map(|axum::extract::Path(name)| name);
    let response = next.run(request).await;
    if let Some(cluster) = cluster {
        let status = response.status();
        if status.is_success() {
            state.status.refresh_and_wait(&cluster).await;
        } else if status.is_server_error() {
            // A failed call may still have changed something upstream. A refusal (4xx) was
            // answered before anything was sent: it is no reason for another round.
            state.status.refresh(&cluster);
        }
    }
    response
}
