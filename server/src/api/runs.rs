//! Backup runs: preflight, start and cancel (operator); read, follow live and download as a curl
//! script (viewer).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use backup_domain::run::{Preflight, RunReport, RunStarted, RunView, StartRunRequest, curl_script};
use futures_util::Stream;

use super::extract::{ApiPath, NoBody, OptionalBody};
use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::cluster::Cluster;
use crate::procedure::recovery::report_from_row;
use crate::procedure::service::StartError;
use crate::store::RunRow;
use backup_domain::api::VersionProfile;

fn cluster<'a>(state: &'a AppState, name: &str) -> Result<&'a Cluster, ApiError> {
    state.cluster(name)
}

/// `GET /api/clusters/{name}/preflight`: the checks, the proposed ID and the plan. No side effect.
pub async fn preflight(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Preflight>, ApiError> {
    let cluster = cluster(&state, &name)?;
    Ok(Json(state.runs.preflight(cluster).await.0))
}

/// `POST /api/clusters/{name}/runs`: 202 with the run; 409 while another runs or preflight fails.
pub async fn start(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    OptionalBody(body): OptionalBody<StartRunRequest>,
) -> Result<(StatusCode, Json<RunStarted>), ApiError> {
    let cluster = cluster(&state, &name)?;
    let requested = body.and_then(|b| b.backup_id);
    let started = state
        .runs
        .start(cluster, &p.user, &p.client, requested)
        .await
        .map_err(|e| match e {
            StartError::InProgress { run_id } => ApiError::RunInProgress { run_id },
            StartError::Preflight(m) => ApiError::Preflight(m),
            StartError::BadId(m) => ApiError::BadRequest(m),
            StartError::Maintenance(m) => ApiError::Maintenance(m),
            StartError::Store(s) => ApiError::Store(s),
        })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RunStarted {
            run_id: started.run_id,
            backup_id: started.backup_id,
        }),
    ))
}

/// `POST /api/runs/{id}/cancel`: the run stops after the request in flight and resumes exporting.
pub async fn cancel(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    _: NoBody,
) -> Result<StatusCode, ApiError> {
    state
        .runs
        .cancel(id, &p.user, &p.client)
        .await
        .map_err(|_| ApiError::RunNotRunning(id))?;
    Ok(StatusCode::ACCEPTED)
}

fn view(state: &AppState, row: RunRow) -> RunView {
    let report = state.runs.live(row.id).unwrap_or_else(|| {
        let profile = state
            .clusters
            .get(&row.cluster)
            .map_or(VersionProfile::V88, |c| c.profile);
        report_from_row(&row, profile)
    });
    RunView {
        id: row.id,
        cluster: row.cluster,
        backup_id: row.backup_id,
        started_by: row.started_by,
        started_ms: row.started_ms,
        ended_ms: row.ended_ms,
        trigger: row.trigger,
        report,
    }
}

async fn row(state: &AppState, id: i64) -> Result<RunRow, ApiError> {
    state.store.run(id).await?.ok_or(ApiError::RunNotFound(id))
}

/// `GET /api/runs/{id}`.
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RunView>, ApiError> {
    let row = row(&state, id).await?;
    Ok(Json(view(&state, row)))
}

/// `GET /api/clusters/{name}/runs/latest`: the newest run of the cluster, or `null`.
pub async fn latest(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Option<RunView>>, ApiError> {
    cluster(&state, &name)?;
    match state.store.latest_run(name).await? {
        Some(row) => Ok(Json(Some(view(&state, row)))),
        None => Ok(Json(None)),
    }
}

/// `GET /api/runs/{id}/script`: the transcript as a bash script of curl calls.
pub async fn script(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let run = view(&state, row(&state, id).await?);
    let body = curl_script(&run.cluster, &run.report);
    let disposition = format!(
        "attachment; filename=\"backup-{}-{}.sh\"",
        run.cluster
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
        run.backup_id
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/x-shellscript; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/runs/{id}/events`: server-sent events, one `report` event per change (the whole
/// report without its transcript), ending after the last.
pub async fn events(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let first = view(&state, row(&state, id).await?).report;
    // Held until the stream ends: a client reconnecting in a loop cannot pile streams up.
    let slot = state.auth.streams.acquire(&p.user)?;
    let live = state.runs.subscribe(id);
    // A stopping console ends the stream, or it would hold the graceful shutdown open (H1).
    let stopped = state.runs.stopped();
    enum Phase {
        First(RunReport, Option<tokio::sync::watch::Receiver<RunReport>>),
        Live(tokio::sync::watch::Receiver<RunReport>),
        /// Run by another process sharing the database (a `backup` CLI run): read from there.
        Stored(RunReport),
        Done,
    }
    // The transcript stays out of the stream: it only grows, and `script` serves it whole.
    let event = |mut report: RunReport| {
        report.transcript.clear();
        Event::default()
            .event("report")
            .json_data(&report)
            .unwrap_or_else(|_| Event::default().event("error").data("unserializable"))
    };
    let stream = futures_util::stream::unfold(Phase::First(first, live), move |phase| {
        let _held = &slot;
        let state = state.clone();
        async move {
            match phase {
                Phase::First(report, live) => {
                    let next = match live {
                        _ if report.outcome.is_finished() => Phase::Done,
                        Some(rx) => Phase::Live(rx),
                        None => Phase::Stored(report.clone()),
                    };
                    Some((Ok(event(report)), next))
                }
                Phase::Stored(last) => {
                    // Its owner writes every change within 100 ms; a stream that ends (the row is
                    // gone, the database fails) lets the browser reconnect and try again.
                    let report = loop {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        let Ok(Some(row)) = state.store.run(id).await else {
                            return None;
                        };
                        let report = view(&state, row).report;
                        if report != last {
                            break report;
                        }
                    };
                    let next = if report.outcome.is_finished() {
                        Phase::Done
                    } else {
                        Phase::Stored(report.clone())
                    };
                    Some((Ok(event(report)), next))
                }
                Phase::Live(mut rx) => {
                    // The runner drops its sender once the run has ended; the last value is final.
                    let more = rx.changed().await.is_ok();
                    let report = rx.borrow_and_update().clone();
                    let next = if more && !report.outcome.is_finished() {
                        Phase::Live(rx)
                    } else {
                        Phase::Done
                    };
                    Some((Ok(event(report)), next))
                }
                Phase::Done => None,
            }
        }
    });
    let stream = futures_util::StreamExt::take_until(stream, stopped);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
