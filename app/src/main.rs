//! Backup Console for Camunda 8: the browser UI, rendered client-side from WebAssembly.

mod actions;
mod api;
mod app;
mod components;
mod pages;
mod router;
mod state;
mod wire;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
