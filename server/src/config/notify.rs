//! `[[notifications]]` channels and `[notify]`, resolved: every key checked for its channel's
//! kind, URLs and credentials read from the environment into [`Secret`]s.

use std::path::Path;
use std::time::Duration;

use backup_domain::notify::{ChannelKind, NotifyEvent};
use url::Url;

use super::file::{FileNotification, FileNotify};
use super::{ConfigError, Secret, invalid};
use crate::tls::OutboundTls;

/// `[notify]` with its defaults, and the channels.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub channels: Vec<ChannelConfig>,
    /// Between two looks at the clusters' state and the outbox.
    pub interval: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub give_up_after: Duration,
    /// Exporting paused this long, with no run holding the cluster, is a condition.
    pub paused_after: Duration,
    pub console_name: String,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            channels: Vec::new(),
            interval: Duration::from_secs(5),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
            give_up_after: Duration::from_secs(86_400),
            paused_after: Duration::from_secs(900),
            console_name: "backup-console".into(),
        }
    }
}

/// One channel.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
    /// What it wants, in the order of [`NotifyEvent::CONFIGURABLE`].
    pub events: Vec<NotifyEvent>,
    /// Empty: every cluster.
    pub clusters: Vec<String>,
    pub target: ChannelTarget,
}

impl ChannelConfig {
    pub fn wants(&self, event: &NotifyEvent, cluster: Option<&str>) -> bool {
        self.events.contains(event)
            && match cluster {
                Some(c) => self.clusters.is_empty() || self.clusters.iter().any(|n| n == c),
                None => true,
            }
    }

    /// Where it goes, without anything secret: for `GET /api/notifications`.
    pub fn target_description(&self) -> String {
        match &self.target {
            ChannelTarget::Http(h) => {
                let url = match &h.url_env {
                    Some(var) => format!("url from ${var}"),
                    None if h.url.expose() == PAGERDUTY_EVENTS_URL => {
                        "PagerDuty Events API v2".into()
                    }
                    None => "url from the configuration file".into(),
                };
                match &h.routing_key {
                    Some((_, var)) => format!("{url}, routing key from ${var}"),
                    None => url,
                }
            }
            ChannelTarget::Email(e) => format!(
                "smtp {}:{} (STARTTLS {}), {} recipient(s)",
                e.host,
                e.port,
                if e.starttls { "required" } else { "off" },
                e.to.len()
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub enum ChannelTarget {
    /// Webhook and Slack.
    Http(HttpTarget),
    Email(EmailTarget),
}

#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// The URL: it may carry a token (Slack's does), so it is a secret.
    pub url: Secret,
    /// The variable it came from, if it did.
    pub url_env: Option<String>,
    /// `secret_env`: the HMAC-SHA256 key of the signature header.
    pub signing_key: Option<Secret>,
    /// PagerDuty's routing key (`routing_key_env`) and the variable it came from.
    pub routing_key: Option<(Secret, String)>,
    pub tls: OutboundTls,
}

#[derive(Debug, Clone)]
pub struct EmailTarget {
    pub host: String,
    pub port: u16,
    /// `starttls = "required"` (the default): no mail goes out unencrypted.
    pub starttls: bool,
    pub credentials: Option<(Secret, Secret)>,
    pub from: String,
    pub to: Vec<String>,
    pub tls: OutboundTls,
}

/// Where a `pagerduty` channel without `url` sends its events.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

pub(super) fn resolve_notify(
    settings: &FileNotify,
    channels: Vec<FileNotification>,
    cluster_names: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<NotifyConfig, ConfigError> {
    let defaults = NotifyConfig::default();
    let millis = |value: Option<u64>, key: &str, default: Duration| match value {
        None => Ok(default),
        Some(0) => Err(invalid(format!("notify.{key}"), "must be at least 1")),
        Some(n) => Ok(Duration::from_millis(n)),
    };
    let secs = |value: Option<u64>, key: &str, default: Duration| match value {
        None => Ok(default),
        Some(0) => Err(invalid(
            format!("notify.{key}"),
            "must be at least 1 second",
        )),
        Some(n) => Ok(Duration::from_secs(n)),
    };
    let mut resolved = NotifyConfig {
        channels: Vec::new(),
        interval: millis(settings.interval_ms, "interval_ms", defaults.interval)?,
        retry_base: millis(settings.retry_base_ms, "retry_base_ms", defaults.retry_base)?,
        retry_max: millis(settings.retry_max_ms, "retry_max_ms", defaults.retry_max)?,
        give_up_after: secs(
            settings.give_up_after_secs,
            "give_up_after_secs",
            defaults.give_up_after,
        )?,
        paused_after: secs(
            settings.paused_after_secs,
            "paused_after_secs",
            defaults.paused_after,
        )?,
        console_name: settings
            .console_name
            .clone()
            .unwrap_or(defaults.console_name),
    };
    for channel in channels {
        let resolved_channel = resolve_channel(channel, cluster_names, env)?;
        if resolved
            .channels
            .iter()
            .any(|c| c.name == resolved_channel.name)
        {
            return Err(invalid(
                format!("notifications.{}", resolved_channel.name),
                "the name is used by another channel",
            ));
        }
        resolved.channels.push(resolved_channel);
    }
    Ok(resolved)
}

fn from_env(
    env: &dyn Fn(&str) -> Option<String>,
    key: &str,
    var: &str,
) -> Result<Secret, ConfigError> {
    match env(var) {
        Some(value) if !value.is_empty() => Ok(Secret::new(value)),
        _ => Err(invalid(
            key,
            format!("the environment variable `{var}` is not set"),
        )),
    }
}

fn resolve_channel(
    c: FileNotification,
    cluster_names: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ChannelConfig, ConfigError> {
    let valid_name = !c.name.is_empty()
        && c.name.len() <= 63
        && c.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid_name {
        return Err(invalid(
            "notifications.name",
            format!(
                "`{}` must be 1 to 63 of a-z, 0-9 and -",
                c.name.escape_debug()
            ),
        ));
    }
    let key = |field: &str| format!("notifications.{}.{field}", c.name);
    let kind: ChannelKind = c.kind.parse().map_err(|_| {
        invalid(
            key("kind"),
            format!(
                "`{}` is not webhook, slack, teams, pagerduty or email",
                c.kind.escape_debug()
            ),
        )
    })?;
    let events = match &c.events {
        None => NotifyEvent::CONFIGURABLE.to_vec(),
        Some(list) => {
            let mut events = Vec::new();
            for text in list {
                let event = NotifyEvent::known(text)
                    .filter(|e| NotifyEvent::CONFIGURABLE.contains(e))
                    .ok_or_else(|| {
                        invalid(
                            key("events"),
                            format!(
                                "`{}` is not an event; the events are {}",
                                text.escape_debug(),
                                NotifyEvent::CONFIGURABLE
                                    .iter()
                                    .map(NotifyEvent::as_str)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })?;
                if !events.contains(&event) {
                    events.push(event);
                }
            }
            if events.is_empty() {
                return Err(invalid(
                    key("events"),
                    "lists no event (leave it out for all)",
                ));
            }
            events
        }
    };
    let clusters = c.clusters.clone().unwrap_or_default();
    for name in &clusters {
        if !cluster_names.contains(name) {
            return Err(invalid(
                key("clusters"),
                format!("`{}` is not a configured cluster", name.escape_debug()),
            ));
        }
    }
    let refuse = |present: bool, field: &str, why: &str| {
        if present {
            Err(invalid(key(field), why.to_string()))
        } else {
            Ok(())
        }
    };
    let target = match kind {
        ChannelKind::Webhook | ChannelKind::Slack | ChannelKind::Teams | ChannelKind::Pagerduty => {
            let not_http = "applies to email channels only";
            refuse(c.smtp_host.is_some(), "smtp_host", not_http)?;
            refuse(c.smtp_port.is_some(), "smtp_port", not_http)?;
            refuse(c.starttls.is_some(), "starttls", not_http)?;
            refuse(c.username_env.is_some(), "username_env", not_http)?;
            refuse(c.password_env.is_some(), "password_env", not_http)?;
            refuse(c.from.is_some(), "from", not_http)?;
            refuse(c.to.is_some(), "to", not_http)?;
            if kind != ChannelKind::Webhook {
                refuse(
                    c.secret_env.is_some(),
                    "secret_env",
                    "applies to webhook channels only (the others check their own URL or key)",
                )?;
            }
            let routing_key = match (&kind, &c.routing_key_env) {
                (ChannelKind::Pagerduty, Some(var)) => {
                    Some((from_env(env, &key("routing_key_env"), var)?, var.clone()))
                }
                (ChannelKind::Pagerduty, None) => {
                    return Err(invalid(
                        key("routing_key_env"),
                        "is required for a pagerduty channel",
                    ));
                }
                (_, Some(_)) => {
                    return Err(invalid(
                        key("routing_key_env"),
                        "applies to pagerduty channels only",
                    ));
                }
                (_, None) => None,
            };
            let (url_text, url_env) = match (&c.url, &c.url_env) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        key("url"),
                        "give url or url_env, not both (url_env keeps a URL with a token out of the file)",
                    ));
                }
                (None, None) if kind == ChannelKind::Pagerduty => {
                    (Secret::new(PAGERDUTY_EVENTS_URL.to_string()), None)
                }
                (None, None) => {
                    return Err(invalid(key("url_env"), "url_env (or url) is required"));
                }
                (Some(u), None) => (Secret::new(u.clone()), None),
                (None, Some(var)) => (from_env(env, &key("url_env"), var)?, Some(var.clone())),
            };
            let url_key = if url_env.is_some() {
                key("url_env")
            } else {
                key("url")
            };
            // The message never shows the URL: it may hold a token.
            let url = Url::parse(url_text.expose())
                .map_err(|e| invalid(url_key.clone(), format!("is not a URL ({e})")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(invalid(url_key, "must be an http or https URL"));
            }
            let tls = OutboundTls::load(
                &url,
                c.ca_file.as_deref().map(Path::new),
                c.tls_server_name.as_deref(),
            )
            .map_err(|e| invalid(key("ca_file"), e.to_string()))?;
            let signing_key = c
                .secret_env
                .as_deref()
                .map(|var| from_env(env, &key("secret_env"), var))
                .transpose()?;
            ChannelTarget::Http(HttpTarget {
                url: url_text,
                url_env,
                signing_key,
                routing_key,
                tls,
            })
        }
        ChannelKind::Email => {
            let not_email = "does not apply to email channels";
            refuse(c.url.is_some(), "url", not_email)?;
            refuse(c.url_env.is_some(), "url_env", not_email)?;
            refuse(c.secret_env.is_some(), "secret_env", not_email)?;
            refuse(c.routing_key_env.is_some(), "routing_key_env", not_email)?;
            // An IPv6 address is kept bare (`::1`), the way a socket connects to it; brackets are
            // accepted in the file and added back where a URL needs them.
            let host = c
                .smtp_host
                .clone()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
                .filter(|h| !h.is_empty())
                .ok_or_else(|| invalid(key("smtp_host"), "is required for an email channel"))?;
            let starttls = match c.starttls.as_deref() {
                None | Some("required") => true,
                // Plain text, credentials refused: only to a relay on this host.
                Some("off") if is_loopback(&host) => false,
                Some("off") => {
                    return Err(invalid(
                        key("starttls"),
                        format!(
                            "`off` is only for a relay on this host (localhost, 127.0.0.1, ::1), not `{}`: mail to another host goes over STARTTLS",
                            host.escape_debug()
                        ),
                    ));
                }
                Some(other) => {
                    return Err(invalid(
                        key("starttls"),
                        format!("`{}` is not required or off", other.escape_debug()),
                    ));
                }
            };
            let from = c.from.clone().filter(|f| valid_address(f)).ok_or_else(|| {
                invalid(
                    key("from"),
                    "is required for an email channel: one address like alerts@example.com",
                )
            })?;
            let to = c.to.clone().unwrap_or_default();
            if to.is_empty() {
                return Err(invalid(
                    key("to"),
                    "is required for an email channel: at least one address",
                ));
            }
            if let Some(bad) = to.iter().find(|a| !valid_address(a)) {
                return Err(invalid(
                    key("to"),
                    format!(
                        "`{}` is not an address like ops@example.com",
                        bad.escape_debug()
                    ),
                ));
            }
            let credentials = match (&c.username_env, &c.password_env) {
                (None, None) => None,
                (Some(u), Some(p)) => {
                    if !starttls {
                        return Err(invalid(
                            key("username_env"),
                            "credentials are only sent over TLS: set starttls = \"required\"",
                        ));
                    }
                    Some((
                        from_env(env, &key("username_env"), u)?,
                        from_env(env, &key("password_env"), p)?,
                    ))
                }
                (Some(_), None) => {
                    return Err(invalid(
                        key("password_env"),
                        "is required with username_env",
                    ));
                }
                (None, Some(_)) => {
                    return Err(invalid(
                        key("username_env"),
                        "is required with password_env",
                    ));
                }
            };
            if !starttls && (c.ca_file.is_some() || c.tls_server_name.is_some()) {
                return Err(invalid(key("ca_file"), "applies only with STARTTLS"));
            }
            let url_host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            let tls_url = Url::parse(&format!("https://{url_host}/"))
                .map_err(|e| invalid(key("smtp_host"), format!("is not a host name ({e})")))?;
            let tls = OutboundTls::load(
                &tls_url,
                c.ca_file.as_deref().map(Path::new),
                c.tls_server_name.as_deref(),
            )
            .map_err(|e| invalid(key("ca_file"), e.to_string()))?;
            ChannelTarget::Email(EmailTarget {
                host,
                port: c.smtp_port.unwrap_or(587),
                starttls,
                credentials,
                from,
                to,
                tls,
            })
        }
        ChannelKind::Unknown(text) => {
            return Err(invalid(
                key("kind"),
                format!(
                    "`{}` is not webhook, slack, teams, pagerduty or email",
                    text.escape_debug()
                ),
            ));
        }
    };
    Ok(ChannelConfig {
        name: c.name,
        kind,
        events,
        clusters,
        target,
    })
}

/// One plain address: no name part, no line break or angle bracket that could reach the SMTP
/// dialogue.
/// `localhost` or a loopback address.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn valid_address(address: &str) -> bool {
    let mut parts = address.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && address
            .chars()
            .all(|ch| ch.is_ascii_graphic() && !matches!(ch, '<' | '>' | ',' | ';'))
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::super::fixtures::CLUSTER;

    fn parse(channels: &str, env: &[(&str, &str)]) -> Result<Config, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(&format!("{CLUSTER}{channels}"), "c.toml", &|k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_webhook_channel_reads_its_url_and_key_from_the_environment() {
        let config = parse(
            "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl_env = \"U\"\nsecret_env = \"K\"\nevents = [\"run_failed\", \"resolved\"]\n",
            &[("U", "https://hooks.example.com/x-TOKEN"), ("K", "key")],
        )
        .unwrap();
        let channel = &config.notify.channels[0];
        assert_eq!(channel.events.len(), 2);
        assert_eq!(channel.target_description(), "url from $U");
        let debug = format!("{config:?}");
        assert!(!debug.contains("TOKEN"), "{debug}");
    }

    /// README: `starttls = "off"` is for a relay on localhost, 127.0.0.1 or ::1. `::1` as it is
    /// written is refused as "not a host name", and `[::1]`, which is accepted, is kept with
    /// its brackets and handed to the connect as a name to look up: every delivery fails.
    #[test]
    fn an_ipv6_loopback_relay_can_be_used_with_starttls_off() {
        use std::net::ToSocketAddrs;
        let mut problems = Vec::new();
        for host in ["::1", "[::1]"] {
            let parsed = parse(
                &format!(
                    "[[notifications]]\nname = \"mail\"\nkind = \"email\"\nsmtp_host = \"{host}\"\nfrom = \"a@b.c\"\nto = [\"x@y.z\"]\nstarttls = \"off\"\n"
                ),
                &[],
            );
            match parsed {
                Err(e) => problems.push(format!("{host}: {e}")),
                Ok(config) => {
                    if let crate::config::ChannelTarget::Email(target) =
                        &config.notify.channels[0].target
                        && (target.host.as_str(), target.port)
                            .to_socket_addrs()
                            .is_err()
                    {
                        problems.push(format!("{host}: the connect cannot use {:?}", target.host));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn config_errors_name_the_key() {
        let cases: &[(&str, &str)] = &[
            (
                "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://h/\"\nevents = [\"run_faild\"]\n",
                "configuration key `notifications.ops.events`: `run_faild` is not an event",
            ),
            (
                "[[notifications]]\nname = \"mail\"\nkind = \"email\"\nsmtp_host = \"h\"\nfrom = \"a@b.c\"\n",
                "configuration key `notifications.mail.to`",
            ),
            (
                "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://h/\"\nurl_env = \"U\"\n",
                "configuration key `notifications.ops.url`: give url or url_env, not both",
            ),
            (
                "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl_env = \"MISSING\"\n",
                "configuration key `notifications.ops.url_env`: the environment variable `MISSING` is not set",
            ),
            (
                "[[notifications]]\nname = \"Ops\"\nkind = \"webhook\"\nurl = \"http://h/\"\n",
                "configuration key `notifications.name`",
            ),
            (
                "[[notifications]]\nname = \"ops\"\nkind = \"sms\"\nurl = \"http://h/\"\n",
                "configuration key `notifications.ops.kind`",
            ),
            (
                "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://h/\"\nclusters = [\"nope\"]\n",
                "configuration key `notifications.ops.clusters`: `nope` is not a configured cluster",
            ),
            (
                "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://h/\"\n[[notifications]]\nname = \"ops\"\nkind = \"slack\"\nurl = \"http://h/\"\n",
                "configuration key `notifications.ops`: the name is used by another channel",
            ),
            (
                "[[notifications]]\nname = \"mail\"\nkind = \"email\"\nsmtp_host = \"localhost\"\nfrom = \"a@b.c\"\nto = [\"x@y.z\"]\nstarttls = \"off\"\nusername_env = \"U\"\npassword_env = \"P\"\n",
                "configuration key `notifications.mail.username_env`: credentials are only sent over TLS",
            ),
            (
                "[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://h/\"\nsmtp_host = \"h\"\n",
                "configuration key `notifications.ops.smtp_host`",
            ),
            (
                "[[notifications]]\nname = \"pd\"\nkind = \"pagerduty\"\n",
                "configuration key `notifications.pd.routing_key_env`: is required",
            ),
            (
                "[[notifications]]\nname = \"ops\"\nkind = \"slack\"\nurl = \"http://h/\"\nrouting_key_env = \"K\"\n",
                "configuration key `notifications.ops.routing_key_env`: applies to pagerduty channels only",
            ),
            (
                "[[notifications]]\nname = \"ops\"\nkind = \"teams\"\nurl = \"http://h/\"\nsecret_env = \"K\"\n",
                "configuration key `notifications.ops.secret_env`: applies to webhook channels only",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text, &[]).unwrap_err();
            assert!(err.starts_with(want), "{err}\nwanted: {want}");
        }
    }

    #[test]
    fn a_pagerduty_channel_defaults_to_the_events_api_and_hides_its_key() {
        let config = parse(
            "[[notifications]]\nname = \"pd\"\nkind = \"pagerduty\"\nrouting_key_env = \"PD\"\n",
            &[("PD", "KEY-1234")],
        )
        .unwrap();
        let channel = &config.notify.channels[0];
        assert_eq!(
            channel.target_description(),
            "PagerDuty Events API v2, routing key from $PD"
        );
        assert!(!format!("{config:?}").contains("KEY-1234"));
    }

    #[test]
    fn the_events_default_to_all_and_email_to_port_587_with_starttls() {
        let config = parse(
            "[[notifications]]\nname = \"mail\"\nkind = \"email\"\nsmtp_host = \"smtp.example.com\"\nfrom = \"a@b.c\"\nto = [\"x@y.z\"]\n",
            &[],
        )
        .unwrap();
        let channel = &config.notify.channels[0];
        assert_eq!(
            channel.events,
            backup_domain::notify::NotifyEvent::CONFIGURABLE
        );
        assert_eq!(
            channel.target_description(),
            "smtp smtp.example.com:587 (STARTTLS required), 1 recipient(s)"
        );
    }
}
