use backup_domain::api::Reachability;
use backup_domain::{ComponentState, Verdict};
use leptos::prelude::*;

#[component]
pub fn VerdictBadge(verdict: Verdict) -> impl IntoView {
    let class = format!("badge verdict-{}", verdict.slug());
    view! { <span class=class data-verdict=verdict.slug()>{verdict.label()}</span> }
}

#[component]
pub fn StateBadge(
    state: ComponentState,
    #[prop(optional, into)] title: Option<String>,
) -> impl IntoView {
    let class = format!("badge state-{}", state.label().replace(' ', "-"));
    view! { <span class=class title=title>{state.label()}</span> }
}

#[component]
pub fn ReachabilityBadge(reachability: Reachability) -> impl IntoView {
    let (class, label) = match reachability {
        Reachability::Up => ("badge verdict-restorable", "up"),
        Reachability::Degraded => ("badge verdict-not_restorable", "degraded"),
        Reachability::Unreachable => ("badge verdict-unknown", "unreachable"),
    };
    view! { <span class=class>{label}</span> }
}

/// An exporter phase: anything but EXPORTING is worth an administrator's attention.
#[component]
pub fn PhaseBadge(#[prop(into)] phase: String) -> impl IntoView {
    let class = if phase == "EXPORTING" {
        "badge verdict-restorable"
    } else {
        "badge verdict-not_restorable"
    };
    view! { <span class=class>{phase}</span> }
}

/// The RPO state: within it, at 80 % of it, past it, or not known (never shown as within).
#[component]
pub fn RpoBadge(state: backup_domain::fleet::RpoState) -> impl IntoView {
    use backup_domain::fleet::RpoState;
    let (class, label) = match state {
        RpoState::Ok => ("badge verdict-restorable", "within RPO"),
        RpoState::Warning => ("badge state-missing", "RPO at risk"),
        RpoState::Breached => ("badge verdict-not_restorable", "RPO breached"),
        RpoState::Unknown => ("badge verdict-unknown", "RPO unknown"),
    };
    view! { <span class=class data-rpo=state.slug()>{label}</span> }
}
