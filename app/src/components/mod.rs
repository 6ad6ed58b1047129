//! Widgets shared by the pages; they know the domain types but not the API.

pub mod alert;
pub mod badge;
pub mod layout;
pub mod management;

/// Now, in epoch milliseconds, from the browser's clock.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}
