//! Calls made from more than one page, or by a page on behalf of a component: each calls the API,
//! then navigates or updates the state it is given. Components only render and take callbacks;
//! the page that shows them owns these calls.

use crate::router::NavigateOptions;
use backup_domain::retention::CleanupRequest;
use leptos::prelude::*;

use crate::api::{self, ApiError, ManagementAction};
use crate::state::{AuthContext, spawn_owned, use_auth, use_cluster};

/// Where a cleanup is followed.
pub fn cleanup_href(cluster: &str, cleanup_id: i64) -> String {
    format!("/clusters/{cluster}/retention?cleanup={cleanup_id}")
}

/// Ends the session and goes to the login page. Whatever the answer, this browser forgets the
/// session; the call is not tied to the page, which it leaves.
pub fn logout(auth: AuthContext, navigate: impl Fn(&str, NavigateOptions) + 'static) {
    let csrf = auth.csrf();
    leptos::task::spawn_local(async move {
        let _ = api::logout(&csrf).await;
        navigate(
            "/login",
            NavigateOptions {
                replace: true,
                ..Default::default()
            },
        );
        auth.session.set(None);
    });
}

/// Starts a cleanup (from the retention page or the history's detail panel) and follows it on
/// the retention page; an error stays shown where it was asked.
pub fn start_cleanup(
    cluster: String,
    request: CleanupRequest,
    csrf: String,
    navigate: impl Fn(&str, NavigateOptions) + 'static,
    error: RwSignal<Option<ApiError>>,
    busy: RwSignal<bool>,
) {
    error.set(None);
    spawn_owned(async move {
        match api::start_cleanup(&cluster, &request, &csrf).await {
            Ok(started) => navigate(
                &cleanup_href(&cluster, started.cleanup_id),
                Default::default(),
            ),
            Err(e) => {
                error.set(Some(e));
                busy.set(false);
            }
        }
    });
}

/// One set of management buttons' state: the action being confirmed, the call in flight, its
/// error, and `run`, which performs the confirmed action on the current cluster.
#[derive(Clone, Copy)]
pub struct ManagementRun {
    pub pending: RwSignal<Option<ManagementAction>>,
    pub busy: RwSignal<bool>,
    pub error: RwSignal<Option<ApiError>>,
    pub run: Callback<ManagementAction>,
}

/// Runs management actions on the current cluster. `on_done` runs after every action, whatever
/// its outcome (the Overview refreshes its status), after the history is reloaded. Call it in the
/// page's body.
pub fn management_run(on_done: Option<Callback<()>>) -> ManagementRun {
    let auth = use_auth();
    let cluster = use_cluster();
    let pending = RwSignal::new(None::<ManagementAction>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    // The call belongs to the page that created this, not to the buttons (which a status update
    // may render again while the call is in flight).
    let owner = Owner::current().unwrap_or_default();
    let run = Callback::new(move |action: ManagementAction| {
        let csrf = auth.csrf();
        let name = cluster.name.get_untracked();
        busy.set(true);
        error.set(None);
        owner.with(|| {
            spawn_owned(async move {
                match api::management(&name, action, &csrf).await {
                    Ok(_) => pending.set(None),
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
                cluster.history_changed();
                if let Some(done) = on_done {
                    done.run(());
                }
            })
        });
    });
    ManagementRun {
        pending,
        busy,
        error,
        run,
    }
}
