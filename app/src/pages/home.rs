use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use crate::components::alert::{ErrorAlert, Loading};
use crate::state::use_clusters;

/// `/`: opens the first configured cluster.
#[component]
pub fn Home() -> impl IntoView {
    let clusters = use_clusters();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(list)) = clusters.get()
            && let Some(first) = list.clusters.first()
        {
            navigate(
                &format!("/clusters/{}", first.name),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
    view! {
        <div class="centered">
            {move || match clusters.get() {
                None => view! { <Loading what="clusters"/> }.into_any(),
                Some(Err(e)) => view! { <ErrorAlert error=e retry=Callback::new(move |_| clusters.refetch())/> }.into_any(),
                Some(Ok(list)) if list.clusters.is_empty() => view! { <p>"No cluster is configured."</p> }.into_any(),
                Some(Ok(_)) => view! { <Loading what="the first cluster"/> }.into_any(),
            }}
        </div>
    }
}
