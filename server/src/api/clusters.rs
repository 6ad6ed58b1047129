//! Clusters and their backup history.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{ApiPath, ApiQuery, NoBody};
use backup_domain::Verdict;
use backup_domain::api::{
    BackupDetailResponse, CatalogRefreshResponse, ClustersResponse, ExportingStatus,
    HistoryResponse,
};
use backup_domain::id::BackupId;
use backup_domain::listing::{MAX_PER_PAGE, Order, PAGE_SIZE};
use futures_util::future::join_all;

use super::{ApiError, AppState};
use crate::catalog::PageQuery;
use crate::cluster::Cluster;
use crate::history;

/// `GET /api/clusters`: every cluster with the reachability of each component.
pub async fn list(State(state): State<AppState>) -> Json<ClustersResponse> {
    let mut clusters = join_all(state.clusters.all().iter().map(Cluster::health)).await;
    for cluster in &mut clusters {
        cluster.maintenance = crate::maintenance::current(&state.store, &cluster.name).await;
    }
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
    // The status poller's latest round: a history read costs no upstream call.
    let exporting = match state.status.current(&name).await {
        Some(Ok(status)) => status.exporting,
        Some(Err(message)) => ExportingStatus {
            partitions: Vec::new(),
            error: Some(message),
        },
        None => return Err(ApiError::ClusterNotFound(name)),
    };
    if !query.asks_for_a_page() {
        // The whole history in one answer, as before the catalog: every set on one page.
        let mut answer = state
            .catalog
            .page(
                cluster,
                PageQuery {
                    page: 1,
                    per_page: usize::MAX / 2,
                    ..PageQuery::default()
                },
                exporting,
            )
            .await?;
        (answer.total, answer.page, answer.per_page, answer.pages) = (None, None, None, None);
        return Ok(Json(answer).into_response());
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
    let answer = state
        .catalog
        .page(
            cluster,
            PageQuery {
                verdict: query.verdict,
                digits: query
                    .q
                    .unwrap_or_default()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect(),
                page: query.page.unwrap_or(1),
                per_page,
                order: query.sort.unwrap_or_default(),
            },
            exporting,
        )
        .await?;
    Ok(with_etag(&answer, &headers))
}

/// `POST /api/clusters/{name}/catalog/refresh`: lists every component now, or waits for the
/// refresh under way. One made moments ago is answered as it is (`refreshed: false`), so a
/// double click or a crowd of viewers costs one listing.
pub async fn refresh_catalog(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    _: NoBody,
) -> Result<Json<CatalogRefreshResponse>, ApiError> {
    state.cluster(&name)?;
    state.catalog.viewed(&name);
    // The exporting phase beside the history comes from the status round: a Refresh takes
    // one too (single-flight, as every round).
    let (refreshed, ()) = tokio::join!(
        state.catalog.refresh_on_request(&name),
        state.status.refresh_and_wait(&name)
    );
    let refreshed = refreshed?;
    Ok(Json(CatalogRefreshResponse {
        catalog: state.catalog.freshness(&name).await?,
        cluster: name,
        refreshed,
    }))
}

/// The paged list is `private, no-cache` with an `ETag` over what it says (not over the moment it
/// was made), so a client asking again with `If-None-Match` gets a 304 while nothing changed.
fn with_etag(answer: &HistoryResponse, headers: &HeaderMap) -> Response {
    use sha2::Digest;
    let mut timeless = answer.clone();
    timeless.generated_at_ms = 0;
    // Ages tick every second; what they count from (the refresh, the set's start) is kept.
    if let Some(c) = &mut timeless.catalog {
        c.age_seconds = 0;
    }
    if let Some(l) = &mut timeless.latest_restorable {
        l.age_seconds = None;
    }
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
    let mut detail = history::detail(cluster, backup_id)
        .await
        .ok_or(ApiError::BackupNotFound {
            cluster: name,
            backup_id,
        })?;
    state.catalog.mark_trigger(cluster, &mut detail.set).await;
    Ok(Json(detail))
}
