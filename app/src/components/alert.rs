//! The one place an API error becomes something an administrator reads.

use leptos::prelude::*;

use crate::api::ApiError;

#[component]
pub fn ErrorAlert(
    error: ApiError,
    #[prop(optional, into)] retry: Option<Callback<()>>,
) -> impl IntoView {
    view! {
        <div class="alert alert-error" role="alert">
            <strong>{error.title()}</strong>
            <p>{error.to_string()}</p>
            {error.needs_login().then(|| view! { <p><a href="/login">"Log in again"</a></p> })}
            {retry.filter(|_| !error.needs_login()).map(|retry| view! {
                <button class="btn" on:click=move |_| retry.run(())>"Try again"</button>
            })}
        </div>
    }
}

#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! { <div class="loading" aria-busy="true"><span class="spinner"></span>{format!("Loading {what}…")}</div> }
}

/// Components whose listing failed: what is shown for them is unknown, never healthy.
#[component]
pub fn ComponentErrors(
    errors: Vec<backup_domain::api::ComponentError>,
    consequence: &'static str,
) -> impl IntoView {
    (!errors.is_empty()).then(|| {
        let items = errors
            .into_iter()
            .map(|e| view! { <li><strong>{e.component.label()}</strong>": "{e.message}</li> })
            .collect_view();
        view! {
            <div class="alert alert-error" role="alert">
                <strong>{format!("Some components could not be listed: {consequence}")}</strong>
                <ul>{items}</ul>
            </div>
        }
    })
}
