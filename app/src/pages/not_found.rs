use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <div class="centered">
            <h1>"Page not found"</h1>
            <p><A href="/">"Back to the console"</A></p>
        </div>
    }
}
