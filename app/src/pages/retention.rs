//! Retention: the policy, a live preview of exactly what it deletes (computed here with the same
//! planner the server runs before deleting), orphans to pick, a typed confirmation, then the
//! cleanup's result per artifact with "retry failed". The cleanup being watched is in the URL
//! (`?cleanup=ID`).

use std::collections::BTreeSet;

use backup_domain::BackupSet;
use backup_domain::api::HistoryResponse;
use backup_domain::cron::Schedule;
use backup_domain::listing::{format_age, format_utc};
use backup_domain::retention::{
    self as planner, ArtifactState, CleanupRequest, CleanupView, Decision, PolicySource,
    RetentionPlan, RetentionPolicy, RetentionState, SetDecision,
};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::actions::{cleanup_href, start_cleanup};
use crate::api::{self, ApiError};
use crate::components::alert::{ErrorAlert, Loading};
use crate::components::badge::VerdictBadge;
use crate::components::now_ms;
use crate::state::{Fetched, Loaded, spawn_owned, use_auth, use_cluster};

#[component]
pub fn Retention() -> impl IntoView {
    let query = use_query_map();
    let cleanup = Memo::new(move |_| {
        query
            .read()
            .get("cleanup")
            .and_then(|c| c.parse::<i64>().ok())
    });
    view! {
        <header class="page-head">
            <div>
                <h1>"Retention"</h1>
                <p class="subtle">"Which backup sets to keep, and deleting the rest in every component"</p>
            </div>
        </header>
        {move || match cleanup.get() {
            Some(id) => view! { <CleanupProgress cleanup_id=id/> }.into_any(),
            None => view! { <PolicyAndPreview/> }.into_any(),
        }}
    }
}

/// The form's text fields; a number field left empty means "no limit".
#[derive(Clone, PartialEq, Eq)]
struct PolicyForm {
    keep_last: String,
    max_age_days: String,
    min_restorable: String,
    keep_failed: String,
    schedule: String,
}

impl PolicyForm {
    fn from(p: &RetentionPolicy) -> Self {
        let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        PolicyForm {
            keep_last: opt(p.keep_last),
            max_age_days: opt(p.max_age_days),
            min_restorable: p.min_restorable.to_string(),
            keep_failed: p.keep_failed.to_string(),
            schedule: p.schedule.clone().unwrap_or_default(),
        }
    }

    /// The policy it describes, or what is wrong with it.
    fn policy(&self) -> Result<RetentionPolicy, String> {
        let number = |text: &str, name: &str| -> Result<Option<u32>, String> {
            let t = text.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<u32>()
                .map(Some)
                .map_err(|_| format!("{name}: a whole number, or empty"))
        };
        let policy = RetentionPolicy {
            keep_last: number(&self.keep_last, "keep the last")?,
            max_age_days: number(&self.max_age_days, "older than")?,
            min_restorable: number(&self.min_restorable, "always keep at least")?.unwrap_or(1),
            keep_failed: number(&self.keep_failed, "failed sets kept")?.unwrap_or(0),
            schedule: Some(self.schedule.trim().to_string()).filter(|s| !s.is_empty()),
        };
        policy.validate().map_err(|e| e.to_string())?;
        Ok(policy)
    }
}

#[component]
fn PolicyAndPreview() -> impl IntoView {
    let cluster = use_cluster();
    let name = cluster.name;
    // Every set, for the preview computed here (the page's own read: no other page loads them
    // all), and again after a cleanup or a run changed them.
    let history: Loaded<HistoryResponse> = LocalResource::new(move || {
        let c = name.get();
        cluster.track_history();
        async move { api::history(&c).await }
    });
    let state = Fetched::new(move || {
        let cluster = name.get_untracked();
        async move { api::retention_state(&cluster).await }
    });
    view! {
        {move || match (state.get(), history.get()) {
            (Some(Err(e)), _) => view! { <ErrorAlert error=e retry=Callback::new(move |_| state.reload())/> }.into_any(),
            (_, Some(Err(e))) => view! { <ErrorAlert error=e retry=Callback::new(move |_| history.refetch())/> }.into_any(),
            (Some(Ok(s)), Some(Ok(h))) => view! { <Editor state=s history=h on_saved=Callback::new(move |_| state.reload())/> }.into_any(),
            _ => view! { <Loading what="the retention policy and the history"/> }.into_any(),
        }}
    }
}

#[component]
fn Editor(
    state: RetentionState,
    history: HistoryResponse,
    on_saved: Callback<()>,
) -> impl IntoView {
    let name = use_cluster().name;
    let auth = use_auth();
    let navigate = use_navigate();
    let is_admin = move || auth.is_admin();
    let saved_form = PolicyForm::from(&state.policy);
    let form = RwSignal::new(saved_form.clone());
    let protections = state.protections();
    let sets = StoredValue::new(history.sets.clone());
    let unknown_components = !history.component_errors.is_empty();
    let now = now_ms();

    let parsed = Memo::new(move |_| form.with(PolicyForm::policy));
    let plan = Memo::new(move |_| {
        parsed
            .get()
            .ok()
            .map(|policy| sets.with_value(|sets| planner::plan(sets, &policy, &protections, now)))
    });
    // With nothing configured the form holds a starting policy: it must be saved to count.
    let configured = state.is_configured();
    let dirty = {
        let saved_form = saved_form.clone();
        Memo::new(move |_| !configured || form.with(|f| *f != saved_form))
    };
    let picked = RwSignal::new(BTreeSet::<u64>::new());
    let typed = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);

    let save = move |_| {
        let Ok(policy) = parsed.get_untracked() else {
            return;
        };
        let (cluster, csrf) = (name.get_untracked(), auth.csrf());
        busy.set(true);
        error.set(None);
        spawn_owned(async move {
            match api::save_policy(&cluster, &policy, &csrf).await {
                Ok(_) => on_saved.run(()),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let to_delete = move || plan.get().map(|p| p.to_delete()).unwrap_or_default();
    let count = move || to_delete().len() + picked.with(BTreeSet::len);
    let delete = Callback::new(move |_: ()| {
        let request = CleanupRequest {
            delete: to_delete(),
            selected: picked.get_untracked().into_iter().collect(),
            confirm: typed.get_untracked().trim().parse().unwrap_or(0),
            // The warning is on screen beside the button whenever there is one.
            acknowledge_warning: plan
                .get_untracked()
                .and_then(|p| sets.with_value(|s| planner::unattended_refusal(s, &p)))
                .is_some(),
        };
        busy.set(true);
        start_cleanup(
            name.get_untracked(),
            request,
            auth.csrf(),
            navigate.clone(),
            error,
            busy,
        );
    });

    let source = match &state.source {
        PolicySource::Default => "No retention policy is configured: nothing is deleted. The values below are a starting policy; review them and save to put it in force.".to_string(),
        PolicySource::ConfigFile => "from the configuration file".to_string(),
        PolicySource::Saved { by, at_ms } => format!("saved by {by} at {}", format_utc(*at_ms)),
    };
    // A file policy with a schedule waits for an admin to confirm it in this database.
    let needs_confirmation = state.source == PolicySource::ConfigFile
        && state.policy.schedule.is_some()
        && !state.is_confirmed();
    let in_force = state.policy.clone();
    let confirm = move |_| {
        let (cluster, csrf, policy) = (name.get_untracked(), auth.csrf(), in_force.clone());
        busy.set(true);
        error.set(None);
        spawn_owned(async move {
            match api::confirm_policy(&cluster, &policy, &csrf).await {
                Ok(_) => on_saved.run(()),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let held = needs_confirmation.then(|| view! {
        <div class="alert alert-alarm" id="schedule-held" role="status">
            <strong>"The schedule is held"</strong>
            <p>"This policy comes from the configuration file and has not been confirmed in this console's database, so its schedule does not run. Review it and the preview below, then confirm it."</p>
            <Show when=is_admin>
                <button class="btn" id="confirm-policy" disabled=move || busy.get() on:click=confirm.clone()>"Confirm this policy"</button>
            </Show>
        </div>
    });
    let refusal = state.schedule_refusal.clone().map(|r| view! {
        <div class="alert alert-alarm" id="schedule-refusal" role="status">
            <strong>{format!("The scheduled cleanup of {} refused to run", format_utc(r.at_ms))}</strong>
            <p>{r.reason}</p>
        </div>
    });
    let last = state.last_cleanup.clone().map(|c| {
        let href = format!("/clusters/{}/retention?cleanup={}", c.cluster, c.id);
        let text = format!(
            "Last cleanup: {} by {} at {}, {} sets. ",
            c.report.outcome.state_name(),
            c.started_by,
            format_utc(c.started_ms),
            c.report.sets.len()
        );
        view! { <p class="subtle" id="last-cleanup">{text}<A href=href>"Details"</A></p> }
    });
    let field = move |label: &'static str,
                      id: &'static str,
                      hint: &'static str,
                      get: fn(&PolicyForm) -> String,
                      set: fn(&mut PolicyForm, String)| {
        view! {
            <label class="policy-field">
                <span>{label}</span>
                <input id=id prop:value=move || form.with(get) disabled=move || !is_admin()
                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| set(f, v)); picked.set(BTreeSet::new()); }/>
                <small>{hint}</small>
            </label>
        }
    };
    let next_run = move || {
        let text = form.with(|f| f.schedule.trim().to_string());
        if text.is_empty() {
            return "Not scheduled: cleanups run only from here or the CLI.".to_string();
        }
        match Schedule::parse(&text) {
            Ok(s) => match s.next_after(now_ms()) {
                Some(next) => format!("Next scheduled run: {} (UTC)", format_utc(next)),
                None => "This schedule never matches a real date.".into(),
            },
            Err(e) => e.to_string(),
        }
    };

    view! {
        <section class="card" id="policy">
            <h2>"Policy"</h2>
            <p class="subtle" id="policy-source">{source}</p>
            <div class="policy-grid">
                {field("Keep the last", "keep-last", "restorable sets; empty: no count limit", |f| f.keep_last.clone(), |f, v| f.keep_last = v)}
                {field("Delete sets older than", "max-age-days", "days; empty: no age limit", |f| f.max_age_days.clone(), |f, v| f.max_age_days = v)}
                {field("Always keep at least", "min-restorable", "restorable sets, 1 at the least", |f| f.min_restorable.clone(), |f, v| f.min_restorable = v)}
                {field("Keep failed or incomplete", "keep-failed", "newest, for diagnosis", |f| f.keep_failed.clone(), |f, v| f.keep_failed = v)}
                {field("Schedule (cron, UTC)", "schedule", "e.g. 0 3 * * *; empty: off", |f| f.schedule.clone(), |f, v| f.schedule = v)}
            </div>
            <p class="subtle" id="next-run">{next_run}</p>
            <p class="explain">"A restorable set is deleted only when every rule you set lets it go. Partially restorable sets (Zeebe completed, some component has nothing under the ID) follow the same rules and floor, never the rule for failed sets. Never deleted: the newest restorable set, the newest partially restorable set, pinned sets, sets in progress or being taken, and sets whose state is unknown. Orphans (Zeebe has nothing under the ID) go only when you tick them."</p>
            {move || parsed.get().err().map(|e| view! { <p class="field-error" id="policy-error" role="alert">{e}</p> })}
            <Show when=is_admin>
                <div class="actions">
                    <button class="btn btn-primary" id="save-policy" disabled=move || !dirty.get() || parsed.get().is_err() || busy.get() on:click=save>"Save policy"</button>
                </div>
            </Show>
            {last}
        </section>
        {held}
        {refusal}
        {unknown_components.then(|| view! {
            <div class="alert alert-alarm" role="alert">
                <strong>"Some components did not answer"</strong>
                <p>"Sets whose state is unknown are kept, and their artifacts in the silent component cannot be deleted now."</p>
            </div>
        })}
        {move || plan.get().map(|p| view! { <Preview plan=p sets=sets picked=picked in_force=!dirty.get()/> })}
        <Show when=is_admin>
            <section class="card" id="confirm-cleanup">
                <h2>"Delete"</h2>
                {move || {
                    let n = count();
                    // What a schedule would refuse, an admin sees before confirming.
                    let warning = plan.get().and_then(|p| sets.with_value(|s| planner::unattended_refusal(s, &p)));
                    let warning = warning.filter(|_| n > 0).map(|w| view! {
                        <div class="alert alert-alarm" id="cleanup-warning" role="alert">
                            <strong>"Check this plan before you confirm it"</strong>
                            <p>{format!("A scheduled cleanup would refuse it: {w}.")}</p>
                        </div>
                    });
                    if dirty.get() {
                        view! { <p class="subtle">"Save the policy first: the server deletes what the saved policy plans."</p> }.into_any()
                    } else if n == 0 {
                        view! { <p class="subtle" id="nothing-to-delete">"Nothing to delete."</p> }.into_any()
                    } else {
                        view! {
                            {warning}
                            <p>{format!("This deletes {n} backup set{} in every component that holds them. It cannot be undone. Type {n} to confirm.", if n == 1 { "" } else { "s" })}</p>
                            <div class="actions">
                                <input id="confirm-count" inputmode="numeric" autocomplete="off" prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev))/>
                                <button class="btn btn-danger" id="delete-sets"
                                    disabled=move || busy.get() || typed.get().trim() != count().to_string()
                                    on:click=move |_| delete.run(())>{format!("Delete {n} set{}", if n == 1 { "" } else { "s" })}</button>
                            </div>
                        }.into_any()
                    }
                }}
            </section>
        </Show>
        {move || error.get().map(|e| view! { <ErrorAlert error=e/> })}
    }
}

/// What the plan deletes, artifact by artifact; the orphans to pick; what it keeps and why.
#[component]
fn Preview(
    plan: RetentionPlan,
    sets: StoredValue<Vec<BackupSet>>,
    picked: RwSignal<BTreeSet<u64>>,
    /// False while the previewed policy is not the one in force (edited, or nothing configured).
    in_force: bool,
) -> impl IntoView {
    let now = now_ms();
    let orphans: BTreeSet<u64> = plan.selectable_orphans().into_iter().collect();
    let n_delete = plan.to_delete().len();
    let n_keep = plan.decisions.len() - n_delete;
    // One row shape for the three tables: a tick box for orphans, artifacts where they go.
    let rows = |which: fn(&SetDecision, &BTreeSet<u64>) -> bool, pick: bool, artifacts: bool| {
        plan.decisions
            .iter()
            .filter(|d| which(d, &orphans))
            .map(|d| {
                let id = d.backup_id;
                let age = d
                    .started_at_ms
                    .map(|t| format!("{} ago", format_age((now - t) / 1000)))
                    .unwrap_or_else(|| "-".into());
                let listed = artifacts.then(|| {
                    let items = sets
                        .with_value(|s| s.iter().find(|s| s.backup_id == id).map(planner::artifacts))
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| format!("{}: {}", a.component.label(), a.description))
                        .collect::<Vec<_>>();
                    view! { <td><ul class="artifacts">{items.into_iter().map(|i| view! { <li>{i}</li> }).collect_view()}</ul></td> }
                });
                let tick = pick.then(|| view! {
                    <td><input type="checkbox" class="pick-orphan" value=id
                        prop:checked=move || picked.with(|p| p.contains(&id))
                        on:change=move |_| picked.update(|p| if !p.remove(&id) { p.insert(id); })/></td>
                });
                view! {
                    <tr data-backup-id=id>
                        {tick}
                        <td class="mono">{id}</td>
                        <td class="nowrap">{age}</td>
                        <td><VerdictBadge verdict=d.verdict/></td>
                        <td class="why">{d.reason.clone()}</td>
                        {listed}
                    </tr>
                }
            })
            .collect_view()
    };
    let summary = summarize(&plan);
    let delete_rows = rows(|d, _| d.decision == Decision::Delete, false, true);
    let orphan_rows = rows(|d, o| o.contains(&d.backup_id), true, true);
    let keep_rows = rows(|d, _| d.decision == Decision::Keep, false, false);
    let head = |tick: bool, artifacts: Option<&'static str>| {
        view! {
            <thead><tr>
                {tick.then(|| view! { <th></th> })}
                <th>"Backup ID"</th><th>"Age"</th><th>"Verdict"</th><th>"Why"</th>
                {artifacts.map(|a| view! { <th>{a}</th> })}
            </tr></thead>
        }
    };
    view! {
        <section class="card" id="preview">
            <h2>{move || {
                // Ticked orphans count as deleted, so the heading and the button agree.
                let ticked = picked.with(BTreeSet::len);
                let what = if in_force { "Preview" } else { "Preview of this policy, not in force yet" };
                format!("{what}: {} to delete, {} kept", n_delete + ticked, n_keep.saturating_sub(ticked))
            }}</h2>
            <p class="subtle" class:hidden=move || n_delete != 0>"The policy deletes nothing now."</p>
            <p id="preview-summary" class:hidden=move || n_delete == 0>{summary}</p>
            <div class="table-scroll" class:hidden=move || n_delete == 0>
                <table class="table" id="preview-delete">{head(false, Some("Artifacts deleted"))}<tbody>{delete_rows}</tbody></table>
            </div>
            <div class:hidden=orphans.is_empty()>
                <h3>"Orphans"</h3>
                <p class="subtle">"Sets whose ID some components lack: the policy keeps them, tick those to delete as well."</p>
                <div class="table-scroll">
                    <table class="table" id="preview-orphans">{head(true, Some("Artifacts"))}<tbody>{orphan_rows}</tbody></table>
                </div>
            </div>
            <details>
                <summary>{format!("Kept ({n_keep})")}</summary>
                <div class="table-scroll">
                    <table class="table compact" id="preview-keep">{head(false, None)}<tbody>{keep_rows}</tbody></table>
                </div>
            </details>
        </section>
    }
}

/// One sentence over the whole plan: how many of each verdict go, their dates, the oldest kept.
fn summarize(plan: &RetentionPlan) -> String {
    use backup_domain::Verdict;
    let deleted: Vec<&SetDecision> = plan
        .decisions
        .iter()
        .filter(|d| d.decision == Decision::Delete)
        .collect();
    let by_verdict: Vec<String> = Verdict::ALL
        .into_iter()
        .filter_map(|v| {
            let n = deleted.iter().filter(|d| d.verdict == v).count();
            (n > 0).then(|| format!("{n} {}", v.label()))
        })
        .collect();
    let dates = {
        let times: Vec<i64> = deleted.iter().filter_map(|d| d.started_at_ms).collect();
        match (times.iter().min(), times.iter().max()) {
            (Some(a), Some(b)) => format!(", taken {} to {}", format_utc(*a), format_utc(*b)),
            _ => String::new(),
        }
    };
    let kept: Vec<&SetDecision> = plan
        .decisions
        .iter()
        .filter(|d| d.decision == Decision::Keep)
        .collect();
    let oldest_kept = kept
        .iter()
        .filter(|d| matches!(d.verdict, Verdict::Restorable | Verdict::RestorablePartial))
        .min_by_key(|d| d.backup_id)
        .map(|d| format!("; the oldest restorable set kept is {}", d.backup_id))
        .unwrap_or_default();
    format!(
        "Deletes {} sets ({}){dates}. Keeps {}{oldest_kept}.",
        deleted.len(),
        by_verdict.join(", "),
        kept.len()
    )
}

/// A cleanup on the server, polled until it ends; "retry failed" starts a new one.
#[component]
fn CleanupProgress(cleanup_id: i64) -> impl IntoView {
    let cluster = use_cluster();
    let name = cluster.name;
    let auth = use_auth();
    let navigate = use_navigate();
    let view_signal = RwSignal::new(None::<Result<CleanupView, ApiError>>);
    // Leaving the page stops the polling, and aborts the read in flight.
    spawn_owned(async move {
        loop {
            let answer = api::cleanup(cleanup_id).await;
            let done = answer
                .as_ref()
                .map(|v| v.report.outcome.state_name() != "running")
                .unwrap_or(true);
            view_signal.set(Some(answer));
            if done {
                cluster.history_changed();
                return;
            }
            gloo_timers::future::TimeoutFuture::new(400).await;
        }
    });
    let error = RwSignal::new(None::<ApiError>);
    let retry = move |_| {
        let csrf = auth.csrf();
        let navigate = navigate.clone();
        let cluster = name.get_untracked();
        spawn_owned(async move {
            match api::retry_cleanup(cleanup_id, &csrf).await {
                Ok(started) => navigate(
                    &cleanup_href(&cluster, started.cleanup_id),
                    Default::default(),
                ),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let is_admin = move || auth.is_admin();
    view! {
        <p><A href=move || format!("/clusters/{}/retention", name.get())>"Back to the policy"</A></p>
        {move || match view_signal.get() {
            None => view! { <Loading what="the cleanup"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorAlert error=e/> }.into_any(),
            Some(Ok(v)) => {
                let r = &v.report;
                let outcome = r.outcome.state_name();
                let summary = format!(
                    "{} sets, {} artifacts: {} deleted, {} already gone, {} failed, {} pending",
                    r.sets.len(),
                    r.items.len(),
                    r.count(ArtifactState::Deleted),
                    r.count(ArtifactState::AlreadyGone),
                    r.count(ArtifactState::Failed),
                    r.count(ArtifactState::Pending),
                );
                let can_retry = matches!(outcome, "partial" | "interrupted");
                let rows = r.items.iter().map(|i| {
                    let (class, label) = match i.state {
                        ArtifactState::Pending => ("badge state-in-progress", "pending"),
                        ArtifactState::Deleted => ("badge state-completed", "deleted"),
                        ArtifactState::AlreadyGone => ("badge state-completed", "already gone"),
                        ArtifactState::Failed => ("badge state-failed", "failed"),
                    };
                    view! {
                        <tr data-state=label>
                            <td class="mono">{i.artifact.backup_id}</td>
                            <td>{i.artifact.component.label()}</td>
                            <td>{i.artifact.description.clone()}</td>
                            <td><span class=class>{label}</span></td>
                            <td class="why">{i.error.clone().unwrap_or_default()}</td>
                        </tr>
                    }
                }).collect_view();
                view! {
                    <section class="card" id="cleanup" data-outcome=outcome>
                        <h2>{format!("Cleanup {}: {outcome}", v.id)}</h2>
                        <p class="subtle">{format!("Started by {} at {}", v.started_by, format_utc(v.started_ms))}</p>
                        <p id="cleanup-summary">{summary}</p>
                        {(can_retry && is_admin()).then(|| view! {
                            <div class="actions"><button class="btn btn-primary" id="retry-failed" on:click=retry.clone()>"Retry failed"</button></div>
                        })}
                        <div class="table-scroll">
                            <table class="table compact" id="cleanup-items">
                                <thead><tr><th>"Backup ID"</th><th>"Component"</th><th>"Artifact"</th><th>"Result"</th><th>"Error"</th></tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                        </div>
                    </section>
                }.into_any()
            }
        }}
        {move || error.get().map(|e| view! { <ErrorAlert error=e/> })}
    }
}
