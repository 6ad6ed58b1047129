//! Environment overrides of the file: the listen address and component URLs, so that one file
//! serves several deployments. The environment is passed in, never read here.

use super::file::{
    FileConfig, FileElasticsearch, FileEndpoint, default_records_pattern, default_repository,
};

/// Env overrides look like `BACKUP_CONSOLE_<CLUSTER>_<COMPONENT>_URL` (see [`apply_env_overrides`]).
const ENV_PREFIX: &str = "BACKUP_CONSOLE_";

/// `BACKUP_CONSOLE_LISTEN`, and per cluster `BACKUP_CONSOLE_<CLUSTER>_<COMPONENT>_URL` and
/// `BACKUP_CONSOLE_<CLUSTER>_ELASTICSEARCH_REPOSITORY`, where `<CLUSTER>` is the name upper-cased
/// with `-` as `_` and `<COMPONENT>` one of ZEEBE, ORCHESTRATION, OPERATE, TASKLIST, OPTIMIZE,
/// ELASTICSEARCH. An override replaces the URL of a section the file has, or adds the section.
pub(super) fn apply_env_overrides(file: &mut FileConfig, env: &dyn Fn(&str) -> Option<String>) {
    if let Some(listen) = env(&format!("{ENV_PREFIX}LISTEN")) {
        file.server.listen = Some(listen);
    }
    for cluster in &mut file.clusters {
        let key = |component: &str, field: &str| {
            format!(
                "{ENV_PREFIX}{}_{component}_{field}",
                cluster.name.to_uppercase().replace('-', "_")
            )
        };
        let endpoint = |slot: &mut Option<FileEndpoint>, name: &str| {
            if let Some(url) = env(&key(name, "URL")) {
                match slot {
                    Some(e) => e.url = url,
                    None => {
                        *slot = Some(FileEndpoint {
                            url,
                            auth: None,
                            brokers: Vec::new(),
                            since_backup_id: None,
                            ca_file: None,
                            tls_server_name: None,
                            rest: None,
                        })
                    }
                }
            }
        };
        let (es_key, es_repo_key) = (
            key("ELASTICSEARCH", "URL"),
            key("ELASTICSEARCH", "REPOSITORY"),
        );
        endpoint(&mut cluster.zeebe, "ZEEBE");
        endpoint(&mut cluster.orchestration, "ORCHESTRATION");
        endpoint(&mut cluster.operate, "OPERATE");
        endpoint(&mut cluster.tasklist, "TASKLIST");
        endpoint(&mut cluster.optimize, "OPTIMIZE");
        if let Some(url) = env(&es_key) {
            match &mut cluster.elasticsearch {
                Some(es) => es.url = url,
                None => {
                    cluster.elasticsearch = Some(FileElasticsearch {
                        url,
                        repository: default_repository(),
                        records_index_pattern: default_records_pattern(),
                        auth: None,
                        since_backup_id: None,
                        ca_file: None,
                        tls_server_name: None,
                    })
                }
            }
        }
        if let (Some(repo), Some(es)) = (env(&es_repo_key), cluster.elasticsearch.as_mut()) {
            es.repository = repo;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::super::fixtures::{V87, env_with};

    #[test]
    fn environment_overrides_urls_and_listen() {
        let env = env_with(&[
            ("ES_USER", "elastic"),
            ("ES_PASSWORD", "x"),
            ("BACKUP_CONSOLE_LISTEN", "127.0.0.1:7000"),
            (
                "BACKUP_CONSOLE_PROD_EU_OPERATE_URL",
                "http://operate.internal:9600",
            ),
            ("BACKUP_CONSOLE_PROD_EU_ELASTICSEARCH_REPOSITORY", "other"),
        ]);
        let config = Config::parse(V87, "test.toml", &env).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:7000");
        let c = &config.clusters[0];
        assert_eq!(
            c.operate.as_ref().unwrap().url.as_str(),
            "http://operate.internal:9600/"
        );
        assert_eq!(c.elasticsearch.as_ref().unwrap().repository, "other");
    }
}
