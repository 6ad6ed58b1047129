//! The whole HTTP surface: the API, the built UI with a fallback to `index.html` for client-side
//! routes, and the response headers every answer carries.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::api::{self, AppState};
use crate::cluster::Clusters;
use crate::config::Config;

/// The console for a configuration: its clients built once, the API and the UI.
pub fn app_for(config: &Config, ui_dir: &Path) -> Result<Router, reqwest::Error> {
    let clusters = Clusters::from_config(config)?;
    Ok(app(
        AppState {
            clusters: Arc::new(clusters),
        },
        ui_dir,
    ))
}

pub fn app(state: AppState, ui_dir: &Path) -> Router {
    let ui = ServeDir::new(ui_dir)
        .precompressed_gzip()
        .fallback(ServeFile::new(ui_dir.join("index.html")));
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    api::router(state)
        .fallback_service(ui)
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(TraceLayer::new_for_http())
}
