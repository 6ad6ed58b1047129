//! The route table and the state every page shares: the cluster list (loaded once) and, inside a
//! cluster, its backup history (loaded once per cluster and refreshed on demand, so moving between
//! Overview and Backups does not hit every component again).

use backup_domain::api::{ClustersResponse, HistoryResponse, SessionInfo};
use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::hooks::use_params_map;
use leptos_router::path;

use crate::api::{self, ApiError};
use crate::components::alert::Loading;
use crate::components::layout::Shell;
use crate::pages::{
    audit::AuditPage, backups::Backups, home::Home, login::Login, not_found::NotFound,
    overview::Overview, retention::Retention, wizard::Wizard,
};

pub type Loaded<T> = LocalResource<Result<T, ApiError>>;

/// An answer fetched when created and again on [`Fetched::reload`], for data that follows no
/// other signal. Lighter in the wasm than a resource; the last answer stays shown while reloading.
pub struct Fetched<T: Send + Sync + 'static> {
    pub value: RwSignal<Option<Result<T, ApiError>>>,
    fetch: StoredValue<Box<dyn Fn()>, LocalStorage>,
}

impl<T: Send + Sync + 'static> Clone for Fetched<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Fetched<T> {}

impl<T: Send + Sync + 'static> Fetched<T> {
    pub fn new<Fut>(fetch: impl Fn() -> Fut + 'static) -> Self
    where
        Fut: std::future::Future<Output = Result<T, ApiError>> + 'static,
    {
        let value = RwSignal::new(None);
        let run: Box<dyn Fn()> = Box::new(move || {
            let answer = fetch();
            leptos::task::spawn_local(async move { value.set(Some(answer.await)) });
        });
        run();
        Fetched {
            value,
            fetch: StoredValue::new_local(run),
        }
    }

    pub fn reload(&self) {
        self.fetch.with_value(|f| f());
    }

    pub fn get(&self) -> Option<Result<T, ApiError>>
    where
        T: Clone,
    {
        self.value.get()
    }
}

/// Who is logged in. `checked` turns true once the first `/api/session` answered; `session` is
/// `None` when nobody is (or the session ended).
#[derive(Clone, Copy)]
pub struct AuthContext {
    pub session: RwSignal<Option<SessionInfo>>,
    pub checked: RwSignal<bool>,
}

impl AuthContext {
    pub fn role(&self) -> Option<backup_domain::api::Role> {
        self.session.with(|s| s.as_ref().map(|s| s.role))
    }

    /// The session's anti-CSRF token, for a mutating call (empty when logged out: refused).
    pub fn csrf(&self) -> String {
        self.session
            .with_untracked(|s| s.as_ref().map(|s| s.csrf_token.clone()))
            .unwrap_or_default()
    }
}

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
    let auth = AuthContext {
        session: RwSignal::new(None),
        checked: RwSignal::new(false),
    };
    provide_context(auth);
    leptos::task::spawn_local(async move {
        auth.session.set(api::session().await.ok());
        auth.checked.set(true);
    });
    // Loaded only once someone is logged in: anonymous, every API call answers 401.
    let clusters: Loaded<ClustersResponse> = LocalResource::new(move || {
        let logged_in = auth.session.with(Option::is_some);
        async move {
            if logged_in {
                api::clusters().await
            } else {
                Ok(ClustersResponse {
                    clusters: Vec::new(),
                })
            }
        }
    });
    provide_context(ClustersContext(clusters));
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
    let auth: AuthContext = expect_context();
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
    let name = Memo::new(move |_| params.read().get("cluster").unwrap_or_default());
    let history: Loaded<HistoryResponse> = LocalResource::new(move || {
        let cluster = name.get();
        async move { api::history(&cluster).await }
    });
    provide_context(ClusterContext { name, history });
    view! { <Shell/> }
}
