//! The backup catalog: each cluster's merged history as stored rows, so that a page of it is a
//! query, not a listing of every component.
//!
//! Rows are versioned by generation. A refresh writes generation `g + 1` beside the `g` readers
//! see (a changed set gets a new row and its old row an end; a set gone gets an end), in short
//! transactions of [`CHUNK`] rows, then makes it current in one small transaction: readers see
//! one catalog or the other, never a mix, and a run's heartbeat or the pause checkpoint waits at
//! most one chunk for the write lock. Only sets that changed are written. One process refreshes
//! a cluster at a time (a lease in `catalog_state`, renewed with every chunk).

use std::collections::HashMap;

use backup_domain::Verdict;
use backup_domain::backup_set::BackupSet;
use backup_domain::listing::Order;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError, immediate};

/// Rows written per transaction: a few milliseconds of the write lock.
pub const CHUNK: usize = 500;

/// How long a refresh's claim lasts without being renewed: a refresher that died is replaced.
pub const LEASE_MS: i64 = 60_000;

/// The current catalog of a cluster: which generation readers see, and its summary (JSON the
/// catalog service writes and reads; the store does not look inside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogHead {
    pub generation: i64,
    pub refreshed_ms: i64,
    pub summary: String,
}

/// One change of a refresh.
#[derive(Debug, Clone)]
pub enum CatalogWrite {
    /// A new set, or a new reading of one (its earlier row, if any, ends).
    Put {
        backup_id: u64,
        verdict: Verdict,
        digest: i64,
        body: String,
    },
    /// The set is no longer listed by any component.
    Gone { backup_id: u64 },
}

/// Which rows of the current catalog a page shows.
#[derive(Debug, Clone, Default)]
pub struct CatalogFilter {
    pub verdict: Option<Verdict>,
    /// Digits the backup ID must contain.
    pub digits: String,
}

/// A page read in one snapshot of the database: its head, the rows, and (when the filter has
/// digits, which the summary's counts cannot answer) how many rows match.
#[derive(Debug, Clone)]
pub struct CatalogPage {
    pub head: CatalogHead,
    pub sets: Vec<BackupSet>,
    pub matching: Option<usize>,
}

const VISIBLE: &str = "cluster = ?1 AND valid_from <= ?2 AND (valid_to IS NULL OR valid_to > ?2)";

fn head(c: &Connection, cluster: &str) -> rusqlite::Result<Option<CatalogHead>> {
    c.query_row(
        "SELECT generation, refreshed_ms, summary FROM catalog_state WHERE cluster = ?1 AND generation > 0",
        params![cluster],
        |r| {
            Ok(CatalogHead {
                generation: r.get(0)?,
                refreshed_ms: r.get(1)?,
                summary: r.get(2)?,
            })
        },
    )
    .optional()
}

/// Renews `owner`'s claim, or fails the transaction when another process took the cluster over.
fn renew(c: &Connection, cluster: &str, owner: &str, now_ms: i64) -> rusqlite::Result<()> {
    let renewed = c.execute(
        "UPDATE catalog_state SET writer_until = ?3 WHERE cluster = ?1 AND writer = ?2",
        params![cluster, owner, now_ms + LEASE_MS],
    )?;
    if renewed == 1 {
        Ok(())
    } else {
        Err(rusqlite::Error::QueryReturnedNoRows)
    }
}

/// Copies what the write-ahead log holds into the database, as far as readers allow, without
/// waiting for anyone. Done by the catalog after each chunk: otherwise the log grows by a whole
/// catalog, and whichever commit next crosses SQLite's automatic checkpoint pays for copying it
/// (a session touch, or a run's heartbeat, seconds late).
fn checkpoint(c: &Connection) -> rusqlite::Result<()> {
    c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

fn verdict_text(verdict: Verdict) -> &'static str {
    verdict.slug()
}

impl Store {
    /// Claims the refresh of `cluster` for `owner` unless another process holds a live claim.
    /// Leftovers of a refresh that died before it published are removed here, so the next one
    /// starts from the current generation.
    pub async fn claim_catalog(
        &self,
        cluster: String,
        owner: String,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.call_catalog(move |c| {
            immediate(c, |c| {
                c.execute(
                    "INSERT OR IGNORE INTO catalog_state (cluster, generation, refreshed_ms, summary) VALUES (?1, 0, 0, '')",
                    params![cluster],
                )?;
                let claimed = c.execute(
                    "UPDATE catalog_state SET writer = ?2, writer_until = ?3 \
                     WHERE cluster = ?1 AND (writer IS NULL OR writer = ?2 OR writer_until < ?4)",
                    params![cluster, owner, now_ms + LEASE_MS, now_ms],
                )? == 1;
                if claimed {
                    let generation: i64 = c.query_row(
                        "SELECT generation FROM catalog_state WHERE cluster = ?1",
                        params![cluster],
                        |r| r.get(0),
                    )?;
                    c.execute(
                        "DELETE FROM catalog_sets WHERE cluster = ?1 AND valid_from > ?2",
                        params![cluster, generation],
                    )?;
                    c.execute(
                        "UPDATE catalog_sets SET valid_to = NULL WHERE cluster = ?1 AND valid_to > ?2",
                        params![cluster, generation],
                    )?;
                }
                Ok(claimed)
            })
        })
        .await
    }

    /// Renews `owner`'s claim while it lists; `false` when another process holds it now.
    pub async fn renew_catalog(
        &self,
        cluster: String,
        owner: String,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.call_catalog(move |c| match renew(c, &cluster, &owner, now_ms) {
            Ok(()) => Ok(true),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(false),
            Err(e) => Err(e),
        })
        .await
    }

    /// Gives the claim up, e.g. after a refresh that failed before it published.
    pub async fn release_catalog(&self, cluster: String, owner: String) -> Result<(), StoreError> {
        self.call_catalog(move |c| {
            c.execute(
                "UPDATE catalog_state SET writer = NULL, writer_until = NULL WHERE cluster = ?1 AND writer = ?2",
                params![cluster, owner],
            )
            .map(|_| ())
        })
        .await
    }

    /// The current catalog of `cluster`, if a refresh ever published one.
    pub async fn catalog_head(&self, cluster: String) -> Result<Option<CatalogHead>, StoreError> {
        self.call_catalog(move |c| head(c, &cluster)).await
    }

    /// The digest of every set of generation `generation`: what a refresh compares against.
    pub async fn catalog_digests(
        &self,
        cluster: String,
        generation: i64,
    ) -> Result<HashMap<u64, i64>, StoreError> {
        self.call_catalog(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT backup_id, digest FROM catalog_sets WHERE {VISIBLE}"
            ))?;
            let rows = st.query_map(params![cluster, generation], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)?))
            })?;
            rows.collect()
        })
        .await
    }

    /// Writes one chunk of generation `next` (not yet visible), renewing `owner`'s claim.
    pub async fn write_catalog_chunk(
        &self,
        cluster: String,
        owner: String,
        next: i64,
        writes: Vec<CatalogWrite>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.call_catalog(move |c| {
            immediate(c, |c| {
                renew(c, &cluster, &owner, now_ms)?;
                let mut end = c.prepare_cached(
                    "UPDATE catalog_sets SET valid_to = ?3 \
                     WHERE cluster = ?1 AND backup_id = ?2 AND valid_to IS NULL AND valid_from < ?3",
                )?;
                let mut put = c.prepare_cached(
                    "INSERT INTO catalog_sets (cluster, backup_id, valid_from, verdict, digest, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for write in &writes {
                    match write {
                        CatalogWrite::Put {
                            backup_id,
                            verdict,
                            digest,
                            body,
                        } => {
                            end.execute(params![cluster, *backup_id as i64, next])?;
                            put.execute(params![
                                cluster,
                                *backup_id as i64,
                                next,
                                verdict_text(*verdict),
                                digest,
                                body
                            ])?;
                        }
                        CatalogWrite::Gone { backup_id } => {
                            end.execute(params![cluster, *backup_id as i64, next])?;
                        }
                    }
                }
                Ok(())
            })?;
            checkpoint(c)
        })
        .await
    }

    /// Makes generation `next` the one readers see, with its summary, and gives the claim up.
    /// Fails when `owner` no longer holds the claim (nothing changes then).
    pub async fn publish_catalog(
        &self,
        cluster: String,
        owner: String,
        next: i64,
        refreshed_ms: i64,
        summary: String,
    ) -> Result<(), StoreError> {
        self.call_catalog(move |c| {
            immediate(c, |c| {
                renew(c, &cluster, &owner, refreshed_ms)?;
                c.execute(
                    "UPDATE catalog_state SET generation = ?2, refreshed_ms = ?3, summary = ?4, \
                     writer = NULL, writer_until = NULL WHERE cluster = ?1",
                    params![cluster, next, refreshed_ms, summary],
                )?;
                Ok(())
            })
        })
        .await
    }

    /// Removes rows no generation from `generation` on can see, one chunk per transaction.
    pub async fn collect_catalog_garbage(
        &self,
        cluster: String,
        generation: i64,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        loop {
            let cluster = cluster.clone();
            let n = self
                .call_catalog(move |c| {
                    let n = c.execute(
                        "DELETE FROM catalog_sets WHERE rowid IN (SELECT rowid FROM catalog_sets \
                         WHERE cluster = ?1 AND valid_to <= ?2 LIMIT ?3)",
                        params![cluster, generation, CHUNK as i64],
                    )?;
                    checkpoint(c)?;
                    Ok(n)
                })
                .await?;
            removed += n;
            if n < CHUNK {
                return Ok(removed);
            }
        }
    }

    /// One page of the current catalog, newest or oldest first, in one read transaction.
    pub async fn catalog_page(
        &self,
        cluster: String,
        filter: CatalogFilter,
        order: Order,
        limit: usize,
        offset: usize,
    ) -> Result<Option<CatalogPage>, StoreError> {
        self.call_catalog(move |c| {
            c.execute_batch("BEGIN DEFERRED")?;
            let read = (|| {
                let Some(head) = head(c, &cluster)? else {
                    return Ok(None);
                };
                // An empty verdict or digits matches every row: one statement for every filter.
                let conditions = format!(
                    "{VISIBLE} AND (?3 = '' OR verdict = ?3) \
                     AND (?4 = '' OR instr(CAST(backup_id AS TEXT), ?4) > 0)"
                );
                let verdict = filter.verdict.map(verdict_text).unwrap_or("");
                let direction = match order {
                    Order::Newest => "DESC",
                    Order::Oldest => "ASC",
                };
                // The offset is walked in the covering index; only the page's rows are read.
                let mut st = c.prepare(&format!(
                    "SELECT body FROM catalog_sets WHERE rowid IN ( \
                       SELECT rowid FROM catalog_sets INDEXED BY catalog_sets_page WHERE {conditions} \
                       ORDER BY backup_id {direction} LIMIT ?5 OFFSET ?6) \
                     ORDER BY backup_id {direction}"
                ))?;
                let bodies = st
                    .query_map(
                        params![
                            cluster,
                            head.generation,
                            verdict,
                            filter.digits,
                            limit as i64,
                            offset as i64
                        ],
                        // Decoded row by row: a page of every set never holds their text too.
                        |r| {
                            let body = r.get_ref(0)?.as_str()?;
                            serde_json::from_str::<BackupSet>(body).map_err(|e| {
                                rusqlite::Error::FromSqlConversionFailure(
                                    0,
                                    rusqlite::types::Type::Text,
                                    Box::new(e),
                                )
                            })
                        },
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                // The summary's counts answer every filter but a search.
                let matching = if filter.digits.is_empty() {
                    None
                } else {
                    let n: i64 = c.query_row(
                        &format!("SELECT count(*) FROM catalog_sets WHERE {conditions}"),
                        params![cluster, head.generation, verdict, filter.digits],
                        |r| r.get(0),
                    )?;
                    Some(n as usize)
                };
                Ok(Some(CatalogPage {
                    head,
                    sets: bodies,
                    matching,
                }))
            })();
            let _ = c.execute_batch("COMMIT");
            read
        })
        .await
    }

    /// The latest start or end of a run or cleanup of `cluster`, by any process sharing the
    /// database: a catalog listed before it may lack that set's change.
    pub async fn catalog_activity_ms(&self, cluster: String) -> Result<Option<i64>, StoreError> {
        self.call_catalog(move |c| {
            c.query_row(
                "SELECT max(m) FROM ( \
                   SELECT max(max(started_ms, coalesce(ended_ms, 0))) AS m FROM runs WHERE cluster = ?1 \
                   UNION ALL \
                   SELECT max(max(started_ms, coalesce(ended_ms, 0))) FROM cleanups WHERE cluster = ?1)",
                params![cluster],
                |r| r.get::<_, Option<i64>>(0),
            )
        })
        .await
    }
}
