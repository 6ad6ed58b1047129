//! The state every page shares, provided once through Leptos context and read with the `use_*`
//! accessors: who is logged in, the configured clusters (loaded once), and inside a cluster its
//! name and a signal of changes to its history. The history itself is not shared: a cluster can
//! hold 100,000 sets, so each page asks the server's catalog for the part it shows (a page, the
//! summary figures) and asks again when the history changed. Plus [`Fetched`], the one-shot read
//! for data that follows no other signal.

use backup_domain::api::{Role, SessionInfo};
use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::wire::Clusters;

pub type Loaded<T> = LocalResource<Result<T, ApiError>>;

/// An answer fetched when created and again on [`Fetched::reload`], for data that follows no
/// other signal. Lighter in the wasm than a resource; the last answer stays shown while reloading.
/// The fetch belongs to the component that created it: when that component goes, a request still
/// in flight is aborted and its answer never shown.
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
        // A reload comes from an event handler or an effect: run it for the creating component.
        let owner = Owner::current();
        let run: Box<dyn Fn()> = Box::new(move || {
            let answer = fetch();
            let task = async move { value.set(Some(answer.await)) };
            match &owner {
                Some(owner) => owner.with(|| spawn_owned(task)),
                None => spawn_owned(task),
            }
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

/// Runs `task` for the current reactive owner (the component, or the effect, being run): when
/// that owner is cleaned up (the page is left, the effect runs again) the task stops where it is
/// and the API requests it has in flight are aborted, so it updates nothing afterwards.
pub fn spawn_owned(task: impl std::future::Future<Output = ()> + 'static) {
    // Boxed, so that the scoping and cancellation wrappers exist once in the wasm, not per task.
    let task: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> = Box::pin(task);
    leptos::task::spawn_local_scoped_with_cancellation(task);
}

/// Who is logged in. `checked` turns true once the first `/api/session` answered; `session` is
/// `None` when nobody is (or the session ended).
#[derive(Clone, Copy)]
pub struct AuthContext {
    pub session: RwSignal<Option<SessionInfo>>,
    pub checked: RwSignal<bool>,
}

impl AuthContext {
    pub fn role(&self) -> Option<Role> {
        self.session.with(|s| s.as_ref().map(|s| s.role))
    }

    /// The user holds `role` or a higher one (reactive).
    pub fn allows(&self, role: Role) -> bool {
        self.role().is_some_and(|r| r.allows(role))
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Some(Role::Admin)
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
pub struct ClustersContext(pub Loaded<Clusters>);

/// The selected cluster's name, and a counter of what this console did to its history.
#[derive(Clone, Copy)]
pub struct ClusterContext {
    pub name: Memo<String>,
    history_changes: RwSignal<u64>,
}

impl ClusterContext {
    /// Something done here changed the history (a run ended, a cleanup, a management action):
    /// every part of it shown is fetched again.
    pub fn history_changed(&self) {
        self.history_changes.try_update(|n| *n += 1);
    }

    /// Called in a resource's fetcher: it runs again after [`ClusterContext::history_changed`].
    pub fn track_history(&self) {
        self.history_changes.track();
    }
}

/// Provides the session (asked for once, at start) and the cluster list, which is loaded only
/// once someone is logged in: anonymous, every API call answers 401.
pub fn provide_session_and_clusters() {
    let auth = AuthContext {
        session: RwSignal::new(None),
        checked: RwSignal::new(false),
    };
    provide_context(auth);
    spawn_owned(async move {
        auth.session.set(api::session().await.ok());
        auth.checked.set(true);
    });
    let clusters: Loaded<Clusters> = LocalResource::new(move || {
        let logged_in = auth.session.with(Option::is_some);
        async move {
            if logged_in {
                api::clusters().await
            } else {
                Ok(Clusters {
                    clusters: Vec::new(),
                })
            }
        }
    });
    provide_context(ClustersContext(clusters));
}

/// Provides the cluster named by `name` to the pages inside it.
pub fn provide_cluster(name: Memo<String>) {
    provide_context(ClusterContext {
        name,
        history_changes: RwSignal::new(0),
    });
}

pub fn use_auth() -> AuthContext {
    expect_context()
}

pub fn use_clusters() -> Loaded<Clusters> {
    expect_context::<ClustersContext>().0
}

pub fn use_cluster() -> ClusterContext {
    expect_context()
}
