//! TLS for the console itself: certificate and key from PEM files, served through axum's
//! `Listener` so that everything else (connect info, graceful shutdown) stays the same.

pub mod outbound;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

pub use outbound::{OutboundTls, OutboundTlsError};

/// A client that does not finish its handshake in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further connections wait in the kernel's backlog until one
/// ends (at the latest after [`HANDSHAKE_TIMEOUT`]).
const MAX_HANDSHAKES: usize = 256;
/// Finished handshakes waiting for the server to take them.
const READY_QUEUE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate {path}: {reason}")]
    Certificate { path: String, reason: String },
    #[error("cannot read the TLS key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("the TLS certificate and key do not make a valid configuration: {0}")]
    Config(#[from] rustls::Error),
}

pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certificate {
            path: cert.display().to_string(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Certificate {
            path: cert.display().to_string(),
            reason: "no certificate in the file".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        reason: e.to_string(),
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TCP connections in a task of its own and runs every TLS handshake in a task per
/// connection: `accept()` only hands over finished handshakes, so a client that connects and stays
/// silent holds one handshake slot, never the listener.
pub struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: std::io::Result<SocketAddr>,
}

impl TlsListener {
    /// Needs a Tokio runtime: the accept loop is spawned at once and ends when the listener is
    /// dropped.
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> Self {
        let local_addr = tcp.local_addr();
        let (tx, ready) = tokio::sync::mpsc::channel(READY_QUEUE);
        tokio::spawn(accept_loop(tcp, acceptor, tx));
        TlsListener { ready, local_addr }
    }
}

type Ready = tokio::sync::mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>;

async fn accept_loop(tcp: TcpListener, acceptor: TlsAcceptor, tx: Ready) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    loop {
        // Wait for a free slot before taking the next connection off the backlog.
        let slot = tokio::select! {
            _ = tx.closed() => return,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = tx.closed() => return,
            accepted = tcp.accept() => accepted,
        };
        let (stream, addr) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    // The server is gone when this fails; the connection just closes.
                    let _ = tx.send((tls, addr)).await;
                }
                Ok(Err(error)) => tracing::debug!(%error, %addr, "TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        });
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The accept loop ended, which it only does once the listener is dropped; never
            // reached while `self` lives, but do not spin if it is.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        match &self.local_addr {
            Ok(addr) => Ok(*addr),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}
