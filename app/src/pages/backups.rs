//! Backup history: one row per backup ID across every component, newest first, with a verdict.
//! Filter, search, page and the open detail all live in the URL, so reload and back work and a
//! link can be shared. Only one page of rows is ever rendered, whatever the number of sets.

use backup_domain::Verdict;
use backup_domain::api::HistoryResponse;
use backup_domain::backup_set::{BackupSet, Component, ComponentBackup};
use backup_domain::listing::{ListQuery, format_age, format_utc, list_page};
use backup_domain::retention::CleanupRequest;
use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::actions::start_cleanup;
use crate::api::{self, ApiError};
use crate::components::alert::{ComponentErrors, ErrorAlert, Loading};
use crate::components::badge::{StateBadge, VerdictBadge};
use crate::components::confirm::Confirm;
use crate::components::now_ms;
use crate::state::{ClusterContext, Fetched, spawn_owned, use_auth, use_cluster, use_clusters};

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
    let ClusterContext { name, history } = use_cluster();
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
                ..Default::default()
            },
        );
    });
    let update = move |change: &dyn Fn(&mut ScreenState), replace: bool| {
        let mut next = screen.get_untracked();
        change(&mut next);
        go.with_value(|go| go(next, replace));
    };

    view! {
        <header class="page-head">
            <div>
                <h1>"Backups"</h1>
                <p class="subtle">{move || name.get()}</p>
            </div>
            <button class="btn" on:click=move |_| { history.refetch(); clusters.refetch(); }>"Refresh"</button>
        </header>
        {move || match history.get() {
            None => view! { <Loading what="backup history"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorAlert error=e retry=Callback::new(move |_| history.refetch())/> }.into_any(),
            Some(Ok(h)) => view! { <BackupTable history=h screen=screen update=update/> }.into_any(),
        }}
        {move || screen.get().open.map(|id| view! {
            <DetailPanel cluster=name.get() backup_id=id on_close=move || update(&|s| s.open = None, false)/>
        })}
    }
}

#[component]
fn BackupTable(
    history: HistoryResponse,
    screen: Memo<ScreenState>,
    update: impl Fn(&dyn Fn(&mut ScreenState), bool) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let components = history.components.clone();
    let counts = history.counts;
    let total = history.sets.len();
    let sets = StoredValue::new(history.sets);
    // One page, recomputed only when the filter, search or page changes.
    let page = Memo::new(move |_| {
        let s = screen.get();
        let q = ListQuery {
            verdict: s.verdict,
            search: s.search.clone(),
            page: s.page,
        };
        sets.with_value(|all| {
            let p = list_page(all, &q);
            (
                p.rows.into_iter().cloned().collect::<Vec<BackupSet>>(),
                p.matching,
                p.page,
                p.pages,
            )
        })
    });

    let chip = move |verdict: Option<Verdict>| {
        let (label, count) = match verdict {
            None => ("all".to_string(), total),
            Some(v) => (v.label().to_string(), counts.get(v)),
        };
        let slug = verdict.map_or("all", Verdict::slug);
        view! {
            <button
                class="chip"
                class:active=move || screen.get().verdict == verdict
                data-filter=slug
                on:click=move |_| update(&|s| { s.verdict = verdict; s.page = 1; }, false)
            >
                {format!("{label} ({count})")}
            </button>
        }
    };
    let errors = view! { <ComponentErrors errors=history.component_errors.clone() consequence="their column reads unknown"/> };
    let header = components
        .iter()
        .map(|c| view! { <th>{c.label()}</th> })
        .collect_view();
    let columns = components.len() + 4;
    let now = now_ms();

    view! {
        {errors}
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
                prop:value=move || screen.get().search
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    update(&|s| { s.search = text.clone(); s.page = 1; }, true)
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
                <Show when=move || page.get().0.is_empty()>
                    <tr><td colspan=columns class="empty">"No backup set matches."</td></tr>
                </Show>
                <For
                    each=move || page.get().0
                    key=|set| (set.backup_id, set.verdict)
                    children=move |set| view! { <BackupRow set=set now=now screen=screen update=update/> }
                />
            </tbody>
        </table>
        </div>
        <div class="pager">
            <button class="btn" id="prev-page" disabled=move || page.get().2 <= 1
                on:click=move |_| update(&|s| s.page = page.get_untracked().2 - 1, false)>"Previous"</button>
            <span id="page-info">{move || {
                let (_, matching, current, pages) = page.get();
                format!("Page {current} of {pages} · {matching} matching of {total} sets")
            }}</span>
            <button class="btn" id="next-page" disabled=move || { let p = page.get(); p.2 >= p.3 }
                on:click=move |_| update(&|s| s.page = page.get_untracked().2 + 1, false)>"Next"</button>
        </div>
    }
}

#[component]
fn BackupRow(
    set: BackupSet,
    now: i64,
    screen: Memo<ScreenState>,
    update: impl Fn(&dyn Fn(&mut ScreenState), bool) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = set.backup_id;
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
            <td class="mono"><button class="link" aria-label=format!("Open backup {id}")>{id}</button></td>
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
