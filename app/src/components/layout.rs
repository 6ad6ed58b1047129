//! The console frame: a sidebar with the cluster switcher and the pages of the selected cluster.

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};
use leptos_router::hooks::{use_location, use_navigate};

use backup_domain::api::Role;

use crate::state::{use_auth, use_cluster, use_clusters};

/// `on_logout` runs when the user asks to log out; the route that shows the frame makes the call.
#[component]
pub fn Shell(on_logout: Callback<()>) -> impl IntoView {
    let name = use_cluster().name;
    let clusters = use_clusters();
    let auth = use_auth();
    let location = use_location();
    let navigate = use_navigate();
    let is_admin = move || auth.is_admin();
    let is_operator = move || auth.allows(Role::Operator);

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
                    <button class="btn btn-dark" id="logout" on:click=move |_| on_logout.run(())>"Log out"</button>
                </div>
            </nav>
            <main class="content">
                <Outlet/>
            </main>
        </div>
    }
}
