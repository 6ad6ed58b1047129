//! A cluster's schedules: when its backup and cleanup come due next, what the last due times came
//! to, an admin's edit, pause and maintenance mode, and "Run now".

use crate::router::A;
use crate::router::use_navigate;
use backup_domain::api::Role;
use backup_domain::listing::{format_age, format_utc};
use backup_domain::schedule::{
    FireOutcome, MaintenanceUpdate, ScheduleFire, ScheduleKind, ScheduleSource, ScheduleUpdate,
    ScheduleView, SchedulesResponse,
};
use leptos::prelude::*;

use crate::api::ApiError;
use crate::components::alert::{ErrorAlert, Loading};
use crate::components::now_ms;
use crate::state::{Fetched, spawn_owned, use_auth, use_cluster, use_clusters};

fn outcome_class(outcome: &FireOutcome) -> &'static str {
    match outcome {
        FireOutcome::Started => "badge verdict-restorable",
        FireOutcome::Skipped | FireOutcome::Claimed => "badge state-missing",
        FireOutcome::Missed | FireOutcome::Failed => "badge verdict-not_restorable",
        FireOutcome::Unknown(_) => "badge verdict-unknown",
    }
}

#[component]
fn FireLine(fire: ScheduleFire) -> impl IntoView {
    view! {
        <span class=outcome_class(&fire.outcome) data-outcome=fire.outcome.as_str().to_string()>{fire.outcome.as_str().to_string()}</span>
        {format!(" due {}", format_utc(fire.due_ms))}
        {fire.reason.map(|r| view! { <div class="subtle">{r}</div> })}
    }
}

#[component]
pub fn Schedules() -> impl IntoView {
    let name = use_cluster().name;
    let schedules = Fetched::new(move || {
        let cluster = name.get_untracked();
        async move { crate::api::schedules(&cluster).await }
    });
    Effect::new(move |previous: Option<String>| {
        let current = name.get();
        if previous.is_some_and(|p| p != current) {
            schedules.reload();
        }
        current
    });
    view! {
        <header class="page-head">
            <div>
                <h1>"Schedules"</h1>
                <p class="subtle">{move || name.get()}" · every time is UTC"</p>
            </div>
            <button class="btn" on:click=move |_| schedules.reload()>"Refresh"</button>
        </header>
        <MaintenanceCard on_change=Callback::new(move |()| schedules.reload())/>
        {move || match schedules.get() {
            None => view! { <Loading what="schedules"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorAlert error=e retry=Callback::new(move |_| schedules.reload())/> }.into_any(),
            Some(Ok(s)) => view! { <ScheduleCards schedules=s reload=Callback::new(move |()| schedules.reload())/> }.into_any(),
        }}
    }
}

#[component]
fn ScheduleCards(schedules: SchedulesResponse, reload: Callback<()>) -> impl IntoView {
    let cards = schedules
        .schedules
        .into_iter()
        .map(|s| view! { <ScheduleCard schedule=s reload=reload/> })
        .collect_view();
    let recent = schedules
        .recent
        .into_iter()
        .map(|f| {
            view! {
                <tr>
                    <td>{f.kind.as_str().to_string()}</td>
                    <td>{format_utc(f.due_ms)}</td>
                    <td><span class=outcome_class(&f.outcome)>{f.outcome.as_str().to_string()}</span></td>
                    <td class="why">{f.reason.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {cards}
        <section class="card" id="recent-fires">
            <h2>"Recent due times"</h2>
            <div class="table-scroll">
                <table class="table compact">
                    <thead><tr><th>"Schedule"</th><th>"Due"</th><th>"Outcome"</th><th>"Why"</th></tr></thead>
                    <tbody>{recent}</tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn ScheduleCard(schedule: ScheduleView, reload: Callback<()>) -> impl IntoView {
    let auth = use_auth();
    let name = use_cluster().name;
    let navigate = use_navigate();
    let is_backup = schedule.kind == ScheduleKind::Backup;
    let kind = schedule.kind.as_str().to_string();
    let title = if is_backup {
        "Backup schedule"
    } else {
        "Cleanup schedule"
    };
    let enabled = schedule.enabled;
    let refused = schedule.refused.clone();
    let editable = refused.is_none();
    let has_expression = schedule.expression.is_some();
    let draft = RwSignal::new(schedule.expression.clone().unwrap_or_default());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let save = {
        let kind = kind.clone();
        move |update: ScheduleUpdate| {
            let (cluster, kind, csrf) = (name.get_untracked(), kind.clone(), auth.csrf());
            busy.set(true);
            error.set(None);
            spawn_owned(async move {
                match crate::api::save_schedule(&cluster, &kind, &update, &csrf).await {
                    Ok(_) => reload.run(()),
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        }
    };
    let save_expression = {
        let save = save.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            save(ScheduleUpdate {
                expression: Some(draft.get_untracked().trim().to_string()),
                enabled,
            });
        }
    };
    let toggle = move |_| {
        save(ScheduleUpdate {
            expression: None,
            enabled: !enabled,
        })
    };
    let run_now = move |_| {
        let (cluster, csrf) = (name.get_untracked(), auth.csrf());
        let navigate = navigate.clone();
        busy.set(true);
        error.set(None);
        spawn_owned(async move {
            match crate::api::start_run(&cluster, None, &csrf).await {
                Ok(started) => navigate(
                    &format!("/clusters/{cluster}/backup?run={}", started.run_id),
                    Default::default(),
                ),
                Err(e) => {
                    error.set(Some(e));
                    busy.set(false);
                }
            }
        });
    };
    let now = now_ms();
    let next = match (&schedule.expression, enabled, schedule.next_ms) {
        (None, _, _) => "no schedule".to_string(),
        (Some(_), false, _) => "paused".to_string(),
        (Some(_), true, Some(t)) => {
            format!(
                "{} (in {})",
                format_utc(t),
                format_age((t - now).max(0) / 1000)
            )
        }
        // Enabled with an expression but nothing next: maintenance mode suspends it.
        (Some(_), true, None) => "suspended".to_string(),
    };
    let source = match schedule.source {
        ScheduleSource::File => "from the configuration file".to_string(),
        ScheduleSource::Console => format!(
            "saved in the console{}",
            schedule
                .updated_by
                .as_ref()
                .map(|u| format!(" by {u}"))
                .unwrap_or_default()
        ),
        ScheduleSource::None => "none configured".to_string(),
    };
    let card_id = format!("schedule-{kind}");
    view! {
        <section class="card" id=card_id data-enabled=enabled.to_string()>
            <h2>{title}</h2>
            <dl class="facts">
                <dt>"Expression"</dt><dd class="mono schedule-expression">{schedule.expression.clone().unwrap_or_else(|| "none".into())}</dd>
                <dt>"Source"</dt><dd>{source}</dd>
                <dt>"State"</dt><dd>{if enabled { "enabled" } else { "paused" }}</dd>
                <dt>"Next due"</dt><dd class="schedule-next">{next}</dd>
                <dt>"Last due"</dt><dd class="schedule-last">{match schedule.last.clone() {
                    Some(f) => view! { <FireLine fire=f/> }.into_any(),
                    None => view! { "none yet" }.into_any(),
                }}</dd>
                {schedule.last_started.clone().map(|f| view! {
                    <dt>"Last started"</dt><dd><FireLine fire=f/></dd>
                })}
            </dl>
            {refused.clone().map(|r| view! { <p class="notes schedule-refused">{r}</p> })}
            {move || error.get().map(|e| view! { <ErrorAlert error=e/> })}
            <Show when=move || is_backup && auth.is_admin() && editable>
                <form class="inline-form" on:submit=save_expression.clone()>
                    <label>
                        <span>"Five-field cron, UTC"</span>
                        <input class="mono schedule-input" prop:value=move || draft.get() placeholder="0 */6 * * *"
                            on:input=move |ev| draft.set(event_target_value(&ev))/>
                    </label>
                    <button class="btn btn-primary" type="submit" disabled=move || busy.get()>"Save"</button>
                </form>
                <p class="subtle">"An empty expression removes the schedule. Saving counts from now: nothing that passed fires."</p>
            </Show>
            <div class="actions">
                <Show when=move || auth.is_admin() && has_expression>
                    <button class="btn schedule-toggle" disabled=move || busy.get() on:click=toggle.clone()>
                        {if enabled { "Pause" } else { "Enable" }}
                    </button>
                </Show>
                <Show when=move || is_backup && auth.allows(Role::Operator)>
                    <button class="btn btn-primary schedule-run-now" disabled=move || busy.get() on:click=run_now.clone()>"Run now"</button>
                </Show>
                <Show when=move || !is_backup>
                    <p class="subtle">
                        "The cleanup schedule's expression is the retention policy's. To clean up now, "
                        <A href=move || format!("/clusters/{}/retention", name.get())>"preview and run it on the Retention page"</A>
                        "."
                    </p>
                </Show>
            </div>
        </section>
    }
}

/// Maintenance mode: shown to everyone, switched by admins (with a reason, audited).
#[component]
fn MaintenanceCard(on_change: Callback<()>) -> impl IntoView {
    let auth = use_auth();
    let name = use_cluster().name;
    let clusters = use_clusters();
    let reason = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let current = move || {
        clusters
            .get()
            .and_then(|r| r.ok())
            .and_then(|list| list.maintenance_of(&name.get()))
    };
    let set = move |enabled: bool| {
        let (cluster, csrf) = (name.get_untracked(), auth.csrf());
        let text = reason.get_untracked().trim().to_string();
        let update = MaintenanceUpdate {
            enabled,
            reason: (enabled && !text.is_empty()).then_some(text),
        };
        busy.set(true);
        error.set(None);
        spawn_owned(async move {
            match crate::api::set_maintenance(&cluster, &update, &csrf).await {
                Ok(_) => {
                    clusters.refetch();
                    on_change.run(());
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card" id="maintenance-card">
            <h2>"Maintenance mode"</h2>
            <p class="subtle">"For a restore or an upgrade: suspends this cluster's schedules and refuses new backups and cleanups. A run already going on finishes."</p>
            {move || error.get().map(|e| view! { <ErrorAlert error=e/> })}
            {move || match current() {
                Some(m) => view! {
                    <p id="maintenance-state" data-on="true">{format!("On since {}, by {}", format_utc(m.since_ms), m.by)}{m.reason.map(|r| format!(": {r}"))}</p>
                    <Show when=move || auth.is_admin()>
                        <button class="btn btn-primary" id="maintenance-end" disabled=move || busy.get() on:click=move |_| set(false)>"End maintenance"</button>
                    </Show>
                }.into_any(),
                None => view! {
                    <p id="maintenance-state" data-on="false">"Off."</p>
                    <Show when=move || auth.is_admin()>
                        <div class="inline-form">
                            <label>
                                <span>"Reason"</span>
                                <input id="maintenance-reason" placeholder="restore of 2026-12-04" prop:value=move || reason.get()
                                    on:input=move |ev| reason.set(event_target_value(&ev))/>
                            </label>
                            <button class="btn" id="maintenance-start" disabled=move || busy.get() on:click=move |_| set(true)>"Start maintenance"</button>
                        </div>
                    </Show>
                }.into_any(),
            }}
        </section>
    }
}
