//! Exporting and rebalance controls for operators: every action asks for confirmation first and
//! says what it will do to the cluster.

use backup_domain::api::Role;
use leptos::prelude::*;

use crate::api::{self, ApiError, ManagementAction};
use crate::app::{AuthContext, ClusterContext};
use crate::components::alert::ErrorAlert;

/// `on_done` runs after every action, whatever its outcome (the Overview refreshes its status);
/// `primary` is the action the current state calls for (Resume while exporting is paused).
#[component]
pub fn ManagementActions(
    actions: Vec<ManagementAction>,
    #[prop(optional)] on_done: Option<Callback<()>>,
    #[prop(optional, into)] primary: Option<Signal<Option<ManagementAction>>>,
) -> impl IntoView {
    let auth: AuthContext = expect_context();
    let ClusterContext { name, history } = expect_context();
    let pending = RwSignal::new(None::<ManagementAction>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let run = move |action: ManagementAction| {
        let csrf = auth.csrf();
        let cluster = name.get_untracked();
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match api::management(&cluster, action, &csrf).await {
                Ok(_) => pending.set(None),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
            history.refetch();
            if let Some(done) = on_done {
                done.run(());
            }
        });
    };
    let can = move || auth.role().is_some_and(|r| r.allows(Role::Operator));
    let buttons = move || {
        actions
            .iter()
            .map(|&a| {
            let class = move || {
                if primary.is_some_and(|p| p.get() == Some(a)) {
                    "btn btn-primary"
                } else {
                    "btn"
                }
            };
            view! {
                <button class=class data-action=a.id() on:click=move |_| { error.set(None); pending.set(Some(a)); }>
                    {a.label()}
                </button>
            }
            })
            .collect_view()
    };
    view! {
        <Show when=can>
            <div class="management">
                <div class="actions">{buttons.clone()}</div>
                {move || pending.get().map(|a| view! {
                    <div class="confirm" role="alertdialog" aria-label=a.label()>
                        <p><strong>{a.label()}" on "{name.get()}"?"</strong>" "{a.warning()}</p>
                        <button class="btn btn-primary" data-confirm=a.id() disabled=move || busy.get() on:click=move |_| run(a)>"Confirm"</button>
                        <button class="btn" data-cancel=a.id() on:click=move |_| pending.set(None)>"Cancel"</button>
                    </div>
                })}
                {move || error.get().map(|e| view! { <ErrorAlert error=e/> })}
            </div>
        </Show>
    }
}
