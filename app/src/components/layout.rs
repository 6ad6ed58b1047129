//! The console frame: a sidebar with the fleet view, the cluster switcher and the pages of the
//! selected cluster (none on the fleet view), and the selected cluster's maintenance banner.

use crate::router::A;
use crate::router::{use_location, use_navigate};
use leptos::prelude::*;

use backup_domain::api::Role;

use crate::state::{ClusterContext, use_auth, use_clusters};

/// `on_logout` runs when the user asks to log out; the route that shows the frame makes the call.
/// `children` is the page.
#[component]
pub fn Shell(on_logout: Callback<()>, children: Children) -> impl IntoView {
    // The fleet view has no cluster: its frame shows the switcher unselected and no cluster pages.
    let name = use_context::<ClusterContext>()
        .map(|c| c.name)
        .unwrap_or_else(|| Memo::new(|_| String::new()));
    let in_cluster = move || !name.get().is_empty();
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
    // Maintenance mode of the selected cluster, as the cluster list last said.
    let maintenance = move || {
        clusters
            .get()
            .and_then(|r| r.ok())
            .and_then(|list| list.maintenance_of(&name.get()))
    };

    view! {
        <div class="shell">
            <nav class="sidebar" aria-label="Main">
                <div class="brand">
                    <span class="brand-mark">"C8"</span>
                    <span class="brand-name">"Backup Console"</span>
                </div>
                <ul class="nav">
                    <li><A href="/" exact=true>"Fleet"</A></li>
                </ul>
                <label class="switcher">
                    <span>"Cluster"</span>
                    <select id="cluster-switcher" on:change=switch>
                        <Show when=move || !in_cluster()>
                            <option value="" selected=true disabled=true>"Choose a cluster"</option>
                        </Show>
                        {options}
                    </select>
                </label>
                <Show when=in_cluster>
                <ul class="nav">
                    <li><A href=move || format!("/clusters/{}", name.get()) exact=true>"Overview"</A></li>
                    <li><A href=move || format!("/clusters/{}/backups", name.get())>"Backups"</A></li>
                    <Show when=is_operator>
                        <li><A href=move || format!("/clusters/{}/backup", name.get())>"New backup"</A></li>
                    </Show>
                    <li><A href=move || format!("/clusters/{}/retention", name.get())>"Retention"</A></li>
                    <li><A href=move || format!("/clusters/{}/schedules", name.get())>"Schedules"</A></li>
                    <Show when=is_admin>
                        <li><A href=move || format!("/clusters/{}/audit", name.get())>"Audit"</A></li>
                    </Show>
                </ul>
                </Show>
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
                {move || maintenance().map(|m| view! {
                    <div class="alert alert-alarm" role="status" id="maintenance-banner">
                        <strong>{format!("{} is in maintenance mode", name.get())}</strong>
                        <p>
                            {format!("Since {}, by {}", backup_domain::listing::format_utc(m.since_ms), m.by)}
                            {m.reason.map(|r| format!(": {r}"))}
                            ". Its schedules are suspended and new backups and cleanups are refused. "
                            <A href=move || format!("/clusters/{}/schedules", name.get())>"Schedules"</A>
                        </p>
                    </div>
                })}
                {children()}
            </main>
        </div>
    }
}
