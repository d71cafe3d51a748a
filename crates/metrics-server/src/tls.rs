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
        match self.current.read() {
            Ok(g) => Some(g.clone()),
            Err(p) => Some(p.into_inner().clone()),
        }
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
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert(provider)))
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

/// `--kubelet-insecure-tls`: no verification of the kubelet's certificate (signatures still checked).
#[derive(Debug)]
struct AcceptAnyServerCert(Arc<rustls::crypto::CryptoProvider>);

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

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Subject CN and O values of a DER certificate.
pub fn subject_names(der: &[u8]) -> Option<(String, Vec<String>)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let cn = subject.iter_common_name().next()?.as_str().ok()?.to_string();
    let orgs = subject.iter_organization().filter_map(|o| o.as_str().ok().map(str::to_string)).collect();
    Some((cn, orgs))
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

    #[test]
    fn kubelet_configs_build() {
        assert!(kubelet_client_config(KubeletVerify::Insecure, None).is_ok());
        assert!(kubelet_client_config(KubeletVerify::Roots(vec![]), None).is_ok());
    }
}
