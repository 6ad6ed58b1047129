//! The one composition root. `serve`, `demo` and the `backup` and `cleanup` commands all open the
//! same things from a configuration: the clients of every cluster, the database, the run engine
//! and retention on it. Start-up recovery lives here too, so no entry point can forget it.

use std::sync::Arc;

use crate::clock::Clock;
use crate::cluster::Clusters;
use crate::config::Config;
use crate::procedure::runner::RunSettings;
use crate::procedure::service::RunService;
use crate::retention::RetentionService;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a process of the console works with, opened once.
#[derive(Clone)]
pub struct Services {
    pub clusters: Arc<Clusters>,
    pub store: Store,
    pub runs: Arc<RunService>,
    pub retention: Arc<RetentionService>,
}

impl Services {
    /// The services on the system clock: what `serve` and the CLI run on.
    pub fn open(config: &Config) -> Result<Services, OpenError> {
        Services::open_with_clock(config, Clock::System)
    }

    /// The services on `clock`, which every one of them shares: a test's manual clock, or an
    /// accelerated one for watching schedules come due.
    pub fn open_with_clock(config: &Config, clock: Clock) -> Result<Services, OpenError> {
        let clusters = Arc::new(Clusters::from_config(config)?);
        let store = Store::open(&config.database_path())?;
        let runs = Arc::new(
            RunService::new(store.clone(), RunSettings::from_config(&config.procedure))
                .with_clock(clock),
        );
        let retention = Arc::new(RetentionService::new(
            store.clone(),
            clusters.clone(),
            runs.clone(),
            config.retention_concurrency,
        ));
        Ok(Services {
            clusters,
            store,
            runs,
            retention,
        })
    }

    /// What a long-lived process (the console) does before it takes new work: the runs a killed
    /// console or CLI left behind get exporting resumed and are marked interrupted, in the
    /// background and again whenever one goes silent; cleanups whose process stopped saying it
    /// is alive are marked interrupted. A live cleanup of a `cleanup` CLI or of another console
    /// sharing the database is left alone (review L4).
    pub async fn recover_at_start(&self) -> Result<(), StoreError> {
        self.runs.spawn_reaper(self.clusters.clone());
        let interrupted = self.retention.interrupt_stale_cleanups().await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "cleanups left running by a stopped console or CLI; retry them from the Retention page"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every service opened together runs on the one clock it was given.
    #[test]
    fn services_opened_on_a_clock_share_it() {
        let dir = std::env::temp_dir().join(format!("bc-services-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!(
            "[store]\ndatabase = {:?}\n[[clusters]]\nname = \"c\"\nversion = \"8.7\"\n\
             [clusters.zeebe]\nurl = \"http://127.0.0.1:9\"\n",
            dir.join("console.db")
        );
        let config = Config::parse(&text, "t", &|_| None).unwrap();
        let clock = Clock::manual(42_000);
        let services = Services::open_with_clock(&config, clock.clone()).unwrap();
        assert_eq!(services.runs.clock().now_ms(), 42_000);
        clock.advance(std::time::Duration::from_secs(1));
        assert_eq!(services.runs.clock().now_ms(), 43_000);
        assert_eq!(
            Services::open(&config).unwrap().runs.clock().now_ms() / 100_000,
            chrono::Utc::now().timestamp_millis() / 100_000
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
