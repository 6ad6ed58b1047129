//! The console's JSON API under `/api`. Every route is declared once in [`ROUTES`] with the access
//! it needs; the guard looks every request up there, and a route missing from the table is refused
//! whoever asks. Every error answers with one envelope, `{"error": {"code", "message"}}`.

mod audit;
mod clusters;
mod error;
mod extract;
mod guard;
mod management;
mod retention;
mod runs;
mod session;
mod status;
pub mod streams;

use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::routing::{any, get, post, put};
use backup_domain::api::Role;

use crate::auth::AuthConfig;
use crate::auth::rate_limit::LoginLimiter;
use crate::cluster::Clusters;
use crate::store::Store;
pub use error::ApiError;
pub use guard::client_address;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No session needed: the console's liveness and the login itself.
    Public,
    /// A session (or trusted proxy user) with at least this role.
    Role(Role),
}

/// Every `/api` route with its access rule. The router is checked against it by the guard and by
/// the route-matrix test.
pub const ROUTES: &[(Method, &str, Access)] = &[
    (Method::GET, "/api/health", Access::Public),
    (Method::POST, "/api/login", Access::Public),
    (Method::GET, "/api/session", Access::Role(Role::Viewer)),
    (Method::POST, "/api/logout", Access::Role(Role::Viewer)),
    (Method::GET, "/api/clusters", Access::Role(Role::Viewer)),
    (
        Method::GET,
        "/api/clusters/{name}/backups",
        Access::Role(Role::Viewer),
    ),
    (
        Method::GET,
        "/api/clusters/{name}/backups/{id}",
        Access::Role(Role::Viewer),
    ),
    (
        Method::GET,
        "/api/clusters/{name}/status",
        Access::Role(Role::Viewer),
    ),
    (
        Method::POST,
        "/api/clusters/{name}/exporting/pause",
        Access::Role(Role::Operator),
    ),
    (
        Method::POST,
        "/api/clusters/{name}/exporting/resume",
        Access::Role(Role::Operator),
    ),
    (
        Method::POST,
        "/api/clusters/{name}/rebalance",
        Access::Role(Role::Operator),
    ),
    (
        Method::POST,
        "/api/clusters/{name}/runs",
        Access::Role(Role::Operator),
    ),
    (
        Method::GET,
        "/api/clusters/{name}/runs/latest",
        Access::Role(Role::Viewer),
    ),
    (
        Method::GET,
        "/api/clusters/{name}/preflight",
        Access::Role(Role::Operator),
    ),
    (Method::GET, "/api/runs/{id}", Access::Role(Role::Viewer)),
    (
        Method::GET,
        "/api/runs/{id}/events",
        Access::Role(Role::Viewer),
    ),
    (
        Method::GET,
        "/api/runs/{id}/script",
        Access::Role(Role::Viewer),
    ),
    (
        Method::POST,
        "/api/runs/{id}/cancel",
        Access::Role(Role::Operator),
    ),
    (
        Method::GET,
        "/api/clusters/{name}/retention",
        Access::Role(Role::Viewer),
    ),
    (
        Method::PUT,
        "/api/clusters/{name}/retention",
        Access::Role(Role::Admin),
    ),
    (
        Method::POST,
        "/api/clusters/{name}/retention/confirm",
        Access::Role(Role::Admin),
    ),
    (
        Method::GET,
        "/api/clusters/{name}/cleanup-plan",
        Access::Role(Role::Viewer),
    ),
    (
        Method::PUT,
        "/api/clusters/{name}/pins/{id}",
        Access::Role(Role::Admin),
    ),
    (
        Method::DELETE,
        "/api/clusters/{name}/pins/{id}",
        Access::Role(Role::Admin),
    ),
    (
        Method::POST,
        "/api/clusters/{name}/cleanups",
        Access::Role(Role::Admin),
    ),
    (
        Method::GET,
        "/api/cleanups/{id}",
        Access::Role(Role::Viewer),
    ),
    (
        Method::POST,
        "/api/cleanups/{id}/retry",
        Access::Role(Role::Admin),
    ),
    (Method::GET, "/api/audit", Access::Role(Role::Admin)),
];

/// The rule for a matched route, if it has one.
pub fn access_for(method: &Method, path: &str) -> Option<Access> {
    ROUTES
        .iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, a)| *a)
}

/// Authentication and its state, shared by every request.
pub struct AuthState {
    pub config: AuthConfig,
    pub store: Store,
    pub limiter: LoginLimiter,
    /// Secret behind proxy users' CSRF tokens, kept in the database.
    pub proxy_secret: String,
    /// Cookies get `Secure` when the console itself serves TLS.
    pub secure_cookies: bool,
    /// Live event streams open per user and in total.
    pub streams: Arc<streams::StreamLimits>,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub clusters: Arc<Clusters>,
    pub auth: Arc<AuthState>,
    pub runs: Arc<crate::procedure::service::RunService>,
    pub retention: Arc<crate::retention::RetentionService>,
    /// The per-cluster status pollers (`GET /api/clusters/{name}/status`).
    pub status: Arc<crate::status::StatusService>,
}

impl AppState {
    /// The configured cluster `name`, or the 404 every cluster route answers.
    pub fn cluster(&self, name: &str) -> Result<&crate::cluster::Cluster, ApiError> {
        self.clusters
            .get(name)
            .ok_or_else(|| ApiError::ClusterNotFound(name.to_string()))
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/login", post(session::login))
        .route("/api/session", get(session::current))
        .route("/api/logout", post(session::logout))
        .route("/api/clusters", get(clusters::list))
        .route(
            "/api/clusters/{name}/backups",
            get(clusters::history).layer(axum::middleware::from_fn_with_state(
                state.clone(),
                status::refresh_alongside,
            )),
        )
        .route("/api/clusters/{name}/backups/{id}", get(clusters::detail))
        .route("/api/clusters/{name}/status", get(status::get))
        .route(
            "/api/clusters/{name}/exporting/pause",
            post(management::pause).layer(axum::middleware::from_fn_with_state(
                state.clone(),
                status::refresh_after,
            )),
        )
        .route(
            "/api/clusters/{name}/exporting/resume",
            post(management::resume).layer(axum::middleware::from_fn_with_state(
                state.clone(),
                status::refresh_after,
            )),
        )
        .route(
            "/api/clusters/{name}/rebalance",
            post(management::rebalance),
        )
        .route("/api/clusters/{name}/runs", post(runs::start))
        .route("/api/clusters/{name}/runs/latest", get(runs::latest))
        .route("/api/clusters/{name}/preflight", get(runs::preflight))
        .route("/api/runs/{id}", get(runs::get))
        .route("/api/runs/{id}/events", get(runs::events))
        .route("/api/runs/{id}/script", get(runs::script))
        .route("/api/runs/{id}/cancel", post(runs::cancel))
        .route(
            "/api/clusters/{name}/retention",
            get(retention::state).put(retention::save_policy),
        )
        .route(
            "/api/clusters/{name}/retention/confirm",
            post(retention::confirm_policy),
        )
        .route("/api/clusters/{name}/cleanup-plan", get(retention::plan))
        .route(
            "/api/clusters/{name}/pins/{id}",
            put(retention::pin).delete(retention::unpin),
        )
        .route("/api/clusters/{name}/cleanups", post(retention::start))
        .route("/api/cleanups/{id}", get(retention::get))
        .route("/api/cleanups/{id}/retry", post(retention::retry))
        .route("/api/audit", get(audit::list))
        .route("/api/{*rest}", any(not_found))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}

/// The console's own liveness, for probes: it says nothing about the clusters.
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}
