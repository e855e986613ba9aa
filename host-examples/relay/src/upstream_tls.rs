//! TLS toward an `https://` upstream, with rustls and its ring provider: whom to trust (the
//! system's roots, or `--upstream-ca` alone, as the Collector's `ca_file` replaces them)
//! and the client certificate for mTLS. Files are read once at start; a problem is a
//! start-up error naming the file.
//!
//! System roots come from rustls-native-certs: the machine's store (`/etc/ssl/certs` and
//! `SSL_CERT_FILE`/`SSL_CERT_DIR`), so a CA an operator installed is trusted as it is by
//! curl and the Collector; a compiled-in bundle (webpki-roots) would ignore it and go stale
//! with the binary.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use rustls::{ClientConfig, RootCertStore};

use crate::tls::{certificates, provider, roots};
use crate::upstream_config::TlsFiles;

/// The client configuration for `files` (ALPN is set by the connector).
pub fn client_config(files: &TlsFiles) -> Result<ClientConfig, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let roots = match &files.ca {
        Some(path) => roots(path, &format!("--upstream-ca {}", path.display()))?,
        None => system_roots()?,
    };
    let builder = builder.with_root_certificates(roots);
    match (&files.client_cert, &files.client_key) {
        (Some(cert), Some(key)) => {
            let flag = format!("--upstream-client-cert {}", cert.display());
            let chain = certificates(cert, &flag)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                format!(
                    "--upstream-client-key {}: no PEM private key: {e}",
                    key.display()
                )
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("--upstream-client-key: does not fit the certificate: {e}"))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _unparsable) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_string(), |e| e.to_string());
        return Err(format!(
            "TLS: no system root certificates ({why}); install ca-certificates or give --upstream-ca FILE"
        ));
    }
    Ok(roots)
}

/// The configuration an `http://` upstream's connector holds and never uses (the
/// connector type is the same for both schemes): it trusts nothing.
pub fn unused_config() -> Result<ClientConfig, String> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth())
}
