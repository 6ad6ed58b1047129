//! Notification channels: their redacted state (any logged-in user) and "Send test" (admins).
//! Neither ever answers a channel's URL or secret.

use axum::extract::State;
use axum::{Extension, Json};
use backup_domain::notify::{NotificationsResponse, TestDelivery};

use super::extract::{ApiPath, NoBody};
use super::{ApiError, AppState};
use crate::auth::Principal;

/// `GET /api/notifications`: each channel, its target described without secrets, its pending
/// deliveries and its last one.
pub async fn list(State(state): State<AppState>) -> Result<Json<NotificationsResponse>, ApiError> {
    Ok(Json(state.notifications.channels().await?))
}

/// `POST /api/notifications/{name}/test`: sends a test message at once (not through the
/// outbox) and answers what it came to; audited.
pub async fn send_test(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    _: NoBody,
) -> Result<Json<TestDelivery>, ApiError> {
    state
        .notifications
        .send_test(&name, &p.user, &p.client)
        .await
        .map(Json)
        .ok_or(ApiError::ChannelNotFound(name))
}
