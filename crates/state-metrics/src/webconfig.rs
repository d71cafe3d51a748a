//! `--tls-config`: the Prometheus exporter-toolkit web configuration file (TLS, client certificates,
//! basic authentication, extra response headers), applied to both servers.
//!
//! Parsed strictly, as exporter-toolkit does: an unknown key is an error rather than a silently
//! ignored security setting. Relative file names are resolved against the file's own directory.
//! Go-only knobs (cipher suites, curve preferences, server cipher preference, HTTP/2) are accepted
//! and logged, since rustls picks safe values itself and this server speaks HTTP/1.1 only.
//! `client_allowed_sans` and `rate_limit` are refused: silently dropping an access restriction would
//! widen access.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::credcache::{Cache, Hasher};
use crate::server::{Request, Response};

#[derive(Debug, thiserror::Error)]
pub struct WebConfigError {
    pub file: String,
    /// The field at fault; empty when the file itself cannot be read.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "--tls-config {}: {}", self.file, self.message)
        } else {
            write!(f, "--tls-config {}: {}: {}", self.file, self.field, self.message)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    cert: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    client_ca: String,
    #[serde(default)]
    cert_file: String,
    #[serde(default)]
    key_file: String,
    #[serde(default)]
    client_auth_type: String,
    #[serde(default)]
    client_ca_file: String,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
    #[serde(default)]
    min_version: String,
    #[serde(default)]
    max_version: String,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
}

/// exporter-toolkit's list of headers a web config may set; anything else is refused as upstream does.
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// How the server treats client certificates (Go's `tls.ClientAuthType` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NoClientCert" => ClientAuth::NoClientCert,
            "RequestClientCert" => ClientAuth::RequestClientCert,
            "RequireAnyClientCert" => ClientAuth::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
            _ => return None,
        })
    }

    fn verifies(self) -> bool {
        matches!(self, ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert)
    }
}

/// A loaded web configuration.
pub struct WebConfig {
    /// `None`: plain HTTP (no `tls_server_config`, or one without a certificate, as exporter-toolkit).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    basic_auth: BasicAuth,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

/// bcrypt checks that may run at once (exporter-toolkit runs one at a time too). bcrypt is slow by
/// design, so a flood of wrong passwords must not take every core from the scrapes.
pub const BCRYPT_CONCURRENCY: usize = 1;
/// Credentials that passed are remembered (a digest of them, never the password) so that a scraper's
/// requests cost no bcrypt after its first; at most this many, the oldest giving way. They never
/// expire: the hashes are read once at startup.
pub const VERIFIED_MAX: usize = 256;
/// Credentials that failed are remembered this long, so that a client repeating them costs no bcrypt.
pub const FAILED_TTL: Duration = Duration::from_secs(60);
/// At most this many failed credentials are remembered, the oldest giving way.
pub const FAILED_MAX: usize = 1024;

/// A bcrypt hash (of a random password nobody knows) checked for unknown users, so that an unknown
/// user costs the same bcrypt run as a known one with a wrong password; its cost is replaced by the
/// configured users' highest.
const UNKNOWN_USER_HASH: &str = "$2b$10$bP.YpnIxSizTqX8J.qGAfusXilgzFqQ9IJgQtXQWF5SsMddi/kNju";

/// `basic_auth_users` and what keeps checking them cheap for scrapers and bounded for everyone else.
struct BasicAuth {
    users: HashMap<String, String>,
    unknown_user_hash: String,
    hasher: Hasher,
    verified: Cache<()>,
    failed: Cache<()>,
    bcrypt: Arc<tokio::sync::Semaphore>,
    runs: Arc<BcryptRuns>,
}

/// Counts of bcrypt runs: all so far, running now, and the most ever running at once.
#[derive(Default)]
struct BcryptRuns {
    total: AtomicUsize,
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl BcryptRuns {
    fn verify(&self, pass: &[u8], hash: &str) -> bool {
        self.total.fetch_add(1, Ordering::Relaxed);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let ok = bcrypt::verify(pass, hash).unwrap_or(false);
        self.running.fetch_sub(1, Ordering::SeqCst);
        ok
    }
}

/// The cost of a bcrypt hash (`$2b$10$` + 53 characters of salt and digest), if it is one.
fn bcrypt_cost(hash: &str) -> Option<u32> {
    let b = hash.as_bytes();
    let versioned = b.len() == 60 && b[0] == b'$' && b[1] == b'2' && b"abxy".contains(&b[2]) && b[3] == b'$';
    if !versioned || b[6] != b'$' {
        return None;
    }
    let cost: u32 = hash.get(4..6)?.parse().ok()?;
    (4..=31).contains(&cost).then_some(cost)
}

impl BasicAuth {
    fn new(users: HashMap<String, String>) -> Self {
        let cost = users.values().filter_map(|h| bcrypt_cost(h)).max().unwrap_or(10);
        BasicAuth {
            unknown_user_hash: format!("$2b${cost:02}{}", &UNKNOWN_USER_HASH[6..]),
            users,
            hasher: Hasher::new(),
            verified: Cache::new(None, VERIFIED_MAX),
            failed: Cache::new(Some(FAILED_TTL), FAILED_MAX),
            bcrypt: Arc::new(tokio::sync::Semaphore::new(BCRYPT_CONCURRENCY)),
            runs: Arc::default(),
        }
    }

    fn cached(&self, key: &crate::credcache::Key) -> Option<bool> {
        let now = Instant::now();
        if self.verified.get(key, now).is_some() {
            Some(true)
        } else if self.failed.get(key, now).is_some() {
            Some(false)
        } else {
            None
        }
    }

    async fn check(&self, user: &str, pass: &str) -> bool {
        let (hash, known) = match self.users.get(user) {
            Some(h) => (h.as_str(), true),
            None => (self.unknown_user_hash.as_str(), false),
        };
        let key = self.hasher.key(&[user.as_bytes(), pass.as_bytes()]);
        if let Some(ok) = self.cached(&key) {
            return ok;
        }
        let Ok(permit) = self.bcrypt.clone().acquire_owned().await else {
            return false;
        };
        // Another request may have settled the same credentials while this one waited.
        if let Some(ok) = self.cached(&key) {
            return ok;
        }
        // bcrypt reads at most 72 bytes of a password; a huge one need not be copied.
        let pass = pass.as_bytes()[..pass.len().min(72)].to_vec();
        let (hash, runs) = (hash.to_owned(), self.runs.clone());
        // Off the request-serving threads; the permit goes with the check, so a client that hangs up
        // does not free a slot while its bcrypt still runs.
        let matched = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            runs.verify(&pass, &hash)
        })
        .await
        .unwrap_or(false);
        let ok = known && matched;
        let cache = if ok { &self.verified } else { &self.failed };
        cache.put(key, (), Instant::now());
        ok
    }
}

impl WebConfig {
    /// Reads and validates `path`; every error names the file and the field at fault.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| WebConfigError {
            file: file.clone(),
            field: String::new(),
            message: e.to_string(),
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &dir).map_err(|(field, message)| WebConfigError { file, field, message })
    }

    /// Parses the YAML `text`; relative file names are taken from `dir`. Errors are (field, message).
    pub fn parse(text: &str, dir: &Path) -> Result<WebConfig, FieldError> {
        let raw: RawFile = if text.trim().is_empty() {
            RawFile::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| ("(yaml)".to_owned(), e.to_string()))?
        };
        if raw.rate_limit.is_some() {
            return Err(("rate_limit".into(), "not supported by kubestate".into()));
        }
        let tls = match raw.tls_server_config {
            Some(t) => build_tls(t, dir)?,
            None => None,
        };
        let mut headers = Vec::new();
        if let Some(h) = raw.http_server_config {
            if h.http2.is_some() {
                tracing::info!("--tls-config: http_server_config.http2 ignored; the servers speak HTTP/1.1");
            }
            for (name, value) in h.headers.unwrap_or_default() {
                let field = format!("http_server_config.headers.{name}");
                let Some(canonical) = ALLOWED_HEADERS.iter().find(|a| a.eq_ignore_ascii_case(&name)) else {
                    return Err((field, "this header cannot be configured".into()));
                };
                if value.is_empty() {
                    continue;
                }
                check_header_value(canonical, &value).map_err(|m| (field.clone(), m))?;
                let v = http::HeaderValue::from_str(&value).map_err(|e| (field, e.to_string()))?;
                headers.push((http::HeaderName::from_static(lower(canonical)), v));
            }
        }
        let mut basic_auth = HashMap::new();
        for (user, hash) in raw.basic_auth_users.unwrap_or_default() {
            let field = format!("basic_auth_users.{user}");
            // Catch a plain-text password early instead of refusing every request later.
            if bcrypt_cost(&hash).is_none() {
                return Err((field, "not a bcrypt hash ($2a$/$2b$/$2y$, cost 04 to 31, 60 characters)".into()));
            }
            basic_auth.insert(user, hash);
        }
        Ok(WebConfig { tls, basic_auth: BasicAuth::new(basic_auth), headers })
    }

    /// `None` lets the request go on: always without `basic_auth_users`, else only with valid
    /// credentials. The refusal is a 401 asking for basic authentication.
    pub async fn refusal(&self, req: &Request) -> Option<Response> {
        if self.basic_auth.users.is_empty() {
            return None;
        }
        let creds = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(parse_basic);
        match creds {
            Some((user, pass)) if self.basic_auth.check(&user, &pass).await => None,
            _ => {
                let mut r = crate::server::text(http::StatusCode::UNAUTHORIZED, "Unauthorized\n");
                r.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Basic"));
                Some(r)
            }
        }
    }

    /// Adds the configured headers to a response.
    pub fn decorate(&self, resp: &mut Response) {
        for (k, v) in &self.headers {
            resp.headers_mut().insert(k.clone(), v.clone());
        }
    }
}

fn lower(h: &'static str) -> &'static str {
    match h {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

/// exporter-toolkit restricts two headers to their only meaningful values.
fn check_header_value(name: &str, value: &str) -> Result<(), String> {
    match name {
        "X-Content-Type-Options" if !value.eq_ignore_ascii_case("nosniff") => Err("accepted value is nosniff".into()),
        "X-Frame-Options" if !(value.eq_ignore_ascii_case("deny") || value.eq_ignore_ascii_case("sameorigin")) => {
            Err("accepted values are deny and sameorigin".into())
        }
        _ => Ok(()),
    }
}

/// `Basic base64(user:password)` → (user, password).
fn parse_basic(h: &str) -> Option<(String, String)> {
    let (scheme, rest) = h.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

fn resolve(dir: &Path, f: &str) -> PathBuf {
    let p = Path::new(f);
    if p.is_absolute() { p.to_path_buf() } else { dir.join(p) }
}

/// A field name and what is wrong with it.
type FieldError = (String, String);
/// PEM bytes and the field they came from.
type Pem = (String, Vec<u8>);

/// PEM text from an inline value or a file; exactly one may be given.
fn pem_source(
    inline: &str,
    file: &str,
    inline_field: &str,
    file_field: &str,
    dir: &Path,
) -> Result<Option<Pem>, FieldError> {
    match (inline.is_empty(), file.is_empty()) {
        (false, false) => Err((file_field.into(), format!("only one of {inline_field} and {file_field} may be set"))),
        (false, true) => Ok(Some((inline_field.into(), inline.as_bytes().to_vec()))),
        (true, false) => {
            let p = resolve(dir, file);
            let b = std::fs::read(&p).map_err(|e| (file_field.to_owned(), format!("{}: {e}", p.display())))?;
            Ok(Some((file_field.into(), b)))
        }
        (true, true) => Ok(None),
    }
}

fn tls_version(
    field: &str,
    v: &str,
    default: &'static rustls::SupportedProtocolVersion,
) -> Result<&'static rustls::SupportedProtocolVersion, FieldError> {
    match v {
        "" => Ok(default),
        // rustls has no TLS 1.0/1.1; a minimum of either still means "1.2 and up" here.
        "TLS10" | "TLS11" => {
            tracing::warn!(field, value = v, "TLS 1.0/1.1 are not available; TLS 1.2 is the minimum");
            Ok(&rustls::version::TLS12)
        }
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS13" => Ok(&rustls::version::TLS13),
        other => Err((field.into(), format!("unknown TLS version {other:?} (TLS10, TLS11, TLS12, TLS13)"))),
    }
}

fn build_tls(t: RawTls, dir: &Path) -> Result<Option<Arc<rustls::ServerConfig>>, FieldError> {
    const F: &str = "tls_server_config";
    let f = |name: &str| format!("{F}.{name}");
    let cert = pem_source(&t.cert, &t.cert_file, &f("cert"), &f("cert_file"), dir)?;
    let key = pem_source(&t.key, &t.key_file, &f("key"), &f("key_file"), dir)?;
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err((f("key_file"), "missing (a certificate is set)".into())),
        (None, Some(_)) => return Err((f("cert_file"), "missing (a key is set)".into())),
        (Some(c), Some(k)) => (c, k),
    };
    if t.client_allowed_sans.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err((f("client_allowed_sans"), "not supported by kubestate".into()));
    }
    for (name, set) in [
        ("cipher_suites", t.cipher_suites.is_some()),
        ("curve_preferences", t.curve_preferences.is_some()),
        ("prefer_server_cipher_suites", t.prefer_server_cipher_suites.is_some()),
    ] {
        if set {
            tracing::info!(field = %f(name), "ignored: rustls chooses its own cipher suites and groups");
        }
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert.1)
        .collect::<Result<_, _>>()
        .map_err(|e| (cert.0.clone(), format!("parsing PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err((cert.0, "no certificate found".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(&key.1).map_err(|e| (key.0.clone(), format!("parsing PEM private key: {e}")))?;

    let ca = pem_source(&t.client_ca, &t.client_ca_file, &f("client_ca"), &f("client_ca_file"), dir)?;
    let auth = if t.client_auth_type.is_empty() {
        // exporter-toolkit: a client CA without an explicit policy means "verify".
        if ca.is_some() { ClientAuth::RequireAndVerifyClientCert } else { ClientAuth::NoClientCert }
    } else {
        ClientAuth::parse(&t.client_auth_type)
            .ok_or_else(|| (f("client_auth_type"), format!("invalid client auth type {:?}", t.client_auth_type)))?
    };
    if auth.verifies() && ca.is_none() {
        return Err((f("client_ca_file"), format!("required with client_auth_type {:?}", t.client_auth_type)));
    }

    let min = tls_version(&f("min_version"), &t.min_version, &rustls::version::TLS12)?;
    let max = tls_version(&f("max_version"), &t.max_version, &rustls::version::TLS13)?;
    let order =
        |v: &rustls::SupportedProtocolVersion| if v.version == rustls::ProtocolVersion::TLSv1_2 { 0 } else { 1 };
    if order(min) > order(max) {
        return Err((f("max_version"), "lower than min_version".into()));
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [&rustls::version::TLS12, &rustls::version::TLS13]
        .into_iter()
        .filter(|v| order(v) >= order(min) && order(v) <= order(max))
        .collect();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| (f("min_version"), e.to_string()))?;
    let verifier: Arc<dyn rustls::server::danger::ClientCertVerifier> = match auth {
        ClientAuth::NoClientCert => rustls::server::WebPkiClientVerifier::no_client_auth(),
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
            Arc::new(AnyClientCert { mandatory: auth == ClientAuth::RequireAnyClientCert, provider: provider.clone() })
        }
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            let (field, pem) = ca.ok_or_else(|| (f("client_ca_file"), "missing".to_owned()))?;
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&pem) {
                let c = c.map_err(|e| (field.clone(), format!("parsing PEM certificates: {e}")))?;
                roots.add(c).map_err(|e| (field.clone(), e.to_string()))?;
            }
            if roots.is_empty() {
                return Err((field, "no certificate found".into()));
            }
            let b = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let b = if auth == ClientAuth::VerifyClientCertIfGiven { b.allow_unauthenticated() } else { b };
            b.build().map_err(|e| (field, e.to_string()))?
        }
    };
    let mut cfg = builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| (f("key_file"), format!("certificate and key do not match or are unusable: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(cfg)))
}

/// Go's RequestClientCert / RequireAnyClientCert: a client certificate is asked for (and maybe
/// required) but its chain is not checked; only the handshake signature proves key possession.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::server::danger::ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Pki {
        ca_pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    impl Pki {
        fn new(cn: &str) -> Pki {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(DnType::CommonName, cn);
            let ca = p.self_signed(&key).unwrap();
            Pki { ca_pem: ca.pem(), issuer: Issuer::new(p, key) }
        }

        /// (cert PEM, key PEM) for a server (127.0.0.1/localhost) or a client.
        fn issue(&self, server: bool) -> (String, String) {
            let key = KeyPair::generate().unwrap();
            let names = if server { vec!["localhost".to_owned(), "127.0.0.1".to_owned()] } else { Vec::new() };
            let mut p = CertificateParams::new(names).unwrap();
            p.distinguished_name.push(DnType::CommonName, if server { "server" } else { "client" });
            p.extended_key_usages =
                vec![if server { ExtendedKeyUsagePurpose::ServerAuth } else { ExtendedKeyUsagePurpose::ClientAuth }];
            let c = p.signed_by(&key, &self.issuer).unwrap();
            (c.pem(), key.serialize_pem())
        }
    }

    struct Dir(PathBuf);
    impl Dir {
        fn new(tag: &str) -> Dir {
            let d = std::env::temp_dir().join(format!("ksm-webconfig-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Dir(d)
        }
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, text).unwrap();
            p
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn field_of(text: &str, dir: &Path) -> String {
        match WebConfig::parse(text, dir) {
            Ok(_) => panic!("accepted: {text}"),
            Err((field, _)) => field,
        }
    }

    #[test]
    fn empty_file_is_plain_http_without_auth() {
        let w = WebConfig::parse("", Path::new("/")).unwrap();
        assert!(w.tls.is_none());
        assert!(w.basic_auth.users.is_empty());
        let w = WebConfig::parse("tls_server_config: {}\n", Path::new("/")).unwrap();
        assert!(w.tls.is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let d = Path::new("/nonexistent");
        assert_eq!(field_of("tls_server_config:\n  cert_file: a.crt\n", d), "tls_server_config.cert_file");
        assert_eq!(field_of("tls_server_config:\n  bogus: 1\n", d), "(yaml)");
        assert_eq!(field_of("basic_auth_users:\n  alice: plaintext\n", d), "basic_auth_users.alice");
        assert_eq!(
            field_of("http_server_config:\n  headers:\n    X-Custom: a\n", d),
            "http_server_config.headers.X-Custom"
        );
        assert_eq!(
            field_of("http_server_config:\n  headers:\n    X-Frame-Options: allow\n", d),
            "http_server_config.headers.X-Frame-Options"
        );
        assert_eq!(field_of("rate_limit:\n  burst: 2\n", d), "rate_limit");
        let e = WebConfig::load(Path::new("/nonexistent/web.yaml")).err().unwrap().to_string();
        assert!(e.contains("/nonexistent/web.yaml"), "{e}");
    }

    #[test]
    fn tls_files_are_relative_to_the_config_and_checked() {
        let pki = Pki::new("ca");
        let (cert, key) = pki.issue(true);
        let d = Dir::new("rel");
        d.write("s.crt", &cert);
        d.write("s.key", &key);
        d.write("ca.crt", &pki.ca_pem);
        let ok = "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n";
        let w = WebConfig::parse(ok, &d.0).unwrap();
        assert!(w.tls.is_some());
        // Verifying client certificates needs a CA.
        let t = format!("{ok}  client_auth_type: RequireAndVerifyClientCert\n");
        assert_eq!(field_of(&t, &d.0), "tls_server_config.client_ca_file");
        let t = format!("{ok}  client_auth_type: Sometimes\n");
        assert_eq!(field_of(&t, &d.0), "tls_server_config.client_auth_type");
        let t = format!("{ok}  min_version: TLS13\n  max_version: TLS12\n");
        assert_eq!(field_of(&t, &d.0), "tls_server_config.max_version");
        let t = format!("{ok}  min_version: SSL3\n");
        assert_eq!(field_of(&t, &d.0), "tls_server_config.min_version");
        d.write("bad.key", "not a key");
        let t = "tls_server_config:\n  cert_file: s.crt\n  key_file: bad.key\n";
        assert_eq!(field_of(t, &d.0), "tls_server_config.key_file");
        // A key of another certificate.
        let (_, other_key) = pki.issue(true);
        d.write("other.key", &other_key);
        let t = "tls_server_config:\n  cert_file: s.crt\n  key_file: other.key\n";
        assert_eq!(field_of(t, &d.0), "tls_server_config.key_file");
    }

    fn basic(users: &[(&str, &str)]) -> WebConfig {
        let mut text = "basic_auth_users:\n".to_owned();
        for (u, h) in users {
            text.push_str(&format!("  {u}: '{h}'\n"));
        }
        WebConfig::parse(&text, Path::new("/")).unwrap()
    }

    fn runs(w: &WebConfig) -> usize {
        w.basic_auth.runs.total.load(Ordering::SeqCst)
    }

    #[test]
    fn malformed_hashes_are_refused_at_load() {
        let d = Path::new("/");
        let good = bcrypt::hash("pw", 4).unwrap();
        assert!(WebConfig::parse(&format!("basic_auth_users:\n  a: '{good}'\n"), d).is_ok());
        for bad in [&good[..59], &good.replacen("$04$", "$03$", 1), &good.replacen("$04$", "$32$", 1), "$2c$04$x"] {
            assert_eq!(field_of(&format!("basic_auth_users:\n  a: '{bad}'\n"), d), "basic_auth_users.a", "{bad}");
        }
        assert_eq!(parse_basic("Basic YWxpY2U6czNjcmV0"), Some(("alice".into(), "s3cret".into())));
        assert_eq!(parse_basic("Bearer x"), None);
    }

    #[tokio::test]
    async fn unknown_users_cost_a_bcrypt_run_like_known_ones() {
        let hash = bcrypt::hash("s3cret", 5).unwrap();
        let w = basic(&[("alice", &hash)]);
        // The stand-in hash has the configured cost, so that both runs take as long.
        assert_eq!(bcrypt_cost(&w.basic_auth.unknown_user_hash), Some(5));
        assert!(!w.basic_auth.check("alice", "wrong").await);
        assert_eq!(runs(&w), 1);
        assert!(!w.basic_auth.check("mallory", "wrong").await);
        assert_eq!(runs(&w), 2, "an unknown user must cost a bcrypt run");
        // Even with a known user's password.
        assert!(!w.basic_auth.check("bob", "s3cret").await);
        assert_eq!(runs(&w), 3);
        assert!(w.basic_auth.check("alice", "s3cret").await);
        assert_eq!(runs(&w), 4);
        // The highest cost among several users.
        let w = basic(&[("a", &hash), ("b", &bcrypt::hash("x", 6).unwrap())]);
        assert_eq!(bcrypt_cost(&w.basic_auth.unknown_user_hash), Some(6));
    }

    #[tokio::test]
    async fn successes_and_failures_are_remembered() {
        let w = basic(&[("alice", &bcrypt::hash("s3cret", 4).unwrap())]);
        for _ in 0..3 {
            assert!(w.basic_auth.check("alice", "s3cret").await);
            assert!(!w.basic_auth.check("alice", "wrong").await);
            assert!(!w.basic_auth.check("bob", "s3cret").await);
        }
        assert_eq!(runs(&w), 3);
        // A password sharing the right one's first bytes is a different credential.
        assert!(!w.basic_auth.check("alice", "s3cret2").await);
        assert_eq!(runs(&w), 4);
        // Caches hold digests: a flood of huge distinct passwords leaves them at their bound.
        let big = "x".repeat(64 * 1024);
        for i in 0..(FAILED_MAX + 50) {
            let key = w.basic_auth.hasher.key(&[b"alice", format!("{i}{big}").as_bytes()]);
            w.basic_auth.failed.put(key, (), Instant::now());
        }
        assert_eq!(w.basic_auth.failed.len(), FAILED_MAX);
        assert!(w.basic_auth.failed.held_bytes() < 256 * 1024);
    }

    /// A client that hangs up while its check runs, then a flood of distinct wrong passwords: never
    /// more than [`BCRYPT_CONCURRENCY`] bcrypt runs at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn bcrypt_runs_are_bounded() {
        let w = Arc::new(basic(&[("alice", &bcrypt::hash("s3cret", 8).unwrap())]));
        let gone = {
            let w = w.clone();
            tokio::spawn(async move { w.basic_auth.check("alice", "hung up").await })
        };
        while w.basic_auth.runs.running.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        gone.abort();
        let mut flood = tokio::task::JoinSet::new();
        for i in 0..12 {
            let w = w.clone();
            let user = if i % 2 == 0 { "alice" } else { "eve" };
            flood.spawn(async move { w.basic_auth.check(user, &format!("pw{i}")).await });
        }
        while let Some(r) = flood.join_next().await {
            assert!(!r.unwrap());
        }
        assert_eq!(runs(&w), 13);
        let peak = w.basic_auth.runs.peak.load(Ordering::SeqCst);
        assert_eq!(peak, BCRYPT_CONCURRENCY, "{peak} bcrypt runs at once");
    }

    /// A scraper whose credentials passed once is answered at once even while every bcrypt slot is
    /// taken by a flood.
    #[tokio::test]
    async fn remembered_scraper_does_not_queue_behind_a_flood() {
        let w = basic(&[("prom", &bcrypt::hash("pw", 4).unwrap())]);
        assert!(w.basic_auth.check("prom", "pw").await);
        let busy = w.basic_auth.bcrypt.clone().acquire_many_owned(BCRYPT_CONCURRENCY as u32).await.unwrap();
        let fast = tokio::time::timeout(Duration::from_secs(10), w.basic_auth.check("prom", "pw")).await;
        assert_eq!(fast.ok(), Some(true));
        // A check that needs bcrypt waits for a slot.
        let slow = tokio::time::timeout(Duration::from_millis(300), w.basic_auth.check("prom", "other")).await;
        assert!(slow.is_err(), "bcrypt ran without a slot");
        drop(busy);
        assert!(!w.basic_auth.check("prom", "other").await);
    }

    /// Serves `w` (TLS, basic auth, headers) on a loopback port; answers "hello" when let through.
    async fn start(w: WebConfig) -> (std::net::SocketAddr, tokio::sync::watch::Sender<bool>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let w = Arc::new(w);
        let tls = w.tls.clone();
        let handler = move |req: Request| {
            let w = w.clone();
            async move {
                let mut r = w.refusal(&req).await.unwrap_or_else(|| crate::server::text(http::StatusCode::OK, "hello"));
                w.decorate(&mut r);
                r
            }
        };
        let t = crate::server::Timeouts::default();
        tokio::spawn(crate::server::serve_with(l, handler, t, rx, std::time::Duration::from_secs(1), tls));
        (addr, tx)
    }

    fn client(ca_pem: &str, cert: Option<&(String, String)>) -> tokio_rustls::TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let b = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let cfg = match cert {
            Some((c, k)) => b
                .with_client_auth_cert(
                    CertificateDer::pem_slice_iter(c.as_bytes()).map(Result::unwrap).collect(),
                    PrivateKeyDer::from_pem_slice(k.as_bytes()).unwrap(),
                )
                .unwrap(),
            None => b.with_no_client_auth(),
        };
        tokio_rustls::TlsConnector::from(Arc::new(cfg))
    }

    /// A GET over TLS; `Err` when the handshake or the exchange fails (e.g. a refused client).
    async fn get_tls(
        addr: std::net::SocketAddr,
        conn: &tokio_rustls::TlsConnector,
        extra: &str,
    ) -> Result<String, std::io::Error> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut s = conn.connect(name, tcp).await?;
        s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n").as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        if out.is_empty() {
            return Err(std::io::Error::other("no response"));
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn tls_yaml(d: &Dir, pki: &Pki, extra: &str) -> WebConfig {
        let (cert, key) = pki.issue(true);
        d.write("s.crt", &cert);
        d.write("s.key", &key);
        d.write("ca.crt", &pki.ca_pem);
        let text = format!("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n{extra}");
        WebConfig::parse(&text, &d.0).unwrap()
    }

    #[tokio::test]
    async fn tls_with_basic_auth_and_headers() {
        let pki = Pki::new("ca");
        let d = Dir::new("tls");
        let hash = bcrypt::hash("pw", 4).unwrap();
        let extra = format!(
            "basic_auth_users:\n  prom: '{hash}'\n\
             http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n"
        );
        let (addr, _stop) = start(tls_yaml(&d, &pki, &extra)).await;
        let c = client(&pki.ca_pem, None);
        let ok = get_tls(addr, &c, "Authorization: Basic cHJvbTpwdw==\r\n").await.unwrap();
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.ends_with("hello"), "{ok}");
        assert!(ok.contains("x-frame-options: deny"), "{ok}");
        assert!(ok.contains("strict-transport-security: max-age=31536000"), "{ok}");
        let wrong = get_tls(addr, &c, "Authorization: Basic cHJvbTp4eA==\r\n").await.unwrap();
        assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
        assert!(wrong.contains("www-authenticate: Basic"), "{wrong}");
        let none = get_tls(addr, &c, "").await.unwrap();
        assert!(none.starts_with("HTTP/1.1 401"), "{none}");
        // A client that does not trust the server's CA fails the handshake.
        let other = Pki::new("other");
        assert!(get_tls(addr, &client(&other.ca_pem, None), "").await.is_err());
        // Plain HTTP on a TLS port gets no HTTP answer.
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
        assert!(!String::from_utf8_lossy(&buf).contains("hello"));
    }

    #[tokio::test]
    async fn client_certificates_by_policy() {
        let pki = Pki::new("ca");
        let good = pki.issue(false);
        let foreign = Pki::new("foreign").issue(false);
        let d = Dir::new("mtls");

        let w = tls_yaml(&d, &pki, "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n");
        let (addr, _s1) = start(w).await;
        assert!(get_tls(addr, &client(&pki.ca_pem, None), "").await.is_err());
        assert!(get_tls(addr, &client(&pki.ca_pem, Some(&foreign)), "").await.is_err());
        let r = get_tls(addr, &client(&pki.ca_pem, Some(&good)), "").await.unwrap();
        assert!(r.ends_with("hello"), "{r}");

        // A CA alone means RequireAndVerifyClientCert, as exporter-toolkit.
        let w = tls_yaml(&d, &pki, "  client_ca_file: ca.crt\n");
        let (addr, _s2) = start(w).await;
        assert!(get_tls(addr, &client(&pki.ca_pem, None), "").await.is_err());

        let w = tls_yaml(&d, &pki, "  client_ca_file: ca.crt\n  client_auth_type: VerifyClientCertIfGiven\n");
        let (addr, _s3) = start(w).await;
        assert!(get_tls(addr, &client(&pki.ca_pem, None), "").await.unwrap().ends_with("hello"));
        assert!(get_tls(addr, &client(&pki.ca_pem, Some(&foreign)), "").await.is_err());

        let w = tls_yaml(&d, &pki, "  client_auth_type: RequireAnyClientCert\n");
        let (addr, _s4) = start(w).await;
        assert!(get_tls(addr, &client(&pki.ca_pem, None), "").await.is_err());
        assert!(get_tls(addr, &client(&pki.ca_pem, Some(&foreign)), "").await.unwrap().ends_with("hello"));

        let w = tls_yaml(&d, &pki, "  client_auth_type: RequestClientCert\n");
        let (addr, _s5) = start(w).await;
        assert!(get_tls(addr, &client(&pki.ca_pem, None), "").await.unwrap().ends_with("hello"));
    }

    #[tokio::test]
    async fn tls13_only() {
        let pki = Pki::new("ca");
        let d = Dir::new("v13");
        let (addr, _s) = start(tls_yaml(&d, &pki, "  min_version: TLS13\n")).await;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap()).unwrap();
        let tls12 = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        assert!(get_tls(addr, &tokio_rustls::TlsConnector::from(Arc::new(tls12)), "").await.is_err());
        assert!(get_tls(addr, &client(&pki.ca_pem, None), "").await.unwrap().ends_with("hello"));
    }
}
