//! Clusters and their backup history.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{ApiPath, ApiQuery};
use backup_domain::Verdict;
use backup_domain::api::{BackupDetailResponse, ClustersResponse, HistoryResponse};
use backup_domain::id::BackupId;
use backup_domain::listing::{ListQuery, MAX_PER_PAGE, Order, PAGE_SIZE, page_of};
use futures_util::future::join_all;

use super::{ApiError, AppState};
use crate::cluster::Cluster;
use crate::history;

/// `GET /api/clusters`: every cluster with the reachability of each component.
pub async fn list(State(state): State<AppState>) -> Json<ClustersResponse> {
    let clusters = join_all(state.clusters.all().iter().map(Cluster::health)).await;
    Json(ClustersResponse { clusters })
}

/// `GET /api/clusters/{name}/backups?page=&per_page=&verdict=&q=&sort=newest|oldest`. Without any
/// of them, every set; with one, a page of them (`per_page` 25 unless given, at most 500).
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    page: Option<usize>,
    per_page: Option<usize>,
    verdict: Option<Verdict>,
    /// Digits of the backup ID to look for.
    q: Option<String>,
    sort: Option<Order>,
}

impl HistoryQuery {
    fn asks_for_a_page(&self) -> bool {
        self.page.is_some()
            || self.per_page.is_some()
            || self.verdict.is_some()
            || self.q.is_some()
            || self.sort.is_some()
    }
}

pub async fn history(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let cluster = state.cluster(&name)?;
    if !query.asks_for_a_page() {
        return Ok(Json(history::history(cluster).await).into_response());
    }
    let per_page = query.per_page.unwrap_or(PAGE_SIZE);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::BadRequest(format!(
            "per_page is 1 to {MAX_PER_PAGE}, not {per_page}"
        )));
    }
    if query.page == Some(0) {
        return Err(ApiError::BadRequest("page counts from 1".into()));
    }
    let mut answer = history::history(cluster).await;
    let list = ListQuery {
        verdict: query.verdict,
        search: query.q.unwrap_or_default(),
        page: query.page.unwrap_or(1),
    };
    let page = page_of(
        &answer.sets,
        &list,
        per_page,
        query.sort.unwrap_or_default(),
    );
    let (rows, total, shown, pages) = (
        page.rows.into_iter().cloned().collect(),
        page.matching,
        page.page,
        page.pages,
    );
    answer.sets = rows;
    answer.total = Some(total);
    answer.page = Some(shown);
    answer.per_page = Some(per_page);
    answer.pages = Some(pages);
    Ok(with_etag(&answer, &headers))
}

/// The paged list is `private, no-cache` with an `ETag` over what it says (not over the moment it
/// was made), so a client asking again with `If-None-Match` gets a 304 while nothing changed.
fn with_etag(answer: &HistoryResponse, headers: &HeaderMap) -> Response {
    use sha2::Digest;
    let mut timeless = answer.clone();
    timeless.generated_at_ms = 0;
    let digest = sha2::Sha256::digest(serde_json::to_vec(&timeless).unwrap_or_default());
    let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let etag = format!("\"{tag}\"");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim() == etag || v.trim() == "*");
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Json(answer).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// `GET /api/clusters/{name}/backups/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<Json<BackupDetailResponse>, ApiError> {
    let cluster = state.cluster(&name)?;
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
