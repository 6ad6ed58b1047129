//! Widgets shared by the pages; they know the domain types and read the shared state, but never
//! call the API: what they do goes back to the page through callbacks.

pub mod alert;
pub mod badge;
pub mod confirm;
pub mod freshness;
pub mod layout;
pub mod management;
pub mod runbook;

/// Now, in epoch milliseconds, from the browser's clock.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}
