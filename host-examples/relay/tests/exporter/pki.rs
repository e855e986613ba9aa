//! A test CA and certificates made at test time (rcgen): a server certificate for
//! 127.0.0.1 and localhost, a client certificate, and a second CA that trusts neither.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

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

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    CertifiedIssuer::self_signed(params, key).unwrap_or_else(|e| panic!("{e}"))
}

fn leaf(names: &[&str], issuer: &CertifiedIssuer<'static, KeyPair>) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let params = CertificateParams::new(names).unwrap_or_else(|e| panic!("{e}"));
    let key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let cert = params
        .signed_by(&key, issuer)
        .unwrap_or_else(|e| panic!("{e}"));
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    pub fn new() -> Pki {
        let dir = TempDir::new("pki");
        let authority = ca("relink test CA");
        let (server_cert, server_key) = leaf(&["127.0.0.1", "localhost"], &authority);
        let (client_cert, client_key) = leaf(&["relay.test"], &authority);
        let other = ca("another CA");
        Pki {
            ca: dir.write("ca.pem", authority.pem().as_bytes()),
            other_ca: dir.write("other-ca.pem", other.pem().as_bytes()),
            server_cert: dir.write("server.pem", server_cert.as_bytes()),
            server_key: dir.write("server.key", server_key.as_bytes()),
            client_cert: dir.write("client.pem", client_cert.as_bytes()),
            client_key: dir.write("client.key", client_key.as_bytes()),
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
