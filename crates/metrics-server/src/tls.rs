//! Certificates: the serving cert (files or a generated self-signed one), CA bundles, and the TLS client
//! used towards kubelets.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: no certificate found")]
    NoCert(PathBuf),
    #[error("{0}: no private key found")]
    NoKey(PathBuf),
    #[error("{0}: invalid PEM: {1}")]
    Pem(PathBuf, std::io::Error),
    #[error("generating self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("writing {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let data = std::fs::read(path).map_err(|e| TlsError::Read(path.to_owned(), e))?;
    let certs = rustls_pemfile::certs(&mut data.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(path.to_owned(), e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(path.to_owned()));
    }
    Ok(certs)
}

pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let data = std::fs::read(path).map_err(|e| TlsError::Read(path.to_owned(), e))?;
    rustls_pemfile::private_key(&mut data.as_slice())
        .map_err(|e| TlsError::Pem(path.to_owned(), e))?
        .ok_or_else(|| TlsError::NoKey(path.to_owned()))
}

/// Certificates from PEM text (a ConfigMap value); invalid blocks are skipped.
pub fn certs_from_pem(pem: &str) -> Vec<CertificateDer<'static>> {
    rustls_pemfile::certs(&mut pem.as_bytes()).filter_map(Result::ok).collect()
}

pub fn root_store(certs: &[CertificateDer<'static>]) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(certs.iter().cloned());
    roots
}

/// The serving certificate: explicit files, else `<cert_dir>/apiserver.{crt,key}`, generating them when
/// they are not readable (self-signed for `localhost` / 127.0.0.1, as upstream).
pub fn serving_cert(
    cert_file: Option<&Path>,
    key_file: Option<&Path>,
    cert_dir: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    if let (Some(c), Some(k)) = (cert_file, key_file) {
        return Ok((read_certs(c)?, read_key(k)?));
    }
    let crt = cert_dir.join("apiserver.crt");
    let key = cert_dir.join("apiserver.key");
    if let (Ok(c), Ok(k)) = (read_certs(&crt), read_key(&key)) {
        return Ok((c, k));
    }
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    let cert_pem = generated.cert.pem();
    let key_pem = generated.signing_key.serialize_pem();
    std::fs::create_dir_all(cert_dir).map_err(|e| TlsError::Write(cert_dir.to_owned(), e))?;
    std::fs::write(&crt, &cert_pem).map_err(|e| TlsError::Write(crt.clone(), e))?;
    privatefile::write(&key, &key_pem).map_err(|e| TlsError::Write(key.clone(), e))?;
    tracing::info!("Generated self-signed cert ({}, {})", crt.display(), key.display());
    Ok((read_certs(&crt)?, read_key(&key)?))
}

/// Serves the current certificate; [`ReloadingCert::watch`] swaps it when the files change on disk
/// (cert-manager / kubelet-style rotation), as upstream's dynamic serving certificate does.
#[derive(Debug)]
pub struct ReloadingCert {
    current: std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>,
}

impl ReloadingCert {
    pub fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<Arc<Self>, TlsError> {
        Ok(Arc::new(ReloadingCert { current: std::sync::RwLock::new(Arc::new(certified(chain, key)?)) }))
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<rustls::sign::CertifiedKey> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set(&self, ck: rustls::sign::CertifiedKey) {
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(ck),
            Err(p) => *p.into_inner() = Arc::new(ck),
        }
    }

    /// Poll the two files every `every`; a changed pair that loads and matches replaces the served one.
    pub async fn watch(self: Arc<Self>, cert: PathBuf, key: PathBuf, every: std::time::Duration) {
        let stamp = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let mut last = (stamp(&cert), stamp(&key));
        loop {
            tokio::time::sleep(every).await;
            let now = (stamp(&cert), stamp(&key));
            if now == last {
                continue;
            }
            last = now;
            match read_certs(&cert).and_then(|c| Ok((c, read_key(&key)?))).and_then(|(c, k)| certified(c, k)) {
                Ok(ck) => {
                    self.set(ck);
                    tracing::info!(cert = %cert.display(), "reloaded serving certificate");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "serving certificate changed but cannot be loaded; keeping the old one")
                }
            }
        }
    }
}

impl rustls::server::ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.current())
    }
}

fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<rustls::sign::CertifiedKey, TlsError> {
    Ok(rustls::sign::CertifiedKey::from_der(chain, key, &rustls::crypto::ring::default_provider())?)
}

/// How to verify kubelet serving certificates.
pub enum KubeletVerify {
    Insecure,
    Roots(Vec<CertificateDer<'static>>),
}

/// The rustls client config used for every kubelet connection.
pub fn kubelet_client_config(
    verify: KubeletVerify,
    client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder =
        rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let builder = match verify {
        KubeletVerify::Insecure => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert { provider }))
        }
        KubeletVerify::Roots(certs) => builder.with_root_certificates(root_store(&certs)),
    };
    let mut cfg = match client_cert {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The handshake-signature half of a certificate verifier, with the ring provider's algorithms: a
/// verifier that accepts any certificate still makes the peer prove it holds the certificate's key.
macro_rules! signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider.signature_verification_algorithms.supported_schemes()
        }
    };
}

/// `--kubelet-insecure-tls`: no verification of the kubelet's certificate (signatures still checked).
#[derive(Debug)]
struct AcceptAnyServerCert {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    signature_checks!();
}

/// Subject CN and O values of a DER certificate.
pub fn subject_names(der: &[u8]) -> Option<(String, Vec<String>)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let cn = subject.iter_common_name().next()?.as_str().ok()?.to_string();
    let orgs = subject.iter_organization().filter_map(|o| o.as_str().ok().map(str::to_string)).collect();
    Some((cn, orgs))
}

/// Requests a client certificate without requiring one and accepts any certificate whose key the
/// client proves to hold: whether it is trusted is decided per request, after the handshake
/// ([`crate::auth::Auth::peer_identity`]). A certificate from an unknown CA thus fails that request's
/// authentication (a bearer token still works) instead of the handshake, as Go's `RequestClientCert`.
#[derive(Debug)]
pub struct RequestClientCert {
    hints: Vec<rustls::DistinguishedName>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl RequestClientCert {
    /// `cas`: the CAs whose subjects are sent as hints (client CA and front-proxy CA).
    pub fn new(cas: &[CertificateDer<'static>]) -> Arc<Self> {
        Arc::new(RequestClientCert {
            hints: root_store(cas).subjects(),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        })
    }
}

impl rustls::server::danger::ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    signature_checks!();
}

// ---------- --tls-min-version, --tls-cipher-suites, --tls-sni-cert-key ----------

/// `--tls-min-version`, in Go's spelling. Only the versions rustls serves are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinVersion {
    Tls12,
    Tls13,
}

pub fn parse_min_version(s: &str) -> Result<MinVersion, String> {
    match s {
        // Empty is Go's default for servers, TLS 1.2.
        "" | "VersionTLS12" => Ok(MinVersion::Tls12),
        "VersionTLS13" => Ok(MinVersion::Tls13),
        "VersionTLS10" | "VersionTLS11" => Err(format!(
            "{s} cannot be served: this server speaks TLS 1.2 and 1.3 only (use VersionTLS12 or VersionTLS13)"
        )),
        _ => Err(format!("unknown tls version {s:?} (known: VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13)")),
    }
}

/// Go's cipher suite names (IANA names plus the two legacy ChaCha20 aliases Kubernetes accepts) with
/// the rustls suite serving each; `None` for suites Go knows that rustls does not implement (CBC, RC4,
/// 3DES, RSA key exchange).
static CIPHER_SUITES: &[(&str, Option<&rustls::SupportedCipherSuite>)] = {
    use rustls::crypto::ring::cipher_suite as cs;
    &[
        ("TLS_AES_128_GCM_SHA256", Some(&cs::TLS13_AES_128_GCM_SHA256)),
        ("TLS_AES_256_GCM_SHA384", Some(&cs::TLS13_AES_256_GCM_SHA384)),
        ("TLS_CHACHA20_POLY1305_SHA256", Some(&cs::TLS13_CHACHA20_POLY1305_SHA256)),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", Some(&cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)),
        ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", Some(&cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)),
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Some(&cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)),
        ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", Some(&cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)),
        ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", Some(&cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)),
        ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", Some(&cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)),
        ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", Some(&cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)),
        ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", Some(&cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", None),
        ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", None),
        ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", None),
        ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", None),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", None),
        ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", None),
        ("TLS_RSA_WITH_RC4_128_SHA", None),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", None),
        ("TLS_RSA_WITH_AES_128_CBC_SHA", None),
        ("TLS_RSA_WITH_AES_256_CBC_SHA", None),
        ("TLS_RSA_WITH_AES_128_CBC_SHA256", None),
        ("TLS_RSA_WITH_AES_128_GCM_SHA256", None),
        ("TLS_RSA_WITH_AES_256_GCM_SHA384", None),
        ("TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", None),
        ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", None),
        ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", None),
    ]
};

/// One `--tls-cipher-suites` name, checked: known to Go and served here.
pub fn parse_cipher_suite(name: &str) -> Result<String, String> {
    let name = name.trim();
    match CIPHER_SUITES.iter().find(|(n, _)| *n == name) {
        Some((_, Some(_))) => Ok(name.to_string()),
        Some((_, None)) => Err(format!(
            "cipher suite {name} is not served by this server (it serves the AEAD suites with ECDHE key exchange: {})",
            CIPHER_SUITES
                .iter()
                .filter(|(n, s)| s.is_some() && n.starts_with("TLS_ECDHE"))
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => Err(format!("cipher suite {name} not supported or doesn't exist")),
    }
}

/// A rustls server config builder honouring `--tls-min-version` and `--tls-cipher-suites`. As in Go,
/// the listed suites restrict TLS 1.2 only; TLS 1.3's suites are always on.
pub fn server_builder(
    min: Option<MinVersion>,
    suite_names: &[String],
) -> Result<rustls::ConfigBuilder<rustls::ServerConfig, rustls::WantsVerifier>, TlsError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !suite_names.is_empty() {
        let mut tls12: Vec<rustls::SupportedCipherSuite> = Vec::new();
        for name in suite_names {
            if let Some((_, Some(s))) = CIPHER_SUITES.iter().find(|(n, _)| n == name)
                && s.tls13().is_none()
                && !tls12.iter().any(|t| t.suite() == s.suite())
            {
                tls12.push(**s);
            }
        }
        provider.cipher_suites.retain(|s| s.tls13().is_some());
        provider.cipher_suites.extend(tls12);
    }
    let has_tls12 = provider.cipher_suites.iter().any(|s| s.tls13().is_none());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match min {
        Some(MinVersion::Tls13) => &[&rustls::version::TLS13],
        _ if !has_tls12 => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    Ok(rustls::ServerConfig::builder_with_provider(Arc::new(provider)).with_protocol_versions(versions)?)
}

/// One `--tls-sni-cert-key`: `cert,key` or `cert,key:name1,name2` (names may start with `*.`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SniCertKey {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub names: Vec<String>,
}

pub fn parse_sni_cert_key(value: &str) -> Result<SniCertKey, String> {
    let (files, names) = match value.split_once(':') {
        Some((files, names)) => {
            let names = names.trim();
            if names.is_empty() {
                return Err("empty names list is not allowed".to_string());
            }
            (files.trim(), names.split(',').map(|n| n.trim().to_string()).collect())
        }
        None => (value.trim(), Vec::new()),
    };
    match files.split(',').collect::<Vec<_>>().as_slice() {
        [cert, key] => Ok(SniCertKey { cert: PathBuf::from(cert.trim()), key: PathBuf::from(key.trim()), names }),
        _ => Err("expected comma separated certificate and key file paths".to_string()),
    }
}

/// Picks the serving certificate by SNI: an exact name, then the `*.` form of the name, then the
/// default (reloading) certificate. Names given with a flag win over names read from certificates,
/// and an earlier flag over a later one, as upstream. Each pair reloads like the default certificate
/// (see [`SniResolver::watches`]); the names a certificate serves are those it had at start.
#[derive(Debug)]
pub struct SniResolver {
    default: Arc<ReloadingCert>,
    by_name: std::collections::HashMap<String, Arc<ReloadingCert>>,
    pairs: Vec<(Arc<ReloadingCert>, PathBuf, PathBuf)>,
}

impl SniResolver {
    pub fn new(default: Arc<ReloadingCert>, sni: &[SniCertKey]) -> Result<Arc<Self>, TlsError> {
        let mut loaded = Vec::with_capacity(sni.len());
        for s in sni {
            let chain = read_certs(&s.cert)?;
            let names = if s.names.is_empty() { cert_names(&chain[0]) } else { Vec::new() };
            let cert = ReloadingCert::new(chain, read_key(&s.key)?)?;
            loaded.push((cert, names, &s.names));
        }
        let mut by_name = std::collections::HashMap::new();
        for (cert, implicit, _) in loaded.iter().rev() {
            for n in implicit {
                by_name.insert(n.to_ascii_lowercase(), cert.clone());
            }
        }
        for (cert, _, explicit) in loaded.iter().rev() {
            for n in explicit.iter() {
                by_name.insert(n.to_ascii_lowercase(), cert.clone());
            }
        }
        let pairs =
            loaded.iter().zip(sni).map(|((cert, ..), s)| (cert.clone(), s.cert.clone(), s.key.clone())).collect();
        Ok(Arc::new(SniResolver { default, by_name, pairs }))
    }

    /// One task per `--tls-sni-cert-key` pair, reloading it when its files change.
    pub fn watches(&self, every: std::time::Duration) -> Vec<tokio::task::JoinHandle<()>> {
        self.pairs
            .iter()
            .map(|(cert, crt, key)| tokio::spawn(cert.clone().watch(crt.clone(), key.clone(), every)))
            .collect()
    }

    fn pick(&self, server_name: Option<&str>) -> Arc<rustls::sign::CertifiedKey> {
        if let Some(name) = server_name.map(str::to_ascii_lowercase) {
            if let Some(cert) = self.by_name.get(&name) {
                return cert.current();
            }
            if let Some((_, rest)) = name.split_once('.')
                && let Some(cert) = self.by_name.get(&format!("*.{rest}"))
            {
                return cert.current();
            }
        }
        self.default.current()
    }
}

impl rustls::server::ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.pick(hello.server_name()))
    }
}

/// DNS and IP names of a certificate (its common name when it has no DNS names).
fn cert_names(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else { return Vec::new() };
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                x509_parser::extensions::GeneralName::DNSName(d) => names.push(d.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(ip) => match ip.len() {
                    4 => names.push(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()),
                    16 => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(ip);
                        names.push(std::net::Ipv6Addr::from(b).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    if !names.iter().any(|n| n.parse::<std::net::IpAddr>().is_err())
        && let Some((cn, _)) = subject_names(der)
    {
        names.push(cn);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_and_then_reuses_self_signed_cert() {
        let dir = std::env::temp_dir().join(format!("ms-tls-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (c1, _) = serving_cert(None, None, &dir).unwrap();
        assert!(dir.join("apiserver.crt").exists());
        let (c2, _) = serving_cert(None, None, &dir).unwrap();
        assert_eq!(c1, c2, "second start reuses the files");
        let (cn, _) = subject_names(&c1[0]).unwrap();
        assert!(!cn.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn reloads_changed_files() {
        use rustls::server::ResolvesServerCert as _;
        let dir = std::env::temp_dir().join(format!("ms-tls-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str| {
            let c = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
            std::fs::write(dir.join("tls.crt"), c.cert.pem()).unwrap();
            std::fs::write(dir.join("tls.key"), c.signing_key.serialize_pem()).unwrap();
            c.cert.der().clone()
        };
        let first = write("a.example");
        let (c, k) = serving_cert(Some(&dir.join("tls.crt")), Some(&dir.join("tls.key")), &dir).unwrap();
        let r = ReloadingCert::new(c, k).unwrap();
        let current = |r: &ReloadingCert| r.current.read().unwrap().cert[0].clone();
        assert_eq!(current(&r), first);
        let task = tokio::spawn(r.clone().watch(
            dir.join("tls.crt"),
            dir.join("tls.key"),
            std::time::Duration::from_millis(20),
        ));
        // mtime granularity can be coarse: make sure the rewrite is observable.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let second = write("b.example");
        let start = std::time::Instant::now();
        while current(&r) != second && start.elapsed() < std::time::Duration::from_secs(5) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(current(&r), second);
        task.abort();
        let _ = r.only_raw_public_keys();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn sni_certificates_reload_too() {
        let dir = std::env::temp_dir().join(format!("ms-tls-sni-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str| {
            let c = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
            std::fs::write(dir.join("sni.crt"), c.cert.pem()).unwrap();
            std::fs::write(dir.join("sni.key"), c.signing_key.serialize_pem()).unwrap();
            c.cert.der().clone()
        };
        let default = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let default_der = default.cert.der().clone();
        let key = PrivateKeyDer::try_from(default.signing_key.serialize_der()).unwrap();
        let default = ReloadingCert::new(vec![default_der.clone()], key).unwrap();
        let first = write("old.example");
        let pair = parse_sni_cert_key(&format!(
            "{},{}:metrics.example.com",
            dir.join("sni.crt").display(),
            dir.join("sni.key").display()
        ))
        .unwrap();
        let r = SniResolver::new(default, &[pair]).unwrap();
        let served = |name: &str| r.pick(Some(name)).cert[0].clone();
        assert_eq!(served("metrics.example.com"), first);
        assert_eq!(served("other.example.com"), default_der);
        let tasks = r.watches(std::time::Duration::from_millis(20));
        // mtime granularity can be coarse: make sure the rewrite is observable.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let second = write("new.example");
        let start = std::time::Instant::now();
        while served("metrics.example.com") != second && start.elapsed() < std::time::Duration::from_secs(5) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(served("metrics.example.com"), second);
        tasks.iter().for_each(|t| t.abort());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn kubelet_configs_build() {
        assert!(kubelet_client_config(KubeletVerify::Insecure, None).is_ok());
        assert!(kubelet_client_config(KubeletVerify::Roots(vec![]), None).is_ok());
    }
}
