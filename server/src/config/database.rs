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

/// Why a URL is not one `pg_dump` takes with the password kept off its command line. The
/// reasons never quote the URL: it holds the password.
fn check_url(value: &str) -> Result<(), String> {
    let url = url::Url::parse(value).map_err(|_| "is not a URL".to_string())?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err("must be a postgres:// or postgresql:// URL".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if url.query_pairs().any(|(k, _)| k == "password") {
        return Err("has the password as a query parameter; put it in the URL's user part (postgres://user:password@host/db)".into());
    }
    Ok(())
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
