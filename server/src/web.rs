//! The whole HTTP surface: the API, the built UI with a fallback to `index.html` for client-side
//! routes, and the security headers every answer carries.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::api::{self, AppState, AuthState, ClientAddr};
use crate::auth::rate_limit::LoginLimiter;
use crate::config::Config;
use crate::procedure::service::RunService;
use crate::retention::RetentionService;
use crate::services::{OpenError, Services};
use crate::status::StatusService;
use crate::store::{Store, StoreError};

/// The wasm app needs `'wasm-unsafe-eval'` to compile its module; nothing inline is allowed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "the configuration has no [auth] section: add [[auth.users]] (see `backup-console hash-password`) or [auth.proxy]"
    )]
    NoAuth,
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] crate::auth::password::PasswordError),
}

/// The console for a configuration, as a router only: [`console_for`] without the handles a
/// shutdown needs, for the tests and benchmarks.
#[cfg(any(test, feature = "testing"))]
pub async fn app_for(
    config: &Config,
    ui_dir: &Path,
    secure_cookies: bool,
) -> Result<Router, StartError> {
    Ok(console_for(config, ui_dir, secure_cookies).await?.router)
}

/// A started console: its HTTP surface, and what a shutdown needs to stop it safely.
pub struct Console {
    pub router: Router,
    /// `/metrics`, for the listener of `[metrics] listen`.
    pub metrics_router: Router,
    pub runs: Arc<RunService>,
    pub retention: Arc<RetentionService>,
    pub store: Store,
    pub status: Arc<StatusService>,
    pub catalog: Arc<crate::catalog::CatalogService>,
    pub notifications: Arc<crate::notify::NotificationService>,
}

impl Console {
    /// Stops the console's work (review H1): every local run is cancelled and resumes exporting,
    /// bounded by the resume deadline plus a margin, then running cleanups are marked
    /// interrupted. Event streams end as soon as this starts.
    pub async fn shutdown(&self) {
        let started = std::time::Instant::now();
        self.notifications.shutdown().await;
        self.status.shutdown().await;
        self.catalog.shutdown().await;
        let left = self.runs.shutdown().await;
        if left > 0 {
            tracing::error!(
                left,
                "backup runs did not finish stopping in time; a console started on this database resumes their exporting"
            );
        }
        // This console's own cleanups only: another process's go on.
        match self.retention.interrupt_own_cleanups().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(interrupted = n, "running cleanups marked interrupted"),
            Err(error) => tracing::error!(%error, "could not mark running cleanups interrupted"),
        }
        tracing::info!(
            took_ms = started.elapsed().as_millis() as u64,
            "backup runs stopped"
        );
    }
}

/// The console for a configuration: its clients built once, its database opened, the API and
/// UI, and the handles a graceful shutdown needs.
pub async fn console_for(
    config: &Config,
    ui_dir: &Path,
    secure_cookies: bool,
) -> Result<Console, StartError> {
    let auth_config = config.auth.clone().ok_or(StartError::NoAuth)?;
    let services = Services::open(config)?;
    let store = services.store.clone();
    let proxy_secret = store
        .setting("proxy_csrf_secret", crate::auth::random_token())
        .await?;
    let removed = store
        .purge_sessions(
            services.runs.clock().now_ms(),
            auth_config.idle_timeout.as_millis() as i64,
            auth_config.absolute_timeout.as_millis() as i64,
        )
        .await?;
    if removed > 0 {
        tracing::info!(removed, "expired sessions removed");
    }
    end_sessions_of_changed_credentials(&store, &auth_config).await?;
    // Builds the unknown-user dummy hash now, not at the first login.
    let limiter = LoginLimiter::for_config(&auth_config)?;
    let auth = AuthState {
        config: auth_config,
        limiter,
        proxy_secret,
        secure_cookies,
        streams: Arc::new(crate::api::streams::StreamLimits::default()),
    };
    services.recover_at_start().await?;
    let Services {
        clusters,
        runs,
        retention,
        ..
    } = services;
    retention.spawn_watchers();
    let scheduler = Arc::new(crate::scheduler::Scheduler::new(
        clusters.clone(),
        store.clone(),
        runs.clone(),
        retention.clone(),
    ));
    scheduler.spawn();
    // One status poller per cluster, shared by every viewer of the Overview.
    let status = StatusService::start(&clusters, runs.clone(), store.clone(), config.status);
    // One catalog keeper per cluster, shared by every viewer of the history.
    let catalog = crate::catalog::CatalogService::start(
        &clusters,
        store.clone(),
        config.catalog,
        runs.clock().clone(),
    );
    // Notifications read what the status poller and the catalog hold; they never hold a run.
    let notifications = crate::notify::NotificationService::start(
        &config.notify,
        store.clone(),
        runs.clock().clone(),
        clusters.clone(),
        status.clone(),
        catalog.clone(),
    );
    let metrics_router = crate::api::metrics_router(crate::api::MetricsState {
        metrics: runs.metrics().clone(),
        clusters: clusters.clone(),
        catalog: catalog.clone(),
        status: status.clone(),
        store: store.clone(),
    });
    let router = app(
        AppState {
            clusters,
            store: store.clone(),
            auth: Arc::new(auth),
            runs: runs.clone(),
            retention: retention.clone(),
            status: status.clone(),
            catalog: catalog.clone(),
            scheduler,
            notifications: notifications.clone(),
        },
        ui_dir,
    );
    Ok(Console {
        router,
        metrics_router,
        runs,
        retention,
        store,
        status,
        catalog,
        notifications,
    })
}

pub fn app(state: AppState, ui_dir: &Path) -> Router {
    let https_only = state.auth.secure_cookies;
    let ui = ServeDir::new(ui_dir)
        .precompressed_gzip()
        .fallback(ServeFile::new(ui_dir.join("index.html")));
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    let router = api::router(state)
        // API answers are never cached (sessions, live state); the UI's files may be.
        .layer(header(header::CACHE_CONTROL, "no-store"))
        .fallback_service(ui)
        .layer(header(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"));
    // Over HTTPS browsers are told to stay on it (a year); over plain HTTP it would be ignored.
    let router = if https_only {
        router.layer(header(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000",
        ))
    } else {
        router
    };
    router.layer(TraceLayer::new_for_http())
}

/// Serves `app` on `listener`, handing every request its peer address (rate limits, audit, the
/// trusted-proxy check).
pub async fn serve<L>(
    listener: L,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    ClientAddr: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<ClientAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// A user whose password hash changed in the configuration since the last start loses every
/// session: whoever knew the old password (the reason it was changed) is logged out (review L12).
/// The database keeps a digest of each user's hash, never the hash itself.
async fn end_sessions_of_changed_credentials(
    store: &crate::store::Store,
    auth: &crate::auth::AuthConfig,
) -> Result<(), crate::store::StoreError> {
    use sha2::{Digest, Sha256};
    for user in &auth.users {
        let digest: String = Sha256::digest(user.password_hash.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = format!("credential_digest:{}", user.name);
        let known = store.get_setting(key.clone()).await?;
        if known.as_deref().is_some_and(|k| k != digest) {
            let ended = store.delete_sessions_of(user.name.clone()).await?;
            tracing::info!(user = %user.name, ended, "password changed: the user's sessions ended");
        }
        if known.as_deref() != Some(digest.as_str()) {
            store.put_setting(key, digest).await?;
        }
    }
    Ok(())
}
