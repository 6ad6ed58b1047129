//! The route table and the state every page shares: the cluster list (loaded once) and, inside a
//! cluster, its backup history (loaded once per cluster and refreshed on demand, so moving between
//! Overview and Backups does not hit every component again).

use backup_domain::api::{ClustersResponse, HistoryResponse};
use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::hooks::use_params_map;
use leptos_router::path;

use crate::api::{self, ApiError};
use crate::components::layout::Shell;
use crate::pages::{backups::Backups, home::Home, not_found::NotFound, overview::Overview};

pub type Loaded<T> = LocalResource<Result<T, ApiError>>;

/// The configured clusters with their components' reachability.
#[derive(Clone, Copy)]
pub struct ClustersContext(pub Loaded<ClustersResponse>);

/// The selected cluster's name and history.
#[derive(Clone, Copy)]
pub struct ClusterContext {
    pub name: Memo<String>,
    pub history: Loaded<HistoryResponse>,
}

#[component]
pub fn App() -> impl IntoView {
    let clusters: Loaded<ClustersResponse> = LocalResource::new(api::clusters);
    provide_context(ClustersContext(clusters));
    view! {
        <Router>
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/") view=Home/>
                <ParentRoute path=path!("/clusters/:cluster") view=ClusterScope>
                    <Route path=path!("") view=Overview/>
                    <Route path=path!("backups") view=Backups/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Provides the selected cluster to its pages, then lays them out.
#[component]
fn ClusterScope() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("cluster").unwrap_or_default());
    let history: Loaded<HistoryResponse> = LocalResource::new(move || {
        let cluster = name.get();
        async move { api::history(&cluster).await }
    });
    provide_context(ClusterContext { name, history });
    view! { <Shell/> }
}
