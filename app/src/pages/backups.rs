//! Backup history: one row per backup ID across every component, newest first, with a verdict.
//! Filter, search, page and the open detail all live in the URL, so reload and back work and a
//! link can be shared. The server answers the page shown, and only it: a cluster can hold 100,000
//! sets, which the browser never loads.

use crate::router::NavigateOptions;
use crate::router::{use_navigate, use_query_map};
use backup_domain::Verdict;
use backup_domain::api::{HistoryResponse, VerdictCounts};
use backup_domain::backup_set::{BackupSet, Component, ComponentBackup};
use backup_domain::listing::{PAGE_SIZE, format_age, format_utc};
use backup_domain::retention::CleanupRequest;
use leptos::prelude::*;

use crate::actions::start_cleanup;
use crate::api::{self, ApiError, PageQuery};
use crate::components::alert::{ErrorAlert, Loading};
use crate::components::badge::{StateBadge, VerdictBadge};
use crate::components::confirm::Confirm;
use crate::components::freshness::HistoryFreshness;
use crate::components::now_ms;
use crate::components::runbook::RunbookPanel;
use crate::state::{Fetched, Loaded, spawn_owned, use_auth, use_cluster, use_clusters};

/// How long the search waits after the last keystroke before it asks the server (Enter asks at
/// once).
const SEARCH_DEBOUNCE_MS: u64 = 300;
/// The screen state carried in the query string.
#[derive(Debug, Clone, Default, PartialEq)]
struct ScreenState {
    verdict: Option<Verdict>,
    search: String,
    page: usize,
    open: Option<u64>,
}

impl ScreenState {
    fn href(&self, cluster: &str) -> String {
        let mut query: Vec<String> = Vec::new();
        if let Some(v) = self.verdict {
            query.push(format!("verdict={}", v.slug()));
        }
        let digits: String = self.search.chars().filter(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            query.push(format!("q={digits}"));
        }
        if self.page > 1 {
            query.push(format!("page={}", self.page));
        }
        if let Some(id) = self.open {
            query.push(format!("id={id}"));
        }
        let base = format!("/clusters/{cluster}/backups");
        if query.is_empty() {
            base
        } else {
            format!("{base}?{}", query.join("&"))
        }
    }
}

#[component]
pub fn Backups() -> impl IntoView {
    let cluster = use_cluster();
    let name = cluster.name;
    let auth = use_auth();
    let clusters = use_clusters();
    let query = use_query_map();
    let screen = Memo::new(move |_| {
        let q = query.read();
        ScreenState {
            verdict: q.get("verdict").and_then(|v| Verdict::from_slug(&v)),
            search: q.get("q").unwrap_or_default(),
            page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
            open: q.get("id").and_then(|i| i.parse().ok()),
        }
    });
    let navigate = use_navigate();
    let go = StoredValue::new(move |next: ScreenState, replace: bool| {
        navigate(
            &next.href(&name.get_untracked()),
            NavigateOptions {
                replace,
                scroll: false,
            },
        );
    });
    let update = move |change: &dyn Fn(&mut ScreenState), replace: bool| {
        let mut next = screen.get_untracked();
        change(&mut next);
        go.with_value(|go| go(next, replace));
    };

    // The page asked for: the screen without the open set (opening one fetches no page).
    let wanted = Memo::new(move |_| {
        let s = screen.get();
        PageQuery {
            verdict: s.verdict,
            search: digits(&s.search),
            page: s.page.max(1),
            per_page: PAGE_SIZE,
        }
    });
    let answer: Loaded<HistoryResponse> = LocalResource::new(move || {
        let (c, q) = (name.get(), wanted.get());
        cluster.track_history();
        async move { api::history_page(&c, &q).await }
    });
    // The page shown: the latest good answer, kept on screen while the next one loads.
    let shown = Memo::new(move |_| answer.get().and_then(Result::ok));

    let refreshing = RwSignal::new(false);
    let refresh_error = RwSignal::new(None::<ApiError>);
    // The refresh belongs to the page, not to the button: leaving the page aborts it.
    let owner = StoredValue::new(Owner::current().unwrap_or_default());
    let refresh = move |_| {
        if refreshing.get_untracked() {
            return;
        }
        refreshing.set(true);
        refresh_error.set(None);
        let (c, csrf) = (name.get_untracked(), auth.csrf());
        owner.with_value(|o| {
            o.with(|| {
                spawn_owned(async move {
                    if let Err(e) = api::refresh_catalog(&c, &csrf).await {
                        refresh_error.set(Some(e));
                    }
                    refreshing.set(false);
                    answer.refetch();
                    clusters.refetch();
                })
            })
        });
    };

    view! {
        <header class="page-head">
            <div>
                <h1>"Backups"</h1>
                <p class="subtle">{move || name.get()}</p>
            </div>
            <button class="btn" id="refresh-history" disabled=move || refreshing.get() on:click=refresh>
                {move || if refreshing.get() { "Refreshing…" } else { "Refresh" }}
            </button>
        </header>
        {move || refresh_error.get().map(|e| view! { <ErrorAlert error=e/> })}
        {move || match answer.get() {
            None => Some(view! { <Loading what="backup history"/> }.into_any()),
            Some(Err(e)) => Some(view! { <ErrorAlert error=e retry=Callback::new(move |_| answer.refetch())/> }.into_any()),
            Some(Ok(_)) => None,
        }}
        <Show when=move || shown.with(Option::is_some)>
            <BackupTable shown=shown screen=screen update=update/>
        </Show>
        {move || screen.get().open.map(|id| view! {
            <DetailPanel cluster=name.get() backup_id=id on_close=move || update(&|s| s.open = None, false)/>
        })}
    }
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Every set of the history: the verdict counts cover all of them.
fn all_sets(c: &VerdictCounts) -> usize {
    c.restorable + c.restorable_partial + c.in_progress + c.not_restorable + c.unknown
}

/// The pager's figures, from the server's answer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Pages {
    page: usize,
    pages: usize,
    matching: usize,
    all: usize,
}

impl Pages {
    fn of(h: &HistoryResponse) -> Pages {
        Pages {
            page: h.page.unwrap_or(1),
            pages: h.pages.unwrap_or(1),
            matching: h.total.unwrap_or(h.sets.len()),
            all: all_sets(&h.counts),
        }
    }
}

/// The toolbar, the table and the pager, drawn once: each answer replaces the rows and figures,
/// not the search field (which keeps its focus and what is being typed).
#[component]
fn BackupTable(
    shown: Memo<Option<HistoryResponse>>,
    screen: Memo<ScreenState>,
    update: impl Fn(&dyn Fn(&mut ScreenState), bool) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let counts =
        Memo::new(move |_| shown.with(|h| h.as_ref().map(|h| h.counts).unwrap_or_default()));
    let components = Memo::new(move |_| {
        shown.with(|h| h.as_ref().map(|h| h.components.clone()).unwrap_or_default())
    });
    let rows =
        Memo::new(move |_| shown.with(|h| h.as_ref().map(|h| h.sets.clone()).unwrap_or_default()));
    let pages = Memo::new(move |_| shown.with(|h| h.as_ref().map(Pages::of).unwrap_or_default()));

    let chip = move |verdict: Option<Verdict>| {
        let label = verdict.map_or("all", Verdict::label);
        let slug = verdict.map_or("all", Verdict::slug);
        view! {
            <button
                class="chip"
                class:active=move || screen.get().verdict == verdict
                data-filter=slug
                on:click=move |_| update(&|s| { s.verdict = verdict; s.page = 1; }, false)
            >
                {move || {
                    let c = counts.get();
                    let count = verdict.map_or_else(|| all_sets(&c), |v| c.get(v));
                    format!("{label} ({count})")
                }}
            </button>
        }
    };

    // What is typed goes to the URL (and so to the server) once typing pauses, or on Enter.
    let typed = RwSignal::new(screen.get_untracked().search);
    let timer = StoredValue::new(None::<TimeoutHandle>);
    let cancel_timer = move || {
        if let Some(t) = timer.try_get_value().flatten() {
            t.clear();
        }
        timer.try_set_value(None);
    };
    let apply = move |text: String| {
        cancel_timer();
        if digits(&text) != digits(&screen.get_untracked().search) {
            update(
                &|s| {
                    s.search = text.clone();
                    s.page = 1;
                },
                true,
            );
        }
    };
    // The URL changed otherwise (back, a link): the field shows its search.
    Effect::new(move |_| {
        let search = screen.get().search;
        if timer.get_value().is_none() && digits(&typed.get_untracked()) != digits(&search) {
            typed.set(search);
        }
    });
    on_cleanup(cancel_timer);

    let freshness = move || {
        shown.with(|h| {
            h.as_ref().map(|h| view! {
                <HistoryFreshness catalog=h.catalog.clone() errors=h.component_errors.clone() consequence="their column reads unknown"/>
            })
        })
    };
    let header = move || {
        components
            .get()
            .into_iter()
            .map(|c| view! { <th>{c.label()}</th> })
            .collect_view()
    };
    let columns = move || components.with(Vec::len) + 4;

    view! {
        {freshness}
        <div class="toolbar">
            <div class="chips" role="group" aria-label="Filter by verdict">
                {chip(None)}
                {Verdict::ALL.into_iter().map(|v| chip(Some(v))).collect_view()}
            </div>
            <input
                type="search"
                id="search"
                placeholder="Search backup ID"
                inputmode="numeric"
                prop:value=move || typed.get()
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    typed.set(text.clone());
                    cancel_timer();
                    let handle = set_timeout_with_handle(
                        move || apply(text),
                        std::time::Duration::from_millis(SEARCH_DEBOUNCE_MS),
                    );
                    timer.set_value(handle.ok());
                }
                on:keydown=move |ev| {
                    if ev.key() == "Enter" {
                        apply(typed.get_untracked());
                    }
                }
            />
        </div>
        <div class="table-scroll">
        <table class="table backups" id="backups-table">
            <thead>
                <tr>
                    <th>"Backup ID"</th>
                    <th>"Started"</th>
                    <th>"Verdict"</th>
                    {header}
                    <th>"Why"</th>
                </tr>
            </thead>
            <tbody>
                <Show when=move || rows.with(Vec::is_empty)>
                    <tr><td colspan=columns class="empty">"No backup set matches."</td></tr>
                </Show>
                // Every answer draws its rows anew: a set keeps its ID and verdict while a
                // component's state in it changes (one that stops answering reads unknown).
                {move || rows.get().into_iter().map(|set| view! { <BackupRow set=set screen=screen update=update/> }).collect_view()}
            </tbody>
        </table>
        </div>
        <div class="pager">
            <button class="btn" id="prev-page" disabled=move || pages.get().page <= 1
                on:click=move |_| update(&|s| s.page = pages.get_untracked().page - 1, false)>"Previous"</button>
            <span id="page-info">{move || {
                let Pages { page, pages, matching, all } = pages.get();
                format!("Page {page} of {pages} · {matching} matching of {all} sets")
            }}</span>
            <button class="btn" id="next-page" disabled=move || { let p = pages.get(); p.page >= p.pages }
                on:click=move |_| update(&|s| s.page = pages.get_untracked().page + 1, false)>"Next"</button>
        </div>
    }
}

#[component]
fn BackupRow(
    set: BackupSet,
    screen: Memo<ScreenState>,
    update: impl Fn(&dyn Fn(&mut ScreenState), bool) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = set.backup_id;
    let now = now_ms();
    let started = set.started_at_ms.map(|t| {
        (
            format_utc(t),
            format!("{} ago", format_age((now - t) / 1000)),
        )
    });
    let cells = set
        .components
        .iter()
        .map(|c| view! { <td><StateBadge state=c.state title=component_title(c)/></td> })
        .collect_view();
    let why = set.reasons.first().cloned().unwrap_or_default();
    let more = set.reasons.len().saturating_sub(1);
    view! {
        <tr
            class="row"
            class:selected=move || screen.get().open == Some(id)
            data-backup-id=id
            on:click=move |_| update(&|s| s.open = Some(id), false)
        >
            <td class="mono"><button class="link" aria-label=format!("Open backup {id}")>{id}</button>
                {set.trigger.as_ref().map(|t| view! { <br/><span class="subtle set-trigger" title="who started it">{t.to_string()}</span> })}</td>
            <td>
                {match started {
                    Some((at, ago)) => view! { <span class="nowrap">{at}</span><br/><span class="subtle nowrap">{ago}</span> }.into_any(),
                    None => view! { <span class="subtle">"unknown"</span> }.into_any(),
                }}
            </td>
            <td><VerdictBadge verdict=set.verdict/></td>
            {cells}
            <td class="why">{why}{(more > 0).then(|| format!(" (+{more} more)"))}</td>
        </tr>
    }
}

fn component_title(c: &ComponentBackup) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &c.upstream_state {
        parts.push(s.clone());
    }
    if let Some(p) = c.progress {
        parts.push(format!("{} of {} done", p.done, p.total));
    }
    if let Some(r) = c.failure_reason.as_ref().or(c.error.as_ref()) {
        parts.push(r.clone());
    }
    parts.join(" · ")
}

/// Every partition and part of one set, read fresh from each component.
#[component]
fn DetailPanel(
    cluster: String,
    backup_id: u64,
    on_close: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    let (md_href, sh_href) = (
        api::runbook_url(&cluster, backup_id, "md"),
        api::runbook_url(&cluster, backup_id, "sh"),
    );
    let (runbook, runbook_shown) = (RwSignal::new(None), RwSignal::new(false));
    let runbook_cluster = cluster.clone();
    // The read belongs to the panel, not to the button that asked for it (which then goes).
    let owner = Owner::current();
    let show_runbook = Callback::new(move |()| {
        let cluster = runbook_cluster.clone();
        runbook_shown.set(true);
        runbook.set(None);
        let task = async move { runbook.set(Some(api::runbook(&cluster, backup_id).await)) };
        match &owner {
            Some(owner) => owner.with(|| spawn_owned(task)),
            None => spawn_owned(task),
        }
    });
    let detail = Fetched::new(move || {
        let cluster = cluster.clone();
        async move { api::backup_detail(&cluster, backup_id).await }
    });
    view! {
        <aside class="detail" id="detail-panel" aria-label=format!("Backup {backup_id}")>
            <header class="detail-head">
                <h2>"Backup "<span class="mono">{backup_id}</span></h2>
                <button class="btn" id="close-detail" on:click=move |_| on_close()>"Close"</button>
            </header>
            <SetActions backup_id=backup_id/>
            {move || match detail.get() {
                None => view! { <Loading what="every partition and part"/> }.into_any(),
                Some(Err(e)) => view! { <ErrorAlert error=e retry=Callback::new(move |_| detail.reload())/> }.into_any(),
                Some(Ok(d)) => view! { <DetailBody set=d.set/> }.into_any(),
            }}
            <RunbookPanel md_href=md_href sh_href=sh_href text=runbook shown=runbook_shown on_show=show_runbook/>
        </aside>
    }
}

#[component]
fn DetailBody(set: BackupSet) -> impl IntoView {
    let reasons = set
        .reasons
        .iter()
        .map(|r| view! { <li>{r.clone()}</li> })
        .collect_view();
    let notes = set
        .notes
        .iter()
        .map(|r| view! { <li>{r.clone()}</li> })
        .collect_view();
    let components = set
        .components
        .into_iter()
        .map(|c| view! { <ComponentDetail component=c/> })
        .collect_view();
    view! {
        <div class="verdict-line">
            <VerdictBadge verdict=set.verdict/>
            {set.started_at_ms.map(|t| view! { <span class="subtle">"started "{format_utc(t)}</span> })}
        </div>
        <ul class="reasons">{reasons}</ul>
        <ul class="notes">{notes}</ul>
        {components}
    }
}

#[component]
fn ComponentDetail(component: ComponentBackup) -> impl IntoView {
    let c = component;
    let title = c.component.label();
    let facts = [
        c.upstream_state.clone().map(|s| ("State reported", s)),
        c.progress
            .map(|p| ("Progress", format!("{} of {} done", p.done, p.total))),
        (!c.versions.is_empty()).then(|| ("Version", c.versions.join(", "))),
        c.failure_reason.clone().map(|r| ("Failure", r)),
        c.error.clone().map(|e| ("Error", e)),
    ]
    .into_iter()
    .flatten()
    .map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> })
    .collect_view();
    let partitions = (!c.partitions.is_empty()).then(|| {
        let rows = c
            .partitions
            .iter()
            .map(|p| {
                view! {
                    <tr>
                        <td>{p.partition_id}</td>
                        <td>{p.state.clone()}</td>
                        <td class="mono">{p.checkpoint_position.map(|x| x.to_string()).unwrap_or_default()}</td>
                        <td class="mono">{p.snapshot_id.clone().unwrap_or_default()}</td>
                        <td>{p.broker_id.map(|x| x.to_string()).unwrap_or_default()}</td>
                        <td>{p.broker_version.clone().unwrap_or_default()}</td>
                        <td class="nowrap">{p.last_updated_at_ms.or(p.created_at_ms).map(format_utc).unwrap_or_default()}</td>
                        <td>{p.failure_reason.clone().unwrap_or_default()}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-scroll"><table class="table compact partitions">
                <thead><tr><th>"Partition"</th><th>"State"</th><th>"Checkpoint position"</th><th>"Snapshot"</th><th>"Broker"</th><th>"Version"</th><th>"Updated"</th><th>"Failure"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div>
        }
    });
    let parts = (!c.parts.is_empty()).then(|| {
        let rows = c
            .parts
            .iter()
            .map(|p| {
                view! {
                    <tr>
                        <td class="mono">{p.name.clone()}</td>
                        <td>{p.state.clone()}</td>
                        <td class="nowrap">{p.start_time_ms.map(format_utc).unwrap_or_default()}</td>
                        <td>{p.failures.join("; ")}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-scroll"><table class="table compact parts">
                <thead><tr><th>"Snapshot"</th><th>"State"</th><th>"Started"</th><th>"Failures"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div>
        }
    });
    let id = match c.component {
        Component::RecordsSnapshot => "records_snapshot",
        other => other.label(),
    };
    view! {
        <section class="component-detail" data-component=id>
            <h3>{title}" "<StateBadge state=c.state/></h3>
            <dl class="facts">{facts}</dl>
            {partitions}
            {parts}
        </section>
    }
}

/// Admins pin or unpin the set, or delete it in every component (the same path as a cleanup).
#[component]
fn SetActions(backup_id: u64) -> impl IntoView {
    let name = use_cluster().name;
    let auth = use_auth();
    let navigate = use_navigate();
    let state = Fetched::new(move || {
        let cluster = name.get_untracked();
        async move { api::retention_state(&cluster).await }
    });
    // Whether the set is pinned; `None` until known (the button waits for it).
    let pinned = move || {
        state.value.with(|s| {
            s.as_ref()
                .and_then(|s| s.as_ref().ok())
                .map(|s| s.pins.iter().any(|p| p.backup_id == backup_id))
        })
    };
    let error = RwSignal::new(None::<ApiError>);
    let confirming = RwSignal::new(false);
    let typed = RwSignal::new(String::new());
    let toggle_pin = move |_| {
        let Some(now_pinned) = untrack(pinned) else {
            return;
        };
        let (cluster, csrf) = (name.get_untracked(), auth.csrf());
        spawn_owned(async move {
            match api::set_pin(&cluster, backup_id, !now_pinned, &csrf).await {
                Ok(()) => state.reload(),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let delete = Callback::new(move |_: ()| {
        let request = CleanupRequest {
            delete: Vec::new(),
            selected: vec![backup_id],
            confirm: typed.get_untracked().trim().parse().unwrap_or(0),
            acknowledge_warning: false,
        };
        start_cleanup(
            name.get_untracked(),
            request,
            auth.csrf(),
            navigate.clone(),
            error,
            RwSignal::new(false),
        );
    });
    let is_admin = move || auth.is_admin();
    view! {
        <Show when=is_admin>
            <div class="actions set-actions">
                {move || pinned().map(|p| view! {
                    <button class="btn" id="toggle-pin" on:click=toggle_pin>{if p { "Unpin" } else { "Pin" }}</button>
                    {p.then(|| view! { <span class="badge state-completed" id="pinned-badge">"pinned: never deleted"</span> })}
                })}
                <button class="btn btn-danger" id="delete-set" on:click=move |_| confirming.set(true)>"Delete this set"</button>
            </div>
            <Confirm
                open=confirming
                title=format!("Delete backup {backup_id} in every component?")
                confirm_label="Delete".to_string()
                confirm_class="btn btn-danger"
                confirm_id="confirm-delete"
                disabled=Signal::derive(move || typed.get().trim() != "1")
                error=error
                on_confirm=delete
                on_cancel=Callback::new(move |()| confirming.set(false))
            >
                <p>"It cannot be undone. Type 1 to confirm."</p>
                <input id="confirm-delete-set" inputmode="numeric" autocomplete="off" prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev))/>
            </Confirm>
            {move || (!confirming.get()).then(|| error.get()).flatten().map(|e| view! { <ErrorAlert error=e/> })}
        </Show>
    }
}
