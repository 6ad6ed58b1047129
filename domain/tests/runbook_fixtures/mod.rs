//! Backup sets and clusters of every runbook profile, shared by the golden and property tests.

use backup_domain::api::{ManagementApi, SecondaryStorage, VersionProfile};
use backup_domain::backup_set::{self, PartitionBackup, SnapshotPart};
use backup_domain::runbook::{BackupStore, ClusterFacts, DeploymentFacts};
use backup_domain::{BackupSet, Component, ComponentBackup, ComponentState};

pub const ID: u64 = 1748937221;

pub fn zeebe(partitions: u32, version: &str) -> ComponentBackup {
    let mut z = ComponentBackup::new(Component::Zeebe, ComponentState::Completed);
    z.upstream_state = Some("COMPLETED".into());
    z.versions = vec![version.into()];
    z.partitions = (1..=partitions)
        .map(|p| PartitionBackup {
            partition_id: p,
            state: "COMPLETED".into(),
            snapshot_id: Some(format!("{}-1-{}-{}", 200 + p, 3000 + p, 3100 + p)),
            checkpoint_position: Some(i64::from(4000 + p)),
            broker_id: Some(i32::try_from(p - 1).unwrap_or(0)),
            broker_version: Some(version.into()),
            ..PartitionBackup::default()
        })
        .collect();
    z
}

pub fn parts(component: Component, prefix: &str, version: &str, of: u32) -> ComponentBackup {
    let mut c = ComponentBackup::new(component, ComponentState::Completed);
    c.versions = vec![version.into()];
    c.parts = (1..=of)
        .map(|k| SnapshotPart {
            name: backup_domain::naming::part_name(prefix, ID, version, k, of),
            state: "SUCCESS".into(),
            version: Some(version.into()),
            ..SnapshotPart::default()
        })
        .collect();
    c
}

pub fn single(component: Component, name: &str) -> ComponentBackup {
    let mut c = ComponentBackup::new(component, ComponentState::Completed);
    c.parts = vec![SnapshotPart {
        name: name.into(),
        state: "SUCCESS".into(),
        ..SnapshotPart::default()
    }];
    c
}

pub fn records() -> ComponentBackup {
    single(
        Component::RecordsSnapshot,
        &backup_domain::naming::records_snapshot_name(ID),
    )
}

pub fn cluster(
    name: &str,
    version: &str,
    storage: SecondaryStorage,
    api: ManagementApi,
    set: &BackupSet,
) -> ClusterFacts {
    ClusterFacts {
        name: name.into(),
        version: version.into(),
        profile: if version == "8.7" {
            VersionProfile::V87
        } else {
            VersionProfile::V88
        },
        secondary_storage: storage,
        api,
        repository: (storage == SecondaryStorage::Elasticsearch).then(|| "camunda".into()),
        elasticsearch_url: (storage == SecondaryStorage::Elasticsearch)
            .then(|| "http://camunda-elasticsearch:9200".into()),
        components: set.components.iter().map(|c| c.component).collect(),
    }
}

pub fn full_deployment(chart: &str) -> DeploymentFacts {
    DeploymentFacts {
        helm_release: Some("camunda".into()),
        namespace: Some("camunda".into()),
        chart_version: Some(chart.into()),
        values_file: Some("values-prod.yaml".into()),
        backup_store: Some(BackupStore::S3),
        backup_store_bucket: Some("camunda-backups".into()),
        backup_store_base_path: Some("prod".into()),
        backup_store_secret: Some("camunda-backup-s3".into()),
        index_prefix: None,
        context_path: None,
        elasticsearch_url: Some("http://localhost:9200".into()),
    }
}

/// Every profile: (golden file stem, set, cluster, deployment).
pub fn profiles() -> Vec<(&'static str, BackupSet, ClusterFacts, DeploymentFacts)> {
    let mut out = Vec::new();

    // 8.7, as in Camunda's example: Optimize one patch behind Operate and Tasklist.
    let set = backup_set::build_set(
        ID,
        vec![
            zeebe(3, "8.7.2"),
            parts(Component::Operate, "camunda_operate_", "8.7.2", 6),
            parts(Component::Tasklist, "camunda_tasklist_", "8.7.2", 6),
            parts(Component::Optimize, "camunda_optimize_", "8.7.1", 2),
            records(),
        ],
    );
    let c = cluster(
        "prod-87",
        "8.7",
        SecondaryStorage::Elasticsearch,
        ManagementApi::Actuator,
        &set,
    );
    out.push(("v87", set, c, full_deployment("12.13.3")));

    // 8.8 with a deployment section that leaves the chart version and values file out.
    let set = backup_set::build_set(
        ID,
        vec![
            zeebe(3, "8.8.3"),
            parts(Component::Webapps, "camunda_webapps_", "8.8.3", 5),
            parts(Component::Optimize, "camunda_optimize_", "8.8.3", 2),
            records(),
        ],
    );
    let c = cluster(
        "prod-88",
        "8.8",
        SecondaryStorage::Elasticsearch,
        ManagementApi::Actuator,
        &set,
    );
    let mut d = full_deployment("13.12.7");
    d.chart_version = None;
    d.values_file = None;
    d.backup_store = Some(BackupStore::Gcs);
    d.backup_store_secret = Some("camunda-backup-gcs".into());
    d.backup_store_base_path = None;
    d.index_prefix = Some("prod".into());
    out.push(("v88", set, c, d));

    // 8.10 over the REST API, with a context path and a Web Modeler dump.
    let set = backup_set::build_set(
        ID,
        vec![
            zeebe(2, "8.10.0"),
            parts(Component::Webapps, "camunda_webapps_", "8.10.0", 5),
            parts(Component::Optimize, "camunda_optimize_", "8.10.0", 2),
            records(),
            single(Component::WebModelerDump, "web-modeler-1748937221.dump"),
        ],
    );
    let c = cluster(
        "prod-810",
        "8.10",
        SecondaryStorage::Elasticsearch,
        ManagementApi::Rest,
        &set,
    );
    let mut d = full_deployment("15.0.0");
    d.context_path = Some("/camunda".into());
    d.elasticsearch_url = Some("https://camunda-es-http:9200".into());
    out.push(("v810", set, c, d));

    // 8.9 on PostgreSQL: the database dump first, then Zeebe.
    let set = backup_set::build_set(
        ID,
        vec![
            single(Component::RdbmsDump, "rdbms-1748937221.dump"),
            zeebe(3, "8.9.1"),
        ],
    );
    let c = cluster(
        "prod-rdbms",
        "8.9",
        SecondaryStorage::Rdbms,
        ManagementApi::Actuator,
        &set,
    );
    let mut d = full_deployment("14.8.4");
    d.backup_store = Some(BackupStore::Azure);
    d.backup_store_secret = Some("camunda-backup-azure".into());
    out.push(("rdbms", set, c, d));
    out
}
