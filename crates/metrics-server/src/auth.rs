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
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("TokenReview failed: {0}")]
    TokenReview(String),
    #[error("SubjectAccessReview failed: {0}")]
    Sar(String),
}

struct Cache<V> {
    ttl_ok: Duration,
    ttl_denied: Duration,
    map: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> Cache<V> {
    fn new(ttl_ok: Duration, ttl_denied: Duration) -> Self {
        Cache { ttl_ok, ttl_denied, map: Mutex::new(HashMap::new()) }
    }

    fn get(&self, k: &str, ok: impl Fn(&V) -> bool) -> Option<V> {
        let g = self.map.lock().ok()?;
        let (at, v) = g.get(k)?;
        let ttl = if ok(v) { self.ttl_ok } else { self.ttl_denied };
        (at.elapsed() < ttl).then(|| v.clone())
    }

    fn put(&self, k: String, v: V) {
        if let Ok(mut g) = self.map.lock() {
            // Bound the cache: expired entries are dropped whenever it grows large.
            if g.len() > 10_000 {
                let max = self.ttl_ok.max(self.ttl_denied);
                g.retain(|_, (at, _)| at.elapsed() < max);
            }
            g.insert(k, (Instant::now(), v));
        }
    }
}

/// Authenticator + authorizer.
pub struct Auth {
    pub request_header: Option<RequestHeader>,
    pub client_ca: Option<Arc<dyn ClientCertVerifier>>,
    pub authn_client: Option<kube::Client>,
    pub authz_client: Option<kube::Client>,
    pub always_allow_paths: Vec<String>,
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
            tokens: Cache::new(token_ttl, token_ttl),
            decisions: Cache::new(authorized_ttl, unauthorized_ttl),
        }
    }

    /// Classify the peer's certificate chain (called once per connection).
    pub fn peer_identity(&self, chain: Option<&[CertificateDer<'static>]>) -> PeerIdentity {
        let Some((end, intermediates)) = chain.and_then(|c| c.split_first()) else {
            return PeerIdentity::None;
        };
        let now = UnixTime::now();
        if let Some(rh) = &self.request_header
            && rh.verifier.verify_client_cert(end, intermediates, now).is_ok()
        {
            let cn = subject_names(end).map(|(cn, _)| cn).unwrap_or_default();
            if rh.allowed_names.is_empty() || rh.allowed_names.contains(&cn) {
                return PeerIdentity::FrontProxy;
            }
            tracing::info!(cn, "front-proxy certificate CN not in --requestheader-allowed-names");
        }
        if let Some(v) = &self.client_ca
            && v.verify_client_cert(end, intermediates, now).is_ok()
            && let Some((cn, orgs)) = subject_names(end)
        {
            return PeerIdentity::X509(User { name: cn, groups: orgs, ..Default::default() }.authenticated());
        }
        PeerIdentity::None
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
            PeerIdentity::None => {}
        }
        let Some(token) = bearer(headers) else { return Ok(None) };
        if let Some(cached) = self.tokens.get(token, Option::is_some) {
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
        self.tokens.put(token.to_string(), user.clone());
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
        let key = format!("{user:?}|{attrs:?}");
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
            Attributes::NonResource { path } => {
                spec.non_resource_attributes =
                    Some(NonResourceAttributes { path: Some(path.clone()), verb: Some("get".into()) })
            }
        }
        let sar = SubjectAccessReview { spec, ..Default::default() };
        let api: Api<SubjectAccessReview> = Api::all(client.clone());
        let res = api.create(&PostParams::default(), &sar).await.map_err(|e| AuthError::Sar(e.to_string()))?;
        let (allowed, reason) = res
            .status
            .map(|s| (s.allowed && s.denied != Some(true), s.reason.unwrap_or_default()))
            .unwrap_or((false, String::new()));
        self.decisions.put(key, (allowed, reason.clone()));
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
