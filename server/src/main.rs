//! `backup-console`: `serve --config FILE`, `backup`, `cleanup`, `status`, `runbook`,
//! `hash-password`; with the `demo` feature (on by default) also `demo` and `sim`, which run the
//! simulated cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use backup_console::auth::password;
use backup_console::config::Config;
#[cfg(feature = "demo")]
use backup_console::config::DEFAULT_LISTEN;
use backup_console::{tls, web};
#[cfg(feature = "demo")]
use backup_domain::api::VersionProfile;
#[cfg(feature = "demo")]
use camunda_sim::state::{Timings, TimingsProfile};
#[cfg(feature = "demo")]
use camunda_sim::{SimCluster, SimConfig};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "backup-console",
    version,
    about = "Backup Console for Camunda 8 Self-Managed"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[cfg(feature = "demo")]
    /// Start the console on three embedded simulated clusters (8.7, 8.8 and 8.9 on RDBMS) with seeded history.
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Historical backups to seed in each simulated cluster.
        #[arg(long, default_value_t = 120)]
        seed: usize,
        /// Directory of the built UI.
        #[arg(long, default_value = "dist", env = "BACKUP_CONSOLE_UI_DIR")]
        ui_dir: PathBuf,
        /// Password of the demo users (admin, operator, viewer); random when not given.
        #[arg(long, env = "BACKUP_CONSOLE_DEMO_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// How long the simulated work takes: fast (seconds) or realistic (minutes, as in
        /// production).
        #[arg(long, default_value = "fast")]
        timings: TimingsProfile,
        /// Multiplies every simulated duration (0.05 makes realistic timings 20 times faster).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Where the demo serves its Prometheus metrics.
        #[arg(long, default_value = "127.0.0.1:9464")]
        metrics_listen: SocketAddr,
        /// The backup schedule of the 8.8 cluster (five-field cron, UTC); empty for none.
        #[arg(long, default_value = "*/10 * * * *")]
        backup_schedule: String,
    },
    /// Start the console for the clusters of a configuration file.
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Address to listen on (overrides `server.listen` of the file).
        #[arg(long)]
        listen: Option<SocketAddr>,
        #[arg(long, default_value = "dist", env = "BACKUP_CONSOLE_UI_DIR")]
        ui_dir: PathBuf,
    },
    /// Take a backup of one cluster with the console's engine, for cron jobs and scripts.
    ///
    /// Exit codes: 0 completed (or started, without --wait), 1 error, 2 bad arguments or ID,
    /// 3 another run in progress, 4 preflight failed, 5 a step failed, 6 cancelled,
    /// 7 exporting may still be paused. SIGINT/SIGTERM cancel the run and resume exporting.
    Backup {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        cluster: String,
        /// The backup ID; proposed as the wizard does when omitted.
        #[arg(long)]
        id: Option<i64>,
        /// Stay until the run ends and exit with its outcome. Without it, the run goes on in a
        /// detached process and this one exits once the run has started.
        #[arg(long)]
        wait: bool,
        #[arg(long, hide = true)]
        detached: bool,
    },
    /// Delete what the cluster's retention policy plans, as the console would; `--dry-run` only
    /// prints the plan. Exit 0 when all is deleted, 5 when some artifacts failed.
    Cleanup {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        cluster: String,
        #[arg(long)]
        dry_run: bool,
        /// Run even when the plan deletes more than half of the sets, or a component holds
        /// none of the IDs the others hold (without it the cleanup refuses, as a schedule does).
        #[arg(long)]
        allow_large: bool,
    },
    /// Print each cluster's RPO, exporting phase, last run and reachability, and exit as a
    /// monitoring plugin does: 0 ok, 1 warning, 2 critical, 3 unknown (a configuration or
    /// connection error included). These codes differ from the other commands'.
    Status {
        #[arg(long)]
        config: PathBuf,
        /// Only this cluster.
        #[arg(long)]
        cluster: Option<String>,
        /// Print JSON instead of one line per cluster.
        #[arg(long)]
        json: bool,
    },
    /// Print the restore runbook of one backup set (Markdown, or a shell script with `--format
    /// sh`). It restores nothing. Exit 0 printed, 1 error, 2 unknown cluster, bad or absent ID.
    Runbook {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        cluster: String,
        #[arg(long)]
        id: String,
        #[arg(long, default_value = "md", value_parser = parse_runbook_format)]
        format: backup_domain::runbook::RunbookFormat,
    },
    /// Read a password from standard input and print its Argon2id hash for `[[auth.users]]`.
    HashPassword,
    #[cfg(feature = "demo")]
    /// Run a simulated Camunda cluster alone and print where each component listens.
    Sim {
        /// API generation: 8.7 or 8.8.
        #[arg(long, default_value = "8.8", value_parser = parse_profile)]
        profile: VersionProfile,
        #[arg(long, default_value_t = 20)]
        seed: usize,
        #[arg(long, default_value_t = 3)]
        partitions: u32,
        /// First port; components take consecutive ports. Free ports when omitted.
        #[arg(long)]
        base_port: Option<u16>,
        /// Also write a console configuration file for this cluster.
        #[arg(long)]
        write_config: Option<PathBuf>,
        /// How long the simulated work takes: fast (seconds) or realistic (minutes, as in
        /// production).
        #[arg(long, default_value = "fast")]
        timings: TimingsProfile,
        /// Multiplies every simulated duration (0.05 makes realistic timings 20 times faster).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
}

#[cfg(feature = "demo")]
fn parse_profile(text: &str) -> Result<VersionProfile, String> {
    match text {
        "8.7" => Ok(VersionProfile::V87),
        "8.8" => Ok(VersionProfile::V88),
        other => Err(format!("`{other}`: use 8.7 or 8.8")),
    }
}

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Config(#[from] backup_console::config::ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[cfg(feature = "demo")]
    #[error("cannot start the simulated cluster: {0}")]
    Sim(std::io::Error),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[cfg(feature = "demo")]
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Start(#[from] backup_console::web::StartError),
    #[error("cannot read the password from standard input: {0}")]
    Stdin(std::io::Error),
    #[error("{0}")]
    Password(#[from] backup_console::auth::password::PasswordError),
    #[error("an empty password cannot be hashed")]
    EmptyPassword,
    #[error(transparent)]
    Tls(#[from] backup_console::tls::TlsError),
}

fn main() -> ExitCode {
    backup_console::memory::limit_arenas();
    // Logs go to stderr: stdout carries the commands' own answers, which scripts read (the
    // detached `backup` parent reads the child's "started run" line from it).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn")),
        )
        .init();
    let cli = Cli::parse();
    // The one dispatch: CLI commands map their outcome to exit codes, the others succeed or fail.
    match cli.command {
        Command::Status {
            config,
            cluster,
            json,
        } => {
            let args = backup_console::cli::StatusArgs {
                config,
                cluster,
                json,
            };
            match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => ExitCode::from(rt.block_on(backup_console::cli::status(args)) as u8),
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    ExitCode::from(3)
                }
            }
        }
        Command::Cleanup {
            config,
            cluster,
            dry_run,
            allow_large,
        } => {
            let args = backup_console::cli::CleanupArgs {
                config,
                cluster,
                dry_run,
                allow_large,
            };
            run_cli(backup_console::cli::cleanup(args), false)
        }
        Command::Backup {
            config,
            cluster,
            id,
            wait,
            detached,
        } => {
            let args = backup_console::cli::BackupArgs {
                config,
                cluster,
                id,
                wait,
                detached,
            };
            run_cli(backup_console::cli::backup(args), detached)
        }
        #[cfg(feature = "demo")]
        Command::Demo {
            listen,
            seed,
            ui_dir,
            password,
            timings,
            scale,
            metrics_listen,
            backup_schedule,
        } => run_server(demo(DemoArgs {
            listen,
            seed,
            ui_dir,
            password,
            timings,
            scale,
            metrics_listen,
            backup_schedule,
        })),
        Command::Serve {
            config,
            listen,
            ui_dir,
        } => run_server(serve_file(config, listen, ui_dir)),
        Command::Runbook {
            config,
            cluster,
            id,
            format,
        } => run_cli(
            backup_console::cli::runbook(backup_console::cli::RunbookArgs {
                config,
                cluster,
                id,
                format,
            }),
            false,
        ),
        Command::HashPassword => run_server(async { hash_password() }),
        #[cfg(feature = "demo")]
        Command::Sim {
            profile,
            seed,
            partitions,
            base_port,
            write_config,
            timings,
            scale,
        } => {
            let mut config = SimConfig::new(profile);
            config.timings = Timings::of(timings, scale);
            config.seed_count = seed;
            config.partitions = partitions;
            config.base_port = base_port;
            run_server(sim(config, write_config))
        }
    }
}

/// A CLI command on its own runtime; its outcome is the exit code.
fn parse_runbook_format(text: &str) -> Result<backup_domain::runbook::RunbookFormat, String> {
    backup_domain::runbook::RunbookFormat::parse(text)
        .ok_or_else(|| format!("`{text}` is not a format; use md or sh"))
}

fn run_cli(
    command: impl std::future::Future<
        Output = Result<backup_console::cli::Exit, backup_console::cli::CliError>,
    >,
    detached: bool,
) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => match rt.block_on(command) {
            Ok(exit) => exit.into(),
            Err(e) => {
                // A detached child's only channel is its standard output.
                if detached {
                    println!("{e}");
                }
                eprintln!("error: {e}");
                e.exit().into()
            }
        },
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A server command (or one that needs no exit code of its own) on its own runtime.
fn run_server(command: impl std::future::Future<Output = Result<(), RunError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(command);
    // Runs have stopped by now (`serve` waits for them); what is left (the reaper, the retention
    // scheduler, a database call in flight) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `demo`'s options.
#[cfg(feature = "demo")]
struct DemoArgs {
    listen: SocketAddr,
    seed: usize,
    ui_dir: PathBuf,
    password: Option<String>,
    timings: TimingsProfile,
    scale: f64,
    metrics_listen: SocketAddr,
    backup_schedule: String,
}

#[cfg(feature = "demo")]
async fn demo(args: DemoArgs) -> Result<(), RunError> {
    let DemoArgs {
        listen,
        seed,
        ui_dir,
        password,
        timings,
        scale,
        metrics_listen,
        backup_schedule,
    } = args;
    let password =
        password.unwrap_or_else(|| backup_console::auth::random_token()[..16].to_string());
    let hash = password::hash_password(&password)?;
    let database =
        std::env::temp_dir().join(format!("backup-console-demo-{}.db", std::process::id()));
    let mut text = format!(
        "[store]\ndatabase = {:?}\n[metrics]\nlisten = \"{metrics_listen}\"\n[auth]\n",
        database.display().to_string()
    );
    for (user, role) in [
        ("admin", "admin"),
        ("operator", "operator"),
        ("viewer", "viewer"),
    ] {
        text.push_str(&format!(
            "[[auth.users]]\nname = \"{user}\"\npassword_hash = \"{hash}\"\nrole = \"{role}\"\n"
        ));
    }
    let mut sims = Vec::new();
    for (name, profile, rng_seed) in [
        ("demo-87", VersionProfile::V87, 7),
        ("demo-88", VersionProfile::V88, 11),
    ] {
        let mut config = SimConfig::new(profile);
        config.seed_count = seed;
        config.seed = rng_seed;
        config.timings = Timings::of(timings, scale);
        let sim = SimCluster::start(config).await.map_err(RunError::Sim)?;
        text.push_str(&sim.endpoints.console_config(name));
        // The 8.8 cluster backs itself up (every ten minutes), without anyone clicking.
        if profile == VersionProfile::V88 && !backup_schedule.trim().is_empty() {
            text.push_str(&format!(
                "\n[clusters.backup]\nschedule = {:?}\n",
                backup_schedule.trim()
            ));
        }
        text.push('\n');
        sims.push(sim);
    }
    // An 8.9 cluster on RDBMS secondary storage with Zeebe's own scheduler on, as Camunda
    // recommends there (§9.1): its history mixes the scheduler's backups (every ten
    // minutes, generated IDs) with the console's, and the wizard shows a generated ID.
    {
        let mut config = SimConfig::rdbms(Some(camunda_sim::state::ZeebeScheduler {
            interval_ms: 600_000,
            offset: 0,
        }));
        config.seed_count = seed;
        config.seed = 13;
        config.timings = Timings::of(timings, scale);
        let sim = SimCluster::start(config).await.map_err(RunError::Sim)?;
        text.push_str(&sim.endpoints.console_config("c89-rdbms"));
        text.push('\n');
        sims.push(sim);
    }
    // An 8.10 cluster over the REST API, with HTTP Basic credentials made up for this run: the
    // console reads them as the environment variables its configuration names.
    let rest_sim = {
        let mut config = SimConfig::new(VersionProfile::V88);
        config.seed_count = seed;
        config.seed = 13;
        config.timings = Timings::of(timings, scale);
        config.rest = Some(camunda_sim::SimRest {
            username: "backup-console".into(),
            password: backup_console::auth::random_token(),
            jwks_url: None,
        });
        SimCluster::start(config).await.map_err(RunError::Sim)?
    };
    text.push_str(&rest_sim.endpoints.console_config("c810-rest"));
    let rest_env = rest_sim.endpoints.clone();
    sims.push(rest_sim);
    // The demo goes through the same parser as a real configuration file.
    let config = Config::parse(&text, "(demo)", &move |k| rest_env.env(k))?;
    println!(
        "c810-rest: the 8.10 REST API with HTTP Basic credentials made up for this run ({} and {})",
        camunda_sim::REST_USER_ENV,
        camunda_sim::REST_PASSWORD_ENV
    );
    println!(
        "Backup Console demo: http://{listen}/ (simulated clusters demo-87, demo-88, c89-rdbms and c810-rest)"
    );
    println!("Log in as admin, operator or viewer, password: {password}");
    println!("Prometheus metrics: http://{metrics_listen}/metrics");
    serve(config, listen, &ui_dir).await
}

/// `serve`: the console for the clusters of a configuration file.
async fn serve_file(
    config: PathBuf,
    listen: Option<SocketAddr>,
    ui_dir: PathBuf,
) -> Result<(), RunError> {
    let config = Config::load(&config)?;
    let listen = listen.unwrap_or(config.listen);
    serve(config, listen, &ui_dir).await
}

fn hash_password() -> Result<(), RunError> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(RunError::Stdin)?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(RunError::EmptyPassword);
    }
    println!("{}", password::hash_password(password)?);
    Ok(())
}

/// `sim`: one simulated cluster until a signal, optionally with a console configuration for it.
#[cfg(feature = "demo")]
async fn sim(config: SimConfig, write_config: Option<PathBuf>) -> Result<(), RunError> {
    let sim = SimCluster::start(config).await.map_err(RunError::Sim)?;
    if let Some(path) = write_config {
        std::fs::write(&path, sim.endpoints.console_config("sim")).map_err(|source| {
            RunError::Write {
                path: path.clone(),
                source,
            }
        })?;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&sim.endpoints).unwrap_or_default()
    );
    shutdown_signal().await;
    Ok(())
}

async fn serve(
    config: Config,
    listen: SocketAddr,
    ui_dir: &std::path::Path,
) -> Result<(), RunError> {
    if !ui_dir.join("index.html").exists() {
        tracing::warn!(dir = %ui_dir.display(), "no built UI here; run scripts/build-ui.sh (the API still works)");
    }
    let tls = config
        .tls
        .as_ref()
        .map(|t| tls::acceptor(&t.cert, &t.key))
        .transpose()?;
    let console = web::console_for(&config, ui_dir, config.https_only).await?;
    let app = console.router.clone();
    if let Some(addr) = config.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| RunError::Listen { addr, source })?;
        tracing::info!(listen = %addr, "metrics listening at /metrics");
        let router = console.metrics_router.clone();
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| RunError::Listen {
            addr: listen,
            source,
        })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%listen, scheme, clusters = config.clusters.len(), "backup console listening");
    // The HTTP server stops accepting on the signal, while the runs are stopped beside it.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let http_stop = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    };
    let mut server = tokio::spawn(async move {
        match tls {
            Some(acceptor) => {
                web::serve(tls::TlsListener::new(listener, acceptor), app, http_stop).await
            }
            None => web::serve(listener, app, http_stop).await,
        }
    });
    tokio::select! {
        () = shutdown_signal() => {}
        ended = &mut server => {
            return match ended {
                Ok(result) => result.map_err(RunError::Serve),
                Err(join) => Err(RunError::Serve(std::io::Error::other(join.to_string()))),
            };
        }
    }
    tracing::warn!(
        "stopping: no new connections; cancelling backup runs and resuming exporting before exit (a second signal exits at once)"
    );
    let _ = stop_tx.send(true);
    tokio::select! {
        () = console.shutdown() => {}
        () = shutdown_signal() => {
            tracing::error!("second signal: exiting without waiting for the runs; a console started on this database resumes their exporting");
            return Ok(());
        }
    }
    // Event streams have ended with the runs; other answers get a moment to finish.
    match tokio::time::timeout(std::time::Duration::from_secs(5), server).await {
        Ok(Ok(result)) => result.map_err(RunError::Serve),
        Ok(Err(join)) => Err(RunError::Serve(std::io::Error::other(join.to_string()))),
        Err(_) => {
            tracing::warn!("open connections did not close within 5 s of the runs stopping");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// `demo` and `sim` run the simulator, so a build without the `demo` feature has neither,
    /// nor a word of it in the help (`scripts/test.sh` runs this with `--no-default-features`).
    #[test]
    fn the_help_lists_the_simulator_commands_only_with_the_demo_feature() {
        let demo = cfg!(feature = "demo");
        let mut cli = Cli::command();
        let names: Vec<String> = cli
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        let help = cli.render_help().to_string();
        for name in ["demo", "sim"] {
            assert_eq!(names.iter().any(|n| n == name), demo, "{name}: {names:?}");
            let listed = help
                .lines()
                .any(|line| line.split_whitespace().next() == Some(name));
            assert_eq!(listed, demo, "{name} in the help:\n{help}");
        }
        assert_eq!(help.to_lowercase().contains("simulat"), demo, "{help}");
        assert!(names.iter().any(|n| n == "serve"), "{names:?}");
    }
}
