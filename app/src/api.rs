//! The one client of the console's JSON API. Every page goes through it, and every failure comes
//! out as an [`ApiError`] that `components::alert` knows how to show.

use backup_domain::api::{ApiErrorBody, BackupDetailResponse, ClustersResponse, HistoryResponse};
use gloo_net::http::Request;
use serde::de::DeserializeOwned;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The console server did not answer (stopped, network down).
    #[error("the console server did not answer: {0}")]
    Network(String),
    /// The server answered with its error envelope.
    #[error("{message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// The server answered something this UI cannot read (a version mismatch, a proxy page).
    #[error("unexpected answer from the console server: {0}")]
    Decode(String),
}

impl ApiError {
    pub fn title(&self) -> &'static str {
        match self {
            ApiError::Network(_) => "Console server unreachable",
            ApiError::Server { status: 404, .. } => "Not found",
            ApiError::Server { status: 400, .. } => "Invalid request",
            ApiError::Server { .. } => "The console server reported an error",
            ApiError::Decode(_) => "Unexpected answer",
        }
    }
}

async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    let response = Request::get(path)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    if (200..300).contains(&status) {
        return serde_json::from_str(&text).map_err(|e| ApiError::Decode(e.to_string()));
    }
    match serde_json::from_str::<ApiErrorBody>(&text) {
        Ok(body) => Err(ApiError::Server {
            status,
            code: body.error.code,
            message: body.error.message,
        }),
        Err(_) => Err(ApiError::Server {
            status,
            code: "http_error".into(),
            message: format!(
                "HTTP {status} {}",
                text.chars().take(200).collect::<String>()
            ),
        }),
    }
}

/// Path segments are cluster names from the configuration (letters, digits, `-`, `_`) and
/// numeric IDs, so they need no escaping; anything else is refused rather than sent.
fn segment(value: &str) -> Result<&str, ApiError> {
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(value)
    } else {
        Err(ApiError::Server {
            status: 404,
            code: "cluster_not_found".into(),
            message: format!("no cluster named `{value}`"),
        })
    }
}

pub async fn clusters() -> Result<ClustersResponse, ApiError> {
    get_json("/api/clusters").await
}

pub async fn history(cluster: &str) -> Result<HistoryResponse, ApiError> {
    get_json(&format!("/api/clusters/{}/backups", segment(cluster)?)).await
}

pub async fn backup_detail(
    cluster: &str,
    backup_id: u64,
) -> Result<BackupDetailResponse, ApiError> {
    get_json(&format!(
        "/api/clusters/{}/backups/{backup_id}",
        segment(cluster)?
    ))
    .await
}
