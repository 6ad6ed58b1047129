//! Retention: the policy, a live preview of exactly what it deletes (the server plans the draft
//! over its catalog, as it does before deleting, and answers a page of it), orphans to pick, a
//! typed confirmation, then the cleanup's result per artifact with "retry failed". The cleanup
//! being watched is in the URL (`?cleanup=ID`).

use std::collections::BTreeSet;

use crate::router::A;
use crate::router::{use_navigate, use_query_map};
use backup_domain::cron::Schedule;
use backup_domain::listing::{format_age, format_utc};
use backup_domain::retention::{
    ArtifactState, CleanupRequest, CleanupView, Decision, PolicySource, PreviewDecision,
    PreviewFilter, PreviewRequest, RetentionPolicy, RetentionPreview, RetentionState,
};
use leptos::prelude::*;

use crate::actions::{cleanup_href, start_cleanup};
use crate::api::{self, ApiError};
use crate::components::alert::{ErrorAlert, Loading};
use crate::components::badge::VerdictBadge;
use crate::components::freshness::HistoryFreshness;
use crate::components::now_ms;
use crate::state::{Fetched, spawn_owned, use_auth, use_cluster};

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
    let name = use_cluster().name;
    let state = Fetched::new(move || {
        let cluster = name.get_untracked();
        async move { api::retention_state(&cluster).await }
    });
    view! {
        {move || match state.get() {
            Some(Err(e)) => view! { <ErrorAlert error=e retry=Callback::new(move |_| state.reload())/> }.into_any(),
            Some(Ok(s)) => view! { <Editor state=s on_saved=Callback::new(move |_| state.reload())/> }.into_any(),
            None => view! { <Loading what="the retention policy"/> }.into_any(),
        }}
    }
}

/// How long the preview waits after the last edit of the form before it asks the server.
const PREVIEW_DEBOUNCE_MS: u64 = 300;
/// Decisions per page of the preview's table.
const PREVIEW_PER_PAGE: usize = 50;

/// What the preview asks the server: the draft (`None`: the policy in force), a page, a filter.
#[derive(Debug, Clone, PartialEq)]
struct Wanted {
    draft: Option<RetentionPolicy>,
    page: usize,
    show: PreviewFilter,
}

/// The server's answer, with the question it answers.
#[derive(Debug, Clone, PartialEq)]
struct Shown {
    asked: Wanted,
    preview: RetentionPreview,
}

#[component]
fn Editor(state: RetentionState, on_saved: Callback<()>) -> impl IntoView {
    let cluster = use_cluster();
    let name = cluster.name;
    let auth = use_auth();
    let navigate = use_navigate();
    let is_admin = move || auth.is_admin();
    let saved_form = PolicyForm::from(&state.policy);
    let form = RwSignal::new(saved_form.clone());

    let parsed = Memo::new(move |_| form.with(PolicyForm::policy));
    // With nothing configured the form holds a starting policy: it must be saved to count.
    let configured = state.is_configured();
    let dirty = {
        let saved_form = saved_form.clone();
        Memo::new(move |_| !configured || form.with(|f| *f != saved_form))
    };
    // The policy the preview is of: none (the one in force) while the form is as saved, the
    // draft once edited, nothing to ask while the draft is invalid.
    let draft = Memo::new(move |_| {
        if dirty.get() {
            parsed.get().map(Some)
        } else {
            Ok(None)
        }
    });
    let picked = RwSignal::new(BTreeSet::<u64>::new());
    let typed = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);

    let wanted = RwSignal::new(draft.get_untracked().ok().map(|draft| Wanted {
        draft,
        page: 1,
        show: PreviewFilter::Delete,
    }));
    let shown = RwSignal::new(None::<Shown>);
    let preview_error = RwSignal::new(None::<ApiError>);
    // One request per question: asking again (another draft, page or filter, or the history
    // changed) aborts the one in flight, whose answer is then never shown.
    Effect::new(move |_| {
        let Some(asked) = wanted.get() else {
            return;
        };
        cluster.track_history();
        let (cluster, csrf) = (name.get_untracked(), auth.csrf());
        spawn_owned(async move {
            let request = PreviewRequest {
                policy: asked.draft.clone(),
                page: Some(asked.page),
                per_page: Some(PREVIEW_PER_PAGE),
                show: Some(asked.show),
            };
            match api::retention_preview(&cluster, &request, &csrf).await {
                Ok(preview) => {
                    // A ticked orphan the plan no longer offers is not sent.
                    picked.update(|p| p.retain(|id| preview.selectable_orphans.contains(id)));
                    preview_error.set(None);
                    shown.set(Some(Shown { asked, preview }));
                }
                Err(e) => preview_error.set(Some(e)),
            }
        });
    });
    // An edit asks for the new draft once typing pauses, from its first page.
    let timer = StoredValue::new(None::<TimeoutHandle>);
    let cancel_timer = move || {
        if let Some(t) = timer.try_get_value().flatten() {
            t.clear();
        }
        timer.try_set_value(None);
    };
    on_cleanup(cancel_timer);
    Effect::new(move |first: Option<()>| {
        let next = draft.get();
        if first.is_none() {
            return;
        }
        cancel_timer();
        preview_error.set(None);
        if let Ok(draft) = next {
            let handle = set_timeout_with_handle(
                move || {
                    timer.try_set_value(None);
                    let next = Wanted {
                        draft,
                        page: 1,
                        show: wanted.with_untracked(|w| {
                            w.as_ref().map_or(PreviewFilter::Delete, |w| w.show)
                        }),
                    };
                    // Edited and put back before the pause: that answer is already asked for.
                    if wanted.with_untracked(|w| w.as_ref() != Some(&next)) {
                        wanted.set(Some(next));
                    }
                },
                std::time::Duration::from_millis(PREVIEW_DEBOUNCE_MS),
            );
            timer.set_value(handle.ok());
        }
    });
    let ask = Callback::new(move |change: (usize, Option<PreviewFilter>)| {
        wanted.update(|w| {
            if let Some(w) = w {
                w.page = change.0;
                if let Some(show) = change.1 {
                    w.show = show;
                }
            }
        });
    });
    // The answer for what the form holds now; an older one stays shown, marked, until it comes.
    let current = Memo::new(move |_| {
        shown.with(|s| {
            s.as_ref()
                .is_some_and(|s| Ok(&s.asked.draft) == draft.get().as_ref())
        })
    });
    // The server refused the draft (400): said where the form's own errors are.
    let policy_error = move || {
        parsed.get().err().or_else(|| {
            preview_error.with(|e| match e {
                Some(ApiError::Server {
                    status: 400,
                    message,
                    ..
                }) => Some(message.clone()),
                _ => None,
            })
        })
    };

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
    // What a cleanup confirms: the latest answer for the policy in force, and only it.
    let in_force_plan = Memo::new(move |_| {
        shown.with(|s| {
            s.as_ref()
                .filter(|s| s.asked.draft.is_none() && !dirty.get())
                .map(|s| (s.preview.delete.clone(), s.preview.warning.is_some()))
        })
    });
    let count = move || {
        in_force_plan.with(|p| p.as_ref().map_or(0, |p| p.0.len())) + picked.with(BTreeSet::len)
    };
    let delete = Callback::new(move |_: ()| {
        let Some((delete, acknowledge_warning)) = in_force_plan.get_untracked() else {
            return;
        };
        let request = CleanupRequest {
            delete,
            selected: picked.get_untracked().into_iter().collect(),
            confirm: typed.get_untracked().trim().parse().unwrap_or(0),
            // The warning is on screen above the button whenever there is one.
            acknowledge_warning,
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
    // Failures other than a refused draft: the preview could not be read.
    let preview_failure = move || {
        preview_error
            .get()
            .filter(|e| !matches!(e, ApiError::Server { status: 400, .. }))
            .map(|e| view! { <ErrorAlert error=e retry=Callback::new(move |_| wanted.update(|_| ()))/> })
    };
    let unknown_components = move || {
        shown.with(|s| {
            let names: Vec<&str> = s
                .as_ref()
                .map(|s| s.preview.unknown_components.iter().map(|c| c.label()).collect())
                .unwrap_or_default();
            (!names.is_empty()).then(|| view! {
                <div class="alert alert-alarm" role="alert" id="unknown-components">
                    <strong>{format!("Some components did not answer: {}", names.join(", "))}</strong>
                    <p>"Sets whose state is unknown are kept, and their artifacts in the silent component cannot be deleted now."</p>
                </div>
            })
        })
    };
    let has_answer = Memo::new(move |_| shown.with(Option::is_some));

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
            {move || policy_error().map(|e| view! { <p class="field-error" id="policy-error" role="alert">{e}</p> })}
            <Show when=is_admin>
                <div class="actions">
                    <button class="btn btn-primary" id="save-policy" disabled=move || !dirty.get() || parsed.get().is_err() || busy.get() on:click=save>"Save policy"</button>
                </div>
            </Show>
            {last}
        </section>
        {held}
        {refusal}
        {unknown_components}
        {preview_failure}
        <Show when=move || has_answer.get() fallback=move || (wanted.with(Option::is_some) && preview_error.with(Option::is_none)).then(|| view! { <Loading what="the preview"/> })>
            <Preview shown=shown current=current picked=picked in_force=Signal::derive(move || !dirty.get()) ask=ask/>
        </Show>
        <Show when=is_admin>
            <section class="card" id="confirm-cleanup">
                <h2>"Delete"</h2>
                {move || {
                    let n = count();
                    if dirty.get() {
                        view! { <p class="subtle">"Save the policy first: the server deletes what the saved policy plans."</p> }.into_any()
                    } else if in_force_plan.with(Option::is_none) {
                        view! { <p class="subtle">"Reading what the policy in force deletes…"</p> }.into_any()
                    } else if n == 0 {
                        view! { <p class="subtle" id="nothing-to-delete">"Nothing to delete."</p> }.into_any()
                    } else {
                        view! {
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

/// The server's preview: what the whole plan deletes and keeps, the warning a schedule would
/// refuse it with, how fresh the catalog is, and one page of decisions with their artifacts.
#[component]
fn Preview(
    shown: RwSignal<Option<Shown>>,
    /// False while the answer shown is for an older draft than the form's.
    current: Memo<bool>,
    picked: RwSignal<BTreeSet<u64>>,
    /// False while the previewed policy is not the one in force (edited, or nothing configured).
    in_force: Signal<bool>,
    /// Another page, and another filter (from its first page).
    ask: Callback<(usize, Option<PreviewFilter>)>,
) -> impl IntoView {
    let figures = Memo::new(move |_| {
        shown.with(|s| {
            s.as_ref()
                .map(|s| {
                    let p = &s.preview;
                    Figures {
                        sets: p.sets,
                        delete: p.delete.len(),
                        protected: p.protected,
                        orphans: p.selectable_orphans.len(),
                        page: p.page,
                        pages: p.pages,
                        total: p.total,
                        show: s.asked.show,
                    }
                })
                .unwrap_or_default()
        })
    });
    let heading = move || {
        let f = figures.get();
        // Ticked orphans count as deleted, so the heading and the button agree.
        let ticked = picked.with(BTreeSet::len);
        let what = if in_force.get() {
            "Preview"
        } else {
            "Preview of this policy, not in force yet"
        };
        let keep = f.sets.saturating_sub(f.delete);
        format!(
            "{what}: {} to delete, {} kept",
            f.delete + ticked,
            keep.saturating_sub(ticked)
        )
    };
    let summary = move || {
        let f = figures.get();
        let orphans = match f.orphans {
            0 => String::new(),
            1 => "; 1 orphan may be ticked for deletion".into(),
            n => format!("; {n} orphans may be ticked for deletion"),
        };
        format!(
            "Deletes {} sets of the {} in the history. Keeps {}, {} of them protected by a rule{orphans}.",
            f.delete,
            f.sets,
            f.sets.saturating_sub(f.delete),
            f.protected
        )
    };
    let warning = move || {
        shown
            .with(|s| s.as_ref().and_then(|s| s.preview.warning.clone()))
            .map(|w| {
                view! {
                    <div class="alert alert-alarm" id="cleanup-warning" role="alert">
                        <strong>"Check this plan before you confirm it"</strong>
                        <p>{format!("A scheduled cleanup would refuse it: {w}.")}</p>
                    </div>
                }
            })
    };
    let freshness = move || {
        shown.with(|s| s.as_ref().map(|s| s.preview.catalog.clone())).map(|c| view! {
            <HistoryFreshness catalog=Some(c) errors=Vec::new() consequence="sets whose state is unknown are kept"/>
        })
    };
    let chip = move |show: PreviewFilter, slug: &'static str, label: &'static str| {
        view! {
            <button class="chip" data-show=slug class:active=move || figures.get().show == show
                on:click=move |_| ask.run((1, Some(show)))>
                {move || {
                    let f = figures.get();
                    let n = match show {
                        PreviewFilter::All => f.sets,
                        PreviewFilter::Delete => f.delete,
                        PreviewFilter::Keep => f.sets.saturating_sub(f.delete),
                        PreviewFilter::Orphans => f.orphans,
                    };
                    format!("{label} ({n})")
                }}
            </button>
        }
    };
    // The table's id says what it lists, as the filter does.
    let table_id = move || match figures.get().show {
        PreviewFilter::Delete => "preview-delete",
        PreviewFilter::Keep => "preview-keep",
        PreviewFilter::Orphans => "preview-orphans",
        PreviewFilter::All => "preview-all",
    };
    let rows = move || {
        let now = now_ms();
        shown.with(|s| {
            let Some(s) = s else { return Vec::new() };
            let offered: BTreeSet<u64> = s.preview.selectable_orphans.iter().copied().collect();
            s.preview
                .decisions
                .iter()
                .map(|d| {
                    let PreviewDecision { decision: d, artifacts } = d;
                    let id = d.backup_id;
                    let age = d
                        .started_at_ms
                        .map(|t| format!("{} ago", format_age((now - t) / 1000)))
                        .unwrap_or_else(|| "-".into());
                    let tickable = offered.contains(&id);
                    // Artifacts are listed where they would go: deleted, or ticked orphans.
                    let listed = (d.decision == Decision::Delete || tickable).then(|| {
                        artifacts
                            .iter()
                            .map(|a| view! { <li>{format!("{}: {}", a.component.label(), a.description)}</li> })
                            .collect_view()
                    });
                    let tick = tickable.then(|| view! {
                        <input type="checkbox" class="pick-orphan" value=id
                            prop:checked=move || picked.with(|p| p.contains(&id))
                            on:change=move |_| picked.update(|p| if !p.remove(&id) { p.insert(id); })/>
                    });
                    view! {
                        <tr data-backup-id=id data-decision=if d.decision == Decision::Delete { "delete" } else { "keep" }>
                            <td>{tick}</td>
                            <td class="mono">{id}</td>
                            <td class="nowrap">{age}</td>
                            <td><VerdictBadge verdict=d.verdict/></td>
                            <td class="why">{d.reason.clone()}</td>
                            <td><ul class="artifacts">{listed}</ul></td>
                        </tr>
                    }
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <section class="card" id="preview" data-current=move || current.get().to_string()>
            <h2>{heading}</h2>
            {move || (!current.get()).then(|| view! { <p class="subtle" id="preview-updating">"This preview is of an earlier version of the form: it follows the form once it holds a valid policy."</p> })}
            {freshness}
            <p class="subtle" class:hidden=move || figures.get().delete != 0>"The policy deletes nothing now."</p>
            <p id="preview-summary" class:hidden=move || figures.get().delete == 0>{summary}</p>
            {warning}
            <p class="subtle">"Orphans (sets whose ID some components lack) are kept by the policy: tick those to delete as well, on any page."</p>
            <div class="chips" id="preview-show" role="group" aria-label="Show decisions">
                {chip(PreviewFilter::Delete, "delete", "To delete")}
                {chip(PreviewFilter::Keep, "keep", "Kept")}
                {chip(PreviewFilter::Orphans, "orphans", "Orphans offered")}
                {chip(PreviewFilter::All, "all", "All")}
            </div>
            <div class="table-scroll">
                <table class="table compact" id=table_id>
                    <thead><tr>
                        <th></th><th>"Backup ID"</th><th>"Age"</th><th>"Verdict"</th><th>"Why"</th><th>"Artifacts deleted"</th>
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <p class="subtle" id="preview-empty" class:hidden=move || figures.get().total != 0>"No set here."</p>
            <div class="pager">
                <button class="btn" id="preview-prev-page" disabled=move || figures.get().page <= 1
                    on:click=move |_| ask.run((figures.get_untracked().page.saturating_sub(1).max(1), None))>"Previous"</button>
                <span id="preview-page-info">{move || {
                    let f = figures.get();
                    format!("Page {} of {} · {} sets", f.page, f.pages.max(1), f.total)
                }}</span>
                <button class="btn" id="preview-next-page" disabled=move || { let f = figures.get(); f.page >= f.pages }
                    on:click=move |_| ask.run((figures.get_untracked().page + 1, None))>"Next"</button>
            </div>
        </section>
    }
}

/// The preview's figures over the whole plan, and where the table is in it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Figures {
    sets: usize,
    delete: usize,
    protected: usize,
    orphans: usize,
    page: usize,
    pages: usize,
    total: usize,
    show: PreviewFilter,
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
            if done {
                // The catalog is listed again before the outcome shows: the history read next
                // no longer lists what was deleted. A failed refresh only leaves it older.
                let _ = api::refresh_catalog(&name.get_untracked(), &auth.csrf()).await;
                view_signal.set(Some(answer));
                cluster.history_changed();
                return;
            }
            view_signal.set(Some(answer));
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
