//! The cluster's certificates: a CA kept next to the inventory (its key 0600, never uploaded),
//! one certificate/key pair per node (server and client use: a replica presents it to its
//! master) and one client pair for the orchestrator itself. Made with rcgen (ring).
//!
//! Layout of `<inventory folder>/tls/`: `ca.crt`, `ca.key`, `redrepl-client.crt`/`.key`,
//! `nodes/<node>.crt`/`.key`. `redrepl init` and `deploy` create what is missing;
//! `redrepl certs renew` reissues the node and client pairs with the same CA.

use crate::cli::cluster::{Cluster, Node};
use crate::cli::files;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use std::path::{Path, PathBuf};

/// The folder (relative to the inventory's) holding the cluster's TLS files.
pub const TLS_DIR: &str = "tls";

/// Validity of the CA, in days (ten years).
pub const CA_DAYS: u32 = 3650;

/// Default validity of node and client certificates, in days.
pub const DEFAULT_DAYS: u32 = 365;

/// Why certificates could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// rcgen refused (a bad name, a key it cannot read).
    #[error("{what}: {message}")]
    Rcgen {
        /// What was being made.
        what: String,
        /// rcgen's error.
        message: String,
    },
}

/// Where one certificate and its key are, on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// The private key (PEM, 0600).
    pub key: PathBuf,
}

/// The paths of a cluster's TLS files on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `<inventory folder>/tls`.
    pub dir: PathBuf,
}

impl Layout {
    /// The layout next to an inventory in `base_dir`.
    pub fn new(base_dir: &Path) -> Layout {
        Layout {
            dir: base_dir.join(TLS_DIR),
        }
    }

    /// The CA.
    pub fn ca(&self) -> Pair {
        Pair {
            cert: self.dir.join("ca.crt"),
            key: self.dir.join("ca.key"),
        }
    }

    /// The orchestrator's client pair.
    pub fn client(&self) -> Pair {
        Pair {
            cert: self.dir.join("redrepl-client.crt"),
            key: self.dir.join("redrepl-client.key"),
        }
    }

    /// One node's pair.
    pub fn node(&self, node: &str) -> Pair {
        Pair {
            cert: self.dir.join("nodes").join(format!("{node}.crt")),
            key: self.dir.join("nodes").join(format!("{node}.key")),
        }
    }
}

/// Where a node's TLS files go on the node: `<dir>/redrepl-tls/` (0600 each).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoteFiles {
    /// The CA certificate.
    pub ca: String,
    /// The node's certificate.
    pub cert: String,
    /// The node's private key.
    pub key: String,
}

impl RemoteFiles {
    /// The files of `node`.
    pub fn of(node: &Node) -> RemoteFiles {
        let d = format!("{}/redrepl-tls", node.dir.trim_end_matches('/'));
        RemoteFiles {
            ca: format!("{d}/ca.crt"),
            cert: format!("{d}/{}.crt", node.name),
            key: format!("{d}/{}.key", node.name),
        }
    }

    /// The folder holding them.
    pub fn dir(&self) -> &str {
        self.ca.rsplit_once('/').map(|(d, _)| d).unwrap_or(".")
    }
}

/// What [`ensure`] or [`renew`] wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// Files written (certificates and keys).
    pub files: Vec<PathBuf>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CertError + '_ {
    move |source| CertError::Io {
        path: path.to_owned(),
        source,
    }
}

fn rc(what: &str) -> impl FnOnce(rcgen::Error) -> CertError + '_ {
    move |e| CertError::Rcgen {
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// The CA's distinguished name: fixed per cluster, so the CA is rebuilt from its key alone
/// (rcgen reads no certificate without x509-parser).
fn ca_params(cluster: &str, days: u32) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "redrepl");
    dn.push(DnType::CommonName, format!("redrepl CA {cluster}"));
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut p, days);
    p
}

fn set_validity(p: &mut CertificateParams, days: u32) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let at = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).expect("a date in range");
    // An hour back: a node whose clock is slightly behind still accepts the certificate.
    p.not_before = at(now - 3600);
    p.not_after = at(now + i64::from(days) * 86_400);
}

fn random_serial() -> Result<SerialNumber, CertError> {
    let mut b = [0u8; 16];
    crate::sysrand::fill(&mut b).map_err(io(Path::new("/dev/urandom")))?;
    b[0] &= 0x7f; // positive
    Ok(SerialNumber::from_slice(&b))
}

/// The names a node's certificate is valid for: its host, its non-wildcard bind addresses,
/// loopback and `localhost` (the orchestrator reaches it through an SSH tunnel to loopback
/// but checks the certificate against the node's host).
pub fn node_names(node: &Node) -> Vec<String> {
    let mut names = vec![node.host.clone()];
    for a in &node.bind {
        let a = a.trim_start_matches('-');
        if !matches!(a, "*" | "0.0.0.0" | "::" | "::*") {
            names.push(a.to_string());
        }
    }
    names.push("127.0.0.1".into());
    names.push("localhost".into());
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

fn leaf_params(cn: &str, names: &[String], days: u32) -> Result<CertificateParams, CertError> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "redrepl");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n
                .clone()
                .try_into()
                .map(SanType::DnsName)
                .map_err(|e: rcgen::Error| CertError::Rcgen {
                    what: format!("the name {n:?}"),
                    message: e.to_string(),
                }),
        })
        .collect::<Result<_, _>>()?;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.use_authority_key_identifier_extension = true;
    p.serial_number = Some(random_serial()?);
    set_validity(&mut p, days);
    Ok(p)
}

/// The CA as an issuer: created (cert + 0600 key) when `ca.key` is missing, else rebuilt from
/// the key.
fn ca_issuer(
    cluster: &str,
    layout: &Layout,
    written: &mut Written,
) -> Result<Issuer<'static, KeyPair>, CertError> {
    let ca = layout.ca();
    files::create_private_dir(&layout.dir).map_err(io(&layout.dir))?;
    if ca.key.exists() {
        let pem = std::fs::read_to_string(&ca.key).map_err(io(&ca.key))?;
        let key = KeyPair::from_pem(&pem).map_err(rc("the CA key"))?;
        return Ok(Issuer::new(ca_params(cluster, CA_DAYS), key));
    }
    let key = KeyPair::generate().map_err(rc("the CA key"))?;
    let mut params = ca_params(cluster, CA_DAYS);
    params.serial_number = Some(random_serial()?);
    let cert = params.self_signed(&key).map_err(rc("the CA certificate"))?;
    files::write_private(&ca.key, key.serialize_pem().as_bytes()).map_err(io(&ca.key))?;
    std::fs::write(&ca.cert, cert.pem()).map_err(io(&ca.cert))?;
    written.files.extend([ca.key, ca.cert]);
    Ok(Issuer::new(params, key))
}

fn issue(
    issuer: &Issuer<'_, KeyPair>,
    pair: &Pair,
    cn: &str,
    names: &[String],
    days: u32,
    written: &mut Written,
) -> Result<(), CertError> {
    let key = KeyPair::generate().map_err(rc(cn))?;
    let cert = leaf_params(cn, names, days)?
        .signed_by(&key, issuer)
        .map_err(rc(cn))?;
    if let Some(parent) = pair.key.parent() {
        files::create_private_dir(parent).map_err(io(parent))?;
    }
    files::write_private(&pair.key, key.serialize_pem().as_bytes()).map_err(io(&pair.key))?;
    std::fs::write(&pair.cert, cert.pem()).map_err(io(&pair.cert))?;
    written.files.extend([pair.key.clone(), pair.cert.clone()]);
    Ok(())
}

/// Creates whatever is missing: the CA, the orchestrator's client pair, each node's pair.
/// Existing files are kept.
pub fn ensure(cluster: &Cluster, layout: &Layout) -> Result<Written, CertError> {
    issue_all(cluster, layout, None)
}

/// Reissues every node's pair and the client pair (valid `days` days) with the existing CA
/// (created if missing).
pub fn renew(cluster: &Cluster, layout: &Layout, days: u32) -> Result<Written, CertError> {
    issue_all(cluster, layout, Some(days))
}

fn issue_all(
    cluster: &Cluster,
    layout: &Layout,
    renew_days: Option<u32>,
) -> Result<Written, CertError> {
    let mut written = Written::default();
    let issuer = ca_issuer(&cluster.name, layout, &mut written)?;
    let days = renew_days.unwrap_or(DEFAULT_DAYS);
    let wanted = |p: &Pair| renew_days.is_some() || !p.cert.exists() || !p.key.exists();
    let client = layout.client();
    if wanted(&client) {
        issue(
            &issuer,
            &client,
            "redrepl orchestrator",
            &["redrepl".to_string()],
            days,
            &mut written,
        )?;
    }
    for n in &cluster.nodes {
        let pair = layout.node(&n.name);
        if wanted(&pair) {
            issue(&issuer, &pair, &n.name, &node_names(n), days, &mut written)?;
        }
    }
    Ok(written)
}

/// The `notAfter` of a DER certificate as Unix seconds (None when it cannot be read).
pub fn not_after(der: &[u8]) -> Option<i64> {
    // Certificate ::= SEQ { tbsCertificate SEQ { [0] version?, serial, sigAlg, issuer,
    // validity SEQ { notBefore, notAfter }, ... }, ... }
    let (_, cert, _) = tlv(der)?;
    let (_, mut tbs, _) = tlv(cert)?;
    let (tag, _, rest) = tlv(tbs)?;
    if tag == 0xa0 {
        tbs = rest;
    }
    for _ in 0..3 {
        tbs = tlv(tbs)?.2; // serial, signature algorithm, issuer
    }
    let (_, validity, _) = tlv(tbs)?;
    let (_, _, rest) = tlv(validity)?;
    let (tag, t, _) = tlv(rest)?;
    parse_time(tag, std::str::from_utf8(t).ok()?)
}

/// One DER TLV: (tag, contents, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = head.checked_add(len)?;
    Some((tag, b.get(head..end)?, b.get(end..)?))
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) to Unix seconds.
fn parse_time(tag: u8, s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = s.get(0..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(0..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let n = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let (month, day, h, m, sec) = (n(0)?, n(2)?, n(4)?, n(6)?, n(8)?);
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Whole days from now until `not_after` (negative once expired).
pub fn days_left(not_after: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    (not_after - now).div_euclid(86_400)
}

/// The `notAfter` of the first certificate of a PEM file.
pub fn pem_not_after(pem: &str) -> Option<i64> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let der = CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()?;
    not_after(&der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_as_the_calendar_says() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(parse_time(0x17, "700102000000Z"), Some(86_400));
        assert_eq!(parse_time(0x18, "20000301000000Z"), Some(11_017 * 86_400));
        assert_eq!(parse_time(0x17, "7001"), None);
    }

    #[test]
    fn a_certificate_made_here_reads_back_its_expiry_and_truncation_is_harmless() {
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::new(ca_params("c", 30), KeyPair::generate().unwrap());
        let cert = leaf_params("n", &["127.0.0.1".into(), "node-a".into()], 10)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let left = days_left(not_after(cert.der()).unwrap());
        assert!((9..=10).contains(&left), "{left}");
        for cut in 0..cert.der().len() {
            let _ = not_after(&cert.der()[..cut]);
        }
        assert_eq!(pem_not_after(&cert.pem()), not_after(cert.der()));
    }
}
