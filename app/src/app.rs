//! The route table: which page answers which path, behind which guard. The state the pages share
//! is in `state`.

use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::hooks::use_params_map;
use leptos_router::path;

use crate::actions;
use crate::components::alert::Loading;
use crate::components::layout::Shell;
use crate::pages::{
    audit::AuditPage, backups::Backups, home::Home, login::Login, not_found::NotFound,
    overview::Overview, retention::Retention, wizard::Wizard,
};
use crate::state::{self, use_auth};

#[component]
pub fn App() -> impl IntoView {
    state::provide_session_and_clusters();
    view! {
        <Router>
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/login") view=Login/>
                <Route path=path!("/") view=|| view! { <Protected><Home/></Protected> }/>
                <ParentRoute path=path!("/clusters/:cluster") view=|| view! { <Protected><ClusterScope/></Protected> }>
                    <Route path=path!("") view=Overview/>
                    <Route path=path!("backups") view=Backups/>
                    <Route path=path!("backup") view=Wizard/>
                    <Route path=path!("retention") view=Retention/>
                    <Route path=path!("audit") view=AuditPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Shows its children to a logged-in user; sends anyone else to the login page, and back here after.
#[component]
fn Protected(children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let navigate = leptos_router::hooks::use_navigate();
    let location = leptos_router::hooks::use_location();
    Effect::new(move |_| {
        let path = location.pathname.get();
        // Never from the login page itself: an explicit logout goes there on its own.
        if auth.checked.get() && auth.session.with(Option::is_none) && path != "/login" {
            // The router's `search` comes without its leading `?`.
            let search = location.search.get_untracked();
            let here = if search.is_empty() {
                path
            } else {
                format!("{path}?{search}")
            };
            let next = String::from(js_sys::encode_uri_component(&here));
            navigate(
                &format!("/login?next={next}"),
                leptos_router::NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
    move || {
        if auth.session.with(Option::is_some) {
            children().into_any()
        } else {
            view! { <div class="centered"><Loading what="your session"/></div> }.into_any()
        }
    }
}

/// Provides the selected cluster to its pages, then lays them out.
#[component]
fn ClusterScope() -> impl IntoView {
    let params = use_params_map();
    let auth = use_auth();
    let navigate = leptos_router::hooks::use_navigate();
    let name = Memo::new(move |_| params.read().get("cluster").unwrap_or_default());
    state::provide_cluster(name);
    let on_logout = Callback::new(move |()| actions::logout(auth, navigate.clone()));
    view! { <Shell on_logout=on_logout/> }
}
