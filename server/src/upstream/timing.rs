//! How long each request to a cluster takes, by component and operation: a histogram family
//! of the whole process that every client records into and every console's `/metrics` shows.
//! Here, below the clients, so that the clients need nothing of the metrics module.

use std::sync::LazyLock;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn request_buckets() -> Histogram {
    // 5 ms to about 40 s: a listing of tens of thousands of entries takes seconds.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Upstream request durations by component and operation, for the whole process: every client
/// records here, and every console's registry exposes it.
pub static UPSTREAM_REQUESTS: LazyLock<Histograms> =
    LazyLock::new(|| Family::new_with_constructor(request_buckets as fn() -> Histogram));

/// Times one upstream request, whatever way it ends: the duration is recorded when this drops.
pub struct UpstreamTimer {
    labels: Labels,
    started: std::time::Instant,
}

impl UpstreamTimer {
    /// `path` has its numbers replaced, so that a backup ID never becomes a label value.
    pub fn start(component: &str, method: &str, path: &str) -> Self {
        UpstreamTimer {
            labels: vec![
                ("component", component.to_string()),
                ("operation", format!("{method} {}", operation_of(path))),
            ],
            started: std::time::Instant::now(),
        }
    }
}

impl Drop for UpstreamTimer {
    fn drop(&mut self) {
        UPSTREAM_REQUESTS
            .get_or_create(&self.labels)
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// A request path with its query dropped and every segment holding a digit replaced by `{id}`:
/// `/actuator/backupRuntime/1733000000` becomes `/actuator/backupRuntime/{id}`.
pub fn operation_of(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    path.split('/')
        .map(|segment| {
            // `v2` is an API version, not an ID.
            let version = segment.len() > 1
                && segment.starts_with('v')
                && segment[1..].chars().all(|c| c.is_ascii_digit());
            if !version && segment.chars().any(|c| c.is_ascii_digit()) {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
