//! A real PostgreSQL server for the dump tests: Debian's `postgresql` package (scripts/setup.sh
//! `--browser` installs it), started once per test binary in a temporary directory on a free
//! port. `initdb` and `pg_ctl` refuse to run as root, and CI runs as root, so there they run as
//! the package's `postgres` user (or `nobody`) through `runuser`.
//!
//! The server is stopped when the test binary exits, however it exits: a watcher process holds
//! the read end of a pipe whose write end only this process has; when the process is gone the
//! read sees end of file and the watcher stops the server (`pg_ctl stop -m immediate`) and
//! removes the directory. A detached postmaster never outlives the tests, so `make test` cannot
//! hang on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The seeded database's name, role and password.
pub const DATABASE: &str = "modeler";
pub const ROLE: &str = "modeler";
pub const ROLE_PASSWORD: &str = "pg-Secret-4f9a2c";
/// Rows in the seeded table `diagrams`.
pub const SEEDED_ROWS: usize = 250;

pub struct Postgres {
    /// `postgres://modeler:<password>@127.0.0.1:<port>/modeler`.
    pub url: String,
    pub port: u16,
    /// Where `pg_dump`, `pg_restore` and `psql` of the same version are.
    pub bin_dir: PathBuf,
    /// Keeps the watcher's pipe open as long as the test binary runs.
    _watcher_stdin: std::sync::Mutex<std::process::ChildStdin>,
}

impl Postgres {
    /// The URL with another password: the server refuses it.
    pub fn url_with_password(&self, password: &str) -> String {
        format!(
            "postgres://{ROLE}:{password}@127.0.0.1:{}/{DATABASE}",
            self.port
        )
    }

    pub fn pg_dump(&self) -> PathBuf {
        self.bin_dir.join("pg_dump")
    }

    pub fn pg_restore(&self) -> PathBuf {
        self.bin_dir.join("pg_restore")
    }
}

/// The one server of this test binary, started on first use.
pub fn server() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(|| start().unwrap_or_else(|e| panic!("PostgreSQL for the tests: {e}")))
}

/// The newest `/usr/lib/postgresql/<major>/bin` that has a server.
fn bin_dir() -> Result<PathBuf, String> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            format!("/usr/lib/postgresql: {e}; install it with scripts/setup.sh --browser")
        })?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no /usr/lib/postgresql/*/bin/initdb; run scripts/setup.sh --browser".into())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn user_exists(user: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(user)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A command that runs `program` as `user` (through runuser) or as this process's user.
fn command_as(user: Option<&str>, program: &Path) -> Command {
    match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.arg("-u").arg(user).arg("--").arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn run(mut command: Command, what: &str) -> Result<String, String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn start() -> Result<Postgres, String> {
    let bin = bin_dir()?;
    let user = if is_root() {
        Some(if user_exists("postgres") {
            "postgres"
        } else {
            "nobody"
        })
    } else {
        None
    };
    let dir = std::env::temp_dir().join(format!("bc-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let data = dir.join("data");
    let log = dir.join("server.log");
    if let Some(user) = user {
        let mut chown = Command::new("chown");
        chown.arg(format!("{user}:")).arg(&dir);
        run(chown, "chown the PostgreSQL directory")?;
    }

    let mut initdb = command_as(user, &bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ])
        .args(["--encoding=UTF8", "--no-sync"]);
    run(initdb, "initdb")?;

    let port = free_port()?;
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
        dir.display()
    );
    let mut pg_ctl = command_as(user, &bin.join("pg_ctl"));
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .arg("-o")
        .arg(&options)
        .args(["-w", "-t", "60", "start"]);
    // pg_ctl starts the postmaster with its output in the log, so nothing holds our pipes.
    run(pg_ctl, "pg_ctl start").map_err(|e| {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        format!("{e}\n{log}")
    })?;

    // The watcher: stops the server when this process's end of the pipe closes.
    let script = format!(
        "read _ignored; {run_as}'{pg_ctl}' -D '{data}' -m immediate stop; rm -rf '{dir}'",
        run_as = user
            .map(|u| format!("runuser -u {u} -- "))
            .unwrap_or_default(),
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let mut watcher = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("the PostgreSQL watcher: {e}"))?;
    let watcher_stdin = watcher
        .stdin
        .take()
        .ok_or("the PostgreSQL watcher has no stdin")?;

    let psql = |sql: &str, database: &str| {
        let mut c = command_as(user, &bin.join("psql"));
        c.arg("-h")
            .arg(&dir)
            .arg("-p")
            .arg(port.to_string())
            .args([
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-d",
                database,
            ])
            .arg("-c")
            .arg(sql);
        run(c, "psql")
    };
    psql(
        &format!("CREATE ROLE {ROLE} LOGIN PASSWORD '{ROLE_PASSWORD}'"),
        "postgres",
    )?;
    psql(
        &format!("CREATE DATABASE {DATABASE} OWNER {ROLE}"),
        "postgres",
    )?;
    psql(
        &format!(
            "SET ROLE {ROLE}; CREATE TABLE diagrams (id serial PRIMARY KEY, name text NOT NULL, \
             xml text NOT NULL); INSERT INTO diagrams (name, xml) SELECT 'diagram ' || g, \
             repeat('<bpmn:task id=\"t' || g || '\"/>', 20) FROM generate_series(1, {SEEDED_ROWS}) g"
        ),
        DATABASE,
    )?;

    Ok(Postgres {
        url: format!("postgres://{ROLE}:{ROLE_PASSWORD}@127.0.0.1:{port}/{DATABASE}"),
        port,
        bin_dir: bin,
        _watcher_stdin: std::sync::Mutex::new(watcher_stdin),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_server_starts_seeded_and_refuses_a_wrong_password() {
        let pg = super::server();
        let dump = std::process::Command::new(pg.pg_dump())
            .arg("--dbname")
            .arg(&pg.url)
            .arg("--table=diagrams")
            .output()
            .expect("pg_dump runs");
        assert!(
            dump.status.success(),
            "{}",
            String::from_utf8_lossy(&dump.stderr)
        );
        assert!(String::from_utf8_lossy(&dump.stdout).contains("diagram 250"));
        let refused = std::process::Command::new(pg.pg_dump())
            .arg("--dbname")
            .arg(pg.url_with_password("wrong"))
            .output()
            .expect("pg_dump runs");
        assert!(!refused.status.success());
    }
}
