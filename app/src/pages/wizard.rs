//! The guided backup. Steps 1 and 2 (preflight, then the ID and the plan) happen here; the run
//! itself belongs to the server, so steps 3 and 4 (live progress, then the result) only watch it:
//! closing the tab changes nothing, and opening this page again shows the run where it is.
//! The run being watched is in the URL (`?run=ID`), so a reload or a shared link lands on it.

use crate::router::A;
use crate::router::NavigateOptions;
use crate::router::{use_navigate, use_query_map};
use backup_domain::Component;
use backup_domain::api::Role;
use backup_domain::id::BackupId;
use backup_domain::listing::{format_elapsed, format_utc};
use backup_domain::procedure::validate_backup_id;
use backup_domain::run::{CheckStatus, Preflight, PreflightCheck, RunOutcome, StepState};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::actions::management_run;
use crate::api::{self, ApiError, ManagementAction};
use crate::components::alert::{ErrorAlert, Loading};
use crate::components::confirm::Confirm;
use crate::components::management::ManagementActions;
use crate::components::now_ms;
use crate::state::{Fetched, spawn_owned, use_auth, use_cluster};
use crate::wire::{RunReport, RunView};

#[component]
pub fn Wizard() -> impl IntoView {
    let auth = use_auth();
    let query = use_query_map();
    let run_id = Memo::new(move |_| query.read().get("run").and_then(|r| r.parse::<i64>().ok()));
    let can_run = move || auth.allows(Role::Operator);
    view! {
        <header class="page-head">
            <div>
                <h1>"New backup"</h1>
                <p class="subtle">"The documented procedure, run step by step by the console server"</p>
            </div>
        </header>
        {move || {
            if !can_run() {
                return view! {
                    <div class="alert alert-error" role="alert">
                        <strong>"Not allowed"</strong>
                        <p>"Taking a backup needs the operator or admin role."</p>
                    </div>
                }
                .into_any();
            }
            match run_id.get() {
                Some(id) => view! { <RunWatch run_id=id/> }.into_any(),
                None => view! { <Prepare/> }.into_any(),
            }
        }}
    }
}

/// Where the wizard is, for the step indicator.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Preflight = 1,
    Plan = 2,
    Progress = 3,
    Result = 4,
}

#[component]
fn Stepper(#[prop(into)] stage: Signal<Stage>) -> impl IntoView {
    let steps = [
        (Stage::Preflight, "Preflight"),
        (Stage::Plan, "Backup ID and plan"),
        (Stage::Progress, "Progress"),
        (Stage::Result, "Result"),
    ];
    view! {
        <ol class="stepper" aria-label="Wizard steps">
            {steps
                .into_iter()
                .map(|(s, label)| {
                    let state = move || {
                        let current = stage.get() as u8;
                        if (s as u8) < current {
                            "done"
                        } else if s as u8 == current {
                            "current"
                        } else {
                            "todo"
                        }
                    };
                    view! {
                        <li data-state=state aria-current=move || (stage.get() == s).then_some("step")>
                            <span class="stepper-n">{s as u8}</span>
                            {label}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

/// Steps 1 and 2: nothing has been sent to the cluster yet.
#[component]
fn Prepare() -> impl IntoView {
    let name = use_cluster().name;
    let navigate = use_navigate();
    let preflight = Fetched::new(move || {
        let cluster = name.get_untracked();
        async move { api::preflight(&cluster).await }
    });
    let stage = RwSignal::new(Stage::Preflight);

    // A run already in progress is the one to watch: reopening the wizard lands on it.
    Effect::new(move |_| {
        if let Some(Ok(p)) = preflight.get()
            && let Some(run) = p.running_run
        {
            navigate(
                &format!("/clusters/{}/backup?run={run}", name.get_untracked()),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });

    view! {
        <Stepper stage=stage/>
        {move || match preflight.get() {
            None => view! { <Loading what="preflight checks"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorAlert error=e retry=Callback::new(move |_| preflight.reload())/> }.into_any(),
            Some(Ok(p)) => {
                if stage.get() == Stage::Preflight {
                    view! {
                        <PreflightCard preflight=p on_recheck=Callback::new(move |_| preflight.reload())
                            on_next=Callback::new(move |_| stage.set(Stage::Plan))/>
                    }.into_any()
                } else {
                    view! { <PlanCard preflight=p on_back=Callback::new(move |_| { stage.set(Stage::Preflight); preflight.reload(); })/> }.into_any()
                }
            }
        }}
    }
}

#[component]
fn PreflightCard(
    preflight: Preflight,
    on_recheck: Callback<()>,
    on_next: Callback<()>,
) -> impl IntoView {
    let ready = preflight.ready();
    let failed = preflight
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .count();
    let checks = preflight
        .checks
        .into_iter()
        .map(|c| view! { <CheckRow check=c/> })
        .collect_view();
    view! {
        <section class="card" id="preflight">
            <h2>"1. Preflight checks"</h2>
            <p class="subtle">"Nothing has been sent to the cluster yet. Every check must pass before the backup can start."</p>
            <ul class="checks">{checks}</ul>
            {(!ready).then(|| view! {
                <div class="alert alert-error" role="alert" id="preflight-blocked">
                    <strong>{format!("{failed} check{} failed", if failed == 1 { "" } else { "s" })}</strong>
                    <p>"Fix what is listed above, then check again."</p>
                </div>
            })}
            <div class="actions">
                <button class="btn" id="recheck" on:click=move |_| on_recheck.run(())>"Check again"</button>
                <button class="btn btn-primary" id="to-plan" disabled=!ready on:click=move |_| on_next.run(())>"Next: backup ID"</button>
            </div>
        </section>
    }
}

#[component]
fn CheckRow(check: PreflightCheck) -> impl IntoView {
    let pass = check.status == CheckStatus::Pass;
    view! {
        <li class=if pass { "check check-pass" } else { "check check-fail" } data-status=if pass { "pass" } else { "fail" } data-check=check.id.as_str()>
            <span class="check-mark" aria-hidden="true">{if pass { "✓" } else { "✕" }}</span>
            <div>
                <strong>{check.name}</strong>
                <p class="subtle">{check.detail}</p>
                {check.fix.map(|f| view! { <p class="fix"><strong>"How to fix: "</strong>{f}</p> })}
            </div>
        </li>
    }
}

/// How long the ID field waits after the last keystroke before it asks whether the ID is used.
const USED_CHECK_DEBOUNCE_MS: u64 = 300;

/// Which components already hold `id`, read from the server's detail of that one set (the server
/// checks again at the start). An ID nobody holds answers 404 `backup_not_found`; any other
/// failure leaves the question to the server's own check.
async fn used_by(cluster: &str, id: u64) -> Vec<Component> {
    api::backup_detail(cluster, id)
        .await
        .map(|detail| detail.set.holders())
        .unwrap_or_default()
}

#[component]
fn PlanCard(preflight: Preflight, on_back: Callback<()>) -> impl IntoView {
    let name = use_cluster().name;
    let auth = use_auth();
    let navigate = use_navigate();
    let id_text = RwSignal::new(preflight.proposed_backup_id.to_string());
    let highest = preflight.highest_known_id;
    // Zeebe's own scheduler generates the ID (zeebe_scheduler = true): none is asked for.
    let generated = preflight.zeebe_generates_id;
    let starting = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);

    // Checked before any call, with the same rules the server applies: first what needs no
    // request, then (for an ID that passes) whether a component already holds it.
    let parsed = Memo::new(move |_| -> Result<i64, String> {
        let text = id_text.get();
        let text = text.trim();
        if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
            return Err("a backup ID is a positive whole number, digits only".into());
        }
        let id: i64 = text
            .parse()
            .map_err(|_| "this number is too large for a backup ID".to_string())?;
        validate_backup_id(id, highest, &[])
            .map_err(|p| p.explain())
            .map(|_| id)
    });
    // The latest answer to "who holds this ID?", by ID.
    let used = RwSignal::new(None::<(i64, Vec<Component>)>);
    let used_timer = StoredValue::new(None::<TimeoutHandle>);
    let owner = StoredValue::new(Owner::current().unwrap_or_default());
    Effect::new(move |_| {
        if let Some(t) = used_timer.get_value() {
            t.clear();
        }
        let Ok(id) = parsed.get() else {
            return;
        };
        if used.with_untracked(|u| u.as_ref().is_some_and(|(known, _)| *known == id)) {
            return;
        }
        let handle = set_timeout_with_handle(
            move || {
                used_timer.try_set_value(None);
                let Some(cluster) = name.try_get_untracked() else {
                    return;
                };
                owner.with_value(|o| {
                    o.with(|| {
                        spawn_owned(async move {
                            let holders = used_by(&cluster, id as u64).await;
                            used.try_set(Some((id, holders)));
                        })
                    })
                });
            },
            std::time::Duration::from_millis(USED_CHECK_DEBOUNCE_MS),
        );
        used_timer.set_value(handle.ok());
    });
    on_cleanup(move || {
        if let Some(t) = used_timer.try_get_value().flatten() {
            t.clear();
        }
    });
    // The ID passes every other check and whether it is used is not known yet.
    let checking = Memo::new(move |_| match parsed.get() {
        Ok(id) => used.with(|u| u.as_ref().is_none_or(|(known, _)| *known != id)),
        Err(_) => false,
    });
    let checked = Memo::new(move |_| -> Result<BackupId, String> {
        let id = parsed.get()?;
        let holders = used.with(|u| match u {
            Some((known, holders)) if *known == id => holders.clone(),
            _ => Vec::new(),
        });
        validate_backup_id(id, highest, &holders)
            .map_err(|p| p.explain())
            .and_then(|id| BackupId::new(id).map_err(|e| e.to_string()))
    });

    let start = move |_| {
        let id = if generated {
            None
        } else {
            let Ok(id) = checked.get_untracked() else {
                return;
            };
            if checking.get_untracked() {
                return;
            }
            Some(id)
        };
        let csrf = auth.csrf();
        let cluster = name.get_untracked();
        let navigate = navigate.clone();
        starting.set(true);
        error.set(None);
        spawn_owned(async move {
            match api::start_run(&cluster, id, &csrf).await {
                Ok(started) => navigate(
                    &format!("/clusters/{cluster}/backup?run={}", started.run_id),
                    Default::default(),
                ),
                Err(e) => {
                    error.set(Some(e));
                    starting.set(false);
                }
            }
        });
    };

    // An RDBMS plan has no pause (§9.1).
    let pauses = preflight.steps.iter().any(|s| s.contains("pause"));
    let steps = preflight
        .steps
        .into_iter()
        .map(|s| view! { <li>{s}</li> })
        .collect_view();
    let skipped = (!preflight.skipped.is_empty()).then(|| {
        let items = preflight
            .skipped
            .into_iter()
            .map(|s| view! { <li>{s}</li> })
            .collect_view();
        view! {
            <h3>"Left out"</h3>
            <ul class="plan-skipped" id="plan-skipped">{items}</ul>
        }
    });
    let highest_note = match highest {
        Some(h) => format!("The highest ID this cluster is known to have used is {h}."),
        None => "This cluster has no known backup yet.".to_string(),
    };

    view! {
        <section class="card" id="plan">
            <h2>"2. Backup ID and plan"</h2>
            {generated.then(|| view! {
                <p class="explain" id="backup-id-generated">"Zeebe generates the backup ID on this cluster (its own scheduler is on): the console takes the backup without one, and the run shows the ID once Zeebe answers. Zeebe's IDs are the time in milliseconds."</p>
            })}
            <div hidden=generated>
            <label class="field" for="backup-id">"Backup ID"</label>
            <input id="backup-id" class="mono" inputmode="numeric" autocomplete="off"
                prop:value=move || id_text.get()
                on:input=move |ev| id_text.set(event_target_value(&ev))
                aria-invalid=move || checked.get().is_err().then_some("true")
                aria-describedby="backup-id-help"/>
            {move || checked.get().err().map(|e| view! { <p class="field-error" id="backup-id-error" role="alert">{e}</p> })}
            <div class="explain" id="backup-id-help">
                <p>"Proposed: the current Unix time in seconds, or one above the highest known ID if that is later. "{highest_note}</p>
                <p>"Zeebe only accepts an ID greater than every ID it has ever used, including deleted backups, and the web apps and Optimize refuse an ID they already hold. An ID can therefore never be reused: a failed or cancelled run spends its ID, and the next run gets a new one."</p>
            </div>
            </div>
            <h3>"What will happen, in this order"</h3>
            <ol class="plan-steps" id="plan-steps">{steps}</ol>
            {skipped}
            {pauses.then(|| view! {
                <p class="subtle">"Exporting stays soft-paused only between the pause and the resume: records keep flowing, but brokers cannot compact their logs. The console resumes exporting whatever happens."</p>
            })}
            {move || error.get().map(|e| view! { <ErrorAlert error=e/> })}
            <div class="actions">
                <button class="btn" id="back" on:click=move |_| on_back.run(())>"Back"</button>
                <button class="btn btn-primary" id="start-backup"
                    disabled=move || (!generated && (checked.get().is_err() || checking.get())) || starting.get()
                    on:click=start>
                    {move || if starting.get() { "Starting…" } else { "Start backup" }}
                </button>
            </div>
        </section>
    }
}

/// The open `EventSource` and its listeners; dropping it closes the stream.
struct LiveStream {
    source: web_sys::EventSource,
    _on_report: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// Steps 3 and 4: a run on the server, streamed live until it ends.
#[component]
fn RunWatch(run_id: i64) -> impl IntoView {
    let cluster = use_cluster();
    let name = cluster.name;
    let auth = use_auth();
    let navigate = use_navigate();
    let meta = Fetched::new(move || api::run(run_id));
    let report = RwSignal::new(None::<RunReport>);
    let stream_trouble = RwSignal::new(false);
    let now = RwSignal::new(now_ms());
    let stream = StoredValue::new_local(None::<LiveStream>);

    // The first answer fills the page even if the stream is slow to open.
    Effect::new(move |_| {
        if let Some(Ok(view)) = meta.get()
            && report.with_untracked(Option::is_none)
        {
            report.set(Some(view.report));
        }
    });

    let open = move || -> Result<(), wasm_bindgen::JsValue> {
        let source = web_sys::EventSource::new(&api::run_events_url(run_id))?;
        let on_report = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let Some(data) = event.data().as_string() else {
                    return;
                };
                if let Ok(next) = serde_json::from_str::<RunReport>(&data) {
                    let finished = next.outcome.is_finished();
                    stream_trouble.set(false);
                    report.set(Some(next));
                    if finished {
                        // Otherwise the browser reconnects to a stream that has nothing more to say.
                        stream.update_value(|s| *s = None);
                        cluster.history_changed();
                    }
                }
            },
        );
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            // The browser reconnects by itself; say so rather than freeze silently.
            if report.with_untracked(|r| r.as_ref().is_none_or(|r| !r.outcome.is_finished())) {
                stream_trouble.set(true);
                meta.reload();
            }
        });
        source.add_event_listener_with_callback("report", on_report.as_ref().unchecked_ref())?;
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        stream.set_value(Some(LiveStream {
            source,
            _on_report: on_report,
            _on_error: on_error,
        }));
        Ok(())
    };
    if open().is_err() {
        stream_trouble.set(true);
    }
    let ticker = set_interval_with_handle(
        move || now.set(now_ms()),
        std::time::Duration::from_millis(100),
    )
    .ok();
    on_cleanup(move || {
        if let Some(t) = ticker {
            t.clear();
        }
    });

    let stage = Signal::derive(move || {
        if report.with(|r| r.as_ref().is_some_and(|r| r.outcome.is_finished())) {
            Stage::Result
        } else {
            Stage::Progress
        }
    });
    let resume = management_run(None);
    let confirm_cancel = RwSignal::new(false);
    let cancelling = RwSignal::new(false);
    let cancel_error = RwSignal::new(None::<ApiError>);
    let cancel = Callback::new(move |()| {
        let csrf = auth.csrf();
        cancelling.set(true);
        cancel_error.set(None);
        spawn_owned(async move {
            if let Err(e) = api::cancel_run(run_id, &csrf).await {
                cancel_error.set(Some(e));
                cancelling.set(false);
            }
            confirm_cancel.set(false);
        });
    });
    let another = move |_| {
        navigate(
            &format!("/clusters/{}/backup", name.get_untracked()),
            Default::default(),
        )
    };

    view! {
        <Stepper stage=stage/>
        {move || match (meta.get(), report.get()) {
            (Some(Err(e)), None) => view! { <ErrorAlert error=e retry=Callback::new(move |_| meta.reload())/> }.into_any(),
            (_, None) => view! { <Loading what="the backup run"/> }.into_any(),
            (m, Some(r)) => {
                let run = m.and_then(|m| m.ok());
                view! { <RunHeader run_id=run_id run=run report=r.clone() now=now resume_run=resume/> }.into_any()
            }
        }}
        <Show when=move || stream_trouble.get() && stage.get() == Stage::Progress>
            <p class="unknown" id="stream-trouble">"The live connection to the console server was interrupted; reconnecting. The run goes on on the server either way."</p>
        </Show>
        {move || report.get().map(|r| view! { <StepTable report=r now=now/> })}
        <Show when=move || stage.get() == Stage::Progress>
            <div class="actions" id="run-controls">
                <button class="btn" id="cancel-run" disabled=move || cancelling.get() on:click=move |_| confirm_cancel.set(true)>
                    {move || if cancelling.get() { "Cancelling…" } else { "Cancel" }}
                </button>
                <Confirm
                    open=confirm_cancel
                    title="Cancel this backup?".to_string()
                    confirm_label="Cancel the backup".to_string()
                    confirm_id="confirm-cancel"
                    cancel_label="Keep running"
                    disabled=cancelling
                    on_confirm=cancel
                    on_cancel=Callback::new(move |()| confirm_cancel.set(false))
                >
                    <p>"The run stops after the request in flight, and exporting is resumed if it was paused. The backup ID is spent."</p>
                </Confirm>
            </div>
            {move || cancel_error.get().map(|e| view! { <ErrorAlert error=e/> })}
        </Show>
        <Show when=move || stage.get() == Stage::Result>
            <div class="actions" id="result-actions">
                <a class="btn" id="download-script" href=api::run_script_url(run_id) download="" title="The run's requests as a bash script with real waits; needs curl and jq, takes BACKUP_ID and CAMUNDA_AUTH_HEADER from the environment">"Download the runnable script (bash)"</a>
                <button class="btn" id="another" on:click=another.clone()>"Start another backup"</button>
            </div>
        </Show>
    }
}

/// The run's identity, its outcome once it has one, and the pause counter.
#[component]
fn RunHeader(
    run_id: i64,
    run: Option<RunView>,
    report: RunReport,
    now: RwSignal<i64>,
    resume_run: crate::actions::ManagementRun,
) -> impl IntoView {
    let name = use_cluster().name;
    let backup_id = report.backup_id;
    let started = run.as_ref().map(|r| {
        format!(
            "started by {} ({}) at {}",
            r.started_by,
            r.trigger,
            format_utc(r.started_ms)
        )
    });
    let paused_now = report.exporting_paused() && !report.outcome.is_finished();
    let pause_report = report.clone();
    let pause_label = match (report.paused_ms, report.resumed_ms) {
        (None, _) => "Exporting",
        (Some(_), Some(_)) => "Exporting was soft-paused for",
        (Some(_), None) => "Exporting soft-paused for",
    };
    let pause = move || {
        pause_report
            .pause_window_ms(now.get())
            .map(format_elapsed)
            .unwrap_or_else(|| "not paused".into())
    };
    let history_link = format!("/clusters/{}/backups?id={backup_id}", name.get_untracked());
    // One alert for every outcome: (class, title, text, history link, offer a resume).
    let spent = "The ID is spent: the next backup gets a new one.";
    let (class, title, text, link, resume) = match report.outcome.clone() {
        RunOutcome::Running => ("", String::new(), String::new(), None, false),
        RunOutcome::Completed => (
            "alert alert-success",
            format!("Backup {backup_id} completed"),
            "Every component finished its part and exporting was resumed.".to_string(),
            Some("See the new set in the history"),
            false,
        ),
        RunOutcome::Failed { step, reason } => (
            "alert alert-error",
            format!("Backup {backup_id} failed at: {step}"),
            format!("{reason} {} {spent}", resumed_note(&report)),
            Some("See what was left in the history"),
            false,
        ),
        RunOutcome::Cancelled { step, by } => (
            "alert alert-alarm",
            format!("Backup {backup_id} cancelled by {by} during: {step}"),
            format!("{} {spent}", resumed_note(&report)),
            None,
            false,
        ),
        RunOutcome::ExportingStillPaused { reason } => (
            "alert alert-alarm",
            "Exporting may still be paused".to_string(),
            format!("{reason} Brokers cannot compact their logs while it is: resume it now."),
            None,
            true,
        ),
        RunOutcome::Interrupted { reason } => (
            "alert alert-alarm",
            format!("Backup {backup_id} was interrupted"),
            format!("{reason} {spent}"),
            None,
            false,
        ),
    };
    let outcome = report.outcome.is_finished().then(|| {
        view! {
            <div class=class role="alert" id="run-outcome" data-outcome=report.outcome.state().to_string()>
                <strong>{title}</strong>
                <p>{text}" "{link.map(|l| view! { <A href=history_link.clone()>{l}</A> })}</p>
                {resume.then(|| view! { <ManagementActions actions=vec![ManagementAction::Resume] run=resume_run/> })}
            </div>
        }
    });
    view! {
        {outcome}
        <div class="stats">
            <div class="stat">
                <span class="stat-label">"Backup ID"</span>
                // 0 until the run learns the ID Zeebe generates (zeebe_scheduler).
                <span class="stat-value mono" id="run-backup-id">{if backup_id == 0 { "generated by Zeebe".to_string() } else { backup_id.to_string() }}</span>
                <span class="stat-note">{format!("run {run_id}")}{started.map(|s| format!(", {s}"))}</span>
            </div>
            <div class=if paused_now { "stat stat-warn" } else { "stat" } id="pause-counter">
                <span class="stat-label">{pause_label}</span>
                <span class="stat-value mono">{pause}</span>
                <span class="stat-note">{if paused_now { "Brokers cannot compact their logs until it is resumed" } else { "Paused only between the pause and resume steps" }}</span>
            </div>
        </div>
    }
}

fn resumed_note(report: &RunReport) -> &'static str {
    match (report.paused_ms, report.resumed_ms) {
        (None, _) => "Exporting was never paused.",
        (Some(_), Some(_)) => "Exporting was resumed.",
        (Some(_), None) => "Exporting may still be paused.",
    }
}

#[component]
fn StepTable(report: RunReport, now: RwSignal<i64>) -> impl IntoView {
    let rows = report
        .steps
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let (class, label) = match s.state {
                StepState::Pending => ("badge state-unknown", "waiting"),
                StepState::Running => ("badge state-in-progress", "running"),
                StepState::Done => ("badge state-completed", "done"),
                StepState::Failed => ("badge state-failed", "failed"),
                StepState::NotRun => ("badge state-missing", "not run"),
            };
            let elapsed = move || {
                s.started_ms
                    .map(|start| format_elapsed(s.ended_ms.unwrap_or_else(|| now.get()) - start))
            };
            view! {
                <tr data-state=label>
                    <td class="nowrap">{i + 1}</td>
                    <td>{s.description}</td>
                    <td><span class=class>{label}</span></td>
                    <td class="nowrap mono">{elapsed}</td>
                    <td class="why">{s.detail}</td>
                </tr>
            }
        })
        .collect_view();
    let skipped = report.skipped;
    view! {
        <section class="card">
            <h2>"Steps"</h2>
            <div class="table-scroll">
                <table class="table" id="run-steps">
                    <thead><tr><th>"#"</th><th>"Step"</th><th>"State"</th><th>"Elapsed"</th><th>"Progress"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {(!skipped.is_empty()).then(|| view! {
                <p class="subtle">"Left out: "{skipped.join("; ")}</p>
            })}
        </section>
    }
}
