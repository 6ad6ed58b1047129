//! Backup history: every component listed in parallel, joined by backup ID in one merge
//! (`backup_domain::merge::merge_compact_each`), with the exporting phase beside it.

use backup_domain::api::{
    BackupDetailResponse, ComponentError, ExportingStatus, HistoryResponse, PartitionExporting,
};
use backup_domain::backup_set::{self, BackupSet, Component, ComponentBackup, ComponentState};
use backup_domain::compact::CompactListing;
use backup_domain::merge::CompactComponentListing;
// The settling of transient states reads the system clock: these functions take a cluster only.
use crate::clock::Clock;
use futures_util::future::join_all;

use crate::cluster::Cluster;
use crate::upstream::{self, ArtifactInfo, UpstreamError, ZeebeBackupInfo};

/// What a listing does with each entry as it is decoded: converted, its transient state
/// settled, then kept compact (thin: the per-part lists only served that settling).
fn compact<T>(
    convert: impl Fn(T) -> Option<(u64, ComponentBackup)> + Send + 'static,
) -> impl FnMut(&mut CompactListing, T) + Send + 'static {
    let now = Clock::System.now_ms();
    move |listing, item| {
        if let Some((id, c)) = convert(item) {
            listing.push(id, backup_set::settle_transient(c, now));
        }
    }
}

/// `GET /api/clusters/{name}/backups` read fresh: what the retention executor plans on.
pub async fn history(cluster: &Cluster) -> HistoryResponse {
    let (listings, exporting) = tokio::join!(listings(cluster), exporting_status(cluster));
    let component_errors = listings
        .iter()
        .filter_map(|(component, l)| {
            l.as_ref().err().map(|message| ComponentError {
                component: *component,
                message: message.clone(),
            })
        })
        .collect();
    let components = listings.iter().map(|(c, _)| *c).collect();
    let mut sets: Vec<BackupSet> = Vec::new();
    backup_domain::merge::merge_compact_each(listings, &cluster.expected_since, |set| {
        sets.push(set)
    });
    let now = Clock::System.now_ms();
    let (counts, latest_restorable, highest_backup_id) = HistoryResponse::summarize(&sets, now);
    HistoryResponse {
        cluster: cluster.name.clone(),
        profile: cluster.profile,
        generated_at_ms: now,
        components,
        sets,
        component_errors,
        counts,
        latest_restorable,
        highest_backup_id,
        exporting,
        total: None,
        page: None,
        per_page: None,
        pages: None,
        catalog: None,
    }
}

/// Every configured component's listing, in display order, read in parallel and compact.
pub async fn listings(cluster: &Cluster) -> Vec<(Component, CompactComponentListing)> {
    let text = |e: UpstreamError| e.to_string();
    let zeebe = async {
        cluster
            .zeebe
            .list_each(
                CompactListing::new(),
                compact(|b: ZeebeBackupInfo| Some((b.backup_id, upstream::zeebe_component(b)))),
            )
            .await
            .map_err(text)
    };
    let webapps = join_all(cluster.webapps.iter().map(|app| async move {
        let (component, prefix) = (app.component(), app.snapshot_prefix());
        let listing = app
            .list_each(
                CompactListing::new(),
                compact(move |b: ArtifactInfo| {
                    Some((
                        b.backup_id,
                        upstream::artifact_component(component, prefix, b),
                    ))
                }),
            )
            .await
            .map_err(text);
        (component, listing)
    }));
    let optimize = async {
        match &cluster.optimize {
            Some(o) => Some(
                o.list_each(
                    CompactListing::new(),
                    compact(|b: ArtifactInfo| Some((b.backup_id, upstream::optimize_component(b)))),
                )
                .await
                .map_err(text),
            ),
            None => None,
        }
    };
    let records = async {
        match &cluster.records {
            Some(r) => Some(
                r.list_each(CompactListing::new(), compact(upstream::records_component))
                    .await
                    .map_err(text),
            ),
            None => None,
        }
    };
    // The console's own database dumps, read from their directory.
    let dumps = join_all(cluster.databases.iter().map(|db| async move {
        let listing = db
            .list()
            .await
            .map(|l| l.into_iter().collect::<CompactListing>())
            .map_err(|e| e.to_string());
        (db.component(), listing)
    }));
    let (zeebe, webapps, optimize, records, dumps) =
        tokio::join!(zeebe, webapps, optimize, records, dumps);
    let mut listings: Vec<(Component, CompactComponentListing)> = vec![(Component::Zeebe, zeebe)];
    listings.extend(webapps);
    listings.extend(optimize.map(|l| (Component::Optimize, l)));
    listings.extend(records.map(|l| (Component::RecordsSnapshot, l)));
    listings.extend(dumps);
    listings
}

/// Zeebe's exporting phase per partition; a failed read carries its error and no partitions.
pub async fn exporting_status(cluster: &Cluster) -> ExportingStatus {
    match cluster.zeebe.exporting_phases().await {
        Ok(partitions) => ExportingStatus {
            partitions: partitions
                .into_iter()
                .map(|p| PartitionExporting {
                    partition_id: p.partition_id,
                    phase: p.phase,
                    role: p.role,
                })
                .collect(),
            error: None,
        },
        Err(e) => ExportingStatus {
            partitions: Vec::new(),
            error: Some(e.to_string()),
        },
    }
}

/// One set with every partition and part, read with each component's get-by-ID (Zeebe's carries
/// checkpoint positions and snapshot IDs the list lacks, §3.4). `None` when no component knows
/// the ID and every component answered.
pub async fn detail(cluster: &Cluster, backup_id: u64) -> Option<BackupDetailResponse> {
    fn found(
        component: Component,
        result: Result<Option<ComponentBackup>, UpstreamError>,
    ) -> ComponentBackup {
        match result {
            Ok(Some(c)) => backup_set::settle_transient(c, Clock::System.now_ms()),
            Ok(None) => ComponentBackup::new(component, ComponentState::Missing),
            Err(e) => {
                let mut c = ComponentBackup::new(component, ComponentState::Unknown);
                c.error = Some(e.to_string());
                c
            }
        }
    }
    let zeebe = async {
        found(
            Component::Zeebe,
            cluster
                .zeebe
                .get(backup_id)
                .await
                .map(|b| b.map(upstream::zeebe_component)),
        )
    };
    let webapps = join_all(cluster.webapps.iter().map(|app| async move {
        let (component, prefix) = (app.component(), app.snapshot_prefix());
        found(
            component,
            app.get(backup_id)
                .await
                .map(|b| b.map(|b| upstream::artifact_component(component, prefix, b))),
        )
    }));
    let optimize = async {
        match &cluster.optimize {
            Some(o) => Some(found(
                Component::Optimize,
                o.get(backup_id)
                    .await
                    .map(|b| b.map(upstream::optimize_component)),
            )),
            None => None,
        }
    };
    let records = async {
        match &cluster.records {
            Some(r) => Some(found(
                Component::RecordsSnapshot,
                r.get(backup_id)
                    .await
                    .map(|s| s.and_then(upstream::records_component).map(|(_, c)| c)),
            )),
            None => None,
        }
    };
    let dumps = join_all(cluster.databases.iter().map(|db| async move {
        let result = db.get(backup_id).await;
        match result {
            Ok(c) => {
                c.unwrap_or_else(|| ComponentBackup::new(db.component(), ComponentState::Missing))
            }
            Err(e) => {
                let mut c = ComponentBackup::new(db.component(), ComponentState::Unknown);
                c.error = Some(e.to_string());
                c
            }
        }
    }));
    let (zeebe, webapps, optimize, records, dumps) =
        tokio::join!(zeebe, webapps, optimize, records, dumps);
    let mut components = vec![zeebe];
    components.extend(webapps);
    components.extend(optimize);
    components.extend(records);
    components.extend(dumps);
    for c in &mut components {
        let added_later = cluster
            .expected_since
            .iter()
            .any(|&(component, first)| component == c.component && backup_id < first);
        if c.state == ComponentState::Missing && added_later {
            c.state = ComponentState::NotExpected;
        }
    }
    if components.iter().all(|c| !c.holds()) {
        return None;
    }
    Some(BackupDetailResponse {
        cluster: cluster.name.clone(),
        set: backup_set::build_set(backup_id, components),
    })
}
