use crate::router::A;
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <div class="centered">
            <h1>"Page not found"</h1>
            <p><A href="/">"Back to the console"</A></p>
        </div>
    }
}
