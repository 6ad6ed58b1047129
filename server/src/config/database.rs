//! `[[clusters.databases]]`: PostgreSQL databases the console dumps itself as steps of a backup
//! (Web Modeler's, and from 8.9 the RDBMS secondary storage).

use std::path::PathBuf;
use std::time::Duration;

use backup_domain::Component;
use backup_domain::api::SecondaryStorage;

use super::secret::Secret;
use super::{ConfigError, invalid};
use crate::config::file::FileDatabase;

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `name`: "web-modeler" or "rdbms"; the dump file is `<name>.dump`.
    pub name: String,
    pub component: Component,
    /// The name of the variable that held the URL, for messages.
    pub url_env: String,
    /// The `postgres://` URL with its password: never logged, never answered.
    pub url: Secret,
    /// `directory`: the dumps go to `<directory>/<cluster>/<backup-id>/<name>.dump`.
    pub directory: PathBuf,
    pub since_backup_id: Option<u64>,
    /// `pg_dump` and `pg_restore`: looked up on `PATH` when the file names no path.
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
    /// `timeout_secs`; the procedure's step timeout when `None`.
    pub timeout: Option<Duration>,
}

impl DatabaseConfig {
    /// The URL split by libpq's rules: what the command line may show, and the password.
    pub fn connection(&self) -> Result<PgUrl, String> {
        parse_pg_url(self.url.expose())
    }
}

pub(super) fn resolve_databases(
    files: Vec<FileDatabase>,
    at: &str,
    storage: SecondaryStorage,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<DatabaseConfig>, ConfigError> {
    let mut out: Vec<DatabaseConfig> = Vec::new();
    for (i, d) in files.into_iter().enumerate() {
        let key = format!("{at}.databases[{i}]");
        let component = match d.name.as_str() {
            "web-modeler" => Component::WebModelerDump,
            "rdbms" if storage == SecondaryStorage::Rdbms => Component::RdbmsDump,
            "rdbms" => {
                return Err(invalid(
                    format!("{key}.name"),
                    "`rdbms` is the RDBMS secondary storage: set secondary_storage = \"rdbms\" on the cluster (8.9 and later)",
                ));
            }
            other => {
                return Err(invalid(
                    format!("{key}.name"),
                    format!(
                        "`{other}` is not a database the console dumps; use \"web-modeler\" or \"rdbms\""
                    ),
                ));
            }
        };
        if out.iter().any(|o| o.component == component) {
            return Err(invalid(
                format!("{key}.name"),
                format!("`{}` is listed twice", d.name),
            ));
        }
        if d.url_env.trim().is_empty() {
            return Err(invalid(
                format!("{key}.url_env"),
                "must name the environment variable holding the postgres:// URL",
            ));
        }
        let url = env(&d.url_env).filter(|v| !v.is_empty()).ok_or_else(|| {
            invalid(
                format!("{key}.url_env"),
                format!("the environment variable `{}` is not set", d.url_env),
            )
        })?;
        check_url(&url).map_err(|reason| {
            invalid(
                format!("{key}.url_env"),
                format!("the value of `{}` {reason}", d.url_env),
            )
        })?;
        if d.directory.trim().is_empty() {
            return Err(invalid(
                format!("{key}.directory"),
                "must name the directory the dumps are written to",
            ));
        }
        let program = |value: Option<String>, field: &str, default: &str| match value {
            Some(v) if v.trim().is_empty() => Err(invalid(
                format!("{key}.{field}"),
                "must not be empty; leave it out to use the one on PATH",
            )),
            Some(v) => Ok(PathBuf::from(v)),
            None => Ok(PathBuf::from(default)),
        };
        let timeout = match d.timeout_secs {
            Some(0) => return Err(invalid(format!("{key}.timeout_secs"), "must be at least 1")),
            Some(secs) if secs > MAX_TIMEOUT_SECS => {
                return Err(invalid(
                    format!("{key}.timeout_secs"),
                    format!("must be at most {MAX_TIMEOUT_SECS} (7 days)"),
                ));
            }
            Some(secs) => Some(Duration::from_secs(secs)),
            None => None,
        };
        out.push(DatabaseConfig {
            component,
            url: Secret::new(url),
            url_env: d.url_env,
            directory: PathBuf::from(d.directory),
            since_backup_id: d.since_backup_id,
            pg_dump: program(d.pg_dump, "pg_dump", "pg_dump")?,
            pg_restore: program(d.pg_restore, "pg_restore", "pg_restore")?,
            timeout,
            name: d.name,
        });
    }
    if storage == SecondaryStorage::Rdbms
        && !out.iter().any(|d| d.component == Component::RdbmsDump)
    {
        // Allowed (the database may be backed up by other means), but the plan says so.
        tracing::warn!(
            cluster = at,
            "secondary_storage = \"rdbms\" without a [[clusters.databases]] name = \"rdbms\": the console takes no dump of it"
        );
    }
    Ok(out)
}

/// The largest `timeout_secs`: a week. Past it a dump is stuck, not slow (and a huge value
/// would overflow the clock's arithmetic).
pub const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;

/// Query parameters libpq reads as secrets: they would reach `pg_dump`'s command line.
const SECRET_PARAMETERS: &[&str] = &["password", "sslpassword"];

/// A `postgres://` URL read by libpq's rules: several `host[:port]` separated by commas, an
/// empty host (the default socket, or `?host=/run/postgresql`), the password in the user part.
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// The URL without its password: what `--dbname=` may show.
    pub without_password: String,
    /// The password, percent-decoded: it goes in the child's environment.
    pub password: Option<String>,
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgUrl(***)")
    }
}

/// Splits a libpq connection URI. The reasons never quote the URL or a parameter's value: they
/// may hold a secret.
pub fn parse_pg_url(value: &str) -> Result<PgUrl, String> {
    let (scheme, rest) = ["postgresql://", "postgres://"]
        .iter()
        .find_map(|s| value.strip_prefix(s).map(|rest| (*s, rest)))
        .ok_or_else(|| "must be a postgres:// or postgresql:// URL".to_string())?;
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("is not a URL: it holds a space or a control character".into());
    }
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (before_query, None),
    };
    // libpq takes the first `@` as the end of the credentials.
    let (user, password, hosts) = match authority.split_once('@') {
        Some((userinfo, hosts)) => match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(percent_decode(p)), hosts),
            None => (userinfo, None, hosts),
        },
        None => ("", None, authority),
    };
    if !hosts.is_empty() {
        for host in hosts.split(',') {
            check_host(host)?;
        }
    }
    if let Some(query) = query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let Some((key, _)) = pair.split_once('=') else {
                return Err("has a query parameter without `=`".into());
            };
            let key = percent_decode(key);
            if SECRET_PARAMETERS.contains(&key.as_str()) {
                return Err(format!(
                    "has `{key}` as a query parameter: a secret there would reach pg_dump's command line; put the password in the URL's user part (postgres://user:password@host/db), and use a client key without a passphrase"
                ));
            }
        }
    }
    let mut without_password = scheme.to_string();
    if !user.is_empty() {
        without_password.push_str(user);
        without_password.push('@');
    }
    without_password.push_str(hosts);
    if let Some(path) = path {
        without_password.push('/');
        without_password.push_str(path);
    }
    if let Some(query) = query {
        without_password.push('?');
        without_password.push_str(query);
    }
    Ok(PgUrl {
        without_password,
        password,
    })
}

/// One `host[:port]` of a URL's host list: a name, an IPv4 or a bracketed IPv6 address.
fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| "has an IPv6 host without its closing `]`".to_string())?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("has an IPv6 host that is not an address".into());
        }
        match after {
            "" => (addr, None),
            p => (
                addr,
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| "has text after an IPv6 host".to_string())?,
                ),
            ),
        }
    } else {
        match host.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        }
    };
    if name.is_empty() && port.is_none() {
        return Err("has an empty host in its host list".into());
    }
    if name.contains(['/', '@', '[', ']']) {
        return Err("has a host that is not a name or an address".into());
    }
    if let Some(port) = port
        && !port.is_empty()
        && port.parse::<u16>().ok().filter(|p| *p > 0).is_none()
    {
        return Err("has a port that is not a number from 1 to 65535".into());
    }
    Ok(())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a URL is not one `pg_dump` takes with its secrets kept off its command line.
fn check_url(value: &str) -> Result<(), String> {
    parse_pg_url(value).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::super::fixtures::env_with;
    use super::*;

    fn cluster(extra: &str, databases: &str) -> String {
        format!(
            "[[clusters]]\nname = \"a\"\nversion = \"8.9\"\n{extra}[clusters.orchestration]\nurl = \"http://h:9600\"\n{databases}"
        )
    }

    const MODELER: &str = "[[clusters.databases]]\nname = \"web-modeler\"\nurl_env = \"MODELER_DB\"\ndirectory = \"/var/dumps\"\n";

    fn err(text: &str, env: &'static [(&'static str, &'static str)]) -> String {
        Config::parse(text, "c.toml", &env_with(env))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_web_modeler_database_resolves_with_its_secret_redacted() {
        let env = env_with(&[("MODELER_DB", "postgres://m:hunter2@db:5432/modeler")]);
        let config = Config::parse(
            &cluster(
                "",
                &format!("{MODELER}since_backup_id = 40\ntimeout_secs = 90\n"),
            ),
            "c.toml",
            &env,
        )
        .unwrap();
        let c = &config.clusters[0];
        let d = &c.databases[0];
        assert_eq!(d.component, Component::WebModelerDump);
        assert_eq!(d.url.expose(), "postgres://m:hunter2@db:5432/modeler");
        assert_eq!(d.directory, PathBuf::from("/var/dumps"));
        assert_eq!(d.pg_dump, PathBuf::from("pg_dump"));
        assert_eq!(d.timeout, Some(Duration::from_secs(90)));
        assert!(c.expected_since.contains(&(Component::WebModelerDump, 40)));
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("Secret(***)"));
    }

    #[test]
    fn bad_databases_are_refused_naming_the_key_and_never_the_url() {
        let e = err(&cluster("", MODELER), &[]);
        assert_eq!(
            e,
            "configuration key `clusters.a.databases[0].url_env`: the environment variable `MODELER_DB` is not set"
        );
        let e = err(
            &cluster("", MODELER),
            &[("MODELER_DB", "mysql://m:hunter2@db/modeler")],
        );
        assert!(
            e.contains("databases[0].url_env`: the value of `MODELER_DB` must be a postgres://"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        let e = err(
            &cluster("", MODELER),
            &[("MODELER_DB", "postgres://db/modeler?password=hunter2")],
        );
        assert!(e.contains("as a query parameter"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let rdbms = MODELER.replace("web-modeler", "rdbms");
        let e = err(&cluster("", &rdbms), &[("MODELER_DB", "postgres://db/x")]);
        assert!(e.starts_with("configuration key `clusters.a.databases[0].name`: `rdbms` is the RDBMS secondary storage"), "{e}");
        let e = err(
            &cluster("", &MODELER.replace("web-modeler", "operate")),
            &[("MODELER_DB", "postgres://db/x")],
        );
        assert!(e.contains("`operate` is not a database"), "{e}");
        let e = err(
            &cluster("", &format!("{MODELER}{MODELER}")),
            &[("MODELER_DB", "postgres://db/x")],
        );
        assert!(
            e.contains("databases[1].name`: `web-modeler` is listed twice"),
            "{e}"
        );
        let e = err(
            &cluster("", &format!("{MODELER}timeout_secs = 0\n")),
            &[("MODELER_DB", "postgres://db/x")],
        );
        assert!(
            e.contains("databases[0].timeout_secs`: must be at least 1"),
            "{e}"
        );
        let e = err(
            &cluster("", &MODELER.replace("/var/dumps", "")),
            &[("MODELER_DB", "postgres://db/x")],
        );
        assert!(e.contains("databases[0].directory`"), "{e}");
    }

    #[test]
    fn libpq_urls_split_by_libpq_rules_with_secrets_kept_out() {
        let u = parse_pg_url(
            "postgresql://m:p%40w@db1:5432,[::1]:5433/modeler?target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(
            u.without_password,
            "postgresql://m@db1:5432,[::1]:5433/modeler?target_session_attrs=read-write"
        );
        assert_eq!(u.password.as_deref(), Some("p@w"));
        let u = parse_pg_url("postgres:///modeler?host=/run/postgresql").unwrap();
        assert_eq!(
            u.without_password,
            "postgres:///modeler?host=/run/postgresql"
        );
        assert_eq!(u.password, None);
        assert!(format!("{u:?}").contains("***"));
        let e = parse_pg_url("postgres://db/m?ssl%70assword=Key-9").unwrap_err();
        assert!(e.contains("`sslpassword`"), "{e}");
        assert!(!e.contains("Key-9"), "{e}");
        assert!(
            parse_pg_url("postgres://db:99999/m")
                .unwrap_err()
                .contains("port")
        );
        assert!(
            parse_pg_url("postgres://db1,,db2/m")
                .unwrap_err()
                .contains("empty host")
        );
        assert!(
            parse_pg_url("postgres://[zz]/m")
                .unwrap_err()
                .contains("IPv6")
        );
        assert!(
            parse_pg_url("http://db/m")
                .unwrap_err()
                .contains("postgres://")
        );
        let e = err(
            &cluster(
                "",
                &format!("{MODELER}timeout_secs = 9223372036854775807\n"),
            ),
            &[("MODELER_DB", "postgres://db/x")],
        );
        assert!(
            e.contains("databases[0].timeout_secs`: must be at most 604800"),
            "{e}"
        );
    }

    #[test]
    fn an_rdbms_dump_needs_rdbms_storage() {
        let rdbms = MODELER.replace("web-modeler", "rdbms");
        let env = env_with(&[("MODELER_DB", "postgresql://u:p@db/camunda")]);
        let config = Config::parse(
            &cluster("secondary_storage = \"rdbms\"\n", &rdbms),
            "c.toml",
            &env,
        )
        .unwrap();
        assert_eq!(
            config.clusters[0].databases[0].component,
            Component::RdbmsDump
        );
        // Without one the cluster is allowed.
        let config = Config::parse(
            &cluster("secondary_storage = \"rdbms\"\n", ""),
            "c.toml",
            &env,
        )
        .unwrap();
        assert!(config.clusters[0].databases.is_empty());
    }
}
