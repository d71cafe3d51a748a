//! Delegated authentication (front-proxy request headers, x509 client certs, bearer tokens via
//! TokenReview) and authorization (always-allow paths, system:masters, SubjectAccessReview).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;

use crate::api::{Attributes, GROUP};
use crate::tls::subject_names;

/// An authenticated caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl User {
    pub fn anonymous() -> User {
        User { name: "system:anonymous".into(), groups: vec!["system:unauthenticated".into()], ..Default::default() }
    }

    fn authenticated(mut self) -> User {
        if !self.groups.iter().any(|g| g == "system:authenticated") {
            self.groups.push("system:authenticated".into());
        }
        self
    }
}

/// The front-proxy (request-header) configuration.
pub struct RequestHeader {
    pub verifier: Arc<dyn ClientCertVerifier>,
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_prefixes: Vec<String>,
    pub uid_headers: Vec<String>,
}

/// What the TLS handshake established about the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerIdentity {
    /// No (usable) client certificate.
    None,
    /// A front-proxy certificate: identity comes from the request headers.
    FrontProxy,
    /// A client certificate from `--client-ca-file`: user = CN, groups = O.
    X509(User),
    /// A certificate that verifies against neither CA (or a front-proxy one whose name is not allowed):
    /// the request fails authentication unless a bearer token authenticates it.
    Invalid(String),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("TokenReview failed: {0}")]
    TokenReview(String),
    #[error("SubjectAccessReview failed: {0}")]
    Sar(String),
    #[error("verifying the client certificate failed: {0}")]
    Certificate(String),
}

/// Entries a cache holds at most (authentication and authorization each).
pub const CACHE_MAX_ENTRIES: usize = 4096;
/// Bytes of cached identities and denial reasons a cache holds at most.
pub const CACHE_MAX_BYTES: usize = 8 << 20;

type Digest = [u8; 32];

/// A TTL cache of review results. Keys are HMAC-SHA256 digests under a key drawn at start, so a bearer
/// token is never kept and a client cannot choose how much a key weighs. Expired entries go as new ones
/// come in; the entry count and the bytes of the values are bounded, the oldest entries going first.
struct Cache<V> {
    ttl_ok: Duration,
    ttl_denied: Duration,
    max_entries: usize,
    max_bytes: usize,
    key: ring::hmac::Key,
    inner: Mutex<CacheInner<V>>,
}

struct CacheInner<V> {
    map: HashMap<Digest, (Instant, V, usize)>,
    /// Insertion order; an entry replaced later leaves a stale pair here, skipped when it comes up.
    order: std::collections::VecDeque<(Digest, Instant)>,
    bytes: usize,
}

impl<V: Clone> Cache<V> {
    fn new(ttl_ok: Duration, ttl_denied: Duration, max_entries: usize, max_bytes: usize) -> Self {
        let rng = ring::rand::SystemRandom::new();
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng).unwrap_or_else(|_| {
            // The system's random source failed: fall back to a key from the process's own generator.
            let bytes: [u8; 32] = rand::random();
            ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes)
        });
        Cache {
            ttl_ok,
            ttl_denied,
            max_entries,
            max_bytes,
            key,
            inner: Mutex::new(CacheInner { map: HashMap::new(), order: Default::default(), bytes: 0 }),
        }
    }

    fn digest(&self, k: &[u8]) -> Digest {
        let mut d = [0u8; 32];
        d.copy_from_slice(ring::hmac::sign(&self.key, k).as_ref());
        d
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner<V>> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn get(&self, k: &[u8], ok: impl Fn(&V) -> bool) -> Option<V> {
        let d = self.digest(k);
        let g = self.lock();
        let (at, v, _) = g.map.get(&d)?;
        let ttl = if ok(v) { self.ttl_ok } else { self.ttl_denied };
        (at.elapsed() < ttl).then(|| v.clone())
    }

    /// Cache `v`, which holds about `size` bytes.
    fn put(&self, k: &[u8], v: V, size: usize) {
        let d = self.digest(k);
        let size = size + std::mem::size_of::<(Digest, Instant, V, usize)>();
        let max_ttl = self.ttl_ok.max(self.ttl_denied);
        let mut g = self.lock();
        let g = &mut *g;
        let now = Instant::now();
        let evict = |g: &mut CacheInner<V>, expired_only: bool| -> bool {
            let Some(&(front, at)) = g.order.front() else { return false };
            if expired_only && now.duration_since(at) < max_ttl {
                return false;
            }
            g.order.pop_front();
            if g.map.get(&front).is_some_and(|(t, _, _)| *t == at)
                && let Some((_, _, b)) = g.map.remove(&front)
            {
                g.bytes -= b;
            }
            true
        };
        while evict(g, true) {}
        if let Some((_, _, b)) = g.map.remove(&d) {
            g.bytes -= b;
        }
        if size > self.max_bytes || self.max_entries == 0 {
            return;
        }
        while (g.map.len() >= self.max_entries || g.bytes + size > self.max_bytes) && evict(g, false) {}
        if g.order.len() > 2 * self.max_entries {
            let live = &g.map;
            g.order.retain(|(d, at)| live.get(d).is_some_and(|(t, _, _)| t == at));
        }
        g.map.insert(d, (now, v, size));
        g.order.push_back((d, now));
        g.bytes += size;
    }

    #[cfg(test)]
    fn stats(&self) -> (usize, usize, usize) {
        let g = self.lock();
        (g.map.len(), g.order.len(), g.bytes)
    }
}

fn user_size(u: &Option<User>) -> usize {
    u.as_ref().map_or(0, |u| {
        u.name.len()
            + u.uid.len()
            + u.groups.iter().map(|g| g.len() + 24).sum::<usize>()
            + u.extra.iter().map(|(k, v)| k.len() + 48 + v.iter().map(|x| x.len() + 24).sum::<usize>()).sum::<usize>()
    })
}

/// An unambiguous cache key for one user and request: every field length-prefixed.
fn decision_key(user: &User, attrs: &Attributes) -> Vec<u8> {
    let mut k = Vec::with_capacity(128);
    let mut put = |s: &str| {
        k.extend_from_slice(&(s.len() as u64).to_le_bytes());
        k.extend_from_slice(s.as_bytes());
    };
    put(&user.name);
    put(&user.uid);
    put(&user.groups.len().to_string());
    for g in &user.groups {
        put(g);
    }
    put(&user.extra.len().to_string());
    for (key, vs) in &user.extra {
        put(key);
        put(&vs.len().to_string());
        for v in vs {
            put(v);
        }
    }
    match attrs {
        Attributes::Resource { verb, resource, namespace, name } => {
            put("resource");
            put(verb);
            put(resource);
            put(namespace.as_deref().unwrap_or("\0none"));
            put(name.as_deref().unwrap_or("\0none"));
        }
        Attributes::NonResource { verb, path } => {
            put("path");
            put(verb);
            put(path);
        }
    }
    k
}

/// Authenticator + authorizer.
pub struct Auth {
    pub request_header: Option<RequestHeader>,
    pub client_ca: Option<Arc<dyn ClientCertVerifier>>,
    pub authn_client: Option<kube::Client>,
    pub authz_client: Option<kube::Client>,
    pub always_allow_paths: Vec<String>,
    /// Requests without credentials are `system:anonymous` (`--anonymous-auth`); else they get 401.
    pub anonymous: bool,
    tokens: Cache<Option<User>>,
    decisions: Cache<(bool, String)>,
}

impl Auth {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        request_header: Option<RequestHeader>,
        client_ca: Option<Arc<dyn ClientCertVerifier>>,
        authn_client: Option<kube::Client>,
        authz_client: Option<kube::Client>,
        always_allow_paths: Vec<String>,
        anonymous: bool,
        token_ttl: Duration,
        authorized_ttl: Duration,
        unauthorized_ttl: Duration,
    ) -> Self {
        Auth {
            request_header,
            client_ca,
            authn_client,
            authz_client,
            always_allow_paths,
            anonymous,
            tokens: Cache::new(token_ttl, token_ttl, CACHE_MAX_ENTRIES, CACHE_MAX_BYTES),
            decisions: Cache::new(authorized_ttl, unauthorized_ttl, CACHE_MAX_ENTRIES, CACHE_MAX_BYTES),
        }
    }

    /// Classify the peer's certificate chain (called once per connection). The handshake accepted any
    /// certificate whose key the client holds; whether it is trusted is decided here.
    pub fn peer_identity(&self, chain: Option<&[CertificateDer<'static>]>) -> PeerIdentity {
        let Some((end, intermediates)) = chain.and_then(|c| c.split_first()) else {
            return PeerIdentity::None;
        };
        let now = UnixTime::now();
        let mut errors = Vec::new();
        if let Some(rh) = &self.request_header {
            match rh.verifier.verify_client_cert(end, intermediates, now) {
                Ok(_) => {
                    let cn = subject_names(end).map(|(cn, _)| cn).unwrap_or_default();
                    if rh.allowed_names.is_empty() || rh.allowed_names.contains(&cn) {
                        return PeerIdentity::FrontProxy;
                    }
                    errors.push(format!("client certificate name {cn:?} is not in --requestheader-allowed-names"));
                }
                Err(e) => errors.push(format!("front-proxy CA: {e}")),
            }
        }
        if let Some(v) = &self.client_ca {
            match v.verify_client_cert(end, intermediates, now) {
                Ok(_) => match subject_names(end) {
                    Some((cn, orgs)) => {
                        return PeerIdentity::X509(
                            User { name: cn, groups: orgs, ..Default::default() }.authenticated(),
                        );
                    }
                    None => errors.push("client certificate has no common name".to_string()),
                },
                Err(e) => errors.push(format!("client CA: {e}")),
            }
        }
        if errors.is_empty() {
            errors.push("no client CA is configured".to_string());
        }
        PeerIdentity::Invalid(errors.join("; "))
    }

    /// Authenticate one request. `Ok(None)` means anonymous; `Err` an authenticator failure.
    pub async fn authenticate(
        &self,
        peer: &PeerIdentity,
        headers: &http::HeaderMap,
    ) -> Result<Option<User>, AuthError> {
        match peer {
            PeerIdentity::FrontProxy => {
                if let Some(u) = self.request_header.as_ref().and_then(|rh| from_headers(rh, headers)) {
                    return Ok(Some(u.authenticated()));
                }
            }
            PeerIdentity::X509(u) => return Ok(Some(u.clone())),
            PeerIdentity::None | PeerIdentity::Invalid(_) => {}
        }
        let Some(token) = bearer(headers) else {
            // An unverifiable certificate is an authentication error, not an anonymous request.
            return match peer {
                PeerIdentity::Invalid(e) => Err(AuthError::Certificate(e.clone())),
                _ => Ok(None),
            };
        };
        if let Some(cached) = self.tokens.get(token.as_bytes(), Option::is_some) {
            return cached.map(Some).ok_or_else(|| AuthError::TokenReview("token not authenticated".into()));
        }
        let Some(client) = &self.authn_client else {
            return Err(AuthError::TokenReview("no authentication kubeconfig".into()));
        };
        let review = TokenReview {
            spec: TokenReviewSpec { token: token.to_string(), ..Default::default() },
            ..Default::default()
        };
        let api: Api<TokenReview> = Api::all(client.clone());
        let res =
            api.create(&PostParams::default(), &review).await.map_err(|e| AuthError::TokenReview(e.to_string()))?;
        let user = res.status.and_then(|s| {
            if s.authenticated != Some(true) {
                return None;
            }
            let u = s.user?;
            Some(
                User {
                    name: u.username.unwrap_or_default(),
                    uid: u.uid.unwrap_or_default(),
                    groups: u.groups.unwrap_or_default(),
                    extra: u.extra.unwrap_or_default().into_iter().collect(),
                }
                .authenticated(),
            )
        });
        let size = user_size(&user);
        self.tokens.put(token.as_bytes(), user.clone(), size);
        user.map(Some).ok_or_else(|| AuthError::TokenReview("token not authenticated".into()))
    }

    /// Paths that skip authorization (`--authorization-always-allow-paths`, `*` suffix = prefix match).
    pub fn always_allowed(&self, path: &str) -> bool {
        self.always_allow_paths.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == p,
        })
    }

    /// Authorize; `Ok(Err(reason))` is a denial.
    pub async fn authorize(&self, user: &User, attrs: &Attributes) -> Result<Result<(), String>, AuthError> {
        if user.groups.iter().any(|g| g == "system:masters") {
            return Ok(Ok(()));
        }
        let key = decision_key(user, attrs);
        if let Some((allowed, reason)) = self.decisions.get(&key, |(a, _)| *a) {
            return Ok(if allowed { Ok(()) } else { Err(reason) });
        }
        let Some(client) = &self.authz_client else {
            return Ok(Err("no authorization kubeconfig".into()));
        };
        let mut spec = SubjectAccessReviewSpec {
            user: Some(user.name.clone()),
            uid: (!user.uid.is_empty()).then(|| user.uid.clone()),
            groups: Some(user.groups.clone()),
            extra: (!user.extra.is_empty()).then(|| user.extra.clone().into_iter().collect()),
            ..Default::default()
        };
        match attrs {
            Attributes::Resource { verb, resource, namespace, name } => {
                spec.resource_attributes = Some(ResourceAttributes {
                    verb: Some(verb.to_string()),
                    group: Some(GROUP.into()),
                    version: Some("v1beta1".into()),
                    resource: Some(resource.to_string()),
                    namespace: namespace.clone(),
                    name: name.clone(),
                    ..Default::default()
                })
            }
            Attributes::NonResource { verb, path } => {
                spec.non_resource_attributes =
                    Some(NonResourceAttributes { path: Some(path.clone()), verb: Some(verb.to_string()) })
            }
        }
        let sar = SubjectAccessReview { spec, ..Default::default() };
        let api: Api<SubjectAccessReview> = Api::all(client.clone());
        let res = api.create(&PostParams::default(), &sar).await.map_err(|e| AuthError::Sar(e.to_string()))?;
        let (allowed, reason) = res
            .status
            .map(|s| (s.allowed && s.denied != Some(true), s.reason.unwrap_or_default()))
            .unwrap_or((false, String::new()));
        let size = reason.len();
        self.decisions.put(&key, (allowed, reason.clone()), size);
        Ok(if allowed { Ok(()) } else { Err(reason) })
    }
}

fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, tok) = v.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !tok.trim().is_empty()).then(|| tok.trim())
}

fn from_headers(rh: &RequestHeader, headers: &http::HeaderMap) -> Option<User> {
    let name = rh
        .username_headers
        .iter()
        .filter_map(|h| headers.get(h.as_str())?.to_str().ok())
        .find(|v| !v.is_empty())?
        .to_string();
    let groups = rh
        .group_headers
        .iter()
        .flat_map(|h| headers.get_all(h.as_str()).iter())
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let uid = rh
        .uid_headers
        .iter()
        .filter_map(|h| headers.get(h.as_str())?.to_str().ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default()
        .to_string();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (hname, value) in headers {
        for prefix in &rh.extra_prefixes {
            let prefix = prefix.to_ascii_lowercase();
            if let Some(key) = hname.as_str().strip_prefix(prefix.as_str())
                && let Ok(v) = value.to_str()
            {
                extra.entry(unescape(key).to_ascii_lowercase()).or_default().push(v.to_string());
            }
        }
    }
    Some(User { name, uid, groups, extra })
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Strip identity headers so a connection that is not a verified front proxy cannot inject them.
pub fn strip_identity_headers(rh: Option<&RequestHeader>, headers: &mut http::HeaderMap) {
    let Some(rh) = rh else { return };
    for h in rh.username_headers.iter().chain(&rh.group_headers).chain(&rh.uid_headers) {
        headers.remove(h.as_str());
    }
    let prefixes: Vec<String> = rh.extra_prefixes.iter().map(|p| p.to_ascii_lowercase()).collect();
    let doomed: Vec<http::HeaderName> =
        headers.keys().filter(|k| prefixes.iter().any(|p| k.as_str().starts_with(p.as_str()))).cloned().collect();
    for k in doomed {
        headers.remove(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rh() -> RequestHeader {
        // The verifier is irrelevant for header parsing; build one over a throwaway CA.
        let ca = rcgen::generate_simple_self_signed(vec!["ca".to_string()]).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert.der().clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        RequestHeader {
            verifier,
            allowed_names: vec![],
            username_headers: vec!["x-remote-user".into()],
            group_headers: vec!["x-remote-group".into()],
            extra_prefixes: vec!["X-Remote-Extra-".into()],
            uid_headers: vec![],
        }
    }

    #[test]
    fn request_headers_to_user() {
        let rh = rh();
        let mut h = http::HeaderMap::new();
        h.insert("x-remote-user", "alice".parse().unwrap());
        h.append("x-remote-group", "devs".parse().unwrap());
        h.append("x-remote-group", "system:masters".parse().unwrap());
        h.insert("x-remote-extra-scopes%2Fx", "a".parse().unwrap());
        let u = from_headers(&rh, &h).unwrap();
        assert_eq!(u.name, "alice");
        assert_eq!(u.groups, ["devs", "system:masters"]);
        assert_eq!(u.extra.get("scopes/x").unwrap(), &vec!["a".to_string()]);
        strip_identity_headers(Some(&rh), &mut h);
        assert!(h.is_empty());
        assert!(from_headers(&rh, &h).is_none());
    }

    #[test]
    fn caches_hold_digests_drop_expired_entries_and_stay_bounded() {
        let ttl = Duration::from_millis(200);
        let c: Cache<Option<User>> = Cache::new(ttl, ttl, 100, 64 << 10);
        // 1,000 distinct 200 KiB tokens: only 32-byte digests are kept, at most 100 of them.
        let mut token = "t".repeat(200 << 10);
        for i in 0..1000 {
            token.truncate(200 << 10);
            token.push_str(&i.to_string());
            c.put(token.as_bytes(), None, user_size(&None));
        }
        let (entries, order, bytes) = c.stats();
        assert_eq!(entries, 100);
        assert!(order <= 200, "{order}");
        assert!(bytes < 100 * 256, "{bytes} bytes for 100 entries");
        assert!(c.get(token.as_bytes(), Option::is_some).is_some(), "the newest entry is served");
        // Expired entries go when the next one comes in.
        std::thread::sleep(ttl + Duration::from_millis(50));
        c.put(b"fresh", None, 0);
        assert_eq!(c.stats().0, 1);
        // Large identities: the byte bound evicts the oldest.
        let big = Some(User { name: "u".repeat(10 << 10), ..Default::default() });
        for i in 0..20 {
            c.put(format!("user-{i}").as_bytes(), big.clone(), user_size(&big));
        }
        let (entries, _, bytes) = c.stats();
        assert!(bytes <= 64 << 10 && entries <= 6, "{entries} entries, {bytes} bytes");
        assert!(c.get(b"user-19", Option::is_some).is_some());
        assert!(c.get(b"user-0", Option::is_some).is_none());
        // The key is secret per cache: the same token has another digest elsewhere.
        let other: Cache<Option<User>> = Cache::new(ttl, ttl, 10, 1 << 20);
        assert_ne!(c.digest(b"token"), other.digest(b"token"));
    }

    #[test]
    fn decision_keys_are_unambiguous() {
        let u = |name: &str, groups: &[&str]| User {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        };
        let a = Attributes::NonResource { verb: "get", path: "/metrics".into() };
        assert_ne!(decision_key(&u("a", &["b"]), &a), decision_key(&u("ab", &[]), &a));
        assert_ne!(decision_key(&u("a", &["b", "c"]), &a), decision_key(&u("a", &["bc"]), &a));
        assert_eq!(decision_key(&u("a", &["b"]), &a), decision_key(&u("a", &["b"]), &a));
    }

    #[test]
    fn bearer_parsing_and_always_allow() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(http::header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        let a = Auth::new(
            None,
            None,
            None,
            None,
            vec!["/healthz".into(), "/debug/*".into()],
            true,
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
        );
        assert!(a.always_allowed("/healthz"));
        assert!(!a.always_allowed("/healthz/ping"));
        assert!(a.always_allowed("/debug/pprof"));
        assert_eq!(a.peer_identity(None), PeerIdentity::None);
    }
}
