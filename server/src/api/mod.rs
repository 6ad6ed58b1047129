//! The console's JSON API under `/api`. Every route is declared once in [`ROUTES`]: method, path,
//! the access it needs and its handler. The router is built from that table and the guard looks
//! every request up in it, so a route and its rule cannot drift apart.
//! Every error answers with one envelope, `{"error": {"code", "message"}}`.

mod audit;
mod clusters;
mod error;
mod extract;
mod fleet;
mod guard;
mod management;
mod metrics;
mod notifications;
pub use metrics::{MetricsState, metrics_router};
mod retention;
mod runbook;
mod runs;
mod schedules;
mod session;
mod status;
pub mod streams;

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodFilter, MethodRouter, any};
use backup_domain::api::Role;
use tower_http::compression::CompressionLayer;

use crate::auth::AuthConfig;
use crate::auth::rate_limit::LoginLimiter;
use crate::cluster::Clusters;
use crate::store::Store;
pub use error::ApiError;
pub use guard::{ClientAddr, client_address};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No session needed: the console's liveness and the login itself.
    Public,
    /// A session (or trusted proxy user) with at least this role.
    Role(Role),
}

/// One `/api` route: its method, path template, who may call it, and how its handler is bound.
/// The router is built from [`ROUTES`] and the guard reads the access rule from the same entry,
/// so a route cannot exist without a rule.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    bind: fn(Bind<'_>) -> MethodRouter<AppState>,
}

/// What a route's `bind` gets: the route's method, and the state a middleware layer may need.
pub struct Bind<'a> {
    method: MethodFilter,
    state: &'a AppState,
}

impl Bind<'_> {
    /// The handler under this route's method (a GET also answers HEAD), its answer gzipped
    /// when the client accepts it (a history of thousands of sets is megabytes of JSON).
    fn to<H, T>(&self, handler: H) -> MethodRouter<AppState>
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        // Only gzip is built in (the `compression-gzip` feature).
        self.plain(handler).layer(CompressionLayer::new())
    }

    /// The handler without compression: for answers that carry the session's CSRF token, which
    /// compressed beside text an attacker can make the page reflect would leak through the
    /// answer's size (BREACH).
    fn plain<H, T>(&self, handler: H) -> MethodRouter<AppState>
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        axum::routing::on(self.method, handler)
    }

    /// The application state, for a middleware layer of this route.
    fn state(&self) -> AppState {
        self.state.clone()
    }
}

const VIEWER: Access = Access::Role(Role::Viewer);
const OPERATOR: Access = Access::Role(Role::Operator);
const ADMIN: Access = Access::Role(Role::Admin);

const fn route(
    method: Method,
    path: &'static str,
    access: Access,
    bind: fn(Bind<'_>) -> MethodRouter<AppState>,
) -> Route {
    Route {
        method,
        path,
        access,
        bind,
    }
}

/// Every `/api` route, once. Paths are axum templates; one path may appear with several methods.
pub const ROUTES: &[Route] = &[
    route(Method::GET, "/api/health", Access::Public, |b| b.to(health)),
    route(Method::POST, "/api/login", Access::Public, |b| {
        b.plain(session::login)
    }),
    route(Method::GET, "/api/session", VIEWER, |b| {
        b.plain(session::current)
    }),
    route(Method::POST, "/api/logout", VIEWER, |b| {
        b.to(session::logout)
    }),
    route(Method::GET, "/api/clusters", VIEWER, |b| {
        b.to(clusters::list)
    }),
    // A history read brings the status poller's next round forward (probes, not listings).
    route(Method::GET, "/api/clusters/{name}/backups", VIEWER, |b| {
        b.to(clusters::history)
            .layer(from_fn_with_state(b.state(), status::refresh_alongside))
    }),
    route(
        Method::POST,
        "/api/clusters/{name}/catalog/refresh",
        VIEWER,
        |b| b.to(clusters::refresh_catalog),
    ),
    route(
        Method::GET,
        "/api/clusters/{name}/backups/{id}",
        VIEWER,
        |b| b.to(clusters::detail),
    ),
    route(
        Method::GET,
        "/api/clusters/{name}/backups/{id}/runbook",
        VIEWER,
        |b| b.to(runbook::get),
    ),
    route(Method::GET, "/api/clusters/{name}/status", VIEWER, |b| {
        b.to(status::get)
    }),
    // A console pause or resume answers with the status it caused.
    route(
        Method::POST,
        "/api/clusters/{name}/exporting/pause",
        OPERATOR,
        |b| {
            b.to(management::pause)
                .layer(from_fn_with_state(b.state(), status::refresh_after))
        },
    ),
    route(
        Method::POST,
        "/api/clusters/{name}/exporting/resume",
        OPERATOR,
        |b| {
            b.to(management::resume)
                .layer(from_fn_with_state(b.state(), status::refresh_after))
        },
    ),
    route(
        Method::POST,
        "/api/clusters/{name}/rebalance",
        OPERATOR,
        |b| b.to(management::rebalance),
    ),
    route(Method::POST, "/api/clusters/{name}/runs", OPERATOR, |b| {
        b.to(runs::start)
    }),
    route(
        Method::GET,
        "/api/clusters/{name}/runs/latest",
        VIEWER,
        |b| b.to(runs::latest),
    ),
    route(
        Method::GET,
        "/api/clusters/{name}/preflight",
        OPERATOR,
        |b| b.to(runs::preflight),
    ),
    route(Method::GET, "/api/runs/{id}", VIEWER, |b| b.to(runs::get)),
    route(Method::GET, "/api/runs/{id}/events", VIEWER, |b| {
        b.to(runs::events)
    }),
    route(Method::GET, "/api/runs/{id}/script", VIEWER, |b| {
        b.to(runs::script)
    }),
    route(Method::POST, "/api/runs/{id}/cancel", OPERATOR, |b| {
        b.to(runs::cancel)
    }),
    route(Method::GET, "/api/clusters/{name}/retention", VIEWER, |b| {
        b.to(retention::state)
    }),
    route(Method::PUT, "/api/clusters/{name}/retention", ADMIN, |b| {
        b.to(retention::save_policy)
    }),
    route(
        Method::POST,
        "/api/clusters/{name}/retention/preview",
        VIEWER,
        |b| b.to(retention::preview),
    ),
    route(
        Method::POST,
        "/api/clusters/{name}/retention/confirm",
        ADMIN,
        |b| b.to(retention::confirm_policy),
    ),
    route(
        Method::GET,
        "/api/clusters/{name}/cleanup-plan",
        VIEWER,
        |b| b.to(retention::plan),
    ),
    route(Method::PUT, "/api/clusters/{name}/pins/{id}", ADMIN, |b| {
        b.to(retention::pin)
    }),
    route(
        Method::DELETE,
        "/api/clusters/{name}/pins/{id}",
        ADMIN,
        |b| b.to(retention::unpin),
    ),
    route(Method::POST, "/api/clusters/{name}/cleanups", ADMIN, |b| {
        b.to(retention::start)
    }),
    route(Method::GET, "/api/cleanups/{id}", VIEWER, |b| {
        b.to(retention::get)
    }),
    route(Method::POST, "/api/cleanups/{id}/retry", ADMIN, |b| {
        b.to(retention::retry)
    }),
    route(Method::GET, "/api/fleet", VIEWER, |b| b.to(fleet::list)),
    route(Method::GET, "/api/fleet/{name}", VIEWER, |b| {
        b.to(fleet::one)
    }),
    route(Method::GET, "/api/clusters/{name}/schedules", VIEWER, |b| {
        b.to(schedules::list)
    }),
    route(
        Method::PUT,
        "/api/clusters/{name}/schedules/{kind}",
        ADMIN,
        |b| b.to(schedules::update),
    ),
    route(
        Method::PUT,
        "/api/clusters/{name}/maintenance",
        ADMIN,
        |b| b.to(schedules::maintenance),
    ),
    route(Method::GET, "/api/notifications", VIEWER, |b| {
        b.to(notifications::list)
    }),
    route(Method::POST, "/api/notifications/{name}/test", ADMIN, |b| {
        b.to(notifications::send_test)
    }),
    route(Method::GET, "/api/audit", ADMIN, |b| b.to(audit::list)),
];

/// The rule for a matched route, if it has one.
pub fn access_for(method: &Method, path: &str) -> Option<Access> {
    ROUTES
        .iter()
        .find(|r| r.method == method && r.path == path)
        .map(|r| r.access)
}

/// Authentication and its state, shared by every request.
pub struct AuthState {
    pub config: AuthConfig,
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
    /// The console's database: sessions, runs, cleanups, the audit log.
    pub store: Store,
    pub auth: Arc<AuthState>,
    pub runs: Arc<crate::procedure::service::RunService>,
    pub retention: Arc<crate::retention::RetentionService>,
    /// The per-cluster status pollers (`GET /api/clusters/{name}/status`).
    pub status: Arc<crate::status::StatusService>,
    /// The per-cluster backup catalogs (`GET /api/clusters/{name}/backups`).
    pub catalog: Arc<crate::catalog::CatalogService>,
    /// The backup and cleanup schedules.
    pub scheduler: Arc<crate::scheduler::Scheduler>,
    /// The notification channels and their outbox.
    pub notifications: Arc<crate::notify::NotificationService>,
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
    let mut router = Router::new();
    for r in ROUTES {
        let method = MethodFilter::try_from(r.method.clone())
            .expect("the route table holds only standard methods");
        // Routes sharing a path merge into one method router.
        router = router.route(
            r.path,
            (r.bind)(Bind {
                method,
                state: &state,
            }),
        );
    }
    router
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
