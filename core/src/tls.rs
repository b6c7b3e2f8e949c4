//! TLS configuration (rustls with the ring provider: no OpenSSL, no cmake). A server
//! takes a PEM certificate chain and private key; each `wss://` connection then owns a
//! rustls `ServerConnection` for its lifetime.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A loaded certificate and key, ready to serve `wss://`.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) config: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig { .. }")
    }
}

impl TlsConfig {
    /// From PEM text: the certificate chain (leaf first) and the private key
    /// (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(cert_chain: &[u8], private_key: &[u8]) -> crate::Result<TlsConfig> {
        let err = |m: String| crate::Error::Tls(m);
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<_, _>>()
            .map_err(|e| err(format!("certificate PEM: {e}")))?;
        if certs.is_empty() {
            return Err(err("no certificate found in the PEM data".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(private_key).map_err(|e| err(format!("private key PEM: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| err(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig { config: Arc::new(config) })
    }

    /// From PEM files.
    pub fn from_pem_files(cert_path: impl AsRef<std::path::Path>, key_path: impl AsRef<std::path::Path>) -> crate::Result<TlsConfig> {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| crate::Error::Tls(format!("{}: {e}", p.display())))
        };
        TlsConfig::from_pem(&read(cert_path.as_ref())?, &read(key_path.as_ref())?)
    }

    /// A rustls config the application built itself.
    pub fn from_rustls(config: Arc<ServerConfig>) -> TlsConfig {
        TlsConfig { config }
    }
}
