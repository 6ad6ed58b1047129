//! Login, logout and the current session.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use backup_domain::api::{LoginRequest, SessionInfo};
use backup_domain::audit::{AuditAction, AuditOutcome};

use super::{ApiError, AppState, client_address};
use crate::audit::{self, AuditEvent};
use crate::auth::{self, LOGIN_HEADER, LOGIN_HEADER_VALUE, Principal, password};

const GENERIC_FAILURE: &str = "invalid user name or password";

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

fn cookie(state: &AppState, value: &str, max_age_secs: u64) -> String {
    let secure = if state.auth.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let name = auth::session_cookie_name(state.auth.secure_cookies);
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

/// `POST /api/login`: a generic error for any failure, and the same work whether the user exists.
/// The attempt is reserved against the limits before the password is checked, and the check waits
/// for one of a few Argon2 slots or is refused at once.
pub async fn login(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let client = client_address(&request, &state.auth.config.login);
    let header_ok = request
        .headers()
        .get(LOGIN_HEADER)
        .and_then(|v| v.to_str().ok())
        == Some(LOGIN_HEADER_VALUE);
    if !header_ok {
        return Err(ApiError::CsrfFailed(format!(
            "the login request needs the header {LOGIN_HEADER}: {LOGIN_HEADER_VALUE}"
        )));
    }
    let bytes = axum::body::to_bytes(request.into_body(), 16 * 1024)
        .await
        .map_err(|_| ApiError::BadRequest("the login request is too large".into()))?;
    let body: LoginRequest = serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::BadRequest("send {\"username\": ..., \"password\": ...}".into()))?;
    let auth = &state.auth;
    let now = state.runs.clock().now_ms();
    for done in auth.limiter.finished_denials(now) {
        audit::record(
            &state.store,
            state.runs.clock(),
            AuditEvent::new(
                &done.user,
                &done.client,
                AuditAction::LoginFailed,
                AuditOutcome::Denied,
            )
            .detail(format!(
                "rate limited {} more times from {} to {}",
                done.count,
                utc(done.from_ms),
                utc(done.to_ms)
            )),
        )
        .await;
    }
    let reservation = match auth.limiter.reserve(&body.username, &client, now) {
        Ok(reservation) => reservation,
        Err(denied) => {
            // One row per key and window; the rest are counted into one later row.
            if denied.first {
                audit::record(
                    &state.store,
                    state.runs.clock(),
                    AuditEvent::new(
                        &body.username,
                        &client,
                        AuditAction::LoginFailed,
                        AuditOutcome::Denied,
                    )
                    .detail("rate limited".to_string()),
                )
                .await;
            }
            return Err(ApiError::RateLimited {
                retry_after: denied.retry_after_secs,
            });
        }
    };
    let user = auth.config.users.iter().find(|u| u.name == body.username);
    let verified = auth
        .limiter
        .gate
        .verify(body.password, user.map(|u| u.password_hash.clone()))
        .await;
    let verified = match verified {
        Ok(verified) => verified,
        Err(password::Busy) => {
            // Nothing was checked, so nothing counts; not audited, or a burst would fill the log.
            auth.limiter.release(reservation);
            return Err(ApiError::RateLimited { retry_after: 1 });
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        // The reservation stays: it is this failure.
        drop(reservation);
        audit::record(
            &state.store,
            state.runs.clock(),
            AuditEvent::new(
                &body.username,
                &client,
                AuditAction::LoginFailed,
                AuditOutcome::Failure,
            ),
        )
        .await;
        return Err(ApiError::InvalidCredentials(GENERIC_FAILURE));
    };
    auth.limiter.succeeded(reservation);
    let token = auth::random_token();
    let csrf_token = auth::random_token();
    state
        .store
        .create_session(
            auth::token_hash(&token),
            user.name.clone(),
            user.role,
            csrf_token.clone(),
            now,
        )
        .await?;
    audit::record(
        &state.store,
        state.runs.clock(),
        AuditEvent::new(
            &user.name,
            &client,
            AuditAction::Login,
            AuditOutcome::Success,
        ),
    )
    .await;
    let info = SessionInfo {
        user: user.name.clone(),
        role: user.role,
        csrf_token,
        via_proxy: false,
    };
    let set_cookie = cookie(&state, &token, auth.config.absolute_timeout.as_secs());
    Ok(([(header::SET_COOKIE, set_cookie)], Json(info)).into_response())
}

/// `GET /api/session`.
pub async fn current(axum::Extension(p): axum::Extension<Principal>) -> Json<SessionInfo> {
    Json(SessionInfo {
        user: p.user,
        role: p.role,
        csrf_token: p.csrf_token,
        via_proxy: p.via_proxy,
    })
}

/// `POST /api/logout`: the session is gone from the database, not only from the browser.
pub async fn logout(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    _: super::extract::NoBody,
) -> Result<Response, ApiError> {
    if let Some(hash) = &p.session {
        state.store.delete_session(hash.clone()).await?;
    }
    audit::record(
        &state.store,
        state.runs.clock(),
        AuditEvent::new(
            &p.user,
            &p.client,
            AuditAction::Logout,
            AuditOutcome::Success,
        ),
    )
    .await;
    Ok((
        [(header::SET_COOKIE, cookie(&state, "", 0))],
        axum::http::StatusCode::NO_CONTENT,
    )
        .into_response())
}
