//! A restore runbook for one backup set: the ordered, version-specific procedure (§8.3, and
//! Camunda's restore pages under
//! https://docs.camunda.io/docs/self-managed/operational-guides/backup-restore/ for 8.9's RDBMS and
//! 8.10's Restore API) filled with the set's facts and the deployment's.
//!
//! The console never runs a restore. It writes the steps an administrator follows, as Markdown to
//! read and as a shell script that runs only what is safe as written: destructive steps ask for a
//! typed `yes`, steps that need a person's judgement are comments, and an unknown fact makes the
//! script refuse to start until it is filled in.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::api::{ManagementApi, SecondaryStorage, VersionProfile, minor_of};
use crate::backup_set::{BackupSet, Component, ComponentState, Verdict};
use crate::naming;

/// Where Zeebe writes its backups (`[clusters.deployment] backup_store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStore {
    S3,
    Gcs,
    Azure,
    Filesystem,
}

impl BackupStore {
    pub const NAMES: &'static str = "s3, gcs, azure or filesystem";

    pub fn parse(text: &str) -> Option<BackupStore> {
        match text {
            "s3" => Some(BackupStore::S3),
            "gcs" => Some(BackupStore::Gcs),
            "azure" => Some(BackupStore::Azure),
            "filesystem" => Some(BackupStore::Filesystem),
            _ => None,
        }
    }

    /// The value of the `..._BACKUP_STORE` variable.
    fn env_value(self) -> &'static str {
        match self {
            BackupStore::S3 => "S3",
            BackupStore::Gcs => "GCS",
            BackupStore::Azure => "AZURE",
            BackupStore::Filesystem => "FILESYSTEM",
        }
    }
}

/// `[clusters.deployment]`: how the cluster is installed. Every fact is optional; a missing one
/// becomes a marked placeholder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentFacts {
    pub helm_release: Option<String>,
    pub namespace: Option<String>,
    pub chart_version: Option<String>,
    /// The values file the release was installed with, which the final `helm upgrade` returns to.
    pub values_file: Option<String>,
    pub backup_store: Option<BackupStore>,
    /// The S3 or GCS bucket, or the Azure container.
    pub backup_store_bucket: Option<String>,
    pub backup_store_base_path: Option<String>,
    /// The Kubernetes secret holding the backup store's credentials.
    pub backup_store_secret: Option<String>,
    pub index_prefix: Option<String>,
    /// The orchestration component's `contextPath`, which also prefixes its management paths.
    pub context_path: Option<String>,
    /// Elasticsearch as the administrator reaches it (without credentials).
    pub elasticsearch_url: Option<String>,
}

/// What the console's configuration says about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterFacts {
    pub name: String,
    /// The exact minor, "8.7" to "8.10".
    pub version: String,
    pub profile: VersionProfile,
    pub secondary_storage: SecondaryStorage,
    pub api: ManagementApi,
    /// The Elasticsearch snapshot repository (`[clusters.elasticsearch] repository`).
    pub repository: Option<String>,
    /// The console's own Elasticsearch URL, credentials removed: used when the deployment names none.
    pub elasticsearch_url: Option<String>,
    /// The configured components, in display order.
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunbookFormat {
    Markdown,
    Shell,
}

impl RunbookFormat {
    pub fn parse(text: &str) -> Option<RunbookFormat> {
        match text {
            "md" => Some(RunbookFormat::Markdown),
            "sh" => Some(RunbookFormat::Shell),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            RunbookFormat::Markdown => "md",
            RunbookFormat::Shell => "sh",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            RunbookFormat::Markdown => "text/markdown; charset=utf-8",
            RunbookFormat::Shell => "text/plain; charset=utf-8",
        }
    }
}

/// Which documented restore procedure applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Procedure {
    /// 8.7: separate Operate, Tasklist and Zeebe, the restore app per broker.
    V87,
    /// 8.8 and 8.9 on Elasticsearch/OpenSearch: the Orchestration Cluster's restore application.
    RestoreApplication,
    /// 8.10 on Elasticsearch/OpenSearch: the in-place Restore API.
    RestoreApi,
    /// 8.9 and later on a relational database: the database first, then Zeebe.
    Rdbms,
}

impl Procedure {
    pub fn of(cluster: &ClusterFacts) -> Procedure {
        if cluster.secondary_storage == SecondaryStorage::Rdbms {
            Procedure::Rdbms
        } else if cluster.profile == VersionProfile::V87 {
            Procedure::V87
        } else if minor_of(&cluster.version) >= 10 {
            Procedure::RestoreApi
        } else {
            Procedure::RestoreApplication
        }
    }

    fn label(self) -> &'static str {
        match self {
            Procedure::V87 => "8.7: restore Elasticsearch snapshots, then the Zeebe restore app",
            Procedure::RestoreApplication => {
                "8.8/8.9: restore Elasticsearch snapshots, then the restore application"
            }
            Procedure::RestoreApi => {
                "8.10: the in-place Restore API (the restore application is the alternative)"
            }
            Procedure::Rdbms => "RDBMS: restore the database first, then Zeebe",
        }
    }
}

/// What a step does when the script reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Safe to run as written.
    Run,
    /// Runs after a typed `yes`; `deletes` says what is lost.
    Destructive { deletes: String },
    /// Runs after a typed `yes` to a question (a change of state that deletes nothing).
    Confirm { question: String },
    /// A person has to do or adapt it; the script carries the commands as comments.
    Manual { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub title: String,
    pub detail: Vec<String>,
    /// Command templates: `{{NAME}}` is a variable of the runbook.
    pub commands: Vec<String>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub text: String,
    /// A read-only command that shows it.
    pub command: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub title: String,
    pub steps: Vec<Step>,
    /// What must hold before the next phase.
    pub checks: Vec<Check>,
}

/// A variable the commands use: known from the file, or a placeholder to fill in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    pub name: &'static str,
    pub value: Option<String>,
    /// Where it comes from, e.g. "[clusters.deployment] namespace".
    pub source: &'static str,
    /// Read from the environment of whoever runs it (a secret, e.g. a database URL), never written.
    pub from_env: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    pub component: Component,
    pub name: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runbook {
    pub title: String,
    pub procedure: Procedure,
    /// Shown first: set not restorable, versions that differ, facts unknown.
    pub warnings: Vec<String>,
    pub facts: Vec<(String, String)>,
    /// Every Elasticsearch snapshot and database dump of the set.
    pub snapshots: Vec<SnapshotRow>,
    /// Zeebe's partitions: id, state, broker, broker version, snapshot id.
    pub partitions: Vec<[String; 5]>,
    pub phases: Vec<Phase>,
    pub vars: Vec<Var>,
}

const FILL_IN: &str = "__FILL_IN__";

/// The runbook for `set` on `cluster` as `deployment` describes it.
pub fn build(set: &BackupSet, cluster: &ClusterFacts, deployment: &DeploymentFacts) -> Runbook {
    let procedure = Procedure::of(cluster);
    let ctx = Ctx::new(set, cluster, deployment, procedure);
    let phases = match procedure {
        Procedure::V87 | Procedure::RestoreApplication => ctx.offline_phases(),
        Procedure::RestoreApi => ctx.restore_api_phases(),
        Procedure::Rdbms => ctx.rdbms_phases(),
    };
    let vars = ctx.vars(&phases);
    let mut warnings = ctx.warnings();
    let unknown: Vec<String> = vars
        .iter()
        .filter(|v| v.value.is_none() && !v.from_env)
        .map(|v| format!("{} ({})", v.name, v.source))
        .collect();
    if !unknown.is_empty() {
        warnings.push(format!(
            "Unknown, marked as placeholders below (the script refuses to run until they are filled in): {}.",
            unknown.join(", ")
        ));
    }
    Runbook {
        title: format!(
            "Restore runbook: backup {} of cluster {}",
            set.backup_id, cluster.name
        ),
        procedure,
        facts: ctx.facts(),
        snapshots: ctx.snapshots.clone(),
        partitions: ctx.partitions(),
        warnings,
        phases,
        vars,
    }
}

struct Ctx<'a> {
    set: &'a BackupSet,
    cluster: &'a ClusterFacts,
    deployment: &'a DeploymentFacts,
    procedure: Procedure,
    snapshots: Vec<SnapshotRow>,
    /// Components whose snapshot names are not known (they did not answer, or hold nothing).
    unlisted: Vec<Component>,
    versions: BTreeMap<Component, Vec<String>>,
}

impl<'a> Ctx<'a> {
    fn new(
        set: &'a BackupSet,
        cluster: &'a ClusterFacts,
        deployment: &'a DeploymentFacts,
        procedure: Procedure,
    ) -> Self {
        let mut snapshots = Vec::new();
        let mut unlisted = Vec::new();
        let mut versions: BTreeMap<Component, Vec<String>> = BTreeMap::new();
        for c in &set.components {
            let mut found: Vec<String> = c.versions.clone();
            for part in &c.parts {
                snapshots.push(SnapshotRow {
                    component: c.component,
                    name: part.name.clone(),
                    state: part.state.clone(),
                });
                if let Some(v) = part.version.clone().or_else(|| version_in_name(&part.name)) {
                    found.push(v);
                }
            }
            for p in &c.partitions {
                found.extend(p.broker_version.clone());
            }
            found.sort();
            found.dedup();
            if !found.is_empty() {
                versions.insert(c.component, found);
            }
            if c.component != Component::Zeebe && c.parts.is_empty() && c.holds() {
                if c.component == Component::RecordsSnapshot && c.state == ComponentState::Completed
                {
                    snapshots.push(SnapshotRow {
                        component: c.component,
                        name: naming::records_snapshot_name(set.backup_id),
                        state: "SUCCESS".into(),
                    });
                } else {
                    unlisted.push(c.component);
                }
            }
        }
        Ctx {
            set,
            cluster,
            deployment,
            procedure,
            snapshots,
            unlisted,
            versions,
        }
    }

    fn has(&self, component: Component) -> bool {
        self.set.component(component).is_some_and(|c| c.holds())
    }

    fn zeebe_partitions(&self) -> usize {
        self.set
            .component(Component::Zeebe)
            .map_or(0, |z| z.partitions.len())
    }

    fn partition_count(&self) -> String {
        match self.zeebe_partitions() {
            0 => "unknown (Zeebe reported no partition for this backup)".into(),
            n => n.to_string(),
        }
    }

    fn all_versions(&self) -> Vec<String> {
        let mut all: Vec<String> = self.versions.values().flatten().cloned().collect();
        all.sort();
        all.dedup();
        all
    }

    fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let reasons = if self.set.reasons.is_empty() {
            String::new()
        } else {
            format!(" {}", self.set.reasons.join("; "))
        };
        match self.set.verdict {
            Verdict::Restorable => {}
            Verdict::RestorablePartial => out.push(format!(
                "This set is only partially restorable: a restore brings back everything except what it lacks.{reasons}"
            )),
            Verdict::NotRestorable => out.push(format!(
                "This set is NOT restorable: do not restore from it; pick a restorable set.{reasons}"
            )),
            Verdict::InProgress => out.push(format!(
                "This backup is still in progress: wait until it completes before restoring from it.{reasons}"
            )),
            Verdict::Unknown => out.push(format!(
                "Whether this set is restorable is unknown (a component did not answer): check every part yourself before restoring.{reasons}"
            )),
        }
        let all = self.all_versions();
        if all.len() > 1 {
            let per: Vec<String> = self
                .versions
                .iter()
                .map(|(c, v)| format!("{} {}", c.label(), v.join("/")))
                .collect();
            out.push(format!(
                "Component versions differ ({}): install each component at exactly the version its backup was taken with.",
                per.join(", ")
            ));
        } else if all.is_empty() {
            out.push(
                "The version that took this backup is unknown (no snapshot name or partition reports it): find it before installing anything."
                    .into(),
            );
        }
        let cluster_minor = minor_of(&self.cluster.version);
        // RDBMS restores onto the same minor or one newer; Elasticsearch needs the same.
        let rdbms = self.procedure == Procedure::Rdbms;
        let off: Vec<&String> = all
            .iter()
            .filter(|v| {
                let m = minor_of(v);
                if rdbms {
                    !(m == cluster_minor || m + 1 == cluster_minor)
                } else {
                    m != cluster_minor
                }
            })
            .collect();
        if !off.is_empty() {
            let rule = if rdbms {
                "an RDBMS restore accepts the same minor or one newer"
            } else {
                "Elasticsearch/OpenSearch restores need exactly the backup's version"
            };
            out.push(format!(
                "The backup was taken by {} while the console's configuration says {}: {rule}.",
                off.iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.cluster.version
            ));
        }
        if self.zeebe_partitions() == 0 {
            out.push("The partition count is unknown: the target cluster must have the same partition count as the backup.".into());
        }
        for c in &self.unlisted {
            out.push(format!(
                "The snapshot names of {} are unknown (it reported none for this ID): list them before restoring.",
                c.label()
            ));
        }
        out
    }

    fn facts(&self) -> Vec<(String, String)> {
        let d = self.deployment;
        let or = |v: &Option<String>, what: &str| {
            v.clone()
                .unwrap_or_else(|| format!("unknown ({what} not set)"))
        };
        let storage = match self.cluster.secondary_storage {
            SecondaryStorage::Elasticsearch => "Elasticsearch/OpenSearch",
            SecondaryStorage::Rdbms => "relational database (RDBMS)",
        };
        let mut facts = vec![
            ("Cluster".into(), self.cluster.name.clone()),
            (
                "Camunda version (configuration)".into(),
                self.cluster.version.clone(),
            ),
            ("Procedure".into(), self.procedure.label().into()),
            ("Secondary storage".into(), storage.into()),
            ("Backup ID".into(), self.set.backup_id.to_string()),
            ("Verdict".into(), self.set.verdict.label().into()),
            ("Partition count".into(), self.partition_count()),
        ];
        for (c, v) in &self.versions {
            facts.push((format!("{} version", c.label()), v.join(", ")));
        }
        if self.cluster.secondary_storage == SecondaryStorage::Elasticsearch {
            facts.push((
                "Snapshot repository".into(),
                or(
                    &self.cluster.repository,
                    "[clusters.elasticsearch] repository",
                ),
            ));
            if let Some(prefix) = &d.index_prefix {
                facts.push(("Index prefix".into(), prefix.clone()));
            }
        }
        let store = d
            .backup_store
            .map(|s| s.env_value().to_string())
            .unwrap_or_else(|| "unknown ([clusters.deployment] backup_store not set)".into());
        facts.push(("Zeebe backup store".into(), store));
        if let Some(b) = &d.backup_store_bucket {
            facts.push(("Backup store bucket".into(), b.clone()));
        }
        if let Some(b) = &d.backup_store_base_path {
            facts.push(("Backup store base path".into(), b.clone()));
        }
        if let Some(s) = &d.backup_store_secret {
            facts.push(("Backup store credentials secret".into(), s.clone()));
        }
        facts.push((
            "Helm release".into(),
            or(&d.helm_release, "[clusters.deployment] helm_release"),
        ));
        facts.push((
            "Namespace".into(),
            or(&d.namespace, "[clusters.deployment] namespace"),
        ));
        facts.push((
            "Chart version".into(),
            or(&d.chart_version, "[clusters.deployment] chart_version"),
        ));
        if self.procedure != Procedure::V87 {
            facts.push((
                "Context path".into(),
                d.context_path
                    .clone()
                    .unwrap_or_else(|| "none (the chart's default)".into()),
            ));
        }
        facts
    }

    fn partitions(&self) -> Vec<[String; 5]> {
        let Some(z) = self.set.component(Component::Zeebe) else {
            return Vec::new();
        };
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        z.partitions
            .iter()
            .map(|p| {
                [
                    p.partition_id.to_string(),
                    p.state.clone(),
                    opt(p.broker_id.map(|b| b.to_string())),
                    opt(p.broker_version.clone()),
                    opt(p.snapshot_id.clone()),
                ]
            })
            .collect()
    }

    /// Every variable the phases use, in a stable order, with its value when known.
    fn vars(&self, phases: &[Phase]) -> Vec<Var> {
        let d = self.deployment;
        let es_url = d
            .elasticsearch_url
            .clone()
            .or_else(|| self.cluster.elasticsearch_url.clone());
        let all = [
            Var {
                name: "NAMESPACE",
                value: d.namespace.clone(),
                source: "[clusters.deployment] namespace",
                from_env: false,
            },
            Var {
                name: "HELM_RELEASE",
                value: d.helm_release.clone(),
                source: "[clusters.deployment] helm_release",
                from_env: false,
            },
            Var {
                name: "CHART_VERSION",
                value: d.chart_version.clone(),
                source: "[clusters.deployment] chart_version",
                from_env: false,
            },
            Var {
                name: "VALUES_FILE",
                value: d.values_file.clone(),
                source: "[clusters.deployment] values_file, the values the release runs with",
                from_env: false,
            },
            Var {
                name: "ES_URL",
                value: es_url,
                source: "[clusters.deployment] elasticsearch_url",
                from_env: false,
            },
            Var {
                name: "REPOSITORY",
                value: self.cluster.repository.clone(),
                source: "[clusters.elasticsearch] repository",
                from_env: false,
            },
            Var {
                name: "BACKUP_STORE",
                value: d.backup_store.map(|s| s.env_value().to_string()),
                source: "[clusters.deployment] backup_store",
                from_env: false,
            },
            Var {
                name: "BACKUP_BUCKET",
                value: d.backup_store_bucket.clone(),
                source: "[clusters.deployment] backup_store_bucket",
                from_env: false,
            },
            Var {
                name: "BACKUP_BASE_PATH",
                value: d.backup_store_base_path.clone(),
                source: "[clusters.deployment] backup_store_base_path",
                from_env: false,
            },
            Var {
                name: "CONTEXT_PATH",
                value: Some(d.context_path.clone().unwrap_or_default()),
                source: "[clusters.deployment] context_path",
                from_env: false,
            },
            Var {
                name: "RDBMS_DATABASE_URL",
                value: None,
                source: "the secondary storage database, e.g. postgresql://camunda@db:5432/camunda (password in ~/.pgpass or PGPASSWORD)",
                from_env: true,
            },
            Var {
                name: "WEB_MODELER_DATABASE_URL",
                value: None,
                source: "the Web Modeler database, e.g. postgresql://modeler@db:5432/modeler (password in ~/.pgpass or PGPASSWORD)",
                from_env: true,
            },
        ];
        let mut text = String::new();
        for p in phases {
            for s in &p.steps {
                text.extend(s.commands.iter().map(String::as_str));
                text.extend(s.detail.iter().map(String::as_str));
            }
            for c in &p.checks {
                text.push_str(&c.text);
                text.extend(c.command.as_deref());
            }
        }
        all.into_iter()
            .filter(|v| text.contains(&format!("{{{{{}}}}}", v.name)))
            .collect()
    }

    // ---- the pieces of the procedures ----

    fn orchestration_key(&self) -> &'static str {
        if self.procedure == Procedure::V87 {
            "zeebe"
        } else {
            "orchestration"
        }
    }

    /// The Helm keys set to `enabled: false` while the data is replaced.
    fn stopped_keys(&self, with_orchestration: bool) -> Vec<&'static str> {
        let mut keys = Vec::new();
        match self.procedure {
            Procedure::V87 => {
                if with_orchestration {
                    keys.push("zeebe");
                }
                keys.extend([
                    "zeebeGateway",
                    "operate",
                    "tasklist",
                    "optimize",
                    "connectors",
                ]);
            }
            Procedure::RestoreApi => keys.push("optimize"),
            Procedure::RestoreApplication | Procedure::Rdbms => {
                if with_orchestration {
                    keys.push("orchestration");
                }
                keys.extend(["optimize", "connectors"]);
            }
        }
        if self.has(Component::WebModelerDump) {
            keys.push("webModeler");
        }
        keys
    }

    fn helm_upgrade(&self, overlay: Option<&str>) -> String {
        let mut cmd = String::from(
            "helm upgrade \"{{HELM_RELEASE}}\" camunda/camunda-platform --namespace \"{{NAMESPACE}}\" \\\n  --version \"{{CHART_VERSION}}\" -f \"{{VALUES_FILE}}\"",
        );
        if let Some(file) = overlay {
            let _ = write!(cmd, " -f {file}");
        }
        cmd
    }

    fn overlay(&self, file: &str, keys: &[&str], env: &[(String, String)]) -> String {
        let mut yaml = format!("cat > {file} <<EOF\n");
        for k in keys {
            let _ = writeln!(yaml, "{k}:\n  enabled: false");
        }
        if !env.is_empty() {
            let _ = writeln!(yaml, "{}:\n  env:", self.orchestration_key());
            for (name, value) in env {
                let _ = writeln!(yaml, "    - name: {name}\n      value: \"{value}\"");
            }
        }
        yaml.push_str("EOF");
        yaml
    }

    fn store_prefix(&self) -> &'static str {
        match self.procedure {
            Procedure::V87 => "ZEEBE_BROKER_DATA_BACKUP_",
            _ if minor_of(&self.cluster.version) >= 9 => "CAMUNDA_DATA_PRIMARYSTORAGE_BACKUP_",
            _ => "CAMUNDA_DATA_BACKUP_",
        }
    }

    /// The backup store's variables for the restore, as the version names them.
    fn store_env(&self) -> Vec<(String, String)> {
        let p = self.store_prefix();
        let mut env = vec![(format!("{p}STORE"), "{{BACKUP_STORE}}".to_string())];
        let base = self.deployment.backup_store_base_path.is_some();
        match self.deployment.backup_store {
            Some(BackupStore::S3) | Some(BackupStore::Gcs) => {
                let kind = if self.deployment.backup_store == Some(BackupStore::S3) {
                    "S3"
                } else {
                    "GCS"
                };
                env.push((format!("{p}{kind}_BUCKETNAME"), "{{BACKUP_BUCKET}}".into()));
                if base {
                    env.push((format!("{p}{kind}_BASEPATH"), "{{BACKUP_BASE_PATH}}".into()));
                }
            }
            // Azure's base path is the blob container.
            Some(BackupStore::Azure) => {
                env.push((format!("{p}AZURE_BASEPATH"), "{{BACKUP_BUCKET}}".into()));
            }
            Some(BackupStore::Filesystem) => {
                env.push((
                    format!("{p}FILESYSTEM_BASEPATH"),
                    "{{BACKUP_BASE_PATH}}".into(),
                ));
            }
            None => {}
        }
        env
    }

    fn store_detail(&self) -> String {
        let secret = match &self.deployment.backup_store_secret {
            Some(s) => format!("the entries that read the secret `{s}`"),
            None => "the entries that read the store's credentials secret".into(),
        };
        format!(
            "Helm replaces a list, it does not merge it: `{}.env` in this file replaces the one in your values file. Before you run the upgrade, copy every entry of your own `{}.env` into it ({secret} and any other backup store setting), keeping the restore entries below.",
            self.orchestration_key(),
            self.orchestration_key()
        )
    }

    fn es(&self, rest: &str) -> String {
        format!("curl -fsS $ES_CURL_OPTS {rest}")
    }

    fn index_pattern(&self) -> String {
        let mut names = Vec::new();
        if self.procedure != Procedure::V87 {
            names.push("camunda");
        }
        names.extend(["operate", "tasklist"]);
        // Optimize's indices go only when the set brings them back.
        if self.has(Component::Optimize) {
            names.push("optimize");
        }
        names.push("zeebe");
        names.join("|")
    }

    fn preconditions(&self) -> Phase {
        let exact = if self.procedure == Procedure::Rdbms {
            format!(
                "The target runs the backup's Camunda version or one minor newer ({}); an RDBMS restore does not accept an older version or a jump of two minors.",
                self.version_text()
            )
        } else {
            format!(
                "The target runs exactly the version that took the backup ({}), each component at its own version. Map it to a chart version with https://helm.camunda.io/camunda-platform/version-matrix/.",
                self.version_text()
            )
        };
        let mut detail = vec![
            exact,
            format!(
                "The target has the same partition count as the backup: {}. The broker count and replication factor may differ.",
                self.partition_count()
            ),
            "Zeebe reads the same backup store the backup was written to.".into(),
        ];
        if self.cluster.secondary_storage == SecondaryStorage::Elasticsearch {
            detail.push("Elasticsearch/OpenSearch has the same snapshot repository registered and is sized as before or larger.".into());
            detail.push("The commands reach Elasticsearch at {{ES_URL}}; for a local address keep a `kubectl -n \"{{NAMESPACE}}\" port-forward` to its service running (from 8.10 Elasticsearch runs outside the chart).".into());
        }
        if self.procedure == Procedure::RestoreApi {
            detail.push("You have REST API credentials with the BACKUP:RESTORE permission (the default admin role has it). With physical tenants, restore each tenant's backup IDs; this runbook covers the default tenant.".into());
        }
        let mut commands = vec![
            "kubectl config current-context".to_string(),
            "helm -n \"{{NAMESPACE}}\" status \"{{HELM_RELEASE}}\"".to_string(),
        ];
        if self.cluster.secondary_storage == SecondaryStorage::Elasticsearch {
            commands.push(self.es("\"{{ES_URL}}/_snapshot/{{REPOSITORY}}\""));
        }
        let mut checks = vec![Check {
            text: "The context is the cluster you mean to restore, and the release and chart version are the ones above.".into(),
            command: None,
        }];
        if self.cluster.secondary_storage == SecondaryStorage::Elasticsearch {
            checks.push(Check {
                text: format!(
                    "Every snapshot of backup {} is in the repository and SUCCESS.",
                    self.set.backup_id
                ),
                command: Some(self.es(&format!(
                    "\"{{{{ES_URL}}}}/_cat/snapshots/{{{{REPOSITORY}}}}?h=id,status\" | grep '_{}'",
                    self.set.backup_id
                ))),
            });
        }
        Phase {
            title: "Preconditions".into(),
            steps: vec![Step {
                title: "Confirm you are on the right cluster and the target fits the backup".into(),
                detail,
                commands,
                action: Action::Run,
            }],
            checks,
        }
    }

    fn version_text(&self) -> String {
        let all = self.all_versions();
        if all.is_empty() {
            "unknown".into()
        } else {
            all.join(", ")
        }
    }

    fn templates_phase(&self) -> Phase {
        Phase {
            title: "Index templates".into(),
            steps: vec![Step {
                title: "Make sure the index and component templates exist".into(),
                detail: vec!["Snapshots hold data, not templates. On a fresh installation, start the stack once at the target version so every component creates its templates, then go on.".into()],
                commands: vec![self.es(&format!(
                    "\"{{{{ES_URL}}}}/_index_template\" | grep -oE '\"name\":\"[^\"]*({})[^\"]*\"' || echo 'no template found: start the stack once first'",
                    self.index_pattern()
                ))],
                action: Action::Run,
            }],
            checks: vec![Check {
                text: "Templates of every component are listed.".into(),
                command: None,
            }],
        }
    }

    fn stop_phase(&self, with_orchestration: bool) -> Phase {
        let keys = self.stopped_keys(with_orchestration);
        let es = self.cluster.secondary_storage == SecondaryStorage::Elasticsearch;
        let what = match (with_orchestration, es) {
            (true, true) => "Stop every component except Elasticsearch",
            (true, false) => "Stop every component",
            (false, _) => "Stop Optimize",
        };
        let mut detail = vec![format!(
            "Sets {} to `enabled: false`.{}",
            keys.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if es {
                " Elasticsearch keeps running: do not touch its keys."
            } else {
                ""
            }
        )];
        if with_orchestration {
            detail.push("The Zeebe volumes stay until the step that deletes them.".into());
        }
        Phase {
            title: what.into(),
            steps: vec![
                Step {
                    title: "Write the values that stop them".into(),
                    detail,
                    commands: vec![self.overlay("restore-stop.yaml", &keys, &[])],
                    action: Action::Run,
                },
                Step {
                    title: "Apply them".into(),
                    detail: vec![],
                    commands: vec![self.helm_upgrade(Some("restore-stop.yaml"))],
                    action: Action::Confirm {
                        question: "This stops the components listed above: the cluster is down until the restore ends.".into(),
                    },
                },
            ],
            checks: vec![Check {
                text: if es {
                    "No pod of a stopped component is left (Elasticsearch pods still run)."
                } else {
                    "No pod of a stopped component is left."
                }
                .into(),
                command: Some("kubectl -n \"{{NAMESPACE}}\" get pods".into()),
            }],
        }
    }

    fn delete_indices_phase(&self) -> Phase {
        let pattern = self.index_pattern();
        let mut detail = vec![format!(
            "Lists the indices matching `{pattern}` into restore-indices.txt. Read the list: an index of another application that happens to match must be removed from the file."
        )];
        if let Some(prefix) = &self.deployment.index_prefix {
            detail.push(format!(
                "The indices carry the prefix `{prefix}`; the pattern matches inside the name, so they are listed."
            ));
        }
        Phase {
            title: "Delete the current indices".into(),
            steps: vec![
                Step {
                    title: "List the indices the snapshots replace".into(),
                    detail,
                    commands: vec![format!(
                        "{} | grep -E '{pattern}' | sort > restore-indices.txt\ncat restore-indices.txt",
                        self.es("\"{{ES_URL}}/_cat/indices?h=index\"")
                    )],
                    action: Action::Run,
                },
                Step {
                    title: "Delete them".into(),
                    detail: vec![],
                    commands: vec![format!(
                        "while read -r index; do {}; echo; done < restore-indices.txt",
                        self.es("-X DELETE \"{{ES_URL}}/$index\"")
                    )],
                    action: Action::Destructive {
                        deletes:
                            "every index listed in restore-indices.txt, with all its documents"
                                .into(),
                    },
                },
            ],
            checks: vec![Check {
                text: "No index matching the pattern is left.".into(),
                command: Some(format!(
                    "{} | grep -cE '{pattern}' || true",
                    self.es("\"{{ES_URL}}/_cat/indices?h=index\"")
                )),
            }],
        }
    }

    fn restore_snapshots_phase(&self) -> Phase {
        let names: Vec<&SnapshotRow> = self
            .snapshots
            .iter()
            .filter(|s| !s.component.is_database_dump())
            .collect();
        let odd: Vec<&str> = names
            .iter()
            .filter(|s| !is_plain(&s.name))
            .map(|s| s.name.as_str())
            .collect();
        let mut commands: Vec<String> = names
            .iter()
            .filter(|s| is_plain(&s.name))
            .map(|s| {
                self.es(&format!(
                    "-X POST \"{{{{ES_URL}}}}/_snapshot/{{{{REPOSITORY}}}}/{}/_restore?wait_for_completion=true\"",
                    s.name
                ))
            })
            .collect();
        let mut detail = vec![format!(
            "Restores the {} snapshots of backup {}, one at a time, in order; each call returns when its snapshot is restored.",
            names.len(),
            self.set.backup_id
        )];
        if !self.unlisted.is_empty() {
            detail.push(format!(
                "The snapshot names of {} are unknown: find them with the command below and restore each the same way.",
                self.unlisted
                    .iter()
                    .map(|c| c.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            commands.push(self.es(&format!(
                "\"{{{{ES_URL}}}}/_cat/snapshots/{{{{REPOSITORY}}}}?h=id,status\" | grep '_{}'",
                self.set.backup_id
            )));
        }
        if !odd.is_empty() {
            detail.push(format!(
                "Restore these by hand, their names hold characters a command cannot carry safely: {}.",
                odd.join(", ")
            ));
        }
        if self.procedure == Procedure::RestoreApi {
            detail.push("Every snapshot must be restored before the Zeebe restore starts: the cluster returns to processing as soon as its last partition is restored.".into());
        }
        Phase {
            title: "Restore the Elasticsearch snapshots".into(),
            steps: vec![Step {
                title: "Restore each snapshot".into(),
                detail,
                commands,
                action: Action::Run,
            }],
            checks: vec![Check {
                text:
                    "Each answer shows `\"failed\":0` shards, and the indices are back and green."
                        .into(),
                command: Some(format!(
                    "{} | grep -E '{}'",
                    self.es("\"{{ES_URL}}/_cat/indices?h=health,index\""),
                    self.index_pattern()
                )),
            }],
        }
    }

    fn delete_pvcs_phase(&self) -> Phase {
        Phase {
            title: "Delete Zeebe's volumes".into(),
            steps: vec![
                Step {
                    title: "List Zeebe's persistent volume claims".into(),
                    detail: vec!["The restore needs empty data directories. Read the list: only Zeebe's claims belong in it.".into()],
                    commands: vec!["kubectl -n \"{{NAMESPACE}}\" get pvc -o name | grep zeebe > restore-pvcs.txt || true\ncat restore-pvcs.txt".into()],
                    action: Action::Run,
                },
                Step {
                    title: "Delete them".into(),
                    detail: vec![],
                    commands: vec!["[ ! -s restore-pvcs.txt ] || xargs kubectl -n \"{{NAMESPACE}}\" delete < restore-pvcs.txt".into()],
                    action: Action::Destructive {
                        deletes: "every claim in restore-pvcs.txt and, with the default reclaim policy, the volume and Zeebe's current data on it".into(),
                    },
                },
            ],
            checks: vec![Check {
                text: "No Zeebe claim is left.".into(),
                command: Some("kubectl -n \"{{NAMESPACE}}\" get pvc | grep zeebe || true".into()),
            }],
        }
    }

    /// The restore-only variables of the restore application.
    fn restore_env(&self, with_id: bool) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if self.procedure != Procedure::V87 {
            env.push(("SPRING_PROFILES_ACTIVE".to_string(), "restore".to_string()));
        }
        env.push(("ZEEBE_RESTORE".into(), "true".into()));
        if with_id {
            env.push((
                "ZEEBE_RESTORE_FROM_BACKUP_ID".into(),
                self.set.backup_id.to_string(),
            ));
        }
        env.extend(self.store_env());
        match self.procedure {
            Procedure::Rdbms => {
                env.push(("CAMUNDA_DATA_SECONDARY_STORAGE_TYPE".into(), "rdbms".into()));
            }
            Procedure::V87 => {}
            _ => env.push((
                "CAMUNDA_DATA_BACKUP_REPOSITORYNAME".into(),
                "{{REPOSITORY}}".into(),
            )),
        }
        env
    }

    /// The settings that exist only for the restore and must go afterwards.
    fn restore_only_names(&self) -> &'static str {
        match self.procedure {
            Procedure::V87 => "`ZEEBE_RESTORE`, `ZEEBE_RESTORE_FROM_BACKUP_ID`",
            _ => {
                "`SPRING_PROFILES_ACTIVE=restore`, `ZEEBE_RESTORE`, `ZEEBE_RESTORE_FROM_BACKUP_ID`, `ZEEBE_RESTORE_TO_TIMESTAMP`"
            }
        }
    }

    fn zeebe_restore_phase(&self) -> Phase {
        let rdbms = self.procedure == Procedure::Rdbms;
        let keys = self.stopped_keys(false);
        let env = self.restore_env(!rdbms);
        let mut detail = vec![
            format!(
                "Starts Zeebe with the restore variables ({}), the other components still stopped. Each broker restores its partitions into its empty volume and stops.",
                env.iter()
                    .map(|(n, _)| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            self.store_detail(),
        ];
        if self.deployment.backup_store.is_none() {
            detail.push(format!(
                "The backup store is unknown: add the `{}*` variables of your store (bucket, base path) as your values set them.",
                self.store_prefix()
            ));
        }
        match self.procedure {
            Procedure::V87 => {
                detail.push(format!("This needs chart 12.1.0 or later, whose startup script runs `/usr/local/zeebe/bin/restore --backupId=$ZEEBE_RESTORE_FROM_BACKUP_ID` when `ZEEBE_RESTORE=true`. Older charts: set `zeebe.command: [\"/usr/local/zeebe/bin/restore\", \"--backupId={}\"]` with `SPRING_PROFILES_ACTIVE=restore` instead of the two restore variables.", self.set.backup_id));
            }
            Procedure::Rdbms => {
                detail.push(format!(
                    "No backup ID is given: the restore reads the exporter position from the database and picks the matching Zeebe backups, which should include backup {}. To restore up to a point in time add `ZEEBE_RESTORE_TO_TIMESTAMP` (ISO-8601). `ZEEBE_RESTORE_FROM_BACKUP_ID={}` forces this backup and skips the database's position: use it only when support tells you to.",
                    self.set.backup_id, self.set.backup_id
                ));
            }
            _ => {
                detail.push(format!("Alternative: instead of the variables, `orchestration.command: [\"/usr/local/camunda/bin/restore\", \"--backupId={}\"]`; it must be removed again in the last phase.", self.set.backup_id));
            }
        }
        detail.push("If a volume holds `lost+found` or `.snapshot`, add `ZEEBE_RESTORE_IGNOREFILESINTARGET` with `.snapshot,lost+found`.".into());
        let mut checks = vec![
            Check {
                text: "Every broker logged `Successfully restored broker from backup` (the pods then crash-loop or complete: that is expected, read the previous container's log).".into(),
                command: Some("for pod in $(kubectl -n \"{{NAMESPACE}}\" get pods -o name | grep -E \"/{{HELM_RELEASE}}-zeebe-[0-9]+\\$\"); do echo \"$pod\"; kubectl -n \"{{NAMESPACE}}\" logs --previous \"$pod\" | grep 'Successfully restored broker from backup' || kubectl -n \"{{NAMESPACE}}\" logs \"$pod\" | grep 'Successfully restored broker from backup' || echo '  NOT restored: read its log'; done".into()),
            },
        ];
        let failures = if rdbms {
            "no backup matches the database's exporter position, a gap in the backup range, a partition without an exporter position, a `--to` before the database's state, the store misconfigured or a data directory not empty"
        } else {
            "no valid backup with this ID, the store misconfigured, a data directory not empty"
        };
        checks.push(Check {
            text: format!("If a broker did not restore, its log says why ({failures}); fix the cause and run this phase again."),
            command: None,
        });
        Phase {
            title: "Restore Zeebe".into(),
            steps: vec![
                Step {
                    title: "Write the restore values".into(),
                    detail,
                    commands: vec![self.overlay("restore-zeebe.yaml", &keys, &env)],
                    action: Action::Run,
                },
                Step {
                    title: "Start Zeebe in restore mode".into(),
                    detail: vec![],
                    commands: vec![self.helm_upgrade(Some("restore-zeebe.yaml"))],
                    action: Action::Confirm {
                        question: "Did you copy your own env entries (the backup store's credentials) into restore-zeebe.yaml?".into(),
                    },
                },
            ],
            checks,
        }
    }

    fn final_phase(&self) -> Phase {
        let stat =
            "kubectl -n \"{{NAMESPACE}}\" rollout status statefulset/\"{{HELM_RELEASE}}-zeebe\"";
        let mut steps = Vec::new();
        let restore_app = self.procedure != Procedure::RestoreApi;
        steps.push(Step {
            title: "Check that your values carry no restore-only setting".into(),
            detail: vec![format!(
                "The last upgrade goes back to your own values: every component on, and none of {} or a restore `command`. A `ZEEBE_RESTORE=true` left behind wiped the restored data on the next restart (camunda/camunda#48199). The command stops when it finds one.",
                self.restore_only_names()
            )],
            commands: vec!["if grep -nE 'ZEEBE_RESTORE|SPRING_PROFILES_ACTIVE.*restore|bin/restore' \"{{VALUES_FILE}}\"; then\n  echo 'remove these restore-only settings from the values file first' >&2; false\nfi".into()],
            action: Action::Run,
        });
        steps.push(Step {
            title: "Start every component with your own values".into(),
            detail: vec![if restore_app {
                "Drops restore-stop.yaml and restore-zeebe.yaml: every key they set returns to your values."
            } else {
                "Drops restore-stop.yaml: every component it stopped starts again."
            }
            .into()],
            commands: vec![self.helm_upgrade(None)],
            action: Action::Confirm {
                question: "Start every component with your own values?".into(),
            },
        });
        if restore_app {
            steps.push(Step {
                title: "Restart Zeebe".into(),
                detail: vec![
                    "The brokers start from the restored data.".into(),
                ],
                commands: vec![
                    "kubectl -n \"{{NAMESPACE}}\" rollout restart statefulset/\"{{HELM_RELEASE}}-zeebe\"".into(),
                    stat.into(),
                ],
                action: Action::Run,
            });
        }
        let mgmt = if self.procedure == Procedure::V87 {
            "/actuator"
        } else {
            "{{CONTEXT_PATH}}/actuator"
        };
        Phase {
            title: "Return to normal operation".into(),
            steps,
            checks: vec![
                Check {
                    text: "The release carries no restore-only setting (the command prints nothing).".into(),
                    command: Some("helm -n \"{{NAMESPACE}}\" get values \"{{HELM_RELEASE}}\" | grep -nE 'ZEEBE_RESTORE|SPRING_PROFILES_ACTIVE.*restore|bin/restore' || true".into()),
                },
                Check {
                    text: format!(
                        "The topology is healthy: every broker ACTIVE and {} partitions with a leader (first `kubectl -n \"{{{{NAMESPACE}}}}\" port-forward svc/{{{{HELM_RELEASE}}}}-zeebe-gateway 9600:9600`).",
                        self.partition_count()
                    ),
                    command: Some(format!("curl -fsS http://localhost:9600{mgmt}/cluster || true")),
                },
                Check {
                    text: "Exporting runs: on each broker `/actuator/partitions` shows `exporterPhase` EXPORTING, and the console's overview shows exporting as running.".into(),
                    command: None,
                },
                Check {
                    text: "Operate shows the process instances as of the backup, and new instances start.".into(),
                    command: None,
                },
            ],
        }
    }

    /// The set's dump file of `component` and its SHA-256: where the console wrote it, else the
    /// name a component listed.
    fn dump_of(&self, component: Component) -> Option<(String, Option<String>)> {
        let c = self.set.component(component)?;
        if let Some(dump) = &c.dump {
            let sha =
                Some(dump.sha256.clone()).filter(|s| s.chars().all(|c| c.is_ascii_hexdigit()));
            return Some((dump.path.clone(), sha));
        }
        c.parts.first().map(|p| (p.name.clone(), None))
    }

    fn database_restore_step(&self, component: Component, var: &str, what: &str) -> Step {
        let dump = self.dump_of(component).filter(|(f, _)| {
            !f.starts_with('-')
                && f.split('/')
                    .all(|piece| piece.is_empty() || is_plain(piece))
        });
        match dump {
            Some((file, sha)) => {
                let restore = if file.ends_with(".sql") || file.ends_with(".psql") {
                    format!("psql --set ON_ERROR_STOP=1 --dbname \"{{{{{var}}}}}\" -f \"{file}\"")
                } else {
                    format!(
                        "pg_restore --clean --if-exists --no-owner --exit-on-error --dbname \"{{{{{var}}}}}\" \"{file}\""
                    )
                };
                let mut commands = Vec::new();
                let mut detail = vec![format!(
                    "The dump `{file}` of this set, taken with the backup. Run it where the file is, with `{var}` exported (no password in it: use ~/.pgpass or PGPASSWORD)."
                )];
                if let Some(sha) = sha {
                    detail.push(format!(
                        "The console recorded its SHA-256 as {sha}: the first command stops if the file changed since."
                    ));
                    commands.push(format!("echo '{sha}  {file}' | sha256sum -c -"));
                }
                commands.push(restore);
                Step {
                    title: format!("Restore the {what} from the set's dump"),
                    detail,
                    commands,
                    action: Action::Destructive {
                        deletes: format!(
                            "every table of the {what} that the dump holds, replaced by the dump's"
                        ),
                    },
                }
            }
            None => Step {
                title: format!("Restore the {what} with your database's own tools"),
                detail: vec![format!(
                    "This set lists no dump of the {what}: restore the dump you took just before backup {} (pg_restore, mysql, RMAN or your provider's point-in-time restore).",
                    self.set.backup_id
                )],
                commands: vec![format!(
                    "pg_restore --clean --if-exists --no-owner --exit-on-error --dbname \"{{{{{var}}}}}\" YOUR_DUMP_FILE"
                )],
                action: Action::Manual {
                    reason: "the dump file is not part of this set".into(),
                },
            },
        }
    }

    fn web_modeler_phase(&self) -> Option<Phase> {
        if !self.has(Component::WebModelerDump) {
            return None;
        }
        Some(Phase {
            title: "Restore the Web Modeler database".into(),
            steps: vec![self.database_restore_step(
                Component::WebModelerDump,
                "WEB_MODELER_DATABASE_URL",
                "Web Modeler database",
            )],
            checks: vec![
                Check {
                    text: "The database answers.".into(),
                    command: Some("psql --dbname \"{{WEB_MODELER_DATABASE_URL}}\" -c 'select 1'".into()),
                },
                Check {
                    text: "The identity provider keeps the same user IDs as at the backup: Web Modeler links projects to them.".into(),
                    command: None,
                },
            ],
        })
    }

    fn offline_phases(&self) -> Vec<Phase> {
        let mut phases = vec![
            self.preconditions(),
            self.templates_phase(),
            self.stop_phase(true),
            self.delete_indices_phase(),
            self.restore_snapshots_phase(),
            self.delete_pvcs_phase(),
            self.zeebe_restore_phase(),
        ];
        phases.extend(self.web_modeler_phase());
        phases.push(self.final_phase());
        phases
    }

    fn rdbms_phases(&self) -> Vec<Phase> {
        let mut phases = vec![self.preconditions(), self.stop_phase(true)];
        phases.push(Phase {
            title: "Restore the database first".into(),
            steps: vec![self.database_restore_step(
                Component::RdbmsDump,
                "RDBMS_DATABASE_URL",
                "secondary storage database",
            )],
            checks: vec![Check {
                text: "The database answers and holds Camunda's tables.".into(),
                command: Some("psql --dbname \"{{RDBMS_DATABASE_URL}}\" -c '\\dt'".into()),
            }],
        });
        phases.push(self.delete_pvcs_phase());
        phases.push(self.zeebe_restore_phase());
        phases.extend(self.web_modeler_phase());
        phases.push(self.final_phase());
        phases
    }

    fn restore_api_phases(&self) -> Vec<Phase> {
        let rest = "http://localhost:8080{{CONTEXT_PATH}}/v2";
        let id = self.set.backup_id;
        let mut phases = vec![self.preconditions()];
        phases.push(Phase {
            title: "Recovery mode".into(),
            steps: vec![
                Step {
                    title: "Reach the REST API and the management port".into(),
                    detail: vec!["Keep this running in another terminal. `$REST_CURL_OPTS` holds your credentials, e.g. `-u admin` or `-H 'Authorization: Bearer …'`.".into()],
                    commands: vec!["kubectl -n \"{{NAMESPACE}}\" port-forward svc/\"{{HELM_RELEASE}}-zeebe-gateway\" 8080:8080 9600:9600".into()],
                    action: Action::Manual { reason: "it runs until stopped".into() },
                },
                Step {
                    title: "Switch the cluster to recovery mode".into(),
                    detail: vec!["Note the `changeId` of the answer.".into()],
                    commands: vec![format!("curl -fsS $REST_CURL_OPTS -X PATCH \"{rest}/mode?mode=RECOVERING\"")],
                    action: Action::Confirm {
                        question: "The cluster stops processing until the restore ends. Go on?".into(),
                    },
                },
            ],
            checks: vec![Check {
                text: "`lastChange.id` equals the changeId and there is no `pendingChange` (repeat until so).".into(),
                command: Some("curl -fsS http://localhost:9600{{CONTEXT_PATH}}/actuator/cluster".into()),
            }],
        });
        phases.push(self.templates_phase());
        phases.push(self.stop_phase(false));
        phases.push(self.delete_indices_phase());
        phases.push(self.restore_snapshots_phase());
        let body = format!("'{{\"backupIds\":[{id}]}}'");
        phases.push(Phase {
            title: "Restore Zeebe in place".into(),
            steps: vec![
                Step {
                    title: "Validate the restore (dry run)".into(),
                    detail: vec!["Returns the planned changes without applying them; a 409 means a broker is not in recovery mode yet.".into()],
                    commands: vec![format!("curl -fsS $REST_CURL_OPTS -X POST \"{rest}/restore?dryRun=true\" -H 'Content-Type: application/json' -d {body}")],
                    action: Action::Run,
                },
                Step {
                    title: format!("Restore backup {id}"),
                    detail: vec!["Answers 202 with a changeId and the planned operations per partition.".into()],
                    commands: vec![format!("curl -fsS $REST_CURL_OPTS -X POST \"{rest}/restore\" -H 'Content-Type: application/json' -d {body}")],
                    action: Action::Destructive {
                        deletes: "the current state of every partition, replaced by the backup's".into(),
                    },
                },
            ],
            checks: vec![
                Check {
                    text: "The restore completes (repeat until it does).".into(),
                    command: Some(format!("curl -fsS $REST_CURL_OPTS \"{rest}/restore\"")),
                },
                Check {
                    text: "The topology shows every partition with a leader and the cluster processing again.".into(),
                    command: Some(format!("curl -fsS $REST_CURL_OPTS \"{rest}/topology\"")),
                },
            ],
        });
        phases.extend(self.web_modeler_phase());
        phases.push(self.final_phase());
        phases.push(Phase {
            title: "Alternative: the restore application".into(),
            steps: vec![Step {
                title: "When the Restore API cannot be used".into(),
                detail: vec![format!(
                    "The 8.8/8.9 procedure still works on 8.10: stop `orchestration`, `optimize` and `connectors`, delete the indices, restore the snapshots above, delete Zeebe's volumes, start `orchestration` with `SPRING_PROFILES_ACTIVE=restore`, `ZEEBE_RESTORE=true`, `ZEEBE_RESTORE_FROM_BACKUP_ID={id}` and the backup store's `{}*` variables, wait for `Successfully restored broker from backup`, then remove every one of those variables and start everything.",
                    self.store_prefix()
                )],
                commands: vec![],
                action: Action::Manual {
                    reason: "an alternative to the phases above, not a step after them".into(),
                },
            }],
            checks: vec![],
        });
        phases
    }
}

/// The version in `camunda_{app}_{id}_{version}_part_{n}_of_{m}`.
fn version_in_name(name: &str) -> Option<String> {
    [
        "camunda_webapps_",
        "camunda_operate_",
        "camunda_tasklist_",
        "camunda_optimize_",
    ]
    .iter()
    .find_map(|prefix| naming::parse_part_name(prefix, name))
    .map(|p| p.version.to_string())
}

impl Runbook {
    pub fn render(&self, format: RunbookFormat) -> String {
        match format {
            RunbookFormat::Markdown => self.markdown(),
            RunbookFormat::Shell => self.shell(),
        }
    }

    /// A command template with its variables as Markdown shows them.
    fn md_command(&self, template: &str) -> String {
        let mut out = template.to_string();
        for v in &self.vars {
            let token = format!("{{{{{}}}}}", v.name);
            let shown = match (&v.value, v.from_env) {
                (_, true) => format!("${}", v.name),
                (Some(value), false) => value.clone(),
                (None, false) => format!("<{}>", v.name),
            };
            out = out.replace(&token, &shown);
        }
        out
    }

    fn sh_command(&self, template: &str) -> String {
        let mut out = template.to_string();
        for v in &self.vars {
            out = out.replace(&format!("{{{{{}}}}}", v.name), &format!("${{{}}}", v.name));
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# {}\n", self.title);
        for w in &self.warnings {
            let _ = writeln!(md, "> **WARNING:** {w}\n");
        }
        md.push_str("Generated by the Backup Console from the set as its components reported it and from the cluster's `[clusters.deployment]`. The console does not run a restore: you do, phase by phase, checking each phase before the next. `<NAME>` marks a value that is unknown: fill it in first.\n\n");
        let env: Vec<&Var> = self.vars.iter().filter(|v| v.from_env).collect();
        for v in env {
            let _ = writeln!(md, "`${}`: export it first: {}.\n", v.name, v.source);
        }
        if self.procedure != Procedure::Rdbms {
            md.push_str("`$ES_CURL_OPTS`: your curl options for Elasticsearch (credentials, `--cacert`); empty when none are needed.\n\n");
        }
        if self.procedure == Procedure::RestoreApi {
            md.push_str("`$REST_CURL_OPTS`: your curl options for the REST API (credentials, `--cacert`).\n\n");
        }
        md.push_str("## The backup set\n\n| Fact | Value |\n|---|---|\n");
        for (k, v) in &self.facts {
            let _ = writeln!(md, "| {k} | {} |", v.replace('|', "\\|"));
        }
        if !self.snapshots.is_empty() {
            let _ = writeln!(
                md,
                "\n### Snapshots and dumps ({})\n\n| Component | Name | State |\n|---|---|---|",
                self.snapshots.len()
            );
            for s in &self.snapshots {
                let _ = writeln!(
                    md,
                    "| {} | `{}` | {} |",
                    s.component.label(),
                    s.name,
                    s.state
                );
            }
        }
        if !self.partitions.is_empty() {
            let _ = writeln!(
                md,
                "\n### Zeebe partitions ({})\n\n| Partition | State | Broker | Version | Snapshot |\n|---|---|---|---|---|",
                self.partitions.len()
            );
            for p in &self.partitions {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} |",
                    p[0], p[1], p[2], p[3], p[4]
                );
            }
        }
        for (i, phase) in self.phases.iter().enumerate() {
            let n = i + 1;
            let _ = writeln!(md, "\n## {n}. {}", phase.title);
            for (j, step) in phase.steps.iter().enumerate() {
                let _ = writeln!(md, "\n**{n}.{} {}**\n", j + 1, step.title);
                for d in &step.detail {
                    let _ = writeln!(md, "{}\n", self.md_command(d));
                }
                match &step.action {
                    Action::Destructive { deletes } => {
                        let _ = writeln!(md, "> **DESTRUCTIVE:** deletes {deletes}.\n");
                    }
                    Action::Manual { reason } => {
                        let _ = writeln!(md, "_By hand: {reason}._\n");
                    }
                    Action::Run | Action::Confirm { .. } => {}
                }
                for c in &step.commands {
                    let _ = writeln!(md, "```sh\n{}\n```\n", self.md_command(c));
                }
            }
            if !phase.checks.is_empty() {
                let _ = writeln!(md, "\nCheck before going on:\n");
                for c in &phase.checks {
                    let _ = writeln!(md, "- [ ] {}", self.md_command(&c.text));
                    if let Some(cmd) = &c.command {
                        let _ = writeln!(
                            md,
                            "  ```sh\n  {}\n  ```",
                            self.md_command(cmd).replace('\n', "\n  ")
                        );
                    }
                }
            }
        }
        md
    }

    pub fn shell(&self) -> String {
        let mut sh = String::from("#!/bin/sh\n");
        let _ = writeln!(sh, "# {}", self.title);
        sh.push_str("# Generated by the Backup Console. It runs the safe steps as written, asks for a typed\n# `yes` before each destructive one, and leaves steps that need judgement as comments.\n# Read the Markdown runbook beside it first.\nset -eu\n\n");
        for w in &self.warnings {
            let _ = writeln!(sh, "# WARNING: {}", one_line(w));
        }
        for (k, v) in &self.facts {
            let _ = writeln!(sh, "# {k}: {}", one_line(v));
        }
        for s in &self.snapshots {
            let _ = writeln!(
                sh,
                "# snapshot: {} ({}, {})",
                one_line(&s.name),
                s.component.label(),
                one_line(&s.state)
            );
        }
        for p in &self.partitions {
            let _ = writeln!(
                sh,
                "# partition {}",
                one_line(&format!(
                    "{}: {}, broker {}, version {}, snapshot {}",
                    p[0], p[1], p[2], p[3], p[4]
                ))
            );
        }
        sh.push('\n');
        for v in &self.vars {
            if v.from_env {
                let _ = writeln!(sh, "# {}: from the environment ({})", v.name, v.source);
                continue;
            }
            let value = v.value.clone().unwrap_or_else(|| FILL_IN.into());
            let _ = writeln!(sh, "{}={}  # {}", v.name, sh_quote(&value), v.source);
        }
        sh.push_str("ES_CURL_OPTS=\"${ES_CURL_OPTS:-}\"  # curl options for Elasticsearch: credentials, --cacert\nREST_CURL_OPTS=\"${REST_CURL_OPTS:-}\"  # curl options for the REST API\n\n");
        sh.push_str("refuse() { echo \"runbook: $1\" >&2; exit 2; }\n");
        sh.push_str("confirm() { printf '\\n%s\\nType yes to go on: ' \"$1\" >&2; read -r answer; [ \"$answer\" = yes ] || refuse 'stopped before this step'; }\n");
        sh.push_str("check() { printf '\\nCheck: %s\\nPress Enter when it holds, Ctrl-C to stop: ' \"$1\" >&2; read -r _; }\n\n");
        for v in &self.vars {
            if v.from_env {
                let _ = writeln!(
                    sh,
                    "[ -n \"${{{n}:-}}\" ] || refuse 'export {n} first'",
                    n = v.name
                );
            } else if v.value.is_none() {
                let _ = writeln!(
                    sh,
                    "[ \"${}\" != {FILL_IN} ] || refuse {}",
                    v.name,
                    sh_quote(&format!(
                        "fill in {} at the top of this script ({})",
                        v.name, v.source
                    ))
                );
            }
        }
        if !self.warnings.is_empty() {
            sh.push_str("cat >&2 <<'WARNINGS'\n");
            for w in &self.warnings {
                let _ = writeln!(sh, "WARNING: {}", one_line(w));
            }
            sh.push_str("WARNINGS\nconfirm 'The warnings above apply to this restore.'\n");
        }
        for (i, phase) in self.phases.iter().enumerate() {
            let n = i + 1;
            let _ = writeln!(
                sh,
                "\necho {}",
                sh_quote(&format!("== {n}. {} ==", phase.title))
            );
            for (j, step) in phase.steps.iter().enumerate() {
                let _ = writeln!(sh, "\n# {n}.{} {}", j + 1, step.title);
                for d in &step.detail {
                    let _ = writeln!(sh, "# {}", one_line(&self.md_command(d)));
                }
                let commands = step.commands.iter().map(|c| self.sh_command(c));
                match &step.action {
                    Action::Run => {}
                    Action::Destructive { deletes } => {
                        let _ = writeln!(
                            sh,
                            "confirm {}",
                            sh_quote(&format!(
                                "DESTRUCTIVE: step {n}.{} deletes {deletes}.",
                                j + 1
                            ))
                        );
                    }
                    Action::Confirm { question } => {
                        let _ = writeln!(sh, "confirm {}", sh_quote(question));
                    }
                    Action::Manual { reason } => {
                        let _ = writeln!(sh, "# By hand ({reason}):");
                        for c in commands {
                            let _ = writeln!(sh, "#   {}", c.replace('\n', "\n#   "));
                        }
                        continue;
                    }
                }
                for c in commands {
                    let _ = writeln!(sh, "{c}");
                }
            }
            for c in &phase.checks {
                if let Some(cmd) = &c.command {
                    let _ = writeln!(
                        sh,
                        "{} || true",
                        self.sh_command(cmd).trim_end_matches(" || true")
                    );
                }
                let _ = writeln!(
                    sh,
                    "check {}",
                    sh_quote(&one_line(&self.md_command(&c.text)))
                );
            }
        }
        sh.push_str("\necho 'Runbook done.'\n");
        sh
    }
}

/// `text` on one line, so that it stays inside a comment.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// Whether a name from a component can go into a command as it is: an odd character could
/// change what the shell runs.
fn is_plain(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `text` as one single-quoted shell word.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ComponentBackup;
    use crate::backup_set::{PartitionBackup, SnapshotPart, build_set};

    fn part(component: Component, name: &str) -> ComponentBackup {
        let mut c = ComponentBackup::new(component, ComponentState::Completed);
        c.parts = vec![SnapshotPart {
            name: name.into(),
            state: "SUCCESS".into(),
            ..SnapshotPart::default()
        }];
        c
    }

    fn zeebe(state: ComponentState, version: &str) -> ComponentBackup {
        let mut z = ComponentBackup::new(Component::Zeebe, state);
        z.partitions = vec![PartitionBackup {
            partition_id: 1,
            state: "COMPLETED".into(),
            broker_version: Some(version.into()),
            ..PartitionBackup::default()
        }];
        z
    }

    fn cluster(version: &str, storage: SecondaryStorage) -> ClusterFacts {
        ClusterFacts {
            name: "prod".into(),
            version: version.into(),
            profile: if version == "8.7" {
                VersionProfile::V87
            } else {
                VersionProfile::V88
            },
            secondary_storage: storage,
            api: ManagementApi::Actuator,
            repository: Some("camunda".into()),
            elasticsearch_url: Some("http://es:9200".into()),
            components: vec![Component::Zeebe, Component::Webapps],
        }
    }

    fn deployment() -> DeploymentFacts {
        DeploymentFacts {
            helm_release: Some("camunda".into()),
            namespace: Some("camunda".into()),
            chart_version: Some("13.1.0".into()),
            values_file: Some("values.yaml".into()),
            backup_store: Some(BackupStore::S3),
            backup_store_bucket: Some("b".into()),
            ..DeploymentFacts::default()
        }
    }

    fn webapps(version: &str) -> ComponentBackup {
        let mut c = part(
            Component::Webapps,
            &naming::part_name("camunda_webapps_", 7, version, 1, 1),
        );
        c.parts[0].version = Some(version.into());
        c
    }

    #[test]
    fn the_procedure_follows_version_and_storage() {
        let of = |v: &str, s| Procedure::of(&cluster(v, s));
        assert_eq!(of("8.7", SecondaryStorage::Elasticsearch), Procedure::V87);
        assert_eq!(
            of("8.8", SecondaryStorage::Elasticsearch),
            Procedure::RestoreApplication
        );
        assert_eq!(
            of("8.9", SecondaryStorage::Elasticsearch),
            Procedure::RestoreApplication
        );
        assert_eq!(
            of("8.10", SecondaryStorage::Elasticsearch),
            Procedure::RestoreApi
        );
        assert_eq!(of("8.9", SecondaryStorage::Rdbms), Procedure::Rdbms);
        assert_eq!(of("8.10", SecondaryStorage::Rdbms), Procedure::Rdbms);
    }

    #[test]
    fn a_set_that_is_not_restorable_is_said_first() {
        let set = build_set(
            7,
            vec![zeebe(ComponentState::Failed, "8.8.1"), webapps("8.8.1")],
        );
        let book = build(
            &set,
            &cluster("8.8", SecondaryStorage::Elasticsearch),
            &deployment(),
        );
        let md = book.render(RunbookFormat::Markdown);
        let second = md.lines().nth(2).unwrap_or_default();
        assert!(
            second.starts_with("> **WARNING:** This set is NOT restorable"),
            "{second}"
        );
        let sh = book.render(RunbookFormat::Shell);
        let warned = sh
            .find("WARNING: This set is NOT restorable")
            .unwrap_or(usize::MAX);
        let first_command = sh.find("kubectl").unwrap_or(0);
        assert!(warned < first_command);
        // The script asks before it goes on with a set it warned about.
        assert!(sh.contains("confirm 'The warnings above apply to this restore.'"));
    }

    #[test]
    fn versions_that_differ_or_leave_the_configured_minor_are_warned_about() {
        let set = build_set(
            7,
            vec![zeebe(ComponentState::Completed, "8.8.2"), webapps("8.8.1")],
        );
        let book = build(
            &set,
            &cluster("8.9", SecondaryStorage::Elasticsearch),
            &deployment(),
        );
        assert!(
            book.warnings
                .iter()
                .any(|w| w.starts_with("Component versions differ (Zeebe 8.8.2, Web apps 8.8.1)")),
            "{:?}",
            book.warnings
        );
        assert!(
            book.warnings
                .iter()
                .any(|w| w.contains("exactly the backup's version"))
        );
        // An RDBMS backup restores onto one minor newer: no warning for that.
        let set = build_set(7, vec![zeebe(ComponentState::Completed, "8.9.3")]);
        let book = build(
            &set,
            &cluster("8.10", SecondaryStorage::Rdbms),
            &deployment(),
        );
        assert!(book.warnings.is_empty(), "{:?}", book.warnings);
        let book = build(
            &set,
            &cluster("8.9", SecondaryStorage::Rdbms),
            &deployment(),
        );
        assert!(book.warnings.is_empty(), "{:?}", book.warnings);
    }

    #[test]
    fn destructive_steps_wait_for_a_typed_yes() {
        let set = build_set(
            7,
            vec![zeebe(ComponentState::Completed, "8.8.1"), webapps("8.8.1")],
        );
        let sh = build(
            &set,
            &cluster("8.8", SecondaryStorage::Elasticsearch),
            &deployment(),
        )
        .render(RunbookFormat::Shell);
        let lines: Vec<&str> = sh.lines().collect();
        for deleting in ["-X DELETE", "xargs kubectl"] {
            let at = lines
                .iter()
                .position(|l| l.contains(deleting) && !l.starts_with('#'))
                .unwrap_or_else(|| panic!("{deleting} not in the script"));
            assert!(
                lines[at - 1].starts_with("confirm 'DESTRUCTIVE: "),
                "{}",
                lines[at - 1]
            );
        }
        assert!(sh.contains("[ \"$answer\" = yes ] || refuse"));
    }

    #[test]
    fn unknown_facts_are_placeholders_the_script_refuses() {
        let set = build_set(
            7,
            vec![zeebe(ComponentState::Completed, "8.8.1"), webapps("8.8.1")],
        );
        let mut d = deployment();
        d.helm_release = None;
        let book = build(&set, &cluster("8.8", SecondaryStorage::Elasticsearch), &d);
        assert!(
            book.warnings
                .iter()
                .any(|w| w.contains("HELM_RELEASE ([clusters.deployment] helm_release)"))
        );
        let md = book.render(RunbookFormat::Markdown);
        assert!(md.contains("helm upgrade \"<HELM_RELEASE>\""));
        let sh = book.render(RunbookFormat::Shell);
        assert!(sh.contains("HELM_RELEASE='__FILL_IN__'"));
        let refusal = sh
            .find("[ \"$HELM_RELEASE\" != __FILL_IN__ ] || refuse")
            .unwrap_or(usize::MAX);
        assert!(refusal < sh.find("\nkubectl").unwrap_or(0));
    }

    #[test]
    fn the_last_phase_removes_every_restore_only_setting() {
        let set = build_set(
            7,
            vec![zeebe(ComponentState::Completed, "8.8.1"), webapps("8.8.1")],
        );
        let book = build(
            &set,
            &cluster("8.8", SecondaryStorage::Elasticsearch),
            &deployment(),
        );
        let last = book
            .phases
            .iter()
            .rev()
            .find(|p| p.title == "Return to normal operation");
        let Some(last) = last else {
            panic!("no final phase")
        };
        let upgrade = last
            .steps
            .iter()
            .flat_map(|s| &s.commands)
            .find(|c| c.starts_with("helm upgrade"));
        let Some(upgrade) = upgrade else {
            panic!("no upgrade")
        };
        assert!(!upgrade.contains("restore-"), "{upgrade}");
        assert!(last.checks.iter().any(|c| {
            c.command
                .as_deref()
                .is_some_and(|c| c.contains("ZEEBE_RESTORE|SPRING_PROFILES_ACTIVE.*restore"))
        }));
        // The restore values carry what the last phase removes.
        let md = book.render(RunbookFormat::Markdown);
        assert!(md.contains("- name: ZEEBE_RESTORE\n      value: \"true\""));
        assert!(md.contains("- name: ZEEBE_RESTORE_FROM_BACKUP_ID\n      value: \"7\""));
        assert!(md.contains("- name: SPRING_PROFILES_ACTIVE\n      value: \"restore\""));
        assert!(md.contains("camunda/camunda#48199"));
    }

    #[test]
    fn rdbms_restores_the_listed_dump_before_zeebe() {
        let set = build_set(
            7,
            vec![
                part(Component::RdbmsDump, "rdbms-7.dump"),
                zeebe(ComponentState::Completed, "8.9.0"),
            ],
        );
        let book = build(
            &set,
            &cluster("8.9", SecondaryStorage::Rdbms),
            &deployment(),
        );
        let titles: Vec<&str> = book.phases.iter().map(|p| p.title.as_str()).collect();
        let db = titles
            .iter()
            .position(|t| *t == "Restore the database first");
        let zb = titles.iter().position(|t| *t == "Restore Zeebe");
        assert!(db.is_some() && db < zb, "{titles:?}");
        let md = book.render(RunbookFormat::Markdown);
        assert!(md.contains("pg_restore --clean --if-exists --no-owner --exit-on-error --dbname \"$RDBMS_DATABASE_URL\" \"rdbms-7.dump\""));
        assert!(!md.contains("_snapshot/"), "no Elasticsearch on RDBMS");
        assert!(
            !md.contains("ZEEBE_RESTORE_FROM_BACKUP_ID\n"),
            "the database picks the range"
        );
        // Without a dump in the set, the database step is the administrator's, not the script's.
        let set = build_set(7, vec![zeebe(ComponentState::Completed, "8.9.0")]);
        let sh = build(
            &set,
            &cluster("8.9", SecondaryStorage::Rdbms),
            &deployment(),
        )
        .render(RunbookFormat::Shell);
        let line = sh
            .lines()
            .find(|l| l.contains("pg_restore"))
            .unwrap_or_default();
        assert!(line.starts_with('#'), "{line}");
        assert!(sh.contains("[ -n \"${RDBMS_DATABASE_URL:-}\" ] || refuse"));
    }

    #[test]
    fn the_restore_api_runs_the_snapshots_before_the_zeebe_restore() {
        let set = build_set(
            7,
            vec![
                zeebe(ComponentState::Completed, "8.10.0"),
                webapps("8.10.0"),
            ],
        );
        let mut c = cluster("8.10", SecondaryStorage::Elasticsearch);
        c.api = ManagementApi::Rest;
        let md = build(&set, &c, &deployment()).render(RunbookFormat::Markdown);
        let snapshots = md
            .find("/_restore?wait_for_completion=true")
            .unwrap_or(usize::MAX);
        let restore = md
            .find("-X POST \"http://localhost:8080/v2/restore\"")
            .unwrap_or(0);
        assert!(md.find("mode?mode=RECOVERING").unwrap_or(usize::MAX) < snapshots);
        assert!(snapshots < restore);
        assert!(!md.contains("get pvc"), "in place: no volume is deleted");
        assert!(md.contains("optimize:\n  enabled: false"));
        assert!(!md.contains("orchestration:\n  enabled: false"));
    }
}
