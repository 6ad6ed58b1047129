//! A cluster at a glance: can it be restored right now, and is anything left in a dangerous state?

use crate::router::A;
use backup_domain::Verdict;
use backup_domain::api::{ExportingStatus, HistoryResponse, Reachability};
use backup_domain::fleet::{FleetRow, RpoState};
use backup_domain::listing::{format_age, format_utc};
use backup_domain::run::{RunOutcome, RunState};
use backup_domain::status::{ClusterStatus, Probe};
use leptos::prelude::*;

use crate::actions::{ManagementRun, management_run};
use crate::api::ManagementAction;
use crate::components::alert::{ErrorAlert, Loading};
use crate::components::badge::{PhaseBadge, ReachabilityBadge, RpoBadge, VerdictBadge};
use crate::components::freshness::HistoryFreshness;
use crate::components::management::ManagementActions;
use crate::components::now_ms;
use crate::state::{Fetched, Loaded, spawn_owned, use_cluster};

/// The Overview asks for the cluster's status at least this often, just after the server's next
/// round is due (so what it shows is at most about one server interval old), but never more
/// often than every [`MIN_POLL_MS`].
const POLL_MS: i64 = 10_000;
const MIN_POLL_MS: i64 = 2_000;

/// When, from receiving `status` at browser time `received`, the next round should be readable.
fn next_fetch(status: &ClusterStatus, received: i64) -> i64 {
    let age = (status.served_at_ms - status.taken_at_ms).max(0);
    let until_next = (status.interval_ms - age).max(0) + status.took_ms.max(0) + 250;
    received + until_next.clamp(MIN_POLL_MS, POLL_MS)
}

/// The status as last fetched: the newest good answer with the browser's time of receipt (ages are
/// counted from the server's clock at answer time plus the browser's time since, so a skewed
/// browser clock does not matter), and the error of the latest refresh if it failed.
#[derive(Clone, Default)]
struct Live {
    status: Option<(ClusterStatus, i64)>,
    error: Option<crate::api::ApiError>,
}

impl Live {
    /// How old the shown status is at browser time `now`, in milliseconds.
    fn age_ms(&self, now: i64) -> Option<i64> {
        self.status
            .as_ref()
            .map(|(s, received)| (s.served_at_ms - s.taken_at_ms).max(0) + (now - received).max(0))
    }

    /// The last refresh failed, or the status is older than its stale threshold.
    fn stale(&self, now: i64) -> bool {
        self.status.is_some()
            && (self.error.is_some()
                || self
                    .status
                    .as_ref()
                    .zip(self.age_ms(now))
                    .is_some_and(|((s, _), age)| age > s.stale_after_ms()))
    }
}

/// `HH:MM:SS UTC` of an epoch-milliseconds time.
fn time_of_day(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02} UTC", s / 3600, (s % 3600) / 60, s % 60)
}

#[component]
pub fn Overview() -> impl IntoView {
    let cluster_context = use_cluster();
    let name = cluster_context.name;
    // The history's figures only (`?per_page=1`): the counts, the latest restorable set, the
    // highest ID and the exporting phase are over every set whatever the page.
    let history: Loaded<HistoryResponse> = LocalResource::new(move || {
        let cluster = name.get();
        cluster_context.track_history();
        async move { crate::api::history_summary(&cluster).await }
    });
    // The RPO and the next scheduled backup, read again whenever the history is. The fleet
    // view's answer, whose decoder the wasm has anyway (one row per cluster: small).
    let fleet = Fetched::new(crate::api::fleet);
    Effect::new(move |first: Option<()>| {
        name.track();
        cluster_context.track_history();
        if first.is_some() {
            fleet.reload();
        }
    });
    let live = RwSignal::new(Live::default());
    let now = RwSignal::new(now_ms());
    // The cluster a refresh is in flight for, and when the next one is due (browser clock).
    let in_flight = RwSignal::new(None::<String>);
    let next_due = RwSignal::new(0_i64);
    // The browser time of the latest history read: the server starts a status round for it, and
    // a round taken before it is read again soon rather than after a whole interval.
    let history_read_at = RwSignal::new(i64::MIN);
    // The refresh belongs to the page whoever asks for it (the ticker, an effect, a button):
    // leaving the page aborts the request in flight.
    let owner = StoredValue::new(Owner::current().unwrap_or_default());
    let fetch = move || {
        let Some(cluster) = name.try_get_untracked() else {
            return;
        };
        if in_flight.get_untracked().as_deref() == Some(cluster.as_str()) {
            return;
        }
        in_flight.set(Some(cluster.clone()));
        next_due.set(now_ms() + POLL_MS);
        owner.with_value(|o| {
            o.with(|| {
                spawn_owned(async move {
                    let answer = crate::api::cluster_status(&cluster).await;
                    in_flight.try_update(|f| {
                        if f.as_deref() == Some(cluster.as_str()) {
                            *f = None;
                        }
                    });
                    // An answer for a cluster the page has left is dropped.
                    if name.try_get_untracked().as_deref() != Some(cluster.as_str()) {
                        return;
                    }
                    let received = now_ms();
                    if let Ok(s) = &answer {
                        let taken = received - (s.served_at_ms - s.taken_at_ms).max(0);
                        let before_history = history_read_at
                            .try_get_untracked()
                            .is_some_and(|h| taken < h);
                        next_due.try_set(if before_history {
                            received + MIN_POLL_MS
                        } else {
                            next_fetch(s, received)
                        });
                    }
                    live.try_update(|l| match answer {
                        Ok(s) => {
                            *l = Live {
                                status: Some((s, received)),
                                error: None,
                            }
                        }
                        Err(e) => l.error = Some(e),
                    });
                })
            })
        });
    };
    // A history read brings the server's status round forward: the status is read again at the
    // ticker's next second, when that round is in.
    Effect::new(move |_| {
        if history.with(|h| h.as_ref().is_some_and(Result::is_ok)) {
            history_read_at.set(now_ms());
            next_due.set(now_ms() + 300);
        }
    });
    // A new cluster starts from nothing, at once.
    Effect::new(move |_| {
        name.track();
        live.set(Live::default());
        fetch();
    });
    let ticker = set_interval_with_handle(
        move || {
            let t = now_ms();
            now.set(t);
            if t >= next_due.get_untracked() {
                fetch();
            }
        },
        std::time::Duration::from_secs(1),
    )
    .ok();
    on_cleanup(move || {
        if let Some(t) = ticker {
            t.clear();
        }
    });
    let after_action = Callback::new(move |()| {
        in_flight.set(None);
        fetch();
    });
    let card_run = management_run(Some(after_action));
    let alarm_run = management_run(Some(after_action));
    let refresh = move |_| {
        history.refetch();
        fleet.reload();
        in_flight.set(None);
        fetch();
    };
    let stale = Signal::derive(move || live.with(|l| l.stale(now.get())));
    // The exporting phase of the status round: the history's comes from a round too (it is read
    // from the catalog, whose time is not the round's), so it is only the fallback while no
    // round has been read.
    let exporting = Memo::new(move |_| {
        live.with(|l| l.status.as_ref().map(|(s, _)| s.exporting.clone()))
            .or_else(|| history.get().and_then(|h| h.ok()).map(|h| h.exporting))
    });
    let held =
        Memo::new(move |_| live.with(|l| l.status.as_ref().and_then(|(s, _)| s.held_by.clone())));
    let cluster = move || name.get();

    view! {
        <header class="page-head">
            <div>
                <h1>"Overview"</h1>
                <p class="subtle">{move || name.get()}</p>
            </div>
            <button class="btn" on:click=refresh>"Refresh"</button>
        </header>
        <StatusLine live=live now=now stale=stale/>
        {move || {
            let held = held.get();
            exporting.get().filter(|_| held.is_none()).map(|e| view! { <ExportingAlarm exporting=e run=alarm_run/> })
        }}
        {move || match history.get() {
            None => view! { <Loading what="backup history"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorAlert error=e retry=Callback::new(move |_| history.refetch())/> }.into_any(),
            Some(Ok(h)) => {
                let row = fleet.get().and_then(Result::ok).and_then(|f| {
                    f.clusters.into_iter().find(|r| r.cluster == h.cluster)
                });
                view! { <HistorySummary history=h row=row/> }.into_any()
            }
        }}
        <LatestRun/>
        <section class="card" class:stale=move || stale.get() id="exporting-card">
            <h2>"Exporting"<StaleMark stale=stale/></h2>
            {move || match (exporting.get(), live.with(|l| l.error.clone())) {
                (Some(e), _) => view! { <ExportingTable exporting=e/> }.into_any(),
                (None, Some(e)) => view! { <ErrorAlert error=e retry=after_action/> }.into_any(),
                (None, None) => view! { <Loading what="exporting phase"/> }.into_any(),
            }}
            {move || match held.get() {
                Some(hold) => {
                    let run = hold.run_id.map(|id| (id, format!("/clusters/{}/backup?run={id}", cluster())));
                    view! {
                        <p class="held" id="exporting-held">
                            {match run {
                                Some((id, href)) => view! {
                                    "Soft-paused by run "<A href=href.clone()>{id}</A>
                                    {hold.backup_id.map(|b| format!(" (backup {b})"))}
                                    {format!(", at “{}”. The run resumes exporting when it ends; only it changes exporting meanwhile. ", hold.phase)}
                                    <A href=href>"See the run"</A>
                                }.into_any(),
                                None => view! { "Held by a backup run that is starting: exporting is left to it." }.into_any(),
                            }}
                        </p>
                    }.into_any()
                }
                None => {
                    let primary = Signal::derive(move || {
                        exporting.get().is_some_and(|e| e.partitions.iter().any(|p| p.phase != "EXPORTING"))
                            .then_some(ManagementAction::Resume)
                    });
                    view! {
                        <ManagementActions actions=vec![
                            ManagementAction::SoftPause,
                            ManagementAction::Pause,
                            ManagementAction::Resume,
                            ManagementAction::Rebalance,
                        ] run=card_run primary=primary/>
                    }.into_any()
                }
            }}
        </section>
        <section class="card" class:stale=move || stale.get() id="components-card">
            <h2>"Components"<StaleMark stale=stale/></h2>
            {move || live.with(|l| match (&l.status, &l.error) {
                (Some((s, _)), _) => view! { <HealthTable status=s.clone()/> }.into_any(),
                (None, Some(e)) => view! { <ErrorAlert error=e.clone() retry=after_action/> }.into_any(),
                (None, None) => view! { <Loading what="component status"/> }.into_any(),
            })}
        </section>
    }
}

/// "Status updated 4 s ago", or why what is shown may no longer be true.
#[component]
fn StatusLine(live: RwSignal<Live>, now: RwSignal<i64>, stale: Signal<bool>) -> impl IntoView {
    move || {
        let t = now.get();
        live.with(|l| {
            let (status, _) = l.status.as_ref()?;
            let age = l.age_ms(t).unwrap_or(0) / 1000;
            let taken = time_of_day(status.taken_at_ms);
            if !stale.get() {
                return Some(view! {
                    <p class="status-line" id="status-line" data-stale="false">
                        {format!("Status updated {} ago", format_age(age))}
                    </p>
                }.into_any());
            }
            let why = match &l.error {
                Some(e) => format!("The last refresh failed: {}: {e}.", e.title()),
                None => "No newer status has come from the console server.".to_string(),
            };
            Some(view! {
                <div class="alert alert-stale" role="alert" id="status-stale" data-stale="true">
                    <strong>{format!("Stale: this status is from {taken}, {} ago", format_age(age))}</strong>
                    <p>{why}" The exporting phase and component states below may no longer be true; the page keeps trying."</p>
                </div>
            }.into_any())
        })
    }
}

/// A visible word, not only a colour, on a card whose data may be out of date.
#[component]
fn StaleMark(stale: Signal<bool>) -> impl IntoView {
    move || {
        stale
            .get()
            .then(|| view! { <span class="badge badge-stale">"stale"</span> })
    }
}

/// The newest restorable set against the cluster's RPO (`row`, once read), and the next backup.
#[component]
fn HistorySummary(history: HistoryResponse, row: Option<FleetRow>) -> impl IntoView {
    let cluster = history.cluster.clone();
    let now = crate::components::now_ms();
    let rpo = row.as_ref().map(|r| r.rpo.clone());
    let rpo_line = rpo.clone().map(|r| {
        view! {
            <span class="stat-note" id="rpo-state"><RpoBadge state=r.state/>{format!(" objective {} h · {}", r.rpo_hours, r.reason)}</span>
            {r.newer_partial.map(|p| view! {
                <span class="stat-note">{format!("A newer set, {}, is only partially restorable and not counted", p.backup_id)}</span>
            })}
        }
    });
    let class = match rpo.as_ref().map(|r| r.state) {
        Some(RpoState::Breached) => "stat stat-alarm",
        Some(RpoState::Warning) => "stat stat-warn",
        _ => "stat",
    };
    let next_backup = row.map(|r| {
        let schedules = format!("/clusters/{cluster}/schedules");
        let next = match (r.maintenance.is_some(), r.next_backup_ms) {
            (true, _) => "suspended by maintenance mode".to_string(),
            (false, Some(t)) => format!(
                "{} (in {})",
                format_utc(t),
                format_age((t - now).max(0) / 1000)
            ),
            (false, None) => "no backup schedule".to_string(),
        };
        view! {
            <div class="stat" id="next-backup">
                <span class="stat-label">"Next scheduled backup"</span>
                <span class="stat-note">{next}</span>
                <A href=schedules>"Schedules"</A>
            </div>
        }
    });
    let latest = match history.latest_restorable {
        Some(l) => {
            let age = l.started_at_ms.map(|t| (now - t) / 1000);
            view! {
                <div class=class id="latest-restorable">
                    <span class="stat-label">"Latest restorable backup"</span>
                    <span class="stat-value">{l.backup_id}</span>
                    <span class="stat-note">
                        {l.started_at_ms.map(format_utc).unwrap_or_default()}
                        {age.map(|a| format!(" · {} ago", format_age(a)))}
                    </span>
                    {rpo_line}
                </div>
            }
            .into_any()
        }
        None => view! {
            <div class="stat stat-alarm" id="latest-restorable">
                <span class="stat-label">"Latest restorable backup"</span>
                <span class="stat-value">"none"</span>
                <span class="stat-note">"No backup set can be restored"</span>
                {rpo_line}
            </div>
        }
        .into_any(),
    };
    let counts = history.counts;
    // Every set, from the counts: the summary answer carries a single one.
    let all_sets = counts.restorable
        + counts.restorable_partial
        + counts.in_progress
        + counts.not_restorable
        + counts.unknown;
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
    let errors = view! { <HistoryFreshness catalog=history.catalog.clone() errors=history.component_errors.clone() consequence="their state is unknown"/> };
    view! {
        {errors}
        <div class="stats">
            {latest}
            {next_backup}
            <div class="stat">
                <span class="stat-label">"Backup sets"</span>
                <span class="stat-value" id="set-count">{all_sets}</span>
                <div class="counts">{count_links}</div>
            </div>
            <div class="stat">
                <span class="stat-label">"Highest backup ID seen"</span>
                <span class="stat-value">{history.highest_backup_id.map(|i| i.to_string()).unwrap_or_else(|| "none".into())}</span>
                <span class="stat-note">"Zeebe never accepts an ID at or below its highest, deleted ones included"</span>
            </div>
        </div>
    }
}

/// Exporting left paused stops log compaction: the brokers' disks fill up (contract §4.1).
#[component]
fn ExportingAlarm(exporting: ExportingStatus, run: ManagementRun) -> impl IntoView {
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
                <ManagementActions actions=vec![ManagementAction::Resume] run=run/>
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
fn HealthTable(status: ClusterStatus) -> impl IntoView {
    let rows = status
        .components
        .into_iter()
        .map(|c| {
            view! {
                <tr data-probe=c.probe.label()>
                    <td>{c.component.label()}</td>
                    <td><ProbeBadge probe=c.probe/></td>
                    <td class="mono">{c.endpoint}</td>
                    <td>{c.error.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="subtle">"API generation "{status.profile.label()}</p>
        <table class="table" id="health-table">
            <thead><tr><th>"Component"</th><th>"Status"</th><th>"Endpoint"</th><th>"Detail"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// A component's reachability with the badges the console uses elsewhere; a probe that got no
/// answer in time reads unknown, never up.
#[component]
fn ProbeBadge(probe: Probe) -> impl IntoView {
    let reachability = match probe {
        Probe::Reachable => Reachability::Up,
        Probe::Degraded => Reachability::Degraded,
        Probe::Unreachable => Reachability::Unreachable,
        Probe::Unknown => {
            return view! { <span class="badge verdict-unknown">"unknown"</span> }.into_any();
        }
    };
    view! { <ReachabilityBadge reachability=reachability/> }.into_any()
}

/// The newest backup run: a link to watch it while it runs, an alarm if it could not confirm that
/// exporting was resumed.
#[component]
fn LatestRun() -> impl IntoView {
    let name = use_cluster().name;
    let resume = management_run(None);
    let latest = RwSignal::new(None);
    Effect::new(move |_| {
        let cluster = name.get();
        spawn_owned(async move {
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
                        <p>{format!("Started by {} ({}) at {when}. ", run.started_by, run.trigger)}<A href=href>"Watch it"</A></p>
                    </div>
                }.into_any(),
                RunOutcome::ExportingStillPaused { reason } => view! {
                    <div class="alert alert-alarm" role="alert" id="latest-run" data-outcome=RunState::ExportingStillPaused.to_string()>
                        <strong>{format!("Backup run {backup_id} could not confirm that exporting was resumed")}</strong>
                        <p>{reason}" "<A href=href>"See the run"</A></p>
                        <ManagementActions actions=vec![ManagementAction::Resume] run=resume/>
                    </div>
                }.into_any(),
                outcome => view! {
                    <p class="subtle" id="latest-run" data-outcome=outcome.state().to_string()>
                        {format!("Last backup run: {backup_id}, {} ({when}, {}). ", outcome.state().as_str().replace('_', " "), run.trigger)}
                        <A href=href>"Details"</A>
                    </p>
                }.into_any(),
            })
        }
    }
}
