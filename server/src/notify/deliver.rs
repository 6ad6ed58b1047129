//! Sending one message to one channel: a signed JSON webhook, a Slack incoming-webhook text, or
//! a mail. Error texts never carry the URL (it may hold a token): reqwest's are stripped of it,
//! and whatever still looks like a URL is cut out.

use std::time::Duration;

use backup_domain::notify::{ChannelKind, NotificationPayload, NotifyEvent};
use serde_json::{Value, json};
use url::Url;

use super::sign::{SIGNATURE_HEADER, signature};
use super::smtp::{Mail, SmtpError, send_mail};
use crate::config::{ChannelConfig, ChannelTarget, HttpTarget};

/// How long one delivery attempt may take, whatever the receiver does.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The request failed (connection, TLS, timeout); the text has no URL.
    #[error("the request failed: {0}")]
    Request(String),
    #[error("the receiver answered HTTP {0}")]
    Status(u16),
    #[error(transparent)]
    Smtp(#[from] SmtpError),
    #[error("no answer within {} s", DELIVERY_TIMEOUT.as_secs())]
    Timeout,
    #[error("the channel's HTTP client could not be built: {0}")]
    Client(String),
}

impl DeliveryError {
    /// The text to store, log and answer: never a URL.
    pub fn public_text(&self) -> String {
        redact_urls(&self.to_string())
    }
}

/// A request's error with what caused it ("connection refused", "failed to lookup address"),
/// without its URL: "error sending request" alone tells an admin nothing (review L5).
fn with_causes(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

/// The text with the URL's host cut out: a TLS error names it ("certificate not valid for
/// name ..."), and a URL from `url_env` is a secret whole (review 2, 7). A host of one or two
/// characters is left: cutting it would cut words.
fn without_host(text: String, url: &Url) -> String {
    match url.host_str() {
        Some(host) if host.len() > 2 => text.replace(host, "<host>"),
        _ => text,
    }
}

/// Replaces everything that looks like a URL with `<url>`.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["http://", "https://"]
            .iter()
            .filter_map(|p| rest.to_ascii_lowercase().find(p))
            .min();
        match next {
            None => {
                out.push_str(rest);
                return out;
            }
            Some(at) => {
                out.push_str(&rest[..at]);
                out.push_str("<url>");
                let tail = &rest[at..];
                let end = tail
                    .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | '>'))
                    .unwrap_or(tail.len());
                rest = &tail[end..];
            }
        }
    }
}

/// A channel ready to send: its configuration and, for webhook and Slack, its own client.
pub struct Channel {
    pub config: ChannelConfig,
    http: Option<Result<(reqwest::Client, Url), String>>,
}

impl Channel {
    pub fn new(config: ChannelConfig) -> Channel {
        let http = match &config.target {
            ChannelTarget::Http(h) => Some(
                Url::parse(h.url.expose())
                    .map_err(|e| e.to_string())
                    .and_then(|url| {
                        let builder = crate::upstream::client_builder().timeout(DELIVERY_TIMEOUT);
                        let (builder, target) = h.tls.apply(builder, &url);
                        builder
                            .build()
                            .map(|client| (client, target))
                            .map_err(|e| e.without_url().to_string())
                    }),
            ),
            ChannelTarget::Email(_) => None,
        };
        Channel { config, http }
    }

    /// One attempt, bounded by [`DELIVERY_TIMEOUT`]. On PagerDuty a one-off event is
    /// triggered and resolved in the one attempt.
    pub async fn deliver(&self, payload: &NotificationPayload) -> Result<(), DeliveryError> {
        let attempt = async {
            self.attempt(payload).await?;
            if self.config.kind == ChannelKind::Pagerduty
                && is_one_off(payload)
                && !payload.resolved
            {
                let resolve = NotificationPayload {
                    event: NotifyEvent::Resolved,
                    resolved: true,
                    ..payload.clone()
                };
                self.attempt(&resolve).await?;
            }
            Ok(())
        };
        match tokio::time::timeout(DELIVERY_TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::Timeout),
        }
    }

    async fn attempt(&self, payload: &NotificationPayload) -> Result<(), DeliveryError> {
        match &self.config.target {
            ChannelTarget::Http(target) => {
                let (client, url) = match &self.http {
                    Some(Ok(built)) => built,
                    Some(Err(e)) => return Err(DeliveryError::Client(e.clone())),
                    None => return Err(DeliveryError::Client("no client".into())),
                };
                let body = http_body(&self.config.kind, target, payload)?;
                let mut request = client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("X-Backup-Console-Delivery", payload.id.as_str());
                if let Some(key) = &target.signing_key {
                    let now = chrono::Utc::now().timestamp();
                    request = request.header(
                        SIGNATURE_HEADER,
                        signature(key.expose().as_bytes(), now, body.as_bytes()),
                    );
                }
                let response = request
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| DeliveryError::Request(without_host(with_causes(e), url)))?;
                let status = response.status();
                if status.is_success() {
                    Ok(())
                } else {
                    Err(DeliveryError::Status(status.as_u16()))
                }
            }
            ChannelTarget::Email(target) => {
                let mut subject = format!(
                    "[backup-console]{} {}",
                    payload
                        .cluster
                        .as_deref()
                        .map(|c| format!(" {c}:"))
                        .unwrap_or_default(),
                    payload.summary
                );
                if payload.resolved {
                    subject = format!("RESOLVED {subject}");
                }
                let mail = Mail {
                    subject,
                    body: payload.text(),
                    at_ms: payload.at_ms,
                    id: payload.id.clone(),
                };
                send_mail(target, &mail, DELIVERY_TIMEOUT).await?;
                Ok(())
            }
        }
    }
}

/// The request body for a channel of `kind`.
fn http_body(
    kind: &ChannelKind,
    target: &HttpTarget,
    payload: &NotificationPayload,
) -> Result<String, DeliveryError> {
    let body = match kind {
        // Slack reads `<...>` as a mention or a link and `&` as an entity: escape them.
        ChannelKind::Slack => {
            json!({ "text": payload.text().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;") })
        }
        // A Teams workflow ("when a webhook request is received") posts the card it is sent.
        ChannelKind::Teams => {
            let title = format!(
                "{}{} {}: {}",
                if payload.resolved {
                    "RESOLVED"
                } else {
                    "ALERT"
                },
                payload
                    .cluster
                    .as_deref()
                    .map(|c| format!(" [{c}]"))
                    .unwrap_or_default(),
                payload.condition,
                payload.summary
            );
            json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": true},
                            {"type": "TextBlock", "text": payload.detail, "wrap": true},
                            {"type": "TextBlock", "text": format!("event {}, id {}, from {}", payload.event, payload.id, payload.console), "isSubtle": true, "wrap": true},
                        ],
                    },
                }],
            })
        }
        ChannelKind::Pagerduty => pagerduty_event(target, payload),
        _ => serde_json::to_value(payload).map_err(|e| DeliveryError::Client(e.to_string()))?,
    };
    Ok(body.to_string())
}

/// A one-off event (a skipped due time, a test) has no `resolved` of its own: PagerDuty gets its
/// `trigger` and then a `resolve` at once, so that no incident is left open.
pub fn is_one_off(payload: &NotificationPayload) -> bool {
    matches!(
        payload.condition,
        NotifyEvent::ScheduleSkipped | NotifyEvent::Test
    )
}

/// One incident per cluster and condition: a second failed run adds to the incident the first
/// opened, and the next success closes it (review M2). A one-off event is an incident of its own.
fn pagerduty_dedup_key(payload: &NotificationPayload) -> String {
    match (&payload.cluster, is_one_off(payload)) {
        (Some(cluster), false) => format!("{cluster}:{}", payload.condition),
        _ => payload
            .id
            .strip_suffix(":raised")
            .or_else(|| payload.id.strip_suffix(":resolved"))
            .unwrap_or(&payload.id)
            .to_string(),
    }
}

/// A PagerDuty Events API v2 event: `trigger` for a condition, `resolve` for its `resolved`.
fn pagerduty_event(target: &HttpTarget, payload: &NotificationPayload) -> Value {
    let routing_key = target
        .routing_key
        .as_ref()
        .map(|(key, _)| key.expose())
        .unwrap_or_default();
    let dedup_key = pagerduty_dedup_key(payload);
    if payload.resolved {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        });
    }
    let severity = match payload.condition {
        NotifyEvent::RunFailed | NotifyEvent::RpoBreached | NotifyEvent::ExportingStillPaused => {
            "critical"
        }
        NotifyEvent::CleanupFailed => "error",
        NotifyEvent::Test => "info",
        _ => "warning",
    };
    let summary: String = match &payload.cluster {
        Some(c) => format!("[{c}] {}", payload.summary),
        None => payload.summary.clone(),
    }
    .chars()
    .take(1024)
    .collect();
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": summary,
            "source": payload.console,
            "severity": severity,
            "component": payload.cluster,
            "group": payload.condition,
            "class": payload.event,
            "custom_details": {"detail": payload.detail, "id": payload.id},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_cut_out_of_error_texts() {
        assert_eq!(
            redact_urls("error sending request for url (http://127.0.0.1:9/hook-SECRET): refused"),
            "error sending request for url (<url>): refused"
        );
        assert_eq!(redact_urls("HTTPS://a/b c"), "<url> c");
        assert_eq!(redact_urls("no url here"), "no url here");
    }

    /// Slack reads `<...>` in `text` as a mention or a link and `&` as an entity (its docs:
    /// "Escaping text"): a reason from a component with `<!channel>` pings everyone, and one
    /// with `<https://x|text>` shows a link the console never wrote. They must arrive escaped.
    #[test]
    fn slack_text_escapes_the_control_characters() {
        let target = HttpTarget {
            url: crate::config::Secret::new("http://127.0.0.1/hook".to_string()),
            url_env: None,
            signing_key: None,
            routing_key: None,
            tls: crate::tls::OutboundTls::default(),
        };
        let payload = NotificationPayload {
            id: "c:run_failed:run-1:raised".into(),
            event: NotifyEvent::RunFailed,
            cluster: Some("c".into()),
            condition: NotifyEvent::RunFailed,
            summary: "backup run 1 failed".into(),
            detail: "reason: <!channel> see <https://evil.example|the fix> & more".into(),
            at_ms: 0,
            resolved: false,
            console: "backup-console".into(),
        };
        let body: Value =
            serde_json::from_str(&http_body(&ChannelKind::Slack, &target, &payload).unwrap())
                .unwrap();
        let text = body["text"].as_str().unwrap();
        assert!(
            !text.contains('<') && text.contains("&lt;!channel&gt;") && text.contains("&amp;"),
            "{text}"
        );
    }
}
