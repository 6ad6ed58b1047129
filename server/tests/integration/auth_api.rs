//! Authentication, roles, CSRF and the audit log, through the real router over real HTTP.

use std::time::Duration;

use backup_console::api::{Access, ROUTES, Route};
use backup_console_testkit::*;
use backup_domain::api::ErrorCode;
use backup_domain::api::{Role, VersionProfile};
use reqwest::Method;
use serde_json::{Value, json};

fn concrete(path: &str) -> String {
    path.replace("{name}", "test").replace("{id}", "1")
}

async fn session_for(console: &Console, role: Role) -> Session {
    console.login(role.label(), PASSWORD).await.expect("login")
}

#[tokio::test]
async fn every_route_is_refused_without_a_session_and_below_its_role() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    assert!(ROUTES.len() >= 8);
    for Route {
        method,
        path,
        access,
        ..
    } in ROUTES
    {
        let url = concrete(path);
        let (status, body) = console
            .call(method.clone(), &url, None, Some(json!({})))
            .await;
        match access {
            Access::Public => assert_ne!(
                body["error"]["code"],
                ErrorCode::Unauthenticated.as_str(),
                "{method} {path} is public"
            ),
            Access::Role(needed) => {
                assert_eq!(status, 401, "{method} {path} without a session: {body}");
                assert_eq!(body["error"]["code"], ErrorCode::Unauthenticated.as_str());
                for role in [Role::Viewer, Role::Operator, Role::Admin] {
                    let session = session_for(&console, role).await;
                    let (status, body) = console
                        .call(method.clone(), &url, Some(&session), Some(json!({})))
                        .await;
                    if role.allows(*needed) {
                        assert!(
                            ![401, 403, 405].contains(&status),
                            "{method} {path} as {role:?}: {status} {body}"
                        );
                        assert_ne!(
                            body["error"]["code"],
                            ErrorCode::RouteNotFound.as_str(),
                            "{method} {path} must exist in the router"
                        );
                    } else {
                        assert_eq!(status, 403, "{method} {path} as {role:?}: {body}");
                        assert_eq!(body["error"]["code"], ErrorCode::Forbidden.as_str());
                    }
                }
            }
        }
    }
    // Paths outside the table need a session too: nothing else answers anonymously.
    let (status, _) = console
        .call(Method::GET, "/api/not/a/route", None, None)
        .await;
    assert_eq!(status, 401);
    let (status, body) = console.get("/api/not/a/route").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some(ErrorCode::RouteNotFound.as_str()))
    );
}

#[tokio::test]
async fn mutating_requests_need_the_csrf_token_and_a_same_site_origin() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let session = session_for(&console, Role::Viewer).await;
    let logout = format!("{}/api/logout", console.base);

    // A forged cross-site form post: the browser sends the cookie and its own Origin, but cannot
    // add the token header.
    let forged = console
        .http
        .post(&logout)
        .header("cookie", &session.cookie)
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    assert_eq!(
        forged.json::<Value>().await.unwrap()["error"]["code"],
        ErrorCode::CsrfFailed.as_str()
    );
    // The token alone from another origin is refused too.
    let r = console
        .http
        .post(&logout)
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // No token, or a wrong one.
    let r = console
        .http
        .post(&logout)
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = console
        .http
        .post(&logout)
        .header("cookie", &session.cookie)
        .header("x-csrf-token", "guess")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // The session survived all of that.
    let (status, _) = console
        .call(Method::GET, "/api/session", Some(&session), None)
        .await;
    assert_eq!(status, 200);
    // Same origin with the token works, and ends the session on the server.
    let host = console.base.trim_start_matches("http://").to_string();
    let r = console
        .http
        .post(&logout)
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header("origin", format!("http://{host}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(
        r.headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, _) = console
        .call(Method::GET, "/api/session", Some(&session), None)
        .await;
    assert_eq!(status, 401, "the old cookie is dead after logout");

    // Login itself needs the custom header and a same-site origin.
    let r = console
        .http
        .post(format!("{}/api/login", console.base))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = console
        .http
        .post(format!("{}/api/login", console.base))
        .header("x-requested-with", "backup-console")
        .header("origin", "https://evil.example")
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn login_failures_are_generic_and_rate_limited() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let (status, wrong_password) = console.login("viewer", "nope").await.unwrap_err();
    let (_, unknown_user) = console.login("mallory", "nope").await.unwrap_err();
    assert_eq!(status, 401);
    assert_eq!(
        wrong_password, unknown_user,
        "the answer does not tell which users exist"
    );
    for _ in 0..4 {
        let _ = console.login("viewer", "nope").await;
    }
    // Five failures for this user: even the right password is refused for a while.
    let (status, body) = console.login("viewer", PASSWORD).await.unwrap_err();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some(ErrorCode::RateLimited.as_str()))
    );
    let (_, audit) = console.get("/api/audit?action=login_failed").await;
    let entries = audit["entries"].as_array().unwrap();
    assert!(entries.len() >= 7, "{audit}");
    assert!(
        entries
            .iter()
            .any(|e| e["user"] == "mallory" && e["outcome"] == "failure")
    );
    assert!(
        entries
            .iter()
            .any(|e| e["outcome"] == "denied" && e["detail"] == "rate limited")
    );
    assert!(entries.iter().all(|e| e["client"] == "127.0.0.1"));
    // Another user from the same address is not locked out by viewer's failures (review M5)...
    console
        .login("admin", PASSWORD)
        .await
        .expect("admin logs in");
    // ...until the address as a whole has used up its allowance (20 failures, any user names).
    for i in 0..14 {
        let _ = console.login(&format!("spray{i}"), "nope").await;
    }
    let (status, _) = console.login("admin", PASSWORD).await.unwrap_err();
    assert_eq!(status, 429);
}

fn login_from(
    console: &Console,
    forwarded_for: &str,
    user: &str,
    password: &str,
) -> reqwest::RequestBuilder {
    console
        .http
        .post(format!("{}/api/login", console.base))
        .header("x-requested-with", "backup-console")
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"username": user, "password": password}))
}

/// Review M5: failures lock one (user, address) pair, not the user; behind a trusted proxy the
/// address is the client's from `X-Forwarded-For`, and the audit log records it.
#[tokio::test]
async fn a_user_locked_out_from_one_address_logs_in_from_another() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let cluster = sim.endpoints.console_config("test");
    let (auth, _) =
        auth_section("trusted_forwarded_for = true\nforwarded_for_proxies = [\"127.0.0.1\"]\n");
    let console = start_console_with(&format!("{auth}{cluster}")).await;
    for _ in 0..5 {
        let r = login_from(&console, "203.0.113.1", "admin", "nope")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    let locked = login_from(&console, "203.0.113.1", "admin", PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status().as_u16(), 429, "address A stays locked");
    assert!(locked.headers().contains_key("retry-after"));
    // Only the right-most hop that is not a trusted proxy counts; what the client wrote to its
    // left does not.
    let other = login_from(
        &console,
        "203.0.113.1, 198.51.100.7, 127.0.0.1",
        "admin",
        PASSWORD,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(other.status().as_u16(), 200, "address B logs in");
    let (_, audit) = console.get("/api/audit?user=admin").await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries[0]["action"], "login");
    assert_eq!(entries[0]["client"], "198.51.100.7");
    assert!(
        entries
            .iter()
            .filter(|e| e["outcome"] == "failure")
            .all(|e| e["client"] == "203.0.113.1"),
        "{audit}"
    );

    // Without the setting the header is the client's own word and is ignored.
    let (auth, _) = auth_section("");
    let plain = start_console_with(&format!("{auth}{cluster}")).await;
    for _ in 0..5 {
        let _ = login_from(&plain, "203.0.113.1", "operator", "nope")
            .send()
            .await;
    }
    let r = login_from(&plain, "198.51.100.7", "operator", PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        429,
        "the forged header changes nothing"
    );
}

/// Review M4: a refused login writes one audit row for its key and window, not one each.
#[tokio::test]
async fn rate_limited_logins_do_not_fill_the_audit_log() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    for _ in 0..5 {
        let _ = console.login("viewer", "nope").await;
    }
    let count = |audit: &Value| audit["entries"].as_array().map_or(0, Vec::len);
    let (_, before) = console.get("/api/audit?limit=100000").await;
    for _ in 0..20 {
        let batch: Vec<_> = (0..50)
            .map(|_| {
                let request = console
                    .http
                    .post(format!("{}/api/login", console.base))
                    .header("x-requested-with", "backup-console")
                    .json(&json!({"username": "viewer", "password": "nope"}));
                tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
            })
            .collect();
        for task in batch {
            assert_eq!(task.await.unwrap().unwrap(), 429);
        }
    }
    let (_, after) = console.get("/api/audit?limit=100000").await;
    let grown = count(&after) - count(&before);
    assert!(grown <= 2, "1,000 refused logins wrote {grown} rows");
}

/// Review M6: a proxy that appends instead of replacing would let the client's value through.
#[tokio::test]
async fn repeated_proxy_headers_are_refused() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let cluster = sim.endpoints.console_config("test");
    let (auth, _) = auth_section("");
    let proxy = "[auth.proxy]\nuser_header = \"X-Forwarded-User\"\ngroups_header = \"X-Forwarded-Groups\"\ntrusted_proxies = [\"127.0.0.1\"]\ngroup_roles = { ops = \"operator\", camunda-admins = \"admin\" }\n";
    let console = start_console_with(&format!("{auth}{proxy}{cluster}")).await;
    for (user, groups) in [
        (vec!["carol"], vec!["camunda-admins", "ops"]),
        (vec!["mallory", "carol"], vec!["ops"]),
    ] {
        let mut request = console.http.get(format!("{}/api/session", console.base));
        for u in &user {
            request = request.header("x-forwarded-user", *u);
        }
        for g in &groups {
            request = request.header("x-forwarded-groups", *g);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{user:?} {groups:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], ErrorCode::BadRequest.as_str());
    }
    let r = console
        .http
        .get(format!("{}/api/session", console.base))
        .header("x-forwarded-user", "carol")
        .header("x-forwarded-groups", "ops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// Review L8: a known path with a method it does not have is 405, and HEAD works where GET does.
#[tokio::test]
async fn unknown_methods_on_known_paths_are_405() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let r = console
        .http
        .put(format!("{}/api/clusters/test/backups", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["allow"], "GET");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], ErrorCode::MethodNotAllowed.as_str());
    let r = console
        .http
        .head(format!("{}/api/health", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn sessions_expire_when_idle_and_survive_a_restart() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let cluster = sim.endpoints.console_config("test");
    let (auth, _) = auth_section("session_idle_timeout_secs = 1\n");
    let text = format!("{auth}{cluster}");
    let console = start_console_with(&text).await;
    let session = console.session.clone();
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let (status, body) = console
        .call(Method::GET, "/api/session", Some(&session), None)
        .await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );

    // A restart on the same database keeps a live session.
    let (auth, _) = auth_section("");
    let text = format!("{auth}{cluster}");
    let first = start_console_with(&text).await;
    let session = first.session.clone();
    drop(first);
    let second = start_console_with(&text).await;
    let (status, body) = second
        .call(Method::GET, "/api/session", Some(&session), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["user"].as_str(), body["role"].as_str()),
        (Some("admin"), Some("admin"))
    );
}

#[tokio::test]
async fn a_trusted_proxy_names_the_user_and_nobody_else_can() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let cluster = sim.endpoints.console_config("test");
    let proxy = |trusted: &str| {
        format!(
            "[auth.proxy]\nuser_header = \"X-Forwarded-User\"\ngroups_header = \"X-Forwarded-Groups\"\ntrusted_proxies = [\"{trusted}\"]\ngroup_roles = {{ ops = \"operator\", viewers = \"viewer\" }}\n"
        )
    };
    let (auth, _) = auth_section("");
    let console = start_console_with(&format!("{auth}{}{cluster}", proxy("127.0.0.1"))).await;
    let as_proxy = |groups: &'static str| {
        console
            .http
            .get(format!("{}/api/session", console.base))
            .header("x-forwarded-user", "carol")
            .header("x-forwarded-groups", groups)
    };
    let body: Value = as_proxy("viewers, ops")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            body["user"].as_str(),
            body["role"].as_str(),
            body["via_proxy"].as_bool()
        ),
        (Some("carol"), Some("operator"), Some(true))
    );
    assert_eq!(
        as_proxy("marketing")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );

    // The same header from an address that is not the proxy is ignored.
    let (auth, _) = auth_section("");
    let console = start_console_with(&format!("{auth}{}{cluster}", proxy("10.9.8.7"))).await;
    let r = console
        .http
        .get(format!("{}/api/session", console.base))
        .header("x-forwarded-user", "carol")
        .header("x-forwarded-groups", "ops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn the_audit_log_filters_and_exports_for_admins_only() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let viewer = session_for(&console, Role::Viewer).await;
    let (status, _) = console
        .call(Method::POST, "/api/logout", Some(&viewer), None)
        .await;
    assert_eq!(status, 204);

    let (_, body) = console.get("/api/audit?user=viewer").await;
    let actions: Vec<&str> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["logout", "login"], "newest first");
    let (_, body) = console.get("/api/audit?action=login&user=admin").await;
    assert_eq!(body["entries"].as_array().unwrap().len(), 1);
    let (_, body) = console.get("/api/audit?from=4102444800000").await;
    assert!(
        body["entries"].as_array().unwrap().is_empty(),
        "nothing after 2100"
    );

    let r = console
        .http
        .get(format!("{}/api/audit?format=csv", console.base))
        .header("cookie", &console.session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with("id,time_utc,at_ms,user,client,action,cluster,target,outcome,detail\n"),
        "{csv}"
    );
    assert!(csv.contains("\"viewer\",\"127.0.0.1\",\"logout\""), "{csv}");
    let (status, body) = console.get("/api/audit?format=xml").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some(ErrorCode::BadRequest.as_str()))
    );
    // An action the log never records is a mistake, not an empty result (it used to answer `[]`).
    let (status, body) = console.get("/api/audit?action=log_in").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some(ErrorCode::BadRequest.as_str())),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("log_in") && message.contains("login_failed"),
        "{message}"
    );

    let operator = session_for(&console, Role::Operator).await;
    let (status, _) = console
        .call(Method::GET, "/api/audit", Some(&operator), None)
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn secrets_stay_out_of_every_answer_and_headers_lock_the_page_down() {
    let sim = start_sim(VersionProfile::V87, 3).await;
    let cluster = sim
        .endpoints
        .console_config("test")
        .replace("repository = \"camunda\"", "repository = \"camunda\"\nauth = { type = \"basic\", username_env = \"ES_USER\", password_env = \"ES_SECRET\" }");
    let (auth, _) = auth_section("");
    let text = format!("{auth}{cluster}");
    let console = start_console_with_env(&text, &|k| match k {
        "ES_USER" => Some("elastic".into()),
        "ES_SECRET" => Some("es-s3cret-value".into()),
        _ => None,
    })
    .await;
    let base = console.base.clone();
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{base}/api/login"))
        .header("x-requested-with", "backup-console")
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let headers = login.headers().clone();
    let cookie_header = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie_header.contains("HttpOnly") && cookie_header.contains("SameSite=Strict"),
        "{cookie_header}"
    );
    let login_body = login.text().await.unwrap();
    assert!(!login_body.contains(PASSWORD) && !login_body.contains("argon2"));
    let cookie = cookie_header.split(';').next().unwrap().to_string();
    let history = client
        .get(format!("{base}/api/clusters/test/backups"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(history.status().as_u16(), 200);
    for path in [
        "/api/clusters",
        "/api/clusters/test/backups",
        "/api/session",
        "/api/audit",
        "/api/audit?format=csv",
    ] {
        let r = client
            .get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let csp = r
            .headers()
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"),
            "{path}: {csp}"
        );
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let text = r.text().await.unwrap();
        for secret in ["es-s3cret-value", PASSWORD, "$argon2id$"] {
            assert!(!text.contains(secret), "{path} leaks {secret}");
        }
    }
    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'self'")
    );
}

/// A password changed in the file ends that user's sessions at the next start, and only theirs
/// (review L12): whoever knew the old password is out.
#[tokio::test]
async fn a_changed_password_ends_that_users_sessions_at_the_next_start() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let cluster = sim.endpoints.console_config("test");
    let (auth, _) = auth_section("");
    let text = format!("{auth}{cluster}");
    let first = start_console_with(&text).await;
    let admin = first.session.clone();
    let operator = session_for(&first, Role::Operator).await;
    drop(first);
    let new_hash =
        backup_console::auth::password::hash_password("a-new-operator-password").expect("hash");
    let mut changed = text.clone();
    let operator_entry = format!(
        "name = \"operator\"\npassword_hash = \"{}\"",
        password_hash()
    );
    assert!(changed.contains(&operator_entry));
    changed = changed.replace(
        &operator_entry,
        &format!("name = \"operator\"\npassword_hash = \"{new_hash}\""),
    );
    let second = start_console_with(&changed).await;
    let (status, body) = second
        .call(Method::GET, "/api/session", Some(&operator), None)
        .await;
    assert_eq!(status, 401, "the operator's old session ended: {body}");
    let (status, body) = second
        .call(Method::GET, "/api/session", Some(&admin), None)
        .await;
    assert_eq!(status, 200, "the admin's password did not change: {body}");
}

/// Behind an ingress that terminates TLS (`https_only`), the session cookie is `__Host-` and
/// Secure, answers carry HSTS, and a plain `bc_session` cookie (one a sibling subdomain could
/// plant) is not read (review L6).
#[tokio::test]
async fn https_only_uses_a_host_only_secure_cookie_and_hsts() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let (auth, _) = auth_section("");
    let text = format!(
        "[server]\nhttps_only = true\n{auth}{}",
        sim.endpoints.console_config("test")
    );
    let console = start_console_with(&text).await;
    assert!(
        console.session.cookie.starts_with("__Host-bc_session="),
        "{}",
        console.session.cookie
    );
    let response = console
        .http
        .post(format!("{}/api/login", console.base))
        .header("x-requested-with", "backup-console")
        .json(&json!({"username": "viewer", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    assert!(
        !set_cookie.to_ascii_lowercase().contains("domain="),
        "{set_cookie}"
    );
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age="),
    );
    let (status, _) = console.get("/api/session").await;
    assert_eq!(status, 200);
    // The same token under the plain name is somebody else's cookie.
    let token = console
        .session
        .cookie
        .trim_start_matches("__Host-bc_session=");
    let planted = console
        .http
        .get(format!("{}/api/session", console.base))
        .header("cookie", format!("bc_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(planted.status().as_u16(), 401);
}

/// A same-site request whose Host names the default port, or differs in case, is not a false 403.
#[tokio::test]
async fn an_explicit_default_port_or_host_case_is_still_same_site() {
    let sim = start_sim(VersionProfile::V88, 0).await;
    let console = console_for(&sim).await;
    let session = session_for(&console, Role::Viewer).await;
    for (host, origin, expected) in [
        ("Console.Example:443", "https://console.example", 204),
        ("console.example", "https://console.example:443", 204),
        ("console.example:8443", "https://console.example", 403),
    ] {
        let session = if expected == 204 {
            session_for(&console, Role::Viewer).await
        } else {
            session.clone()
        };
        let r = console
            .http
            .post(format!("{}/api/logout", console.base))
            .header("host", host)
            .header("origin", origin)
            .header("cookie", &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            expected,
            "Host {host}, Origin {origin}"
        );
    }
}
