//! TLS towards one outbound endpoint: extra CA certificates to trust (an internal PKI, the CA
//! Elasticsearch 8 generates) and the name the server's certificate is checked against when it
//! differs from the URL's host (a port-forward to `localhost` whose certificate names the
//! service). One type for every outbound client the console builds, so that each honours the
//! same two keys. There is deliberately no switch that turns verification off.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

#[derive(Debug, thiserror::Error)]
pub enum OutboundTlsError {
    #[error("cannot read CA file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("CA file {path} holds no PEM certificate")]
    NoCertificate { path: String },
    #[error("CA file {path}: {reason}")]
    BadCertificate { path: String, reason: String },
    #[error("`{0}` is not a DNS name (an IP address cannot be checked by a different name)")]
    BadServerName(String),
    #[error("applies only to https URLs")]
    NotHttps,
}

/// `ca_file` and `tls_server_name` of one endpoint; the default trusts the built-in web roots
/// and checks the URL's own host.
#[derive(Clone, Default)]
pub struct OutboundTls {
    ca_file: Option<PathBuf>,
    /// The certificates of `ca_file`, read and checked when the configuration loads.
    roots: Vec<reqwest::Certificate>,
    server_name: Option<String>,
}

impl fmt::Debug for OutboundTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundTls")
            .field("ca_file", &self.ca_file)
            .field("roots", &self.roots.len())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl OutboundTls {
    /// Reads `ca_file` (one or more PEM certificates) and checks `server_name`, for `url`.
    pub fn load(
        url: &Url,
        ca_file: Option<&Path>,
        server_name: Option<&str>,
    ) -> Result<OutboundTls, OutboundTlsError> {
        if (ca_file.is_some() || server_name.is_some()) && url.scheme() != "https" {
            return Err(OutboundTlsError::NotHttps);
        }
        let mut roots = Vec::new();
        if let Some(path) = ca_file {
            let shown = path.display().to_string();
            let pem = std::fs::read(path).map_err(|source| OutboundTlsError::Read {
                path: shown.clone(),
                source,
            })?;
            roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                OutboundTlsError::BadCertificate {
                    path: shown.clone(),
                    reason: e.to_string(),
                }
            })?;
            if roots.is_empty() {
                return Err(OutboundTlsError::NoCertificate { path: shown });
            }
        }
        if let Some(name) = server_name {
            let valid = !name.is_empty()
                && name.parse::<std::net::IpAddr>().is_err()
                && name.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !valid {
                return Err(OutboundTlsError::BadServerName(name.to_string()));
            }
        }
        Ok(OutboundTls {
            ca_file: ca_file.map(Path::to_path_buf),
            roots,
            server_name: server_name.map(|n| n.to_ascii_lowercase()),
        })
    }

    /// True when nothing differs from the shared client's TLS.
    pub fn is_default(&self) -> bool {
        self.roots.is_empty() && self.server_name.is_none()
    }

    /// The CA file, for a client that is not reqwest (the notification mail's STARTTLS).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// Applies these settings to `builder` for requests to `url`, and returns the URL to request.
    ///
    /// With a server name, the URL's host is replaced by it, so that rustls sends it (SNI) and
    /// checks the certificate against it, and a resolver of this client alone maps that name back
    /// to the configured host: the connection still goes where the URL said. The `Host` header
    /// then carries the server name as well, as it would without the port-forward.
    pub fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
        url: &Url,
    ) -> (reqwest::ClientBuilder, Url) {
        for root in &self.roots {
            builder = builder.add_root_certificate(root.clone());
        }
        let mut target = url.clone();
        if let Some(name) = &self.server_name {
            let host = match url.host() {
                Some(Host::Ipv6(a)) => a.to_string(),
                Some(Host::Ipv4(a)) => a.to_string(),
                Some(Host::Domain(d)) => d.to_string(),
                None => String::new(),
            };
            if target.set_host(Some(name)).is_ok() {
                builder = builder.dns_resolver(Arc::new(PinnedName {
                    name: name.clone(),
                    host,
                    port: url.port_or_known_default().unwrap_or(443),
                }));
            }
        }
        (builder, target)
    }
}

/// Resolves the certificate's name to the configured host; any other name as usual.
struct PinnedName {
    name: String,
    host: String,
    port: u16,
}

impl Resolve for PinnedName {
    fn resolve(&self, name: Name) -> Resolving {
        let host = if name.as_str().eq_ignore_ascii_case(&self.name) {
            self.host.clone()
        } else {
            name.as_str().to_string()
        };
        let port = self.port;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn a_server_name_must_be_a_dns_name_and_needs_https() {
        let https = url("https://127.0.0.1:9200");
        assert!(OutboundTls::load(&https, None, Some("es.internal")).is_ok());
        for bad in ["10.0.0.1", "", "a..b", "bad name", "::1"] {
            assert!(
                matches!(
                    OutboundTls::load(&https, None, Some(bad)),
                    Err(OutboundTlsError::BadServerName(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            OutboundTls::load(&url("http://127.0.0.1:9200"), None, Some("es.internal")),
            Err(OutboundTlsError::NotHttps)
        ));
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let https = url("https://127.0.0.1:9200");
        let missing = OutboundTls::load(&https, Some(Path::new("/nonexistent/ca.pem")), None);
        assert!(matches!(missing, Err(OutboundTlsError::Read { .. })));
        let dir = std::env::temp_dir().join(format!("bc-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(matches!(
            OutboundTls::load(&https, Some(&empty), None),
            Err(OutboundTlsError::NoCertificate { .. })
        ));
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ca.pem");
        let tls = OutboundTls::load(&https, Some(&fixture), None).unwrap();
        assert!(!tls.is_default());
        assert!(OutboundTls::default().is_default());
    }

    #[test]
    fn the_server_name_replaces_the_host_and_keeps_the_port() {
        let tls =
            OutboundTls::load(&url("https://localhost:9200/"), None, Some("es.internal")).unwrap();
        let (_, target) = tls.apply(reqwest::Client::builder(), &url("https://localhost:9200/x"));
        assert_eq!(target.as_str(), "https://es.internal:9200/x");
    }
}
