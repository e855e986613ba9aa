//! TLS and mTLS for the receivers (rustls with the ring provider): the server
//! configuration built from `--tls-cert`, `--tls-key` and `--tls-client-ca`, and its reload
//! on SIGHUP.
//!
//! Each listener holds its configuration behind a lock and every new connection takes the
//! current one, so a reload (a renewed certificate, a rotated CA) reaches new connections
//! at once while open ones finish on the old; a reload that fails keeps the old
//! configuration, so a half-written file never takes the receivers down. ALPN differs per
//! listener: the OTLP/HTTP port offers `h2` and `http/1.1`, the gRPC port `h2` only.
//!
//! The PEM reading and the provider are shared with the upstream side
//! ([`crate::upstream_tls`]).

use std::sync::{Arc, PoisonError, RwLock};

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::options::TlsFiles;

/// ALPN of the OTLP/HTTP port.
pub const ALPN_HTTP: &[&[u8]] = &[b"h2", b"http/1.1"];
/// ALPN of the gRPC port (gRPC needs HTTP/2).
pub const ALPN_GRPC: &[&[u8]] = &[b"h2"];

/// One listener's TLS: its files and the configuration last loaded from them.
pub struct TlsReceiver {
    files: TlsFiles,
    alpn: &'static [&'static [u8]],
    current: RwLock<Arc<ServerConfig>>,
}

impl TlsReceiver {
    /// Loads the files; every problem names the flag and the file.
    pub fn load(files: &TlsFiles, alpn: &'static [&'static [u8]]) -> Result<TlsReceiver, String> {
        let config = server_config(files, alpn)?;
        Ok(TlsReceiver {
            files: files.clone(),
            alpn,
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// The acceptor for a new connection, with the configuration loaded last.
    pub fn acceptor(&self) -> TlsAcceptor {
        let config = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        TlsAcceptor::from(config)
    }

    /// Reads the files again; on error the previous configuration stays.
    pub fn reload(&self) -> Result<(), String> {
        let config = server_config(&self.files, self.alpn)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
        Ok(())
    }
}

fn server_config(files: &TlsFiles, alpn: &[&[u8]]) -> Result<ServerConfig, String> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let flag = format!("--tls-client-ca {}", path.display());
            let roots = roots(path, &flag)?;
            // Without `allow_unauthenticated`, a client without a certificate is refused
            // in the handshake.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("{flag}: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let cert_flag = format!("--tls-cert {}", files.cert.display());
    let chain = certificates(&files.cert, &cert_flag)?;
    let key_flag = format!("--tls-key {}", files.key.display());
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => format!("{key_flag}: no PEM private key"),
        other => format!("{key_flag}: {other}"),
    })?;
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("{cert_flag} and {key_flag}: {e}"))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// rustls's ring provider, on both sides of the relay. rustls 0.23.48 deprecates it for
/// lacking post-quantum key exchange (only its aws-lc-rs provider has it); ring is kept
/// because aws-lc-rs needs cmake and a long C build on every machine that builds the relay,
/// and X25519 with classical signatures is what OTLP peers offer today.
#[allow(deprecated)]
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate of a PEM file; none is an error. `flag` names the option and the file
/// in errors (`--tls-cert FILE`).
pub(crate) fn certificates(
    path: &std::path::Path,
    flag: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{flag}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{flag}: {e}"))?;
    match certs.is_empty() {
        true => Err(format!("{flag}: no PEM certificate")),
        false => Ok(certs),
    }
}

/// The CA certificates of a PEM file, as the roots a peer's certificate must chain to.
pub(crate) fn roots(path: &std::path::Path, flag: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path, flag)? {
        roots
            .add(cert)
            .map_err(|e| format!("{flag}: not a usable CA certificate: {e}"))?;
    }
    Ok(roots)
}
