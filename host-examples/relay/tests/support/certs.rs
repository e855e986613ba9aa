//! Test certificates made at test time (rcgen): a CA, a server certificate for 127.0.0.1
//! and localhost, and a client certificate, as PEM. No key is committed. Both the
//! receivers' TLS tests and the exporter's HTTPS/gRPC upstreams use them.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use relink_relay::options::TlsFiles;

use super::TempDir;

/// A CA and the certificates it signed, as PEM.
pub struct TestPki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

fn must<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("rcgen: {e}"))
}

fn leaf(
    name: &str,
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
    ca: &CertifiedIssuer<'static, KeyPair>,
) -> (String, String) {
    let key = must(KeyPair::generate());
    let mut params = must(CertificateParams::new(
        sans.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    ));
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let cert = must(params.signed_by(&key, ca));
    (cert.pem(), key.serialize_pem())
}

impl TestPki {
    pub fn new(ca_name: &str) -> TestPki {
        let mut params = must(CertificateParams::new(Vec::<String>::new()));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, ca_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = must(CertifiedIssuer::self_signed(
            params,
            must(KeyPair::generate()),
        ));
        let server = leaf(
            "relink relay",
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
        );
        let client = leaf(
            "relink test client",
            &["client.test"],
            ExtendedKeyUsagePurpose::ClientAuth,
            &ca,
        );
        TestPki {
            ca_pem: ca.pem(),
            server_cert_pem: server.0,
            server_key_pem: server.1,
            client_cert_pem: client.0,
            client_key_pem: client.1,
        }
    }

    /// Writes the server's files (and the CA as the client CA when `mutual`).
    pub fn server_files(&self, dir: &TempDir, mutual: bool) -> TlsFiles {
        TlsFiles {
            cert: dir.write("server.pem", self.server_cert_pem.as_bytes()),
            key: dir.write("server.key", self.server_key_pem.as_bytes()),
            client_ca: mutual.then(|| dir.write("ca.pem", self.ca_pem.as_bytes())),
        }
    }

    pub fn ca_file(&self, dir: &TempDir) -> PathBuf {
        dir.write("ca.pem", self.ca_pem.as_bytes())
    }
}
