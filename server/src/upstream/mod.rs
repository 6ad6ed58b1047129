//! One typed client per component of a Camunda 8 cluster. Each tolerates the shapes real
//! components send (actuator media types, absent versus `null` fields, the not-found quirks of
//! contract §5.1) and turns every failure into an [`UpstreamError`] carrying the upstream status and
//! message. Every call has a timeout.

mod elasticsearch;
mod http;
pub mod oidc;
mod optimize;
mod stream;
pub mod timing;
mod webapps;
mod zeebe;

pub use crate::config::Limits;
pub use crate::tls::{OutboundTls, OutboundTlsError};
pub use elasticsearch::{RecordsRepository, SnapshotInfo, to_component as records_component};
pub use http::{
    CallKind, Http, Permission, Recorder, UpstreamError, name_permission, recording,
    upstream_message,
};
pub use optimize::{OptimizeClient, to_component as optimize_component};
pub use webapps::{ArtifactInfo, WebappsClient, to_component as artifact_component};
pub use zeebe::{
    ExportingOperation, ExportingPartition, ZeebeBackupInfo, ZeebeClient,
    to_component as zeebe_component,
};

/// The builder every outbound HTTP client of the console starts from. Redirects are not followed:
/// reqwest would turn a redirected DELETE or POST into a GET whose 200 then reads as "deleted" or
/// "resumed" (review L2); a 3xx is an error instead. Add an endpoint's TLS with
/// [`OutboundTls::apply`].
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(5))
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("backup-console/", env!("CARGO_PKG_VERSION")))
}

/// Milliseconds since the epoch from the timestamp formats the components use: RFC 3339 with
/// nanoseconds (Zeebe, §3.3) or `2025-06-03T07:55:15.685+0000` (web apps and Optimize, §5.2).
pub fn parse_time_ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Distinct values, in order of first appearance.
fn distinct(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_timestamp_formats_parse() {
        assert_eq!(
            parse_time_ms("2022-12-08T13:00:55.344276672Z"),
            Some(1_670_504_455_344)
        );
        assert_eq!(
            parse_time_ms("2025-06-03T07:53:54.389+0000"),
            Some(1_748_937_234_389)
        );
        assert_eq!(parse_time_ms("yesterday"), None);
    }
}
