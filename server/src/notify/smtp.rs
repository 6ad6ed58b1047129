//! A minimal SMTP client for the email channel (RFC 5321 with STARTTLS, RFC 3207, and AUTH
//! PLAIN, RFC 4616): EHLO, STARTTLS, EHLO again, AUTH PLAIN when the channel has credentials
//! (only ever over TLS), MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT. Every step has a
//! timeout; a channel that requires STARTTLS sends nothing when the server does not offer it.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::EmailTarget;

/// The longest reply line read; a server sending more is not one to talk to.
const MAX_LINE: u64 = 4_096;
const MAX_REPLY_LINES: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("cannot connect to the mail server {server}: {source}")]
    Connect {
        server: String,
        source: std::io::Error,
    },
    #[error("the mail server did not answer {step} within {secs} s")]
    Timeout { step: &'static str, secs: u64 },
    #[error("the connection to the mail server failed during {step}: {source}")]
    Io {
        step: &'static str,
        source: std::io::Error,
    },
    #[error("the mail server answered {step} with {code}: {text}")]
    Refused {
        step: &'static str,
        code: u16,
        text: String,
    },
    #[error("the mail server's answer to {step} is not SMTP")]
    BadReply { step: &'static str },
    #[error(
        "the mail server does not offer STARTTLS, which this channel requires (starttls = \"required\"); nothing was sent"
    )]
    NoStartTls,
    #[error("the mail server does not offer AUTH PLAIN; nothing was sent")]
    NoAuthPlain,
    #[error("TLS with the mail server failed: {0}")]
    Tls(String),
}

/// One plain-text message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    pub body: String,
    /// For the `Date` header.
    pub at_ms: i64,
    /// For the `Message-ID` header: the delivery's stable ID.
    pub id: String,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Session {
    conn: BufReader<Box<dyn Io>>,
    timeout: Duration,
}

/// A reply: its code and its lines' texts.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Session {
    async fn read_reply(&mut self, step: &'static str) -> Result<Reply, SmtpError> {
        let timeout = self.timeout;
        let conn = &mut self.conn;
        let read = async move {
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                let n = (&mut *conn)
                    .take(MAX_LINE)
                    .read_line(&mut line)
                    .await
                    .map_err(|source| SmtpError::Io { step, source })?;
                if n == 0 || lines.len() >= MAX_REPLY_LINES {
                    return Err(SmtpError::BadReply { step });
                }
                let line = line.trim_end_matches(['\r', '\n']);
                let code: u16 = line
                    .get(..3)
                    .and_then(|c| c.parse().ok())
                    .ok_or(SmtpError::BadReply { step })?;
                let more = line.as_bytes().get(3) == Some(&b'-');
                lines.push(line.get(4..).unwrap_or_default().to_string());
                if !more {
                    return Ok(Reply { code, lines });
                }
            }
        };
        tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| SmtpError::Timeout {
                step,
                secs: timeout.as_secs().max(1),
            })?
    }

    async fn send(&mut self, step: &'static str, line: &str) -> Result<(), SmtpError> {
        let timeout = self.timeout;
        let conn = self.conn.get_mut();
        let write = async {
            conn.write_all(line.as_bytes()).await?;
            conn.write_all(b"\r\n").await?;
            conn.flush().await
        };
        tokio::time::timeout(timeout, write)
            .await
            .map_err(|_| SmtpError::Timeout {
                step,
                secs: timeout.as_secs().max(1),
            })?
            .map_err(|source| SmtpError::Io { step, source })
    }

    /// Sends `line` and expects a reply of class `want` (2 or 3).
    async fn command(
        &mut self,
        step: &'static str,
        line: &str,
        want: u16,
    ) -> Result<Reply, SmtpError> {
        self.send(step, line).await?;
        expect(self.read_reply(step).await?, step, want)
    }
}

fn expect(reply: Reply, step: &'static str, want: u16) -> Result<Reply, SmtpError> {
    if reply.code / 100 == want {
        Ok(reply)
    } else {
        Err(SmtpError::Refused {
            step,
            code: reply.code,
            text: reply.lines.join(" ").chars().take(300).collect(),
        })
    }
}

fn offers(ehlo: &Reply, keyword: &str) -> bool {
    ehlo.lines.iter().any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
    })
}

fn offers_auth_plain(ehlo: &Reply) -> bool {
    ehlo.lines.iter().any(|l| {
        let mut words = l.split_whitespace();
        words.next().is_some_and(|k| k.eq_ignore_ascii_case("AUTH"))
            && words.any(|m| m.eq_ignore_ascii_case("PLAIN"))
    })
}

fn tls_connector(target: &EmailTarget) -> Result<tokio_rustls::TlsConnector, SmtpError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = target.tls.ca_file() {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| SmtpError::Tls(format!("{}: {e}", path.display())))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| SmtpError::Tls(format!("{}: {e}", path.display())))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| SmtpError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The longest line of DATA this client sends, with room for a stuffed dot.
const MAX_DATA_LINE: usize = 990;

/// The body as DATA sends it: CRLF line ends, a line starting with `.` gets another in front
/// (RFC 5321 4.5.2), and the terminating `.` line.
pub fn dot_stuffed(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 16);
    // A bare CR ends a line too: some servers read "\r.\r" as the end of DATA (SMTP smuggling).
    for line in body.replace("\r\n", "\n").replace('\r', "\n").split('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

/// A mail body whose lines fit DATA: a line is at most 998 octets (RFC 5321 4.5.3.1.6), so a
/// longer one (an upstream error body) is broken, at a character boundary, into lines that
/// fit. Headers are not put through this: a broken header line would start another header.
fn fitting_lines(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 16);
    for (n, line) in body
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .enumerate()
    {
        if n > 0 {
            out.push('\n');
        }
        let mut rest = line;
        loop {
            let mut cut = rest.len().min(MAX_DATA_LINE);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (piece, tail) = rest.split_at(cut);
            out.push_str(piece);
            if tail.is_empty() {
                break;
            }
            out.push('\n');
            rest = tail;
        }
    }
    out
}

/// The longest Subject sent, in characters: the summary's start says what it is about.
const MAX_SUBJECT: usize = 200;

/// A header value on one line: no CR or LF that could start another header; non-ASCII text
/// as an RFC 2047 encoded word.
fn header_text(text: &str) -> String {
    let one_line: String = text
        .chars()
        .take(MAX_SUBJECT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.is_ascii() {
        one_line
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(one_line.as_bytes())
        )
    }
}

fn message(target: &EmailTarget, mail: &Mail) -> String {
    let date = chrono::DateTime::from_timestamp_millis(mail.at_ms)
        .unwrap_or_default()
        .to_rfc2822();
    let id: String = mail
        .id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '.'
            }
        })
        .collect();
    format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: <{id}@backup-console>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
        target.from,
        target.to.join(", "),
        header_text(&mail.subject),
        fitting_lines(&mail.body)
    )
}

/// Sends `mail` to the channel's recipients; `timeout` bounds each step.
pub async fn send_mail(
    target: &EmailTarget,
    mail: &Mail,
    timeout: Duration,
) -> Result<(), SmtpError> {
    let server = format!("{}:{}", target.host, target.port);
    let tcp = tokio::time::timeout(
        timeout,
        TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    .map_err(|_| SmtpError::Timeout {
        step: "the connection",
        secs: timeout.as_secs().max(1),
    })?
    .map_err(|source| SmtpError::Connect {
        server: server.clone(),
        source,
    })?;
    let mut s = Session {
        conn: BufReader::new(Box::new(tcp) as Box<dyn Io>),
        timeout,
    };
    expect(s.read_reply("the greeting").await?, "the greeting", 2)?;
    let mut ehlo = s.command("EHLO", "EHLO backup-console", 2).await?;
    if target.starttls {
        if !offers(&ehlo, "STARTTLS") {
            let _ = s.send("QUIT", "QUIT").await;
            return Err(SmtpError::NoStartTls);
        }
        s.command("STARTTLS", "STARTTLS", 2).await?;
        let connector = tls_connector(target)?;
        let name = target
            .tls
            .server_name()
            .unwrap_or(target.host.as_str())
            .to_string();
        let name = ServerName::try_from(name).map_err(|e| SmtpError::Tls(e.to_string()))?;
        // Whatever the server sent before the handshake is dropped with the buffer: a reply
        // injected in plain text must not be read as one over TLS.
        let plain = s.conn.into_inner();
        let tls = tokio::time::timeout(timeout, connector.connect(name, plain))
            .await
            .map_err(|_| SmtpError::Timeout {
                step: "the TLS handshake",
                secs: timeout.as_secs().max(1),
            })?
            .map_err(|e| SmtpError::Tls(e.to_string()))?;
        s = Session {
            conn: BufReader::new(Box::new(tls) as Box<dyn Io>),
            timeout,
        };
        ehlo = s.command("EHLO", "EHLO backup-console", 2).await?;
    }
    if let Some((user, password)) = &target.credentials {
        // Resolution refuses credentials without STARTTLS; this keeps it so whatever calls this.
        if !target.starttls {
            return Err(SmtpError::NoStartTls);
        }
        if !offers_auth_plain(&ehlo) {
            let _ = s.send("QUIT", "QUIT").await;
            return Err(SmtpError::NoAuthPlain);
        }
        let token = base64::engine::general_purpose::STANDARD.encode(format!(
            "\0{}\0{}",
            user.expose(),
            password.expose()
        ));
        s.command("AUTH", &format!("AUTH PLAIN {token}"), 2).await?;
    }
    s.command("MAIL FROM", &format!("MAIL FROM:<{}>", target.from), 2)
        .await?;
    for to in &target.to {
        s.command("RCPT TO", &format!("RCPT TO:<{to}>"), 2).await?;
    }
    s.command("DATA", "DATA", 3).await?;
    let data = dot_stuffed(&message(target, mail));
    s.send("the message", data.trim_end_matches("\r\n")).await?;
    expect(s.read_reply("the message").await?, "the message", 2)?;
    let _ = s.command("QUIT", "QUIT", 2).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_ends_with_the_dot_line() {
        assert_eq!(
            dot_stuffed("one\n.two\n..three\nfour."),
            "one\r\n..two\r\n...three\r\nfour.\r\n.\r\n"
        );
        assert_eq!(dot_stuffed("a\r\n.\r\nb"), "a\r\n..\r\nb\r\n.\r\n");
    }

    #[test]
    fn a_header_stays_on_one_line() {
        assert_eq!(header_text("a\r\nBcc: x@y"), "a  Bcc: x@y");
        assert_eq!(header_text("Grüße"), "=?UTF-8?B?R3LDvMOfZQ==?=");
    }

    #[test]
    fn capabilities_are_read_from_the_ehlo_lines() {
        let reply = Reply {
            code: 250,
            lines: vec![
                "mail.example".into(),
                "STARTTLS".into(),
                "AUTH LOGIN PLAIN".into(),
            ],
        };
        assert!(offers(&reply, "starttls"));
        assert!(offers_auth_plain(&reply));
        let bare = Reply {
            code: 250,
            lines: vec!["mail.example".into(), "AUTH LOGIN".into()],
        };
        assert!(!offers(&bare, "STARTTLS"));
        assert!(!offers_auth_plain(&bare));
    }

    /// SMTP smuggling: a bare CR is not a line end to this code but is to some servers, so
    /// "\r.\r" could end DATA early there. DATA must carry no CR that is not part of CRLF.
    #[test]
    fn data_carries_no_bare_carriage_return() {
        let data = dot_stuffed("reason: a\r.\rMAIL FROM:<x@evil>\r\nend");
        let bytes = data.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'\r' {
                assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at {i} in {data:?}");
            }
        }
    }

    /// The 990-octet line breaking runs over the headers too: a long Subject is cut into a
    /// second line that does not begin with white space, which a mail server reads as a header
    /// of its own (here a `Bcc:` the console never meant), not as the Subject's continuation.
    #[test]
    fn a_long_subject_does_not_become_another_header() {
        let target = EmailTarget {
            host: "localhost".into(),
            port: 25,
            starttls: false,
            credentials: None,
            from: "a@example.com".into(),
            to: vec!["b@example.com".into()],
            tls: crate::tls::OutboundTls::default(),
        };
        let mail = Mail {
            subject: format!(
                "{}Bcc: someone@evil.example",
                "s".repeat(990 - "Subject: ".len())
            ),
            body: "body".into(),
            at_ms: 0,
            id: "i".into(),
        };
        let data = dot_stuffed(&message(&target, &mail));
        let headers = data.split("\r\n\r\n").next().unwrap_or_default();
        for line in headers.split("\r\n") {
            assert!(
                line.starts_with([' ', '\t'])
                    || [
                        "From:",
                        "To:",
                        "Subject:",
                        "Date:",
                        "Message-ID:",
                        "MIME-Version:",
                        "Content-"
                    ]
                    .iter()
                    .any(|h| line.starts_with(h)),
                "a header line the console did not write: {line:?}"
            );
        }
    }

    /// RFC 5321 4.5.3.1.6: a line of DATA is at most 998 octets before its CRLF; a run's
    /// reason (an upstream error body on one line) is often longer, and a server refuses it.
    #[test]
    fn no_line_of_data_is_longer_than_998_octets() {
        let target = EmailTarget {
            host: "localhost".into(),
            port: 25,
            starttls: false,
            credentials: None,
            from: "a@example.com".into(),
            to: vec!["b@example.com".into()],
            tls: crate::tls::OutboundTls::default(),
        };
        let mail = Mail {
            subject: "s".into(),
            body: format!("step: take\nreason: {}", "x".repeat(3_000)),
            at_ms: 0,
            id: "i".into(),
        };
        let data = dot_stuffed(&message(&target, &mail));
        let longest = data.split("\r\n").map(str::len).max().unwrap_or(0);
        assert!(longest <= 998, "a line of {longest} octets");
    }
}
