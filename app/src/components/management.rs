//! Exporting and rebalance controls for operators: every action asks for confirmation first and
//! says what it will do to the cluster. The buttons and the dialog only: the page runs the action
//! (`actions::ManagementRun`) and this shows its state.

use backup_domain::api::Role;
use leptos::prelude::*;

use crate::actions::ManagementRun;
use crate::api::ManagementAction;
use crate::components::alert::ErrorAlert;
use crate::components::confirm::Confirm;
use crate::state::{use_auth, use_cluster};

impl ManagementAction {
    pub fn label(self) -> &'static str {
        match self {
            ManagementAction::SoftPause => "Soft pause exporting",
            ManagementAction::Pause => "Pause exporting",
            ManagementAction::Resume => "Resume exporting",
            ManagementAction::Rebalance => "Rebalance leaders",
        }
    }

    /// The buttons' `data-action`, `data-confirm` and `data-cancel`.
    pub fn id(self) -> &'static str {
        match self {
            ManagementAction::SoftPause => "soft-pause",
            ManagementAction::Pause => "pause",
            ManagementAction::Resume => "resume",
            ManagementAction::Rebalance => "rebalance",
        }
    }

    /// What the administrator confirms: the consequence, not the mechanics.
    pub fn warning(self) -> &'static str {
        match self {
            ManagementAction::SoftPause => {
                "Records keep being exported, but Zeebe stops compacting its log: broker disks grow until exporting is resumed."
            }
            ManagementAction::Pause => {
                "Exporters stop: Operate, Tasklist and Optimize fall behind, and broker disks grow until exporting is resumed."
            }
            ManagementAction::Resume => {
                "Exporting resumes on every partition and the log can be compacted again."
            }
            ManagementAction::Rebalance => {
                "Every unbalanced partition elects its preferred leader at once; expect a short processing pause."
            }
        }
    }
}

/// `run` carries the action being confirmed, the call in flight and its error; `primary` is the
/// action the current state calls for (Resume while exporting is paused).
#[component]
pub fn ManagementActions(
    actions: Vec<ManagementAction>,
    run: ManagementRun,
    #[prop(optional, into)] primary: Option<Signal<Option<ManagementAction>>>,
) -> impl IntoView {
    let auth = use_auth();
    let name = use_cluster().name;
    let ManagementRun {
        pending,
        busy,
        error,
        run: on_run,
    } = run;
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
    let shown = move || pending.get();
    view! {
        <Show when=move || auth.allows(Role::Operator)>
            <div class="management">
                <div class="actions">{buttons.clone()}</div>
                <Confirm
                    open=Signal::derive(move || shown().is_some())
                    title=Signal::derive(move || shown().map(|a| format!("{} on {}?", a.label(), name.get())).unwrap_or_default())
                    confirm_label=Signal::derive(|| "Confirm".to_string())
                    action=Signal::derive(move || shown().map_or("", ManagementAction::id))
                    disabled=busy
                    error=error
                    on_confirm=Callback::new(move |()| if let Some(a) = pending.get_untracked() { on_run.run(a) })
                    on_cancel=Callback::new(move |()| pending.set(None))
                >
                    <p>{move || shown().map(ManagementAction::warning)}</p>
                </Confirm>
                {move || shown().is_none().then(|| error.get()).flatten().map(|e| view! { <ErrorAlert error=e/> })}
            </div>
        </Show>
    }
}
