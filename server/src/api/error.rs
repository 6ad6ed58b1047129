use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use backup_domain::api::{ApiErrorBody, ApiErrorDetail, ErrorCode};

use crate::store::StoreError;

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
    /// The path exists with other methods: these, comma-separated (they also go in `Allow`).
    #[error("this path answers {0}")]
    MethodNotAllowed(String),
    #[error("the body is larger than this route accepts")]
    PayloadTooLarge,
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    InvalidCredentials(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    CsrfFailed(String),
    #[error("a backup run is already in progress on this cluster{}", run_id.map(|id| format!(" (run {id})")).unwrap_or_default())]
    RunInProgress { run_id: Option<i64> },
    #[error("{0}")]
    Preflight(String),
    #[error("no backup run {0}")]
    RunNotFound(i64),
    #[error("run {0} is not running on this console")]
    RunNotRunning(i64),
    #[error("{}", describe_difference(.0))]
    PlanChanged(backup_domain::retention::PlanDifference),
    #[error("{}", .0.iter().map(|(id, why)| format!("{id}: {why}")).collect::<Vec<_>>().join("; "))]
    SelectionRefused(Vec<(u64, String)>),
    #[error("no cleanup {0}")]
    CleanupNotFound(i64),
    /// A cleanup nobody confirmed would be unsafe (a component holds nothing, most sets go).
    #[error("{0}")]
    CleanupRefused(String),
    /// The request conflicts with the current state; the message says how.
    #[error("{0}")]
    Conflict(String),
    /// The plan carries a warning the confirmation did not acknowledge.
    #[error("{0}")]
    CleanupWarning(String),
    /// A component refused or failed the action; its own message is passed on.
    #[error("{0}")]
    Upstream(String),
    #[error("{0}")]
    TooManyStreams(#[from] super::streams::StreamRefused),
    #[error("too many failed logins; try again in {retry_after} s")]
    RateLimited { retry_after: i64 },
    #[error("{0}")]
    CatalogNotReady(String),
    /// The cluster is in maintenance mode.
    #[error("{0}")]
    Maintenance(String),
    #[error("no notification channel named `{0}` is configured")]
    ChannelNotFound(String),
    /// The details go to the log, not to the client.
    #[error("internal error")]
    Store(#[from] StoreError),
}

impl From<crate::catalog::CatalogError> for ApiError {
    fn from(error: crate::catalog::CatalogError) -> Self {
        use crate::catalog::CatalogError;
        match error {
            CatalogError::Store(e) => ApiError::Store(e),
            e @ (CatalogError::NotYet(..) | CatalogError::Lost(..)) => {
                ApiError::CatalogNotReady(e.to_string())
            }
            // A row this build cannot read: the log says which; the client gets the envelope.
            e @ CatalogError::Corrupt(..) => ApiError::Store(StoreError::Task(e.to_string())),
        }
    }
}

impl ApiError {
    /// The answer's status and its stable code (`ErrorCode`'s text is the wire format).
    pub fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            ApiError::ClusterNotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::ClusterNotFound),
            ApiError::ChannelNotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::ChannelNotFound),
            ApiError::BackupNotFound { .. } => (StatusCode::NOT_FOUND, ErrorCode::BackupNotFound),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            ApiError::RouteNotFound => (StatusCode::NOT_FOUND, ErrorCode::RouteNotFound),
            ApiError::MethodNotAllowed(_) => {
                (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed)
            }
            ApiError::PayloadTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
            }
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated),
            ApiError::InvalidCredentials(_) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials)
            }
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            ApiError::CsrfFailed(_) => (StatusCode::FORBIDDEN, ErrorCode::CsrfFailed),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            ApiError::TooManyStreams(_) => {
                (StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyStreams)
            }
            ApiError::Upstream(_) => (StatusCode::BAD_GATEWAY, ErrorCode::UpstreamFailed),
            ApiError::RunInProgress { .. } => (StatusCode::CONFLICT, ErrorCode::RunInProgress),
            ApiError::Preflight(_) => (StatusCode::CONFLICT, ErrorCode::PreflightFailed),
            ApiError::RunNotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::RunNotFound),
            ApiError::RunNotRunning(_) => (StatusCode::CONFLICT, ErrorCode::RunNotRunning),
            ApiError::PlanChanged(_) => (StatusCode::CONFLICT, ErrorCode::PlanChanged),
            ApiError::SelectionRefused(_) => (StatusCode::CONFLICT, ErrorCode::SelectionRefused),
            ApiError::CleanupNotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::CleanupNotFound),
            ApiError::CleanupRefused(_) => (StatusCode::CONFLICT, ErrorCode::CleanupRefused),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            ApiError::Maintenance(_) => (StatusCode::CONFLICT, ErrorCode::Maintenance),
            ApiError::CleanupWarning(_) => (StatusCode::CONFLICT, ErrorCode::CleanupWarning),
            ApiError::CatalogNotReady(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::CatalogNotReady)
            }
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Store(error) = &self {
            tracing::error!(%error, "database failure");
        }
        let (status, code) = self.status_and_code();
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                code,
                message: self.to_string(),
                details: match &self {
                    ApiError::PlanChanged(d) => serde_json::to_value(d).ok(),
                    _ => None,
                },
            },
        };
        let mut response = (status, Json(body)).into_response();
        match self {
            ApiError::RateLimited { retry_after } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::MethodNotAllowed(allowed) => {
                if let Ok(v) = HeaderValue::from_str(&allowed) {
                    response.headers_mut().insert(header::ALLOW, v);
                }
            }
            _ => {}
        }
        response
    }
}

fn describe_difference(d: &backup_domain::retention::PlanDifference) -> String {
    let list = |ids: &[u64]| {
        ids.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = vec!["the plan changed since the preview; nothing was deleted".to_string()];
    if !d.added.is_empty() {
        parts.push(format!("it now also deletes {}", list(&d.added)));
    }
    if !d.removed.is_empty() {
        parts.push(format!("it no longer deletes {}", list(&d.removed)));
    }
    parts.join("; ")
}
