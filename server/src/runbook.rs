//! The restore runbook of one set: the set read fresh from every component, as the detail view
//! reads it, and the cluster's facts from the configuration. Nothing is restored.

use backup_domain::runbook::{self, ClusterFacts, RunbookFormat};

use crate::cluster::Cluster;
use crate::history;

/// What the configuration says about `cluster`, as the runbook needs it.
pub fn facts(cluster: &Cluster) -> ClusterFacts {
    let (elasticsearch_url, repository) = cluster.elasticsearch.clone().unzip();
    ClusterFacts {
        name: cluster.name.clone(),
        version: cluster.version.clone(),
        profile: cluster.profile,
        secondary_storage: cluster.secondary_storage,
        api: cluster.api,
        repository,
        elasticsearch_url,
        components: cluster.components(),
    }
}

/// The runbook of backup `backup_id`, or `None` when no component holds anything under it.
pub async fn render(cluster: &Cluster, backup_id: u64, format: RunbookFormat) -> Option<String> {
    let detail = history::detail(cluster, backup_id).await?;
    let book = runbook::build(&detail.set, &facts(cluster), &cluster.deployment);
    Some(book.render(format))
}

/// The file name a download of it gets.
pub fn file_name(cluster: &str, backup_id: u64, format: RunbookFormat) -> String {
    format!("restore-{cluster}-{backup_id}.{}", format.extension())
}
