//! The route table: which page answers which path, behind which guard. The state the pages share
//! is in `state`.

use leptos::prelude::*;

use crate::actions;
use crate::components::alert::Loading;
use crate::components::layout::Shell;
use crate::pages::{
    audit::AuditPage, backups::Backups, home::Home, login::Login, not_found::NotFound,
    overview::Overview, retention::Retention, schedules::Schedules, wizard::Wizard,
};
use crate::router;
use crate::state::{self, use_auth};

/// What a path shows: `/login`, `/` (the fleet view), `/clusters/{name}[/{page}]`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Screen {
    Login,
    Fleet,
    Cluster,
    NotFound,
}

/// The path's segments, without empty ones (a trailing `/` changes nothing).
fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn screen_of(path: &str) -> Screen {
    match segments(path).as_slice() {
        [] => Screen::Fleet,
        ["login"] => Screen::Login,
        ["clusters", _] | ["clusters", _, _] => Screen::Cluster,
        _ => Screen::NotFound,
    }
}

#[component]
pub fn App() -> impl IntoView {
    router::provide_router();
    state::provide_session_and_clusters();
    let location = router::use_location();
    // A screen mounts when the path moves to another kind of screen, not at every path change:
    // a cluster's pages share one frame.
    let screen = Memo::new(move |_| screen_of(&location.pathname.get()));
    move || match screen.get() {
        Screen::Login => view! { <Login/> }.into_any(),
        Screen::Fleet => view! { <Protected><FleetScope/></Protected> }.into_any(),
        Screen::Cluster => view! { <Protected><ClusterScope/></Protected> }.into_any(),
        Screen::NotFound => view! { <NotFound/> }.into_any(),
    }
}

/// Shows its children to a logged-in user; sends anyone else to the login page, and back here after.
#[component]
fn Protected(children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let navigate = crate::router::use_navigate();
    let location = crate::router::use_location();
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
                crate::router::NavigateOptions {
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

/// Provides the selected cluster to its pages, then lays out the page its path names.
#[component]
fn ClusterScope() -> impl IntoView {
    let location = router::use_location();
    let auth = use_auth();
    let navigate = crate::router::use_navigate();
    let segment = move |n: usize| {
        location
            .pathname
            .with(|p| segments(p).get(n).map(|s| s.to_string()))
            .unwrap_or_default()
    };
    let name = Memo::new(move |_| segment(1));
    let page = Memo::new(move |_| segment(2));
    state::provide_cluster(name);
    let on_logout = Callback::new(move |()| actions::logout(auth, navigate.clone()));
    // A new page mounts afresh; a new cluster keeps the page, which follows the cluster's name.
    let content = move || match page.get().as_str() {
        "" => view! { <Overview/> }.into_any(),
        "backups" => view! { <Backups/> }.into_any(),
        "backup" => view! { <Wizard/> }.into_any(),
        "retention" => view! { <Retention/> }.into_any(),
        "audit" => view! { <AuditPage/> }.into_any(),
        "schedules" => view! { <Schedules/> }.into_any(),
        _ => view! { <NotFound/> }.into_any(),
    };
    view! { <Shell on_logout=on_logout>{content}</Shell> }
}

/// The fleet view's frame: the same sidebar, with no cluster selected.
#[component]
fn FleetScope() -> impl IntoView {
    let auth = use_auth();
    let navigate = crate::router::use_navigate();
    let on_logout = Callback::new(move |()| actions::logout(auth, navigate.clone()));
    view! { <Shell on_logout=on_logout><Home/></Shell> }
}
