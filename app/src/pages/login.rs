//! The login page. Any failure reads the same: the server does not say which part was wrong.

use crate::router::NavigateOptions;
use crate::router::{use_navigate, use_query_map};
use leptos::prelude::*;

use crate::api;
use crate::state::{spawn_owned, use_auth};

#[component]
pub fn Login() -> impl IntoView {
    let auth = use_auth();
    let query = use_query_map();
    let navigate = use_navigate();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Only paths inside the console are followed after login, never another site.
    let next = move || {
        query
            .read_untracked()
            .get("next")
            .filter(|n| n.starts_with('/') && !n.starts_with("//"))
            .unwrap_or_else(|| "/".into())
    };
    let go = StoredValue::new(navigate);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (u, p) = (username.get_untracked(), password.get_untracked());
        spawn_owned(async move {
            match api::login(u, p).await {
                Ok(session) => {
                    password.set(String::new());
                    auth.session.set(Some(session));
                    auth.checked.set(true);
                    go.with_value(|navigate| {
                        navigate(
                            &next(),
                            NavigateOptions {
                                replace: true,
                                ..Default::default()
                            },
                        )
                    });
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };

    view! {
        <div class="login-page">
            <form class="card login" on:submit=submit>
                <div class="brand login-brand">
                    <span class="brand-mark">"C8"</span>
                    <span>"Backup Console"</span>
                </div>
                <label>
                    <span>"User name"</span>
                    <input id="username" name="username" autocomplete="username" required
                        prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev))/>
                </label>
                <label>
                    <span>"Password"</span>
                    <input id="password" name="password" type="password" autocomplete="current-password" required
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                </label>
                {move || error.get().map(|e| view! { <div class="alert alert-error" role="alert" id="login-error">{e}</div> })}
                <button class="btn btn-primary" id="login-submit" type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Logging in…" } else { "Log in" }}
                </button>
            </form>
        </div>
    }
}
