//! The one confirmation dialog: a native modal `<dialog>` opened with `showModal()`, so the rest
//! of the page is inert while it is open. Focus moves into it (its input if it has one, otherwise
//! Cancel, never the action itself), Escape cancels, focus goes back to what opened it, and its
//! title is its accessible name.

use std::sync::atomic::{AtomicUsize, Ordering};

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::ApiError;
use crate::components::alert::ErrorAlert;

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// `open` says whether it shows; the owner closes it (Cancel and Escape call `on_cancel`, the
/// action calls `on_confirm`, and either decides what `open` becomes). `children` say what the
/// action does to the cluster, and may hold an input (a typed confirmation). `action` tags both
/// buttons (`data-confirm`, `data-cancel`) where one dialog serves several actions; `error` is
/// shown inside the dialog, where it can be read while the dialog is open.
#[component]
pub fn Confirm(
    #[prop(into)] open: Signal<bool>,
    #[prop(into)] title: Signal<String>,
    #[prop(into)] confirm_label: Signal<String>,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
    #[prop(optional, into)] disabled: Option<Signal<bool>>,
    #[prop(default = "btn btn-primary")] confirm_class: &'static str,
    #[prop(default = "Cancel")] cancel_label: &'static str,
    #[prop(optional)] confirm_id: Option<&'static str>,
    #[prop(optional, into)] action: Option<Signal<&'static str>>,
    #[prop(optional, into)] error: Option<Signal<Option<ApiError>>>,
    children: Children,
) -> impl IntoView {
    let title_id = format!("confirm-title-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    let cancel = NodeRef::<leptos::html::Button>::new();
    // What had focus when the dialog opened, to give it back.
    let opener = StoredValue::new_local(None::<web_sys::HtmlElement>);
    Effect::new(move |_| {
        let Some(d) = dialog.get() else {
            return;
        };
        if open.get() {
            if d.open() {
                return;
            }
            let active = document()
                .active_element()
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
            opener.set_value(active);
            if d.show_modal().is_err() {
                return;
            }
            let input = d
                .query_selector("input")
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
            match input {
                Some(input) => _ = input.focus(),
                None => {
                    if let Some(c) = cancel.get_untracked() {
                        _ = c.focus();
                    }
                }
            }
        } else {
            if d.open() {
                d.close();
            }
            if let Some(el) = opener.try_update_value(Option::take).flatten() {
                _ = el.focus();
            }
        }
    });
    let action_tag = move || action.map(|a| a.get());
    let labelled_by = title_id.clone();
    view! {
        <dialog
            class="confirm"
            aria-labelledby=labelled_by
            node_ref=dialog
            on:cancel=move |ev: leptos::ev::Event| {
                // Escape: the owner closes it, so `open` stays the one truth.
                ev.prevent_default();
                on_cancel.run(());
            }
            on:close=move |_| {
                // Closed by the browser itself (a repeated Escape): tell the owner.
                if open.get_untracked() {
                    on_cancel.run(());
                }
            }
        >
            <p><strong id=title_id>{move || title.get()}</strong></p>
            {children()}
            {move || error.and_then(|e| e.get()).map(|e| view! { <ErrorAlert error=e/> })}
            <div class="actions">
                <button class=confirm_class id=confirm_id data-confirm=action_tag
                    disabled=move || disabled.is_some_and(|d| d.get())
                    on:click=move |_| on_confirm.run(())>
                    {move || confirm_label.get()}
                </button>
                <button class="btn" data-cancel=action_tag node_ref=cancel
                    on:click=move |_| on_cancel.run(())>{cancel_label}</button>
            </div>
        </dialog>
    }
}
