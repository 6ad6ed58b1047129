//! Runs before every `/api` handler: finds the route's access rule, authenticates the caller (a
//! trusted proxy's headers or the session cookie), checks the role, and for every mutating request
//! checks the CSRF token and the Origin.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Access, ApiError, AppState, ROUTES, access_for};
use crate::auth::{self, CSRF_HEADER, LoginSettings, Principal};

/// The client of a request: the TCP peer, or with `[auth] trusted_forwarded_for` and a peer that
/// is a trusted proxy, the right-most `X-Forwarded-For` hop that is not a trusted proxy (hops to
/// its left are whatever the client wrote).
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    login: &LoginSettings,
) -> Option<IpAddr> {
    let peer = peer.map(|a| a.ip().to_canonical())?;
    let trusted = |ip: &IpAddr| login.forwarded_for_proxies.contains(ip);
    if !trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted(&ip.to_canonical()) => continue,
            Ok(ip) => return Some(ip.to_canonical()),
            // Garbage where a trusted proxy wrote: do not guess past it.
            Err(_) => break,
        }
    }
    Some(peer)
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The peer of a connection, plain or TLS: what rate limits, the audit log and the trusted-proxy
/// check see as the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for ClientAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, crate::tls::TlsListener>>
    for ClientAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

fn peer_of(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map(|ConnectInfo(ClientAddr(a))| *a)
}

/// The client of `request` as rate limits and the audit log see it (see [`client_ip`]).
pub fn client_address(request: &Request, login: &LoginSettings) -> String {
    client_ip(request.headers(), peer_of(request), login)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub async fn guard(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    // The catch-all 404 route needs a session like any other: nothing about the API is public
    // beyond the health check and the login.
    let path = matched.as_ref().map(MatchedPath::as_str).unwrap_or("");
    // HEAD is GET without the body; axum answers it from the GET handler.
    let rule_method = if method == Method::HEAD {
        Method::GET
    } else {
        method.clone()
    };
    let access = if path == "/api/{*rest}" {
        Some(Access::Role(backup_domain::api::Role::Viewer))
    } else {
        access_for(&rule_method, path)
    };
    let Some(access) = access else {
        if ROUTES.iter().any(|r| r.path == path) {
            // Anyone can send any method: not worth more than a debug line.
            tracing::debug!(%method, path, "method not allowed");
            return method_not_allowed(path);
        }
        tracing::error!(%method, path, "route has no access rule; refused");
        return ApiError::Forbidden("this route has no access rule".into()).into_response();
    };
    let mutating = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if mutating && !origin_matches(request.headers(), state.auth.secure_cookies) {
        return ApiError::CsrfFailed("the request comes from another site".into()).into_response();
    }
    let Access::Role(needed) = access else {
        return next.run(request).await;
    };
    let peer = peer_of(&request);
    let headers = request.headers().clone();
    let principal = match authenticate(&state, &headers, peer).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if !principal.role.allows(needed) {
        return ApiError::Forbidden(format!(
            "this needs the {} role; you are {}",
            needed.label(),
            principal.role.label()
        ))
        .into_response();
    }
    if mutating {
        let sent = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !auth::constant_time_eq(sent, &principal.csrf_token) {
            return ApiError::CsrfFailed("missing or wrong X-CSRF-Token header".into())
                .into_response();
        }
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// The console's error envelope with 405 and the methods the path has.
fn method_not_allowed(path: &str) -> Response {
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method.as_str())
        .collect();
    ApiError::MethodNotAllowed(allowed.join(", ")).into_response()
}

/// A browser names the page a request comes from; it must be this console. Clients that send
/// neither header (scripts) are judged by the CSRF token alone. With `https_only` no page of the
/// console is served over plain HTTP, so an `http://` origin is another site.
fn origin_matches(headers: &HeaderMap, https_only: bool) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return true;
    };
    let Some(source) = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
    else {
        return true;
    };
    // Present but unreadable is not the same as absent.
    let Ok(source) = source.to_str() else {
        return false;
    };
    if https_only && !source.to_ascii_lowercase().starts_with("https://") {
        return false;
    }
    source != "null" && same_site(source, host)
}

/// Whether the page at `source` (an Origin or Referer) is on the host the request was sent to:
/// host names compared without case, ports with their scheme's default filled in, so
/// `Host: Console.example:443` matches `https://console.example` (review L7).
fn same_site(source: &str, host_header: &str) -> bool {
    let Ok(origin) = url::Url::parse(source) else {
        return false;
    };
    // A Host header is `host[:port]`, nothing else; anything more is not ours to interpret.
    if host_header.is_empty() || host_header.contains(['/', '@', '?', '#', '\\']) {
        return false;
    }
    let Ok(target) = url::Url::parse(&format!("{}://{host_header}", origin.scheme())) else {
        return false;
    };
    match (origin.host_str(), target.host_str()) {
        (Some(a), Some(b)) => {
            a.eq_ignore_ascii_case(b)
                && origin.port_or_known_default() == target.port_or_known_default()
        }
        _ => false,
    }
}

/// The session token from the cookie of this console's name; a cookie of the other name (a plain
/// `bc_session` planted next to the `__Host-` one) is not looked at.
fn session_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Principal, ApiError> {
    let auth = &state.auth;
    let client = client_ip(headers, peer, &auth.config.login)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    if let Some(proxy) = &auth.config.proxy {
        // A proxy that appends instead of replacing would leave the client's own value first.
        for name in std::iter::once(&proxy.user_header).chain(proxy.groups_header.as_ref()) {
            if headers.get_all(name).iter().count() > 1 {
                return Err(ApiError::BadRequest(format!(
                    "the header {name} appears more than once"
                )));
            }
        }
    }
    if let Some(proxy) = &auth.config.proxy
        && let Some(user) = headers
            .get(&proxy.user_header)
            .and_then(|v| v.to_str().ok())
    {
        let trusted = peer.is_some_and(|addr| proxy.trusted_proxies.contains(&addr.ip()));
        if trusted && !user.is_empty() {
            let groups = proxy
                .groups_header
                .as_ref()
                .and_then(|h| headers.get(h))
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let role = proxy.role_for(groups).ok_or_else(|| {
                ApiError::Forbidden(format!("none of your groups ({groups}) maps to a role"))
            })?;
            return Ok(Principal {
                user: user.to_string(),
                role,
                csrf_token: auth::proxy_csrf_token(&auth.proxy_secret, user),
                via_proxy: true,
                session: None,
                client,
            });
        }
        if !trusted {
            tracing::warn!(%client, "proxy user header from an untrusted address ignored");
        }
    }
    let token = session_cookie(headers, auth::session_cookie_name(auth.secure_cookies))
        .ok_or(ApiError::Unauthenticated("log in first"))?;
    let hash = auth::token_hash(&token);
    let row = state
        .store
        .session(hash.clone())
        .await?
        .ok_or(ApiError::Unauthenticated(
            "your session has ended; log in again",
        ))?;
    let now = state.runs.clock().now_ms();
    let idle = auth.config.idle_timeout.as_millis() as i64;
    let absolute = auth.config.absolute_timeout.as_millis() as i64;
    if now - row.last_seen_ms > idle || now - row.created_ms > absolute {
        state.store.delete_session(hash).await?;
        return Err(ApiError::Unauthenticated(
            "your session has expired; log in again",
        ));
    }
    state.store.touch_session(hash.clone(), now).await?;
    // The role is the configuration's now, not the one at login: a demoted user is demoted at once.
    let role = auth
        .config
        .users
        .iter()
        .find(|u| u.name == row.user)
        .map(|u| u.role);
    let Some(role) = role else {
        state.store.delete_session(hash).await?;
        return Err(ApiError::Unauthenticated("your user no longer exists"));
    };
    Ok(Principal {
        user: row.user,
        role,
        csrf_token: row.csrf_token,
        via_proxy: false,
        session: Some(hash),
        client,
    })
}

#[cfg(test)]
mod origin_tests {
    use super::same_site;

    #[test]
    fn default_ports_and_case_do_not_make_a_false_cross_site() {
        assert!(same_site("https://console.example", "console.example"));
        assert!(same_site("https://console.example", "Console.Example:443"));
        assert!(same_site(
            "https://console.example:443/page",
            "console.example"
        ));
        assert!(same_site("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(same_site("http://[::1]:8080", "[::1]:8080"));
    }

    #[test]
    fn another_host_port_or_a_strange_host_header_is_cross_site() {
        assert!(!same_site("https://evil.example", "console.example"));
        assert!(!same_site(
            "https://console.example:8443",
            "console.example"
        ));
        assert!(!same_site("http://console.example", "console.example:443"));
        assert!(!same_site(
            "https://console.example",
            "evil.example@console.example"
        ));
        assert!(!same_site("https://console.example", ""));
        assert!(!same_site("not a url", "console.example"));
    }
}
