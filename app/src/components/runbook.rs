//! The restore runbook of one set, as the server writes it: Markdown shown as preformatted text
//! (no renderer in the wasm), headings and warnings in bold, and links to download it as
//! Markdown or as a shell script. The console restores nothing.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::components::alert::{ErrorAlert, Loading};

#[component]
pub fn RunbookPanel(
    md_href: String,
    sh_href: String,
    /// The Markdown, once asked for; `None` while not asked for or loading.
    text: RwSignal<Option<Result<String, ApiError>>>,
    /// Whether it was asked for (it reads every component again, so only on demand).
    shown: RwSignal<bool>,
    on_show: Callback<()>,
) -> impl IntoView {
    view! {
        <section class="runbook" id="runbook-panel">
            <h3>"Restore runbook"</h3>
            <p class="subtle">"The ordered procedure for restoring this set, with its snapshots and this deployment's facts. The console does not run it."</p>
            <div class="actions">
                <Show when=move || !shown.get()>
                    <button class="btn" id="show-runbook" on:click=move |_| on_show.run(())>"Show runbook"</button>
                </Show>
                <a class="btn" id="runbook-md" href=md_href download="">"Download .md"</a>
                <a class="btn" id="runbook-sh" href=sh_href download="">"Download .sh"</a>
            </div>
            {move || shown.get().then(|| match text.get() {
                None => view! { <Loading what="the runbook"/> }.into_any(),
                Some(Err(e)) => view! { <ErrorAlert error=e retry=on_show/> }.into_any(),
                Some(Ok(md)) => view! { <pre class="runbook-text" id="runbook-text">{lines(&md)}</pre> }.into_any(),
            })}
        </section>
    }
}

/// The lines, headings and warnings bold; the rest as they are.
fn lines(md: &str) -> Vec<AnyView> {
    md.lines()
        .map(|line| {
            let line = format!("{line}\n");
            if line.starts_with('#') || line.starts_with("> **") || line.starts_with("**") {
                view! { <strong>{line}</strong> }.into_any()
            } else {
                line.into_any()
            }
        })
        .collect()
}
