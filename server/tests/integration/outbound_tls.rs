//! The console's outbound HTTPS (review M8): a private CA from `ca_file`, and the certificate
//! checked against `tls_server_name` instead of the URL's host. The simulator's Elasticsearch
//! serves the test certificate of `tests/fixtures` (127.0.0.1 and localhost, signed by `ca.pem`).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use backup_console::cluster::Clusters;
use backup_console::config::Config;
use backup_console_testkit::*;
use backup_domain::Component;
use backup_domain::api::VersionProfile;
use camunda_sim::{SimCluster, SimConfig, TlsServer};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// The simulator's Elasticsearch served through the console's own TLS listener.
struct ConsoleTls(tokio_rustls::TlsAcceptor);

impl std::fmt::Debug for ConsoleTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleTls")
    }
}

impl TlsServer for ConsoleTls {
    fn serve(
        &self,
        listener: tokio::net::TcpListener,
        router: axum::Router,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> {
        let listener = backup_console::tls::TlsListener::new(listener, self.0.clone());
        Box::pin(async move { axum::serve(listener, router).await })
    }
}

async fn sim_with_https_elasticsearch() -> SimCluster {
    let mut config = SimConfig::new(VersionProfile::V88);
    config.timings = fast_timings();
    config.seed_count = 3;
    let acceptor = backup_console::tls::acceptor(
        &PathBuf::from(fixture("server.pem")),
        &PathBuf::from(fixture("server.key")),
    )
    .expect("the test certificate loads");
    config.elasticsearch_tls = Some(Arc::new(ConsoleTls(acceptor)));
    SimCluster::start(config).await.expect("simulator starts")
}

/// The cluster's configuration with `extra` lines in its `[clusters.elasticsearch]` section.
fn config(sim: &SimCluster, url: &str, extra: &str) -> Result<Config, String> {
    let text = sim
        .endpoints
        .console_config("t")
        .replace(&sim.endpoints.elasticsearch, url)
        .replace(
            "repository = \"camunda\"\n",
            &format!("repository = \"camunda\"\n{extra}"),
        );
    Config::parse(&text, "t", &|_| None).map_err(|e| e.to_string())
}

async fn records_listing(config: &Config) -> Result<usize, String> {
    let clusters = Clusters::from_config(config).map_err(|e| e.to_string())?;
    let history = backup_console::history::history(clusters.get("t").unwrap()).await;
    if let Some(error) = history
        .component_errors
        .iter()
        .find(|e| e.component == Component::RecordsSnapshot)
    {
        return Err(format!("{error:?}"));
    }
    Ok(history
        .sets
        .iter()
        .filter(|s| {
            s.components.iter().any(|c| {
                c.component == Component::RecordsSnapshot
                    && c.state == backup_domain::backup_set::ComponentState::Completed
            })
        })
        .count())
}

#[tokio::test]
async fn history_lists_records_snapshots_over_https_with_a_private_ca() {
    let sim = sim_with_https_elasticsearch().await;
    let url = sim.endpoints.elasticsearch.clone();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca = format!("ca_file = {:?}\n", fixture("ca.pem"));

    // The built-in roots do not know the private CA.
    let without = records_listing(&config(&sim, &url, "").unwrap()).await;
    assert!(without.is_err(), "{without:?}");

    let with = records_listing(&config(&sim, &url, &ca).unwrap()).await;
    assert!(with.as_ref().is_ok_and(|n| *n > 0), "{with:?}");
}

#[tokio::test]
async fn the_certificate_is_checked_against_the_configured_server_name() {
    let sim = sim_with_https_elasticsearch().await;
    let url = sim.endpoints.elasticsearch.clone();
    let ca = format!("ca_file = {:?}\n", fixture("ca.pem"));

    // A name the certificate does not hold is refused, although the URL's host is in it: the
    // configured name is what is verified.
    let wrong = config(
        &sim,
        &url,
        &format!("{ca}tls_server_name = \"elasticsearch.internal\"\n"),
    )
    .unwrap();
    let refused = records_listing(&wrong).await;
    assert!(refused.is_err(), "{refused:?}");

    // The certificate's own name works, and the connection still goes to the URL's address.
    let right = config(
        &sim,
        &url,
        &format!("{ca}tls_server_name = \"localhost\"\n"),
    )
    .unwrap();
    let listed = records_listing(&right).await;
    assert!(listed.as_ref().is_ok_and(|n| *n > 0), "{listed:?}");
}

#[tokio::test]
async fn bad_tls_settings_stop_the_configuration_naming_the_key() {
    let sim = sim_with_https_elasticsearch().await;
    let url = sim.endpoints.elasticsearch.clone();
    let missing = config(&sim, &url, "ca_file = \"/nonexistent/ca.pem\"\n").unwrap_err();
    assert!(
        missing.contains("clusters.t.elasticsearch.ca_file"),
        "{missing}"
    );
    let ip = config(&sim, &url, "tls_server_name = \"10.0.0.1\"\n").unwrap_err();
    assert!(
        ip.contains("clusters.t.elasticsearch.tls_server_name"),
        "{ip}"
    );
    let plain = url.replace("https://", "http://");
    let http = config(&sim, &plain, "tls_server_name = \"localhost\"\n").unwrap_err();
    assert!(http.contains("only to https"), "{http}");
}
