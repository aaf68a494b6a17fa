//! TLS for the orchestrator's links (rustls with ring, through tokio-rustls): the cluster CA
//! as the only trust anchor, the orchestrator's client certificate (Redis asks for one with
//! `tls-auth-clients yes`), and the node's host as the name checked (the SSH tunnel reaches
//! loopback on the node; TLS runs end to end inside it).

use crate::cli::cluster::TlsClient;
use crate::cli::redis_link::Stream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::Arc;
use std::time::Duration;

/// How long a TLS handshake may take (a plain server never answers a ClientHello).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A TLS client configuration from the cluster's files on this machine.
pub fn client_config(files: &TlsClient) -> Result<Arc<rustls::ClientConfig>, String> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| {
            format!(
                "cannot read {}: {e} (run `redrepl certs renew INVENTORY` to make it)",
                p.display()
            )
        })
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&read(&files.ca)?) {
        let c = c.map_err(|e| format!("{}: {e}", files.ca.display()))?;
        roots
            .add(c)
            .map_err(|e| format!("{}: {e}", files.ca.display()))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(&files.cert)?)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    // The key's own error text never quotes the key.
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key)?)
        .map_err(|_| format!("{}: not a PEM private key", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    Ok(Arc::new(config))
}

/// A TLS session over `stream`, checked against `host`; also the server certificate's
/// `notAfter` (Unix seconds) when it could be read.
pub async fn connect(
    stream: Box<dyn Stream>,
    files: &TlsClient,
    host: &str,
) -> Result<(Box<dyn Stream>, Option<i64>), String> {
    let config = client_config(files)?;
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host:?} is not a valid TLS server name"))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("TLS handshake failed: {e}")),
        Err(_) => {
            return Err(format!(
                "no TLS handshake within {}s (does the server listen for TLS?)",
                HANDSHAKE_TIMEOUT.as_secs()
            ));
        }
    };
    let expiry = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| crate::cli::certs::not_after(c));
    Ok((Box::new(tls), expiry))
}
