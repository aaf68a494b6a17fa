//! TLS as Redis 7.0 configures it (`tls-*` directives), on rustls with the ring provider.
//!
//! [`Settings`] reads the directives from the configuration; [`build`] turns them into the
//! server context (for `tls-port`) and the client context (for `tls-replication`), loading
//! every file and checking that each key matches its certificate. The contexts in force
//! live in one global slot ([`install`] / [`current`]): a new connection takes the current
//! one, so CONFIG SET of a file reloads it for new connections while existing ones keep
//! theirs, as Redis does. [`stream::Stream`] is the one connection type (plain TCP or TLS)
//! the connection layer and the replication links use.

pub mod stream;

use crate::config::Config;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::sync::{Arc, RwLock};

/// A TLS configuration that cannot be used, with the text Redis logs for it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

/// `tls-auth-clients`: whether clients must present a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthClients {
    /// `yes` (Redis's default): mutual TLS, a client without a valid certificate is refused.
    Required,
    /// `optional`: a certificate, when given, must be valid.
    Optional,
    /// `no`: no certificate asked.
    No,
}

/// The `tls-*` directives, read from a [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// `tls-port` (0: no TLS listener).
    pub port: u16,
    /// `tls-cert-file`.
    pub cert_file: String,
    /// `tls-key-file`.
    pub key_file: String,
    /// `tls-client-cert-file` (empty: the server certificate is used for outgoing links).
    pub client_cert_file: String,
    /// `tls-client-key-file`.
    pub client_key_file: String,
    /// `tls-ca-cert-file`.
    pub ca_cert_file: String,
    /// `tls-ca-cert-dir`.
    pub ca_cert_dir: String,
    /// `tls-auth-clients`.
    pub auth_clients: AuthClients,
    /// `tls-replication`: the link to the master is TLS.
    pub replication: bool,
    /// `tls-protocols` (empty: TLSv1.2 and TLSv1.3).
    pub protocols: String,
    /// `tls-ciphersuites` (TLSv1.3 suites, OpenSSL names, `:`-separated; empty: all).
    pub ciphersuites: String,
    /// `tls-prefer-server-ciphers`.
    pub prefer_server_ciphers: bool,
    /// `tls-session-caching`.
    pub session_caching: bool,
    /// `tls-session-cache-size`.
    pub session_cache_size: usize,
}

/// The `tls-*` directive names whose change rebuilds the contexts (CONFIG SET).
pub use crate::config::table::TLS_IMPLEMENTED as DIRECTIVES;

fn other<'a>(c: &'a Config, name: &str) -> &'a str {
    c.other
        .get(name)
        .and_then(|v| v.first())
        .map(String::as_str)
        .or_else(|| crate::config::table::lookup_other(name).map(|o| o.default))
        .unwrap_or("")
}

fn yes(c: &Config, name: &str) -> bool {
    other(c, name).eq_ignore_ascii_case("yes")
}

impl Settings {
    /// Reads the directives from `c` (values were checked when they were set).
    pub fn from_config(c: &Config) -> Settings {
        let auth = other(c, "tls-auth-clients");
        Settings {
            port: other(c, "tls-port").parse().unwrap_or(0),
            cert_file: other(c, "tls-cert-file").to_string(),
            key_file: other(c, "tls-key-file").to_string(),
            client_cert_file: other(c, "tls-client-cert-file").to_string(),
            client_key_file: other(c, "tls-client-key-file").to_string(),
            ca_cert_file: other(c, "tls-ca-cert-file").to_string(),
            ca_cert_dir: other(c, "tls-ca-cert-dir").to_string(),
            auth_clients: if auth.eq_ignore_ascii_case("optional") {
                AuthClients::Optional
            } else if auth.eq_ignore_ascii_case("no") {
                AuthClients::No
            } else {
                AuthClients::Required
            },
            replication: yes(c, "tls-replication"),
            protocols: other(c, "tls-protocols").to_string(),
            ciphersuites: other(c, "tls-ciphersuites").to_string(),
            prefer_server_ciphers: yes(c, "tls-prefer-server-ciphers"),
            session_caching: yes(c, "tls-session-caching"),
            session_cache_size: other(c, "tls-session-cache-size").parse().unwrap_or(20480),
        }
    }

    /// Whether TLS is in use at all (Redis configures it only then).
    pub fn enabled(&self) -> bool {
        self.port > 0 || self.replication
    }
}

/// The contexts built from [`Settings`].
#[derive(Debug, Clone)]
pub struct Contexts {
    /// For accepted connections on `tls-port`.
    pub server: Arc<ServerConfig>,
    /// For outgoing links (the replica's link to its master).
    pub client: Arc<ClientConfig>,
    /// `tls-replication yes`: the link to the master uses `client`.
    pub replication: bool,
}

static CURRENT: RwLock<Option<Arc<Contexts>>> = RwLock::new(None);

/// Makes `ctx` the contexts new connections use.
pub fn install(ctx: Option<Contexts>) {
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = ctx.map(Arc::new);
}

/// The contexts in force (None when TLS is not configured).
pub fn current() -> Option<Arc<Contexts>> {
    CURRENT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Builds the contexts for `c`, or None when TLS is not configured; the error is the line
/// Redis logs.
pub fn configure(c: &Config) -> Result<Option<Contexts>, TlsError> {
    let s = Settings::from_config(c);
    if !s.enabled() {
        return Ok(None);
    }
    build(&s).map(Some)
}

/// CONFIG SET: when one of `names` is a TLS directive, the contexts for `next` (to
/// [`install`] once the whole CONFIG SET succeeded); the error is Redis's reply, the cause
/// is logged.
pub fn reconfigure(next: &Config, names: &[&str]) -> Result<Option<Option<Contexts>>, String> {
    let Some(name) = names.iter().find(|n| DIRECTIVES.contains(n)) else {
        return Ok(None);
    };
    configure(next).map(Some).map_err(|e| {
        crate::warning!("{e}");
        crate::warning!(
            "Failed applying new configuration. Possibly related to new {name} setting. Restoring previous settings."
        );
        format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - Unable to update TLS configuration. Check server logs."
        )
    })
}

/// Builds the server and client contexts (Redis's `tlsConfigure`).
pub fn build(s: &Settings) -> Result<Contexts, TlsError> {
    if s.cert_file.is_empty() {
        return Err(TlsError("No tls-cert-file configured!".into()));
    }
    if s.key_file.is_empty() {
        return Err(TlsError("No tls-key-file configured!".into()));
    }
    if (s.auth_clients != AuthClients::No || s.replication)
        && s.ca_cert_file.is_empty()
        && s.ca_cert_dir.is_empty()
    {
        return Err(TlsError(
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into(),
        ));
    }
    let provider = Arc::new(provider(&s.ciphersuites)?);
    let versions = protocols(&s.protocols)?;
    let roots = Arc::new(roots(s)?);
    let (chain, key) = cert_and_key(&s.cert_file, &s.key_file)?;
    let verifier = match s.auth_clients {
        AuthClients::No => WebPkiClientVerifier::no_client_auth(),
        auth => {
            let b = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
            let b = if auth == AuthClients::Optional {
                b.allow_unauthenticated()
            } else {
                b
            };
            b.build().map_err(|e| {
                TlsError(format!(
                    "Failed to configure CA certificate(s) file/directory: {e}"
                ))
            })?
        }
    };
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError(format!("Failed to configure protocols: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(|e| mismatch(&s.cert_file, &s.key_file, e))?;
    server.ignore_client_order = s.prefer_server_ciphers;
    server.session_storage = if s.session_caching {
        rustls::server::ServerSessionMemoryCache::new(s.session_cache_size.max(1))
    } else {
        Arc::new(rustls::server::NoServerSessionStorage {})
    };
    // Outgoing links present the client certificate, or the server's when none is set.
    let (cchain, ckey) = if s.client_cert_file.is_empty() {
        (chain, key)
    } else {
        cert_and_key(&s.client_cert_file, &s.client_key_file)?
    };
    let server_verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .map_err(|e| {
        TlsError(format!(
            "Failed to configure CA certificate(s) file/directory: {e}"
        ))
    })?;
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError(format!("Failed to configure protocols: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyName(server_verifier)))
        .with_client_auth_cert(cchain, ckey)
        .map_err(|e| mismatch(&s.client_cert_file, &s.client_key_file, e))?;
    Ok(Contexts {
        server: Arc::new(server),
        client: Arc::new(client),
        replication: s.replication,
    })
}

fn mismatch(cert: &str, key: &str, e: rustls::Error) -> TlsError {
    TlsError(format!(
        "Failed to load private key: {key}: key values mismatch (certificate {cert}: {e})"
    ))
}

/// The ring provider, its TLSv1.3 suites limited to `tls-ciphersuites` (OpenSSL names).
fn provider(ciphersuites: &str) -> Result<CryptoProvider, TlsError> {
    let mut p = rustls::crypto::ring::default_provider();
    if ciphersuites.trim().is_empty() {
        return Ok(p);
    }
    let wanted: Vec<String> = ciphersuites
        .split(':')
        .filter(|n| !n.is_empty())
        .map(|n| n.replacen("TLS_", "TLS13_", 1))
        .collect();
    let name =
        |s: &rustls::SupportedCipherSuite| s.suite().as_str().unwrap_or_default().to_string();
    for w in &wanted {
        if !p.cipher_suites.iter().any(|s| name(s) == *w) {
            return Err(TlsError(format!(
                "Failed to configure ciphersuites: unknown TLSv1.3 cipher suite '{}'",
                w.replacen("TLS13_", "TLS_", 1)
            )));
        }
    }
    p.cipher_suites
        .retain(|s| s.version() != &rustls::version::TLS13 || wanted.contains(&name(s)));
    Ok(p)
}

/// `tls-protocols`: TLSv1.2 and/or TLSv1.3 (empty: both, as Redis's default).
fn protocols(list: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TlsError> {
    if list.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut v = Vec::new();
    for p in list.split_whitespace() {
        if p.eq_ignore_ascii_case("tlsv1.3") {
            v.push(&rustls::version::TLS13);
        } else if p.eq_ignore_ascii_case("tlsv1.2") {
            v.push(&rustls::version::TLS12);
        } else if p.eq_ignore_ascii_case("tlsv1") || p.eq_ignore_ascii_case("tlsv1.1") {
            return Err(TlsError(format!(
                "Failed to configure protocols: {p} is not supported by redrepl (TLSv1.2 and TLSv1.3 only)"
            )));
        } else {
            return Err(TlsError(
                "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.".into(),
            ));
        }
    }
    Ok(v)
}

fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate found in the file".into());
    }
    Ok(certs)
}

fn cert_and_key(
    cert: &str,
    key: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let chain = read_certs(cert)
        .map_err(|e| TlsError(format!("Failed to load certificate: {cert}: {e}")))?;
    let data = std::fs::read(key)
        .map_err(|e| TlsError(format!("Failed to load private key: {key}: {e}")))?;
    if data.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED") {
        return Err(TlsError(format!(
            "Failed to load private key: {key}: encrypted private keys are not supported by redrepl (tls-key-file-pass): store the key decrypted, mode 0600"
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&data)
        .map_err(|e| TlsError(format!("Failed to load private key: {key}: {e}")))?;
    Ok((chain, key))
}

/// The trusted CAs: `tls-ca-cert-file` and every PEM file of `tls-ca-cert-dir`.
fn roots(s: &Settings) -> Result<RootCertStore, TlsError> {
    let fail = |e: String| {
        TlsError(format!(
            "Failed to configure CA certificate(s) file/directory: {e}"
        ))
    };
    let mut store = RootCertStore::empty();
    let mut files = Vec::new();
    if !s.ca_cert_file.is_empty() {
        files.push((s.ca_cert_file.clone(), true));
    }
    if !s.ca_cert_dir.is_empty() {
        let dir = std::fs::read_dir(&s.ca_cert_dir)
            .map_err(|e| fail(format!("{}: {e}", s.ca_cert_dir)))?;
        for entry in dir.flatten() {
            if entry.path().is_file() {
                files.push((entry.path().display().to_string(), false));
            }
        }
    }
    for (path, must) in files {
        match read_certs(&path) {
            Ok(certs) => {
                for c in certs {
                    store.add(c).map_err(|e| fail(format!("{path}: {e}")))?;
                }
            }
            Err(e) if must => return Err(fail(format!("{path}: {e}"))),
            // A file of the directory that holds no certificate (OpenSSL skips it too).
            Err(_) => {}
        }
    }
    Ok(store)
}

/// Verifies the master's certificate chain but not its name, as Redis (OpenSSL with
/// `SSL_VERIFY_PEER` and no host check) does: replicas often name their master by address.
#[derive(Debug)]
struct AnyName(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        // The chain is checked before the name, so a name error means the chain is good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The server name sent to a master at `host` (an address or a DNS name).
pub fn server_name(host: &str) -> ServerName<'static> {
    ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::try_from("redis").expect("valid name"))
}
