//! Sending one message to one channel: a signed JSON webhook, a Slack incoming-webhook text, or
//! a mail. Error texts never carry the URL (it may hold a token): reqwest's are stripped of it,
//! and whatever still looks like a URL is cut out.

use std::time::Duration;

use backup_domain::notify::{ChannelKind, NotificationPayload};
use url::Url;

use super::sign::{SIGNATURE_HEADER, signature};
use super::smtp::{Mail, SmtpError, send_mail};
use crate::config::{ChannelConfig, ChannelTarget};

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

    /// One attempt, bounded by [`DELIVERY_TIMEOUT`].
    pub async fn deliver(&self, payload: &NotificationPayload) -> Result<(), DeliveryError> {
        match tokio::time::timeout(DELIVERY_TIMEOUT, self.attempt(payload)).await {
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
                let body = match self.config.kind {
                    ChannelKind::Slack => serde_json::json!({ "text": payload.text() }).to_string(),
                    _ => serde_json::to_string(payload)
                        .map_err(|e| DeliveryError::Client(e.to_string()))?,
                };
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
                    .map_err(|e| DeliveryError::Request(e.without_url().to_string()))?;
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
}
