use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use backup_domain::api::{ApiErrorBody, ApiErrorDetail};

/// Everything an `/api` route can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no cluster named `{0}` is configured")]
    ClusterNotFound(String),
    #[error("no component of cluster `{cluster}` has a backup with ID {backup_id}")]
    BackupNotFound { cluster: String, backup_id: u64 },
    #[error("{0}")]
    BadRequest(String),
    #[error("no such API route")]
    RouteNotFound,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::ClusterNotFound(_) => (StatusCode::NOT_FOUND, "cluster_not_found"),
            ApiError::BackupNotFound { .. } => (StatusCode::NOT_FOUND, "backup_not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::RouteNotFound => (StatusCode::NOT_FOUND, "route_not_found"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                code: code.to_string(),
                message: self.to_string(),
            },
        };
        (status, Json(body)).into_response()
    }
}
