//! A cluster at a glance: can it be restored right now, and is anything left in a dangerous state?

use backup_domain::Verdict;
use backup_domain::api::{ClusterSummary, ExportingStatus, HistoryResponse};
use backup_domain::listing::{format_age, format_utc};
use backup_domain::run::RunOutcome;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::ManagementAction;
use crate::app::{ClusterContext, ClustersContext};
use crate::components::alert::{ComponentErrors, ErrorAlert, Loading};
use crate::components::badge::{PhaseBadge, ReachabilityBadge, VerdictBadge};
use crate::components::management::ManagementActions;

/// A restorable backup older than this is flagged: most teams back up at least daily.
const STALE_AFTER_SECONDS: i64 = 26 * 3600;

#[component]
pub fn Overview() -> impl IntoView {
    let ClusterContext { name, history } = expect_context();
    let ClustersContext(clusters) = expect_context();
    // Health is checked afresh each time the page opens: a stale "up" would be a lie.
    clusters.refetch();
    let refresh = move |_| {
        history.refetch();
        clusters.refetch();
    };
    let summary = move || -> Option<Result<ClusterSummary, crate::api::ApiError>> {
        let current = name.get();
        clusters.get().map(|r| {
            r.and_then(|list| {
                list.clusters.into_iter().find(|c| c.name == current).ok_or(
                    crate::api::ApiError::Server {
                        status: 404,
                        code: "cluster_not_found".into(),
                        message: format!("no cluster named `{current}` is configured"),
                    },
                )
            })
        })
    };

    view! {
        <header class="page-head">
            <div>
                <h1>"Overview"</h1>
                <p class="subtle">{move || name.get()}</p>
            </div>
            <button class="btn" on:click=refresh>"Refresh"</button>
        </header>
        {move || match history.get() {
            None => view! { <Loading what="backup history"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorAlert error=e retry=Callback::new(move |_| history.refetch())/> }.into_any(),
            Some(Ok(h)) => view! { <HistorySummary history=h/> }.into_any(),
        }}
        <LatestRun/>
        <section class="card">
            <h2>"Components"</h2>
            {move || match summary() {
                None => view! { <Loading what="component health"/> }.into_any(),
                Some(Err(e)) => view! { <ErrorAlert error=e/> }.into_any(),
                Some(Ok(c)) => view! { <HealthTable cluster=c/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn HistorySummary(history: HistoryResponse) -> impl IntoView {
    let cluster = history.cluster.clone();
    let now = crate::components::now_ms();
    let latest = match history.latest_restorable {
        Some(l) => {
            let age = l.started_at_ms.map(|t| (now - t) / 1000);
            let stale = age.is_some_and(|a| a > STALE_AFTER_SECONDS);
            view! {
                <div class=if stale { "stat stat-warn" } else { "stat" } id="latest-restorable">
                    <span class="stat-label">"Latest restorable backup"</span>
                    <span class="stat-value">{l.backup_id}</span>
                    <span class="stat-note">
                        {l.started_at_ms.map(format_utc).unwrap_or_default()}
                        {age.map(|a| format!(" · {} ago", format_age(a)))}
                        {stale.then_some(" · older than 26 hours")}
                    </span>
                </div>
            }
            .into_any()
        }
        None => view! {
            <div class="stat stat-alarm" id="latest-restorable">
                <span class="stat-label">"Latest restorable backup"</span>
                <span class="stat-value">"none"</span>
                <span class="stat-note">"No backup set can be restored"</span>
            </div>
        }
        .into_any(),
    };
    let counts = history.counts;
    let count_links = Verdict::ALL
        .into_iter()
        .map(|v| {
            let href = format!("/clusters/{cluster}/backups?verdict={}", v.slug());
            view! {
                <A href=href>
                    <span class="count-row"><VerdictBadge verdict=v/><strong>{counts.get(v)}</strong></span>
                </A>
            }
        })
        .collect_view();
    let errors = view! { <ComponentErrors errors=history.component_errors.clone() consequence="their state is unknown"/> };
    view! {
        {errors}
        <ExportingAlarm exporting=history.exporting.clone()/>
        <div class="stats">
            {latest}
            <div class="stat">
                <span class="stat-label">"Backup sets"</span>
                <span class="stat-value">{history.sets.len()}</span>
                <div class="counts">{count_links}</div>
            </div>
            <div class="stat">
                <span class="stat-label">"Highest backup ID seen"</span>
                <span class="stat-value">{history.highest_backup_id.map(|i| i.to_string()).unwrap_or_else(|| "none".into())}</span>
                <span class="stat-note">"Zeebe never accepts an ID at or below its highest, deleted ones included"</span>
            </div>
        </div>
        <section class="card">
            <h2>"Exporting"</h2>
            <ExportingTable exporting=history.exporting/>
            <ManagementActions actions=vec![
                ManagementAction::SoftPause,
                ManagementAction::Pause,
                ManagementAction::Resume,
                ManagementAction::Rebalance,
            ]/>
        </section>
    }
}

/// Exporting left paused stops log compaction: the brokers' disks fill up (contract §4.1).
#[component]
fn ExportingAlarm(exporting: ExportingStatus) -> impl IntoView {
    let paused: Vec<String> = exporting
        .partitions
        .iter()
        .filter(|p| p.phase != "EXPORTING")
        .map(|p| format!("partition {} is {}", p.partition_id, p.phase))
        .collect();
    (!paused.is_empty()).then(|| {
        view! {
            <div class="alert alert-alarm" role="alert" id="exporting-alarm">
                <strong>"Exporting is not running on every partition"</strong>
                <p>{paused.join(", ")}". While exporting is paused, Zeebe cannot compact its log and broker disks grow."</p>
                <ManagementActions actions=vec![ManagementAction::Resume]/>
            </div>
        }
    })
}

#[component]
fn ExportingTable(exporting: ExportingStatus) -> impl IntoView {
    if let Some(error) = exporting.error {
        return view! {
            <p class="unknown" id="exporting-unknown">"Exporting phase unknown: "{error}</p>
        }
        .into_any();
    }
    let rows = exporting
        .partitions
        .into_iter()
        .map(|p| {
            view! {
                <tr>
                    <td>{p.partition_id}</td>
                    <td><PhaseBadge phase=p.phase/></td>
                    <td>{p.role.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="table" id="exporting-table">
            <thead><tr><th>"Partition"</th><th>"Exporter phase"</th><th>"Role"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn HealthTable(cluster: ClusterSummary) -> impl IntoView {
    let rows = cluster
        .components
        .into_iter()
        .map(|c| {
            view! {
                <tr>
                    <td>{c.component.label()}</td>
                    <td><ReachabilityBadge reachability=c.reachability/></td>
                    <td class="mono">{c.endpoint}</td>
                    <td>{c.detail.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="subtle">"API generation "{cluster.profile.label()}</p>
        <table class="table" id="health-table">
            <thead><tr><th>"Component"</th><th>"Status"</th><th>"Endpoint"</th><th>"Detail"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The newest backup run: a link to watch it while it runs, an alarm if it could not confirm that
/// exporting was resumed.
#[component]
fn LatestRun() -> impl IntoView {
    let ClusterContext { name, .. } = expect_context();
    let latest = RwSignal::new(None);
    Effect::new(move |_| {
        let cluster = name.get();
        leptos::task::spawn_local(async move {
            latest.set(Some(crate::api::latest_run(&cluster).await));
        });
    });
    move || match latest.get() {
        None | Some(Ok(None)) => None,
        Some(Err(e)) => Some(view! { <ErrorAlert error=e/> }.into_any()),
        Some(Ok(Some(run))) => {
            let href = format!("/clusters/{}/backup?run={}", run.cluster, run.id);
            let when = format_utc(run.started_ms);
            let backup_id = run.backup_id;
            Some(match run.report.outcome {
                RunOutcome::Running => view! {
                    <div class="alert alert-alarm" role="status" id="latest-run" data-outcome="running">
                        <strong>{format!("Backup {backup_id} is running")}</strong>
                        <p>{format!("Started by {} at {when}. ", run.started_by)}<A href=href>"Watch it"</A></p>
                    </div>
                }.into_any(),
                RunOutcome::ExportingStillPaused { reason } => view! {
                    <div class="alert alert-alarm" role="alert" id="latest-run" data-outcome="exporting_still_paused">
                        <strong>{format!("Backup run {backup_id} could not confirm that exporting was resumed")}</strong>
                        <p>{reason}" "<A href=href>"See the run"</A></p>
                        <ManagementActions actions=vec![ManagementAction::Resume]/>
                    </div>
                }.into_any(),
                outcome => view! {
                    <p class="subtle" id="latest-run" data-outcome=outcome.state_name()>
                        {format!("Last backup run: {backup_id}, {} ({when}). ", outcome.state_name().replace('_', " "))}
                        <A href=href>"Details"</A>
                    </p>
                }.into_any(),
            })
        }
    }
}
