//! The one composition root. `serve`, `demo` and the `backup` and `cleanup` commands all open the
//! same things from a configuration: the clients of every cluster, the database, the run engine
//! and retention on it. Start-up recovery lives here too, so no entry point can forget it.

use std::sync::Arc;

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
    pub fn open(config: &Config) -> Result<Services, OpenError> {
        let clusters = Arc::new(Clusters::from_config(config)?);
        let store = Store::open(&config.database_path())?;
        let runs = Arc::new(RunService::new(
            store.clone(),
            RunSettings::from_config(&config.procedure),
        ));
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
