//! The exporter tests' PEM files (a CA, a server and a client certificate from
//! [`TestPki`], and a second CA that trusts neither) and a TLS acceptor for their upstreams.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::support::certs::TestPki;
use crate::support::TempDir;

/// PEM files in a temp dir.
pub struct Pki {
    /// Keeps the files until the test ends.
    _dir: TempDir,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = TempDir::new("pki");
        let pki = TestPki::new("relink test CA");
        let other = TestPki::new("another CA");
        Pki {
            ca: dir.write("ca.pem", pki.ca_pem.as_bytes()),
            other_ca: dir.write("other-ca.pem", other.ca_pem.as_bytes()),
            server_cert: dir.write("server.pem", pki.server_cert_pem.as_bytes()),
            server_key: dir.write("server.key", pki.server_key_pem.as_bytes()),
            client_cert: dir.write("client.pem", pki.client_cert_pem.as_bytes()),
            client_key: dir.write("client.key", pki.client_key_pem.as_bytes()),
            _dir: dir,
        }
    }

    /// A TLS acceptor offering ALPN h2 with the server certificate; `mtls` requires a
    /// client certificate from the test CA.
    pub fn acceptor(&self, mtls: bool) -> TlsAcceptor {
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.server_cert)
            .and_then(|c| c.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        let key = PrivateKeyDer::from_pem_file(&self.server_key).unwrap_or_else(|e| panic!("{e}"));
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("{e}"));
        let builder = match mtls {
            false => builder.with_no_client_auth(),
            true => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in
                    CertificateDer::pem_file_iter(&self.ca).unwrap_or_else(|e| panic!("{e}"))
                {
                    roots
                        .add(cert.unwrap_or_else(|e| panic!("{e}")))
                        .unwrap_or_else(|e| panic!("{e}"));
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .unwrap_or_else(|e| panic!("{e}"));
        config.alpn_protocols = vec![b"h2".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }
}
