//! `/`: the fleet view, one row per cluster with what an administrator on call asks first: can it
//! be restored within its RPO, is exporting running, how did the last run end, when is the next.

use crate::router::A;
use backup_domain::api::LatestRestorable;
use backup_domain::fleet::{FleetResponse, FleetRow};
use backup_domain::listing::{format_age, format_utc};
use leptos::prelude::*;

use crate::components::alert::{ErrorAlert, Loading};
use crate::components::badge::{PhaseBadge, ReachabilityBadge, RpoBadge};
use crate::components::now_ms;
use crate::state::{Fetched, spawn_owned, use_auth};
use crate::wire::Delivery;

/// The fleet view reads the server's figures again this often (they come from the catalog and
/// the status poller, so a read is cheap and never reaches a cluster).
const POLL_SECS: u64 = 15;

#[component]
pub fn Home() -> impl IntoView {
    let fleet = Fetched::new(crate::api::fleet);
    // The last good answer and when it came, so that a failed refresh marks it stale, never blank.
    let shown = RwSignal::new(None::<(FleetResponse, i64)>);
    let failed = RwSignal::new(None::<crate::api::ApiError>);
    Effect::new(move |_| match fleet.get() {
        Some(Ok(f)) => {
            shown.set(Some((f, now_ms())));
            failed.set(None);
        }
        Some(Err(e)) => failed.set(Some(e)),
        None => {}
    });
    let now = RwSignal::new(now_ms());
    let ticker = set_interval_with_handle(
        move || {
            let t = now_ms();
            now.set(t);
            let due = shown
                .with_untracked(|s| s.as_ref().map(|(_, at)| *at))
                .is_none_or(|at| t - at >= POLL_SECS as i64 * 1000);
            if due {
                fleet.reload();
            }
        },
        std::time::Duration::from_secs(POLL_SECS),
    )
    .ok();
    on_cleanup(move || {
        if let Some(t) = ticker {
            t.clear();
        }
    });
    view! {
        <header class="page-head">
            <div>
                <h1>"Fleet"</h1>
                <p class="subtle">"Every configured cluster against its recovery point objective"</p>
            </div>
            <button class="btn" on:click=move |_| fleet.reload()>"Refresh"</button>
        </header>
        {move || {
            let age = shown.with(|s| s.as_ref().map(|(_, at)| (now.get() - at).max(0) / 1000));
            match (age, failed.get()) {
                (Some(age), Some(e)) => Some(view! {
                    <div class="alert alert-stale" role="alert" id="fleet-stale" data-stale="true">
                        <strong>{format!("Stale: these figures are {} old", format_age(age))}</strong>
                        <p>{format!("The last refresh failed: {}: {e}. They may no longer be true.", e.title())}</p>
                    </div>
                }.into_any()),
                (Some(age), None) => Some(view! {
                    <p class="status-line" id="fleet-updated" data-stale="false">{format!("Updated {} ago", format_age(age))}</p>
                }.into_any()),
                (None, _) => None,
            }
        }}
        {move || match (shown.get(), failed.get()) {
            (Some((f, _)), _) => view! { <FleetTable fleet=f/> }.into_any(),
            (None, Some(e)) => view! { <ErrorAlert error=e retry=Callback::new(move |_| fleet.reload())/> }.into_any(),
            (None, None) => view! { <Loading what="the fleet"/> }.into_any(),
        }}
        <NotificationChannels/>
    }
}

/// The notification channels of `[[notifications]]`: where each goes, its last delivery, and
/// an admin's "Send test".
#[component]
fn NotificationChannels() -> impl IntoView {
    let auth = use_auth();
    let list = Fetched::new(crate::api::notifications);
    // The channels a test is being sent to, and each test's outcome by channel.
    let sending = RwSignal::new(Vec::<String>::new());
    let tested = RwSignal::new(Vec::<(String, Result<Delivery, crate::api::ApiError>)>::new());
    let send = move |name: String| {
        let csrf = auth.csrf();
        sending.update(|s| s.push(name.clone()));
        spawn_owned(async move {
            let outcome = crate::api::send_test(&name, &csrf).await;
            tested.update(|t| {
                t.retain(|(n, _)| *n != name);
                t.push((name.clone(), outcome));
            });
            sending.update(|s| s.retain(|n| *n != name));
            list.reload();
        });
    };
    let rows = move || {
        match list.get() {
        None => view! { <Loading what="notification channels"/> }.into_any(),
        Some(Err(e)) => view! { <ErrorAlert error=e retry=Callback::new(move |_| list.reload())/> }.into_any(),
        Some(Ok(n)) if n.channels.is_empty() => view! {
            <p class="subtle">"No channel is configured: add [[notifications]] to the configuration file (see the README)."</p>
        }.into_any(),
        Some(Ok(n)) => {
            let rows = n.channels.into_iter().map(|c| {
                let name = c.name.clone();
                let last = c.last_delivery.map(delivery_text).unwrap_or_else(|| "none yet".into());
                let test = {
                    let name = name.clone();
                    move || tested.with(|t| t.iter().find(|(n, _)| *n == name).map(|(_, r)| match r {
                        Ok(d) => delivery_text(d.clone()),
                        Err(e) => format!("{}: {e}", e.title()),
                    }))
                };
                let button = {
                    let name = name.clone();
                    move || auth.is_admin().then(|| {
                        let name = name.clone();
                        let busy = {
                            let name = name.clone();
                            move || sending.with(|s| s.contains(&name))
                        };
                        view! { <button class="btn send-test" disabled=busy on:click=move |_| send(name.clone())>"Send test"</button> }
                    })
                };
                view! {
                    <tr data-channel=name>
                        <td>{c.name}<div class="subtle">{c.kind}</div></td>
                        <td>{c.target}</td>
                        <td class="why">{c.events.join(", ")}</td>
                        <td class="last-delivery">{last}{(c.pending > 0).then(|| format!(" · {} pending", c.pending))}</td>
                        <td>{button}<div class="test-outcome">{test}</div></td>
                    </tr>
                }
            }).collect_view();
            view! {
                <div class="table-scroll">
                    <table class="table" id="channels-table">
                        <thead><tr><th>"Channel"</th><th>"Target"</th><th>"Events"</th><th>"Last delivery"</th><th></th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            }.into_any()
        }
    }
    };
    view! {
        <section class="card" id="notifications-card">
            <h2>"Notifications"</h2>
            {rows}
        </section>
    }
}

fn delivery_text(d: Delivery) -> String {
    let mut text = format!("{} {}", d.outcome, format_utc(d.at_ms));
    if let Some(event) = d.event {
        text = format!("{text} ({event})");
    }
    if let Some(error) = d.error {
        text = format!("{text}: {error}");
    }
    text
}

#[component]
fn FleetTable(fleet: FleetResponse) -> impl IntoView {
    if fleet.clusters.is_empty() {
        return view! { <p class="subtle">"No cluster is configured."</p> }.into_any();
    }
    let now = now_ms();
    let rows = fleet
        .clusters
        .into_iter()
        .map(|row| view! { <FleetLine row=row now=now/> })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="table" id="fleet-table">
                <thead><tr>
                    <th>"Cluster"</th><th>"RPO"</th><th>"Newest restorable"</th><th>"Exporting"</th>
                    <th>"Last run"</th><th>"Next backup"</th><th>"Components"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

fn set_age(set: &LatestRestorable) -> String {
    match set.age_seconds {
        Some(a) => format!("{} · {} ago", set.backup_id, format_age(a)),
        None => format!("{} · age unknown", set.backup_id),
    }
}

#[component]
fn FleetLine(row: FleetRow, now: i64) -> impl IntoView {
    let state = row.state();
    let href = format!("/clusters/{}", row.cluster);
    let newest = match &row.rpo.newest_restorable {
        Some(set) => set_age(set),
        None => "none".to_string(),
    };
    let partial =
        row.rpo.newer_partial.as_ref().map(
            |p| view! { <div class="subtle">{format!("newer, partial: {}", set_age(p))}</div> },
        );
    let last_run = match &row.last_run {
        Some(run) => {
            let run_href = format!("/clusters/{}/backup?run={}", row.cluster, run.run_id);
            let ago = format_age((now - run.started_ms).max(0) / 1000);
            view! {
                <A href=run_href>{format!("{}: {}", run.backup_id, run.state.replace('_', " "))}</A>
                <div class="subtle">{format!("{}, {ago} ago", run.trigger.as_str())}</div>
            }
            .into_any()
        }
        None => view! { <span class="subtle">"none yet"</span> }.into_any(),
    };
    let next = match (&row.maintenance, row.next_backup_ms) {
        (Some(_), _) => "suspended (maintenance)".to_string(),
        (None, Some(t)) => format_utc(t),
        (None, None) => "no schedule".to_string(),
    };
    let components = row
        .components
        .iter()
        .map(|c| {
            view! { <span class="component-state">{c.component.clone()}" "<ReachabilityBadge reachability=c.reachability/></span> }
        })
        .collect_view();
    let cluster = row.cluster.clone();
    view! {
        <tr data-cluster=row.cluster.clone() data-rpo=row.rpo.state.slug() data-state=state.label()>
            <td>
                <A href=href>{cluster}</A>
                <div class="subtle">{row.profile.label()}</div>
                {row.maintenance.as_ref().map(|_| view! { <span class="badge verdict-unknown">"maintenance"</span> })}
            </td>
            <td class="why">
                <RpoBadge state=row.rpo.state/>
                <div>{format!("objective {} h", row.rpo.rpo_hours)}</div>
                <div class="subtle">{row.rpo.reason.clone()}</div>
            </td>
            <td>{newest}{partial}</td>
            <td><PhaseBadge phase=row.exporting.clone()/></td>
            <td>{last_run}</td>
            <td>{next}</td>
            <td class="components">{components}</td>
        </tr>
    }
}
