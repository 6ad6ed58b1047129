//! The console's JSON API under `/api`. Every error answers with one envelope,
//! `{"error": {"code", "message"}}` (`backup_domain::api::ApiErrorBody`).

mod clusters;
mod error;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::cluster::Clusters;
pub use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub clusters: Arc<Clusters>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/clusters", get(clusters::list))
        .route("/api/clusters/{name}/backups", get(clusters::history))
        .route("/api/clusters/{name}/backups/{id}", get(clusters::detail))
        .route("/api/{*rest}", axum::routing::any(not_found))
        .with_state(state)
}

/// The console's own liveness, for probes: it says nothing about the clusters.
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}
