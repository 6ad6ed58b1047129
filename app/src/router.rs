//! The console's client-side routing, in the browser's own History API: the current path and
//! query as signals, navigation, and links that follow it. The console has three kinds of
//! route (the login page, the fleet view, a cluster's pages) and absolute links only; a general
//! router cost about a quarter of the UI's size budget for that (BENCHMARKS.md, part 8).

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

thread_local! {
    /// The path and the query (without its `?`) the browser shows; set by [`provide_router`].
    static URL: std::cell::OnceCell<RwSignal<(String, String)>> = const { std::cell::OnceCell::new() };
}

/// The URL signal; before [`provide_router`] a fresh one (it is called first, in `App`).
fn url() -> RwSignal<(String, String)> {
    URL.with(|u| *u.get_or_init(|| RwSignal::new(window_url())))
}

fn window_url() -> (String, String) {
    let location = window().location();
    let search = location.search().unwrap_or_default();
    (
        location.pathname().unwrap_or_else(|_| "/".into()),
        search.strip_prefix('?').unwrap_or(&search).to_string(),
    )
}

/// Starts following the browser's URL: the back and forward buttons, and clicks on any link to a
/// page of the console (a `download` link, another window or another site are left to the
/// browser, and so is `/api/`).
pub fn provide_router() {
    let url = url();
    let on_popstate = Closure::<dyn Fn()>::new(move || url.set(window_url()));
    let on_click = Closure::<dyn Fn(web_sys::MouseEvent)>::new(follow_link);
    let window = window();
    let _ =
        window.add_event_listener_with_callback("popstate", on_popstate.as_ref().unchecked_ref());
    let _ = document().add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
    // They live as long as the page.
    on_popstate.forget();
    on_click.forget();
}

fn follow_link(ev: web_sys::MouseEvent) {
    if ev.default_prevented()
        || ev.button() != 0
        || ev.meta_key()
        || ev.ctrl_key()
        || ev.shift_key()
        || ev.alt_key()
    {
        return;
    }
    let Some(anchor) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|e| e.closest("a[href]").ok().flatten())
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    else {
        return;
    };
    let here = window().location().origin().unwrap_or_default();
    let target = anchor.target();
    if anchor.has_attribute("download")
        || !(target.is_empty() || target == "_self")
        || anchor.origin() != here
        || anchor.pathname().starts_with("/api/")
    {
        return;
    }
    ev.prevent_default();
    navigate(
        &format!("{}{}", anchor.pathname(), anchor.search()),
        NavigateOptions::default(),
    );
}

/// How [`navigate`] changes the browser's history.
#[derive(Clone, Copy, Debug)]
pub struct NavigateOptions {
    /// Replace the current entry (a redirect) instead of adding one.
    pub replace: bool,
    /// Scroll to the top, as a new page does.
    pub scroll: bool,
}

impl Default for NavigateOptions {
    fn default() -> Self {
        NavigateOptions {
            replace: false,
            scroll: true,
        }
    }
}

/// Goes to `href`, a path in the console with an optional query.
pub fn navigate(href: &str, options: NavigateOptions) {
    let Ok(history) = window().history() else {
        return;
    };
    let state = wasm_bindgen::JsValue::NULL;
    let _ = if options.replace {
        history.replace_state_with_url(&state, "", Some(href))
    } else {
        history.push_state_with_url(&state, "", Some(href))
    };
    url().set(window_url());
    if options.scroll {
        window().scroll_to_with_x_and_y(0.0, 0.0);
    }
}

/// [`navigate`], as the pages take it.
pub fn use_navigate() -> impl Fn(&str, NavigateOptions) + Clone + 'static {
    navigate
}

/// The current path and query (without its `?`).
#[derive(Clone, Copy)]
pub struct Location {
    pub pathname: Memo<String>,
    pub search: Memo<String>,
}

pub fn use_location() -> Location {
    let url = url();
    Location {
        pathname: Memo::new(move |_| url.with(|(p, _)| p.clone())),
        search: Memo::new(move |_| url.with(|(_, s)| s.clone())),
    }
}

/// The query's parameters, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamsMap(Vec<(String, String)>);

impl ParamsMap {
    pub fn parse(search: &str) -> ParamsMap {
        let decode = |s: &str| {
            js_sys::decode_uri_component(&s.replace('+', " "))
                .map(String::from)
                .unwrap_or_else(|_| s.to_string())
        };
        ParamsMap(
            search
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(p), String::new()),
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
}

pub fn use_query_map() -> Memo<ParamsMap> {
    let url = url();
    Memo::new(move |_| url.with(|(_, s)| ParamsMap::parse(s)))
}

/// A link's target: a fixed path or one that follows a signal.
pub trait Href: Send + Sync + 'static {
    fn href(&self) -> String;
}

impl Href for String {
    fn href(&self) -> String {
        self.clone()
    }
}

impl Href for &'static str {
    fn href(&self) -> String {
        self.to_string()
    }
}

impl<F: Fn() -> String + Send + Sync + 'static> Href for F {
    fn href(&self) -> String {
        self()
    }
}

/// A link to a page of the console, marked `aria-current="page"` while that page is shown
/// (`exact`: only that path, otherwise also the paths below it). The click is followed by
/// [`provide_router`]'s listener.
#[component]
pub fn A<H: Href>(href: H, #[prop(optional)] exact: bool, children: Children) -> impl IntoView {
    let href = std::sync::Arc::new(href);
    let url = url();
    let current = {
        let href = href.clone();
        move || {
            let target = href.href();
            let target = target.split('?').next().unwrap_or_default().to_string();
            url.with(|(path, _)| {
                *path == target
                    || (!exact
                        && path.starts_with(&target)
                        && path[target.len()..].starts_with('/'))
            })
            .then_some("page")
        }
    };
    view! { <a href=move || href.href() aria-current=current>{children()}</a> }
}
