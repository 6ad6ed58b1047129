//! How fresh the history shown is. The server answers from a stored catalog: what it says is as
//! old as the catalog's last refresh, and a component whose latest listing failed reads unknown
//! in every set until one succeeds.

use backup_domain::api::{CatalogFreshness, ComponentError};
use backup_domain::listing::{format_age, format_utc};
use leptos::prelude::*;

use crate::components::alert::ComponentErrors;

/// The catalog's age ("as of 40 s ago", "refreshing…") and a warning naming every component
/// whose listing failed, with when it was last listed. `errors` are the answer's listing errors:
/// those the catalog does not already name are shown as they are (all of them when the answer
/// has no catalog).
#[component]
pub fn HistoryFreshness(
    catalog: Option<CatalogFreshness>,
    errors: Vec<ComponentError>,
    consequence: &'static str,
) -> impl IntoView {
    let Some(catalog) = catalog else {
        return view! { <ComponentErrors errors=errors consequence=consequence/> }.into_any();
    };
    let failing: Vec<_> = catalog
        .components
        .into_iter()
        .filter(|c| c.error.is_some())
        .collect();
    let others: Vec<ComponentError> = errors
        .into_iter()
        .filter(|e| !failing.iter().any(|f| f.component == e.component))
        .collect();
    let age = view! {
        <p class="subtle freshness" id="catalog-age" data-refreshing=catalog.refreshing.to_string()>
            {format!("As of {} ago", format_age(catalog.age_seconds))}
            {catalog.refreshing.then_some(" · refreshing…")}
        </p>
    };
    let warnings = (!failing.is_empty()).then(|| {
        let items = failing
            .into_iter()
            .map(|c| {
                let listed = c
                    .listed_at_ms
                    .map_or_else(|| "never".to_string(), format_utc);
                let failed = c
                    .failed_at_ms
                    .map(|t| format!(" (failed {})", format_utc(t)));
                view! {
                    <li data-component=c.component.label()>
                        <strong>{c.component.label()}</strong>": "{c.error.unwrap_or_default()}{failed}
                        ". Last listed successfully: "{listed}"."
                    </li>
                }
            })
            .collect_view();
        view! {
            <div class="alert alert-error" role="alert" id="catalog-warnings">
                <strong>{format!("Some components could not be listed: {consequence}")}</strong>
                <ul>{items}</ul>
            </div>
        }
    });
    view! {
        {age}
        {warnings}
        <ComponentErrors errors=others consequence=consequence/>
    }
    .into_any()
}
