//! The backup catalog of each cluster: the merged history kept in the store, so that viewers read
//! pages of it instead of listing every component (a Zeebe listing scans its backup store, which
//! a bucket bills, and a web-apps listing of thousands of snapshots takes a minute).
//!
//! One keeper task per cluster refreshes it: every `[catalog] refresh_secs` while someone views the
//! cluster, every `idle_refresh_secs` while nobody does, at once after a run or cleanup of this
//! process or another sharing the database starts or ends, and when a viewer asks
//! (`POST .../catalog/refresh`). Refreshes are single-flight: whoever asks during one waits for it.
//!
//! What the catalog says is never used to destroy anything: preflight, ID checks and the retention
//! executor read fresh from the cluster.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use backup_domain::api::{
    CatalogFreshness, ComponentError, ComponentFreshness, ExportingStatus, HistoryResponse,
    LatestRestorable, VerdictCounts,
};
use backup_domain::backup_set::{BackupSet, Component, Verdict};
use backup_domain::listing::Order;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::cluster::{Cluster, Clusters};
use crate::config::CatalogConfig;
use crate::history;
use crate::store::{CATALOG_CHUNK, CatalogFilter, CatalogWrite, Store, StoreError};

/// How often a keeper looks whether its cluster is due (cheap: two indexed reads).
const TICK: Duration = Duration::from_secs(1);

/// After a run or cleanup starts or ends, the catalog is listed again until a listing began at
/// least `SETTLE_MS` after it, for at most `AFTER_ACTIVITY_MS`.
const SETTLE_MS: i64 = 5_000;
const AFTER_ACTIVITY_MS: i64 = 30_000;

/// How long a first page waits for another console's first listing before it answers 503.
const WAIT_FOR_OTHER: Duration = Duration::from_secs(30);

/// How often a refresh renews its claim while it lists: well inside the claim's 60 s.
const RENEW_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the catalog of `{0}` could not be read: {1}")]
    Corrupt(String, String),
    #[error("the catalog of `{0}` has not been listed yet: {1}")]
    NotYet(String, String),
    #[error("another console took the refresh of `{0}` over")]
    Lost(String),
}

/// What a refresh stores beside the rows: the figures every page shows, computed once.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Summary {
    components: Vec<Component>,
    counts: VerdictCounts,
    sets: usize,
    latest_restorable: Option<LatestRestorable>,
    /// The newest partially restorable set (part 8's RPO shows it beside the restorable one).
    #[serde(default)]
    latest_partial: Option<LatestRestorable>,
    /// Artifacts of orphaned sets (a component holds the ID, another has nothing under it).
    #[serde(default)]
    orphaned_artifacts: usize,
    highest_backup_id: Option<u64>,
    component_errors: Vec<ComponentError>,
    freshness: Vec<ComponentFreshness>,
    /// When its listings started: a run or cleanup after that may be missing from it.
    listed_from_ms: i64,
    /// What it was listed from (components and their addresses): a catalog of another
    /// configuration is not this cluster's history.
    #[serde(default)]
    listed_from: String,
    /// Checkpoints `backupRuntime/state` typed (true: `SCHEDULED_BACKUP`), gathered over the
    /// refreshes: the state names only the latest backup per partition (§9.1).
    #[serde(default)]
    checkpoint_types: BTreeMap<u64, bool>,
    /// This refresh could not read `backupRuntime/state` (failed or too slow): a set it would
    /// have typed is left without a trigger (unknown) rather than guessed from its ID's shape.
    #[serde(default)]
    checkpoint_state_unread: bool,
}

/// How long the refresh waits for `backupRuntime/state`, read beside the listings: it only
/// names who triggered the newest sets, so a slow one must not hold up the history.
const CHECKPOINT_STATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// How many typed checkpoints a summary keeps (the newest).
const KEPT_CHECKPOINT_TYPES: usize = 10_000;

/// Whether the history says who triggered each set: where Zeebe may take backups by itself
/// (its scheduler, 8.9+, RDBMS or `none` secondary storage only, §9.1).
fn tells_triggers(cluster: &Cluster) -> bool {
    cluster.zeebe_generates_ids()
        || cluster.secondary_storage == backup_domain::api::SecondaryStorage::Rdbms
}

/// `backupRuntime/state` exists from 8.9 (§3.7).
fn has_checkpoint_state(cluster: &Cluster) -> bool {
    backup_domain::api::minor_of(&cluster.version) >= 9
}

/// The configuration a catalog is listed from: each component and where it is asked. A console
/// restarted with a component added, or pointed at another cluster under the same name, lists
/// again before it answers.
fn listed_from(cluster: &Cluster) -> String {
    use sha2::Digest;
    let mut parts = vec![format!("zeebe {}", cluster.zeebe.http().base())];
    for app in &cluster.webapps {
        parts.push(format!(
            "{} {} {}",
            app.component().label(),
            app.http().base(),
            app.snapshot_prefix()
        ));
    }
    if let Some(o) = &cluster.optimize {
        parts.push(format!("optimize {}", o.http().base()));
    }
    if let Some(r) = &cluster.records {
        parts.push(format!("records {} {}", r.http().base(), r.repository()));
    }
    for db in &cluster.databases {
        parts.push(format!("dump {} {}", db.name(), db.cluster_dir().display()));
    }
    for (component, first) in &cluster.expected_since {
        parts.push(format!("since {} {first}", component.label()));
    }
    let digest = sha2::Sha256::digest(parts.join("\n").as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// One cluster's keeper: its refresh lock and what viewers did lately.
struct Keeper {
    cluster: Cluster,
    lock: tokio::sync::Mutex<()>,
    /// Refreshes this process began, and finished (or gave up on): serialized by `lock`, so
    /// refresh number n has finished once `finished` is n.
    started: AtomicU64,
    finished: AtomicU64,
    refreshing: AtomicBool,
    last_viewed_ms: AtomicI64,
    /// When this process last tried a refresh, failed or not: no retry storm on a failing store.
    last_attempt_ms: AtomicI64,
    /// Refreshes this process ran (tests count them).
    ran: AtomicU64,
    /// When a viewer last asked for a refresh that listed.
    last_requested_ms: AtomicI64,
    /// Whether the last refresh finished listed and published (not held elsewhere, not failed).
    last_listed: AtomicBool,
    wake: Notify,
}

/// A refresh under way: `refreshing` while it lives, one more `finished` when it ends.
struct Running<'a>(&'a Keeper);

impl<'a> Running<'a> {
    fn start(k: &'a Keeper) -> Self {
        k.refreshing.store(true, Ordering::SeqCst);
        Running(k)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.refreshing.store(false, Ordering::SeqCst);
        self.0.finished.fetch_add(1, Ordering::SeqCst);
    }
}

/// A page of a cluster's catalog, as the history API answers it.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    pub verdict: Option<Verdict>,
    pub digits: String,
    /// 1-based; clamped to the last page.
    pub page: usize,
    pub per_page: usize,
    pub order: Order,
}

pub struct CatalogService {
    keepers: HashMap<String, Arc<Keeper>>,
    store: Store,
    config: CatalogConfig,
    clock: Clock,
    owner: String,
    stop: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl CatalogService {
    /// The service with one keeper task per cluster; each refreshes at once unless the store
    /// holds a catalog young enough. Needs a tokio runtime.
    pub fn start(
        clusters: &Clusters,
        store: Store,
        config: CatalogConfig,
        clock: Clock,
    ) -> Arc<CatalogService> {
        let service = Arc::new(CatalogService::new(clusters, store, config, clock));
        let tasks = service
            .keepers
            .values()
            .map(|k| tokio::spawn(keep(service.clone(), k.clone())))
            .collect();
        *service.tasks.lock().unwrap_or_else(|p| p.into_inner()) = tasks;
        service
    }

    /// The service without keeper tasks: refreshes happen only when asked (the CLI, tests).
    pub fn new(
        clusters: &Clusters,
        store: Store,
        config: CatalogConfig,
        clock: Clock,
    ) -> CatalogService {
        let keepers = clusters
            .all()
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    Arc::new(Keeper {
                        cluster: c.clone(),
                        lock: tokio::sync::Mutex::new(()),
                        started: AtomicU64::new(0),
                        finished: AtomicU64::new(0),
                        refreshing: AtomicBool::new(false),
                        last_viewed_ms: AtomicI64::new(i64::MIN / 2),
                        last_attempt_ms: AtomicI64::new(i64::MIN / 2),
                        ran: AtomicU64::new(0),
                        last_requested_ms: AtomicI64::new(i64::MIN / 2),
                        last_listed: AtomicBool::new(false),
                        wake: Notify::new(),
                    }),
                )
            })
            .collect();
        CatalogService {
            keepers,
            store,
            config,
            clock,
            owner: format!(
                "pid {} {}",
                std::process::id(),
                &crate::auth::random_token()[..8]
            ),
            stop: watch::channel(false).0,
            tasks: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn keeper(&self, cluster: &str) -> Option<&Arc<Keeper>> {
        self.keepers.get(cluster)
    }

    /// Someone looked at `cluster`: it is refreshed at the viewed pace for a while.
    pub fn viewed(&self, cluster: &str) {
        if let Some(k) = self.keeper(cluster) {
            let before = k.last_viewed_ms.swap(self.clock.now_ms(), Ordering::SeqCst);
            // Back from idle: the keeper reconsiders now rather than at the idle interval's end.
            if self.clock.now_ms() - before > self.active_window_ms() {
                k.wake.notify_one();
            }
        }
    }

    /// Refreshes this process ran for `cluster` (tests).
    pub fn refreshes_run(&self, cluster: &str) -> u64 {
        self.keeper(cluster)
            .map_or(0, |k| k.ran.load(Ordering::SeqCst))
    }

    fn active_window_ms(&self) -> i64 {
        2 * self.config.refresh.as_millis() as i64
    }

    /// Refreshes `cluster`: what it answers was listed after it was asked. A refresh under way
    /// when asked began earlier, so this waits for it and then runs one more, which everyone who
    /// asked meanwhile shares. `Ok(false)`: another process holds the refresh; its catalog comes
    /// when it publishes. The work runs as a task of its own: a caller that goes away (a viewer
    /// closing the page) does not cut a refresh off halfway.
    pub async fn refresh(self: &Arc<Self>, cluster: &str) -> Result<bool, CatalogError> {
        self.refresh_within(cluster, 0).await
    }

    /// [`CatalogService::refresh`], taking a refresh under way that began at most `tolerance_ms`
    /// before this call as this one's: a crowd of clicks coalesces into one listing, a click
    /// well after a listing began gets one of its own.
    async fn refresh_within(
        self: &Arc<Self>,
        cluster: &str,
        tolerance_ms: i64,
    ) -> Result<bool, CatalogError> {
        let Some(k) = self.keeper(cluster).cloned() else {
            return Ok(false);
        };
        // Refreshes started before this call; one started after it and finished answers it.
        let mut asked = k.started.load(Ordering::SeqCst);
        if asked > 0
            && k.refreshing.load(Ordering::SeqCst)
            && self.clock.now_ms() - k.last_attempt_ms.load(Ordering::SeqCst) <= tolerance_ms
        {
            asked -= 1;
        }
        let service = self.clone();
        tokio::spawn(async move { service.refresh_after(&k, asked).await })
            .await
            .map_err(|e| CatalogError::Store(StoreError::Task(e.to_string())))?
    }

    async fn refresh_after(&self, k: &Keeper, asked: u64) -> Result<bool, CatalogError> {
        let _one = k.lock.lock().await;
        if k.finished.load(Ordering::SeqCst) > asked {
            // A refresh begun after this one was asked has finished meanwhile: its outcome is
            // this one's (it may have listed nothing: another console held the refresh).
            return Ok(k.last_listed.load(Ordering::SeqCst));
        }
        k.started.fetch_add(1, Ordering::SeqCst);
        k.last_attempt_ms
            .store(self.clock.now_ms(), Ordering::SeqCst);
        // Whatever happens below, a panic included, the refresh ends for its waiters.
        let running = Running::start(k);
        let result = self.refresh_now(k).await;
        // The listings are gone: their pages go back to the system, not only to the allocator.
        let _ = tokio::task::spawn_blocking(crate::memory::release_freed).await;
        k.last_listed
            .store(matches!(result, Ok(true)), Ordering::SeqCst);
        drop(running);
        if let Err(error) = &result {
            tracing::warn!(cluster = %k.cluster.name, %error, "catalog refresh failed");
        }
        result
    }

    /// A viewer's refresh: skipped (the catalog answered as it is) when one finished moments ago,
    /// so a double click or twenty viewers cost one listing.
    pub async fn refresh_on_request(self: &Arc<Self>, cluster: &str) -> Result<bool, CatalogError> {
        let Some(k) = self.keeper(cluster) else {
            return Ok(false);
        };
        // The gap counts from the last refresh a viewer asked for, not from the keeper's: a
        // click just after a scheduled refresh still lists what changed since.
        let now = self.clock.now_ms();
        let gap = self.config.min_refresh_gap.as_millis() as i64;
        let last = k.last_requested_ms.load(Ordering::SeqCst);
        if now - last < gap
            && let Some(head) = self.store.catalog_head(cluster.to_string()).await?
            && head.refreshed_ms >= last
        {
            return Ok(false);
        }
        k.last_requested_ms.store(now, Ordering::SeqCst);
        self.refresh_within(cluster, gap).await
    }

    async fn refresh_now(&self, k: &Keeper) -> Result<bool, CatalogError> {
        let name = k.cluster.name.clone();
        let started = self.clock.now_ms();
        if !self
            .store
            .claim_catalog(name.clone(), self.owner.clone(), started)
            .await?
        {
            return Ok(false);
        }
        k.ran.fetch_add(1, Ordering::SeqCst);
        let result = self.write_generation(k, started).await;
        if result.is_err() {
            let _ = self
                .store
                .release_catalog(name.clone(), self.owner.clone())
                .await;
        }
        result.map(|()| true)
    }

    /// Lists every component, writes what changed as the next generation, publishes it.
    async fn write_generation(&self, k: &Keeper, started: i64) -> Result<(), CatalogError> {
        let name = k.cluster.name.clone();
        let previous = self.store.catalog_head(name.clone()).await?;
        let generation = previous.as_ref().map_or(0, |h| h.generation);
        let previous: Summary = previous
            .and_then(|h| serde_json::from_str(&h.summary).ok())
            .unwrap_or_default();

        // A listing may take minutes: the claim is renewed meanwhile, so another console does not
        // take the refresh over and list the cluster again.
        let renew = async {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                let renewed = self
                    .store
                    .renew_catalog(name.clone(), self.owner.clone(), self.clock.now_ms())
                    .await;
                match renewed {
                    Ok(true) => {}
                    Ok(false) => return,
                    // A busy database: the claim still has most of a minute; try again.
                    Err(error) => {
                        tracing::warn!(cluster = %name, %error, "catalog claim not renewed")
                    }
                }
            }
        };
        let reads_state = tells_triggers(&k.cluster) && has_checkpoint_state(&k.cluster);
        let state = async {
            if !reads_state {
                return None;
            }
            Some(
                tokio::time::timeout(CHECKPOINT_STATE_TIMEOUT, k.cluster.zeebe.checkpoint_types())
                    .await,
            )
        };
        let (listings, state) = tokio::select! {
            both = async { tokio::join!(history::listings(&k.cluster), state) } => both,
            () = renew => return Err(CatalogError::Lost(name)),
        };
        let mut checkpoint_types = previous.checkpoint_types.clone();
        let mut checkpoint_state_unread = false;
        if let Some(state) = state {
            // Without it the sets it would type are left without a trigger (unknown).
            match state {
                Ok(Ok(types)) => checkpoint_types.extend(types),
                Ok(Err(error)) => {
                    checkpoint_state_unread = true;
                    tracing::warn!(cluster = %name, %error, "backupRuntime/state not read")
                }
                Err(_) => {
                    checkpoint_state_unread = true;
                    tracing::warn!(cluster = %name, "backupRuntime/state too slow: not read")
                }
            }
            while checkpoint_types.len() > KEPT_CHECKPOINT_TYPES {
                checkpoint_types.pop_first();
            }
        }
        let listed_at = self.clock.now_ms();
        let components: Vec<Component> = listings.iter().map(|(c, _)| *c).collect();
        let mut component_errors = Vec::new();
        let freshness = listings
            .iter()
            .map(|(component, listing)| {
                let before = previous
                    .freshness
                    .iter()
                    .find(|f| f.component == *component);
                match listing {
                    Ok(_) => ComponentFreshness {
                        component: *component,
                        listed_at_ms: Some(listed_at),
                        error: None,
                        failed_at_ms: None,
                    },
                    Err(message) => {
                        component_errors.push(ComponentError {
                            component: *component,
                            message: message.clone(),
                        });
                        ComponentFreshness {
                            component: *component,
                            listed_at_ms: before.and_then(|f| f.listed_at_ms),
                            error: Some(message.clone()),
                            failed_at_ms: Some(listed_at),
                        }
                    }
                }
            })
            .collect();

        let digests = self.store.catalog_digests(name.clone(), generation).await?;
        let next = generation + 1;
        // The merge is CPU work over every set: on a blocking thread, handing chunks over a
        // short queue, so at most a few chunks of rows are held besides the listings.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<CatalogWrite>>(2);
        let since = k.cluster.expected_since.clone();
        let merge =
            tokio::task::spawn_blocking(move || merge_changes(listings, &since, digests, tx));
        while let Some(chunk) = rx.recv().await {
            self.store
                .write_catalog_chunk(
                    name.clone(),
                    self.owner.clone(),
                    next,
                    chunk,
                    self.clock.now_ms(),
                )
                .await?;
        }
        let figures = merge
            .await
            .map_err(|e| CatalogError::Store(StoreError::Task(e.to_string())))?;
        let summary = Summary {
            components,
            counts: figures.counts,
            sets: figures.sets,
            latest_restorable: figures.latest_restorable,
            latest_partial: figures.latest_partial,
            orphaned_artifacts: figures.orphaned_artifacts,
            highest_backup_id: figures.highest_backup_id,
            component_errors,
            freshness,
            listed_from_ms: started,
            listed_from: listed_from(&k.cluster),
            checkpoint_types,
            checkpoint_state_unread,
        };
        let text = serde_json::to_string(&summary)
            .map_err(|e| CatalogError::Corrupt(name.clone(), e.to_string()))?;
        self.store
            .publish_catalog(
                name.clone(),
                self.owner.clone(),
                next,
                self.clock.now_ms(),
                text,
            )
            .await?;
        self.store.collect_catalog_garbage(name, next).await?;
        Ok(())
    }

    /// The figures of `cluster`'s catalog that the fleet view and the metrics read.
    pub async fn figures(self: &Arc<Self>, cluster: &str) -> Result<CatalogFigures, CatalogError> {
        let (head, _) = self.current(cluster).await?;
        figures_of(&head)
            .ok_or_else(|| CatalogError::Corrupt(cluster.to_string(), "unreadable summary".into()))
    }

    /// The figures of the stored catalog as it is, without listing or waiting (the metrics read
    /// them: a scrape never calls a cluster). `None` before the first listing.
    pub async fn stored_figures(&self, cluster: &str) -> Option<CatalogFigures> {
        match self.store.catalog_head(cluster.to_string()).await {
            Ok(head) => head.as_ref().and_then(figures_of),
            Err(error) => {
                tracing::error!(%cluster, %error, "could not read the catalog");
                None
            }
        }
    }

    /// The catalog's freshness as a viewer reads it.
    pub async fn freshness(
        self: &Arc<Self>,
        cluster: &str,
    ) -> Result<CatalogFreshness, CatalogError> {
        let (head, summary) = self.current(cluster).await?;
        Ok(self.freshness_of(cluster, head.refreshed_ms, &summary))
    }

    fn freshness_of(
        &self,
        cluster: &str,
        refreshed_ms: i64,
        summary: &Summary,
    ) -> CatalogFreshness {
        CatalogFreshness {
            refreshed_at_ms: refreshed_ms,
            age_seconds: (self.clock.now_ms() - refreshed_ms).max(0) / 1000,
            refreshing: self
                .keeper(cluster)
                .is_some_and(|k| k.refreshing.load(Ordering::SeqCst)),
            components: summary.freshness.clone(),
        }
    }

    /// The current head and summary; before the first refresh ever, that refresh (waited for).
    async fn current(
        self: &Arc<Self>,
        cluster: &str,
    ) -> Result<(crate::store::CatalogHead, Summary), CatalogError> {
        let mut head = self.store.catalog_head(cluster.to_string()).await?;
        let of_this_configuration = |head: &Option<crate::store::CatalogHead>| {
            let expected = self.keeper(cluster).map(|k| listed_from(&k.cluster));
            head.as_ref().is_some_and(|h| {
                serde_json::from_str::<Summary>(&h.summary)
                    .is_ok_and(|s| Some(s.listed_from) == expected)
            })
        };
        if !of_this_configuration(&head) {
            // Any refresh under way was begun with this configuration: it is good enough.
            let listed_here = self.refresh_within(cluster, i64::MAX).await?;
            head = self.store.catalog_head(cluster.to_string()).await?;
            // Another console sharing the database holds the refresh: its catalog comes when it
            // publishes, which is worth waiting for a while rather than answering an error.
            let waited = std::time::Instant::now();
            while !listed_here && !of_this_configuration(&head) && waited.elapsed() < WAIT_FOR_OTHER
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
                head = self.store.catalog_head(cluster.to_string()).await?;
            }
            if !of_this_configuration(&head) {
                head = None;
            }
        }
        // A run or cleanup that started or ended after this catalog's listings began changed a
        // set: a reader waits for a listing begun after it (the keeper starts one within a
        // second), so the history read after a cleanup reports completed shows it gone.
        if let Some(h) = &head
            && let Ok(summary) = serde_json::from_str::<Summary>(&h.summary)
            && let Some(activity) = self.store.catalog_activity_ms(cluster.to_string()).await?
            && activity >= summary.listed_from_ms
        {
            let since = (self.clock.now_ms() - activity).max(0);
            if self.refresh_within(cluster, since).await? {
                head = self.store.catalog_head(cluster.to_string()).await?;
            }
        }
        let head = head.ok_or_else(|| {
            CatalogError::NotYet(
                cluster.to_string(),
                "another console is listing it; try again in a moment".into(),
            )
        })?;
        let summary = serde_json::from_str(&head.summary)
            .map_err(|e| CatalogError::Corrupt(cluster.to_string(), e.to_string()))?;
        Ok((head, summary))
    }

    /// One page of `cluster`'s history from the catalog, in the history API's shape.
    pub async fn page(
        self: &Arc<Self>,
        cluster: &Cluster,
        query: PageQuery,
        exporting: ExportingStatus,
    ) -> Result<HistoryResponse, CatalogError> {
        self.viewed(&cluster.name);
        let (head, summary) = self.current(&cluster.name).await?;
        let per_page = query.per_page.max(1);
        let filter = CatalogFilter {
            verdict: query.verdict,
            digits: query.digits.clone(),
        };
        let counted = match query.verdict {
            Some(v) => summary.counts.get(v),
            None => summary.sets,
        };
        // Without a search the summary knows how many match, so the page is clamped up front;
        // with one, the first read counts them and a page past the end is read once more.
        let clamp = |matching: usize| query.page.clamp(1, matching.div_ceil(per_page).max(1));
        let mut page_no = clamp(counted);
        let (read, matching) = loop {
            let read = self
                .store
                .catalog_page(
                    cluster.name.clone(),
                    filter.clone(),
                    query.order,
                    per_page,
                    (page_no - 1) * per_page,
                )
                .await?;
            // The page and the summary must come from one generation: a refresh may have
            // published between the reads.
            if read
                .as_ref()
                .is_some_and(|p| p.head.generation != head.generation)
            {
                return Box::pin(self.page(cluster, query, exporting)).await;
            }
            let matching = read.as_ref().and_then(|p| p.matching).unwrap_or(counted);
            if clamp(matching) == page_no {
                break (read, matching);
            }
            page_no = clamp(matching);
        };
        let mut sets = read.map(|p| p.sets).unwrap_or_default();
        if tells_triggers(cluster) {
            self.mark_triggers(cluster, &summary, &mut sets).await?;
        }
        let now = self.clock.now_ms();
        let latest_restorable = summary.latest_restorable.map(|l| LatestRestorable {
            age_seconds: l.started_at_ms.map(|t| (now - t).max(0) / 1000),
            ..l
        });
        Ok(HistoryResponse {
            cluster: cluster.name.clone(),
            profile: cluster.profile,
            generated_at_ms: head.refreshed_ms,
            components: summary.components.clone(),
            sets,
            component_errors: summary.component_errors.clone(),
            counts: summary.counts,
            latest_restorable,
            highest_backup_id: summary.highest_backup_id,
            exporting,
            total: Some(matching),
            page: Some(page_no),
            per_page: Some(per_page),
            pages: Some(matching.div_ceil(per_page).max(1)),
            catalog: Some(self.freshness_of(&cluster.name, head.refreshed_ms, &summary)),
        })
    }

    /// Says who triggered each set: a run of this console, Zeebe's scheduler, or external
    /// (`backup_set::trigger_of`).
    async fn mark_triggers(
        &self,
        cluster: &Cluster,
        summary: &Summary,
        sets: &mut [BackupSet],
    ) -> Result<(), CatalogError> {
        let ids = sets.iter().map(|s| s.backup_id).collect();
        let runs = self.store.run_triggers(cluster.name.clone(), ids).await?;
        for set in sets {
            let console = runs.get(&set.backup_id).cloned();
            let typed = summary.checkpoint_types.get(&set.backup_id).copied();
            if console.is_none() && typed.is_none() && summary.checkpoint_state_unread {
                // The state was not read: who took it is unknown, not guessed.
                set.trigger = None;
                continue;
            }
            set.trigger = Some(backup_domain::backup_set::trigger_of(
                set.backup_id,
                console,
                typed,
                cluster.zeebe_generates_ids(),
            ));
        }
        Ok(())
    }

    /// The trigger of one set read fresh (the detail view), from the runs and the last
    /// published summary's typed checkpoints; left unset where the history does not tell it,
    /// or when the store cannot be read (logged: a detail is still worth showing).
    pub async fn mark_trigger(&self, cluster: &Cluster, set: &mut BackupSet) {
        if !tells_triggers(cluster) {
            return;
        }
        let summary: Summary = match self.store.catalog_head(cluster.name.clone()).await {
            Ok(head) => head
                .and_then(|h| serde_json::from_str(&h.summary).ok())
                .unwrap_or_default(),
            Err(error) => {
                tracing::warn!(cluster = %cluster.name, %error, "no trigger for the detail");
                return;
            }
        };
        if let Err(error) = self
            .mark_triggers(cluster, &summary, std::slice::from_mut(set))
            .await
        {
            tracing::warn!(cluster = %cluster.name, %error, "no trigger for the detail");
        }
    }

    /// Every set of `cluster`'s catalog, with its freshness and the components whose last
    /// listing failed: what the retention preview plans over.
    pub async fn all_sets(
        self: &Arc<Self>,
        cluster: &Cluster,
    ) -> Result<(Vec<BackupSet>, CatalogFreshness, Vec<Component>), CatalogError> {
        let everything = PageQuery {
            page: 1,
            per_page: usize::MAX / 2,
            ..PageQuery::default()
        };
        let history = self
            .page(cluster, everything, ExportingStatus::default())
            .await?;
        let unknown = history
            .component_errors
            .iter()
            .map(|e| e.component)
            .collect();
        let freshness = history
            .catalog
            .ok_or_else(|| CatalogError::NotYet(cluster.name.clone(), "no catalog".into()))?;
        Ok((history.sets, freshness, unknown))
    }

    /// Stops every keeper (a refresh in flight is dropped; its unpublished rows are removed by
    /// the next one) and waits for them, briefly.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        // A refresh cut off here would hold its claim for a minute: the next start (or another
        // console) could not list until it ran out.
        for name in self.keepers.keys() {
            let _ = self
                .store
                .release_catalog(name.clone(), self.owner.clone())
                .await;
        }
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            if tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .is_err()
            {
                tracing::warn!("a catalog keeper did not stop within 1 s");
            }
        }
    }

    /// Whether `k`'s cluster is due for a refresh at `now`.
    async fn due(&self, k: &Keeper, now: i64) -> Result<bool, CatalogError> {
        let name = k.cluster.name.clone();
        let Some(head) = self.store.catalog_head(name.clone()).await? else {
            // Never listed: at once, unless an attempt just failed.
            return Ok(now - k.last_attempt_ms.load(Ordering::SeqCst) >= self.retry_ms());
        };
        let summary: Summary = serde_json::from_str(&head.summary).unwrap_or_default();
        if summary.listed_from != listed_from(&k.cluster) {
            return Ok(now - k.last_attempt_ms.load(Ordering::SeqCst) >= self.retry_ms());
        }
        let viewed = now - k.last_viewed_ms.load(Ordering::SeqCst) < self.active_window_ms();
        let interval = if viewed {
            self.config.refresh
        } else {
            self.config.idle_refresh
        };
        let attempted = k.last_attempt_ms.load(Ordering::SeqCst);
        let since = head.refreshed_ms.max(attempted);
        if now - since >= interval.as_millis() as i64 {
            return Ok(true);
        }
        // A run or cleanup started or ended since the listings began: its set changed. And for
        // a while after one, until a listing began well after it: components delete in the
        // background (a web-apps DELETE answers before its snapshots are gone).
        let activity = self.store.catalog_activity_ms(name).await?;
        let changed = activity.is_some_and(|a| {
            a >= summary.listed_from_ms
                || (now - a < AFTER_ACTIVITY_MS && summary.listed_from_ms < a + SETTLE_MS)
        });
        Ok(changed && now - attempted >= self.retry_ms().min(2_000))
    }

    fn retry_ms(&self) -> i64 {
        (self.config.refresh.as_millis() as i64).min(30_000)
    }
}

/// A catalog's figures, computed when it was listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogFigures {
    pub refreshed_ms: i64,
    pub sets: usize,
    pub counts: VerdictCounts,
    pub latest_restorable: Option<LatestRestorable>,
    pub latest_partial: Option<LatestRestorable>,
    pub orphaned_artifacts: usize,
    /// Components whose last listing failed, with the error.
    pub component_errors: Vec<ComponentError>,
}

/// The figures of a stored catalog head (for `backup-console status`, which reads the database
/// without a keeper); `None` when its summary cannot be read.
pub fn figures_of(head: &crate::store::CatalogHead) -> Option<CatalogFigures> {
    let summary: Summary = serde_json::from_str(&head.summary).ok()?;
    Some(CatalogFigures {
        refreshed_ms: head.refreshed_ms,
        sets: summary.sets,
        counts: summary.counts,
        latest_restorable: summary.latest_restorable,
        latest_partial: summary.latest_partial,
        orphaned_artifacts: summary.orphaned_artifacts,
        component_errors: summary.component_errors,
    })
}

/// What the merge counted while it went over every set.
#[derive(Debug, Default)]
struct Figures {
    counts: VerdictCounts,
    sets: usize,
    latest_restorable: Option<LatestRestorable>,
    latest_partial: Option<LatestRestorable>,
    orphaned_artifacts: usize,
    highest_backup_id: Option<u64>,
}

/// The stored form's fingerprint: a set whose digest is unchanged is not written again.
fn digest(body: &str) -> i64 {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(body.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    i64::from_le_bytes(first)
}

/// Merges the listings and sends, chunk by chunk, every set that is new or changed against
/// `digests` (the current generation), then every set no longer listed.
fn merge_changes(
    listings: Vec<(Component, backup_domain::merge::CompactComponentListing)>,
    since: &[(Component, u64)],
    mut digests: HashMap<u64, i64>,
    tx: tokio::sync::mpsc::Sender<Vec<CatalogWrite>>,
) -> Figures {
    let mut figures = Figures::default();
    let mut chunk = Vec::with_capacity(CATALOG_CHUNK);
    let mut open = true;
    let send = |chunk: &mut Vec<CatalogWrite>, open: &mut bool| {
        if *open && tx.blocking_send(std::mem::take(chunk)).is_err() {
            // The writer stopped (a store error): the rest is not worth merging.
            *open = false;
        }
        chunk.clear();
    };
    backup_domain::merge::merge_compact_each(listings, since, |set| {
        if !open {
            return;
        }
        figures.sets += 1;
        figures.counts.add(set.verdict);
        figures.highest_backup_id = figures.highest_backup_id.max(Some(set.backup_id));
        if set.verdict == Verdict::NotRestorable && set.is_orphan() {
            figures.orphaned_artifacts += backup_domain::retention::artifacts(&set).len();
        }
        if figures.latest_partial.is_none() && set.verdict == Verdict::RestorablePartial {
            figures.latest_partial = Some(LatestRestorable {
                backup_id: set.backup_id,
                started_at_ms: set.started_at_ms,
                age_seconds: None,
            });
        }
        if figures.latest_restorable.is_none() && set.verdict == Verdict::Restorable {
            figures.latest_restorable = Some(LatestRestorable {
                backup_id: set.backup_id,
                started_at_ms: set.started_at_ms,
                age_seconds: None,
            });
        }
        let Ok(body) = serde_json::to_string(&set) else {
            return;
        };
        let d = digest(&body);
        if digests.remove(&set.backup_id) == Some(d) {
            return;
        }
        chunk.push(CatalogWrite::Put {
            backup_id: set.backup_id,
            verdict: set.verdict,
            digest: d,
            body,
        });
        if chunk.len() >= CATALOG_CHUNK {
            send(&mut chunk, &mut open);
        }
    });
    for backup_id in digests.into_keys() {
        chunk.push(CatalogWrite::Gone { backup_id });
        if chunk.len() >= CATALOG_CHUNK {
            send(&mut chunk, &mut open);
        }
    }
    if !chunk.is_empty() {
        send(&mut chunk, &mut open);
    }
    figures
}

/// A cluster's keeper: refreshes whenever [`CatalogService::due`] says so.
async fn keep(service: Arc<CatalogService>, k: Arc<Keeper>) {
    let mut stop = service.stop.subscribe();
    loop {
        let now = service.clock.now_ms();
        match service.due(&k, now).await {
            Ok(true) => {
                tokio::select! {
                    _ = service.refresh(&k.cluster.name) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(cluster = %k.cluster.name, %error, "catalog check failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            () = k.wake.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
