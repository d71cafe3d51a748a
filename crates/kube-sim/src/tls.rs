//! Self-signed CA and serving certificate, generated at start or kept in a directory so that a
//! restarted simulator is trusted by the kubeconfig it wrote earlier.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// PEM material of the simulator's CA and serving certificate.
#[derive(Clone)]
pub struct TlsMaterial {
    pub ca_pem: String,
    ca_key_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// Common name of the front-proxy client certificate (what `requestheader-allowed-names` lists).
pub const FRONT_PROXY_CN: &str = "front-proxy-client";

/// Front-proxy PKI: the CA extension API servers trust for request-header authentication, and the
/// client certificate the aggregator presents.
#[derive(Clone)]
pub struct FrontProxy {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// Certificates of a PEM bundle.
pub fn pem_certs(pem: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<Vec<_>, _>>().context("parsing certificates")
}

/// The private key of a PEM file.
pub fn pem_key(pem: &str) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).context("parsing private key")
}

fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, "kube-sim-ca");
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(p)
}

impl TlsMaterial {
    /// A fresh CA plus a serving certificate for localhost and `extra_ips`.
    pub fn generate(extra_ips: &[std::net::IpAddr]) -> anyhow::Result<Self> {
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params()?.self_signed(&ca_key)?;
        let mut m = Self {
            ca_pem: ca_cert.pem(),
            ca_key_pem: ca_key.serialize_pem(),
            cert_pem: String::new(),
            key_pem: String::new(),
        };
        let (cert, key) = m.issue("kube-sim", &["localhost".to_string()], extra_ips)?;
        m.cert_pem = cert;
        m.key_pem = key;
        Ok(m)
    }

    /// Sign a serving certificate with the simulator's CA (also for simulated kubelets).
    pub fn issue(&self, cn: &str, dns: &[String], ips: &[std::net::IpAddr]) -> anyhow::Result<(String, String)> {
        let ca_key = KeyPair::from_pem(&self.ca_key_pem)?;
        let issuer = Issuer::new(ca_params()?, ca_key);
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(dns.to_vec())?;
        p.distinguished_name.push(DnType::CommonName, cn);
        let mut all_ips: Vec<std::net::IpAddr> =
            vec![std::net::Ipv4Addr::LOCALHOST.into(), std::net::Ipv6Addr::LOCALHOST.into()];
        for ip in ips {
            if !ip.is_unspecified() && !all_ips.contains(ip) {
                all_ips.push(*ip);
            }
        }
        for ip in all_ips {
            p.subject_alt_names.push(SanType::IpAddress(ip));
        }
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let cert = p.signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Load from `dir` if all four files are there, otherwise generate and save them.
    pub fn load_or_create(dir: &Path, extra_ips: &[std::net::IpAddr]) -> anyhow::Result<Self> {
        let files = ["ca.crt", "ca.key", "tls.crt", "tls.key"].map(|f| dir.join(f));
        if files.iter().all(|f| f.exists()) {
            let read = |i: usize| {
                std::fs::read_to_string(&files[i]).with_context(|| format!("reading {}", files[i].display()))
            };
            return Ok(Self { ca_pem: read(0)?, ca_key_pem: read(1)?, cert_pem: read(2)?, key_pem: read(3)? });
        }
        let m = Self::generate(extra_ips)?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (f, content) in files.iter().zip([&m.ca_pem, &m.ca_key_pem, &m.cert_pem, &m.key_pem]) {
            privatefile::write(f, content).with_context(|| format!("writing {}", f.display()))?;
        }
        Ok(m)
    }

    /// The CA that signs the aggregator's front-proxy client certificate, and that certificate (CN
    /// `front-proxy-client`), kept in `dir` when given so restarts keep what extension servers trust.
    pub fn front_proxy(dir: Option<&Path>) -> anyhow::Result<FrontProxy> {
        let names = ["front-proxy-ca.crt", "front-proxy-client.crt", "front-proxy-client.key"];
        if let Some(d) = dir {
            let files = names.map(|f| d.join(f));
            if files.iter().all(|f| f.exists()) {
                let read = |i: usize| {
                    std::fs::read_to_string(&files[i]).with_context(|| format!("reading {}", files[i].display()))
                };
                return Ok(FrontProxy { ca_pem: read(0)?, cert_pem: read(1)?, key_pem: read(2)? });
            }
        }
        let ca_key = KeyPair::generate()?;
        let mut ca = ca_params()?;
        ca.distinguished_name = rcgen::DistinguishedName::new();
        ca.distinguished_name.push(DnType::CommonName, "kube-sim-front-proxy-ca");
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.distinguished_name.push(DnType::CommonName, FRONT_PROXY_CN);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let cert = p.signed_by(&key, &issuer)?;
        let fp = FrontProxy { ca_pem: ca_cert.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() };
        if let Some(d) = dir {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            for (f, content) in names.iter().zip([&fp.ca_pem, &fp.cert_pem, &fp.key_pem]) {
                privatefile::write(&d.join(f), content).with_context(|| format!("writing {f}"))?;
            }
        }
        Ok(fp)
    }

    /// A rustls server config speaking HTTP/1.1.
    pub fn server_config(&self) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .context("parsing serving certificate")?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).context("parsing serving key")?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}
