//! `GET /api/clusters/{name}/backups/{id}/runbook?format=md|sh`: the restore runbook of one set.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use backup_domain::id::BackupId;
use backup_domain::runbook::RunbookFormat;
use serde::Deserialize;

use super::extract::{ApiPath, ApiQuery};
use super::{ApiError, AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookQuery {
    /// `md` (default) or `sh`.
    format: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    ApiPath((name, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<RunbookQuery>,
) -> Result<Response, ApiError> {
    let cluster = state.cluster(&name)?;
    let backup_id = id
        .parse::<BackupId>()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
        .get();
    let format = match query.format.as_deref() {
        None => RunbookFormat::Markdown,
        Some(text) => RunbookFormat::parse(text)
            .ok_or_else(|| ApiError::BadRequest(format!("format is `md` or `sh`, not `{text}`")))?,
    };
    let text = crate::runbook::render(cluster, backup_id, format)
        .await
        .ok_or(ApiError::BackupNotFound {
            cluster: name.clone(),
            backup_id,
        })?;
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    // Read fresh from the components each time: never from a cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = match format {
        RunbookFormat::Markdown => "inline",
        RunbookFormat::Shell => "attachment",
    };
    // The cluster name is letters, digits, `-` and `_` (the configuration refuses others).
    let file = crate::runbook::file_name(&name, backup_id, format);
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
