//! The console frame: a sidebar with the cluster switcher and the pages of the selected cluster.

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};
use leptos_router::hooks::{use_location, use_navigate};

use backup_domain::api::Role;
use leptos_router::NavigateOptions;

use crate::api;
use crate::app::{AuthContext, ClusterContext, ClustersContext};

#[component]
pub fn Shell() -> impl IntoView {
    let ClusterContext { name, .. } = expect_context();
    let ClustersContext(clusters) = expect_context();
    let auth: AuthContext = expect_context();
    let location = use_location();
    let navigate = use_navigate();
    let after_logout = navigate.clone();
    let logout = move |_| {
        let csrf = auth.csrf();
        let navigate = after_logout.clone();
        leptos::task::spawn_local(async move {
            // Whatever the answer, this browser forgets the session.
            let _ = api::logout(&csrf).await;
            navigate(
                "/login",
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
            auth.session.set(None);
        });
    };
    let is_admin = move || auth.role() == Some(Role::Admin);
    let is_operator = move || auth.role().is_some_and(|r| r.allows(Role::Operator));

    // Switching cluster keeps the page (Overview or Backups) but drops its filters.
    let switch = move |ev: leptos::ev::Event| {
        let target = event_target_value(&ev);
        let on_backups = location.pathname.get_untracked().ends_with("/backups");
        let path = if on_backups {
            format!("/clusters/{target}/backups")
        } else {
            format!("/clusters/{target}")
        };
        navigate(&path, Default::default());
    };

    let options = move || {
        let current = name.get();
        match clusters.get() {
            Some(Ok(list)) => list
                .clusters
                .into_iter()
                .map(|c| {
                    let selected = c.name == current;
                    let label = format!("{} ({})", c.name, c.profile.label());
                    view! { <option value=c.name.clone() selected=selected>{label}</option> }
                })
                .collect_view()
                .into_any(),
            _ => view! { <option value=current.clone() selected=true>{current.clone()}</option> }
                .into_any(),
        }
    };

    view! {
        <div class="shell">
            <nav class="sidebar" aria-label="Main">
                <div class="brand">
                    <span class="brand-mark">"C8"</span>
                    <span class="brand-name">"Backup Console"</span>
                </div>
                <label class="switcher">
                    <span>"Cluster"</span>
                    <select id="cluster-switcher" on:change=switch>{options}</select>
                </label>
                <ul class="nav">
                    <li><A href=move || format!("/clusters/{}", name.get()) exact=true>"Overview"</A></li>
                    <li><A href=move || format!("/clusters/{}/backups", name.get())>"Backups"</A></li>
                    <Show when=is_operator>
                        <li><A href=move || format!("/clusters/{}/backup", name.get())>"New backup"</A></li>
                    </Show>
                    <li><A href=move || format!("/clusters/{}/retention", name.get())>"Retention"</A></li>
                    <Show when=is_admin>
                        <li><A href=move || format!("/clusters/{}/audit", name.get())>"Audit"</A></li>
                    </Show>
                </ul>
                <div class="sidebar-foot">
                    <div id="whoami">
                        {move || auth.session.get().map(|s| view! {
                            <span class="who">{s.user}</span>
                            <span class="role" data-role=s.role.label()>{s.role.label()}</span>
                        })}
                    </div>
                    <button class="btn btn-dark" id="logout" on:click=logout>"Log out"</button>
                </div>
            </nav>
            <main class="content">
                <Outlet/>
            </main>
        </div>
    }
}
