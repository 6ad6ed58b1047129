//! The audit log, for admins: who did what, when, from where, on which cluster, and how it ended.
//! Filters live in the page; the export links carry the same filters.

use backup_domain::api::AuditEntry;
use backup_domain::listing::format_utc;
use leptos::prelude::*;

use crate::api;
use crate::components::alert::{ErrorAlert, Loading};
use crate::state::use_auth;

/// `YYYY-MM-DD` from a date input, as epoch milliseconds at 00:00 UTC.
fn day_start_ms(date: &str) -> Option<i64> {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&format!(
        "{date}T00:00:00Z"
    )));
    let ms = d.get_time();
    (!ms.is_nan()).then_some(ms as i64)
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let auth = use_auth();
    let user = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let cluster = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let query = Memo::new(move |_| {
        let from_ms = day_start_ms(&from.get());
        // The "to" day is included whole.
        let to_ms = day_start_ms(&to.get()).map(|t| t + 86_400_000 - 1);
        api::audit_query(&user.get(), &action.get(), &cluster.get(), from_ms, to_ms)
    });
    let entries = LocalResource::new(move || {
        let q = query.get();
        async move { api::audit(&q).await }
    });
    let input = move |id: &'static str,
                      label: &'static str,
                      signal: RwSignal<String>,
                      kind: &'static str| {
        view! {
            <label class="filter">
                <span>{label}</span>
                <input id=id type=kind prop:value=move || signal.get() on:change=move |ev| signal.set(event_target_value(&ev))/>
            </label>
        }
    };
    let export = move |format: &'static str| {
        let q = query.get();
        if q.is_empty() {
            format!("/api/audit?format={format}")
        } else {
            format!("/api/audit?{q}&format={format}")
        }
    };

    view! {
        <header class="page-head">
            <div>
                <h1>"Audit log"</h1>
                <p class="subtle">"Every login, logout and change made through the console, newest first"</p>
            </div>
            <div class="actions">
                <a class="btn" id="export-csv" href=move || export("csv") download="audit.csv">"Export CSV"</a>
                <a class="btn" id="export-json" href=move || export("json") download="audit.json">"Export JSON"</a>
            </div>
        </header>
        <Show when=move || auth.is_admin() fallback=|| view! {
            <div class="alert alert-error" role="alert">"The audit log is for admins."</div>
        }>
            <div class="toolbar filters">
                {input("audit-user", "User", user, "text")}
                {input("audit-action", "Action", action, "text")}
                {input("audit-cluster", "Cluster", cluster, "text")}
                {input("audit-from", "From", from, "date")}
                {input("audit-to", "To", to, "date")}
            </div>
            {move || match entries.get() {
                None => view! { <Loading what="the audit log"/> }.into_any(),
                Some(Err(e)) => view! { <ErrorAlert error=e retry=Callback::new(move |_| entries.refetch())/> }.into_any(),
                Some(Ok(r)) => view! { <AuditTable entries=r.entries/> }.into_any(),
            }}
        </Show>
    }
}

#[component]
fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="empty" id="audit-empty">"No entry matches."</p> }.into_any();
    }
    let rows = entries
        .into_iter()
        .map(|e| {
            let outcome_class = format!("badge outcome-{}", e.outcome);
            let action = e.action.to_string();
            let action_attribute = action.clone();
            view! {
                <tr data-action=action_attribute>
                    <td class="nowrap">{format_utc(e.at_ms)}</td>
                    <td>{e.user}</td>
                    <td class="mono">{e.client}</td>
                    <td>{action}</td>
                    <td>{e.cluster.unwrap_or_default()}</td>
                    <td class="mono">{e.target.unwrap_or_default()}</td>
                    <td><span class=outcome_class>{e.outcome.to_string()}</span></td>
                    <td>{e.detail.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="table" id="audit-table">
                <thead><tr><th>"Time"</th><th>"User"</th><th>"Client"</th><th>"Action"</th><th>"Cluster"</th><th>"Target"</th><th>"Outcome"</th><th>"Detail"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
